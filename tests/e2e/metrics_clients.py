# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Hostile HTTP clients against xlbd's metrics port (run by test_metrics.sh inside the lb
namespace): garbage, a request cut short, a header that never ends, silent connections, more
than the connection limit of them. The daemon's API must keep answering promptly, and /metrics
too while the limit is not reached. Prints one verdict a line: ok|not ok <TAB> name <TAB> why.
Usage: metrics_clients.py HOST PORT XLB_CLI SOCKET"""
import socket
import subprocess
import sys
import time
import urllib.request

host, port, xlb, sock = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def verdict(good, name, why=""):
    print("%s\t%s\t%s" % ("ok" if good else "not ok", name, "" if good else why), flush=True)


def conn():
    s = socket.create_connection((host, port), timeout=3)
    s.setblocking(False)
    return s


def api_time():
    t0 = time.monotonic()
    r = subprocess.run([xlb, "-s", sock, "status"], capture_output=True, timeout=10)
    return r.returncode, time.monotonic() - t0


def scrape(timeout):
    t0 = time.monotonic()
    with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=timeout) as r:
        body = r.read()
        return r.status, body, time.monotonic() - t0


held = []
try:
    binary = conn()
    binary.send(b"\x00\xff\xfe GARBAGE \x01\x02\r\n\r\n")   # held until the idle timeout
    held.append(binary)
    garbage = conn()
    garbage.send(b"GARBAGE\r\n\r\n")
    held.append(garbage)
    partial = conn()
    partial.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
    held.append(partial)
    endless = conn()
    try:
        endless.send(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 200000)
    except BlockingIOError:
        pass
    held.append(endless)
    held += [conn() for _ in range(5)]                       # silent
    time.sleep(0.3)

    rc, dt = api_time()
    verdict(rc == 0 and dt < 1.0, "metrics: garbage, cut and silent HTTP clients: the API "
            "answers promptly", "rc=%d in %.2fs" % (rc, dt))
    try:
        st, body, dt = scrape(3)
        verdict(st == 200 and b"xlb_build_info" in body and dt < 2.0,
                "metrics: /metrics still served beside them", "status %d in %.2fs" % (st, dt))
    except Exception as e:  # noqa: BLE001 - any failure is the verdict
        verdict(False, "metrics: /metrics still served beside them", repr(e))
    # the garbage got an error reply or a close, not silence forever
    garbage.setblocking(True)
    garbage.settimeout(3)
    try:
        reply = garbage.recv(4096)
        verdict(reply == b"" or reply.startswith(b"HTTP/1.1 4"),
                "metrics: a malformed request line is refused (4xx or closed)", repr(reply[:60]))
    except Exception as e:  # noqa: BLE001
        verdict(False, "metrics: a malformed request line is refused (4xx or closed)", repr(e))

    # more silent clients than the server takes at once: the daemon does not care
    held += [conn() for _ in range(40)]                      # 49 in all
    time.sleep(0.3)
    rc, dt = api_time()
    verdict(rc == 0 and dt < 1.0, "metrics: 49 stalled HTTP clients (over the limit): the API "
            "answers promptly", "rc=%d in %.2fs" % (rc, dt))
finally:
    for s in held:
        s.close()

# once they are gone, scrapes work again at once
try:
    st, body, dt = scrape(5)
    verdict(st == 200 and b"xlb_build_info" in body, "metrics: served again once they left",
            "status %d" % st)
except Exception as e:  # noqa: BLE001
    verdict(False, "metrics: served again once they left", repr(e))
