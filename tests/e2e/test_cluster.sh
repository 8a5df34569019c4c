#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Scale-out, end to end (tools/cluster.sh): a router with BIRD exporting the VIPs' BGP routes from
# three LB hosts as kernel multipath routes (L4 hash policy, IPv4 and IPv6; xlb-rehash makes it
# hash the 5-tuple), each LB host with xlbd (native XDP on its link, shared configuration through
# a 3-member etcd) and its own BIRD with BFD, one session over IPv4 and one over IPv6.
# Checked: each VIP's route (IPv4 and IPv6) has 3 nexthops; 90 IPv4 and 60 IPv6 client flows from
# distinct source ports spread over the three hosts (new flows counted by each host's xlb stats);
# each flow's answering backend is the one `xlb lookup` names on every host, and exactly one host
# holds it in its flow table; the router's ECMP weights changed twice under 24 live uploads: flows
# move to lb1, then lb3, each keeps its backend on every host and completes; the first 90 ports
# again take the same hosts; the table digests agree; VIPs (IPv4, IPv6) whose backends all fail
# are withdrawn by every host (the router's routes are gone) and announced again by all when one
# recovers; one etcd member killed: the hosts go on through the others and a change lands on
# all; an LB host dies silently (the router's side of its link drops its frames, then kill -9 of
# its xlbd and BIRD) in the middle of 24 long-lived TCP connections: BFD takes its nexthops off
# within 3 s, every connection completes with all its bytes at the backend it had, and new flows
# go through the two others.
set -u
source "$(dirname "$0")/mntns.sh"	# the bpffs mounts below stay in this test's namespace
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
source tools/cluster.sh
TB_PREFIX=xlbcl$$
CL_ETCD_MEMBERS=3

VIP=$TB_VIP4
SVC="$VIP:80/tcp"
SVC2="$CL_VIP2:80/tcp"
SVC6="[$CL_VIP6]:80/tcp"

tb_test_start cluster "$XLB_BUILD"/{xlb-sink,xlb-decap,xlb-rehash,xlbd,xlb}
trap 'cl_cleanup; echo "1..$TB_T"' EXIT
for c in bird birdc etcd etcdctl; do
	if ! command -v $c >/dev/null; then
		tb_ok "cluster # SKIP no $c (Debian bird2, etcd-server, etcd-client; make deps)"
		exit 0
	fi
done
CL_XLBD=$XLB_BUILD/san/xlbd	# the sanitized daemon when it is built (make test builds it)
[ -x "$CL_XLBD" ] || CL_XLBD=$XLB_BUILD/xlbd
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# VIP: the three backends, http check; VIP2: be1, be2 with a tcp check on port 8081 (own listeners);
# VIP6 (2001:db8::10): be1, be2 by their IPv6 addresses (6in6), the same check on [be]:8081
VIPS="[{\"address\": \"$VIP\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
  \"check\": {\"type\": \"http\", \"path\": \"/\", \"port\": 80},
  \"backends\": [{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\"}, {\"address\": \"198.18.1.3\"}]},
 {\"address\": \"$CL_VIP2\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
  \"check\": {\"type\": \"tcp\", \"port\": 8081, \"interval_ms\": 200, \"timeout_ms\": 150},
  \"backends\": [{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\"}]},
 {\"address\": \"$CL_VIP6\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
  \"check\": {\"type\": \"tcp\", \"port\": 8081, \"interval_ms\": 200, \"timeout_ms\": 150},
  \"backends\": [{\"address\": \"2001:db8:1::1\"}, {\"address\": \"2001:db8:1::2\"}]}]"
declare -A L8081
l8081_start() {		# l8081_start I: a listener on be<I>:8081, IPv4 and IPv6 (VIP2's, VIP6's check)
	tb_bg be$1 "$TB_TMP/l8081-be$1.log" python3 -c 'import socket, signal
signal.alarm(300)
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 8081)); s.listen(64)
while True: s.accept()[0].close()'
	L8081[$1]=$TB_LAST_PID
	tb_wait 20 tb_exec be$1 sh -c "ss -Hltn 'sport = :8081' | grep -q ."
}

t_start=$(tb_now_ms)
if ! cl_start "$VIPS" || ! l8081_start 1 || ! l8081_start 2; then
	tb_not_ok "cluster test bed built (3 LB hosts, etcd, BIRD, backends)" "see the messages above"
	exit 1
fi
tb_ok "cluster test bed built: 3 LB hosts with xlbd and BIRD, 3 etcd members, 3 backends ($(($(tb_now_ms) - t_start)) ms)"
bfd=$(cl_rt_birdc show bfd sessions)
tb_check "the router runs BFD with the three LB hosts over IPv4 and IPv6 (6 sessions Up)" "$bfd" \
	bash -c '[ "$(grep -cE "(198.18.2.(5|9|13)|2001:db8:2:[123]::1) .*Up" <<<"$1")" = 6 ]' sh "$bfd"
tb_check "lb2 and lb3 took the cluster's three VIPs from etcd" "$(cl_x 2 vip list)" \
	tb_wait 10 bash -c 'for k in 2 3; do "$1" -s "$2/lb$k.sock" -j vip list | python3 -c "import json,sys
sys.exit(sorted(v[\"vip\"] for v in json.load(sys.stdin)[\"vips\"]) != sys.argv[1:])" "${@:3}" || exit 1; done' \
	sh "$XLB_BUILD/xlb" "$TB_TMP" "$SVC" "$SVC2" "$SVC6"
if ms=$(tb_wait_ms 20 cl_has_nexthops "$VIP" 3) && tb_wait_ms 10 cl_has_nexthops "$CL_VIP2" 3 >/dev/null &&
	tb_wait_ms 10 cl_has_nexthops "$CL_VIP6" 3 >/dev/null; then
	tb_ok "the router's kernel route to each VIP (IPv4 and IPv6) has 3 nexthops, one per LB host (ECMP)"
else
	tb_not_ok "the router's kernel route to each VIP has 3 nexthops" \
		"$(ip -n "$(tb_ns rt)" route show "$VIP/32" | tr '\n' ' ') $(ip -n "$(tb_ns rt)" -6 route | tr '\n' ' ') $(cl_rt_birdc show route | tr '\n' ' ')"
fi
tb_check "the router hashes L4 ports: fib_multipath_hash_policy=1 (IPv4 and IPv6)" "" \
	[ "$(tb_exec rt sysctl -n net.ipv4.fib_multipath_hash_policy net.ipv6.fib_multipath_hash_policy | paste -sd,)" = 1,1 ]

# ---- digests
digests() { cl_x "$1" -j status | python3 -c 'import json,sys
s = json.load(sys.stdin); print(sorted((d["vip"], d["digest"]) for d in s["digests"]))'; }
digests_agree() {	# digests_agree K...: the same non-empty digests on the hosts named
	local a b k
	a=$(digests "$1") || return 1
	[ -n "$a" ] && [ "$a" != "[]" ] || return 1
	for k in "${@:2}"; do
		b=$(digests "$k") || return 1
		[ "$a" = "$b" ] || return 1
	done
}
tb_check "the table digests are the same on the three hosts" "$(digests 1) | $(digests 2) | $(digests 3)" \
	tb_wait 10 digests_agree 1 2 3

# ---- flows from distinct source ports: spread over the hosts, one backend per flow everywhere
new_flows() {		# new_flows K SVC: lbK's new flows of SVC so far
	cl_x "$1" -j stats "$2" | python3 -c 'import json,sys
print(sum(v["new_flows"] for v in json.load(sys.stdin)["vips"]))'
}
SOCKS=$(cl_sock 1),$(cl_sock 2),$(cl_sock 3)
declare -A NF0
# flows_check TAG ADDR SVC CLIENT N SPORT0 MIN BE_PREFIX: N HTTP flows to ADDR from source ports
# SPORT0.. all answered; spread (each host's new flows of SVC in xlb stats >= MIN, summing to N);
# each flow's backend (BE_PREFIX + its number) the one every host's xlb lookup names, in exactly
# one host's flow table, that host's count the one its stats gave. Leaves $TB_TMP/look.TAG.
flows_check() {
	local tag=$1 addr=$2 svc=$3 client=$4 n=$5 sport0=$6 min=$7 prefix=$8 k d spread= total=0
	local low=$n answered same hosts
	for k in 1 2 3; do NF0[$k]=$(new_flows $k "$svc"); done
	tb_exec client python3 tools/cluster_flows.py short "$addr" "$n" "$sport0" >"$TB_TMP/short.$tag"
	answered=$(grep -cE ' be[123]$' "$TB_TMP/short.$tag")
	tb_check "$n HTTP flows to $addr from distinct source ports: all answered by a backend" \
		"$(grep -v ' be[123]$' "$TB_TMP/short.$tag" | head -3 | tr '\n' ' ')" [ "$answered" = "$n" ]
	sleep 1.2		# the stats' counters are read by the daemons
	for k in 1 2 3; do
		d=$(($(new_flows $k "$svc") - NF0[$k]))
		spread+=" lb$k=$d"
		total=$((total + d))
		[ "$d" -lt "$low" ] && low=$d
	done
	echo "# new flows of $svc per LB host (xlb stats):$spread"
	tb_check "ECMP spreads the flows to $addr: the hosts' new flows add up to $n, each host has >= $min ($spread)" \
		"" [ "$total" = "$n" -a "$low" -ge "$min" ]
	python3 tools/cluster_flows.py lookup "$SOCKS" "$svc" "$client" <"$TB_TMP/short.$tag" >"$TB_TMP/look.$tag"
	same=$(python3 - "$TB_TMP/look.$tag" "$prefix" <<'EOF'
import sys
bad = []
for line in open(sys.argv[1]):
    f = line.split()
    want = sys.argv[2] + f[1][2:]
    got = [x.rsplit(":", 1) for x in f[2:]]
    if len(got) != 3 or any(b != want for b, _ in got) or [s for _, s in got].count("flow_table") != 1:
        bad.append(line.strip())
print(len(bad), "; ".join(bad[:3]))
EOF
)
	tb_check "each flow's backend ($addr) is the one xlb lookup names on all 3 hosts; one host holds it in its flow table" \
		"$same" [ "${same%% *}" = 0 ]
	hosts=$(awk '{for (i = 3; i <= 5; i++) if ($i ~ /flow_table/) c[i - 2]++}
		END {printf "lb1=%d lb2=%d lb3=%d", c[1], c[2], c[3]}' "$TB_TMP/look.$tag")
	tb_check "flows to $addr held in each host's flow table = the new flows its xlb stats counted ($hosts)" \
		"$spread" [ "${hosts// /}" = "${spread// /}" ]
}
NFLOWS=90
flows_check 1 "$VIP" "$SVC" "$TB_CLIENT4" $NFLOWS 30000 10 198.18.1.
# IPv6: the VIP announced over the IPv6 sessions, the router's IPv6 multipath route
flows_check 6 "$CL_VIP6" "$SVC6" "$TB_CLIENT6" 60 33000 5 2001:db8:1::

# ---- ECMP weights move live flows between hosts: each keeps its backend; the hash is the 5-tuple's
NMOVE=24
rm -f "$TB_TMP/ready"
tb_bg client "$TB_TMP/move" python3 tools/cluster_flows.py long "$VIP" $NMOVE 42000 4 "$TB_TMP/ready"
MOVE=$TB_LAST_PID
tb_wait 10 test -e "$TB_TMP/ready" || tb_not_ok "the flows to move are open" "$(cat "$TB_TMP/move")"
move_look() { seq 42000 $((42000 + NMOVE - 1)) | sed 's/$/ -/' |
	python3 tools/cluster_flows.py lookup "$SOCKS" "$SVC" "$TB_CLIENT4" >"$TB_TMP/move.$1"; }
move_look 0
cl_weights "$VIP" 10 1 1 && sleep 0.4 && move_look 1	# lb1 takes most flows
cl_weights "$VIP" 1 1 10 && sleep 0.4 && move_look 2	# then lb3
w=$(ip -n "$(tb_ns rt)" route show "$VIP/32" | grep -c "weight 10")
cl_weights "$VIP" 1 1 1
wait "$MOVE"
res=$(python3 - "$TB_TMP"/move.{0,1,2} "$TB_TMP/move" <<'EOF'
import sys
def load(path):	# sport -> ([backend per host], [hosts holding it in their flow table])
    out = {}
    for line in open(path):
        f = line.split()
        got = [x.split(":") for x in f[2:]]
        out[f[0]] = ([b for b, _ in got], [i + 1 for i, (_, s) in enumerate(got) if s == "flow_table"])
    return out
looks = [load(p) for p in sys.argv[1:4]]
bad, moved = [], [0, 0]
for sport, (bes, held) in looks[0].items():
    for n, look in enumerate(looks):
        b, h = look.get(sport, ([], []))
        if len(b) != 3 or len(set(b)) != 1 or b[0] != bes[0]:
            bad.append("%s look%d %s" % (sport, n, b))
    if len(held) != 1:
        bad.append("%s held by %s" % (sport, held))
    moved[0] += 1 in looks[1][sport][1] and held != [1]
    moved[1] += 3 in looks[2][sport][1] and held != [3] and 3 not in looks[1][sport][1]
n = 0
for line in open(sys.argv[4]):
    f = line.split()
    if len(f) != 4:
        continue
    n += 1
    if f[1] == "FAIL" or f[2] != f[3] or "198.18.1." + f[1][2:] != looks[0][f[0]][0][0]:
        bad.append(line.strip())
print(n, len(bad), moved[0], moved[1], "; ".join(bad[:3]))
EOF
)
read -r nmove nbad m1 m3 _ <<<"$res"
echo "# ECMP weights: $m1 of $NMOVE live flows moved to lb1 (10:1:1), then $m3 more to lb3 (1:1:10)"
tb_check "the router's weights changed (10:1:1, then 1:1:10; a nexthop of weight 10 seen)" "$w" [ "$w" = 1 ]
tb_check "changing the router's ECMP weights moved live flows to lb1, then to lb3 ($m1, $m3 of $NMOVE)" \
	"$res" [ "$m1" -ge 3 -a "$m3" -ge 3 ]
tb_check "$NMOVE moved flows complete with every byte at the backend they had; all 3 hosts name it at each step" \
	"$res $(head -3 "$TB_TMP/move" | tr '\n' ' ')" [ "$nmove" = $NMOVE -a "$nbad" = 0 ]
# the same 90 source ports again, the weights as they were: the same host and backend per flow
tb_exec client python3 tools/cluster_flows.py short "$VIP" $NFLOWS 30000 >"$TB_TMP/short1b"
python3 tools/cluster_flows.py lookup "$SOCKS" "$SVC" "$TB_CLIENT4" <"$TB_TMP/short1b" >"$TB_TMP/look1b"
tb_check "the 90 flows again from the same ports: the same backends, each on the host it took before (one flow table each)" \
	"$(diff "$TB_TMP/look.1" "$TB_TMP/look1b" | head -4 | tr '\n' ' ')" cmp -s "$TB_TMP/look.1" "$TB_TMP/look1b"

# ---- VIP2: every backend fails -> withdrawn by every host; one back -> announced by all
holds() {	# holds K: lbK announces VIP2 and VIP6 (both on its xlb0)
	local a
	a=$(tb_exec "lb$1" ip -br addr show dev xlb0 2>/dev/null)
	grep -qw "$CL_VIP2/32" <<<"$a" && grep -qw "$CL_VIP6/128" <<<"$a"
}
holds_none() { ! tb_exec "lb$1" ip -br addr show dev xlb0 2>/dev/null | grep -qwE "$CL_VIP2/32|$CL_VIP6/128"; }
none_holds() { holds_none 1 && holds_none 2 && holds_none 3; }
all_hold() { holds 1 && holds 2 && holds 3; }
tb_check "VIP2 and VIP6 are on every host's xlb0 while their backends are up" "" all_hold
tb_stop "${L8081[1]}"
tb_stop "${L8081[2]}"
if ms=$(tb_wait_ms 15 cl_has_nexthops "$CL_VIP2" 0) && tb_wait 5 cl_has_nexthops "$CL_VIP6" 0 &&
	none_holds; then
	tb_ok "VIP2's and VIP6's backends all down: no host announces either, the router has no route to them ($ms ms)"
else
	tb_not_ok "VIP2's backends all down: withdrawn on every host" \
		"$(ip -n "$(tb_ns rt)" route show "$CL_VIP2/32") $(cl_x 1 backend list "$SVC2" | tr '\n' ' ')"
fi
tb_check "VIP2 withdrawn: the other VIP keeps its 3 nexthops" "" cl_has_nexthops "$VIP" 3
l8081_start 2
if ms=$(tb_wait_ms 15 cl_has_nexthops "$CL_VIP2" 3) && tb_wait 5 cl_has_nexthops "$CL_VIP6" 3 &&
	all_hold; then
	tb_ok "be2's listener is back: every host announces VIP2 and VIP6 again, 3 nexthops each ($ms ms)"
else
	tb_not_ok "be2 back: VIP2 announced again by every host" "$(ip -n "$(tb_ns rt)" route show "$CL_VIP2/32")"
fi

# ---- etcd: one member of three killed: every host carries on through another, changes land
endpoint() { cl_x "$1" -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["etcd"]["endpoint"])'; }
eps_before="$(endpoint 1) $(endpoint 2) $(endpoint 3)"
kill -9 "${CL_ETCD_PID[1]}"
wait "${CL_ETCD_PID[1]}" 2>/dev/null
on_others() { for k in 1 2 3; do cl_connected $k && [ "$(endpoint $k)" != http://198.18.3.1:2379 ] || return 1; done; }
tb_check "etcd member e1 killed: the three hosts are connected through e2 or e3 (were: $eps_before)" \
	"$(endpoint 1) $(endpoint 2) $(endpoint 3)" tb_wait 20 on_others
weight_is() { cl_x "$1" -j backend list "$SVC" | python3 -c 'import json,sys
sys.exit(not any(b["address"] == sys.argv[1] and b["weight"] == int(sys.argv[2])
                 for b in json.load(sys.stdin)["backends"]))' "$2" "$3"; }
out=$(cl_x 3 backend set "$SVC" 198.18.1.3 weight 100 2>&1 && cl_x 3 backend set "$SVC" 198.18.1.3 weight 90 2>&1)
both_90() { weight_is 1 198.18.1.3 90 && weight_is 2 198.18.1.3 90; }
tb_check "with two members left a change through lb3 is applied on lb1 and lb2" "$out" \
	tb_wait 10 both_90
tb_check "the digests agree after the change" "" tb_wait 10 digests_agree 1 2 3

# ---- an LB host dies in the middle of long-lived connections
NLONG=24
rm -f "$TB_TMP/ready"
tb_bg client "$TB_TMP/long" python3 tools/cluster_flows.py long "$VIP" $NLONG 40000 8 "$TB_TMP/ready"
LONG=$TB_LAST_PID
tb_wait 10 test -e "$TB_TMP/ready" || tb_not_ok "the long-lived connections are open" "$(cat "$TB_TMP/long")"
seq 40000 $((40000 + NLONG - 1)) | sed 's/$/ -/' |
	python3 tools/cluster_flows.py lookup "$SOCKS" "$SVC" "$TB_CLIENT4" >"$TB_TMP/look2"
on_lb2=$(awk '$4 ~ /flow_table/' "$TB_TMP/look2" | wc -l)
for k in 1 3; do NF0[$k]=$(new_flows $k "$SVC"); done
cl_kill 2 || tb_not_ok "lb2's frames dropped at the router" "$(cat "$TB_TMP/dead-lb2.sink")"
if tb_wait_ms 10 cl_has_nexthops "$VIP" 2 >/dev/null; then
	ms=$(($(tb_now_ms) - CL_KILL_MS))
	tb_ok "lb2 dies silently (its frames lost, xlbd and BIRD killed): BFD takes its nexthop off in $ms ms (bound 3000)"
	[ "$ms" -le 3000 ] || tb_not_ok "BFD route-around within 3 s" "$ms ms"
else
	tb_not_ok "lb2 dead: the router's route loses its nexthop" "$(ip -n "$(tb_ns rt)" route show "$VIP/32")"
fi
why=$(cl_rt_birdc show protocols all lb2 | grep -i "error")
tb_check "the router's BIRD says why lb2's session went: the BFD session is down" "$why" \
	grep -q "BFD session down" <<<"$why"
echo "# lb host failure to route-around: ${ms:-none} ms; $on_lb2 of $NLONG long-lived connections were on lb2"
two_live() { cl_has_nexthops "$CL_VIP2" 2 && cl_has_nexthops "$CL_VIP6" 2; }
tb_check "the router's routes to VIP2 and VIP6 have the two live hosts as nexthops (BFD over IPv6 too)" "" \
	tb_wait 5 two_live
wait "$LONG"
res=$(python3 - "$TB_TMP/look2" "$TB_TMP/long" <<'EOF'
import sys
before = {l.split()[0]: l.split()[2].split(":")[0] for l in open(sys.argv[1])}
bad, n = [], 0
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) != 4:
        continue
    n += 1
    if f[1] == "FAIL" or f[2] != f[3] or "198.18.1." + f[1][2:] != before.get(f[0]):
        bad.append(line.strip())
print(n, len(bad), "; ".join(bad[:3]))
EOF
)
read -r nres nbad _ <<<"$res"
tb_check "$NLONG long-lived TCP connections ($on_lb2 through lb2) complete, every byte at the backend they had" \
	"$res $(head -3 "$TB_TMP/long" | tr '\n' ' ')" [ "$nres" = $NLONG -a "$nbad" = 0 ]
tb_check "some long-lived connections went through lb2 (so ECMP moved them)" "$on_lb2" [ "$on_lb2" -ge 1 ]
tb_exec client python3 tools/cluster_flows.py short "$VIP" 30 31000 >"$TB_TMP/short2"
sleep 1.2
a=$(grep -cE ' be[123]$' "$TB_TMP/short2")
d=$(($(new_flows 1 "$SVC") - NF0[1] + $(new_flows 3 "$SVC") - NF0[3]))
tb_check "lb2 dead: 30 new flows answered, lb1 and lb3 carried them all ($d new flows)" \
	"$(grep -v ' be[123]$' "$TB_TMP/short2" | head -3 | tr '\n' ' ')" [ "$a" = 30 -a "$d" -ge 30 ]
tb_check "lb1 and lb3 still agree on the digests" "" tb_wait 10 digests_agree 1 3

for k in 1 3; do tb_stop "${CL_XPID[$k]}"; done
bad=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TB_TMP"/lb*.log.* 2>/dev/null)
tb_check "no sanitizer report in the xlbd logs" "$bad" [ -z "$bad" ]
echo "# cluster test: $(($(tb_now_ms) - t_start)) ms"
exit 0
