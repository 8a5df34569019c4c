# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The scale-out test bed (sourced, on top of tools/testbed.sh): a router spreading the VIP's
# flows by ECMP over three LB hosts, each running xlbd (XDP on its link) and its own BIRD that
# announces the VIPs over BGP with BFD; one etcd holding the shared configuration; backends
# with HTTP servers and XDP decapsulation; a client behind the router. Used by
# tests/e2e/test_cluster.sh, tools/demo-cluster.sh and tools/bench/cluster.sh.
#
#	client 198.18.0.1 --- c0 [rt] lb1 --- eth0 lb1 198.18.2.5    (rt side 198.18.2.6)
#	       2001:db8::1       |  | lb2 --- eth0 lb2 198.18.2.9    (rt side 198.18.2.10)
#	                         |  | lb3 --- eth0 lb3 198.18.2.13   (rt side 198.18.2.14)
#	     etcd 198.18.3.1 (.2, .3) (rt lo)  br0 198.18.1.254/24 --- be1..beN 198.18.1.i
#	IPv6: lbK 2001:db8:2:K::1/64 (rt side ::2), br0 2001:db8:1::fe/64, beI 2001:db8:1::I
#
# - rt runs BIRD (AS 64500) with a BGP+BFD session to each LB host (AS 64512) and exports the
#   best routes to the kernel with "merge paths": the VIP's route has one nexthop per LB host
#   that announces it, net.ipv4.fib_multipath_hash_policy=1 (L4). Linux hashes by the skb's own
#   L4 hash when it has one, and a local TCP socket's packets carry its random txhash across the
#   veths: xlb-rehash (test-bed tool) clears it at rt's ingress from the client, so the router
#   hashes each packet's 5-tuple, the same whatever socket sent it. See the README.
# - Each LB host's BIRD is tools/bird/bird.conf with its router id and neighbours put in and
#   its commented IPv6 session enabled: the IPv4 VIPs go over the IPv4 session, the IPv6 VIPs
#   over the IPv6 one (the router has both per host, each with BFD, and the IPv6 policy 1).
#   Its sessions retry after 1-5 s, not BIRD's default 60-300 s, after an error (the bench's
#   flood through the router can starve BFD on this machine's 2 cores).
# - xlbd on lbK: native XDP on eth0, next hop rt:lbK (its MAC), encapsulation sources its own
#   addresses, announce on xlb0, etcd section host "lbK"; its own bpffs under $TB_TMP/bpfK.
#   lb1 starts with the VIPs of $CL_VIPS_JSON and seeds the cluster; lb2 and lb3 start with
#   none and take the cluster's.
# Addresses in 198.18.0.0/15 and 2001:db8::/32 only. Everything goes with cl_cleanup (trap it).

CL_N=3
CL_RT_AS=64500 CL_LB_AS=64512
CL_ETCD4=198.18.3.1
CL_ETCD_MEMBERS=${CL_ETCD_MEMBERS:-1}	# 1, or 3 for a cluster of members (one may die)
CL_ETCD_EPS=			# their client URLs, comma-separated
CL_ETCD_PID=()			# CL_ETCD_PID[m]: member m
CL_VIP2=198.18.0.11		# a second VIP (its own check) for the withdraw/announce cases
CL_VIP6=$TB_VIP6		# the IPv6 VIP (2001:db8::10), on every backend's lo
declare -A CL_XPID CL_BPID	# xlbd and BIRD pid per LB host
CL_RT_BIRD=
CL_RUNS=0

cl_lb4() { echo "198.18.2.$((4 * $1 + 1))"; }	# lbK's address
cl_rt4() { echo "198.18.2.$((4 * $1 + 2))"; }	# the router's address on the link to lbK
cl_lb6() { echo "2001:db8:2:$1::1"; }		# lbK's IPv6 address (2001:db8:2:K::/64)
cl_rt6() { echo "2001:db8:2:$1::2"; }		# the router's IPv6 address on the link to lbK
cl_sock() { echo "$TB_TMP/lb$1.sock"; }
cl_x() { local h=$1; shift; "$XLB_BUILD/xlb" -s "$(cl_sock "$h")" "$@"; }

# cl_topology NBACKENDS: namespaces, links, addresses, routes, the sinks on the router's LB links
cl_topology() {
	local nb=$1 k i
	TB_NBACKENDS=$nb
	tb_tmp
	tb_ns_add client && tb_ns_add rt || return 1
	tb_exec rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.default.send_redirects=0 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1 >/dev/null ||
		return 1
	tb_link client eth0 rt c0 || return 1
	ip -n "$(tb_ns client)" link set eth0 mtu 1400
	ip -n "$(tb_ns rt)" link set c0 mtu 1400
	tb_addr client eth0 "$TB_CLIENT4/30" "$TB_CLIENT6/126" &&
		tb_addr rt c0 198.18.0.2/30 2001:db8::2/126 || return 1
	ip -n "$(tb_ns client)" route add default via 198.18.0.2
	ip -n "$(tb_ns client)" -6 route add default via 2001:db8::2
	tb_no_offload client eth0
	cl_rehash_start || return 1
	tb_addr rt lo "$CL_ETCD4/32" || return 1
	for k in $(seq $CL_N); do
		tb_ns_add lb$k && tb_link lb$k eth0 rt lb$k || return 1
		tb_addr lb$k eth0 "$(cl_lb4 $k)/30" "$(cl_lb6 $k)/64" &&
			tb_addr rt lb$k "$(cl_rt4 $k)/30" "$(cl_rt6 $k)/64" || return 1
		ip -n "$(tb_ns lb$k)" route add default via "$(cl_rt4 $k)"
		ip -n "$(tb_ns lb$k)" -6 route add default via "$(cl_rt6 $k)"
		tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass lb$k || return 1
		tb_no_offload lb$k eth0
	done
	ip -n "$(tb_ns rt)" link add br0 type bridge forward_delay 0 mcast_snooping 0 stp_state 0
	ip -n "$(tb_ns rt)" link set br0 up
	tb_addr rt br0 198.18.1.254/24 2001:db8:1::fe/64 || return 1
	for i in $(seq "$nb"); do
		tb_ns_add be$i || return 1
		tb_exec be$i sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 >/dev/null
		tb_link be$i eth0 rt be$i || return 1
		ip -n "$(tb_ns rt)" link set be$i master br0
		tb_addr be$i eth0 "198.18.1.$i/24" "2001:db8:1::$i/64" || return 1
		tb_addr be$i lo "$TB_VIP4/32" "$CL_VIP2/32" "$CL_VIP6/128" || return 1
		ip -n "$(tb_ns be$i)" route add default via 198.18.1.254
		ip -n "$(tb_ns be$i)" -6 route add default via 2001:db8:1::fe
		tb_no_offload be$i eth0
		TB_BE4[i]=198.18.1.$i
		TB_BE6[i]=2001:db8:1::$i
	done
}

# cl_rehash_start: xlb-rehash (a test-bed tool, bpf/rehash.bpf.c) at the ingress of rt's c0:
# the client's packets lose their socket's random hash there, so the router's multipath route
# hashes their headers (policy 1: the 5-tuple) as a router does with frames from a wire
cl_rehash_start() {
	local i log=$TB_TMP/rehash-c0.log
	tb_bg rt "$log" "$XLB_BUILD/xlb-rehash" c0
	for i in $(seq 300); do
		grep -q attached "$log" && return 0
		kill -0 "$TB_LAST_PID" 2>/dev/null || break
		sleep 0.01
	done
	tb_log "cluster: xlb-rehash: $(cat "$log")"
	return 1
}

# cl_weights ADDR W1 W2 W3: the router's route to ADDR (as BIRD exported it: proto bird, its
# metric) replaced by one with the three LB hosts as nexthops of weights W1 W2 W3; BIRD does not
# rewrite it until its next scan of the kernel table (60 s). cl_weights ADDR 1 1 1 restores it.
cl_weights() {
	local a=$1 k nh=() metric
	metric=$(ip -n "$(tb_ns rt)" route show "$a/32" | sed -n 's/.* metric \([0-9]*\).*/\1/p')
	for k in $(seq $CL_N); do
		nh+=(nexthop via "$(cl_lb4 $k)" dev lb$k weight "${@:$((k + 1)):1}")
	done
	ip -n "$(tb_ns rt)" route replace "$a/32" proto bird ${metric:+metric $metric} "${nh[@]}"
}

# cl_etcd_start: CL_ETCD_MEMBERS etcd members (1 or 3) in rt, member M on 198.18.3.M (rt's lo),
# their data in the temp folder; waits until each answers
cl_etcd_start() {
	local m cluster=
	CL_ETCD_EPS=
	for m in $(seq "$CL_ETCD_MEMBERS"); do
		cluster+="${cluster:+,}e$m=http://198.18.3.$m:2380"
		CL_ETCD_EPS+="${CL_ETCD_EPS:+,}http://198.18.3.$m:2379"
		[ "$m" = 1 ] || tb_addr rt lo "198.18.3.$m/32" || return 1
	done
	for m in $(seq "$CL_ETCD_MEMBERS"); do
		tb_bg rt "$TB_TMP/etcd$m.log" etcd --name e$m --data-dir "$TB_TMP/etcd$m" \
			--listen-client-urls "http://198.18.3.$m:2379" \
			--advertise-client-urls "http://198.18.3.$m:2379" \
			--listen-peer-urls "http://198.18.3.$m:2380" \
			--initial-advertise-peer-urls "http://198.18.3.$m:2380" \
			--initial-cluster "$cluster" --initial-cluster-token xlb-bed \
			--initial-cluster-state new
		CL_ETCD_PID[m]=$TB_LAST_PID
	done
	tb_wait 30 tb_exec rt etcdctl --endpoints "$CL_ETCD_EPS" endpoint health
}

# cl_birds_start: the router's BIRD (ECMP into the kernel) and one per LB host
cl_birds_start() {
	local k d=$TB_TMP/bird-rt
	mkdir -p "$d"
	{
		echo "log \"$d/bird.log\" all;"
		echo 'timeformat log "%T.%3f";'
		echo "router id 198.18.0.2;"
		echo "protocol device { scan time 10; }"
		echo "protocol kernel { ipv4 { export where source = RTS_BGP; }; merge paths on; }"
		echo "protocol kernel kernel6 { ipv6 { export where source = RTS_BGP; }; merge paths on; }"
		echo "protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms;"
		echo "	idle tx interval 300 ms; multiplier 3; }; }"
		echo "template bgp lbs { local as $CL_RT_AS; bfd on; error wait time 1, 5;"
		echo "	connect delay time 1; ipv4 { import all; export none; }; }"
		echo "template bgp lbs6 { local as $CL_RT_AS; bfd on; error wait time 1, 5;"
		echo "	connect delay time 1; ipv6 { import all; export none; }; }"
		for k in $(seq $CL_N); do
			echo "protocol bgp lb$k from lbs { neighbor $(cl_lb4 $k) as $CL_LB_AS; }"
			echo "protocol bgp lb${k}_v6 from lbs6 { neighbor $(cl_lb6 $k) as $CL_LB_AS; }"
		done
	} >"$d/bird.conf"
	tb_bg rt "$d/stderr.log" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid"
	CL_RT_BIRD=$TB_LAST_PID
	for k in $(seq $CL_N); do
		d=$TB_TMP/bird-lb$k
		mkdir -p "$d"
		sed -e 's|^log syslog all;|log "'"$d"'/bird.log" all;|' \
			-e "s|^router id 198.18.0.5;|router id $(cl_lb4 $k);|" \
			-e "s|neighbor 198.18.0.6 as|neighbor $(cl_rt4 $k) as|" \
			-e '/^# protocol bgp router1_v6/,/^# }/s/^#[ ]\?//' \
			-e "s|neighbor 2001:db8::6 as|neighbor $(cl_rt6 $k) as|" \
			-e 's|^\(\s*\)bfd on;|&\n\1error wait time 1, 5;|' \
			tools/bird/bird.conf >"$d/bird.conf"
		cp tools/bird/xlb-gshut.conf "$d/"
		cl_bird_start $k || return 1
	done
}
cl_bird_start() {	# cl_bird_start K: (again) the BIRD of lbK
	local d=$TB_TMP/bird-lb$1
	tb_bg lb$1 "$d/stderr.log" bird -f -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid"
	CL_BPID[$1]=$TB_LAST_PID
}
cl_rt_birdc() { tb_exec rt birdc -s "$TB_TMP/bird-rt/bird.ctl" "$@"; }
cl_established() {	# cl_established K: both sessions (IPv4, IPv6) with lbK are up
	[ "$(cl_rt_birdc show protocols "\"lb$1*\"" | grep -c Established)" = 2 ]
}

# cl_conf K VIPS_JSON: lbK's config file
cl_conf() {
	local eps
	eps=\"${CL_ETCD_EPS//,/\", \"}\"
	cat >"$TB_TMP/lb$1.json" <<EOF
{"interfaces": [{"name": "eth0", "mode": "native"}],
 "nexthop_mac": "$(tb_mac rt lb$1)", "encap_source4": "$(cl_lb4 $1)", "encap_source6": "$(cl_lb6 $1)",
 "announce": {"interface": "xlb0"},
 "etcd": {"endpoints": [$eps], "prefix": "/xlb", "cluster": "bed", "host": "lb$1",
          "timeout_ms": 1000, "connect_timeout_ms": 300, "retry_ms": 300, "lease_ttl_s": 3},
 "vips": $2}
EOF
}

# cl_xlbd_start K: xlbd of lbK on its own bpffs; waits until it answers
cl_xlbd_start() {
	local k=$1 bin=${CL_XLBD:-$XLB_BUILD/xlbd}
	mkdir -p "$TB_TMP/bpf$k"
	mountpoint -q "$TB_TMP/bpf$k" || mount -t bpf bpf "$TB_TMP/bpf$k" || return 1
	tb_bg lb$k "$TB_TMP/lb$k.log.$((++CL_RUNS))" "$bin" --config "$TB_TMP/lb$k.json" \
		--socket "$(cl_sock $k)" --pin-dir "$TB_TMP/bpf$k/xlb" --bpffs "$TB_TMP/bpf$k" \
		--foreground -v
	CL_XPID[$k]=$TB_LAST_PID
	tb_wait 15 cl_x "$k" status
}
cl_etcd_state() {
	cl_x "$1" -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["etcd"]["state"])'
}
cl_connected() { [ "$(cl_etcd_state "$1")" = connected ]; }

# cl_nexthops ADDR: how many nexthops the router's kernel route to ADDR has (0: no route)
cl_nexthops() {
	local r
	if [[ $1 == *:* ]]; then r=$(ip -n "$(tb_ns rt)" -6 route show "$1/128")
	else r=$(ip -n "$(tb_ns rt)" route show "$1/32")
	fi
	if [ -z "$r" ]; then echo 0
	elif grep -q nexthop <<<"$r"; then grep -c "nexthop via" <<<"$r"
	else echo 1
	fi
}
cl_has_nexthops() { [ "$(cl_nexthops "$1")" = "$2" ]; }

# cl_start VIPS_JSON: the whole bed: topology with 3 backends and their HTTP servers, etcd,
# the BIRDs, the three xlbd (lb1 seeds), every BGP session up. Messages on stderr.
cl_start() {
	local k
	cl_topology 3 || { tb_log "cluster: topology failed"; return 1; }
	tb_decap_attach || { tb_log "cluster: xlb-decap failed"; return 1; }
	tb_http_servers 80 || return 1
	cl_etcd_start || { tb_log "cluster: etcd: $(tail -3 "$TB_TMP/etcd1.log")"; return 1; }
	cl_birds_start || { tb_log "cluster: bird failed"; return 1; }
	cl_conf 1 "$1"
	for k in $(seq 2 $CL_N); do cl_conf $k "[]"; done
	for k in $(seq $CL_N); do
		if ! cl_xlbd_start $k || ! tb_wait 10 cl_connected $k; then
			tb_log "cluster: xlbd lb$k: $(tail -3 "$TB_TMP/lb$k.log.$CL_RUNS")"
			return 1
		fi
	done
	for k in $(seq $CL_N); do
		tb_wait 30 cl_established $k ||
			{ tb_log "cluster: BGP session lb$k: $(cl_rt_birdc show protocols lb$k)"; return 1; }
	done
}

# cl_kill K [link]: lbK dies. By default silently, as a host that loses power behind a switch:
# the router's side of the link drops every frame from lbK (xlb-sink in its counting, dropping
# mode takes the place of the XDP_PASS program), then lbK's xlbd and BIRD are killed with
# SIGKILL; the link stays up, no FIN or BFD packet of lbK arrives: only BFD can tell the router.
# With "link": lbK's link goes down first (the router sees the carrier go), then the kills.
cl_kill() {
	local i
	if [ "${2:-}" = link ]; then
		ip -n "$(tb_ns lb$1)" link set eth0 down
	else
		ip -n "$(tb_ns rt)" link set dev lb$1 xdp off
		tb_bg rt "$TB_TMP/dead-lb$1.sink" "$XLB_BUILD/xlb-sink" -t 300 lb$1
		for i in $(seq 500); do
			grep -q attached "$TB_TMP/dead-lb$1.sink" && break
			sleep 0.01
		done
		grep -q attached "$TB_TMP/dead-lb$1.sink" || return 1
	fi
	CL_KILL_MS=$(tb_now_ms)	# from here on nothing of lbK arrives
	CL_DEAD_SINK=$TB_LAST_PID
	kill -9 "${CL_XPID[$1]}" "${CL_BPID[$1]}" 2>/dev/null
	wait "${CL_XPID[$1]}" "${CL_BPID[$1]}" 2>/dev/null
	return 0
}

# cl_revive K: lbK after cl_kill: its link up, the router's XDP_PASS program back, its BIRD and
# xlbd started again (xlbd adopts its pinned datapath); waits for the router's session
cl_revive() {
	ip -n "$(tb_ns lb$1)" link set eth0 up
	if [ -n "${CL_DEAD_SINK:-}" ]; then
		tb_stop "$CL_DEAD_SINK"
		CL_DEAD_SINK=
	fi
	ip -n "$(tb_ns rt)" link set dev lb$1 xdp off 2>/dev/null
	tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass lb$1 || return 1
	cl_bird_start "$1" && cl_xlbd_start "$1" && tb_wait 10 cl_connected "$1" &&
		tb_wait 30 cl_established "$1"
}

# cl_cleanup: unmount the bpffs, then everything of tools/testbed.sh
cl_cleanup() {
	local k
	for k in $(seq $CL_N); do
		[ -n "$TB_TMP" ] && umount -l "$TB_TMP/bpf$k" 2>/dev/null
	done
	tb_cleanup
}
