#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo`: balance real HTTP traffic in network namespaces with xlbd and the xlb CLI; a
# backend's server stops and the health probes take it out with no operator command; it comes
# back and ramps in (slow start); the counters. Bounded (well under a minute); removes everything.
set -u
cd "$(dirname "$0")/.."
XLB_BUILD=${XLB_BUILD:-${BUILD:-build}}
source tools/testbed.sh
TB_PREFIX=xlbdemo$$

VIP=$TB_VIP4
SVC="$VIP:80/tcp"
NREQ=30

DEMO_NAME=demo
source tools/demo_lib.sh

demo_cleanup() {
	local rc=$?
	say "Cleaning up"
	tb_cleanup
	note "namespaces, veths, XDP programs, processes and the temporary folder removed."
	exit $rc
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and XDP)"
for f in xlbd xlb xlb-decap xlb-sink xlb-gen; do
	[ -x "$XLB_BUILD/$f" ] || die "$XLB_BUILD/$f missing: run make first"
done
trap demo_cleanup EXIT
trap 'exit 130' INT TERM

say "xlb demo: an XDP/eBPF layer-4 load balancer, in network namespaces"
note "Topology (namespaces $TB_PREFIX-*):"
cat <<EOF
     client 198.18.0.1 --- rt (router) --- lb 198.18.0.5: xlbd, XDP program "xlb" on eth0
                            |  bridge 198.18.1.0/24
                  be1 198.18.1.1   be2 198.18.1.2   be3 198.18.1.3
       each backend: VIP $VIP on lo, XDP decapsulation on eth0, an HTTP server answering its name
EOF
note "The client's packets to the VIP reach lb; xlb picks a backend (Maglev table + flow table), wraps the packet in IPIP and sends it back out (XDP_TX) towards the router, which delivers it to the backend. The backend strips the outer header and answers the client directly (direct server return)."

tb_build 3 || die "could not build the test bed"
tb_decap_attach || die "could not attach xlb-decap on the backends"
tb_http_servers 80 || die "could not start the HTTP servers"

cat >"$TB_TMP/xlbd.json" <<EOF
{
  "interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
  "nexthop_mac": "$TB_NEXTHOP_MAC",
  "encap_source4": "$TB_LB4",
  "vips": [
    {"address": "$VIP", "port": 80, "proto": "tcp", "mode": "ipip", "slow_start_ms": 2000,
     "check": {"type": "http", "path": "/", "port": 80},
     "backends": [
      {"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}, {"address": "${TB_BE4[3]}"}]}
  ]
}
EOF
say "Starting xlbd on lb"
note "config $TB_TMP/xlbd.json: interface eth0 (native XDP), next hop $TB_NEXTHOP_MAC (rt), VIP $SVC in IPIP mode with three backends, each probed with HTTP GET / at the default settings (every 200 ms, timeout 150 ms, down after 2 failures, up after 3 successes), and a 2 s slow start for a backend that comes back."
tb_xlbd_start 100 || { cat "$TB_TMP/xlbd.log" >&2; die "xlbd did not start"; }
xlb() { "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" "$@"; }
sed 's/^[^ ]* [a-z]*: /     xlbd: /' "$TB_TMP/xlbd.log" | grep -v libbpf
run xlb vip list
run xlb backend list
run xlb table "$SVC"

# show ANSWERS: the answers of tb_requests ten per line, then a tally
show() {
	local answers=$1 be
	xargs -n 10 <<<"$answers" | sed 's/^/     /; s/\bFAIL\b/FAILED/g'
	printf '   tally:'
	for be in be1 be2 be3 FAIL; do
		printf '   %s %d' "${be/FAIL/failed}" "$(grep -cxF -- "$be" <<<"$answers")"
	done
	echo
}

say "$NREQ HTTP requests from the client to http://$VIP/ (a new connection each)"
show "$(tb_requests "http://$VIP/" "$NREQ")"
note "Each connection is a new flow with its own source port, so Maglev spreads them over the three backends."

say "One more request, watched packet by packet: xlb monitor vip $SVC count 4"
xlb monitor vip "$SVC" count 4 duration 5 >"$TB_TMP/monitor.out" 2>&1 &
mon=$!
tb_wait 3 grep -q "monitor: on" "$TB_TMP/xlbd.log"
tb_exec client curl -s -m 3 -o /dev/null "http://$VIP/"
wait "$mon"
sed 's/^/     /' "$TB_TMP/monitor.out"
note "The SYN is a new flow: Maglev's slot for its hash chose the backend; the packets after it find the flow in the flow table. While no monitor runs, the datapath pays one branch per packet for this."

say "be2 fails: its HTTP server stops"
tb_stop "${TB_HTTPD_PID[2]}"
t0=$(date +%s%N)
# wait_health STATE - poll be2's health every 20 ms, 5 s at most
wait_health() {
	local i
	for i in $(seq 250); do
		[ "$(xlb backend list "$SVC" | awk -v b="${TB_BE4[2]}" '$2 == b { print $7 }')" = "$1" ] &&
			return 0
		sleep 0.02
	done
	note "Unexpected: be2 was not marked $1 within 5 s."
	status=1
}
wait_health down
t1=$(date +%s%N)
note "No operator command: xlbd's probes saw be2 refuse connections and took it out of the Maglev table $(( (t1 - t0) / 1000000 )) ms after its server stopped (as measured by this script, polling). What xlbd logged:"
run xlb events
run xlb backend list

say "$NREQ more requests"
answers=$(tb_requests "http://$VIP/" "$NREQ")
show "$answers"
if grep -qxF -e FAIL -e be2 <<<"$answers"; then
	note "Unexpected: some requests failed or still reached be2."
	status=1
else
	note "Every request is answered, by be1 and be3 only."
fi

say "be2 comes back"
tb_http_server_start 2 80 || die "could not restart be2's HTTP server"
wait_health up
note "After 3 good probes be2 is up again, and ramps in: it starts with a small share of its weight (slow start), then more:"
run xlb backend list
sleep 2.2
note "2 s later, full weight:"
run xlb backend list
run xlb table "$SVC"
say "$NREQ more requests"
answers=$(tb_requests "http://$VIP/" "$NREQ")
show "$answers"
grep -qxF FAIL <<<"$answers" && { note "Unexpected: some requests failed."; status=1; }
run xlb events

say "Counters"
run xlb stats
note "Backend side (be1): what its XDP decapsulation program saw:"
tb_exec be1 "$XLB_BUILD/xlb-decap" --stats eth0 | grep -E 'decap_4in4|pass_plain' | sed 's/^ */     /'

say "A few seconds of generated traffic through the VIP"
note "xlb-gen sends TCP ACKs of 1000 flows to $SVC from the client at 20,000 pps for 3 s (XDP live frames); a sink at the balancer's next hop counts them per backend."
tb_gen_burst 3 20000 1000 | sed 's/^/     /' || status=1

tb_stop "$TB_XLBD_PID"
exit "${status:-0}"
