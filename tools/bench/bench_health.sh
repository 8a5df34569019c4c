#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Health benchmark (make bench): failover time at default check settings with real traffic, for
# a refused port and for a silent host (median and worst of RUNS runs); verdict-to-swap time for
# one VIP of 1,000 backends and for 1,000 VIPs sharing one failing server; xlbd's CPU while
# probing 5,000 backends every 200 ms. Prints a table and writes $BUILD/bench-health.json.
#
# Failover time: a client opens a new TCP connection to the VIP every millisecond (a SYN each,
# from its own source port: a new flow each); a poller reads be2's new-flow counter from xlbd
# every 5 ms; the time from the moment its server stops (or its replies to the balancer's probes
# vanish: silent host) to the last poll that saw the counter grow, i.e. the last new flow the
# balancer still sent it (within 5 ms). All in namespaces of tools/testbed.sh, bounded.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
XLB_BUILD=$BUILD
RUNS=${RUNS:-5}
source tools/testbed.sh
TB_PREFIX=xlbbh$$
trap tb_cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench_health: needs root"; exit 1; }

VIP=$TB_VIP4
SVC="$VIP:80/tcp"
out_json=$BUILD/bench-health.json
xlb() { "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" "$@"; }
now() { date +%s.%N; }

tb_build 3 >/dev/null && tb_decap_attach && tb_http_servers 80 || { echo "test bed failed"; exit 1; }
cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}], "metrics_listen": "off",
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4",
 "vips": [{"address": "$VIP", "port": 80, "proto": "tcp",
   "check": {"type": "http", "path": "/", "port": 80},
   "backends": [{"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"},
                {"address": "${TB_BE4[3]}"}]}]}
EOF
tb_xlbd_start 600 || { echo "xlbd did not start"; exit 1; }

health2() { xlb backend list | awk -v b="${TB_BE4[2]}" '$2 == b { print $7 }'; }
wait_health2() {
	for _ in $(seq 500); do [ "$(health2)" = "$1" ] && return 0; sleep 0.02; done
	return 1
}

cat >"$TB_TMP/syns.py" <<'EOF'
import socket, sys, time
vip, secs = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + secs
while time.monotonic() < end:
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((vip, 80))
    except BlockingIOError:
        pass
    s.close()
    time.sleep(0.001)
EOF

cat >"$TB_TMP/poll.py" <<'EOF'
import json, socket, sys, time
sock, vip, be, secs, out = sys.argv[1:6]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rw")
req = json.dumps({"cmd": "stats", "vip": vip}) + "\n"
last_n, last_t, end = None, 0.0, time.time() + float(secs)
while time.time() < end:
    f.write(req)
    f.flush()
    r = json.loads(f.readline())
    n = next(b["new_flows"] for b in r["vips"][0]["backends"] if b["address"] == be)
    if n != last_n:
        last_n, last_t = n, time.time()
    time.sleep(0.005)
open(out, "w").write("%.6f\n" % last_t)
EOF

# one_run MODE - prints the ms from the failure to the last new flow xlb sent be2
one_run() {
	local mode=$1 t0 last
	tb_bg client /dev/null python3 "$TB_TMP/syns.py" "$VIP" 4
	local gen=$TB_LAST_PID
	sleep 0.5
	python3 "$TB_TMP/poll.py" "$TB_XLBD_SOCK" "$SVC" "${TB_BE4[2]}" 3 "$TB_TMP/last" &
	local poll=$!
	sleep 0.5
	t0=$(now)
	if [ "$mode" = refused ]; then
		tb_stop "${TB_HTTPD_PID[2]}"
	else
		tb_exec be2 ip route add blackhole "$TB_LB4/32"
	fi
	wait "$poll"
	wait "$gen" 2>/dev/null
	last=$(cat "$TB_TMP/last")
	python3 -c 'import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' \
		"$t0" "$last"
	# heal for the next run
	if [ "$mode" = refused ]; then
		tb_http_server_start 2 80 >/dev/null
	else
		tb_exec be2 ip route del blackhole "$TB_LB4/32"
	fi
	wait_health2 up
	sleep 0.5
}

stats() {	# median and worst of the numbers on stdin
	sort -n | awk '{ a[NR] = $1 } END { printf "%d %d\n", a[int((NR + 1) / 2)], a[NR] }'
}

wait_health2 up
refused=$(for i in $(seq "$RUNS"); do one_run refused; done | stats)
silent=$(for i in $(seq "$RUNS"); do one_run silent; done | stats)
tb_stop "$TB_XLBD_PID"

# ---- verdict to swap, and probing cost: xlbd with no interface in a namespace of its own, where
# 198.18.1.1 is a local address with one listener (the server that fails) and 198.18.1.2 none
tb_ns_add vs
tb_addr vs lo 198.18.1.1/32 198.18.1.2/32
cat >"$TB_TMP/listen.py" <<'EOF'
import socket, signal, sys
signal.alarm(300)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4096)
while True:
    s.accept()[0].close()
EOF

# verdict_to_swap NAME CONFIG_PY - ms from the failing server's down verdict to the last table swap
verdict_to_swap() {
	local conf=$TB_TMP/vs.json log=$TB_TMP/vs.log pid lpid
	python3 -c "$2" >"$conf"
	tb_bg vs "$TB_TMP/listen.log" python3 "$TB_TMP/listen.py" 198.18.1.1 80
	lpid=$TB_LAST_PID
	sleep 0.3
	tb_bg_bpffs vs "$log" "$XLB_BUILD/xlbd" --config "$conf" --socket "$TB_TMP/vs.sock" \
		--pin-dir /sys/fs/bpf/vs --foreground --detach-on-exit
	pid=$TB_LAST_PID
	tb_wait 60 grep -q "serving on" "$log"
	sleep 2
	tb_stop "$lpid"
	tb_wait 20 grep -q "198.18.1.1:80.*up -> down" "$log"
	sleep 3
	tb_stop "$pid"
	python3 - "$log" <<'EOF'
import re, sys, datetime
lines = open(sys.argv[1]).read().splitlines()
def t(l):
    return datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp() * 1000
v = next(i for i, l in enumerate(lines) if re.search(r"198\.18\.1\.1:80.*up -> down", l))
swaps = [t(l) for l in lines[v:] if "table rebuilt" in l]
print(round(swaps[-1] - t(lines[v])) if swaps else -1, len(swaps))
EOF
}

one_vip=$(verdict_to_swap one 'import json
bes = [{"address": "198.18.1.1", "check": {"type": "tcp", "port": 80}}]
bes += [{"address": "198.18.%d.%d" % (2 + i // 250, i % 250 + 1)} for i in range(999)]
print(json.dumps({"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "metrics_listen": "off",
  "encap_source4": "198.18.0.5", "vips": [{"address": "198.18.0.10", "port": 80,
  "backends": bes}]}))')
shared=$(verdict_to_swap shared 'import json
vips = [{"address": "198.18.%d.%d" % (100 + i // 250, i % 250 + 1), "port": 80, "backends": [
  {"address": "198.18.1.1", "check": {"type": "tcp", "port": 80}}, {"address": "198.18.1.3"}]}
  for i in range(1000)]
print(json.dumps({"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "metrics_listen": "off",
  "encap_source4": "198.18.0.5", "vips": vips}))')

# ---- probing cost: 5,000 backends (ports of 198.18.1.2 with no listener: each probe a SYN and
# a reset) every 200 ms; xlbd's CPU time over 10 s as a share of one core
python3 -c 'import json
bes = [{"address": "198.18.1.2", "port": 10000 + i, "check": {"type": "tcp"}} for i in range(5000)]
print(json.dumps({"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "metrics_listen": "off",
  "encap_source4": "198.18.0.5", "vips": [{"address": "198.18.0.10", "port": 0,
  "table_size": 65537, "backends": bes}]}))' >"$TB_TMP/cpu.json"
tb_bg_bpffs vs "$TB_TMP/cpu.log" "$XLB_BUILD/xlbd" --config "$TB_TMP/cpu.json" \
	--socket "$TB_TMP/cpu.sock" --pin-dir /sys/fs/bpf/cpu --foreground --detach-on-exit
cpid=$TB_LAST_PID
tb_wait 60 grep -q "serving on" "$TB_TMP/cpu.log"
sleep 3
xpid=$(pgrep -P "$cpid" xlbd || echo "$cpid")
ticks() { awk '{ print $14 + $15 }' "/proc/$xpid/stat"; }
a=$(ticks)
sleep 10
b=$(ticks)
hz=$(getconf CLK_TCK)
cpu=$(python3 -c "print(round(($b - $a) / $hz / 10 * 100, 1))")
probes=$("$XLB_BUILD/xlb" -s "$TB_TMP/cpu.sock" -j backend list | python3 -c '
import json, sys
print(sum(b["health"] == "down" for b in json.load(sys.stdin)["backends"]))')
tb_stop "$cpid"

read -r rmed rmax <<<"$refused"
read -r smed smax <<<"$silent"
read -r one_ms one_n <<<"$one_vip"
read -r sh_ms sh_n <<<"$shared"
printf '%-58s %10s %10s\n' "health (defaults: interval 200 ms, timeout 150, fall 2)" median worst
printf '%-58s %8s ms %7s ms\n' "failover, refused port (stop -> last new flow to it)" "$rmed" "$rmax"
printf '%-58s %8s ms %7s ms\n' "failover, silent host (replies dropped -> last new flow)" "$smed" "$smax"
printf '%-58s %8s ms\n' "verdict -> swap, 1 VIP of 1,000 backends" "$one_ms"
printf '%-58s %8s ms  (%s tables)\n' "verdict -> swap, 1,000 VIPs sharing the failing server" "$sh_ms" "$sh_n"
printf '%-58s %8s %%   (%s backends down as expected)\n' \
	"xlbd CPU probing 5,000 backends every 200 ms (one core)" "$cpu" "$probes"
cat >"$out_json" <<EOF
{"runs": $RUNS, "failover_refused_ms": {"median": $rmed, "worst": $rmax},
 "failover_silent_ms": {"median": $smed, "worst": $smax},
 "verdict_to_swap_ms": {"one_vip_1000_backends": $one_ms, "shared_1000_vips": $sh_ms,
                        "shared_tables_swapped": $sh_n},
 "probe_cpu_pct_5000_backends": $cpu}
EOF
echo "(written to $out_json)"
