# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Packet senders for the end-to-end tests: bounded bursts of hand-built frames.

  smoke_pkt.py frames IFACE DST_MAC SRC DST PROTO DPORT COUNT
      COUNT Ethernet frames out of IFACE (AF_PACKET): TCP SYNs or UDP datagrams from SRC to
      DST:DPORT, source port varying from 10000 up, so that every frame is a new flow.
  smoke_pkt.py encap MODE OUTER_DST INNER_SRC INNER_DST COUNT [GUE_PORT]
      COUNT ICMP echo requests INNER_SRC -> INNER_DST wrapped in an outer header to OUTER_DST,
      MODE ipip (IPv4/IPv6 in IP, by the kernel's raw sockets) or gue (in UDP to GUE_PORT).

Addresses may be IPv4 or IPv6 (both of a pair in one family, except the outer of encap).
"""
import ipaddress
import socket
import struct
import sys
import time

ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo(src, dst, proto, length):
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def ip_header(src, dst, proto, payload_len, ident=0, frag=0x4000):
    """An IPv4 (ident and fragment field @frag, DF by default) or IPv6 header, hop limit 64."""
    if src.version == 4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xFFFF, frag,
                        64, proto, 0, src.packed, dst.packed)
        return h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, proto, 64, src.packed, dst.packed)


def l4(src, dst, proto, sport, dport, payload=b""):
    if proto == 6:
        h = struct.pack("!HHIIBBHHH", sport, dport, sport * 7919, 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    seg = h + payload
    c = csum(pseudo(src, dst, proto, len(seg)) + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    off = 16 if proto == 6 else 6
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def echo_request(src, dst, ident, seq):
    payload = b"xlb-decap-test!!"
    if src.version == 4:
        h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
        icmp = h[:2] + struct.pack("!H", csum(h)) + h[4:]
        return ip_header(src, dst, 1, len(icmp), seq) + icmp
    h = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    icmp = h[:2] + struct.pack("!H", csum(pseudo(src, dst, 58, len(h)) + h)) + h[4:]
    return ip_header(src, dst, 58, len(icmp)) + icmp


def frames(ifname, dst_mac, src, dst, proto, dport, count):
    src, dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    proto = {"tcp": 6, "udp": 17}[proto]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    src_mac = s.getsockname()[4]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + src_mac + struct.pack(
        "!H", ETH_P_IP if src.version == 4 else ETH_P_IPV6)
    deadline = time.monotonic() + 10
    for i in range(count):
        seg = l4(src, dst, proto, 10000 + i, dport, b"" if proto == 6 else b"xlb smoke")
        s.send(eth + ip_header(src, dst, proto, len(seg), i) + seg)
        if i % 50 == 49:
            time.sleep(0.005)	# stay well below any queue limit of the veth
        if time.monotonic() > deadline:
            break


def encap(mode, outer_dst, inner_src, inner_dst, count, gue_port=6080):
    outer = ipaddress.ip_address(outer_dst)
    isrc, idst = ipaddress.ip_address(inner_src), ipaddress.ip_address(inner_dst)
    fam = socket.AF_INET if outer.version == 4 else socket.AF_INET6
    if mode == "ipip":
        s = socket.socket(fam, socket.SOCK_RAW, 4 if isrc.version == 4 else 41)
        port = 0
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        port = gue_port
    for i in range(count):
        s.sendto(echo_request(isrc, idst, 0x4242, i), (str(outer), port))
        time.sleep(0.002)


def main(argv):
    if len(argv) >= 9 and argv[1] == "frames":
        frames(argv[2], argv[3], argv[4], argv[5], argv[6], int(argv[7]), int(argv[8]))
    elif len(argv) >= 7 and argv[1] == "encap":
        encap(argv[2], argv[3], argv[4], argv[5], int(argv[6]),
              int(argv[7]) if len(argv) > 7 else 6080)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
