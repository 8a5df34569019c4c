# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Restart test parts (run by test_xlbd_restart.sh): drive a fixed set of flows through the pinned
program with `bpftool prog run`, snapshot what xlbd reports, and compare after a restart.
  xlbd_restart.py drive PROG_PIN DIR        every flow once; exits 1 unless all are XDP_TX
  xlbd_restart.py snapshot SOCKET OUT       flows, counters, ids and lookups as JSON
  xlbd_restart.py compare SOCKET SNAP PASSES  TAP lines: the restart kept everything"""
import json
import os
import subprocess
import sys

from xlbd_client import Client, Tap
from xlbd_pkt import frame

V4, V6 = "198.18.0.10:80/tcp", "[2001:db8::10]:443/udp"
FLOWS = ([(V4, "198.18.5.%d" % i, 1000 + i, "198.18.0.10", 80, "tcp") for i in range(1, 21)] +
         [(V6, "2001:db8:5::%x" % i, 2000 + i, "2001:db8::10", 443, "udp") for i in range(1, 11)])


def src_name(src, sport):
    return ("[%s]:%d" if ":" in src else "%s:%d") % (src, sport)


def drive(pin, d):
    bad = []
    for i, (_, src, sport, dst, dport, proto) in enumerate(FLOWS):
        path = os.path.join(d, "pkt%d" % i)
        with open(path, "wb") as fh:
            fh.write(frame(src, sport, dst, dport, proto))
        p = subprocess.run(["bpftool", "prog", "run", "pinned", pin, "data_in", path, "repeat",
                            "1"], capture_output=True, text=True)
        if p.returncode != 0 or "Return value: 3," not in p.stdout:
            bad.append((src, p.stdout.strip() + p.stderr.strip()))
    if bad:
        print("# not forwarded: %s" % bad[:3])
        sys.exit(1)


def snapshot(sock):
    c = Client(sock)
    st = c.req({"cmd": "status"})
    stats = c.req({"cmd": "stats"})
    bl = c.req({"cmd": "backend_list"})
    look = {}
    for vip, src, sport, _, _, proto in FLOWS:
        r = c.req({"cmd": "lookup", "vip": vip, "src": src_name(src, sport), "proto": proto})
        b = r.get("backend")
        look["%s %s" % (vip, src)] = ["%s %d" % (b["address"], b["port"]) if b else None,
                                      r.get("source")]
    c.close()
    return {"status": st, "stats": stats["vips"], "tx": stats["reasons"]["tx"],
            "ids": {"%s %s %d" % (b["vip"], b["address"], b["port"]): b["id"]
                    for b in bl["backends"]},
            "lookup": look}


def compare(sock, snap, passes):
    t = Tap()
    a = snapshot(sock)
    b = snap
    t.ok(a["status"]["adopted"] is True, "restarted xlbd adopted the pinned datapath",
         a["status"])
    t.ok(a["status"]["flows"] == b["status"]["flows"] == len(FLOWS),
         "flow table survived the restart (%d flows)" % len(FLOWS),
         (a["status"]["flows"], b["status"]["flows"]))
    common = {k: v for k, v in a["ids"].items() if k in b["ids"]}
    t.ok(common == b["ids"], "backend ids recovered from the pins", (a["ids"], b["ids"]))
    moved = {k: (b["lookup"][k], v) for k, v in a["lookup"].items() if v[0] != b["lookup"][k][0]}
    t.ok(not moved and all(v[1] == "flow_table" for v in a["lookup"].values()),
         "every flow still maps to its backend, from the flow table", moved)
    # counters: packets went on through the pinned program while no daemon ran
    pk = {v["vip"]: v for v in a["stats"]}
    pb = {v["vip"]: v for v in b["stats"]}
    want = {V4: 20 * passes, V6: 10 * passes}
    t.ok(all(pk[v]["packets"] == want[v] and pb[v]["packets"] == want[v] - (passes - 1)
             * (20 if v == V4 else 10) for v in want),
         "VIP counters survived and kept counting (%d passes)" % passes,
         ({v: pk[v]["packets"] for v in want}, {v: pb[v]["packets"] for v in want}))
    t.ok(all(pk[v]["new_flows"] == pb[v]["new_flows"] for v in want),
         "no flow was new again after the restart",
         ({v: pk[v]["new_flows"] for v in want}, {v: pb[v]["new_flows"] for v in want}))
    per_be = {(v["vip"], "%s %d" % (x["address"], x["port"])): x["packets"] for v in a["stats"]
              for x in v["backends"]}
    t.ok(sum(per_be.values()) == 30 * passes and
         all(per_be[k] == n * passes for k, n in expected_per_backend(b).items()),
         "backend counters survived and every flow stayed on its backend", per_be)
    t.ok(a["tx"]["packets"] == 30 * passes, "every packet was forwarded (XDP_TX)", a["tx"])
    t.done()
    return t.failed


def expected_per_backend(snap):
    n = {}
    for k, (addr, _) in snap["lookup"].items():
        vip = k.split(" ")[0]
        n[(vip, addr)] = n.get((vip, addr), 0) + 1
    return n


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "drive":
        drive(sys.argv[2], sys.argv[3])
    elif cmd == "snapshot":
        with open(sys.argv[3], "w") as fh:
            json.dump(snapshot(sys.argv[2]), fh)
    elif cmd == "compare":
        with open(sys.argv[3]) as fh:
            sys.exit(1 if compare(sys.argv[2], json.load(fh), int(sys.argv[4])) else 0)
