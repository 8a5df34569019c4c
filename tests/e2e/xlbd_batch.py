# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Batches through the API and xlb -b: all or nothing, the bad op named, 1,000 VIPs consistent
across the datapath, the config file and vip_list, status during a long batch.
Usage: xlbd_batch.py SOCKET CONFIG XLB XLBD PIN"""
import json
import subprocess
import sys
import threading
import time

from xlbd_client import Client, Tap, file_matches_state

sock, conf, xlb, xlbd, pin = sys.argv[1:6]
t = Tap()
c = Client(sock, timeout=120)


def vip(i):
    return "198.18.%d.%d:80/tcp" % (10 + i // 250, i % 250 + 1)


def backend(i, j):
    k = i * 10 + j
    return "198.19.%d.%d" % (k // 250, k % 250 + 1)


def snap():
    return (c.req({"cmd": "vip_list"}), c.req({"cmd": "backend_list"}), open(conf).read())


# ---- a bad op: nothing changes, the op is named
before = snap()
ops = [{"cmd": "vip_add", "vip": vip(0)},
       {"cmd": "backend_add", "vip": vip(0), "address": backend(0, 0)},
       {"cmd": "backend_add", "vip": vip(0), "address": "198.19.300.1"},
       {"cmd": "backend_add", "vip": vip(0), "address": backend(0, 1)}]
r = c.req({"cmd": "batch", "ops": ops})
t.ok(not r["ok"] and r["error"].startswith("ops[2] (backend_add): address:"),
     "a batch with a bad op is refused, naming it by index", r)
t.ok(snap() == before, "a refused batch changed nothing (datapath view and file)")
for bad, want in (([{"cmd": "status"}], "ops[0]: cmd: \"status\" is not a change"),
                  ([{"cmd": "vip_add", "vip": vip(0)}, {"cmd": "vip_add", "vip": vip(0)}],
                   "ops[1] (vip_add): vip: 198.18.10.1:80/tcp exists already"),
                  ([{"cmd": "backend_del", "vip": vip(5), "address": "198.19.0.1"}],
                   "ops[0] (backend_del): vip: no VIP"),
                  (7, "ops: missing or not an array")):
    r = c.req({"cmd": "batch", "ops": bad})
    t.ok(not r["ok"] and r["error"].startswith(want), "refused: %s" % want, r)
t.ok(snap() == before, "refused batches changed nothing")

# ---- what the file parser refuses across objects is refused to ops as well (the daemon runs
# with encap_source4 only and mtu 1290): an IPv6 backend of an ipip VIP has no outer source;
# an IPv6 VIP over gue leaves 1290 - 28 = 1262 bytes, less than IPv6's 1280
for ops, want in (([{"cmd": "vip_add", "vip": vip(0)},
                    {"cmd": "backend_add", "vip": vip(0), "address": "2001:db8:1::1"}],
                   "vips[0].backends[0]: ipip VIP 198.18.10.1:80/tcp to IPv6 backend "
                   "2001:db8:1::1 needs encap_source6 (the outer source address), which is "
                   "not set"),
                  ([{"cmd": "vip_add", "vip": "[2001:db8::10]:80/tcp", "mode": "gue"},
                    {"cmd": "backend_add", "vip": "[2001:db8::10]:80/tcp",
                     "address": "198.19.0.1"}],
                   "vips[0]: mtu 1290 leaves 1262 bytes for [2001:db8::10]:80/tcp after gue "
                   "over IPv4 (28 bytes), less than the 1280 IPv6 hosts accept as a path MTU: "
                   "mtu must be at least 1308")):
    was = snap()
    r = c.req({"cmd": "batch", "ops": ops})
    t.ok(not r["ok"] and r["error"] == want and snap() == was,
         "refused, nothing changed: " + want, r)
    r1 = c.req(ops[0])
    was = snap()
    r2 = c.req(ops[1])
    t.ok(r1["ok"] and not r2["ok"] and r2["error"] == want and snap() == was,
         "the same backend_add alone: the same error, nothing changed", (r1, r2))
    c.req({"cmd": "vip_del", "vip": ops[0]["vip"]})
before = snap()

# ---- xlb -b: a file of commands; a bad line names its line and changes nothing
bad = "/tmp/xlbd-batch-%d.txt" % id(t)
with open(bad, "w") as fh:
    fh.write("# comment\nvip add %s\n\nbackend add %s 198.19.0.1 weight 7\n"
             "backend add 198.18.99.1:80/tcp 198.19.0.2\n" % (vip(0), vip(0)))
p = subprocess.run([xlb, "-s", sock, "-b", bad], capture_output=True, text=True)
t.ok(p.returncode == 1 and "%s:5: vip: no VIP 198.18.99.1:80/tcp" % bad in p.stderr,
     "xlb -b: a refused change is named by its line", p.stderr)
t.ok(snap() == before, "xlb -b refused: nothing changed")
p = subprocess.run([xlb, "-s", sock, "-b", "-"], input="vip add %s mode\n" % vip(0),
                   capture_output=True, text=True)
t.ok(p.returncode == 2 and "stdin:1: missing value after \"mode\"" in p.stderr,
     "xlb -b -: a line that does not parse is a usage error naming its line", p.stderr)
p = subprocess.run([xlb, "-s", sock, "-b", "-"], input="vip list\n", capture_output=True,
                   text=True)
t.ok(p.returncode == 2 and "only changes can be batched" in p.stderr,
     "xlb -b: only changes may be batched", p.stderr)
with open(bad, "w") as fh:
    fh.write("vip add %s\nbackend add %s 198.19.0.1 weight 7 check http \"/a b\"\n"
             % (vip(0), vip(0)))
p = subprocess.run([xlb, "-j", "-s", sock, "-b", bad], capture_output=True, text=True)
t.ok(p.returncode == 2 and 'invalid HTTP path \\"/a b\\"' in p.stdout,
     "xlb -b: a quoted word with a blank is one word", p)
with open(bad, "w") as fh:
    fh.write("vip add %s\nbackend add %s 198.19.0.1 weight 7\n" % (vip(0), vip(0)))
p = subprocess.run([xlb, "-j", "-s", sock, "-b", bad], capture_output=True, text=True)
bl = c.req({"cmd": "backend_list", "vip": vip(0)})
t.ok(p.returncode == 0 and json.loads(p.stdout) == {"ops": 2} and
     bl["backends"][0]["weight"] == 7, "xlb -b applies the file: {\"ops\": 2}", (p, bl))
r = c.req({"cmd": "batch", "ops": [{"cmd": "vip_del", "vip": vip(0)}]})
t.ok(r["ok"] and not c.req({"cmd": "vip_list"})["vips"], "a batch removes a VIP", r)

# ---- 1,000 VIPs x 10 backends in one batch, with status polled meanwhile
N = 1000
ops = []
for i in range(N):
    ops.append({"cmd": "vip_add", "vip": vip(i), "table_size": 4093})
    ops += [{"cmd": "backend_add", "vip": vip(i), "address": backend(i, j)} for j in range(10)]
seen = []


def poll():
    s = Client(sock, timeout=120)
    while not done.is_set():
        r = s.req({"cmd": "status"})
        if "applying" in r:
            seen.append(r["applying"])
        time.sleep(0.02)


done = threading.Event()
th = threading.Thread(target=poll)
th.start()
t0 = time.time()
r = c.req({"cmd": "batch", "ops": ops})
dt = time.time() - t0
done.set()
th.join()
t.ok(r["ok"] and r["ops"] == len(ops), "a batch of %d ops (1,000 VIPs x 10 backends) applied"
     " in %.2f s" % (len(ops), dt), r)
vl = c.req({"cmd": "vip_list"})["vips"]
t.ok(len(vl) == N and all(v["backends"] == 10 and v["usable"] == 10 for v in vl),
     "vip_list: 1,000 VIPs of 10 usable backends")
good, why = file_matches_state(c, conf, xlbd)
t.ok(good, "the config file equals the daemon's state", why)
d = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", pin + "/xlb_vips"],
                   capture_output=True, text=True)
ids = sorted(e["formatted"]["value"]["id"] for e in json.loads(d.stdout))
t.ok(ids == sorted(v["id"] for v in vl), "the datapath holds the 1,000 VIP entries",
     d.stderr)
tabs = [c.req({"cmd": "table", "vip": vip(i)}) for i in (0, 499, 999)]
t.ok(all(x["ok"] and x["empty"] == 0 and len(x["slots"]) == 10 and
         sum(s["slots"] for s in x["slots"]) == 4093 for x in tabs),
     "their tables are in the datapath, full, over their 10 backends", tabs)
t.ok(any(s["what"] == "batch" and s["total"] == N for s in seen),
     "status during the batch shows it in progress (%d samples)" % len(seen), seen[-3:])
t.ok("applying" not in c.req({"cmd": "status"}), "status after the batch: nothing applying")
t.done()
