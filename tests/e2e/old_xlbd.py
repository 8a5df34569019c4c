# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An xlbd older than the text tables' request keys, for the CLI's fallback: a proxy on SOCKET
that refuses a request with "fields" or "rows" as an older xlbd does ("KEY: unknown argument")
and passes every other line to the real daemon at XLBD_SOCKET; it logs each request's keys to
LOG. Usage: old_xlbd.py SOCKET XLBD_SOCKET LOG (runs until killed)."""
import json
import os
import socket
import sys

path, real, log = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
with open(log, "a") as f:
    f.write("ready\n")
while True:
    conn, _ = srv.accept()
    line = conn.makefile("rb").readline()
    req = json.loads(line)
    with open(log, "a") as f:
        f.write(",".join(sorted(req)) + "\n")
    newer = [k for k in ("fields", "rows") if k in req]
    if newer:
        conn.sendall(json.dumps({"ok": False, "error": newer[0] + ": unknown argument"},
                                separators=(",", ":")).encode() + b"\n")
    else:
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(real)
        up.sendall(line)
        conn.sendall(up.makefile("rb").readline())
        up.close()
    conn.close()
