#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: runs every benchmark binary $BUILD/tools/bench_* in turn (datapath, maglev, swap),
# then the end-to-end forwarding rate (tools/bench/e2e.sh) and the health benchmark
# (tools/bench/bench_health.sh), and writes every result to $BUILD/bench.json
# (tools/bench/bench_json.py; the health figures under "health"). E2E=0 skips the end-to-end
# part, HEALTH=0 the health part.
set -u
BUILD=${BUILD:-build}
rc=0
found=0
out=$BUILD/bench
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/e2e.jsonl "$BUILD/bench-health.json" "$BUILD/bench-control.json"
args=()
for b in "$BUILD"/tools/bench_*; do
	[ -x "$b" ] || continue
	found=1
	name=$(basename "$b")
	echo "=== $name"
	"$b" | tee "$out/$name.txt"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$name failed"; rc=1; }
	args+=("$name=$out/$name.txt")
	echo
done
[ "$found" -eq 1 ] || { echo "no benchmark binaries in $BUILD/tools"; exit 1; }
if [ "${E2E:-1}" != 0 ]; then
	echo "=== e2e (tools/bench/e2e.sh)"
	BUILD=$BUILD bash tools/bench/e2e.sh >"$out/e2e.jsonl" || { echo "e2e failed"; rc=1; }
	echo
fi
if [ "${HEALTH:-1}" != 0 ]; then
	echo "=== bench_health.sh (failover, verdict to swap, probe cost; namespaces)"
	BUILD=$BUILD bash tools/bench/bench_health.sh || { echo "bench_health.sh failed"; rc=1; }
	echo
fi
echo "=== control plane"; python3 tools/bench/control.py "$BUILD" || rc=1
python3 tools/bench/bench_json.py "$BUILD/bench.json" --e2e "$out/e2e.jsonl" "${args[@]}" || rc=1
# the health and control-plane figures join bench.json (under "health" and "control_plane")
for part in health:bench-health.json control_plane:bench-control.json; do
	[ -f "$BUILD/${part#*:}" ] || continue
	python3 -c 'import json, sys
doc = json.load(open(sys.argv[1]))
part = json.load(open(sys.argv[3]))
doc[sys.argv[2]] = part.get(sys.argv[2], part)
json.dump(doc, open(sys.argv[1], "w"), indent=1)' "$BUILD/bench.json" "${part%%:*}" "$BUILD/${part#*:}" || rc=1
done
exit "$rc"
