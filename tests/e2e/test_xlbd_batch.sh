#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbd batches end to end (root): a bad op changes nothing and is named, xlb -b, 1,000 VIPs in
# one batch consistent everywhere, kill -9 during a batch leaves the old or the new config,
# the VIP limit from the config file enforced with a clear error.
set -u
source "$(dirname "$0")/xlbd_lib.sh"
xlbd_require "xlbd batches"
XLB=${XLB:-$BUILD/san/xlb}

cat >"$CONF" <<JSON
{"interfaces": [], "nexthop_mac": "02:00:00:00:00:01", "encap_source4": "198.18.0.1",
 "mtu": 1290, "metrics_listen": "off", "vips": []}
JSON
if xlbd_start; then
	xlbd_py "$E2E_DIR/xlbd_batch.py" "$SOCK" "$CONF" "$XLB" "$XLBD_PLAIN" "$PIN" ||
		xlbd_show_log_on_failure
	xlbd_stop TERM
	check "batch phase: clean exit (no leak)" test $? -eq 0
else
	fail "xlbd starts for the batch test" "see log"; xlbd_show_log_on_failure
fi

# ---- kill -9 during a batch: the file holds the old config or the new one, never a mix
python3 - "$CONF" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["vips"] = [{"address": "198.18.0.10", "port": 80, "table_size": 251,
              "backends": [{"address": "198.18.1.1"}]}]
json.dump(c, open(sys.argv[1], "w"))
PY
bad=0 why= last=1
for round in 1 2 3 4; do
	if ! xlbd_start; then bad=1; why="round $round: xlbd did not start"; break; fi
	# round r: 300 more VIPs of 4 backends each (new: 301 + ...), or it is killed first
	python3 - "$SOCK" "$round" <<'PY' &
import sys
from xlbd_client import Client
r = int(sys.argv[2])
ops = []
for i in range(300):
    v = "198.18.%d.%d:%d/tcp" % (20 + i // 250, i % 250 + 1, 1000 + r)
    ops.append({"cmd": "vip_add", "vip": v, "table_size": 65537})
    ops += [{"cmd": "backend_add", "vip": v, "address": "198.19.%d.%d" % (r, j + 1)}
            for j in range(4)]
try:
    Client(sys.argv[1], timeout=60).req({"cmd": "batch", "ops": ops})
except (OSError, ValueError):
    pass
PY
	bp=$!
	PIDS+=("$bp")
	# from early (validation) to late (apply, write, or done): round r waits r-1 s and some
	sleep "$((round - 1)).$((RANDOM % 9 + 1))"
	kill -9 "$XPID"
	wait "$XPID" 2>/dev/null
	wait "$bp" 2>/dev/null
	if ! out=$("$XLBD_PLAIN" --check --config "$CONF" 2>&1); then
		bad=1; why="round $round: config does not parse: $out"; break
	fi
	nv=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["vips"]))' "$CONF")
	if [ "$nv" -ne "$last" ] && [ "$nv" -ne $((last + 300)) ]; then
		bad=1; why="round $round: $nv VIPs in the file: neither the old config nor the new"
		break
	fi
	echo "# round $round: killed; the file holds $nv VIPs"
	last=$nv
done
if [ $bad -eq 0 ]; then
	pass "kill -9 during a batch: the file holds the old or the new config, never a mix"
else
	fail "kill -9 during a batch: the file holds the old or the new config" "$why"
fi
if xlbd_start; then
	check "restarted after the kills: the file and the daemon agree" python3 - "$SOCK" "$CONF" <<'PY'
import sys
from xlbd_client import Client, file_matches_state
good, why = file_matches_state(Client(sys.argv[1]), sys.argv[2])
if not good:
    print("# " + why)
    sys.exit(1)
PY
	xlbd_stop TERM
	check "kill phase: clean exit" test $? -eq 0
else
	fail "xlbd restarts after the kills" "see log"; xlbd_show_log_on_failure
fi
rm -rf "$PIN"

# ---- max_vips from the config file: the limit of a fresh load, with a clear error
python3 - "$CONF" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["max_vips"] = 16
c["vips"] = [{"address": "198.18.0.%d" % (i + 1), "port": 80, "table_size": 251}
             for i in range(16)]
json.dump(c, open(sys.argv[1], "w"))
PY
if xlbd_start; then
	check "max_vips 16: the daemon runs 16 VIPs" python3 - "$SOCK" <<'PY'
import sys
from xlbd_client import Client
c = Client(sys.argv[1])
r1 = c.req({"cmd": "vip_add", "vip": "198.18.1.1:80/tcp"})
r2 = c.req({"cmd": "batch", "ops": [{"cmd": "vip_del", "vip": "198.18.0.1:80/tcp"},
                                    {"cmd": "vip_add", "vip": "198.18.1.1:80/tcp"},
                                    {"cmd": "vip_add", "vip": "198.18.1.2:80/tcp"}]})
ok = (not r1["ok"] and r1["error"] == "vip: at most 16 VIPs (max_vips)" and not r2["ok"] and
      r2["error"] == "ops[2] (vip_add): vip: at most 16 VIPs (max_vips)" and
      len(c.req({"cmd": "vip_list"})["vips"]) == 16)
if not ok:
    print("# %s %s" % (r1, r2))
    sys.exit(1)
PY
	check "the maps of a fresh load are sized by max_vips" \
		test "$(bpftool -j map show pinned "$PIN/xlb_maglev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')" -eq 16
	xlbd_stop TERM
	# adopted with another max_vips: the pinned sizes stay, and a line says so
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["max_vips"]=2048; json.dump(c, open(sys.argv[1],"w"))' "$CONF"
	if xlbd_start; then
		check "adopting: max_vips of the file does not resize the pinned maps, and says so" \
			grep -q "max_vips 2048, max_backends 65536 take effect only when the datapath is loaded afresh.*hold 16 VIPs" "$LOG"
		check "adopting: still 16 at most" python3 - "$SOCK" <<'PY'
import sys
from xlbd_client import Client
r = Client(sys.argv[1]).req({"cmd": "vip_add", "vip": "198.18.1.1:80/tcp"})
sys.exit(0 if not r["ok"] and "at most 16 VIPs" in r["error"] else 1)
PY
		xlbd_stop TERM
	else
		fail "xlbd adopts with another max_vips" "see log"
	fi
else
	fail "xlbd starts with max_vips 16" "see log"; xlbd_show_log_on_failure
fi
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["max_vips"]=16; c["vips"].append({"address": "198.18.2.1", "port": 80}); json.dump(c, open(sys.argv[1],"w"))' "$CONF"
out=$("$XLBD_PLAIN" --check --config "$CONF" 2>&1)
check "a file with more VIPs than max_vips: a clear error" \
	grep -q "vips: at most 16 VIPs (max_vips), 17 given" <<<"$out"
check "no sanitizer report" xlbd_sanitizer_clean
exit 0
