#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: runs every benchmark binary $BUILD/tools/bench_* in turn (datapath, maglev, swap).
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
echo "=== control plane"; python3 "$(dirname "$0")/control.py" "$BUILD" || rc=1
exit "$rc"
