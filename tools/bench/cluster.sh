#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench-cluster`: figures of the scale-out bed (tools/cluster.sh), written to
# $BUILD/bench-cluster.json and summed up on stdout:
# - failover: lb2 dies silently (the router's side of its link drops its frames, its xlbd and
#   BIRD get SIGKILL) RUNS times: ms until the router's route has lost its nexthop (BFD), and
#   ms until a new connection from a source port that lb2 was carrying is answered (the router
#   hashes the 5-tuple, see tools/cluster.sh: such a connection goes to lb2 until BFD takes it
#   out of the route); lb2 is revived between runs;
# - config change: CHANGES weight changes through lb1, ms from the command's start until lb2
#   and lb3 both show it (polled through the API every 10 ms: an upper bound), median, worst;
# - aggregate rate: xlb-gen's TCP ACKs of 1,000 flows to the VIP from the client for SECS s, as
#   fast as one thread goes, with 1, 2 and 3 LB hosts in the router's ECMP route (the others'
#   BGP sessions disabled on the router); counted per host by a dropping xlb-sink on the router's
#   side of each host's link (IPIP frames: what the host balanced). All of it shares the
#   machine's cores: see the README on what the scaling means here.
set -u
source "$(dirname "$0")/../../tests/e2e/mntns.sh"
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-${BUILD:-build}}
source tools/testbed.sh
source tools/cluster.sh
TB_PREFIX=xlbbcl$$
RUNS=${RUNS:-5} CHANGES=${CHANGES:-10} SECS=${SECS:-3}
OUT=${OUT:-$XLB_BUILD/bench-cluster.json}
VIP=$TB_VIP4
SVC="$VIP:80/tcp"
trap cl_cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench-cluster: needs root" >&2; exit 1; }
SOCKS=
VIPS="[{\"address\": \"$VIP\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
  \"check\": {\"type\": \"http\", \"path\": \"/\", \"port\": 80},
  \"backends\": [{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\"}, {\"address\": \"198.18.1.3\"}]}]"
cl_start "$VIPS" || exit 1
tb_wait 20 cl_has_nexthops "$VIP" 3 || { echo "bench-cluster: no ECMP route" >&2; exit 1; }
SOCKS=$(cl_sock 1),$(cl_sock 2),$(cl_sock 3)
R=$TB_TMP/results
: >"$R"

# ---- failover
for r in $(seq "$RUNS"); do
	p0=$((50000 + 100 * r))
	tb_exec client python3 tools/cluster_flows.py short "$VIP" 30 $p0 |
		python3 tools/cluster_flows.py lookup "$SOCKS" "$SVC" "$TB_CLIENT4" >"$TB_TMP/look"
	ports=$(awk '$4 ~ /flow_table/ {print $1}' "$TB_TMP/look" | paste -sd,)
	[ -n "$ports" ] || { echo "bench-cluster: no flow on lb2" >&2; exit 1; }
	cl_kill 2 || exit 1
	tb_bg client "$TB_TMP/probe" python3 tools/cluster_flows.py probe "$VIP" "$ports" 10
	probe=$TB_LAST_PID
	for i in $(seq 500); do cl_has_nexthops "$VIP" 2 && break; sleep 0.01; done
	route=$(($(tb_now_ms) - CL_KILL_MS))
	wait "$probe"
	resume=$(($(awk '{print $1}' "$TB_TMP/probe") - CL_KILL_MS))
	echo "failover $r $route $resume" >>"$R"
	echo "failover run $r: route without lb2 after $route ms, a flow of lb2's answered after $resume ms" >&2
	cl_revive 2 || { echo "bench-cluster: lb2 did not come back" >&2; exit 1; }
	tb_wait 20 cl_has_nexthops "$VIP" 3 || { echo "bench-cluster: lb2 not routed again" >&2; exit 1; }
done

# ---- a change through lb1 until lb2 and lb3 applied it
weight_is() {		# weight_is K W: lbK's be2 has weight W
	cl_x "$1" -j backend list "$SVC" | grep -q "\"address\": *\"198.18.1.2\"[^}]*\"weight\": *$2[,}]"
}
for c in $(seq "$CHANGES"); do
	w=$((60 + c))
	t0=$(tb_now_ms)
	cl_x 1 backend set "$SVC" 198.18.1.2 weight $w >/dev/null || exit 1
	for k in 2 3; do
		for i in $(seq 1000); do weight_is $k $w && break; sleep 0.01; done
	done
	echo "change $c $(($(tb_now_ms) - t0))" >>"$R"
done
cl_x 1 backend set "$SVC" 198.18.1.2 weight 100 >/dev/null

# ---- aggregate rate with 1, 2, 3 hosts
tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass c0 || exit 1
mac=$(tb_mac rt c0)
for n in 3 2 1; do
	for k in $(seq $CL_N); do
		if [ "$k" -le "$n" ]; then cl_rt_birdc enable lb$k >/dev/null; else cl_rt_birdc disable lb$k >/dev/null; fi
	done
	tb_wait 30 cl_has_nexthops "$VIP" $n || {
		echo "bench-cluster: not $n nexthops: $(ip -n "$(tb_ns rt)" route show "$VIP/32")" \
			"$(cl_rt_birdc show protocols)" >&2
		exit 1
	}
	sinks=()
	for k in $(seq $CL_N); do
		ip -n "$(tb_ns rt)" link set dev lb$k xdp off
		tb_bg rt "$TB_TMP/sink$k.out" "$XLB_BUILD/xlb-sink" -j -t $((SECS + 20)) lb$k
		sinks+=("$TB_LAST_PID")
	done
	for k in $(seq $CL_N); do tb_wait 20 grep -q attached "$TB_TMP/sink$k.out" || exit 1; done
	g=$(tb_exec client "$XLB_BUILD/xlb-gen" -j -D "$VIP" -P 80 -T tcp-ack -m "$mac" -f 1000 \
		-o random -d "$SECS" eth0 2>"$TB_TMP/gen.err") || { cat "$TB_TMP/gen.err" >&2; exit 1; }
	sleep 0.2
	for p in "${sinks[@]}"; do tb_stop "$p"; done
	per=
	for k in $(seq $CL_N); do
		per+=" $(grep '^{' "$TB_TMP/sink$k.out" | python3 -c 'import json,sys
print(sum(r["packets"] for r in json.load(sys.stdin)["outer"] if r["proto"] == 4))')"
		ip -n "$(tb_ns rt)" link set dev lb$k xdp off 2>/dev/null
		tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass lb$k
	done
	echo "rate $n $(python3 -c 'import json,sys; g = json.loads(sys.argv[1]); print(g["packets"], g["seconds"])' "$g")$per" >>"$R"
	echo "rate with $n host(s): per host$per" >&2
done

python3 - "$R" "$OUT" "$RUNS" "$CHANGES" "$SECS" <<'EOF'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
fo = [(int(r[2]), int(r[3])) for r in rows if r[0] == "failover"]
ch = [int(r[2]) for r in rows if r[0] == "change"]
rate = {}
for r in rows:
    if r[0] == "rate":
        sent, secs, per = int(r[2]), float(r[3]), [int(x) for x in r[4:]]
        rate[r[1]] = {"sent_pps": round(sent / secs), "balanced_pps": round(sum(per) / secs),
                      "per_host_pps": [round(x / secs) for x in per]}
def summ(v):
    return {"median": statistics.median(v), "worst": max(v), "best": min(v), "runs": v}
doc = {"failover_route_ms": summ([a for a, _ in fo]), "failover_resume_ms": summ([b for _, b in fo]),
       "change_applied_ms": summ(ch), "rate": rate,
       "settings": {"runs": int(sys.argv[3]), "changes": int(sys.argv[4]), "rate_seconds": float(sys.argv[5]),
                    "bfd": "100 ms x 3", "hosts": 3, "cpus": __import__("os").cpu_count()}}
json.dump(doc, open(sys.argv[2], "w"), indent=1)
print("LB host failure (silent; BFD 100 ms x 3), %d runs:" % len(fo))
print("  router's route without it:         median %d ms, worst %d ms" % (doc["failover_route_ms"]["median"], doc["failover_route_ms"]["worst"]))
print("  one of its flows answered again:   median %d ms, worst %d ms" % (doc["failover_resume_ms"]["median"], doc["failover_resume_ms"]["worst"]))
print("config change through lb1 until lb2 and lb3 applied it, %d changes: median %d ms, worst %d ms"
      % (len(ch), doc["change_applied_ms"]["median"], doc["change_applied_ms"]["worst"]))
print("aggregate rate (TCP ACKs, 1,000 flows, one generator thread):")
for n in sorted(rate):
    x = rate[n]
    print("  %s host(s): sent %.3f Mpps, balanced %.3f Mpps (per host %s)" % (n, x["sent_pps"] / 1e6,
          x["balanced_pps"] / 1e6, ", ".join("%.3f" % (p / 1e6) for p in x["per_host_pps"])))
print("written to", sys.argv[2])
EOF
