#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Smoke test of a real attachment: xlb natively on a veth balances frames sent by its peer, which
# receives them back encapsulated, spread over all backends; the LB host's own traffic still works.
# First, the fixtures of the backend decapsulation program (tests/e2e/smoke_decap.c).
#
#	peer eth0 (198.18.0.1/30, 2001:db8::1/126) ---- eth0 lb (198.18.0.2/30, 2001:db8::2/126)
#	  sink --pass (counts what comes back)            smoke_lb: xlb attached natively,
#	  raw frames to the VIPs -->                      VIPs 198.18.0.10:80/tcp, [2001:db8::10]:53/udp
#	  <-- encapsulated frames, next hop = peer        backends 198.18.1.1-4, 2001:db8:1::1-4
#
# The backends do not exist: the peer is the next hop and counts the frames by outer destination
# (the backend), outer protocol (IPIP / IPv6-in-IPv6, then GUE) and inner destination (the VIP).
# The sink passes frames on, so the peer's TCP connection to the LB host's own address works.
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbsmoke$$

N=400				# frames per family
NBE=4
VIP4=198.18.0.10 VIP6=2001:db8::10
HELPER=$XLB_BUILD/tests/e2e/smoke_lb
PKT=tests/e2e/smoke_pkt.py

tb_test_start smoke "$HELPER" "$XLB_BUILD/xlb-sink" "$XLB_BUILD/tests/e2e/smoke_decap"

# The decapsulation program's fixtures first (BPF_PROG_TEST_RUN, no namespace needed).
out=$("$XLB_BUILD/tests/e2e/smoke_decap" 2>&1)
rc=$?
nfail=0
while IFS= read -r line; do
	case $line in
	"ok - "*) tb_ok "${line#ok - }" ;;
	"not ok - "*)
		line=${line#not ok - }
		tb_not_ok "${line%% # *}" "${line#* # }"
		nfail=$((nfail + 1))
		;;
	esac
done <<<"$out"
[ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ] && tb_not_ok "decap fixtures" "exit status $rc: $out"

tb_tmp
tb_ns_add peer && tb_ns_add lb && tb_link peer eth0 lb eth0 || { tb_not_ok "namespaces"; exit 1; }
tb_addr peer eth0 198.18.0.1/30 2001:db8::1/126
tb_addr lb eth0 198.18.0.2/30 2001:db8::2/126
PEER_MAC=$(tb_mac peer eth0)
LB_MAC=$(tb_mac lb eth0)

# The sink on the next hop; it also makes the peer's veth receive XDP_TX frames.
tb_bg peer "$TB_TMP/sink.json" "$XLB_BUILD/xlb-sink" --pass -j -t 60 eth0
SINK=$TB_LAST_PID
tb_wait 20 grep -q attached "$TB_TMP/sink.json" || { tb_not_ok "sink attached" "$(cat "$TB_TMP/sink.json")"; exit 1; }

args=(--nexthop "$PEER_MAC" --vip "$VIP4:80/tcp" --vip "[$VIP6]:53/udp"
      --encap-src4 198.18.0.2 --encap-src6 2001:db8::2 --seconds 60)
for i in $(seq $NBE); do args+=(--backend "198.18.1.$i" --backend "2001:db8:1::$i"); done
tb_bg lb "$TB_TMP/lb.out" "$HELPER" "${args[@]}" eth0
LB=$TB_LAST_PID
if tb_wait 10 grep -q ready "$TB_TMP/lb.out"; then
	tb_ok "xlb programmed and attached through libxlb"
else
	tb_not_ok "xlb programmed and attached through libxlb" "$(tr '\n' ' ' <"$TB_TMP/lb.out")"
	exit 1
fi
tb_check "attached in native (driver) mode" "no native XDP program on lb:eth0" \
	sh -c "ip -n $(tb_ns lb) -d link show dev eth0 | grep -q 'prog/xdp id'"

# Non-VIP traffic to the LB host itself while attached: ping and a TCP exchange, both families.
ping2() { tb_exec peer ping -c 2 -i 0.2 -W 2 -q "$1" >/dev/null; }
tb_check "ping lb host (IPv4) while attached" "no reply" ping2 198.18.0.2
tb_check "ping lb host (IPv6) while attached" "no reply" ping2 2001:db8::2
cat >"$TB_TMP/echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8080)); s.listen(4); s.settimeout(15)
for _ in range(2):
    c, _ = s.accept()
    c.settimeout(5)
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
    c.sendall(b"lb-host:" + str(n).encode())
    c.close()
EOF
tb_bg lb "$TB_TMP/echo.log" python3 "$TB_TMP/echo.py"
tb_wait 20 tb_exec lb sh -c "ss -Hltn 'sport = :8080' | grep -q ."
cat >"$TB_TMP/client.py" <<'EOF'
import socket, sys
c = socket.create_connection((sys.argv[1], 8080), timeout=5)
c.sendall(b"x" * 20000)		# several full-sized segments
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
EOF
r4=$(tb_exec peer python3 "$TB_TMP/client.py" 198.18.0.2 2>&1)
if [ "$r4" = "lb-host:20000" ]; then tb_ok "TCP to lb host (IPv4) while attached"
else tb_not_ok "TCP to lb host (IPv4) while attached" "got '$r4'"; fi
r6=$(tb_exec peer python3 "$TB_TMP/client.py" 2001:db8::2 2>&1)
if [ "$r6" = "lb-host:20000" ]; then tb_ok "TCP to lb host (IPv6) while attached"
else tb_not_ok "TCP to lb host (IPv6) while attached" "got '$(echo $r6 | tail -c 200)'"; fi

# VIP traffic: N new TCP flows to the IPv4 VIP, N new UDP flows to the IPv6 VIP.
send_frames() {			# send_frames N
	tb_exec peer python3 "$PKT" frames eth0 "$LB_MAC" 198.18.0.1 "$VIP4" tcp 80 "$1"
	tb_exec peer python3 "$PKT" frames eth0 "$LB_MAC" 2001:db8::1 "$VIP6" udp 53 "$1"
	sleep 0.5
}
send_frames "$N"

tb_stop "$SINK"
tb_stop "$LB"
sink_json=$(grep '^{' "$TB_TMP/sink.json")
lb_json=$(grep '^{' "$TB_TMP/lb.out")
[ -n "$sink_json" ] || tb_not_ok "sink counts" "no output"
[ -n "$lb_json" ] || tb_not_ok "xlb counters" "no output"

# Verdicts from the counts, one TAP line each (python prints "ok|not ok<TAB>name<TAB>why").
results=$(SINK="$sink_json" LB="$lb_json" N=$N NBE=$NBE python3 - <<'EOF'
import json, os
sink, lb = json.loads(os.environ["SINK"]), json.loads(os.environ["LB"])
n, nbe = int(os.environ["N"]), int(os.environ["NBE"])
out = []
def check(name, cond, why=""):
    out.append("%s\t%s\t%s" % ("ok" if cond else "not ok", name, "" if cond else why))
for fam, proto, pname, prefix, vip, l4, port in (
        (4, 4, "IPIP", "198.18.1.", "198.18.0.10", 6, 80),
        (6, 41, "IPv6-in-IPv6", "2001:db8:1::", "2001:db8::10", 17, 53)):
    per = {r["dst"]: r["packets"] for r in sink["outer"]
           if r["family"] == fam and r["proto"] == proto and r["dst"].startswith(prefix)}
    total = sum(per.values())
    check("%d frames to the IPv%d VIP arrive %s-encapsulated at the next hop" % (n, fam, pname),
          total == n, "got %d: %s" % (total, per))
    want = ["%s%d" % (prefix, i) for i in range(1, nbe + 1)]
    check("IPv%d flows spread over all %d backends (each >= %d)" % (fam, nbe, n // nbe // 3),
          all(per.get(a, 0) >= n // nbe // 3 for a in want), str(per))
    inner = [r for r in sink["inner"] if r["dst"] == vip and r["proto"] == l4 and r["dport"] == port]
    check("inner IPv%d packets intact: destination %s port %d" % (fam, vip, port),
          sum(r["packets"] for r in inner) == n, str(sink["inner"]))
    v = [x for x in lb["vips"] if x["vip"].strip("[").startswith(vip)]
    cnt = {b["address"]: b["packets"] for b in v[0]["backends"]} if v else {}
    check("IPv%d datapath per-backend counters equal what the next hop received" % fam,
          cnt == per, "datapath %s, sink %s" % (cnt, per))
check("datapath counted %d forwarded (tx) packets" % (2 * n), lb["reasons"].get("tx") == 2 * n,
      str(lb["reasons"]))
check("the LB host's own traffic counted as pass_not_vip", lb["reasons"].get("pass_not_vip", 0) > 0,
      str(lb["reasons"]))
print("\n".join(out))
EOF
)
tb_verdicts "count verdicts" "$results"

# ---- GUE: the same VIPs in GUE mode, outer IP + UDP to port 6080, inner packet right after UDP.
G=200
tb_bg peer "$TB_TMP/sink-gue.json" "$XLB_BUILD/xlb-sink" --pass -j -t 60 eth0
SINK=$TB_LAST_PID
tb_wait 20 grep -q attached "$TB_TMP/sink-gue.json"
tb_bg lb "$TB_TMP/lb-gue.out" "$HELPER" "${args[@]}" --mode gue eth0
LB=$TB_LAST_PID
if tb_wait 10 grep -q ready "$TB_TMP/lb-gue.out"; then
	send_frames "$G"
else
	tb_not_ok "GUE: xlb programmed and attached" "$(tr '\n' ' ' <"$TB_TMP/lb-gue.out")"
fi
tb_stop "$SINK"
tb_stop "$LB"
results=$(SINK="$(grep '^{' "$TB_TMP/sink-gue.json")" N=$G NBE=$NBE python3 - <<'EOF'
import json, os
sink, n, nbe = json.loads(os.environ["SINK"]), int(os.environ["N"]), int(os.environ["NBE"])
def check(name, cond, why):
    print("%s\t%s\t%s" % ("ok" if cond else "not ok", name, "" if cond else why))
for fam, prefix, vip, l4, port in ((4, "198.18.1.", "198.18.0.10", 6, 80),
                                   (6, "2001:db8:1::", "2001:db8::10", 17, 53)):
    per = {r["dst"]: r["packets"] for r in sink["outer"] if r["family"] == fam and
           r["proto"] == 17 and r["dport"] == 6080 and r["dst"].startswith(prefix)}
    check("GUE: %d frames to the IPv%d VIP arrive in UDP to port 6080, on all %d backends"
          % (n, fam, nbe), sum(per.values()) == n and len(per) == nbe, str(per))
    inner = sum(r["packets"] for r in sink["inner"]
                if r["dst"] == vip and r["proto"] == l4 and r["dport"] == port)
    check("GUE: inner IPv%d packets intact after the UDP header" % fam, inner == n,
          str(sink["inner"]))
EOF
)
tb_verdicts "GUE verdicts" "$results"

[ "$TB_FAILED" -eq 0 ]
