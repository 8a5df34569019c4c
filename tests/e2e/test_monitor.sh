#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlb monitor end to end: crafted frames sent into the balancer's interface show up as the
# decisions the datapath took (a non-VIP pass, a malformed drop, a new flow on the backend that
# `xlb lookup` names, the flow-table hit of its second packet); the reason, VIP and address
# filters and the sampling hold (the datapath's own counters show the ring carried only the
# sample); the switch in the pinned map xlb_monitor is off when no monitor runs, on while one
# does, and off again once a monitor is killed with SIGKILL; bad arguments are refused.
#
# Topology: tools/testbed.sh (tb_build 3). The sanitized xlbd runs in lb; rt sends the frames
# straight into lb's eth0 (AF_PACKET on rt:lb0), so nothing else decides what arrives.
set -u
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbmon$$

XLBD=$XLB_BUILD/san/xlbd
XLB=$XLB_BUILD/xlb
SVC="$TB_VIP4:80/tcp"

tb_test_start monitor "$XLB_BUILD"/{xlb-sink,san/xlbd,xlb}
command -v bpftool >/dev/null || { tb_ok "monitor # SKIP no bpftool"; exit 0; }
if ! tb_build 3; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi

cat >"$TB_TMP/xlbd.json" <<EOF
{"interfaces": [{"name": "$TB_LB_IF", "mode": "native"}],
 "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4", "metrics_listen": "off",
 "vips": [{"address": "$TB_VIP4", "port": 80, "proto": "tcp", "check": {"type": "none"},
           "backends": [{"address": "${TB_BE4[1]}"}, {"address": "${TB_BE4[2]}"},
                        {"address": "${TB_BE4[3]}"}]}]}
EOF
# frames.py KIND SRC SPORT DST DPORT COUNT: COUNT frames out of rt:lb0 to lb's MAC, TCP SYNs
# (KIND syn) or IPv4 headers with IHL 4 (KIND bad), each with a valid IPv4 header checksum
cat >"$TB_TMP/frames.py" <<'EOF'
import socket, struct, sys
kind, src, sport, dst, dport, count, mac = sys.argv[1:8]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lb0", 0))
eth = bytes.fromhex(mac.replace(":", "")) + s.getsockname()[4] + b"\x08\x00"
tcp = struct.pack("!HHIIBBHHH", int(sport), int(dport), 1, 0, 0x50, 0x02, 8192, 0, 0)
vihl = 0x45 if kind == "syn" else 0x44
ip = struct.pack("!BBHHHBBH4s4s", vihl, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
for i in range(int(count)):
    s.send(eth + ip + tcp)
EOF
LB_MAC=$(tb_mac lb "$TB_LB_IF")
frames() { tb_exec rt python3 "$TB_TMP/frames.py" "$@" "$LB_MAC"; }

tb_bg_bpffs lb "$TB_TMP/xlbd.log" timeout 200 "$XLBD" --config "$TB_TMP/xlbd.json" \
	--socket "$TB_TMP/xlbd.sock" --pin-dir /sys/fs/bpf/xlb --foreground --detach-on-exit -v
XPID=$TB_LAST_PID
xlb() { "$XLB" -s "$TB_TMP/xlbd.sock" "$@"; }
if ! tb_wait 15 xlb status ||
   ! tb_wait 5 sh -c "$XLB -s $TB_TMP/xlbd.sock -j table $SVC | grep -q '\"empty\":0'"; then
	tb_not_ok "xlbd serves $SVC" "$(tail -5 "$TB_TMP/xlbd.log" | tr '\n' ' ')"
	exit 1
fi

# The switch and the counters as the pinned maps hold them (read in xlbd's mount namespace).
pinned() { nsenter -t "$XPID" -m bpftool -j map dump pinned "/sys/fs/bpf/xlb/$1"; }
flag() {
	pinned xlb_monitor | python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["formatted"]["value"]["on"])'
}
flag_is() { [ "$(flag)" = "$1" ]; }
mon_stats() {		# matched emitted: summed over CPUs
	pinned xlb_mon_stats | python3 -c 'import json, sys
v = [c["value"] for c in json.load(sys.stdin)[0]["formatted"]["values"]]
print(sum(x["matched"] for x in v), sum(x["emitted"] for x in v))'
}

f=$(flag)
tb_check "the switch is off while no monitor runs" "xlb_monitor.on = $f" [ "$f" = 0 ]

# monitor OUT ARGS...: xlb -j monitor ARGS in the background into OUT; returns once subscribed
monitor() {
	local out=$1
	shift
	"$XLB" -s "$TB_TMP/xlbd.sock" -j monitor "$@" >"$out" 2>"$out.err" &
	MPID=$!
	TB_PIDS+=("$MPID")
	tb_wait 5 flag_is 1
}
# events OUT FIELD=VALUE...: how many events of OUT have every FIELD (a dotted path) = VALUE
events() {
	python3 - "$@" <<'EOF'
import json, sys
out, conds = sys.argv[1], [c.split("=", 1) for c in sys.argv[2:]]
def get(o, path):
    for k in path.split("."):
        o = o.get(k) if isinstance(o, dict) else None
    return o
n = 0
for line in open(out):
    ev = json.loads(line)
    if "lost" in ev:
        continue
    n += all(str(get(ev, k)) == v for k, v in conds)
print(n)
EOF
}

# ---- every decision: the four frames, in order, while a monitor with no filter runs
lookup=$(xlb -j lookup "$SVC" "$TB_CLIENT4:40001")
want_be=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["backend"]["address"])' "$lookup")
want_slot=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["slot"])' "$lookup")
if monitor "$TB_TMP/all.json" duration 4; then
	tb_ok "xlb monitor subscribes: the switch goes on"
else
	tb_not_ok "xlb monitor subscribes: the switch goes on" "xlb_monitor.on = $(flag)"
fi
frames syn "$TB_CLIENT4" 40000 198.18.0.99 80 1
frames bad "$TB_CLIENT4" 40000 198.18.0.99 80 1
frames syn "$TB_CLIENT4" 40001 "$TB_VIP4" 80 1
sleep 0.2
frames syn "$TB_CLIENT4" 40001 "$TB_VIP4" 80 1
wait "$MPID"
rc=$?
A=$TB_TMP/all.json
tb_check "xlb monitor duration 4 ends by itself, exit 0" "rc=$rc $(cat "$A.err")" [ $rc -eq 0 ]
tb_check "a frame to no VIP: pass_not_vip, its 5-tuple, no VIP, no backend" "$(head -c 600 "$A")" \
	[ "$(events "$A" reason=pass_not_vip src=$TB_CLIENT4 sport=40000 dst=198.18.0.99 dport=80 \
		proto=tcp vip=None backend=None)" = 1 ]
tb_check "a frame with IHL 4: drop_malformed" "$(head -c 600 "$A")" \
	[ "$(events "$A" reason=drop_malformed)" = 1 ]
tb_check "a new flow: tx from Maglev slot $want_slot to $want_be, as xlb lookup answered" \
	"lookup: $lookup; events: $(grep 40001 "$A" | head -c 600)" \
	[ "$(events "$A" reason=tx sport=40001 vip="$SVC" source=maglev slot="$want_slot" \
		backend.address="$want_be")" = 1 ]
tb_check "its second packet: tx from the flow table, the same backend" \
	"$(grep 40001 "$A" | head -c 600)" \
	[ "$(events "$A" reason=tx sport=40001 source=flow_table backend.address="$want_be")" = 1 ]
lookup=$(xlb -j lookup "$SVC" "$TB_CLIENT4:40001")
tb_check "xlb lookup agrees: the flow is in the flow table now" "$lookup" \
	grep -q '"source":"flow_table"' <<<"$lookup"
tb_wait 3 flag_is 0
f=$(flag)
tb_check "the monitor ended: the switch is off again" "xlb_monitor.on = $f" [ "$f" = 0 ]

# ---- filters: reason, VIP, address (evaluated in the datapath: one client filters exactly)
monitor "$TB_TMP/reason.json" reason drop_malformed,drop_no_backend duration 3
frames syn 198.18.0.70 1000 198.18.0.99 80 1
frames bad 198.18.0.70 1000 198.18.0.99 80 2
frames syn 198.18.0.70 1001 "$TB_VIP4" 80 1
wait "$MPID"
R=$TB_TMP/reason.json
tb_check "reason drop_malformed,drop_no_backend: only the 2 malformed frames" "$(head -c 600 "$R")" \
	[ "$(events "$R")" = 2 ] && [ "$(events "$R" reason=drop_malformed)" = 2 ]

monitor "$TB_TMP/vip.json" vip "$SVC" duration 3
frames syn 198.18.0.71 1000 198.18.0.99 80 2
frames syn 198.18.0.71 1001 "$TB_VIP4" 80 3
wait "$MPID"
V=$TB_TMP/vip.json
tb_check "vip $SVC: only its 3 packets" "$(head -c 600 "$V")" \
	[ "$(events "$V")" = 3 ] && [ "$(events "$V" vip="$SVC" src=198.18.0.71 reason=tx)" = 3 ]

monitor "$TB_TMP/addr.json" address 198.18.0.72 duration 3
frames syn 198.18.0.72 1000 198.18.0.99 80 2
frames syn 198.18.0.73 1000 198.18.0.99 80 2
frames syn 198.18.0.72 1001 "$TB_VIP4" 80 1
wait "$MPID"
D=$TB_TMP/addr.json
tb_check "address 198.18.0.72: only the 3 frames from it" "$(head -c 600 "$D")" \
	[ "$(events "$D")" = 3 ] && [ "$(events "$D" src=198.18.0.72)" = 3 ]

# ---- sampling: 1 in 10 of 100 matching frames, chosen in the datapath (its counters: 100
# matched, only the sample written to the ring)
read -r m0 e0 <<<"$(mon_stats)"
monitor "$TB_TMP/sample.json" address 198.18.0.74 sample 10 duration 3
frames syn 198.18.0.74 1000 198.18.0.99 80 100
wait "$MPID"
read -r m1 e1 <<<"$(mon_stats)"
S=$TB_TMP/sample.json
ns=$(events "$S" src=198.18.0.74)
tb_check "sample 10: about 1 in 10 of 100 frames ($ns events)" "$(head -c 300 "$S")" \
	[ "$ns" -ge 8 ] && [ "$ns" -le 12 ] && [ "$(events "$S")" = "$ns" ]
tb_check "the datapath matched 100 and wrote only the sample ($((m1 - m0)) matched, $((e1 - e0)) written)" \
	"matched $m0 -> $m1, emitted $e0 -> $e1" [ $((m1 - m0)) -eq 100 ] && [ $((e1 - e0)) -eq "$ns" ]

# ---- count, and the text output
"$XLB" -s "$TB_TMP/xlbd.sock" monitor address 198.18.0.75 count 2 >"$TB_TMP/text.out" 2>&1 &
MPID=$!
TB_PIDS+=("$MPID")
tb_wait 5 flag_is 1
frames syn 198.18.0.75 1000 198.18.0.99 80 5
tb_wait 5 sh -c "! kill -0 $MPID"
wait "$MPID"
rc=$?
tb_check "count 2: two lines, then exit 0" "rc=$rc: $(cat "$TB_TMP/text.out")" \
	[ $rc -eq 0 ] && [ "$(wc -l <"$TB_TMP/text.out")" = 2 ]
tb_check "text: time, reason, the flow" "$(head -1 "$TB_TMP/text.out")" \
	grep -qE '^[0-9:]{8}\.[0-9]{6} pass_not_vip +198\.18\.0\.75:1000 > 198\.18\.0\.99:80 tcp len 54$' \
	"$TB_TMP/text.out"

# ---- a monitor killed with SIGKILL: the daemon notices the closed socket, the switch goes off
monitor "$TB_TMP/killed.json"
on=$(flag)
exec 3>&2 2>/dev/null	# not bash's "Killed" notice
kill -9 "$MPID"
wait "$MPID"
exec 2>&3 3>&-
if [ "$on" = 1 ] && tb_wait 3 flag_is 0; then
	tb_ok "a monitor killed with SIGKILL: the switch goes off"
else
	tb_not_ok "a monitor killed with SIGKILL: the switch goes off" "before $on, now $(flag)"
fi
# two monitors at once: the switch stays on until the last one goes
monitor "$TB_TMP/m1.json" address 198.18.0.76
m1=$MPID
monitor "$TB_TMP/m2.json" reason pass_not_vip sample 2
m2=$MPID
frames syn 198.18.0.76 1000 198.18.0.99 80 4
sleep 0.5
kill "$m1"
wait "$m1" 2>/dev/null
sleep 0.5
f=$(flag)
kill "$m2"
wait "$m2" 2>/dev/null
tb_check "two monitors, each its own filter: 4 and about 2 events; one left, the switch stays on" \
	"m1 $(events "$TB_TMP/m1.json"), m2 $(events "$TB_TMP/m2.json"), on $f" \
	[ "$(events "$TB_TMP/m1.json" src=198.18.0.76)" = 4 ] && [ "$f" = 1 ] &&
	[ "$(events "$TB_TMP/m2.json" reason=pass_not_vip)" -ge 1 ] &&
	[ "$(events "$TB_TMP/m2.json" reason=pass_not_vip)" -le 3 ]
tb_wait 3 flag_is 0
tb_check "the last monitor gone: off" "on $(flag)" flag_is 0

# ---- bad arguments: refused, nothing subscribed
xlb monitor reason nope >/dev/null 2>"$TB_TMP/err"
rc=$?
tb_check "reason nope: usage error (exit 2), named" "rc=$rc $(cat "$TB_TMP/err")" \
	[ $rc -eq 2 ] && grep -q 'invalid reason "nope"' "$TB_TMP/err"
xlb monitor reason flood_guard >/dev/null 2>"$TB_TMP/err"
rc=$?
tb_check "an event is no verdict: reason flood_guard refused" "rc=$rc" [ $rc -eq 2 ]
xlb monitor sample 0 >/dev/null 2>"$TB_TMP/err"
rc=$?
tb_check "sample 0: usage error" "rc=$rc $(cat "$TB_TMP/err")" \
	[ $rc -eq 2 ] && grep -q 'invalid sample "0" (1..1000000)' "$TB_TMP/err"
xlb monitor vip 198.18.0.99:80/tcp >/dev/null 2>"$TB_TMP/err"
rc=$?
tb_check "vip that does not exist: refused by xlbd (exit 1)" "rc=$rc $(cat "$TB_TMP/err")" \
	[ $rc -eq 1 ] && grep -q 'no VIP 198.18.0.99:80/tcp' "$TB_TMP/err"
f=$(flag)
tb_check "after the refusals the switch is off" "on $f" [ "$f" = 0 ]

tb_stop "$XPID"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TB_TMP/xlbd.log"; then
	tb_not_ok "xlbd: no sanitizer report" "$(grep -m3 -E 'Sanitizer|runtime error' "$TB_TMP/xlbd.log")"
else
	tb_ok "xlbd: no sanitizer report"
fi
