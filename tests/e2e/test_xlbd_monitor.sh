#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The monitor switch across daemon deaths (root): an xlbd killed with SIGKILL while a monitor
# runs leaves the pinned switch xlb_monitor on (its client sees the connection close, exit 1);
# the next xlbd adopts the pins, clears the switch and says so; a monitor on the new daemon sees
# a frame run through the pinned program (BPF_PROG_TEST_RUN via bpftool).
set -u
source "$(dirname "$0")/xlbd_lib.sh"
xlbd_require "xlbd monitor switch"
command -v bpftool >/dev/null || { echo "ok 1 - xlbd monitor switch # SKIP no bpftool"; exit 0; }

cat >"$CONF" <<JSON
{"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "encap_source4": "198.18.0.1",
 "metrics_listen": "off",
 "vips": [{"address": "198.18.0.10", "port": 80, "table_size": 251,
           "backends": [{"address": "198.18.1.1"}]}]}
JSON
XLB=$BUILD/xlb
flag() {
	bpftool -j map dump pinned "$PIN/xlb_monitor" | python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["formatted"]["value"]["on"])'
}
flag_is() { [ "$(flag)" = "$1" ]; }
wait_for() {		# wait_for SECONDS CMD...
	local i
	for i in $(seq $(($1 * 10))); do
		"${@:2}" && return 0
		sleep 0.1
	done
	return 1
}

if ! xlbd_start; then
	fail "xlbd starts" "see log"; xlbd_show_log_on_failure; exit 1
fi
check "the switch is off at start" flag_is 0
"$XLB" -s "$SOCK" -j monitor >"$T/mon1.out" 2>"$T/mon1.err" &
mon=$!
PIDS+=("$mon")
check "a monitor turns it on" wait_for 5 flag_is 1
xlbd_stop KILL
wait "$mon"
rc=$?
check "xlbd killed: its monitor sees the connection close (exit 1, said as JSON with -j)" \
	test $rc -eq 1 -a -n "$(grep '{"error": *"xlbd at .* closed the connection' "$T/mon1.out")"
check "xlbd killed with a monitor: the pinned switch is left on" flag_is 1
if ! xlbd_start; then
	fail "xlbd starts again" "see log"; xlbd_show_log_on_failure; exit 1
fi
check "the next xlbd adopts the pins, clears the switch and says so" \
	test "$(flag)" = 0 -a -n "$(grep 'adopting the pinned datapath' "$LOG")" \
	-a -n "$(grep 'monitor: cleared the switch an earlier xlbd left on' "$LOG")"

# a frame through the pinned program while a monitor runs: one event, as the program decided
python3 - "$T/frame.bin" <<'PY'
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 8192, 0, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0,
                 socket.inet_aton("198.18.5.1"), socket.inet_aton("198.18.0.10"))
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
open(sys.argv[1], "wb").write(b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + tcp)
PY
"$XLB" -s "$SOCK" -j monitor vip 198.18.0.10:80/tcp count 1 duration 10 >"$T/mon2.out" 2>&1 &
mon=$!
PIDS+=("$mon")
wait_for 5 flag_is 1
bpftool prog run pinned "$PIN/prog" data_in "$T/frame.bin" data_out /dev/null >/dev/null 2>&1
wait "$mon"
rc=$?
check "a monitor on the new daemon sees the frame: tx from Maglev to 198.18.1.1" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ev = json.loads(lines[0]) if lines else {}	# -j: the event objects themselves
if not ev.get("reason"):
    print("# mon2.out: %r" % lines[:3])
sys.exit(not (sys.argv[2] == "0" and ev.get("reason") == "tx"
              and ev.get("vip") == "198.18.0.10:80/tcp"
              and ev.get("backend", {}).get("address") == "198.18.1.1"
              and ev.get("source") == "maglev" and ev.get("src") == "198.18.5.1"
              and ev.get("sport") == 40000))' "$T/mon2.out" "$rc"
check "it ended: the switch is off" wait_for 3 flag_is 0
xlbd_stop TERM
check "clean exit" test $? -eq 0
check "no sanitizer report" xlbd_sanitizer_clean
echo "1..$n"
