#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Route announcement through BIRD 2, end to end: xlbd keeps the VIP address on its announce
# interface (xlb0) and the LB host's BIRD (tools/bird/bird.conf, adapted) exports it over BGP
# with BFD to a second BIRD in the router namespace. On the router (birdc show route): the route
# is there while a backend is usable; withdrawn when every backend's server stops, by
# `xlb vip set VIP announce off`, and by xlbd --detach-on-exit; it never leaves across an xlbd
# restart (SIGTERM, then a new xlbd adopts, polled all along); graceful shutdown (xlb-gshut)
# tags it with (65535,0) and the router lowers its preference to 0; a frozen LB BIRD (SIGSTOP:
# no FIN, only BFD can tell) is routed around in well under the BGP hold time.
#
# Topology: tools/testbed.sh (tb_build 2): rt is the router (BIRD, AS 64500, 198.18.0.6), lb the
# LB host (xlbd on eth0, BIRD, AS 64512, 198.18.0.5); sockets and configs under the test's temp
# folder; every process and namespace goes with tb_cleanup.
set -u
source "$(dirname "$0")/mntns.sh"	# the restarts share a bpffs of this test's own
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbbgp$$

VIP=$TB_VIP4
SVC="$VIP:80/tcp"

tb_test_start bgp "$XLB_BUILD"/{xlb-sink,xlb-decap,xlbd,xlb}
for c in bird birdc; do
	if ! command -v $c >/dev/null; then
		tb_ok "bgp # SKIP no $c (Debian bird2; make deps)"
		exit 0
	fi
done
if ! tb_build 2 || ! tb_decap_attach || ! tb_http_servers 80; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi
xlb() { "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" "$@"; }
# the sanitized daemon when it is built (make test builds it)
XLBD_BIN=$XLB_BUILD/san/xlbd
[ -x "$XLBD_BIN" ] || XLBD_BIN=$XLB_BUILD/xlbd
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ---- the two BIRDs: the LB host's from the shipped example, the router's written here
LBB=$TB_TMP/bird-lb RTB=$TB_TMP/bird-rt
mkdir -p "$LBB" "$RTB"
sed 's/^log syslog all;/log "'"${LBB//\//\\/}"'\/bird.log" all;/' tools/bird/bird.conf >"$LBB/bird.conf"
cp tools/bird/xlb-gshut.conf "$LBB/"
cat >"$RTB/bird.conf" <<EOF
log "$RTB/bird.log" all;
router id 198.18.0.6;
protocol device { scan time 10; }
protocol bfd {
	interface "*" { min rx interval 100 ms; min tx interval 100 ms; idle tx interval 300 ms;
			multiplier 3; };
}
protocol bgp lb1 {
	local as 64500;
	neighbor 198.18.0.5 as 64512;
	bfd on;
	error wait time 1, 5;		# back soon after the BFD part below
	connect delay time 1;
	ipv4 {
		# RFC 8326: a route tagged GRACEFUL_SHUTDOWN is least preferred
		import filter { if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; };
		export none;
	};
}
EOF
LB_SOCK=$LBB/bird.ctl RT_SOCK=$RTB/bird.ctl
bird_start() {		# bird_start NS DIR SOCK: BIRD in the foreground, pid in TB_LAST_PID
	tb_bg "$1" "$2/stderr.log" bird -f -c "$2/bird.conf" -s "$3" -P "$2/bird.pid"
}
bird_start rt "$RTB" "$RT_SOCK"
RT_BIRD=$TB_LAST_PID
bird_start lb "$LBB" "$LB_SOCK"
LB_BIRD=$TB_LAST_PID
established() { tb_exec "$1" birdc -s "$2" show protocols "$3" | grep -q Established; }
if tb_wait 20 established rt "$RT_SOCK" lb1 && tb_wait 10 established lb "$LB_SOCK" router1; then
	tb_ok "the BGP session between lb and the router is established"
else
	tb_not_ok "the BGP session between lb and the router is established" \
		"$(tb_exec rt birdc -s "$RT_SOCK" show protocols all lb1 | tail -5 | tr '\n' ' ')"
	exit 1
fi
bfd=$(tb_exec rt birdc -s "$RT_SOCK" show bfd sessions)
tb_check "the session runs BFD (Up on the router)" "$bfd" grep -q "198.18.0.5.*Up" <<<"$bfd"

# ---- xlbd: the VIP with an http check on be1, be2; announce on xlb0
cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4", "encap_source6": "$TB_LB6",
 "announce": {"interface": "xlb0"},
 "vips": [
  {"address": "$VIP", "port": 80, "proto": "tcp", "table_size": 251,
   "check": {"type": "http", "path": "/", "port": 80},
   "backends": [{"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"}]},
  {"address": "$VIP", "port": 443, "proto": "tcp", "table_size": 251},
  {"address": "$TB_VIP6", "port": 80, "proto": "tcp", "table_size": 251,
   "check": {"type": "http", "path": "/", "port": 80},
   "backends": [{"address": "${TB_BE6[1]}"}, {"address": "${TB_BE6[2]}"}]}
 ]}
EOF
TB_XLBD_SOCK=$TB_TMP/xlbd.sock
PINS=$TB_TMP/bpf
mkdir -p "$PINS" && mount -t bpf bpf "$PINS"
trap 'umount -l "$PINS" 2>/dev/null; tb_cleanup; echo "1..$TB_T"' EXIT
xlbd_bg() {		# xlbd_bg [ARGS...]: xlbd on the shared pins; wait for its socket
	tb_bg lb "$TB_TMP/xlbd.log.$((++XLBD_RUNS))" "$XLBD_BIN" --config "$TB_TMP/xlbd.json" \
		--socket "$TB_XLBD_SOCK" --pin-dir "$PINS/xlb" --bpffs "$PINS" --foreground -v "$@"
	TB_XLBD_PID=$TB_LAST_PID
	XLOG=$TB_TMP/xlbd.log.$XLBD_RUNS
	tb_wait 15 "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" status
}
XLBD_RUNS=0

# routed: the router's BIRD holds a route for the VIP (from lb); lb_holds: xlb0 has the address
routed() { tb_exec rt birdc -s "$RT_SOCK" show route "$VIP/32" | grep -q "^$VIP/32"; }
unrouted() { ! routed; }
lb_holds() { tb_exec lb ip -br addr show dev xlb0 2>/dev/null | grep -qw "$VIP/32"; }
rt_route() { tb_exec rt birdc -s "$RT_SOCK" show route all "$VIP/32" | tr '\n' ' '; }
listed() { lb_holds && xlb -j vip list | grep -q '"announced": *true'; }
lb_holds6() { tb_exec lb ip -br -6 addr show dev xlb0 2>/dev/null | grep -qw "$TB_VIP6/128"; }
off_kept() { grep -q '"announce": false' "$TB_TMP/xlbd.json" && ! lb_holds; }
gshut() { rt_route | grep -q "(65535,0)" && rt_route | grep -q "BGP.local_pref: 0"; }
no_gshut() { routed && ! rt_route | grep -q "(65535,0)"; }
all_withdrawn() { ! lb_holds && ! lb_holds6 && grep -q 'all VIP addresses withdrawn from xlb0' "$XLOG"; }

if ! xlbd_bg; then
	tb_not_ok "xlbd starts with announce on xlb0" "$(tail -5 "$XLOG")"
	exit 1
fi
if ms=$(tb_wait_ms 15 routed); then
	tb_ok "a usable backend: the VIP route reaches the router ($ms ms after xlbd served)"
else
	tb_not_ok "a usable backend: the VIP route reaches the router" "$(rt_route) $(tail -3 "$XLOG")"
fi
tb_check "the address is on xlb0 in lb, and vip list says announced" "$(xlb -j vip list)" listed
st=$(xlb -j status)
tb_check "status: announce on xlb0 ready with 2 addresses" "$st" \
	grep -q '"announce": *{"interface": *"xlb0", *"state": *"ready", *"addresses": *2}' <<<"$st"
tb_check "the IPv6 VIP's address is on xlb0 too (/128), the port-443 VIP shares the IPv4 one" \
	"$(tb_exec lb ip addr show dev xlb0)" \
	sh -c '[ "$(ip netns exec "$1" ip -4 -br addr show dev xlb0 | wc -w)" = 3 ]' sh "$(tb_ns lb)"
tb_wait 5 lb_holds6 || tb_not_ok "IPv6 VIP address on xlb0" "$(tb_exec lb ip addr show dev xlb0)"
nh=$(rt_route)
tb_check "the router's route goes via lb (198.18.0.5), learnt over BGP" "$nh" \
	bash -c 'grep -q "via 198.18.0.5" <<<"$1" && grep -q "BGP.origin" <<<"$1"' sh "$nh"

# ---- restart: SIGTERM, a new xlbd adopts: the route never leaves (polled every 20 ms)
( while :; do if routed; then echo up; else echo DOWN; fi; sleep 0.02; done ) >"$TB_TMP/poll" 2>&1 &
POLLER=$!
TB_PIDS+=("$POLLER")
sleep 0.3
tb_stop "$TB_XLBD_PID"
gone=$(lb_holds && echo kept || echo gone)
xlbd_bg
sleep 1.5
kill "$POLLER" 2>/dev/null
wait "$POLLER" 2>/dev/null
polls=$(wc -l <"$TB_TMP/poll") downs=$(grep -c DOWN "$TB_TMP/poll")
tb_check "xlbd restart: the address stays on xlb0 while no xlbd runs ($gone)" "" [ "$gone" = kept ]
tb_check "xlbd restart: the router had the route at each of $polls polls ($downs without)" \
	"$(grep -i announce "$XLOG" | tail -3 | tr '\n' ' ')" \
	sh -c '[ "$1" -ge 20 ] && [ "$2" = 0 ]' sh "$polls" "$downs"
tb_check "the new xlbd adopted the addresses (no withdraw in its log)" "$(grep -i announce "$XLOG" | tr '\n' ' ')" \
	sh -c '! grep -q "withdraw:" "$1" && grep -q "xlb0 holds 2 VIP addresses" "$1"' sh "$XLOG"

# ---- announce off / on (maintenance), persisted in the file
out=$(xlb vip set "$SVC" announce off 2>&1)
if ms=$(tb_wait_ms 10 unrouted); then
	tb_ok "vip set announce off: the route is withdrawn from the router ($ms ms)"
else
	tb_not_ok "vip set announce off: the route is withdrawn from the router" "$out $(rt_route)"
fi
tb_check "announce off is kept in the config file, the address left xlb0" "$(cat "$TB_TMP/xlbd.json")" \
	off_kept
err=$(xlb vip set "$SVC" announce maybe 2>&1)
tb_check "vip set announce maybe: a usage error, nothing changed" "$err" \
	bash -c 'grep -q "is not on or off" <<<"$1" && grep -q "\"announce\": false" "$2"' sh "$err" "$TB_TMP/xlbd.json"
xlb vip set "$SVC" announce on >/dev/null
if ms=$(tb_wait_ms 10 routed); then
	tb_ok "vip set announce on: the route is back ($ms ms)"
else
	tb_not_ok "vip set announce on: the route is back" "$(rt_route)"
fi

# ---- the announce section removed by a reload: withdrawn; put back: announced again
set_announce() {	# set_announce on|off: the config file with or without the section, SIGHUP
	local from
	python3 - "$TB_TMP/xlbd.json" "$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
if sys.argv[2] == "on":
    c["announce"] = {"interface": "xlb0"}
else:
    c.pop("announce", None)
json.dump(c, open(sys.argv[1], "w"))
EOF
	from=$(($(stat -c %s "$XLOG") + 1))
	kill -HUP "$TB_XLBD_PID"
	tb_wait 10 sh -c "tail -c +$from '$XLOG' | grep -q 'reload: done'"
}
set_announce off
if ms=$(tb_wait_ms 10 unrouted) && ! lb_holds; then
	tb_ok "reload without the announce section: withdrawn ($ms ms)"
else
	tb_not_ok "reload without the announce section: withdrawn" "$(rt_route) $(tail -3 "$XLOG")"
fi
set_announce on
if ms=$(tb_wait_ms 10 routed); then
	tb_ok "reload with the section again: announced ($ms ms)"
else
	tb_not_ok "reload with the section again: announced" "$(rt_route) $(tail -3 "$XLOG")"
fi

# ---- graceful shutdown of the LB host: (65535,0) on the route, local preference 0 at the router
gs=$(tools/bird/xlb-gshut on -c "$LBB" -s "$LB_SOCK" -w 0 2>&1 && echo done)
if tb_wait 5 gshut; then
	tb_ok "xlb-gshut on: the router sees GRACEFUL_SHUTDOWN and local preference 0"
else
	tb_not_ok "xlb-gshut on: the router sees GRACEFUL_SHUTDOWN and local preference 0" "$gs $(rt_route)"
fi
tools/bird/xlb-gshut off -c "$LBB" -s "$LB_SOCK" >/dev/null 2>&1
tb_check "xlb-gshut off: the community is gone, the route stays" "$(rt_route)" \
	tb_wait 5 no_gshut

# ---- every backend fails: withdrawn; one comes back: announced again
tb_stop "${TB_HTTPD_PID[1]}"
tb_stop "${TB_HTTPD_PID[2]}"
if ms=$(tb_wait_ms 15 unrouted); then
	tb_ok "every backend's server stopped: the route is withdrawn ($ms ms after the last stopped)"
else
	tb_not_ok "every backend's server stopped: the route is withdrawn" "$(rt_route) $(xlb backend list)"
fi
tb_http_server_start 2 80
if ms=$(tb_wait_ms 15 routed); then
	tb_ok "be2's server is back: the route is announced again ($ms ms)"
else
	tb_not_ok "be2's server is back: the route is announced again" "$(xlb backend list)"
fi

# ---- BFD: the LB host's BIRD freezes (no FIN on the BGP session): the router drops the route
kill -STOP "$LB_BIRD"
if ms=$(tb_wait_ms 10 unrouted); then
	tb_ok "lb's BIRD frozen: BFD takes the route off the router in $ms ms (bound 3000 ms)"
	[ "$ms" -le 3000 ] || tb_not_ok "BFD failover within 3 s" "$ms ms"
else
	tb_not_ok "lb's BIRD frozen: BFD takes the route off the router" "$(rt_route)"
fi
echo "# bfd_failover_ms=${ms:-none}"
kill -CONT "$LB_BIRD"
tb_stop "$LB_BIRD"		# its session is gone: a fresh one connects at once
bird_start lb "$LBB" "$LB_SOCK"
LB_BIRD=$TB_LAST_PID
if ms=$(tb_wait_ms 30 routed); then
	tb_ok "a new BIRD on lb: the session comes back with the route ($ms ms)"
else
	tb_not_ok "a new BIRD on lb: the session comes back with the route" "$(rt_route)"
fi

# ---- --detach-on-exit withdraws
tb_stop "$TB_XLBD_PID"
xlbd_bg --detach-on-exit
tb_check "xlbd --detach-on-exit started: the route is there" "$(rt_route)" tb_wait 5 routed
tb_stop "$TB_XLBD_PID"
if ms=$(tb_wait_ms 10 unrouted); then
	tb_ok "xlbd --detach-on-exit: the route is withdrawn ($ms ms after it exited)"
else
	tb_not_ok "xlbd --detach-on-exit: the route is withdrawn" "$(rt_route) $(tail -3 "$XLOG")"
fi
tb_check "xlbd --detach-on-exit: xlb0 holds no VIP address (IPv6 either); its log says so" \
	"$(grep -i announce "$XLOG" | tr '\n' ' ')" \
	all_withdrawn
tb_check "no sanitizer report in the xlbd logs" "$(grep -hE "runtime error|Sanitizer" "$TB_TMP"/xlbd.log.* | head -3)" \
	sh -c '! grep -qE "runtime error|Sanitizer" "$@"' sh "$TB_TMP"/xlbd.log.*
exit 0
