#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Client flows for the cluster test bed (tools/cluster.sh), run in the client namespace against
# the HTTP servers of tools/testbed.sh (GET answers "beN", POST "beN BYTES-RECEIVED"). VIP and
# CLIENT are IPv4 or IPv6 addresses.
#
#   cluster_flows.py short VIP N SPORT0
#       N HTTP GETs, a new TCP connection each, from source ports SPORT0 .. SPORT0+N-1; prints
#       "SPORT BACKEND" per flow (BACKEND "FAIL" when it got no answer)
#   cluster_flows.py long VIP N SPORT0 SECONDS READY
#       N long-lived connections from SPORT0 ..: each POSTs a body sent in small pieces over
#       SECONDS; the file READY is written once every connection is open and has sent its first
#       piece. Prints "SPORT BACKEND RECEIVED SENT" per flow (the server's count of body bytes)
#   cluster_flows.py probe VIP SPORTS LIMIT
#       new connections (a GET each, 50 ms to connect) from the source ports SPORTS (comma-
#       separated) in turn until one is answered or LIMIT seconds have passed; prints
#       "MS SPORT BACKEND", MS the Unix time in ms of that answer (exit 1 on none)
#   cluster_flows.py lookup SOCKETS VIP CLIENT < FLOWS
#       for each "SPORT BACKEND ..." line of FLOWS, what every xlbd (SOCKETS: comma-separated API
#       sockets) answers to a lookup of CLIENT:SPORT: prints "SPORT BACKEND B1:SRC1 B2:SRC2 ...",
#       Bk the backend host k names and SRCk "flow_table" or "maglev"
import json
import socket
import sys
import time

PIECE = 1000
TICK = 0.05


def connect(vip, sport, timeout):
    v6 = ":" in vip
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(timeout)
    s.bind(("::" if v6 else "0.0.0.0", sport))
    s.connect((vip, 80))
    return s


def answer(s):
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    body = data.split(b"\r\n\r\n", 1)
    return body[1].decode().strip() if len(body) == 2 and data.startswith(b"HTTP/1.0 200") else ""


def short(vip, n, sport0):
    for p in range(sport0, sport0 + n):
        try:
            s = connect(vip, p, 3)
            s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
            a = answer(s) or "FAIL"
            s.close()
        except OSError:
            a = "FAIL"
        print(p, a, flush=True)


def long(vip, n, sport0, seconds, ready):
    ticks = int(seconds / TICK)
    total = ticks * PIECE
    conns = {}
    for p in range(sport0, sport0 + n):
        try:
            s = connect(vip, p, 20)
            s.sendall(b"POST / HTTP/1.0\r\nHost: vip\r\nContent-Length: %d\r\n\r\n" % total)
            conns[p] = s
        except OSError:
            print(p, "FAIL", 0, total, flush=True)
    sent = dict.fromkeys(conns, 0)
    t0 = time.monotonic()
    for t in range(ticks):
        for p, s in list(conns.items()):
            try:
                s.sendall(b"x" * PIECE)
                sent[p] += PIECE
            except OSError:
                print(p, "FAIL", 0, total, flush=True)
                del conns[p]
        if t == 0:
            open(ready, "w").close()
        time.sleep(max(0, t0 + (t + 1) * TICK - time.monotonic()))
    for p, s in conns.items():
        try:
            a = answer(s).split()
            print(p, a[0], a[1], sent[p], flush=True)
        except (OSError, IndexError):
            print(p, "FAIL", 0, sent[p], flush=True)
        s.close()


def probe(vip, sports, limit):
    ports = [int(p) for p in sports.split(",")]
    end = time.monotonic() + limit
    i = 0
    while time.monotonic() < end:
        p = ports[i % len(ports)]
        i += 1
        try:
            s = connect(vip, p, 0.05)
            s.settimeout(1)
            s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
            a = answer(s)
            s.close()
            if a:
                print(int(time.time() * 1000), p, a, flush=True)
                return 0
        except OSError:
            pass
    return 1


def lookup(socks, vip, client):
    conns = []
    for path in socks.split(","):
        u = socket.socket(socket.AF_UNIX)
        u.connect(path)
        conns.append((u, u.makefile()))
    for line in sys.stdin:
        f = line.split()
        if len(f) < 2:
            continue
        out = [f[0], f[1]]
        for u, r in conns:
            src = ("[%s]:%s" if ":" in client else "%s:%s") % (client, f[0])
            req = {"cmd": "lookup", "vip": vip, "src": src, "proto": "tcp"}
            u.sendall(json.dumps(req).encode() + b"\n")
            rep = json.loads(r.readline())
            res = rep.get("result", rep)
            be = res.get("backend") or {}
            out.append("%s:%s" % (be.get("address", "none"), res.get("source", "error")))
        print(" ".join(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "short":
        short(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "probe":
        sys.exit(probe(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    elif sys.argv[1] == "lookup":
        lookup(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        long(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
