#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo-cluster`: three LB hosts behind a router's ECMP route (tools/cluster.sh): the
# router's BIRD learns the VIP from each host's BIRD over BGP with BFD; the hosts share their
# configuration through etcd. Shows the three nexthops, the flows spread over the hosts, the
# identical table digests, one LB host dying in the middle of long-lived connections (BFD routes
# around it, the connections complete at their backends), the counters. Bounded (about a
# minute); removes everything.
set -u
source "$(dirname "$0")/../tests/e2e/mntns.sh"	# the bpffs mounts stay in a namespace of ours
cd "$(dirname "$0")/.."
XLB_BUILD=${XLB_BUILD:-${BUILD:-build}}
source tools/testbed.sh
source tools/cluster.sh
TB_PREFIX=xlbdemocl$$

VIP=$TB_VIP4
SVC="$VIP:80/tcp"

DEMO_NAME=demo-cluster
source tools/demo_lib.sh
demo_cleanup() {
	local rc=$?
	say "Cleaning up"
	cl_cleanup
	note "namespaces, veths, XDP programs, BIRD, etcd, xlbd, mounts and the temporary folder removed."
	exit $rc
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and XDP)"
for f in xlbd xlb xlb-decap xlb-sink; do
	[ -x "$XLB_BUILD/$f" ] || die "$XLB_BUILD/$f missing: run make first"
done
for c in bird birdc etcd etcdctl; do
	command -v $c >/dev/null || die "no $c: make deps (Debian bird2, etcd-server, etcd-client)"
done
trap demo_cleanup EXIT
trap 'exit 130' INT TERM
lb() { local k=$1; shift; printf '%s[lb%s]$ xlb %s%s\n' "$D" "$k" "$*" "$N"; cl_x "$k" "$@" 2>&1 | sed 's/^/     /'; }
new_flows() {
	cl_x "$1" -j stats "$SVC" | python3 -c 'import json,sys
print(sum(v["new_flows"] for v in json.load(sys.stdin)["vips"]))'
}

say "xlb scale-out demo: three LB hosts behind ECMP, routes by BIRD, one shared view in etcd"
note "Topology (namespaces $TB_PREFIX-*):"
cat <<EOF
     client 198.18.0.1 --- rt (router: BIRD, kernel ECMP, etcd on 198.18.3.1)
                            |-- lb1 198.18.2.5   xlbd (XDP on eth0) + BIRD
                            |-- lb2 198.18.2.9   xlbd (XDP on eth0) + BIRD
                            |-- lb3 198.18.2.13  xlbd (XDP on eth0) + BIRD
                            |  bridge 198.18.1.0/24
                  be1 198.18.1.1   be2 198.18.1.2   be3 198.18.1.3  (VIP on lo, XDP decap, HTTP)
EOF
note "Each LB host's xlbd puts the VIP's address on its interface xlb0 while the VIP has a usable backend; its BIRD announces it over BGP (with BFD) to the router's BIRD, which installs one kernel route with a nexthop per announcing host. The router hashes each connection onto one nexthop (fib_multipath_hash_policy=1: its 5-tuple; the bed's test-bed tool xlb-rehash makes the router hash the headers, not the random hash a local socket's packets carry). lb1 seeds the shared configuration in etcd; lb2 and lb3 start with no VIP and take the cluster's."

VIPS="[{\"address\": \"$VIP\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
  \"check\": {\"type\": \"http\", \"path\": \"/\", \"port\": 80},
  \"backends\": [{\"address\": \"198.18.1.1\"}, {\"address\": \"198.18.1.2\"}, {\"address\": \"198.18.1.3\"}]}]"
t0=$(tb_now_ms)
cl_start "$VIPS" || die "could not build the cluster test bed"
tb_wait 20 cl_has_nexthops "$VIP" 3 || die "the router did not get 3 nexthops for $VIP"
note "Built and converged in $(($(tb_now_ms) - t0)) ms."

say "The router: two BGP sessions with BFD per LB host (IPv4, IPv6), one route with three nexthops"
rt() { local c="$*"; printf '%s[rt]$ %s%s\n' "$D" "${c/cl_rt_birdc/birdc}" "$N"; "$@" 2>&1 | sed 's/^/     /'; }
rt cl_rt_birdc show protocols
rt cl_rt_birdc show bfd sessions
rt ip -n "$(tb_ns rt)" route show "$VIP/32"

say "The same configuration and the same Maglev table on every host"
for k in 1 2 3; do lb $k vip list; done
for k in 1 2 3; do
	printf '   lb%s: ' "$k"
	cl_x $k -j status | python3 -c 'import json,sys
s = json.load(sys.stdin); e = s["etcd"]
print("etcd %s, revision %s; digests %s" % (e["state"], e["revision"],
      ", ".join("%s %s (%d hosts agree)" % (d["vip"], d["digest"], d.get("hosts", 0)) for d in s["digests"])))'
done
note "Same seed, same backends, same weights: the same table, so a flow gets the same backend whichever host the router sends it to."

say "90 HTTP flows from the client, each from its own source port"
declare -A NF0
for k in 1 2 3; do NF0[$k]=$(new_flows $k); done
tb_exec client python3 tools/cluster_flows.py short "$VIP" 90 30000 >"$TB_TMP/short1"
sleep 1.2
printf '   answered by:'
for b in be1 be2 be3 FAIL; do printf '  %s %d' "$b" "$(grep -c " $b$" "$TB_TMP/short1")"; done
echo
printf '   carried by (new flows in xlb stats):'
for k in 1 2 3; do printf '  lb%s %d' "$k" $(($(new_flows $k) - NF0[$k])); done
echo
python3 tools/cluster_flows.py lookup "$(cl_sock 1),$(cl_sock 2),$(cl_sock 3)" "$SVC" "$TB_CLIENT4" \
	<"$TB_TMP/short1" >"$TB_TMP/look1"
note "xlb lookup of each flow on the three hosts (first 5 flows: source port, answering backend, then each host's answer and where it came from):"
head -5 "$TB_TMP/look1" | sed 's/^/     /'
agree=$(awk '{ok = 1; for (i = 3; i <= 5; i++) { split($i, a, ":"); if (a[1] != "198.18.1." substr($2, 3)) ok = 0 } n += ok} END {print n + 0}' "$TB_TMP/look1")
note "$agree of 90 flows: all three hosts name the backend that answered. The host that carried a flow finds it in its flow table, the two others compute it from Maglev."

say "lb2 dies in the middle of 24 long-lived connections"
note "Each connection uploads a body in 1 kB pieces over 8 s. Then lb2 dies silently: the router's side of its link drops everything lb2 sends, and its xlbd and BIRD are killed with SIGKILL; only BFD (100 ms x 3) can tell the router."
rm -f "$TB_TMP/ready"
tb_bg client "$TB_TMP/long" python3 tools/cluster_flows.py long "$VIP" 24 40000 8 "$TB_TMP/ready"
LONG=$TB_LAST_PID
tb_wait 10 test -e "$TB_TMP/ready" || die "the long-lived connections did not open"
seq 40000 40023 | sed 's/$/ -/' |
	python3 tools/cluster_flows.py lookup "$(cl_sock 1),$(cl_sock 2),$(cl_sock 3)" "$SVC" "$TB_CLIENT4" >"$TB_TMP/look2"
note "$(awk '$4 ~ /flow_table/' "$TB_TMP/look2" | wc -l) of them go through lb2."
for k in 1 3; do NF0[$k]=$(new_flows $k); done
cl_kill 2 || die "could not cut lb2 off"
for i in $(seq 500); do cl_has_nexthops "$VIP" 2 && break; sleep 0.02; done
note "The router dropped lb2's nexthop $(($(tb_now_ms) - CL_KILL_MS)) ms after lb2 went silent:"
run ip -n "$(tb_ns rt)" route show "$VIP/32"
printf '%s[rt]$ birdc show protocols all lb2 | grep -i error%s\n' "$D" "$N"
cl_rt_birdc show protocols all lb2 | grep -i error | sed 's/^/     /'
wait "$LONG"
note "The long-lived connections (source port, backend, bytes the backend received, bytes sent):"
xargs -n 8 <"$TB_TMP/long" | sed 's/^/     /'
ok=$(python3 - "$TB_TMP/look2" "$TB_TMP/long" <<'EOF'
import sys
before = {l.split()[0]: l.split()[2].split(":")[0] for l in open(sys.argv[1])}
print(sum(1 for l in open(sys.argv[2]) if len(l.split()) == 4 and l.split()[2] == l.split()[3]
          and before.get(l.split()[0]) == "198.18.1." + l.split()[1][2:]))
EOF
)
note "$ok of 24 completed with every byte at the backend they started on: ECMP moved lb2's flows to lb1 and lb3, which sent them to the same backends (same tables; a packet of an established flow that a host has not seen is balanced by Maglev, not refused)."

say "30 new flows with lb2 gone"
tb_exec client python3 tools/cluster_flows.py short "$VIP" 30 31000 >"$TB_TMP/short2"
sleep 1.2
printf '   answered by:'
for b in be1 be2 be3 FAIL; do printf '  %s %d' "$b" "$(grep -c " $b$" "$TB_TMP/short2")"; done
echo
printf '   carried by:'
for k in 1 3; do printf '  lb%s %d' "$k" $(($(new_flows $k) - NF0[$k])); done
echo

say "Counters on lb1"
lb 1 stats "$SVC"
for k in 1 3; do tb_stop "${CL_XPID[$k]}"; done
exit 0
