#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Health probing closes the loop, end to end with real clients through the XDP balancer: a
# backend's server stops and xlbd's probes take it out (no new flow reaches it, flows on the
# others go on), it comes back and ramps in (slow start); drain keeps an established connection
# and takes no new one; agent weights steer the slot shares; a backup takes over when every
# primary fails and hands back; the panic threshold; a probe storm of 2,000 unreachable backends
# leaves the API answering promptly, rebuilt once per loop turn, not once per verdict.
#
# Topology: tools/testbed.sh (tb_build 3), xlbd on lb:eth0 probing be1..be3 over rt.
set -u
source "$(dirname "$0")/mntns.sh"	# the restart part mounts a bpffs of its own
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbhealth$$

VIP=$TB_VIP4
SVC="$VIP:80/tcp"
URL="http://$VIP/"

tb_test_start health "$XLB_BUILD"/{xlb-sink,xlb-decap,xlbd,xlb}
VIP2=198.18.0.11
if ! tb_build 3 || ! tb_vip_add $VIP2 || ! tb_decap_attach || ! tb_http_servers 80; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi
xlb() { "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" "$@"; }

# config VIP_EXTRA BACKEND_EXTRA... - write the config: the VIP with an http check on port 80 and
# VIP_EXTRA (JSON members, may be empty), backend i with BACKEND_EXTRA[i]
config() {
	local vx=$1 b1=${2:-} b2=${3:-} b3=${4:-} extra=${EXTRA_VIPS:-}
	cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4",
 "vips": [
  {"address": "$VIP", "port": 80, "proto": "tcp", "table_size": 65537,
   "check": {"type": "http", "path": "/", "port": 80}${vx:+, $vx},
   "backends": [{"address": "${TB_BE4[1]}"${b1:+, $b1}}, {"address": "${TB_BE4[2]}"${b2:+, $b2}},
                {"address": "${TB_BE4[3]}"${b3:+, $b3}}]}$extra
 ]}
EOF
}

# reload - SIGHUP to xlbd itself (TB_XLBD_PID is the timeout(1) around it) and wait for
# "reload: done" after it
reload() {
	local from pid
	from=$(($(stat -c %s "$TB_TMP/xlbd.log") + 1))
	pid=$(xlb -j status | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
	kill -HUP "$pid"
	tb_wait 10 sh -c "tail -c +$from '$TB_TMP/xlbd.log' | grep -q 'reload: done'" ||
		{ tb_log "reload failed: $(tail -c +$from "$TB_TMP/xlbd.log" | grep -v rebuilt | tail -5)"; return 1; }
}

# field I KEY - backend i's KEY in `xlb -j backend list` (health, why, effective_weight, slots)
field() {
	xlb -j backend list "$SVC" | python3 -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]:
        print(b[sys.argv[2]])' "${TB_BE4[$1]}" "$2"
}

# wait_field I KEY VALUE [SECONDS] - poll every 20 ms
wait_field() {
	local i
	for i in $(seq $((${4:-5} * 50))); do
		[ "$(field "$1" "$2")" = "$3" ] && return 0
		sleep 0.02
	done
	return 1
}

# tally ANSWERS NAME - how many answers NAME gave
tally() { grep -cxF -- "$2" <<<"$1"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# slow_uploads N - N POSTs of 300 kB at 60 kB/s (about 5 s each) in the background, outputs in
# $TB_TMP/up.N; pids in UPLOADS
UPLOADS=()
slow_uploads() {
	local i
	head -c 300000 /dev/zero >"$TB_TMP/body"
	UPLOADS=()
	for i in $(seq "$1"); do
		tb_bg client "$TB_TMP/up.$i" curl -s -m 20 --limit-rate 60k --data-binary "@$TB_TMP/body" \
			-H 'Content-Type: application/octet-stream' "$URL"
		UPLOADS+=("$TB_LAST_PID")
	done
}
uploads_wait() {
	local p
	for p in "${UPLOADS[@]}"; do wait "$p" 2>/dev/null; done
}

config '"slow_start_ms": 1500'
if ! tb_xlbd_start 300; then
	tb_not_ok "xlbd starts" "$(tail -5 "$TB_TMP/xlbd.log")"
	exit 1
fi
ok=1
for i in 1 2 3; do wait_field "$i" health up || ok=0; done
tb_check "every backend's http probe passes: health up" "$(xlb backend list)" [ $ok = 1 ]

# ---- failover: be2's server stops; flows on be1/be3 go on; no new flow reaches be2
slow_uploads 6
sleep 1
sum0=$(md5sum <"$TB_TMP/xlbd.json")
t0=$(now_ms)
tb_stop "${TB_HTTPD_PID[2]}"
if wait_field 2 health down 3; then
	t1=$(now_ms)
	tb_ok "be2 marked down $((t1 - t0)) ms after its server stopped (refused port)"
else
	tb_not_ok "be2 marked down after its server stopped" "$(xlb backend list)"
fi
tb_check "be2 has no slots and is no longer usable" "$(xlb backend list)" \
	sh -c '[ "$1" = 0 ] && [ "$2" = down ]' sh "$(field 2 slots)" "$(field 2 why)"
answers=$(tb_requests "$URL" 30)
tb_check "30 new connections after the verdict: none reaches be2, none fails" \
	"$(tr '\n' ' ' <<<"$answers")" \
	sh -c '[ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = 30 ]' sh "$(tally "$answers" be2)" \
	"$(tally "$answers" FAIL)" "$(($(tally "$answers" be1) + $(tally "$answers" be3)))"
uploads_wait
good=0 bad=0
for i in $(seq 6); do
	case $(cat "$TB_TMP/up.$i") in
	"be1 300000" | "be3 300000") good=$((good + 1)) ;;
	"") ;;		# it was on be2, whose server died
	*) bad=$((bad + 1)) ;;
	esac
done
tb_check "uploads in flight on be1/be3 across the failover complete whole ($good of 6)" \
	"$(cat "$TB_TMP"/up.*)" sh -c '[ "$1" -ge 1 ] && [ "$2" = 0 ]' sh "$good" "$bad"
ev=$(xlb events)
tb_check "one event line for the transition, with the probe's detail" "$ev" \
	[ "$(grep -c "backend ${TB_BE4[2]}:80: up -> down (http: connection refused" <<<"$ev")" = 1 ]
tb_check "the verdict is runtime state: the config file is not rewritten" "" \
	[ "$(md5sum <"$TB_TMP/xlbd.json")" = "$sum0" ]

# ---- recovery: be2 comes back and ramps in (slow start 1.5 s)
tb_http_server_start 2 80
ok=0
wait_field 2 health up 5 && ok=1
w=$(field 2 effective_weight) why=$(field 2 why)
tb_check "be2 up again after rise probes, ramping in: weight $w of 100 ($why)" "" \
	sh -c '[ "$1" = 1 ] && [ "$2" -lt 100 ] && [ "$2" -gt 0 ] && [ "$3" = "slow start" ]' sh \
	"$ok" "$w" "$why"
wait_field 2 why ok 4
tb_check "after the ramp: full weight, a third of the slots" "$(xlb backend list)" \
	sh -c '[ "$1" = 100 ] && [ "$2" -ge 21000 ]' sh "$(field 2 effective_weight)" "$(field 2 slots)"
answers=$(tb_requests "$URL" 30)
tb_check "new connections reach be2 again" "$(tr '\n' ' ' <<<"$answers")" \
	sh -c '[ "$1" -ge 1 ] && [ "$2" = 0 ]' sh "$(tally "$answers" be2)" "$(tally "$answers" FAIL)"

# ---- drain: an established connection stays, no new one comes
slow_uploads 6
sleep 1
target=
for i in 1 2 3; do
	if tb_exec "be$i" ss -Htn state established '( sport = :80 )' | grep -q .; then
		target=$i
		break
	fi
done
if [ -z "$target" ]; then
	tb_not_ok "drain: a backend with an upload in flight" "none found"
else
	xlb backend set "$SVC" "${TB_BE4[$target]}" drain >/dev/null
	answers=$(tb_requests "$URL" 30)
	tb_check "drain: no new connection reaches be$target" "$(tr '\n' ' ' <<<"$answers")" \
		[ "$(tally "$answers" "be$target")" = 0 ]
	uploads_wait
	n=$(cat "$TB_TMP"/up.* | grep -cx "be$target 300000")
	all=$(cat "$TB_TMP"/up.* | grep -c ' 300000$')
	tb_check "drain: its uploads in flight complete whole ($n on be$target), as all others" \
		"$(cat "$TB_TMP"/up.*)" sh -c '[ "$1" -ge 1 ] && [ "$2" = 6 ]' sh "$n" "$all"
	xlb backend set "$SVC" "${TB_BE4[$target]}" enable >/dev/null
fi

# ---- drain timeout: a draining backend loses its flows after drain_timeout_ms
config '"drain_timeout_ms": 700'
reload
xlb backend set "$SVC" "${TB_BE4[1]}" drain >/dev/null
why1=$(field 1 why)
ok=0
wait_field 1 why drained 3 && ok=1
tb_check "drain_timeout_ms: draining ($why1), then drained (its flows move)" "$(xlb backend list)" \
	sh -c '[ "$1" = draining ] && [ "$2" = 1 ]' sh "$why1" "$ok"
xlb backend set "$SVC" "${TB_BE4[1]}" enable >/dev/null

# ---- agent weights: each backend's agent reports a share of its weight
cat >"$TB_TMP/agent.py" <<'EOF'
import socket, sys, time, signal
signal.alarm(120)
reply_file = sys.argv[1]
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 8081))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        c.sendall((open(reply_file).read().strip() + "\n").encode())
    except OSError:
        pass
    c.close()
EOF
for i in 1 2 3; do
	echo "$((i * 25))%" >"$TB_TMP/agent$i"
	tb_bg "be$i" "$TB_TMP/agent$i.log" python3 "$TB_TMP/agent.py" "$TB_TMP/agent$i"
done
sleep 0.3
config '"slow_start_ms": 1500' \
	'"check": {"agent_port": 8081, "agent_interval_ms": 200}' \
	'"check": {"agent_port": 8081, "agent_interval_ms": 200}' \
	'"check": {"agent_port": 8081, "agent_interval_ms": 200}'
reload
ok=0
wait_field 3 effective_weight 75 5 && wait_field 1 effective_weight 25 5 && ok=1
slots=$(xlb -j table "$SVC" | python3 -c '
import json, sys
t = json.load(sys.stdin)
print(" ".join(str(s["slots"]) for s in sorted(t["slots"], key=lambda s: s["address"])))')
read -r s1 s2 s3 <<<"$slots"
tb_check "agents at 25/50/75%: slot shares 1:2:3 ($slots, xlb -j table)" "$(xlb backend list)" \
	python3 -c 'import sys; s=[int(x) for x in sys.argv[2:5]]; t=sum(s)
sys.exit(0 if sys.argv[1] == "1" and all(abs(s[i] / t - (i + 1) / 6) < 0.01 for i in range(3)) else 1)' \
	"$ok" "$s1" "$s2" "$s3"
echo "drain" >"$TB_TMP/agent3"
ok=0
wait_field 3 why "agent drain" 5 && ok=1
tb_check "agent says drain: no slots, still usable (keeps its flows)" "$(xlb backend list)" \
	sh -c '[ "$1" = 1 ] && [ "$2" = 0 ] && [ "$3" = up ]' sh "$ok" "$(field 3 slots)" "$(field 3 health)"
echo "down #maintenance window" >"$TB_TMP/agent3"
tb_check "agent says down: taken out" "$(xlb backend list)" wait_field 3 why "agent down" 5
echo "100% up" >"$TB_TMP/agent3"
tb_check "agent says 100% up: back at full weight" "$(xlb backend list)" \
	wait_field 3 effective_weight 100 5
echo "bogus words" >"$TB_TMP/agent3"
sleep 0.6
tb_check "a malformed agent reply changes nothing" "$(xlb backend list)" \
	[ "$(field 3 effective_weight)" = 100 ]

# ---- backup pool: be3 is a backup; both primaries fail; be3 takes over, then hands back
config '' '' '' '"backup": true'
reload
tb_check "a backup gets no slots while a primary is usable" "$(xlb backend list)" \
	sh -c '[ "$1" = 0 ] && [ "$2" = backup ]' sh "$(field 3 slots)" "$(field 3 why)"
tb_stop "${TB_HTTPD_PID[1]}"
tb_stop "${TB_HTTPD_PID[2]}"
ok=0
wait_field 3 slots 65537 5 && ok=1
answers=$(tb_requests "$URL" 20)
tb_check "every primary down: the backup takes the whole table and every request" \
	"$(tr '\n' ' ' <<<"$answers")" sh -c '[ "$1" = 1 ] && [ "$2" = 20 ]' sh "$ok" "$(tally "$answers" be3)"
tb_http_server_start 1 80
ok=0
wait_field 1 health up 5 && wait_field 3 slots 0 5 && ok=1
answers=$(tb_requests "$URL" 20)
tb_check "a primary back: the backup hands back" "$(tr '\n' ' ' <<<"$answers")" \
	sh -c '[ "$1" = 1 ] && [ "$2" = 20 ]' sh "$ok" "$(tally "$answers" be1)"

# ---- panic threshold: 1 of 3 primaries healthy is below 60 %: balance over all of them
tb_http_server_start 2 80
config '"min_healthy_pct": 60'
reload
wait_field 2 health up 5
tb_stop "${TB_HTTPD_PID[1]}"
tb_stop "${TB_HTTPD_PID[2]}"
ok=0
wait_field 1 why panic 5 && wait_field 2 why panic 5 && ok=1
tb_check "below min_healthy_pct: failed primaries keep their weight (why: panic)" \
	"$(xlb backend list)" sh -c '[ "$1" = 1 ] && [ "$2" -gt 0 ]' sh "$ok" "$(field 1 slots)"
tb_check "panic logged loudly" "$(xlb events | tail -5)" \
	grep -q "warn: vip $SVC: PANIC: 1 of 3 primaries healthy" "$TB_TMP/xlbd.log"
tb_http_server_start 1 80
tb_http_server_start 2 80
tb_check "panic over once enough primaries pass" "$(xlb backend list)" wait_field 1 why ok 5

# ---- a server behind two VIPs: probed once, its verdict swaps both tables in one batch
EXTRA_VIPS=",
  {\"address\": \"$VIP2\", \"port\": 80, \"proto\": \"tcp\",
   \"check\": {\"type\": \"http\", \"path\": \"/\", \"port\": 80},
   \"backends\": [{\"address\": \"${TB_BE4[1]}\"}, {\"address\": \"${TB_BE4[2]}\"},
                {\"address\": \"${TB_BE4[3]}\"}]}"
config ''
reload
wait_field 3 health up 5
from=$(($(stat -c %s "$TB_TMP/xlbd.log") + 1))
tb_stop "${TB_HTTPD_PID[3]}"
wait_field 3 health down 5
sleep 0.2
log=$(tail -c +"$from" "$TB_TMP/xlbd.log")
tb_check "shared server: one checker, one verdict for both VIPs" "$log" \
	grep -q "backend ${TB_BE4[3]}:80 (in 2 VIPs): up -> down" <<<"$log"
tb_check "shared server: both VIPs' tables swapped in one batch" "$log" \
	grep -q "2 tables swapped in one batch" <<<"$log"
answers=$(tb_requests "http://$VIP2/" 20)
tb_check "shared server: the second VIP's new connections avoid it too" \
	"$(tr '\n' ' ' <<<"$answers")" sh -c '[ "$1" = 0 ] && [ "$2" = 0 ]' sh \
	"$(tally "$answers" be3)" "$(tally "$answers" FAIL)"
tb_http_server_start 3 80

# ---- a change through the API syncs the checkers of its VIP's backends alone: the one it
# removes leaves the shared checker, the one it adds joins it and takes its verdict at once
wait_field 3 health up 5
xlb backend del "$VIP2:80/tcp" "${TB_BE4[3]}" >/dev/null
from=$(($(stat -c %s "$TB_TMP/xlbd.log") + 1))
tb_stop "${TB_HTTPD_PID[3]}"
wait_field 3 health down 5
sleep 0.2
log=$(tail -c +"$from" "$TB_TMP/xlbd.log")
tb_check "backend del through the API: the shared checker is the first VIP's alone" "$log" \
	grep -q "vip $SVC: backend ${TB_BE4[3]}:80: up -> down" <<<"$log"
xlb backend add "$VIP2:80/tcp" "${TB_BE4[3]}" >/dev/null
h=$(xlb -j backend list "$VIP2:80/tcp" | python3 -c '
import json, sys
print([b for b in json.load(sys.stdin)["backends"] if b["address"] == sys.argv[1]][0]["health"])' \
	"${TB_BE4[3]}")
tb_check "backend add through the API: joins the running checker, down at once ($h)" \
	"$(xlb backend list "$VIP2:80/tcp")" [ "$h" = down ]
tb_http_server_start 3 80

# ---- probe storm: 2,000 backends that never answer (no route), probed every 200 ms
EXTRA_VIPS=$(python3 -c '
print(",\n  {\"address\": \"198.18.0.20\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 65537,"
      " \"check\": {\"type\": \"tcp\"}, \"backends\": [" +
      ", ".join("{\"address\": \"198.19.%d.%d\"}" % (i // 250, i % 250 + 1) for i in range(2000)) +
      "]}")')
config ''
reload
worst=0
for i in $(seq 20); do
	a=$(now_ms)
	xlb status >/dev/null || worst=99999
	b=$(now_ms)
	[ $((b - a)) -gt "$worst" ] && worst=$((b - a))
	sleep 0.1
done
tb_check "2,000 unreachable backends probed every 200 ms: the API answers within ${worst} ms (< 500)" \
	"" [ "$worst" -lt 500 ]
down=$(xlb -j backend list 198.18.0.20:80/tcp | python3 -c '
import json, sys
print(sum(b["health"] == "down" for b in json.load(sys.stdin)["backends"]))')
rebuilds=$(grep -c '198.18.0.20:80/tcp: table rebuilt' "$TB_TMP/xlbd.log")
tb_check "their verdicts ($down down) cost $rebuilds rebuilds of their VIP, not one per verdict" \
	"" sh -c '[ "$1" -ge 1900 ] && [ "$2" -le 30 ]' sh "$down" "$rebuilds"
tb_check "the probed VIP keeps its own backends meanwhile" "$(xlb backend list "$SVC")" \
	sh -c '[ "$1" = up ] && [ "$2" = up ]' sh "$(field 1 health)" "$(field 3 health)"

tb_check "xlbd still runs (no crash)" "$(tail -5 "$TB_TMP/xlbd.log")" \
	kill -0 "$TB_XLBD_PID"
tb_stop "$TB_XLBD_PID"

# ---- restart: a new xlbd adopts the pins and starts each backend in the state the datapath
# holds (be2 down stays down, the others keep their slots) before any probe answers. The pins
# live on a bpffs of this test's own mount namespace, which `ip netns exec` inherits.
EXTRA_VIPS=
config ''
PINS=$TB_TMP/bpf
mkdir -p "$PINS" && mount -t bpf bpf "$PINS"
xlbd_bg() {
	tb_bg lb "$TB_TMP/xlbd.log" "$XLB_BUILD/xlbd" --config "$TB_TMP/xlbd.json" \
		--socket "$TB_XLBD_SOCK" --pin-dir "$PINS/xlb" --bpffs "$PINS" --foreground
	TB_XLBD_PID=$TB_LAST_PID
	tb_wait 15 "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" status
}
xlbd_bg
for i in 1 2 3; do wait_field "$i" health up 5; done
tb_stop "${TB_HTTPD_PID[2]}"
wait_field 2 health down 5
tb_stop "$TB_XLBD_PID"		# SIGTERM: program attached, maps pinned
xlbd_bg				# (its log starts afresh)
h1=$(field 1 health) h2=$(field 2 health) s1=$(field 1 slots) s2=$(field 2 slots)
tb_check "restart: adopted, be2 still down with no slots, be1 up with its slots (h=$h1/$h2 s=$s1/$s2)" \
	"$(grep -v rebuilt "$TB_TMP/xlbd.log" | tail -5)" \
	sh -c '[ "$1" = up ] && [ "$2" = down ] && [ "$3" -gt 30000 ] && [ "$4" = 0 ]' sh \
	"$h1" "$h2" "$s1" "$s2"
tb_check "restart: the pinned table is kept, not rebuilt" "$(grep -v 'backend.*added' "$TB_TMP/xlbd.log" | tail -8)" \
	grep -q "vip $SVC: pinned table kept" "$TB_TMP/xlbd.log"
answers=$(tb_requests "$URL" 20)
tb_check "restart: no new connection reaches be2, none fails" "$(tr '\n' ' ' <<<"$answers")" \
	sh -c '[ "$1" = 0 ] && [ "$2" = 0 ]' sh "$(tally "$answers" be2)" "$(tally "$answers" FAIL)"
tb_stop "$TB_XLBD_PID"
tb_exec lb ip link set "$TB_LB_IF" xdp off 2>/dev/null
umount -l "$PINS"
