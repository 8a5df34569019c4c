#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Installs the Debian packages xlb needs to build, test and benchmark, only those missing.
set -euo pipefail

pkgs=(clang llvm gcc make pkg-config libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
      libjansson-dev libcmocka-dev iproute2 iputils-ping curl python3 ethtool gcc-multilib
      procps psmisc netcat-openbsd man-db bash-completion libmicrohttpd-dev prometheus tmux
      libclang-rt-14-dev libmnl-dev bird2	# clang's libFuzzer and sanitizer runtimes (tests/fuzz); route announcement
      libcurl4-openssl-dev etcd-server etcd-client openssl)	# the shared view through etcd (xlbd, test_etcd: openssl makes its TLS certificates)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "Error: missing packages: ${missing[*]} (run 'make deps' as root)" >&2
	exit 1
fi
echo "  DEPS     installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
