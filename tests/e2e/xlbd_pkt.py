# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Write one Ethernet frame (IPv4 or IPv6, TCP SYN or UDP) for BPF_PROG_TEST_RUN.
Usage: xlbd_pkt.py OUT SRC SPORT DST DPORT [tcp|udp]"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, sport, dst, dport, proto="tcp", payload=b"x" * 32):
    v6 = ":" in src
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s, d = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    pnum = 6 if proto == "tcp" else 17
    if pnum == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0) + payload
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if v6:
        pseudo = s + d + struct.pack("!I3xB", len(l4), pnum)
    else:
        pseudo = s + d + struct.pack("!xBH", pnum, len(l4))
    c = csum(pseudo + l4)
    off = 16 if pnum == 6 else 6
    l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(l4), pnum, 64) + s + d
        etype = 0x86DD
    else:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, pnum, 0, s, d)
        ip = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        etype = 0x0800
    eth = bytes.fromhex("020000000002") + bytes.fromhex("020000000003") + struct.pack("!H", etype)
    return eth + ip + l4


if __name__ == "__main__":
    out, src, sport, dst, dport = sys.argv[1:6]
    proto = sys.argv[6] if len(sys.argv) > 6 else "tcp"
    with open(out, "wb") as fh:
        fh.write(frame(src, int(sport), dst, int(dport), proto))
