#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbd's Prometheus metrics end to end, in the namespace test bed: metrics_listen errors stop the
# start; /metrics passes `promtool check metrics`; hostile HTTP clients leave the daemon alone;
# the shipped rules pass `promtool check rules` and their unit tests.
#
# Topology: tools/testbed.sh (tb_build 3). The sanitized xlbd runs in lb with its metrics on
# lb's loopback (127.0.0.1 inside the namespace).
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbmetrics$$

XLBD=$XLB_BUILD/san/xlbd
XLB=$XLB_BUILD/xlb
MPORT=9469			# metrics, on lb's loopback
SVC="$TB_VIP4:80/tcp"
PROMDIR=tools/prometheus

tb_test_start metrics "$XLB_BUILD"/{xlb-sink,xlb-decap,san/xlbd,xlb}
for c in promtool curl; do
	command -v $c >/dev/null || { tb_ok "metrics # SKIP no $c (make deps)"; exit 0; }
done

# ---- the shipped Prometheus files (no daemon needed)
if out=$(promtool check rules "$PROMDIR/xlb.rules.yml" 2>&1); then
	tb_ok "promtool check rules: $PROMDIR/xlb.rules.yml"
else
	tb_not_ok "promtool check rules: $PROMDIR/xlb.rules.yml" "$(tr '\n' ' ' <<<"$out")"
fi
if out=$(cd "$PROMDIR" && promtool test rules xlb.rules.test.yml 2>&1); then
	tb_ok "promtool test rules: the alerts fire on the series they are meant for"
else
	tb_not_ok "promtool test rules: the alerts fire on the series they are meant for" \
		"$(tr '\n' ' ' <<<"$out" | head -c 600)"
fi
if out=$(promtool check config --syntax-only "$PROMDIR/prometheus.yml" 2>&1); then
	tb_ok "promtool check config: the example scrape config"
else
	tb_not_ok "promtool check config: the example scrape config" "$(tr '\n' ' ' <<<"$out")"
fi

if ! tb_build 3 || ! tb_decap_attach || ! tb_http_servers 80; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi

# config LISTEN: the xlbd config of this test, metrics on LISTEN
config() {
	cat <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4",
 "metrics_listen": "$1",
 "vips": [
  {"address": "$TB_VIP4", "port": 80, "proto": "tcp",
   "check": {"type": "http", "path": "/", "port": 80},
   "backends": [{"address": "${TB_BE4[1]}", "port": 80}, {"address": "${TB_BE4[2]}", "port": 80},
                {"address": "${TB_BE4[3]}", "port": 80}]}]}
EOF
}
# a start that must fail before touching anything: no bpffs needed, bounded
start_fails() {
	tb_exec lb timeout 20 "$XLBD" --config "$1" --socket "$TB_TMP/bad.sock" \
		--pin-dir /sys/fs/bpf/xlb-bad --foreground 2>&1
}

# ---- metrics_listen: an invalid address and a taken one stop the start with a clear message
for bad in "127.0.0.1" "127.0.0.1:http" "198.18.0.300:9469" "[::1:9469" "127.0.0.1:0"; do
	config "$bad" >"$TB_TMP/bad.json"
	out=$(start_fails "$TB_TMP/bad.json")
	rc=$?
	if [ $rc -eq 1 ] && grep -q "metrics_listen: not ADDR:PORT.*\"$(sed 's/[][]/\\&/g' <<<"$bad")\"" <<<"$out"; then
		tb_ok "metrics_listen \"$bad\": refused at start, named"
	else
		tb_not_ok "metrics_listen \"$bad\": refused at start, named" "rc=$rc: $(tr '\n' ' ' <<<"$out" | head -c 300)"
	fi
done
config "127.0.0.1:$MPORT" >"$TB_TMP/xlbd.json"
tb_bg lb "$TB_TMP/holder.log" python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $MPORT)); s.listen(); print('held', flush=True)
time.sleep(30)"
holder=$TB_LAST_PID
tb_wait 20 grep -q held "$TB_TMP/holder.log"
out=$(start_fails "$TB_TMP/xlbd.json")
rc=$?
if [ $rc -eq 1 ] && grep -q "metrics_listen 127.0.0.1:$MPORT: cannot listen: Address already in use" <<<"$out" &&
   ! grep -q "loaded a fresh datapath" <<<"$out"; then
	tb_ok "metrics_listen on a taken port: refused at start, before the datapath is touched"
else
	tb_not_ok "metrics_listen on a taken port: refused at start, before the datapath is touched" \
		"rc=$rc: $(tr '\n' ' ' <<<"$out" | head -c 300)"
fi
tb_stop "$holder"

# ---- the daemon (sanitized), metrics on lb's loopback
tb_bg_bpffs lb "$TB_TMP/xlbd.log" timeout 100 "$XLBD" --config "$TB_TMP/xlbd.json" \
	--socket "$TB_TMP/xlbd.sock" --pin-dir /sys/fs/bpf/xlb --foreground --detach-on-exit
XPID=$TB_LAST_PID
xlb() { "$XLB" -s "$TB_TMP/xlbd.sock" "$@"; }
if tb_wait 15 xlb status && grep -q "metrics on http://127.0.0.1:$MPORT/metrics" "$TB_TMP/xlbd.log"; then
	tb_ok "xlbd starts with metrics on 127.0.0.1:$MPORT"
else
	tb_not_ok "xlbd starts with metrics on 127.0.0.1:$MPORT" "$(tail -3 "$TB_TMP/xlbd.log" | tr '\n' ' ')"
	exit 1
fi
mcurl() { tb_exec lb curl -s -m 5 "$@"; }
# every backend up (3 good probes each) before anything is measured
tb_wait 10 sh -c "[ \"\$($XLB -s $TB_TMP/xlbd.sock -j backend list | grep -o '\"health\": *\"up\"' | wc -l)\" = 3 ]"

mcurl -D "$TB_TMP/headers" -o "$TB_TMP/metrics.txt" "http://127.0.0.1:$MPORT/metrics"
if out=$(promtool check metrics <"$TB_TMP/metrics.txt" 2>&1); then
	tb_ok "promtool check metrics: the exposition is valid, no lint warning"
else
	tb_not_ok "promtool check metrics: the exposition is valid, no lint warning" "$(tr '\n' ' ' <<<"$out" | head -c 400)"
fi
tb_check "Content-Type: text/plain; version=0.0.4" "$(tr -d '\r' <"$TB_TMP/headers" | grep -i content-type)" \
	grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' <(tr -d '\r' <"$TB_TMP/headers")
missing=
for m in 'xlb_build_info{version="[^"]+"} 1' 'xlb_start_time_seconds [0-9.]+' \
	 'xlb_flow_table_entries [0-9]+' 'xlb_reason_packets_total{reason="drop_malformed"} [0-9]+' \
	 'xlb_reason_bytes_total{reason="tx"} [0-9]+' \
	 "xlb_vip_packets_total\{vip=\"$SVC\"\} [0-9]+" "xlb_vip_bytes_total\{vip=\"$SVC\"\} [0-9]+" \
	 "xlb_vip_new_flows_total\{vip=\"$SVC\"\} [0-9]+" "xlb_vip_usable_backends\{vip=\"$SVC\"\} 3" \
	 "xlb_backend_packets_total\{vip=\"$SVC\",backend=\"${TB_BE4[1]}:80\"\} [0-9]+" \
	 "xlb_backend_up\{vip=\"$SVC\",backend=\"${TB_BE4[2]}:80\"\} 1" \
	 "xlb_backend_weight\{vip=\"$SVC\",backend=\"${TB_BE4[3]}:80\"\} 100" \
	 "xlb_backend_slots\{vip=\"$SVC\",backend=\"${TB_BE4[3]}:80\"\} [1-9][0-9]+" \
	 "xlb_probes_total\{vip=\"$SVC\",backend=\"${TB_BE4[1]}:80\"\} [1-9][0-9]*" \
	 "xlb_probe_failures_total\{vip=\"$SVC\",backend=\"${TB_BE4[1]}:80\"\} [0-9]+" \
	 'xlb_probe_duration_seconds_bucket{check="http",result="ok",le="\+Inf"} [1-9][0-9]*' \
	 'xlb_probe_duration_seconds_count{check="http",result="ok"} [1-9][0-9]*' \
	 'xlb_table_rebuild_duration_seconds_bucket{le="\+Inf"} [1-9][0-9]*' \
	 'xlb_table_rebuild_duration_seconds_sum [0-9.e-]+' \
	 "xlb_table_rebuilds_total\{vip=\"$SVC\"\} [1-9][0-9]*"; do
	grep -qE "^$m\$" "$TB_TMP/metrics.txt" || missing+=" [$m]"
done
tb_check "the metrics of the issue are there, with their labels" "missing:$missing" [ -z "$missing" ]
idx=$(mcurl "http://127.0.0.1:$MPORT/")
tb_check "/ is a short index linking /metrics" "$idx" grep -q 'href="/metrics"' <<<"$idx"
code=$(mcurl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nope")
tb_check "another path is 404" "got $code" [ "$code" = 404 ]
code=$(mcurl -o /dev/null -w '%{http_code}' -X POST -d x=1 "http://127.0.0.1:$MPORT/metrics")
tb_check "POST is 405" "got $code" [ "$code" = 405 ]

# ---- a real Prometheus (Debian's) in lb, on its loopback, scraping every second
PPORT=9090
cat >"$TB_TMP/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$PWD/$PROMDIR/xlb.rules.yml"]
scrape_configs:
  - job_name: xlb
    static_configs: [{targets: ["127.0.0.1:$MPORT"]}]
EOF
tb_bg lb "$TB_TMP/prometheus.log" timeout 60 prometheus --config.file="$TB_TMP/prometheus.yml" \
	--storage.tsdb.path="$TB_TMP/prom" --web.listen-address="127.0.0.1:$PPORT" --log.level=warn
PROM=$TB_LAST_PID
# pq EXPR: the samples of an instant query, one "LABELS VALUE" a line
pq() {
	mcurl -G --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" | python3 -c '
import json, sys
try:
    res = json.load(sys.stdin)["data"]["result"]
except Exception:
    res = []
for r in res:
    m = r["metric"]
    print(",".join("%s=%s" % (k, m[k]) for k in sorted(m) if k not in ("job", "instance")) or "-",
          r["value"][1])'
}
# pv EXPR: the value of its first sample ("" when none); pgt EXPR X: that value is above X
pv() { pq "$1" | awk 'NR == 1 { print $2 }'; }
pgt() {
	local v
	v=$(pv "$1")
	[ -n "$v" ] && python3 -c "import sys; sys.exit(not float('$v') > float('$2'))"
}
# phas EXPR: the query has a sample (a filter such as "X == 0" that matches)
phas() { [ -n "$(pq "$1")" ]; }
if tb_wait 30 pgt 'up{job="xlb"}' 0; then
	tb_ok "Prometheus scrapes xlbd (up == 1)"
else
	tb_not_ok "Prometheus scrapes xlbd (up == 1)" "$(tail -3 "$TB_TMP/prometheus.log" | tr '\n' ' ')"
fi
bq() { echo "xlb_backend_$2{vip=\"$SVC\",backend=\"${TB_BE4[$1]}:80\"}"; }
vq="xlb_vip_packets_total{vip=\"$SVC\"}"
v0=$(pv "$vq")
b0=()
for i in 1 2 3; do b0[i]=$(pv "$(bq "$i" packets_total)"); done
answers=$(tb_requests "http://$TB_VIP4/" 30)
tb_check "30 requests through the VIP answered" "$(grep -c FAIL <<<"$answers") failed" \
	bash -c '! grep -q FAIL <<<"$1"' _ "$answers"
if tb_wait 10 pgt "$vq" "${v0:-0}"; then
	tb_ok "Prometheus sees the VIP's packet counter rise (${v0:-none} -> $(pv "$vq"))"
else
	tb_not_ok "Prometheus sees the VIP's packet counter rise" "before ${v0:-none}, now $(pv "$vq")"
fi
for i in 1 2 3; do
	q=$(bq "$i" packets_total)
	if tb_wait 10 pgt "$q" "${b0[i]:-0}"; then
		tb_ok "Prometheus sees backend ${TB_BE4[i]}'s packet counter rise (${b0[i]:-none} -> $(pv "$q"))"
	else
		tb_not_ok "Prometheus sees backend ${TB_BE4[i]}'s packet counter rise" \
			"before ${b0[i]:-none}, now $(pv "$q")"
	fi
done
tb_check "Prometheus: rate() of the VIP's bytes is positive" "$(pv 'sum(rate(xlb_vip_bytes_total[5s]))')" \
	pgt 'sum(rate(xlb_vip_bytes_total[5s]))' 0

# be2's server stops: its health gauge falls to 0, the VIP keeps 2 usable backends, the alert
# rule picks it up (pending: it has a "for")
up2=$(bq 2 up)
tb_check "be2 up in Prometheus before its server stops" "$(pv "$up2")" [ "$(pv "$up2")" = 1 ]
tb_stop "${TB_HTTPD_PID[2]}"
if tb_wait 15 phas "$up2 == 0"; then
	tb_ok "Prometheus sees be2's health gauge fall to 0"
else
	tb_not_ok "Prometheus sees be2's health gauge fall to 0" "now $(pv "$up2")"
fi
tb_check "max_over_time shows it was 1 before: the gauge fell" "$(pv "max_over_time(${up2}[1m])")" \
	[ "$(pv "max_over_time(${up2}[1m])")" = 1 ]
tb_check "Prometheus: the VIP has 2 usable backends" "$(pv "xlb_vip_usable_backends{vip=\"$SVC\"}")" \
	tb_wait 5 phas "xlb_vip_usable_backends{vip=\"$SVC\"} == 2"
tb_check "the XlbBackendDown rule picks be2 up (pending or firing)" \
	"$(pq 'ALERTS{alertname="XlbBackendDown"}' | head -3 | tr '\n' ' ')" \
	tb_wait 10 phas "ALERTS{alertname=\"XlbBackendDown\",backend=\"${TB_BE4[2]}:80\"}"
tb_stop "$PROM"

# ---- xlb top under tmux, while requests flow (be2 is down by now: 2 of 3 usable)
tb_bg client "$TB_TMP/load.log" timeout 20 sh -c \
	"while :; do curl -s -m 2 -o /dev/null http://$TB_VIP4/; done"
load=$TB_LAST_PID
if command -v tmux >/dev/null; then
	TMUX_SOCK=xlbmetrics$$
	trap 'tmux -L "$TMUX_SOCK" kill-server 2>/dev/null; tb_cleanup; echo "1..$TB_T"' EXIT
	tmux -L "$TMUX_SOCK" -f /dev/null new-session -d -s top -x 120 -y 30 \
		"$XLB -s $TB_TMP/xlbd.sock top -d 0.5; sleep 30"
	# the VIP row: name, usable/all, weight, slots, pps, bits/s, flows/s, packets
	vip_row() { tmux -L "$TMUX_SOCK" capture-pane -p -t top | grep -E "^$TB_VIP4:80/tcp "; }
	busy() { vip_row | awk '$5 != "0" && $5 != "-" && $6 != "0" && $7 != "-" { ok = 1 } END { exit !ok }'; }
	tb_wait 8 busy
	screen=$(tmux -L "$TMUX_SOCK" capture-pane -p -t top)
	if grep -q '^xlb top - ' <<<"$screen" && busy && vip_row | grep -qE "^$TB_VIP4:80/tcp +2/3 " &&
	   grep -qE "^ +${TB_BE4[1]}:80 +up +100 " <<<"$screen" &&
	   grep -qE "^ +${TB_BE4[2]}:80 +down +0 +0 " <<<"$screen" && grep -qE '^tx ' <<<"$screen"; then
		tb_ok "xlb top under tmux: the VIP with its rates, its backends' health and weights, reasons"
	else
		tb_not_ok "xlb top under tmux: the VIP with its rates, its backends' health and weights, reasons" \
			"$(tr '\n' '|' <<<"$screen" | tr -s ' ' | head -c 600)"
	fi
	tmux -L "$TMUX_SOCK" send-keys -t top q
	quit() {
		[ "$(tmux -L "$TMUX_SOCK" display -p -t top '#{pane_current_command}')" = sleep ] &&
			! tmux -L "$TMUX_SOCK" capture-pane -p -t top | grep -q '^xlb top - '
	}
	tb_check "xlb top quits on q and gives the screen back" \
		"$(tmux -L "$TMUX_SOCK" display -p -t top '#{pane_current_command}')" tb_wait 3 quit
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
else
	tb_ok "xlb top under tmux # SKIP no tmux (make deps)"
fi
out=$("$XLB" -s "$TB_TMP/xlbd.sock" top -n 2 -d 0.2)
tb_check "xlb top -n 2 (not a terminal): two frames, no screen control" "$(head -c 300 <<<"$out")" \
	bash -c '[ "$(grep -c "^xlb top - " <<<"$1")" = 2 ] && ! grep -q $'"'"'\e'"'"' <<<"$1"' _ "$out"
out=$(timeout 2.6 "$XLB" -s "$TB_TMP/xlbd.sock" stats -w 1)
tb_check "xlb stats -w 1: a table every second until interrupted" "$(grep -c '^VIP / BACKEND' <<<"$out") tables" \
	[ "$(grep -c '^VIP / BACKEND' <<<"$out")" = 3 ]
out=$(timeout 1.3 "$XLB" -s "$TB_TMP/xlbd.sock" -j stats -w 0.5 "$SVC")
tb_check "xlb -j stats -w: one JSON object per line" "$(head -c 200 <<<"$out")" \
	python3 -c 'import json, sys; l = sys.stdin.read().split("\n")[:-1]; sys.exit(not (len(l) == 3 and all(json.loads(x)["vips"][0]["vip"] for x in l)))' <<<"$out"
tb_stop "$load"

# ---- hostile HTTP clients
tb_verdicts "hostile HTTP clients" "$(tb_exec lb python3 tests/e2e/metrics_clients.py 127.0.0.1 \
	"$MPORT" "$XLB" "$TB_TMP/xlbd.sock")"
tb_check "xlbd still running after the hostile clients" "exited" kill -0 "$XPID"

# ---- a clean stop, no sanitizer report
kill -TERM "$XPID"
wait "$XPID"
rc=$?
tb_check "xlbd stops cleanly (exit 0)" "exit $rc" [ $rc -eq 0 ]
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$TB_TMP/xlbd.log"; then
	tb_not_ok "no sanitizer report (leaks included)" "$(grep -m3 -E 'Sanitizer|runtime error' "$TB_TMP/xlbd.log" | tr '\n' ' ')"
else
	tb_ok "no sanitizer report (leaks included)"
fi

# ---- the default: a config without metrics_listen serves on 127.0.0.1:9469; "off" serves none
for mode in default off; do
	config "off" | if [ $mode = default ]; then grep -v '"metrics_listen"'; else cat; fi \
		>"$TB_TMP/$mode.json"
	tb_bg_bpffs lb "$TB_TMP/$mode.log" timeout 60 "$XLBD" --config "$TB_TMP/$mode.json" \
		--socket "$TB_TMP/$mode.sock" --pin-dir /sys/fs/bpf/xlb --foreground --detach-on-exit
	pid=$TB_LAST_PID
	tb_wait 15 "$XLB" -s "$TB_TMP/$mode.sock" status
	body=$(mcurl "http://127.0.0.1:9469/metrics")
	listening=$(tb_exec lb ss -Hltn 'sport = :9469')
	if [ $mode = default ]; then
		tb_check "no metrics_listen in the file: /metrics on 127.0.0.1:9469 (loopback only)" \
			"$(head -c 200 <<<"$body"); listening: $listening" \
			bash -c 'grep -q "^xlb_build_info{version=" <<<"$1" && grep -q "^LISTEN.* 127.0.0.1:9469 " <<<"$2" &&
				 ! grep -qv "127.0.0.1:9469" <<<"$2"' _ "$body" "$listening"
	else
		tb_check "metrics_listen \"off\": no listener" "listening: $listening" [ -z "$listening" ]
	fi
	tb_stop "$pid"
done
exit 0
