#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs every test program (unit, sanitized unit, datapath, fuzz replays, end to end) and sums
# their TAP lines.
#
# Each test program prints TAP lines ("ok N - name", "not ok N - name"); cmocka does so with
# CMOCKA_MESSAGE_OUTPUT=TAP. A program that exits non-zero without reporting a failure, or
# that runs past its time limit, counts as one failure. A line "ok N - name # SKIP why" is
# counted as skipped. The last line is "N passed, N failed, N skipped".
set -u
BUILD=${BUILD:-build}
ONLY=${ONLY:-}			# substring filter on the test name (bpf/test_dp_icmp/pmtu_v4 and the like)
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export XLB_BUILD=$BUILD

passed=0 failed=0 skipped=0
failures=()
log=$(mktemp -d /tmp/xlb-test.XXXXXX)
# libxdp keeps its dispatcher state in /sys/fs/bpf/xdp and leaves the folder behind after a
# single-program attach; remove it at the end if the tests created it and it is empty.
xdp_state=/sys/fs/bpf/xdp
[ -e "$xdp_state" ] && xdp_state=
trap 'rm -rf "$log"; [ -n "$xdp_state" ] && rmdir "$xdp_state" 2>/dev/null' EXIT

run_one() {			# $1 = name shown, rest = command
	local name=$1; shift
	local limit=${TEST_TIMEOUT:-600}
	[ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && return
	local out="$log/out" rc
	echo "=== $name"
	timeout --kill-after=10 "$limit" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$out" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+.*# *SKIP' "$out" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$out" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc"
	fi
	if [ "$rc" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
		f=1
		echo "not ok - $name reported no test"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failures+=("$name")
}

for t in "$BUILD"/tests/unit/test_*; do [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"; done
for t in "$BUILD"/san/tests/unit/test_*; do [ -x "$t" ] && run_one "unit-san/$(basename "$t")" "$t"; done
# A datapath test made of scenarios (tests/bpf/harness.h) lists them with --list: each runs on its
# own as bpf/BINARY/SCENARIO, so that ONLY= can name one; a test without them runs whole.
for t in "$BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] || continue
	if scenarios=$(timeout 20 "$t" --list 2>/dev/null) && [ -n "$scenarios" ] &&
	   ! grep -qvE '^[a-z0-9_]+$' <<<"$scenarios"; then
		for s in $scenarios; do run_one "bpf/$(basename "$t")/$s" "$t" "$s"; done
	else
		run_one "bpf/$(basename "$t")" "$t"
	fi
done
for t in tests/fuzz/test_*.sh; do [ -f "$t" ] && run_one "fuzz/$(basename "$t")" bash "$t"; done
for t in tests/e2e/test_*.sh; do [ -f "$t" ] && run_one "e2e/$(basename "$t")" bash "$t"; done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failing: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
