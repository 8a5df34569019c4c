# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Write one Ethernet frame (IPv4 or IPv6, TCP SYN or UDP) for BPF_PROG_TEST_RUN.
Usage: xlbd_pkt.py OUT SRC SPORT DST DPORT [tcp|udp]"""
import ipaddress
import struct
import sys

from smoke_pkt import csum, ip_header, pseudo


def frame(src, sport, dst, dport, proto="tcp", payload=b"x" * 32):
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    pnum = 6 if proto == "tcp" else 17
    if pnum == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0) + payload
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(s, d, pnum, len(l4)) + l4)
    off = 16 if pnum == 6 else 6
    l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
    etype = 0x0800 if s.version == 4 else 0x86DD
    eth = bytes.fromhex("020000000002") + bytes.fromhex("020000000003") + struct.pack("!H", etype)
    return eth + ip_header(s, d, pnum, len(l4), ident=1, frag=0) + l4


if __name__ == "__main__":
    out, src, sport, dst, dport = sys.argv[1:6]
    proto = sys.argv[6] if len(sys.argv) > 6 else "tcp"
    with open(out, "wb") as fh:
        fh.write(frame(src, int(sport), dst, int(dport), proto))
