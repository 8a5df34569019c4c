#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The control plane at scale (make bench): cold start, one bulk batch, a single change and
stats, at 10, 100 and 1,000 VIPs x 10 backends. A view's time is given twice: until its reply
is received in full (xlbd and the socket), and with Python's json.loads of it as well; then
as the CLI shows it (xlb -j, and the text tables of xlb stats, backend list and vip list).
Each daemon runs in private mount and network namespaces (its own bpffs, no interface, only a
loopback that is down); the backends have no check, except for the single change with checks:
a TCP check on every backend, whose probes fail at once (no route: nothing leaves the
namespace), one a minute. Prints a table and
writes $BUILD/bench-control.json (make bench puts it into $BUILD/bench.json under
"control_plane").
Usage: control.py [BUILD [PART,...]]: PARTs (default all) views (the replies and the CLI),
changes (backend_set, vip_del), checks (backend_set with checks), batch; a row of a part not
run is shown as "-"."""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BUILD", "build")
XLBD = os.path.join(BUILD, "xlbd")
XLB = os.path.join(BUILD, "xlb")
PARTS = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else {"views", "changes", "checks",
                                                                "batch"}
SIZES = (10, 100, 1000)
NB = 10
REPEAT = 20
CLI_REPEAT = 10
# a check whose probes fail at once in the daemon's network namespace, once a minute
CHECK = {"type": "tcp", "interval_ms": 60000, "fastinter_ms": 60000, "downinter_ms": 60000,
         "timeout_ms": 100}


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(600)
        self.s.connect(path)
        self.buf = b""

    def raw(self, obj):
        """One request; its reply line as bytes (the chunks joined once: a reply of several
        MB costs the client a copy, not one per chunk)."""
        self.s.sendall(json.dumps(obj).encode() + b"\n")
        chunks = [self.buf]
        while b"\n" not in chunks[-1]:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("xlbd closed the connection")
            chunks.append(chunk)
        line, self.buf = b"".join(chunks).split(b"\n", 1)
        return line

    def req(self, obj):
        return json.loads(self.raw(obj))


def vip(i):
    return "198.18.%d.%d" % (i // 250, i % 250 + 1)


def backend(i, j):
    k = i * NB + j
    return "198.19.%d.%d" % (k // 250, k % 250 + 1)


def config(path, n, check=None):
    vips = [{"address": vip(i), "port": 80,
             "backends": [{"address": backend(i, j)} for j in range(NB)]} for i in range(n)]
    for v in vips if check else ():
        v["check"] = check
    with open(path, "w") as fh:
        json.dump({"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "metrics_listen": "off",
                   "encap_source4": "198.18.255.1", "vips": vips}, fh)


def start(tmp, conf):
    """Start xlbd on @conf; returns (process, pid, socket, seconds until it serves)."""
    sock, pidf, log = (os.path.join(tmp, x) for x in ("s.sock", "xlbd.pid", "xlbd.log"))
    for f in (pidf,):
        if os.path.exists(f):
            os.unlink(f)
    cmd = ("umount -l /sys/fs/bpf 2>/dev/null; exec %s -c %s -s %s -p %s -P /sys/fs/bpf/xlb-bench "
           "-f -D" % (XLBD, conf, sock, pidf))
    logf = open(log, "w")
    t0 = time.monotonic()
    p = subprocess.Popen(["unshare", "-m", "-n", "--propagation", "private", "sh", "-c", cmd],
                         stdout=logf, stderr=subprocess.STDOUT)
    while True:
        with open(log) as fh:
            if "serving on" in fh.read():
                break
        if p.poll() is not None:
            raise RuntimeError("xlbd exited: see %s" % log)
        time.sleep(0.005)
    dt = time.monotonic() - t0
    while not os.path.exists(pidf):
        time.sleep(0.005)
    return p, int(open(pidf).read()), sock, dt


def stop(p, pid):
    os.kill(pid, signal.SIGTERM)
    p.wait(60)


def median_ms(fn, n=REPEAT):
    ts = []
    for k in range(n):
        t0 = time.monotonic()
        fn(k)
        ts.append((time.monotonic() - t0) * 1e3)
    return statistics.median(ts)


def cli_ms(sock, args):
    """Median time of the CLI showing a view (its output discarded)."""
    return median_ms(lambda k: subprocess.run([XLB, "-s", sock] + args, check=True,
                                              stdout=subprocess.DEVNULL), CLI_REPEAT)


def single_change_ms(c):
    v0 = "%s:80/tcp" % vip(0)
    return median_ms(lambda k: ok(c.req(
        {"cmd": "backend_set", "vip": v0, "address": backend(0, 0), "weight": 100 + k % 2})))


def cpu_ns(pid):
    """Time xlbd's main thread (which serves the API) has run, in ns (schedstat)."""
    with open("/proc/%d/schedstat" % pid) as fh:
        return int(fh.read().split()[0])


def vip_del_ms(c, n, pid):
    """Median time of one vip_del of the last VIP (of @n), put back (untimed) after each, and
    the median CPU time of xlbd's main thread for it (without the RCU grace periods waited
    for, which are most of the time and vary with the machine's load)."""
    v = "%s:80/tcp" % vip(n - 1)
    back = [{"cmd": "vip_add", "vip": v}] + [{"cmd": "backend_add", "vip": v,
                                             "address": backend(n - 1, j)} for j in range(NB)]
    ts, cpu = [], []
    for _ in range(REPEAT):
        c0, t0 = cpu_ns(pid), time.monotonic()
        ok(c.req({"cmd": "vip_del", "vip": v}))
        ts.append((time.monotonic() - t0) * 1e3)
        cpu.append((cpu_ns(pid) - c0) / 1e6)
        ok(c.req({"cmd": "batch", "ops": back}))
    return statistics.median(ts), statistics.median(cpu)


def ok(r):
    if not r.get("ok"):
        raise RuntimeError(str(r))
    return r


def run(tmp, n):
    res = {"vips": n, "backends": n * NB}
    conf = os.path.join(tmp, "xlbd.json")
    config(conf, n)
    p, pid, sock, res["cold_start_s"] = start(tmp, conf)
    try:
        c = Client(sock)
        if "changes" in PARTS:
            res["single_change_ms"] = single_change_ms(c)
            res["vip_del_ms"], res["vip_del_cpu_ms"] = vip_del_ms(c, n, pid)
        if "views" in PARTS:
            views(c, sock, res)
    finally:
        stop(p, pid)
    if "checks" in PARTS:
        config(conf, n, CHECK)
        p, pid, sock, _ = start(tmp, conf)
        try:
            time.sleep(0.5)  # the first probes of every checker done
            res["single_change_checks_ms"] = single_change_ms(Client(sock))
        finally:
            stop(p, pid)
    if "batch" in PARTS:
        res["bulk_batch_s"] = bulk_batch_s(tmp, conf, n)
    return res


def views(c, sock, res):
    """The views' times at the daemon on @sock (client @c) into @res."""
    # the reply received in full (xlbd's cost and the transfer), then also parsed by Python
    res["stats_reply_ms"] = median_ms(lambda k: c.raw({"cmd": "stats"}))
    res["stats_ms"] = median_ms(lambda k: ok(c.req({"cmd": "stats"})))
    res["backend_list_reply_ms"] = median_ms(lambda k: c.raw({"cmd": "backend_list"}))
    res["backend_list_ms"] = median_ms(lambda k: ok(c.req({"cmd": "backend_list"})))
    res["backend_list_bytes"] = len(c.raw({"cmd": "backend_list"}))
    res["cli_stats_json_ms"] = cli_ms(sock, ["-j", "stats"])
    res["cli_stats_ms"] = cli_ms(sock, ["stats"])
    res["cli_backend_list_json_ms"] = cli_ms(sock, ["-j", "backend", "list"])
    res["cli_backend_list_ms"] = cli_ms(sock, ["backend", "list"])
    res["cli_vip_list_ms"] = cli_ms(sock, ["vip", "list"])


def bulk_batch_s(tmp, conf, n):
    """Seconds of one batch of @n VIPs and their backends into an empty daemon."""
    config(conf, 0)
    p, pid, sock, _ = start(tmp, conf)
    try:
        ops = []
        for i in range(n):
            v = "%s:80/tcp" % vip(i)
            ops.append({"cmd": "vip_add", "vip": v})
            ops += [{"cmd": "backend_add", "vip": v, "address": backend(i, j)} for j in range(NB)]
        c = Client(sock)
        t0 = time.monotonic()
        ok(c.req({"cmd": "batch", "ops": ops}))
        return time.monotonic() - t0
    finally:
        stop(p, pid)


def main():
    if os.geteuid() != 0:
        print("control plane: skipped (needs root)")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="xlb-bench-control.") as tmp:
        for n in SIZES:
            rows.append(run(tmp, n))
    print("control plane, VIPs x %d backends (M = 65537, no interface, no checks):" % NB)
    print("%-26s %10s %10s %10s" % (("operation",) + tuple("%d VIPs" % n for n in SIZES)))
    for key, name, fmt in (("cold_start_s", "cold start (s)", "%.2f"),
                           ("bulk_batch_s", "one batch (s)", "%.2f"),
                           ("single_change_ms", "one backend_set (ms)", "%.1f"),
                           ("single_change_checks_ms", "  with checks (ms)", "%.1f"),
                           ("vip_del_ms", "one vip_del (ms)", "%.1f"),
                           ("vip_del_cpu_ms", "  xlbd CPU (ms)", "%.2f"),
                           ("stats_reply_ms", "stats, reply (ms)", "%.1f"),
                           ("stats_ms", "  + parsed (ms)", "%.1f"),
                           ("backend_list_reply_ms", "backend list, reply (ms)", "%.1f"),
                           ("backend_list_ms", "  + parsed (ms)", "%.1f"),
                           ("cli_stats_json_ms", "xlb -j stats (ms)", "%.1f"),
                           ("cli_stats_ms", "xlb stats (ms)", "%.1f"),
                           ("cli_backend_list_json_ms", "xlb -j backend list (ms)", "%.1f"),
                           ("cli_backend_list_ms", "xlb backend list (ms)", "%.1f"),
                           ("cli_vip_list_ms", "xlb vip list (ms)", "%.1f")):
        print("%-26s %10s %10s %10s" % ((name,) + tuple(fmt % r[key] if key in r else "-"
                                                         for r in rows)))
    out = os.path.join(BUILD, "bench-control.json")
    with open(out, "w") as fh:
        json.dump({"control_plane": rows}, fh, indent=2)
    print("(also in %s)" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
