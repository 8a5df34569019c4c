#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Capture of xlb-gen's frames on a receiving interface and the checks of test_gen.sh on them.
#
#   gen_capture.py capture IFACE DST MAX SECONDS OUT READY
#       AF_PACKET capture of up to MAX received frames to the IP address DST (or until SECONDS
#       have passed), one hex line per frame into OUT; touches READY once listening.
#   gen_capture.py check NAME FILE SIZE PROTO COUNT
#       TAP verdicts ("ok|not ok<TAB>name<TAB>why" lines) that FILE holds COUNT well-formed
#       frames of SIZE bytes, PROTO udp|tcp-syn|tcp-ack: lengths, checksums, TCP flags.
#   gen_capture.py flows NAME FILE WANT [SRC_FIRST SRC_LAST SPORT_FIRST SPORT_LAST]
#       verdict that FILE holds WANT distinct 5-tuples ("min:N" for at least N), all inside the
#       ranges if given; prints the count.
#   gen_capture.py same NAME FILE1 FILE2
#       verdict that both captures hold the same frames in the same order.
import ipaddress
import os
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = 33


def capture(ifname, dst, maxn, seconds, out, ready):
    dst = ipaddress.ip_address(dst).packed
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    s.bind((ifname, 0))
    s.settimeout(0.1)
    open(ready, "w").close()
    frames = []
    end = time.time() + seconds
    while time.time() < end and len(frames) < maxn:
        try:
            d, addr = s.recvfrom(65536)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if ip_dst(d) == dst:
            frames.append(d.hex())
    with open(out, "w") as f:
        f.write("".join(x + "\n" for x in frames))


def ip_dst(d):
    et = struct.unpack("!H", d[12:14])[0]
    if et == 0x0800 and len(d) >= 34:
        return d[30:34]
    if et == 0x86DD and len(d) >= 54:
        return d[38:54]
    return None


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def parse(d):
    """(family, src, dst, proto, sport, dport, l4 offset, l4 bytes, problems)"""
    bad = []
    et = struct.unpack("!H", d[12:14])[0]
    if et == 0x0800:
        ip = d[14:34]
        if ip[0] != 0x45:
            bad.append("version/IHL %#x" % ip[0])
        tot = struct.unpack("!H", ip[2:4])[0]
        if tot != len(d) - 14:
            bad.append("IPv4 total length %d for a %d-byte frame" % (tot, len(d)))
        if csum(ip) != 0xFFFF:
            bad.append("IPv4 header checksum")
        proto, src, dst, l4 = ip[9], ip[12:16], ip[16:20], 34
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(d) - l4)
        fam = 4
    elif et == 0x86DD:
        ip = d[14:54]
        if ip[0] >> 4 != 6:
            bad.append("version %d" % (ip[0] >> 4))
        plen = struct.unpack("!H", ip[4:6])[0]
        if plen != len(d) - 54:
            bad.append("IPv6 payload length %d for a %d-byte frame" % (plen, len(d)))
        proto, src, dst, l4 = ip[6], ip[8:24], ip[24:40], 54
        pseudo = src + dst + struct.pack("!IxxxB", len(d) - l4, proto)
        fam = 6
    else:
        return None
    seg = d[l4:]
    sport, dport = struct.unpack("!HH", seg[:4])
    if csum(pseudo + seg) != 0xFFFF:
        bad.append("%s checksum" % ("UDP" if proto == 17 else "TCP"))
    return fam, src, dst, proto, sport, dport, seg, bad


def verdict(ok, name, why):
    print("%s\t%s\t%s" % ("ok" if ok else "not ok", name, "" if ok else why))


def load(path):
    with open(path) as f:
        return [bytes.fromhex(x) for x in f.read().split()]


def check(name, path, size, proto, count):
    frames, size, count = load(path), int(size), int(count)
    bad = []
    for i, d in enumerate(frames):
        p = parse(d)
        if p is None:
            bad.append("frame %d: not IP" % i)
            continue
        fam, src, dst, l4proto, sport, dport, seg, why = p
        if len(d) != size:
            why.append("length %d, not %d" % (len(d), size))
        if proto == "udp":
            if l4proto != 17:
                why.append("protocol %d" % l4proto)
            elif struct.unpack("!H", seg[4:6])[0] != len(seg):
                why.append("UDP length %d for %d bytes" % (struct.unpack("!H", seg[4:6])[0],
                                                          len(seg)))
            elif seg[6:8] == b"\0\0":
                why.append("UDP checksum 0")
        else:
            want = 0x02 if proto == "tcp-syn" else 0x10
            if l4proto != 6:
                why.append("protocol %d" % l4proto)
            elif seg[12] >> 4 != 5 or seg[13] != want:
                why.append("TCP offset %d flags %#x" % (seg[12] >> 4, seg[13]))
        if why:
            bad.append("frame %d: %s" % (i, ", ".join(why)))
    verdict(len(frames) == count and not bad, name,
            "%d of %d frames captured; %s" % (len(frames), count, "; ".join(bad[:3])))


def flows(name, path, want, *ranges):
    tuples = set()
    out = []
    for d in load(path):
        p = parse(d)
        if p is None:
            continue
        fam, src, dst, proto, sport, dport = p[:6]
        tuples.add((src, dst, proto, sport, dport))
        if ranges:
            a = ipaddress.ip_address(src)
            if not (ipaddress.ip_address(ranges[0]) <= a <= ipaddress.ip_address(ranges[1])
                    and int(ranges[2]) <= sport <= int(ranges[3])):
                out.append("%s:%d outside the ranges" % (a, sport))
    n = len(tuples)
    ok = n >= int(want[4:]) if want.startswith("min:") else n == int(want)
    verdict(ok and not out, name, "%d distinct 5-tuples (want %s) %s" % (n, want, out[:3]))


def same(name, a, b):
    fa, fb = load(a), load(b)
    diff = next((i for i, (x, y) in enumerate(zip(fa, fb)) if x != y), None)
    ok = fa == fb and len(fa) > 0
    why = "%d and %d frames" % (len(fa), len(fb))
    if diff is not None:
        why += "; frame %d differs: %s vs %s" % (diff, fa[diff].hex(), fb[diff].hex())
    verdict(ok, name, why)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "capture":
        capture(args[0], args[1], int(args[2]), float(args[3]), args[4], args[5])
    elif cmd == "check":
        check(*args)
    elif cmd == "flows":
        flows(*args)
    elif cmd == "same":
        same(*args)
    else:
        sys.exit("unknown command " + cmd)
