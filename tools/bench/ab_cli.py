#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Interleaved A/B runs of two xlb binaries against one xlbd (this tree's build/xlbd, started
as control.py starts it) at 1,000 VIPs x 10 backends: per command, each binary's median time
over the rounds and B's over A's; the two outputs are compared too (they must be the same).

usage: ab_cli.py A_XLB B_XLB [ROUNDS]   (run under the lock; BUILD as control.py's)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

a, b = sys.argv[1:3]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
sys.argv = [sys.argv[0], os.environ.get("BUILD", "build"), "views"]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import control  # noqa: E402  (its BUILD from sys.argv, set above)

CMDS = (["stats"], ["-j", "stats"], ["backend", "list"], ["-j", "backend", "list"])


def once(binary, sock, args):
    t0 = time.monotonic()
    out = subprocess.run([binary, "-s", sock] + args, check=True, capture_output=True).stdout
    return (time.monotonic() - t0) * 1e3, out


with tempfile.TemporaryDirectory() as tmp:
    conf = os.path.join(tmp, "xlbd.json")
    control.config(conf, 1000)
    p, pid, sock, _ = control.start(tmp, conf)
    try:
        print("%-22s %10s %10s %8s  same output" % ("xlb ... (ms)", "A", "B", "B/A"))
        for args in CMDS:
            ts = {a: [], b: []}
            outs = {}
            for _ in range(rounds):
                for binary in (a, b):
                    ms, outs[binary] = once(binary, sock, args)
                    ts[binary].append(ms)
            ma, mb = statistics.median(ts[a]), statistics.median(ts[b])
            print("%-22s %10.1f %10.1f %7.2fx  %s" % (" ".join(args), ma, mb, mb / ma,
                                                    "yes" if outs[a] == outs[b] else "NO"))
    finally:
        control.stop(p, pid)
