#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Servers that tests/e2e/test_probe.sh probes: each argument KIND:PORT[:ARG] is one server on [::]
# (IPv4 and IPv6), in a thread of its own; prints "ready" once every one of them listens.
#
#   tcp:PORT                 accepts and closes
#   silent:PORT              accepts and never answers (keeps the connections)
#   http:PORT:FILE           HTTP/1.0: /health answers the status held in FILE (200 if none);
#                            /host 200 when the Host header is "probe.example", else 400;
#                            /big 200 with a 100 KiB body; 404 otherwise; 400 without the
#                            probe's User-Agent
#   line:PORT:TEXT           writes TEXT ("\n" escapes allowed) and closes
#   longstatus:PORT          "HTTP/1.1 200 " followed by 5000 bytes with no line end
#   agentfile:PORT:FILE      writes the content of FILE and closes
#   agentsend:PORT:WANT:TEXT reads a line; TEXT when it is WANT, "fail#bad send" otherwise
#   peer:PORT                writes "up #<client address>"
#   udpecho:PORT             echoes datagrams
import http.server
import socket
import sys
import threading
import time


def listener(port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    if kind == socket.SOCK_STREAM:
        s.listen(4096)
    return s


def finish(c):
    # read what the client sent before closing, or the close would be a reset
    c.settimeout(0.5)
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()


def serve_stream(s, handle):
    while True:
        c, addr = s.accept()
        threading.Thread(target=handle, args=(c, addr), daemon=True).start()


def unescape(text):
    return text.replace("\\n", "\n").replace("\\r", "\r").encode()


class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    status_file = None

    def do_GET(self):
        body = b"ok\n"
        if self.headers.get("User-Agent") != "xlbd-probe":
            code = 400
        elif self.path == "/health":
            try:
                with open(self.status_file) as f:
                    code = int(f.read().strip() or 200)
            except OSError:
                code = 200
        elif self.path == "/host":
            code = 200 if self.headers.get("Host") == "probe.example" else 400
        elif self.path == "/big":
            code, body = 200, b"x" * 102400
        else:
            code = 404
        try:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the probe resets once it has the status line

    def log_message(self, *args):
        pass


class HttpServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def handle_error(self, request, client_address):
        pass


def start(spec):
    kind, port, *rest = spec.split(":", 2)
    port = int(port)
    arg = rest[0] if rest else ""
    if kind == "http":
        handler = type("H%d" % port, (Http,), {"status_file": arg})
        srv = HttpServer(("::", port), handler)
        return lambda: srv.serve_forever()
    if kind == "udpecho":
        s = listener(port, socket.SOCK_DGRAM)

        def echo():
            while True:
                data, addr = s.recvfrom(65535)
                s.sendto(data, addr)
        return echo
    s = listener(port)
    if kind == "tcp":
        def run():
            while True:
                s.accept()[0].close()
        return run
    if kind == "silent":
        held = []

        def run():
            while True:
                held.append(s.accept()[0])
        return run
    if kind == "line":
        def handle(c, addr):
            c.sendall(unescape(arg))
            finish(c)
    elif kind == "longstatus":
        def handle(c, addr):
            c.sendall(b"HTTP/1.1 200 " + b"x" * 5000)
            finish(c)
    elif kind == "agentfile":
        def handle(c, addr):
            with open(arg, "rb") as f:
                c.sendall(f.read())
            finish(c)
    elif kind == "agentsend":
        want, text = arg.split(":", 1)

        def handle(c, addr):
            c.settimeout(2)
            got = b""
            try:
                while b"\n" not in got:
                    chunk = c.recv(256)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
            ok = got.split(b"\n")[0] == want.encode()
            c.sendall(unescape(text) if ok else b"fail#bad send\n")
            finish(c)
    elif kind == "peer":
        def handle(c, addr):
            host = addr[0]
            if host.startswith("::ffff:"):
                host = host[7:]
            c.sendall(("up #%s\n" % host).encode())
            finish(c)
    else:
        sys.exit("unknown server kind " + kind)
    return lambda: serve_stream(s, handle)


def main():
    runs = [start(spec) for spec in sys.argv[1:]]
    for run in runs:
        threading.Thread(target=run, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
