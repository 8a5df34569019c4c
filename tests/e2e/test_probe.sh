#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The probe engine and the health checkers against real servers in two namespaces: every probe
# type's outcomes and details over IPv4 and IPv6, verdicts that follow a server stopped and
# started, detection time, the scheduler's intervals, agent feedback, and a probe storm.
#
#	cl eth0 ------------------------------ eth0 srv
#	198.18.5.1/24, .3 (second source)      198.18.5.2/24, 2001:db8:5::2/64
#	2001:db8:5::1/64, ::3                  tests/e2e/probe_srv.py: tcp, http, udp, agent servers
#	probe_drv (tests/e2e/probe_drv.c)      blackhole 198.18.6.0/24, 2001:db8:6::/64 (silent)
#	unreachable 198.18.7.0/24 (local)
#
# The driver runs sanitized (PROBE_DRV overrides it); its leak and UB reports fail the case.
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbprobe$$
DRV=${PROBE_DRV:-$XLB_BUILD/san/tests/e2e/probe_drv}
SRV=tests/e2e/probe_srv.py
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

S4=198.18.5.2 S6=2001:db8:5::2
SILENT4=198.18.6.1 SILENT6=2001:db8:6::1
UNREACH4=198.18.7.1

tb_test_start probe "$DRV"
if ! command -v python3 >/dev/null; then
	tb_ok "probe # SKIP no python3"
	exit 0
fi

tb_tmp
if ! tb_ns_add cl || ! tb_ns_add srv || ! tb_link cl eth0 srv eth0 ||
   ! tb_addr cl eth0 198.18.5.1/24 198.18.5.3/24 2001:db8:5::1/64 2001:db8:5::3/64 ||
   ! tb_addr srv eth0 $S4/24 $S6/64; then
	tb_not_ok "namespaces" "see the messages above"
	exit 1
fi
ip -n "$(tb_ns cl)" route add 198.18.6.0/24 via $S4
ip -n "$(tb_ns cl)" -6 route add 2001:db8:6::/64 via $S6
ip -n "$(tb_ns srv)" route add blackhole 198.18.6.0/24
ip -n "$(tb_ns srv)" -6 route add blackhole 2001:db8:6::/64
ip -n "$(tb_ns cl)" route add unreachable 198.18.7.0/24

echo 200 >"$TB_TMP/status"
long_line=$(printf 'up%.0s' $(seq 150))	# 300 bytes, no newline
tb_bg srv "$TB_TMP/srv.log" python3 "$SRV" tcp:8001 silent:8003 "http:8080:$TB_TMP/status" \
	'line:8005:SSH-2.0-OpenSSH_9.2\r\n' longstatus:8006 udpecho:5353 \
	'line:9001:50%\n' 'line:9002:drain\n' 'line:9003:down#maint window\n' \
	'line:9004:bogus words\n' 'agentsend:9005:hello:75%\n' peer:9006 "line:9008:$long_line"
if ! tb_wait 10 grep -q ready "$TB_TMP/srv.log"; then
	tb_not_ok "servers" "$(cat "$TB_TMP/srv.log")"
	exit 1
fi

OUT=
# probe_case NAME OK DETAIL EXTRA DRIVER-ARGS...: one probe; ok=OK, the detail starts with DETAIL,
# the output contains EXTRA, the driver exits 0 (no sanitizer report)
probe_case() {
	local name=$1 want=$2 detail=$3 extra=$4 rc
	shift 4
	OUT=$(tb_exec cl "$DRV" probe "$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [[ $OUT == "ok=$want "* && $OUT == *"detail=\"$detail"* &&
	      $OUT == *"$extra"* ]]; then
		tb_ok "$name"
	else
		tb_not_ok "$name" "rc $rc: $(echo "$OUT" | head -5 | tr '\n' ' ')"
	fi
}
latency_us() { sed -n 's/.*latency_us=\([0-9]*\).*/\1/p' <<<"$OUT"; }
# latency_in NAME LO_MS HI_MS: the last probe's latency within [LO, HI] ms
latency_in() {
	local l
	l=$(latency_us)
	if [ -n "$l" ] && [ "$l" -ge $(($2 * 1000)) ] && [ "$l" -le $(($3 * 1000)) ]; then
		tb_ok "$1 (${l} us)"
	else
		tb_not_ok "$1" "latency ${l:-?} us, want $2..$3 ms"
	fi
}

# ---- tcp
probe_case "tcp: listener -> ok" 1 "connected" "" tcp $S4:8001
probe_case "tcp: closed port -> connection refused" 0 "connection refused" "" tcp $S4:8002
probe_case "tcp: silent host -> timeout" 0 "timeout connecting" "" --timeout 300 tcp $SILENT4:80
latency_in "tcp: silent host gives up at its timeout" 290 800
probe_case "tcp: no route -> host unreachable" 0 "host unreachable" "" tcp $UNREACH4:80
latency_in "tcp: no route fails at once" 0 100

# ---- http
probe_case "http: 200 -> ok" 1 "http status 200" "status=200" --path /health http $S4:8080
echo 500 >"$TB_TMP/status"
probe_case "http: 500 -> failure" 0 "http status 500" "status=500" --path /health http $S4:8080
probe_case "http: 500 within an expected 500-599 -> ok" 1 "http status 500" "" \
	--path /health --expect 500-599 http $S4:8080
echo 200 >"$TB_TMP/status"
probe_case "http: 200 outside an expected 500-599 -> failure" 0 "http status 200" "" \
	--path /health --expect 500-599 http $S4:8080
probe_case "http: the default path / -> 404 here" 0 "http status 404" "" http $S4:8080
probe_case "http: Host header sent as configured" 1 "http status 200" "" \
	--path /host --host probe.example http $S4:8080
probe_case "http: Host header defaults to the address" 0 "http status 400" "" \
	--path /host http $S4:8080
probe_case "http: a 100 KiB reply is fine (only the status line is read)" 1 "http status 200" "" \
	--path /big http $S4:8080
probe_case "http: accepts, never answers -> timeout" 0 "timeout waiting for the reply" "" \
	--timeout 300 http $S4:8003
latency_in "http: silent server gives up at its timeout" 290 800
probe_case "http: not HTTP -> malformed" 0 "malformed http status line" "" http $S4:8005
probe_case "http: no line end in 4096 bytes -> failure" 0 \
	"no http status line in the first 4096 bytes" "" http $S4:8006
probe_case "http: closed without reply -> failure" 0 "connection" "" http $S4:8001
probe_case "http: closed port -> connection refused" 0 "connection refused" "" http $S4:8081

# ---- udp
probe_case "udp: echo -> ok" 1 "udp reply (4 bytes)" "" --payload ping udp $S4:5353
probe_case "udp: reply starts with the expected bytes -> ok" 1 "udp reply" "" \
	--payload pingpong --expect-reply ping udp $S4:5353
probe_case "udp: other reply -> mismatch" 0 "reply mismatch" "" --payload ping --expect-reply pong \
	udp $S4:5353
probe_case "udp: closed port (ICMP) -> connection refused" 0 "connection refused" "" \
	--payload ping udp $S4:5354
latency_in "udp: closed port fails at once" 0 150
probe_case "udp: silent host -> timeout" 0 "timeout waiting for the reply" "" --timeout 300 \
	--payload ping udp $SILENT4:53

# ---- agent
probe_case "agent: 50%" 1 "agent" "weight=50 state=none" agent $S4:9001
probe_case "agent: drain" 1 "agent" "weight=-1 state=drain" agent $S4:9002
probe_case "agent: down#maint window" 1 "agent" 'state=down reason="maint window"' agent $S4:9003
probe_case "agent: unknown words -> malformed" 0 "malformed agent reply" "" agent $S4:9004
probe_case "agent: over-long line -> malformed" 0 "agent reply longer than 256 bytes" "" \
	agent $S4:9008
probe_case "agent: the configured string is sent" 1 "agent" "weight=75" --send $'hello\n' \
	agent $S4:9005
probe_case "agent: unreachable -> failure" 0 "connection refused" "" agent $S4:9099

# ---- source address
probe_case "source: default address" 1 "agent" 'reason="198.18.5.1"' agent $S4:9006
probe_case "source: bound to 198.18.5.3" 1 "agent" 'reason="198.18.5.3"' --source 198.18.5.3 \
	agent $S4:9006
probe_case "source: bound to 2001:db8:5::3" 1 "agent" 'reason="2001:db8:5::3"' \
	--source 2001:db8:5::3 agent "[$S6]:9006"

# ---- IPv6
probe_case "ipv6 tcp: listener -> ok" 1 "connected" "" tcp "[$S6]:8001"
probe_case "ipv6 tcp: closed port -> connection refused" 0 "connection refused" "" tcp "[$S6]:8002"
probe_case "ipv6 tcp: silent host -> timeout" 0 "timeout connecting" "" --timeout 300 \
	tcp "[$SILENT6]:80"
probe_case "ipv6 http: 200 -> ok" 1 "http status 200" "" --path /health http "[$S6]:8080"
probe_case "ipv6 http: Host header [addr]:port" 0 "http status 400" "" \
	--path /host http "[$S6]:8080"
probe_case "ipv6 udp: echo -> ok" 1 "udp reply" "" --payload ping udp "[$S6]:5353"
probe_case "ipv6 udp: closed port -> connection refused" 0 "connection refused" "" \
	--payload ping udp "[$S6]:5354"
probe_case "ipv6 agent: 50%" 1 "agent" "weight=50" agent "[$S6]:9001"

# ---- checkers
# wait_line LOG PATTERN SECONDS: the first line of LOG matching PATTERN (extended regex)
wait_line() {
	local i
	for i in $(seq $(($3 * 20))); do
		grep -m1 -E "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_quiet() { wait_line "$@" >/dev/null; }
now_ms() { date +%s%3N; }
# watch_done NAME LOG PID: stop a watch, then check it ended cleanly with no overlapping probes
watch_done() {
	local name=$1 log=$2 pid=$3
	tb_stop "$pid"
	if grep -q " end verdict=" "$log" && ! grep -q overlap "$log" &&
	   ! grep -qE 'Sanitizer|runtime error' "$log"; then
		tb_ok "$name: no overlapping probes, clean exit ($(grep -o 'probes=.*' "$log"))"
	else
		tb_not_ok "$name: clean exit" \
			"$(grep -E 'overlap|Sanitizer|runtime error|end' "$log" | head -3)"
	fi
}

# A server stopped and started: interval 200 ms, rise 3, fall 2, refused port.
echo 200 >"$TB_TMP/flap"
tb_bg srv "$TB_TMP/flap.log" python3 "$SRV" "http:8081:$TB_TMP/flap"
FLAP=$TB_LAST_PID
tb_wait 10 grep -q ready "$TB_TMP/flap.log"
W=$TB_TMP/w1.log
tb_bg cl "$W" "$DRV" watch --interval 200 --timeout 200 --rise 3 --fall 2 --path /health \
	--seconds 40 http $S4:8081
WPID=$TB_LAST_PID
if line=$(wait_line "$W" ' verdict unknown up ' 5); then
	tb_check "checker: UNKNOWN -> UP after rise=3 successes" "$line" \
		grep -q 'successes=3 failures=0' <<<"$line"
else
	tb_not_ok "checker: UNKNOWN -> UP" "$(tail -3 "$W")"
fi
t0=$(now_ms)
tb_stop "$FLAP"
if line=$(wait_line "$W" ' verdict up down ' 5); then
	dt=$(( ${line%% *} - t0 ))
	tb_check "checker: server stopped -> DOWN after fall=2 failures" "$line" \
		grep -q 'failures=2 detail="connection refused"' <<<"$line"
	tb_check "checker: refused port detected within 1.5 s (${dt} ms)" "took $dt ms" \
		test "$dt" -lt 1500
else
	tb_not_ok "checker: server stopped -> DOWN" "$(tail -3 "$W")"
fi
tb_bg srv "$TB_TMP/flap.log" python3 "$SRV" "http:8081:$TB_TMP/flap"
FLAP=$TB_LAST_PID
t0=$(now_ms)
if line=$(wait_line "$W" ' verdict down up ' 5); then
	dt=$(( ${line%% *} - t0 ))
	tb_check "checker: server started -> UP after rise=3 successes (${dt} ms)" "$line" \
		grep -q 'successes=3 failures=0' <<<"$line"
else
	tb_not_ok "checker: server started -> UP" "$(tail -3 "$W")"
fi
echo 500 >"$TB_TMP/flap"
if line=$(wait_line "$W" ' verdict up down .*http status 500' 5); then
	tb_ok "checker: status 500 -> DOWN"
else
	tb_not_ok "checker: status 500 -> DOWN" "$(tail -3 "$W")"
fi
watch_done "checker" "$W" "$WPID"
tb_stop "$FLAP"

# A silent host, seeded UP, timeout (400 ms) longer than the interval (200 ms): down in about
# fall x timeout, and the probes never overlap.
W=$TB_TMP/w2.log
t0=$(now_ms)
tb_bg cl "$W" "$DRV" watch --initial up --interval 200 --timeout 400 --fall 2 --seconds 2.5 \
	tcp $SILENT4:80
WPID=$TB_LAST_PID
if line=$(wait_line "$W" ' verdict ' 5); then
	dt=$(( ${line%% *} - t0 ))
	tb_check "checker: seeded UP, silent host -> UP to DOWN ($dt ms)" "$line" \
		grep -q 'up down successes=0 failures=2 detail="timeout connecting"' <<<"$line"
	tb_check "checker: silent host detected within 2 s" "took $dt ms" test "$dt" -lt 2000
else
	tb_not_ok "checker: silent host -> DOWN" "$(tail -3 "$W")"
fi
tb_wait 5 grep -q ' end ' "$W"
watch_done "checker, slow probes" "$W" "$WPID"

# fastinter: seeded DOWN with downinter 1000 and fastinter 50, rise 3: after the first success
# the next two follow 50 ms apart (interval would take 400 ms).
W=$TB_TMP/w3.log
tb_bg cl "$W" "$DRV" watch --initial down --interval 200 --downinter 1000 --fastinter 50 --rise 3 \
	--seconds 3 tcp $S4:8001
WPID=$TB_LAST_PID
first=$(wait_line "$W" ' result ok=1 ' 5)
line=$(wait_line "$W" ' verdict down up ' 5)
if [ -n "$first" ] && [ -n "$line" ]; then
	dt=$(( ${line%% *} - ${first%% *} ))
	tb_check "checker: fastinter while coming back (${dt} ms from 1st success to UP)" "$line" \
		test "$dt" -lt 300
else
	tb_not_ok "checker: seeded DOWN -> UP" "$(tail -3 "$W")"
fi
watch_done "checker, fastinter" "$W" "$WPID"

# downinter: a refused port, seeded DOWN, interval 100, downinter 600: about 4 probes in 2.5 s,
# where the interval would make 25.
W=$TB_TMP/w4.log
tb_bg cl "$W" "$DRV" watch --initial down --interval 100 --downinter 600 --seconds 2.5 \
	tcp $S4:8002
WPID=$TB_LAST_PID
tb_wait 6 grep -q ' end ' "$W"
np=$(grep -c ' result ' "$W")
tb_check "checker: downinter while down ($np probes in 2.5 s)" "$np probes" \
	test "$np" -ge 2 -a "$np" -le 7
if grep -q ' verdict ' "$W"; then
	tb_not_ok "checker: seeded DOWN stays DOWN" "$(grep ' verdict ' "$W")"
else
	tb_ok "checker: seeded DOWN stays DOWN"
fi
watch_done "checker, downinter" "$W" "$WPID"

# The agent: 50% -> drain (the weight stays) -> malformed and unreachable (nothing changes) ->
# "up 100%".
printf '50%%\n' >"$TB_TMP/agent"
tb_bg srv "$TB_TMP/agent.log" python3 "$SRV" "agentfile:9007:$TB_TMP/agent"
AGENT=$TB_LAST_PID
tb_wait 10 grep -q ready "$TB_TMP/agent.log"
W=$TB_TMP/w5.log
: >"$W"
tb_bg cl "$W" "$DRV" watch --agent-interval 100 --timeout 200 --seconds 40 none $S4:1 \
	--agent-port 9007
WPID=$TB_LAST_PID
tb_check "agent checker: 50%" "$(tail -2 "$W")" \
	wait_quiet "$W" ' agent weight=50 state=none reason="" from weight=-1 state=none' 5
printf 'drain\n' >"$TB_TMP/agent"
tb_check "agent checker: drain keeps the weight" "$(tail -2 "$W")" \
	wait_quiet "$W" ' agent weight=50 state=drain ' 5
printf 'garbage\n' >"$TB_TMP/agent"
wait_line "$W" ' agent-result ok=0 .*malformed' 5 >/dev/null
tb_stop "$AGENT"
if wait_line "$W" ' agent-result ok=0 .*connection refused' 5 >/dev/null &&
   [ "$(grep -c ' agent weight=' "$W")" -eq 2 ] && grep -q 'malformed agent reply' "$W"; then
	tb_ok "agent checker: malformed and unreachable agents change nothing"
else
	tb_not_ok "agent checker: malformed and unreachable agents change nothing" \
		"$(grep ' agent ' "$W" | tail -3)"
fi
printf 'up 100%%\n' >"$TB_TMP/agent"
tb_bg srv "$TB_TMP/agent.log" python3 "$SRV" "agentfile:9007:$TB_TMP/agent"
AGENT=$TB_LAST_PID
tb_check "agent checker: back, up 100%" "$(tail -2 "$W")" \
	wait_quiet "$W" ' agent weight=100 state=up reason="" from weight=50 state=drain' 5
if grep -q ' verdict ' "$W"; then
	tb_not_ok "agent checker: no health probe, no verdict" "$(grep ' verdict ' "$W")"
else
	tb_ok "agent checker: no health probe, no verdict"
fi
watch_done "agent checker" "$W" "$WPID"
tb_stop "$AGENT"

# ---- storm: 2,000 probes at once to silent, unreachable, refusing and open targets; every 20th
# is cancelled at once and every 20th (offset 1) in flight if still running: each probe has
# exactly one outcome unless cancelled, and no fd is left.
storm() {
	OUT=$(tb_exec cl "$DRV" storm "$@" 2>&1)
}
t0=$(now_ms)
storm --count 2000 --timeout 500 --nofile 8192 --cancel-every 20 \
	tcp:$SILENT4:80 udp:$SILENT4:53 tcp:$UNREACH4:80 tcp:$S4:8002 http:$S4:8003 \
	"tcp:[$SILENT6]:80" "udp:[$S6]:5354" tcp:$S4:8001
rc=$?
dt=$(( $(now_ms) - t0 ))
sum=$(grep '^storm ' <<<"$OUT")
calls=$(sed -n 's/.* callbacks=\([0-9]*\) cancelled=\([0-9]*\) .*/\1+\2/p' <<<"$sum")
if [ $rc -eq 0 ] && [[ $sum == *" bad=0 "* ]] && [ "$((${calls:-0}))" -eq 2000 ] &&
   [[ $sum != *" cancelled=100 "* ]]; then
	tb_ok "storm: 2000 probes, callbacks + cancelled = 2000, one each, no fd leak ($calls)"
else
	tb_not_ok "storm: one callback each, no fd leak" \
		"rc $rc: $(tr '\n' ' ' <<<"$OUT" | head -c 600)"
fi
tb_check "storm: done within timeout + 1.5 s (${dt} ms, driver start included)" "$sum" \
	test "$dt" -lt 2500
grep "^# detail" <<<"$OUT"
missing=
for d in "timeout connecting" "timeout waiting for the reply" "host unreachable" \
	 "connection refused" "connected"; do
	grep -q "^# detail \"$d\"" <<<"$OUT" || missing+=" [$d]"
done
tb_check "storm: timeouts, refusals, no route and successes all reported" "missing$missing" \
	test -z "$missing"

tw=$(tb_exec cl ss -Htan state time-wait | wc -l)
tb_check "storm: connected probes closed with a reset leave no TIME_WAIT ($tw)" "$tw sockets" \
	test "$tw" -eq 0

# Out of fds: a failed socket() is a failed probe with a clear detail, not a crash.
storm --count 300 --timeout 300 --nofile 64 tcp:$SILENT4:80
rc=$?
if [ $rc -eq 0 ] && grep -q 'detail "socket: Too many open files"' <<<"$OUT" &&
   grep -q ' bad=0 ' <<<"$OUT"; then
	tb_ok "storm: EMFILE -> failed probes, one callback each, no fd leak"
else
	tb_not_ok "storm: EMFILE" "rc $rc: $(tr '\n' ' ' <<<"$OUT" | head -c 600)"
fi

# Scale, as behaviour: 5,000 checkers probing every 200 ms in one loop (the daemon's load) keep up
# with the nominal 25,000 probes/s; the bound is loose because other jobs share the machine.
OUT=$(tb_exec cl "${PROBE_DRV_PLAIN:-$XLB_BUILD/tests/e2e/probe_drv}" scale --count 5000 \
	--interval 200 --timeout 200 --seconds 2 --nofile 16384 tcp $S4:8002 2>&1)
pct=$(sed -n 's/.* achieved_pct=\([0-9]*\) .*/\1/p' <<<"$OUT")
tb_check "scale: 5000 checkers x 200 ms keep up (${pct:-?}% of 25000/s)" "$OUT" \
	test "${pct:-0}" -ge 50
echo "# $OUT"

[ "${TB_FAILED:-0}" -eq 0 ]
