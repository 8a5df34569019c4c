#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: runs every benchmark binary $BUILD/tools/bench_* in turn (datapath, maglev, swap),
# then the health benchmark (tools/bench/bench_health.sh).
set -u
BUILD=${BUILD:-build}
rc=0
found=0
for b in "$BUILD"/tools/bench_*; do
	[ -x "$b" ] || continue
	found=1
	echo "=== $(basename "$b")"
	"$b" || { echo "$(basename "$b") failed (status $?)"; rc=1; }
	echo
done
[ "$found" -eq 1 ] || { echo "no benchmark binaries in $BUILD/tools"; exit 1; }
echo "=== bench_health.sh (failover, verdict to swap, probe cost; namespaces)"
BUILD=$BUILD bash "$(dirname "$0")/bench_health.sh" || { echo "bench_health.sh failed"; rc=1; }
exit "$rc"
