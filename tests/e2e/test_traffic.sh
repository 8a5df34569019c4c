#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Real TCP through the balancer in the namespace test bed, managed by xlbd and the xlb CLI:
# backend decapsulation, spread over backends for IPIP and IPv6-in-IPv6, GUE over both families and
# the cross-family modes, full-sized segments, disabling a backend, counters through `xlb -j`.
#
# Topology: tools/testbed.sh (tb_build 3): client -- rt -- lb (xlbd, XDP on lb:eth0), rt's bridge
# with be1..be3 (xlb-decap on eth0, VIPs on lo, an HTTP server answering its own name). Replies
# go from the backends straight to the client (direct server return).
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbtraffic$$

NREQ=30			# HTTP requests per round
NINJ=20			# encapsulated probes per decapsulation variant
VIP4=$TB_VIP4 VIP6=$TB_VIP6		# the VIPs tb_build puts on the backends
SVC4="$VIP4:80/tcp" SVC6="[$VIP6]:80/tcp"
PKT=tests/e2e/smoke_pkt.py

tb_test_start traffic "$XLB_BUILD"/{xlb-sink,xlb-decap,xlbd,xlb}

# More VIPs for the other forwarding modes: GUE over both families, and across families.
GUE4=198.18.0.11 GUE6=2001:db8::11 X46=198.18.0.12 X64=2001:db8::12
if ! tb_build 3 || ! tb_vip_add $GUE4 $GUE6 $X46 $X64 || ! tb_decap_attach || ! tb_http_servers 80; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi

# ---- backend decapsulation, without the balancer: rt sends encapsulated echo requests from the
# client's address to the VIP; the backend must strip the outer header and answer the client.
tb_bg client "$TB_TMP/client-sink.json" "$XLB_BUILD/xlb-sink" --pass -j -t 30 eth0
sink=$TB_LAST_PID
tb_wait 20 grep -q attached "$TB_TMP/client-sink.json"
inject() { tb_exec rt python3 "$PKT" encap "$@" "$NINJ"; }
inject ipip 198.18.1.1 198.18.0.1 "$VIP4"
inject ipip 2001:db8:1::1 2001:db8::1 "$VIP6"
inject ipip 2001:db8:1::1 198.18.0.1 "$VIP4"
inject ipip 198.18.1.1 2001:db8::1 "$VIP6"
inject gue 198.18.1.2 198.18.0.1 "$VIP4"
inject gue 2001:db8:1::2 2001:db8::1 "$VIP6"
sleep 0.3
tb_stop "$sink"
d1=$(tb_exec be1 "$XLB_BUILD/xlb-decap" --stats -j eth0)
d2=$(tb_exec be2 "$XLB_BUILD/xlb-decap" --stats -j eth0)
results=$(D1="$d1" D2="$d2" SINK="$(grep '^{' "$TB_TMP/client-sink.json")" N=$NINJ python3 - <<'EOF'
import json, os
n = int(os.environ["N"])
d1, d2, sink = json.loads(os.environ["D1"]), json.loads(os.environ["D2"]), json.loads(os.environ["SINK"])
out = []
for d, key, what in ((d1, "decap_4in4", "IPv4 in IPv4"), (d1, "decap_6in6", "IPv6 in IPv6"),
                     (d1, "decap_4in6", "IPv4 in IPv6"), (d1, "decap_6in4", "IPv6 in IPv4"),
                     (d2, "decap_gue4", "GUE over IPv4"), (d2, "decap_gue6", "GUE over IPv6")):
    got = d[key]["packets"]
    out.append(("ok" if got == n else "not ok", "backend decap: %s (%d probes)" % (what, n),
                "%s = %d" % (key, got)))
replies = {(r["dst"], r["proto"]): r["packets"] for r in sink["outer"]}
r4, r6 = replies.get(("198.18.0.1", 1), 0), replies.get(("2001:db8::1", 58), 0)
out.append(("ok" if r4 >= 3 * n and r6 >= 3 * n else "not ok",
            "decapsulated probes answered by the backends straight to the client",
            "echo replies at the client: IPv4 %d, IPv6 %d, want %d each" % (r4, r6, 3 * n)))
out.append(("ok" if d1["pass_plain"]["packets"] > 0 and d1["pass_malformed"]["packets"] == 0
            else "not ok", "backend's own traffic passed untouched by decap", str(d1)))
for v, name, why in out:
    print("%s\t%s\t%s" % (v, name, why))
EOF
)
tb_verdicts "decapsulation verdicts" "$results"

# ---- xlbd on lb:eth0, with its own bpffs, socket and config in the temporary folder.
cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4", "encap_source6": "$TB_LB6",
 "vips": [
  {"address": "$VIP4", "port": 80, "proto": "tcp", "backends": [
   {"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}, {"address": "${TB_BE4[3]}"}]},
  {"address": "$VIP6", "port": 80, "proto": "tcp", "backends": [
   {"address": "${TB_BE6[1]}"}, {"address": "${TB_BE6[2]}"}, {"address": "${TB_BE6[3]}"}]},
  {"address": "$GUE4", "port": 80, "proto": "tcp", "mode": "gue", "backends": [
   {"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}, {"address": "${TB_BE4[3]}"}]},
  {"address": "$GUE6", "port": 80, "proto": "tcp", "mode": "gue", "backends": [
   {"address": "${TB_BE6[1]}"}, {"address": "${TB_BE6[2]}"}, {"address": "${TB_BE6[3]}"}]},
  {"address": "$X46", "port": 80, "proto": "tcp", "backends": [
   {"address": "${TB_BE6[1]}"}, {"address": "${TB_BE6[2]}"}, {"address": "${TB_BE6[3]}"}]},
  {"address": "$X64", "port": 80, "proto": "tcp", "backends": [
   {"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}, {"address": "${TB_BE4[3]}"}]}]}
EOF
xlb() { "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" "$@"; }
if tb_xlbd_start 120; then
	tb_ok "xlbd started on lb:$TB_LB_IF and answers xlb status"
else
	tb_not_ok "xlbd started on lb:$TB_LB_IF and answers xlb status" "$(tail -3 "$TB_TMP/xlbd.log" | tr '\n' ' ')"
	exit 1
fi

# spread NAME ANSWERS EXPECTED... : every request answered, by exactly the EXPECTED backends
spread() {
	local name=$1 answers=$2 be tally
	shift 2
	tally=$(sort <<<"$answers" | uniq -c | awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1}')
	if grep -q FAIL <<<"$answers"; then
		tb_not_ok "$name" "failed requests: $tally"
		return
	fi
	for be in "$@"; do
		grep -qx "$be" <<<"$answers" || { tb_not_ok "$name" "$be never answered: $tally"; return; }
	done
	if [ "$(sort -u <<<"$answers" | wc -l)" -ne $# ]; then
		tb_not_ok "$name" "unexpected backend: $tally"
		return
	fi
	tb_ok "$name ($tally)"
}

a4=$(tb_requests "http://$VIP4/" "$NREQ" "$TB_TMP/ports4")
spread "$NREQ HTTP requests to $SVC4 spread over be1 be2 be3" "$a4" be1 be2 be3
a6=$(tb_requests "http://[$VIP6]/" "$NREQ" "$TB_TMP/ports6")
spread "$NREQ HTTP requests to $SVC6 spread over be1 be2 be3" "$a6" be1 be2 be3

# The other modes, each checked by the decapsulation counters of the backends.
decap_sum() {			# decap_sum COUNTER: sum over the backends
	local i n=0 v
	for i in 1 2 3; do
		v=$(tb_exec "be$i" "$XLB_BUILD/xlb-decap" --stats -j eth0 |
			python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["packets"])' "$1")
		n=$((n + ${v:-0}))
	done
	echo "$n"
}
for m in "$GUE4 gue4 GUE/IPv4" "[$GUE6] gue6 GUE/IPv6" "$X46 4in6 IPv4-in-IPv6" "[$X64] 6in4 IPv6-in-IPv4"; do
	set -- $m
	c0=$(decap_sum "decap_$2")
	a=$(tb_requests "http://$1/" "$NREQ")
	c1=$(decap_sum "decap_$2")
	spread "$NREQ HTTP requests to $1:80/tcp ($3) spread over be1 be2 be3" "$a" be1 be2 be3
	tb_check "... and the backends decapsulated them as $3" "decap_$2 went $c0 -> $c1" \
		test "$c1" -ge $((c0 + 3 * NREQ))
done

# Full-sized segments through the encapsulation (client MTU 1400, see tools/testbed.sh).
head -c 300000 /dev/urandom >"$TB_TMP/body"
p4=$(tb_exec client curl -s -m 10 -w "%{stderr}%{local_port}\n" --data-binary @"$TB_TMP/body" \
	"http://$VIP4/" 2>>"$TB_TMP/ports4")
tb_check "300 kB POST to $SVC4 arrives whole" "got '$p4'" grep -qE '^be[1-3] 300000$' <<<"$p4"
p6=$(tb_exec client curl -s -m 10 -w "%{stderr}%{local_port}\n" --data-binary @"$TB_TMP/body" \
	"http://[$VIP6]/" 2>>"$TB_TMP/ports6")
tb_check "300 kB POST to $SVC6 arrives whole" "got '$p6'" grep -qE '^be[1-3] 300000$' <<<"$p6"

# ---- disable be2 for the IPv4 VIP: new connections avoid it.
tb_check "xlb backend set $SVC4 ${TB_BE4[2]} disable" "the command failed" \
	xlb backend set "$SVC4" "${TB_BE4[2]}" disable
bl=$(xlb -j backend list "$SVC4")
tb_check "xlb -j backend list: ${TB_BE4[2]} disabled, no Maglev slots" "$bl" \
	python3 -c 'import json,sys; b=[x for x in json.loads(sys.argv[1])["backends"] if x["address"]==sys.argv[2]][0]; sys.exit(not (b["state"]=="disabled" and b["slots"]==0))' "$bl" "${TB_BE4[2]}"
s_before=$(xlb -j stats "$SVC4")
a4b=$(tb_requests "http://$VIP4/" "$NREQ" "$TB_TMP/ports4")
spread "$NREQ new requests to $SVC4 avoid the disabled be2" "$a4b" be1 be3
a6b=$(tb_requests "http://[$VIP6]/" "$NREQ" "$TB_TMP/ports6")
spread "the IPv6 VIP keeps all three backends" "$a6b" be1 be2 be3

# ---- counters through the CLI
s_after=$(xlb -j stats)
results=$(BEFORE="$s_before" AFTER="$s_after" N=$NREQ P4="$TB_TMP/ports4" P6="$TB_TMP/ports6" \
	python3 - <<'EOF'
import json, os
n = int(os.environ["N"])
before, after = json.loads(os.environ["BEFORE"]), json.loads(os.environ["AFTER"])
# The client's source ports of its 2n + 1 connections to each VIP: the distinct ones are its
# distinct flows (a port the kernel gave twice is one flow to the balancer, recorded once).
ports = {f: open(os.environ[f]).read().split() for f in ("P4", "P6")}
def vip(s, name):
    return [v for v in s["vips"] if v["vip"] == name][0]
def be(v, addr):
    return [b for b in v["backends"] if b["address"] == addr][0]
out = []
def check(name, cond, why):
    out.append(("ok" if cond else "not ok", name, "" if cond else why))
v4, v6 = vip(after, "198.18.0.10:80/tcp"), vip(after, "[2001:db8::10]:80/tcp")
for v, f in ((v4, "P4"), (v6, "P6")):
    p = ports[f]
    check("xlb -j stats: new flows of %s count every connection" % v["vip"],
          len(p) == 2 * n + 1 and v["new_flows"] >= len(set(p)),
          "new_flows %d, %d connections from %d distinct ports; per backend %s; reasons %s" %
          (v["new_flows"], len(p), len(set(p)),
           [(b["address"], b["new_flows"]) for b in v["backends"]],
           {k: r["packets"] for k, r in after["reasons"].items() if r["packets"]}))
check("xlb -j stats: per-backend packets add up to the VIP's",
      all(sum(b["packets"] for b in v["backends"]) == v["packets"] for v in (v4, v6)),
      json.dumps(after["vips"]))
b2a, b2b = be(v4, "198.18.1.2"), be(vip(before, "198.18.0.10:80/tcp"), "198.18.1.2")
check("xlb -j stats: the disabled backend got no new flow",
      b2a["new_flows"] == b2b["new_flows"] and b2a["packets"] == b2b["packets"],
      "before %s, after %s" % (b2b, b2a))
check("xlb -j stats: be1 and be3 took the new flows",
      all(be(v4, a)["new_flows"] > be(vip(before, "198.18.0.10:80/tcp"), a)["new_flows"]
          for a in ("198.18.1.1", "198.18.1.3")), json.dumps(v4))
r = after["reasons"]
check("xlb -j stats: tx counts every forwarded packet, nothing dropped",
      r["tx"]["packets"] == sum(v["packets"] for v in after["vips"]) and
      all(v["packets"] == 0 for k, v in r.items() if k.startswith("drop_")), json.dumps(r))
for v, name, why in out:
    print("%s\t%s\t%s" % (v, name, why))
EOF
)
tb_verdicts "stats verdicts" "$results"

tb_stop "$TB_XLBD_PID"
tb_check "xlbd stopped and detached" "$(tail -2 "$TB_TMP/xlbd.log" | tr '\n' ' ')" \
	sh -c "! ip -n $(tb_ns lb) link show dev $TB_LB_IF | grep -q xdp"
[ "$TB_FAILED" -eq 0 ]
