#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Interleaved A/B runs of two bench_datapath binaries: per path, the ratio to the floor of the
same run, median [min, max] over the rounds, and B's median over A's.

usage: ab_datapath.py A B [rounds [repeat]]   (BENCH_ONLY is passed through; run under the lock)
"""
import os
import re
import statistics
import subprocess
import sys

ROW = re.compile(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+(-?[\d.]+)$")


def run(binary, repeat):
    out = subprocess.run([binary, str(repeat)], check=True, capture_output=True, text=True,
                         env=os.environ).stdout
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1).strip()] = (float(m.group(4)), float(m.group(5)))
    return rows


def main():
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 200000
    res = {a: {}, b: {}}
    for r in range(rounds):
        for binary in ((a, b) if r % 2 == 0 else (b, a)):
            for name, v in run(binary, repeat).items():
                res[binary].setdefault(name, []).append(v)
    print(f"{rounds} rounds, A = {a}, B = {b}, {repeat} packets x best of 7 per path and run;")
    print("ratio = ns/pkt over the floor of the same run; median [min, max]; net ns median\n")
    print("| path | A ratio | B ratio | B/A (medians) | A net ns | B net ns |")
    print("|---|--:|--:|--:|--:|--:|")
    for name in res[a]:
        if name not in res[b]:
            continue
        ra = [x[0] for x in res[a][name]]
        rb = [x[0] for x in res[b][name]]
        na = statistics.median(x[1] for x in res[a][name])
        nb = statistics.median(x[1] for x in res[b][name])
        ma, mb = statistics.median(ra), statistics.median(rb)
        print(f"| {name} | {ma:.2f} [{min(ra):.2f}, {max(ra):.2f}] | {mb:.2f} [{min(rb):.2f}, "
              f"{max(rb):.2f}] | {mb / ma:.3f} | {na:.1f} | {nb:.1f} |")


if __name__ == "__main__":
    main()
