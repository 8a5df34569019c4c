# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""SIGHUP reload test (run by test_xlbd_persist.sh): edit the config file, send SIGHUP, check
that only the differences were applied (an untouched VIP keeps its table and gets no rebuild),
and that an invalid file is refused with its errors while the old state keeps running.
Usage: xlbd_reload.py SOCKET CONFIG LOG PROG_PIN"""
import json
import os
import signal
import subprocess
import sys
import time

from xlbd_client import Client, Tap, file_matches_state

sock, conf, log, prog = sys.argv[1:5]
t = Tap()
c = Client(sock)
A, B, C = "198.18.0.10:80/tcp", "198.18.0.20:53/udp", "[2001:db8::30]:80/tcp"
pid = c.req({"cmd": "status"})["pid"]


def log_size():
    return os.path.getsize(log)


def hup_and_wait(marker):
    """SIGHUP, then wait for a log line containing @marker written after the signal."""
    start = log_size()
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(log, errors="replace") as fh:
            fh.seek(start)
            text = fh.read()
        if marker in text:
            return text
        time.sleep(0.05)
    return None


def edit(fn):
    with open(conf) as fh:
        cfg = json.load(fh)
    fn(cfg)
    write(cfg)


def write(cfg):
    with open(conf + ".new", "w") as fh:
        json.dump(cfg, fh, indent=1)
    os.rename(conf + ".new", conf)


def vip(cfg, addr):
    return next(v for v in cfg["vips"] if v["address"] == addr)


table_b = c.req({"cmd": "table", "vip": B, "full": True})["table"]
table_a = c.req({"cmd": "table", "vip": A, "full": True})["table"]


def change1(cfg):
    vip(cfg, "198.18.0.10")["backends"][0]["weight"] = 400
    cfg["vips"].append({"address": "2001:db8::30", "port": 80, "proto": "tcp",
                        "table_size": 251, "backends": [{"address": "2001:db8:1::30"}]})


edit(change1)
text = hup_and_wait("reload: done")
t.ok(text is not None, "SIGHUP reload applied", "no 'reload: done' in the log")
text = text or ""
bl = {(b["vip"], b["address"]): b for b in c.req({"cmd": "backend_list"})["backends"]}
t.ok(bl[(A, "198.18.1.1")]["weight"] == 400, "reload: changed weight applied", bl.get((A, "198.18.1.1")))
t.ok((C, "2001:db8:1::30") in bl, "reload: added VIP and backend present", list(bl))
t.ok("vip %s: table rebuilt" % A in text and "vip %s: table rebuilt" % B not in text,
     "reload: only the changed VIP's table was rebuilt", text[-600:])
t.ok(c.req({"cmd": "table", "vip": B, "full": True})["table"] == table_b,
     "reload: the untouched VIP kept its table")
t.ok(c.req({"cmd": "table", "vip": A, "full": True})["table"] != table_a,
     "reload: the changed VIP got a new table")


def change2(cfg):
    vip(cfg, "198.18.0.10")["backends"].pop()
    vip(cfg, "198.18.0.20")["backends"][0]["state"] = "draining"


edit(change2)
text = hup_and_wait("reload: done") or ""
bl = {(b["vip"], b["address"]): b for b in c.req({"cmd": "backend_list"})["backends"]}
t.ok((A, "198.18.1.3") not in bl and bl[(B, "198.18.2.1")]["state"] == "draining"
     and bl[(B, "198.18.2.1")]["slots"] == 0, "reload: removed backend gone, drain applied",
     sorted(bl))
good, why = file_matches_state(c, conf)
t.ok(good, "reload: file and running state agree", why)

# a VIP whose table shrinks (its entry is set before the table) is logged as changed too
edit(lambda cfg: vip(cfg, "198.18.0.20").update({"table_size": 251, "hash": "src"}))
text = hup_and_wait("reload: done") or ""
t.ok("vip %s changed (mode ipip, hash src, M=251)" % B in text and
     c.req({"cmd": "table", "vip": B})["table_size"] == 251,
     "reload: a shrunk table and a new hash applied and logged", text[-400:])

with open(conf) as fh:
    good_cfg = json.load(fh)
before = (c.req({"cmd": "vip_list"}), c.req({"cmd": "backend_list"}))
edit(lambda cfg: vip(cfg, "198.18.0.10")["backends"][0].update({"wieght": 5, "weight": -3}))
text = hup_and_wait("keeping the running configuration")
t.ok(text is not None and "vips[0].backends[0].wieght: unknown key" in text
     and "vips[0].backends[0].weight: must be 0..65535" in text,
     "reload of an invalid file logs every error with its path", (text or "")[-500:])
t.ok((c.req({"cmd": "vip_list"}), c.req({"cmd": "backend_list"})) == before,
     "reload of an invalid file changes nothing")
with open(conf, "w") as fh:
    fh.write('{"vips": [')
text = hup_and_wait("keeping the running configuration")
t.ok(text is not None and "line" in text, "reload of a truncated file is refused",
     (text or "")[-300:])
t.ok(c.req({"cmd": "status"}).get("ok"), "daemon serving after bad reloads")

# A reload that fails while being applied restores the running state as it was: ids, tables,
# counters. Here it needs more ids than are free (the ids of removed VIPs are freed only after the
# new VIPs are in): A and C kept, B removed, 1022 new VIPs, the last of which gets no id.
def extras(base, n):
    return [{"address": "198.18.%d.%d" % (base + i // 250, i % 250 + 1), "port": 80,
             "table_size": 251} for i in range(n)]


def counters():
    return [[{k: x.get(k) for k in ("vip", "address", "port", "packets", "bytes", "new_flows")}
             for x in [v] + v["backends"]] for v in c.req({"cmd": "stats"})["vips"]]


def drive(i):
    from xlbd_pkt import frame
    path = conf + ".pkt"
    with open(path, "wb") as fh:
        fh.write(frame("198.18.5.%d" % i, 1000 + i, "198.18.0.10", 80))
    subprocess.run(["bpftool", "prog", "run", "pinned", prog, "data_in", path, "repeat", "1"],
                   capture_output=True)


for i in range(1, 5):
    drive(i)
snap = lambda: (c.req({"cmd": "vip_list"}), c.req({"cmd": "backend_list"}), counters(),
                [c.req({"cmd": "table", "vip": v, "full": True}) for v in (A, B, C)])
before = snap()
keep = [v for v in good_cfg["vips"] if v["address"] != "198.18.0.20"]
write(dict(good_cfg, vips=keep + extras(100, 1024 - len(keep))))
text = hup_and_wait("reload: failed")
after = snap()
t.ok(text is not None and "no free VIP id" in text, "reload needing more ids than free fails",
     (text or "")[-300:])
t.ok(before[2][0][0]["packets"] >= 4 and before == after,
     "failed reload: ids, backends, counters and tables as before",
     ([(x["vip"], x["id"], y["id"]) for x, y in zip(before[0]["vips"], after[0]["vips"])
       if x != y][:3], before[2], after[2], before[3] == after[3]))

# A reload refused by an interface that cannot be attached (here: missing) changes nothing,
# also for the VIP it would have removed.
before = snap()
write(dict(good_cfg, interfaces=[{"name": "xlbnosuch0"}],
           vips=[v for v in good_cfg["vips"] if v["address"] != "198.18.0.10"]))
text = hup_and_wait("reload: failed")
after = snap()
t.ok(text is not None and "xlbnosuch0" in text, "reload with a missing interface fails",
     (text or "")[-300:])
t.ok(before[2][0][0]["packets"] >= 4 and before == after and "198.18.0.10:80/tcp removed" not in (text or ""),
     "reload with a missing interface: nothing removed, counters and tables as before",
     (before[2][0], after[2][0], before[3] == after[3]))
c.close()
t.done()
sys.exit(1 if t.failed else 0)
