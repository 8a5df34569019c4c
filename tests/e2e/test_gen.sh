#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# End-to-end test of xlb-gen: exact counts, varying flows, the rate limit, well-formed frames of
# every family / protocol / size, both engines sending the same frames, option errors; last, the
# test bed's tb_gen_burst through xlbd.
#
#	gen eth0 (198.18.0.1/30, 2001:db8::1/126) ---- eth0 rcv (198.18.0.2/30, 2001:db8::2/126)
#	  xlb-gen                                        xlb-sink (counts), a capture (checks)
#
# Frames go to 198.18.0.10 / 2001:db8::10, which rcv does not hold: it counts and captures them
# and its kernel drops them without an answer (no forwarding).
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbgen$$

GEN=$XLB_BUILD/xlb-gen
SINK=$XLB_BUILD/xlb-sink
CAP=tests/e2e/gen_capture.py
DST4=198.18.0.10 DST6=2001:db8::10

tb_test_start gen "$GEN" "$SINK"

# ---- bad options: exit 2 and a message naming the option, before touching any interface
bad() {				# bad NAME OPTION-NAMED ARGS...
	local name=$1 want=$2 out rc
	shift 2
	out=$("$GEN" "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 2 ] && grep -qe "$want" <<<"$out"; then
		tb_ok "bad options: $name exits 2 naming $want"
	else
		tb_not_ok "bad options: $name exits 2 naming $want" "status $rc: $out"
	fi
}
bad "no count or duration" "--count or --duration" -D "$DST4" lo
bad "size 63" "--size" -D "$DST4" -n 1 -S 63 lo
bad "size 1501" "--size" -D "$DST4" -n 1 -S 1501 lo
bad "size below IPv6 TCP headers" "--size" -D "$DST6" -T tcp-syn -S 64 -n 1 lo
bad "unknown protocol" "--proto" -D "$DST4" -n 1 -T icmp lo
bad "bad destination" "--dst" -D 198.18.0.300 -n 1 lo
bad "no destination" "--dst" -n 1 lo
bad "source of the other family" "--src" -D "$DST4" -s 2001:db8::1 -n 1 lo
bad "source of the other family, given first" "--src" -s 2001:db8::1 -D "$DST4" -n 1 lo
bad "reversed source range" "--src" -D "$DST4" -s 198.18.0.9-198.18.0.1 -n 1 lo
bad "flows beyond the ranges" "--flows" -D "$DST4" -s 198.18.0.1-198.18.0.2 -p 1000-1009 \
	-f 21 -n 1 lo
bad "zero rate" "--rate" -D "$DST4" -n 1 -r 0 lo
bad "negative duration" "--duration" -D "$DST4" -d -1 lo
bad "count not a number" "--count" -D "$DST4" -n 10x lo
bad "port 0" "--dport" -D "$DST4" -n 1 -P 0 lo
bad "batch 257" "--batch" -D "$DST4" -n 1 -b 257 lo
bad "unknown engine" "--engine" -D "$DST4" -n 1 -e xdp lo
bad "bad order" "--order" -D "$DST4" -n 1 -o backwards lo
bad "bad MAC" "--dst-mac" -D "$DST4" -n 1 -m 02:00:00:00:00 lo
bad "too many threads" "--threads" -D "$DST4" -n 1 -t 64 lo
bad "unknown option" "unrecognized option" -D "$DST4" -n 1 --bogus lo
bad "no interface" "interface" -D "$DST4" -n 1

# ---- the two hosts, joined by a veth pair with a queue per CPU: a veth takes the frames sent to it
# with ndo_xdp_xmit into the ring of the sending CPU's queue, and two threads filling one ring
# faster than its one NAPI empties it would lose frames there, which is not what we test
tb_tmp
tb_ns_add gen && tb_ns_add rcv || { tb_not_ok "namespaces"; exit 1; }
ip -n "$(tb_ns gen)" link add eth0 numtxqueues 2 numrxqueues 2 type veth peer name eth0 \
	numtxqueues 2 numrxqueues 2 netns "$(tb_ns rcv)" || { tb_not_ok "veth pair"; exit 1; }
ip -n "$(tb_ns gen)" link set eth0 up
ip -n "$(tb_ns rcv)" link set eth0 up
tb_addr gen eth0 198.18.0.1/30 2001:db8::1/126
tb_addr rcv eth0 198.18.0.2/30 2001:db8::2/126
tb_exec rcv ethtool -K eth0 gro off >/dev/null 2>&1	# frames as sent, never merged
RMAC=$(tb_mac rcv eth0)

# sink_start: a counting sink on rcv (its XDP program also lets rcv's veth take XDP frames);
# sink_count DST: stop it and print how many frames to DST it counted
sink_start() {
	tb_bg rcv "$TB_TMP/sink.out" "$SINK" -j -t 60 "$@" eth0
	SINK_PID=$TB_LAST_PID
	tb_wait 20 grep -q attached "$TB_TMP/sink.out" ||
		tb_not_ok "the sink attached to rcv:eth0" "$(tail -2 "$TB_TMP/sink.out")"
}
sink_count() {
	# a sink killed before it detached would leave its program on eth0 for the next one: on a
	# loaded machine its exit (final counts, detach) may take longer than tb_stop's 3 s
	tb_stop "$SINK_PID" 20
	grep '^{' "$TB_TMP/sink.out" | DST=$1 python3 -c '
import json, os, sys
d = json.load(sys.stdin)
print(sum(r["packets"] for r in d["outer"] if r["dst"] == os.environ["DST"]))' 2>/dev/null ||
		echo none
}
gen() { tb_exec gen "$GEN" -m "$RMAC" "$@" eth0; }

# ---- exact counts
exact() {			# exact NAME DST COUNT ARGS...
	local name=$1 dst=$2 n=$3 got
	shift 3
	sink_start
	gen -D "$dst" -n "$n" "$@" >"$TB_TMP/gen.out" 2>&1
	got=$(sink_count "$dst")
	tb_check "$name: $n sent, $n counted at the sink" \
		"counted $got; $(tail -2 "$TB_TMP/gen.out")" \
		[ "$got" = "$n" ]
}
exact "live frames, IPv4 UDP, 1000 flows" "$DST4" 200000 -f 1000
exact "live frames, IPv6 TCP SYN, random flows" "$DST6" 100000 -T tcp-syn -f 5000 -o random
exact "live frames, 1500-byte frames" "$DST4" 20000 -S 1500
exact "live frames, 2 threads" "$DST4" 100001 -t 2 -f 100
exact "AF_PACKET, IPv4 UDP" "$DST4" 30000 -e packet -f 1000
exact "AF_PACKET, IPv6 TCP ACK, 2 threads" "$DST6" 20001 -e packet -T tcp-ack -t 2

# -j: the summary as JSON
sink_start
j=$(gen -D "$DST4" -n 5000 -j 2>/dev/null)
sink_count "$DST4" >/dev/null
tb_check "-j prints one JSON object with the packets sent" "$j" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["packets"] == 5000 and d["engine"] == "live" and d["complete"], d' "$j"

# ---- the rate limit: 40,000 frames per second for 2 s, through each engine
rate() {			# rate ENGINE RATE
	local eng=$1 want=$2 got
	sink_start
	gen -D "$DST4" -r "$want" -d 2 -e "$eng" -f 100 >"$TB_TMP/gen.out" 2>&1
	got=$(sink_count "$DST4")
	tb_check "rate limit ($eng): $want pps for 2 s within 10 %" \
		"counted $got, want $((2 * want)); $(tail -1 "$TB_TMP/gen.out")" \
		python3 -c "import sys; sys.exit(abs($got - 2 * $want) > 0.2 * $want)"
}
rate live 40000
rate packet 40000

# ---- captured frames: well-formed, flows as asked, the same from both engines
capture() {			# capture OUT DST COUNT GEN-ARGS...: frames as rcv receives them
	local out=$1 dst=$2 n=$3
	shift 3
	rm -f "$TB_TMP/ready"
	tb_bg rcv /dev/null python3 "$CAP" capture eth0 "$dst" "$n" 10 "$out" "$TB_TMP/ready"
	local cap=$TB_LAST_PID
	tb_wait 20 test -e "$TB_TMP/ready"
	gen -D "$dst" -n "$n" -r 20000 "$@" >"$TB_TMP/gen.out" 2>&1
	tb_wait 10 sh -c "! kill -0 $cap"
}
# A passing sink: rcv's kernel then takes the frames up to the capture.
tb_exec rcv "$SINK" --attach-pass eth0 || tb_not_ok "attach-pass on rcv"

v=
for fam in 4 6; do
	dst=DST$fam
	for proto in udp tcp-syn tcp-ack; do
		min=$((14 + (fam == 4 ? 20 : 40) + 20))	# TCP
		[ "$proto" = udp ] && min=$((min - 12))
		[ "$min" -lt 64 ] && min=64
		for size in "$min" 99 1500; do
			f=$TB_TMP/cap-$fam-$proto-$size
			capture "$f" "${!dst}" 20 -T "$proto" -S "$size" -f 7
			v+=$(python3 "$CAP" check "IPv$fam $proto $size-byte frames well-formed" \
				"$f" "$size" "$proto" 20)$'\n'
		done
	done
done
tb_verdicts "well-formed frames" "$v"

v=
capture "$TB_TMP/seq" "$DST4" 2000 -f 100
v+=$(python3 "$CAP" flows "100 flows in order: 100 distinct 5-tuples" "$TB_TMP/seq" 100)$'\n'
capture "$TB_TMP/rng" "$DST6" 2000 -f 1000 -o random -s 2001:db8::100-2001:db8::103 -p 2000-2249
v+=$(python3 "$CAP" flows \
	"1000 random flows over 4 addresses x 250 ports: >= 800 distinct, in range" \
	"$TB_TMP/rng" min:800 2001:db8::100 2001:db8::103 2000 2249)$'\n'
capture "$TB_TMP/one" "$DST4" 500
v+=$(python3 "$CAP" flows "1 flow: 1 distinct 5-tuple" "$TB_TMP/one" 1)$'\n'
for args in "-T udp -S 100" "-T tcp-syn -f 300 -o random" "-T tcp-ack -S 1000 -t 2 -f 50"; do
	for fam in 4 6; do
		dst=DST$fam
		# shellcheck disable=SC2086
		capture "$TB_TMP/live" "${!dst}" 300 -e live -f 40 $args
		# shellcheck disable=SC2086
		capture "$TB_TMP/pkt" "${!dst}" 300 -e packet -f 40 $args
		[ "${args#*-t 2}" != "$args" ] && sort -o "$TB_TMP/live" "$TB_TMP/live" &&
			sort -o "$TB_TMP/pkt" "$TB_TMP/pkt"	# two threads interleave freely
		v+=$(python3 "$CAP" same \
			"AF_PACKET sends the frames live frames send (IPv$fam $args)" \
			"$TB_TMP/live" "$TB_TMP/pkt")$'\n'
	done
done
tb_verdicts "flows and engines" "$v"
tb_exec rcv ip link set eth0 xdp off

# ---- the destination MAC from the neighbour table (of the gateway towards the destination)
ip -n "$(tb_ns gen)" route add "$DST4/32" via 198.18.0.2
tb_exec gen ping -c 1 -W 2 -q 198.18.0.2 >/dev/null
sink_start
tb_exec gen "$GEN" -D "$DST4" -n 1000 eth0 >"$TB_TMP/gen.out" 2>&1
got=$(sink_count "$DST4")
tb_check "no --dst-mac: the gateway's MAC from the neighbour table" \
	"counted $got: $(cat "$TB_TMP/gen.out")" [ "$got" = 1000 ]
out=$(tb_exec gen "$GEN" -D 2001:db8::3 -n 1 eth0 2>&1)
rc=$?
tb_check "no --dst-mac and no neighbour entry: exit 1, saying so" "status $rc: $out" \
	sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'no neighbour entry'"

# ---- tb_gen_burst (what the demo ends with) through the test bed's VIP, balanced by xlbd
tb_cleanup
TB_PREFIX=xlbgenb$$
tb_tmp
if tb_build 3 && tb_decap_attach; then
	cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}], "nexthop_mac": "$TB_NEXTHOP_MAC",
 "encap_source4": "$TB_LB4",
 "vips": [{"address": "$TB_VIP4", "port": 80, "proto": "tcp", "mode": "ipip", "backends": [
   {"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}, {"address": "${TB_BE4[3]}"}]}]}
EOF
	if tb_xlbd_start 60; then
		out=$(tb_gen_burst 2 10000 300 2>&1)
		tb_check "tb_gen_burst: every backend counted, together all that was sent" "$out" \
			python3 -c '
import re, sys
out = sys.argv[1]
sent = int(re.search(r"xlb-gen: (\d+) packets", out)[1])
per = [int(m[1]) for m in re.finditer(r"be\d+ +\S+ +(\d+) ", out)]
sys.exit(not (len(per) == 3 and min(per) > 0 and sum(per) == sent and sent > 15000))' "$out"
		rt=$(tb_ns rt)
		tb_check "tb_gen_burst leaves rt as it was (no XDP on c0, XDP on lb0)" \
			"$(ip -n "$rt" -d link show dev c0; ip -n "$rt" -d link show dev lb0)" \
			sh -c "! ip -n $rt -d link show dev c0 | grep -q prog/xdp &&
			       ip -n $rt -d link show dev lb0 | grep -q prog/xdp"
	else
		tb_not_ok "tb_gen_burst" "xlbd did not start: $(cat "$TB_TMP/xlbd.log")"
	fi
else
	tb_not_ok "tb_gen_burst" "no test bed"
fi

[ "$TB_FAILED" -eq 0 ]
