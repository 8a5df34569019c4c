#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbd restart without loss (root): flows driven through the pinned program (BPF_PROG_TEST_RUN
# via bpftool); SIGTERM leaves it pinned and forwarding; while no daemon runs the config gains
# a backend and its backends change order; a new xlbd adopts the pins: flow table, counters and
# backend ids (matched by address and port) survive and every flow keeps its backend. --detach-on-exit removes everything. A veth in a namespace checks the
# attach path.
set -u
source "$(dirname "$0")/xlbd_lib.sh"
xlbd_require "xlbd restart"
command -v bpftool >/dev/null || { echo "ok 1 - xlbd restart # SKIP no bpftool"; exit 0; }

cat >"$CONF" <<JSON
{"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "hash_seed": 1234,
 "metrics_listen": "off",
 "encap_source4": "198.18.0.1", "encap_source6": "2001:db8::1",
 "vips": [{"address": "198.18.0.10", "port": 80, "table_size": 251,
           "backends": [{"address": "198.18.1.1"}, {"address": "198.18.1.2"},
                        {"address": "198.18.1.3"}, {"address": "198.18.1.4"},
                        {"address": "198.18.1.1", "port": 8080}]},
          {"address": "2001:db8::10", "port": 443, "proto": "udp", "table_size": 509,
           "backends": [{"address": "2001:db8:1::1"}, {"address": "198.18.1.5"}]}]}
JSON
PROG=$PIN/prog
R="python3 $E2E_DIR/xlbd_restart.py"

if ! xlbd_start; then
	fail "xlbd starts" "see log"; xlbd_show_log_on_failure; exit 1
fi
check "30 flows forwarded through the pinned program" $R drive "$PROG" "$T"
# too_big unset: the default policy icmp sets XLB_CFG_F_ICMP_TOO_BIG (xlb_config.flags, byte 44)
check "too_big defaults to icmp (XLB_CFG_F_ICMP_TOO_BIG in the pinned config)" python3 -c '
import json, subprocess, sys
v = json.loads(subprocess.run(["bpftool", "map", "lookup", "pinned", sys.argv[1], "key", "hex",
                               "00", "00", "00", "00", "-j"], capture_output=True).stdout)
v = v.get("value", v)
sys.exit(0 if int(v[44], 16) & 2 else 1)' "$PIN/xlb_config"
check "snapshot before the restart" $R snapshot "$SOCK" "$T/snap.json"
xlbd_stop TERM
check "SIGTERM: clean exit, no leak" test $? -eq 0
check "program and maps stay pinned without a daemon" test -e "$PROG" -a -e "$PIN/xlb_flows"
check "packets still forwarded while no daemon runs" $R drive "$PROG" "$T"

# the config changes while the daemon is down: a new backend takes slots of the table, and the
# backends are listed in reverse order (198.18.1.1 port 8080 first: the pins hold ports, so the
# two backends on 198.18.1.1 keep their ids)
python3 - "$CONF" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["vips"][0]["backends"].reverse()
c["vips"][0]["backends"].append({"address": "198.18.1.9", "weight": 400})
c["flow_table_size"] = 2048
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
if ! xlbd_start; then
	fail "xlbd restarts" "see log"; xlbd_show_log_on_failure; exit 1
fi
check "restarted xlbd logs the adoption" grep -q "adopting the pinned datapath" "$LOG"
check "adopting a flow table of another size than the config says is logged" \
	grep -q "flow_table_size 2048 takes effect only" "$LOG"
check "forwarding continues after the restart" $R drive "$PROG" "$T"
xlbd_py "$E2E_DIR/xlbd_restart.py" compare "$SOCK" "$T/snap.json" 3 || xlbd_show_log_on_failure
check "new flows reach the added backend" python3 - "$SOCK" <<'PY'
import sys
from xlbd_client import Client
c = Client(sys.argv[1])
hits = [c.req({"cmd": "lookup", "vip": "198.18.0.10:80/tcp", "src": "198.18.7.%d:%d" % (i, i)})
        for i in range(1, 60)]
sys.exit(0 if any(h["backend"]["address"] == "198.18.1.9" and h["source"] == "maglev"
                  for h in hits) else 1)
PY
check "lookup through an all-ports VIP names the port and finds the flow" python3 - "$SOCK" "$PROG" "$T" <<'PY'
import subprocess, sys
from xlbd_client import Client
from xlbd_pkt import frame
c = Client(sys.argv[1])
ok = c.req({"cmd": "vip_add", "vip": "198.18.0.12:0/udp", "table_size": 251})["ok"]
ok &= c.req({"cmd": "backend_add", "vip": "198.18.0.12:0/udp", "address": "198.18.1.7"})["ok"]
ok &= c.req({"cmd": "backend_add", "vip": "198.18.0.12:0/udp", "address": "198.18.1.8"})["ok"]
path = sys.argv[3] + "/allports"
with open(path, "wb") as fh:
    fh.write(frame("198.18.6.1", 4000, "198.18.0.12", 53, "udp"))
p = subprocess.run(["bpftool", "prog", "run", "pinned", sys.argv[2], "data_in", path, "repeat", "1"],
                   capture_output=True, text=True)
ok &= "Return value: 3," in p.stdout
r = c.req({"cmd": "lookup", "vip": "198.18.0.12:53/udp", "src": "198.18.6.1:4000"})
ok &= r.get("ok") is True and r.get("source") == "flow_table"
ok &= c.req({"cmd": "lookup", "vip": "198.18.0.13:53/udp", "src": "198.18.6.1:4000"})["ok"] is False
ok &= c.req({"cmd": "vip_del", "vip": "198.18.0.12:0/udp"})["ok"]
sys.exit(0 if ok else 1)
PY
xlbd_stop TERM
check "second SIGTERM: clean exit" test $? -eq 0

# a pinned state of another ABI version is replaced by a fresh load, with a log line
val=$(bpftool map lookup pinned "$PIN/xlb_config" key hex 00 00 00 00 -j |
	python3 -c 'import json,sys; v=json.load(sys.stdin); v=v.get("value", v)
b=[int(x, 16) for x in v] if isinstance(v, list) else None
b[48:52]=[99, 0, 0, 0]; print(" ".join("%02x" % x for x in b))' 2>/dev/null)
if [ -n "$val" ] && bpftool map update pinned "$PIN/xlb_config" key hex 00 00 00 00 value hex $val; then
	stale=1
else
	stale=0
fi
# --detach-on-exit removes the pins
if xlbd_start --detach-on-exit; then
	if [ $stale -eq 1 ]; then
		check "stale ABI pins: logged and replaced by a fresh datapath" python3 - "$SOCK" "$LOG" <<'PY'
import sys
from xlbd_client import Client
st = Client(sys.argv[1]).req({"cmd": "status"})
log = open(sys.argv[2], errors="replace").read().rsplit("--- start", 1)[1]
sys.exit(0 if st["adopted"] is False and st["flows"] == 0 and "ABI version 99" in log else 1)
PY
	else
		n=$((n + 1)); echo "ok $n - stale ABI pins # SKIP cannot rewrite the pinned config"
	fi
	xlbd_stop TERM
	rc=$?
	check "--detach-on-exit: clean exit" test $rc -eq 0
	check "--detach-on-exit: pins removed" test ! -e "$PIN"
else
	fail "xlbd starts with --detach-on-exit" "see log"
fi

# attach to a veth inside a namespace of our own (generic mode), then detach on exit
NS=xlbd-test-$$
cleanup_ns() { ip netns del "$NS" 2>/dev/null; xlbd_cleanup; }
trap cleanup_ns EXIT
if ip netns add "$NS" 2>/dev/null &&
   ip -n "$NS" link add xa type veth peer name xb &&
   ip -n "$NS" link set xa up && ip -n "$NS" link set xb up; then
	sed 's/"interfaces": \[\]/"interfaces": [{"name": "xa", "mode": "generic"}]/' "$CONF" >"$T/ns.json"
	ip netns exec "$NS" bash -c '
		mount -t bpf bpf /sys/fs/bpf || exit 3
		'"$XLBD"' --config '"$T/ns.json"' --socket '"$T/ns.sock"' --pin-dir /sys/fs/bpf/xlb-test \
			--foreground --detach-on-exit >'"$T/ns.log"' 2>&1 &
		pid=$!
		for i in $(seq 1 200); do grep -qs "serving on" '"$T/ns.log"' && break; sleep 0.05; done
		ip link show xa | grep -q xdp || { kill $pid; wait $pid; exit 4; }
		python3 -c "
import sys; sys.path.insert(0, \"'"$E2E_DIR"'\")
from xlbd_client import Client
st = Client(\"'"$T/ns.sock"'\").req({\"cmd\": \"status\"})
sys.exit(0 if st[\"interfaces\"][0][\"name\"] == \"xa\" and st[\"interfaces\"][0][\"ifindex\"] > 0 else 5)
" || { kill $pid; wait $pid; exit 5; }
		# a reload that changes the attach mode re-attaches in the new mode
		sed "s/\"mode\": \"generic\"/\"mode\": \"native\"/" '"$T/ns.json"' >'"$T/ns.json.new"' &&
			mv '"$T/ns.json.new"' '"$T/ns.json"'
		kill -HUP $pid
		for i in $(seq 1 200); do grep -qs "reload: done" '"$T/ns.log"' && break; sleep 0.05; done
		ip link show xa | grep -q "xdpgeneric" && { kill $pid; wait $pid; exit 8; }
		ip link show xa | grep -q "xdp" || { kill $pid; wait $pid; exit 9; }
		kill -TERM $pid; wait $pid || exit 6
		ip link show xa | grep -q xdp && exit 7
		exit 0'
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "attach to a veth in a namespace (generic), status lists it, reload to native re-attaches, detached on exit"
	else
		fail "attach to a veth in a namespace (generic), status lists it, reload to native re-attaches, detached on exit" \
			"step $rc: $(tail -n 5 "$T/ns.log" | tr '\n' ' ')"
	fi
else
	n=$((n + 1)); echo "ok $n - veth attach # SKIP cannot create a namespace"
fi
check "no sanitizer report" xlbd_sanitizer_clean
check "no sanitizer report (namespace run)" bash -c "! grep -qE 'Sanitizer|runtime error' '$T/ns.log' 2>/dev/null"
exit 0
