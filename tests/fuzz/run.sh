#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make fuzz, the parser part: each libFuzzer target of tests/fuzz for FUZZ_SECONDS, with its
# dictionary (NAME.dict: the words of its language), from its seed corpus and regression inputs
# (read only; what it learns goes to $BUILD/fuzz/corpus/NAME, kept between runs). A crash fails
# the run, its input in $BUILD/fuzz/crashes/ (replay: $BUILD/fuzz/fuzz_NAME FILE). One line per
# target gives its executions.
set -u
BUILD=${BUILD:-build}
SECONDS_EACH=${FUZZ_SECONDS:-180}
cd "$(dirname "$0")/../.."
mkdir -p "$BUILD/fuzz/crashes"
status=0
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	work=$BUILD/fuzz/corpus/$name
	mkdir -p "$work"
	echo "  FUZZ     $name for ${SECONDS_EACH} s"
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
		-dict="tests/fuzz/$name.dict" -artifact_prefix="$BUILD/fuzz/crashes/$name-" "$work" "tests/fuzz/corpus/$name" \
		"tests/fuzz/regress/$name" >"$BUILD/fuzz/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD/fuzz/$name.log")
	cov=$(grep -oE 'cov: [0-9]+' "$BUILD/fuzz/$name.log" | tail -n 1)
	if [ "$rc" -ne 0 ]; then
		grep -E '^fuzz_|ERROR|SUMMARY|Test unit written' "$BUILD/fuzz/$name.log" | head -n 20
		echo "  FUZZ     $name: CRASH after ${execs:-?} executions (log: $BUILD/fuzz/$name.log)"
		status=1
	else
		echo "  FUZZ     $name: ${execs:-?} executions in ${SECONDS_EACH} s, 0 crashes (${cov:-cov ?})"
	fi
done
exit $status
