#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbd API end to end (root): the sanitized daemon on a private pin dir and socket, no
# interface; every request type, bad and hostile clients, 50 concurrent clients, the config
# file equal to the running state after every change; clean exit without leaks.
set -u
source "$(dirname "$0")/xlbd_lib.sh"
xlbd_require "xlbd API"

cat >"$CONF" <<JSON
{
  "interfaces": [],
  "metrics_listen": "off",
  "nexthop_mac": "02:00:00:00:00:01",
  "hash_seed": 7,
  "encap_source4": "198.18.0.1",
  "encap_source6": "2001:db8::1",
  "vips": [
    {"address": "198.18.0.10", "port": 80, "proto": "tcp", "table_size": 251,
     "backends": [{"address": "198.18.1.1"}, {"address": "198.18.1.2", "weight": 50}]}
  ]
}
JSON

# A broken config is refused with every error and its path, and nothing is loaded.
cat >"$T/bad.json" <<JSON
{"vips": [{"address": "198.18.0.10", "port": 70000, "backends": [{"address": "x", "weight": -1}]}],
 "colour": "blue"}
JSON
out=$("$XLBD" --config "$T/bad.json" --socket "$SOCK" --pin-dir "$PIN" --foreground 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q 'vips\[0\].port: must be 0..65535' <<<"$out" &&
   grep -q 'vips\[0\].backends\[0\].address' <<<"$out" &&
   grep -q 'vips\[0\].backends\[0\].weight: must be 0..65535' <<<"$out" &&
   grep -q 'colour: unknown key' <<<"$out" && [ ! -e "$PIN" ] && [ ! -e "$SOCK" ]; then
	pass "invalid config: every error with its path, nothing loaded"
else
	fail "invalid config: every error with its path, nothing loaded" "rc=$rc: $out"
fi

if ! xlbd_start; then
	fail "xlbd starts" "see log"
	xlbd_show_log_on_failure
	exit 1
fi
pass "xlbd starts (fresh datapath, no interface)"
check "pins created under the test pin dir" test -e "$PIN/xlb_vips"

# A second daemon on the same socket refuses to start and disturbs nothing.
"$XLBD" --config "$CONF" --socket "$SOCK" --pin-dir "$PIN" --foreground >"$T/second.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "another xlbd" "$T/second.log"; then
	pass "a second xlbd on the same socket refuses to start"
else
	fail "a second xlbd on the same socket refuses to start" "rc=$rc $(head -c 300 "$T/second.log")"
fi

xlbd_py "$E2E_DIR/xlbd_api.py" "$SOCK" "$CONF" "$XLBD_PLAIN" || xlbd_show_log_on_failure

check "daemon logged one line per change and rebuild" \
	grep -qE 'vip 198.18.0.10:80/tcp: table rebuilt \(M=251, [0-9]+ backends\) in [0-9.]+ ms' "$LOG"
xlbd_stop TERM
rc=$?
check "SIGTERM: clean exit (status 0, no leak)" test "$rc" -eq 0
check "no sanitizer report" xlbd_sanitizer_clean
check "socket removed at exit" test ! -e "$SOCK"
check "pins left in place at exit (default)" test -e "$PIN/xlb_vips"
[ $rc -ne 0 ] && xlbd_show_log_on_failure

# Out of file descriptors: 150 clients against a limit of 64 fds. Those beyond the limit are
# refused (no busy loop on the listening socket), and the daemon serves again once they leave.
if XLBD_WRAP="prlimit --nofile=64:64" xlbd_start; then
	check "fd exhaustion: clients refused without spinning, served again afterwards" \
		python3 - "$SOCK" "$XPID" <<'PY'
import socket, sys, time
from xlbd_client import Client
sock, pid = sys.argv[1], int(sys.argv[2])
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0
c0, held = cpu(), []
for i in range(150):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    held.append(s)
time.sleep(1.0)
spent = cpu() - c0
for s in held:
    s.close()
time.sleep(0.3)
ok = Client(sock).req({"cmd": "status"}).get("ok")
if not ok or spent > 0.5:
    print("# status ok=%s, cpu %.2fs while exhausted" % (ok, spent))
    sys.exit(1)
PY
	check "fd exhaustion: refusals logged" grep -q "out of file descriptors" "$LOG"
	xlbd_stop TERM
	check "fd exhaustion: clean exit" test $? -eq 0
else
	fail "xlbd starts with 64 file descriptors" "see log"
fi
check "no sanitizer report (second run)" xlbd_sanitizer_clean
exit 0
