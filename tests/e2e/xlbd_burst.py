# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A burst of changes for the kill -9 test: sets the weight of one backend to 1, 2, 3, ... and
adds/removes other backends and VIPs in between; after each acknowledged weight it writes that
weight to ACKFILE (so the test knows the last change the daemon confirmed).
Usage: xlbd_burst.py SOCKET ACKFILE SEED"""
import os
import random
import sys

from xlbd_client import Client

sock, ackfile, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(seed)
V = "198.18.0.10:80/tcp"
try:
    c = Client(sock)
    w = int(open(ackfile).read() or 0) if os.path.exists(ackfile) else 0
    while True:
        w += 1
        r = c.req({"cmd": "backend_set", "vip": V, "address": "198.18.1.1", "weight": w})
        if not r.get("ok"):
            print("unexpected: %s" % r, file=sys.stderr)
            sys.exit(1)
        with open(ackfile + ".tmp", "w") as fh:
            fh.write(str(w))
        os.rename(ackfile + ".tmp", ackfile)
        k = rnd.randrange(6)
        a = "198.18.3.%d" % rnd.randrange(1, 60)
        if k == 0:
            c.req({"cmd": "backend_add", "vip": V, "address": a, "weight": rnd.randrange(1, 500),
                   "check": {"type": "http", "path": "/x" * rnd.randrange(1, 40)}})
        elif k == 1:
            c.req({"cmd": "backend_del", "vip": V, "address": a})
        elif k == 2:
            c.req({"cmd": "vip_add", "vip": "198.18.0.%d:443/udp" % rnd.randrange(20, 40),
                   "table_size": 251})
        elif k == 3:
            c.req({"cmd": "vip_del", "vip": "198.18.0.%d:443/udp" % rnd.randrange(20, 40)})
        elif k == 4:
            c.req({"cmd": "backend_set", "vip": V, "address": a,
                   "state": rnd.choice(["active", "draining", "disabled"])})
except (ConnectionError, OSError, ValueError):
    sys.exit(0)  # the daemon was killed: expected
