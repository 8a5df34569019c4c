# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Sourced first by tests that pin outside a network namespace: re-runs the test in a mount
# namespace of its own in which /sys/fs/bpf holds no bpffs, whatever the host has mounted, so
# xlbd mounts its own (as on a fresh machine) and the host's mounts neither matter nor change.
# Needs root and unshare(1); otherwise the test runs as it is (and skips what needs root).
if [ -z "${XLB_TEST_MNTNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	XLB_TEST_MNTNS=$$ exec unshare --mount --propagation private bash "$0" "$@"
fi
if [ "${XLB_TEST_MNTNS:-}" ]; then
	# lazily: a copy of the host's mount, private to this namespace
	while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || break; done
fi
