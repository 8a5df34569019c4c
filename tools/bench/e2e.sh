#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# End-to-end forwarding rate: xlb-gen -> xlb (xlbd, native XDP on a veth) -> xlb-sink, in Mpps,
# beside the same topology with a trivial XDP_TX program in place of xlb (the ceiling).
#
#	gen eth0 (198.18.0.1/30, 2001:db8::1/126) ==== eth0 lb (198.18.0.2/30, 2001:db8::2/126)
#	  xlb-gen: UDP to the VIPs, N flows              xlbd: VIPs 198.18.0.10:5001/udp and
#	  xlb-sink: counts what comes back, per outer    [2001:db8::10]:5001/udp, 100 backends each
#	  destination (= per backend)                    (198.18.1.1-100, 2001:db8:1::1-100), IPIP,
#	                                                 next hop = gen; or `xlb-sink --attach-tx`
#
# The backends do not exist: every encapsulated frame goes back to gen (the next hop), whose
# sink counts it under its backend and drops it. Each figure is the median of E2E_RUNS runs of
# E2E_SECONDS; the rate is what the sink received over the generator's time. The ceiling runs
# first, then xlb, in the same invocation. A run's result is one JSON line on stdout:
#	{"kind": "xlb"|"ceiling", "family": 4|6, "flows": N, "threads": T, "run": I,
#	 "new_flows": <flows xlb recorded during the run>, "gen": <xlb-gen -j>,
#	 "sink": <xlb-sink -j>}
# tools/bench/bench_json.py turns them into the table and build/bench.json. Progress on stderr.
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-${BUILD:-build}}
source tools/testbed.sh
TB_PREFIX=xlbbench$$

RUNS=${E2E_RUNS:-5}
SECS=${E2E_SECONDS:-1}
NBE=100
VIP4=198.18.0.10 VIP6=2001:db8::10 PORT=5001
FLOWS=(1 1000 1000000)

trap tb_cleanup EXIT
for f in xlb-gen xlb-sink xlbd xlb; do
	[ -x "$XLB_BUILD/$f" ] || { echo "e2e: $XLB_BUILD/$f missing: run make" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "e2e: needs root (namespaces, XDP)" >&2; exit 1; }

tb_tmp
tb_ns_add gen && tb_ns_add lb || exit 1
# A queue per CPU on both ends: frames sent with ndo_xdp_xmit go into the ring of the sending
# CPU's queue, so two generator threads do not share (and overflow) one ring.
ip -n "$(tb_ns gen)" link add eth0 numtxqueues 2 numrxqueues 2 type veth peer name eth0 \
	numtxqueues 2 numrxqueues 2 netns "$(tb_ns lb)" || exit 1
ip -n "$(tb_ns gen)" link set eth0 up
ip -n "$(tb_ns lb)" link set eth0 up
tb_addr gen eth0 198.18.0.1/30 2001:db8::1/126
tb_addr lb eth0 198.18.0.2/30 2001:db8::2/126
GEN_MAC=$(tb_mac gen eth0)
LB_MAC=$(tb_mac lb eth0)

# new_flows VIP: the flows xlb has recorded for VIP so far (its counter, through xlbd)
new_flows() {
	"$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" -j stats "$1" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["vips"][0]["new_flows"])'
}

# run KIND FAMILY FLOWS THREADS I: one measurement, its JSON line on stdout
run() {
	local kind=$1 fam=$2 flows=$3 threads=$4 i=$5 vip=$VIP4 g s svc nf0=0 nf1=0
	local bound=(-d "$SECS" -o random)
	[ "$i" -lt 0 ] && bound=(-n "$flows" -o seq)	# a warm-up: every flow once
	[ "$fam" = 6 ] && vip=$VIP6
	svc=$vip:$PORT/udp
	[ "$fam" = 6 ] && svc=[$vip]:$PORT/udp
	[ "$kind" = xlb ] && nf0=$(new_flows "$svc")
	tb_bg gen "$TB_TMP/sink.out" "$XLB_BUILD/xlb-sink" -j -t 60 eth0
	local sink=$TB_LAST_PID
	if ! tb_wait 20 grep -q attached "$TB_TMP/sink.out"; then
		echo "e2e: sink did not attach" >&2
		return 1
	fi
	g=$(tb_exec gen "$XLB_BUILD/xlb-gen" -j -D "$vip" -P "$PORT" -m "$LB_MAC" -f "$flows" \
		-t "$threads" "${bound[@]}" eth0 2>"$TB_TMP/gen.err")
	sleep 0.05	# the last frames are in flight
	tb_stop "$sink"
	[ "$kind" = xlb ] && nf1=$(new_flows "$svc")
	s=$(grep '^{' "$TB_TMP/sink.out")
	if [ -z "$g" ] || [ -z "$s" ]; then
		echo "e2e: run failed: $(cat "$TB_TMP/gen.err") $(cat "$TB_TMP/sink.out")" >&2
		return 1
	fi
	[ "$i" -ge 0 ] || return 0	# a warm-up run
	printf '{"kind": "%s", "family": %d, "flows": %d, "threads": %d, "run": %d, ' \
		"$kind" "$fam" "$flows" "$threads" "$i"
	printf '"new_flows": %d, "gen": %s, ' "$((nf1 - nf0))" "$g"
	printf '"sink": %s}\n' "$s"
	echo "e2e: $kind IPv$fam $flows flows $threads thread(s) run $i: $(python3 -c '
import json, sys
print("%.3f Mpps sent" % (json.loads(sys.argv[1])["pps"] / 1e6))' "$g")" >&2
}

# series KIND: every row of the table, RUNS times each; xlb's 1,000,000-flow rows after a warm-up
# run that sends every flow once, so that the runs measure recorded flows
series() {
	local kind=$1 fam flows i
	for fam in 4 6; do
		for flows in "${FLOWS[@]}"; do
			if [ "$kind" = xlb ] && [ "$flows" -ge 1000000 ]; then
				run "$kind" "$fam" "$flows" 1 -1 || return 1
			fi
			for i in $(seq "$RUNS"); do
				run "$kind" "$fam" "$flows" 1 "$i" || return 1
			done
		done
	done
	for i in $(seq "$RUNS"); do
		run "$kind" 4 1000 2 "$i" || return 1	# two threads: the machine's two CPUs
	done
}

# The ceiling: frames go straight back.
tb_exec lb "$XLB_BUILD/xlb-sink" --attach-tx eth0 || exit 1
series ceiling || exit 1
ip -n "$(tb_ns lb)" link set dev eth0 xdp off

# xlb: the real daemon programs the datapath from its config file, as on an LB host. The flow
# table has 4M entries: it is a per-CPU LRU whose capacity is split over the CPUs (2 here), a
# single generator thread puts every flow on one CPU (a NIC's RSS would spread them), and the
# IPv4 and IPv6 rows' 1,000,000 flows each must fit at once.
GEN_MAC=$GEN_MAC VIP4=$VIP4 VIP6=$VIP6 PORT=$PORT NBE=$NBE python3 - >"$TB_TMP/xlbd.json" <<'EOF'
import json, os
e = os.environ
n = int(e["NBE"])
vip = lambda a, pre: {"address": a, "port": int(e["PORT"]), "proto": "udp", "mode": "ipip",
                      "backends": [{"address": pre % i} for i in range(1, n + 1)]}
print(json.dumps({"interfaces": [{"name": "eth0", "mode": "native"}], "metrics_listen": "off",
                  "nexthop_mac": e["GEN_MAC"], "encap_source4": "198.18.0.2",
                  "encap_source6": "2001:db8::2", "flow_table_size": 4194304,
                  "vips": [vip(e["VIP4"], "198.18.1.%d"), vip(e["VIP6"], "2001:db8:1::%x")]}))
EOF
tb_xlbd_start 600 || { echo "e2e: xlbd did not start: $(cat "$TB_TMP/xlbd.log")" >&2; exit 1; }
series xlb || exit 1
tb_stop "$TB_XLBD_PID"
