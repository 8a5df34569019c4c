# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers of the xlbd end-to-end tests: an API client (stdlib only), TAP output, and the check
that the config file on disk equals the daemon's running state."""
import json
import os
import socket
import subprocess
import sys


class Client:
    """One connection to xlbd: one JSON request per line, one reply per line."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        """The next reply line, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def req(self, obj):
        self.send_raw((json.dumps(obj) + "\n").encode())
        line = self.read_line()
        if line is None:
            raise ConnectionError("xlbd closed the connection")
        return json.loads(line)

    def close(self):
        self.sock.close()


class Tap:
    """TAP lines; numbering continues from $TAP_START and ends in $TAP_NEXT_FILE."""

    def __init__(self):
        self.n = int(os.environ.get("TAP_START", "0"))
        self.failed = 0

    def ok(self, cond, name, why=""):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name), flush=True)
        else:
            self.failed += 1
            why = str(why).replace("\n", " ")[:400]
            print("not ok %d - %s # %s" % (self.n, name, why), flush=True)
        return cond

    def done(self):
        f = os.environ.get("TAP_NEXT_FILE")
        if f:
            with open(f, "w") as fh:
                fh.write(str(self.n))


def vip_name(v):
    a = v["address"]
    if ":" in a:
        a = "[%s]" % a
    return "%s:%d/%s" % (a, v["port"], v["proto"])


def file_matches_state(cli, path, xlbd=None):
    """(True, "") when the config file parses (with python and with `xlbd --check`) and its VIPs
    and backends equal what vip_list / backend_list report."""
    try:
        with open(path) as fh:
            cfg = json.load(fh)
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        return False, "file does not parse: %s" % e
    if xlbd:
        p = subprocess.run([xlbd, "--check", "--config", path], capture_output=True, text=True)
        if p.returncode != 0:
            return False, "xlbd --check: %s" % p.stderr.strip()
    vl = cli.req({"cmd": "vip_list"})
    bl = cli.req({"cmd": "backend_list"})
    if not vl.get("ok") or not bl.get("ok"):
        return False, "list failed: %s %s" % (vl, bl)
    keys = ("address", "port", "proto", "mode", "table_size", "hash")
    vdef = {"proto": "tcp", "mode": "ipip", "table_size": 65537, "hash": "5tuple"}
    fv = sorted(tuple(v.get(k, vdef.get(k)) for k in keys) for v in cfg.get("vips", []))
    sv = sorted(tuple(v[k] for k in keys) for v in vl["vips"])
    if fv != sv:
        return False, "VIPs differ: file %s, daemon %s" % (fv, sv)
    bkeys = ("address", "port", "weight", "state")
    bdef = {"port": 0, "weight": 100, "state": "active"}

    # a backend's check is its VIP's (defaults where the file says nothing) with its own keys
    cdef = {"type": "none", "port": 0, "interval_ms": 200, "timeout_ms": 150, "rise": 3,
            "fall": 2, "jitter_pct": 10, "fastinter_ms": 100, "downinter_ms": 500}

    def check(*layers):
        c = dict(cdef)
        for layer in layers:
            c.update(layer.get("check", {}))
        if c["type"] == "http":
            c.setdefault("path", "/")
            c.setdefault("expect", 200)
        keep = list(cdef) + (["path", "expect"] if c["type"] == "http" else [])
        return json.dumps({k: c[k] for k in keep}, sort_keys=True)

    fb = sorted((vip_name(dict(vdef, **v)),) + tuple(b.get(k, bdef.get(k)) for k in bkeys)
                + (check(v, b),) for v in cfg.get("vips", []) for b in v.get("backends", []))
    sb = sorted((b["vip"],) + tuple(b[k] for k in bkeys) + (check(b),) for b in bl["backends"])
    if fb != sb:
        return False, "backends differ: file %s, daemon %s" % (fb, sb)
    return True, ""


def die(msg):
    print("Bail out! %s" % msg, flush=True)
    sys.exit(1)
