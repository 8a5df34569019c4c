#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make test: every libFuzzer target replays its seed corpus and its regression inputs once
# (ASan/UBSan, the targets' own invariants), so that the harnesses build and run, and what a
# fuzzer once found stays fixed. TAP lines: one per target and set.
set -u
BUILD=${XLB_BUILD:-build}
cd "$(dirname "$0")/../.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
n=0
for src in tests/fuzz/fuzz_*.c; do
	name=${src##*/fuzz_}
	name=${name%.c}
	bin=$BUILD/fuzz/fuzz_$name
	for set in corpus regress; do
		files=(tests/fuzz/"$set"/"$name"/*)
		n=$((n + 1))
		if [ ! -x "$bin" ]; then
			echo "not ok $n - fuzz_$name: $bin not built"
			continue
		fi
		if [ ! -f "${files[0]}" ]; then
			echo "not ok $n - fuzz_$name: no input in tests/fuzz/$set/$name"
			continue
		fi
		if out=$("$bin" "${files[@]}" 2>&1); then
			echo "ok $n - fuzz_$name: ${#files[@]} $set inputs replayed, no crash or violation"
		else
			echo "not ok $n - fuzz_$name: $set input failed"
			grep -E '^Running:|^fuzz_|ERROR|SUMMARY|runtime error' <<<"$out" | tail -n 8 |
				sed 's/^/# /'
		fi
	done
done
echo "1..$n"
