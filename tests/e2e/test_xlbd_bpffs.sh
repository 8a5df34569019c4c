#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A fresh machine (root): in a mount namespace where /sys/fs/bpf holds no bpffs, xlbd mounts
# one, logs it, pins, serves, and on restart adopts without mounting a second; --bpffs mounts
# elsewhere; a pin dir it cannot serve and a mount it may not make are clear startup errors
# that leave nothing behind.
set -u
source "$(dirname "$0")/xlbd_lib.sh"
xlbd_require "xlbd bpffs"
XLB=${XLB:-$BUILD/xlb}

# bpffs mounts at $1 in this mount namespace
bpffs_mounts() {
	awk -v d="$1" '$5 == d { for (i = 6; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "bpf") n++; break } }
		END { print n + 0 }' /proc/self/mountinfo
}

cat >"$CONF" <<JSON
{
  "interfaces": [],
  "metrics_listen": "off",
  "nexthop_mac": "02:00:00:00:00:01",
  "encap_source4": "198.18.0.1",
  "vips": [
    {"address": "198.18.0.10", "port": 80, "proto": "tcp", "table_size": 251,
     "backends": [{"address": "198.18.1.1"}, {"address": "198.18.1.2"}]}
  ]
}
JSON

check "the test starts with no bpffs at /sys/fs/bpf" [ "$(bpffs_mounts /sys/fs/bpf)" = 0 ]

if ! xlbd_start; then
	fail "xlbd starts where no bpffs is mounted" "see log"
	xlbd_show_log_on_failure
	exit 1
fi
pass "xlbd starts where no bpffs is mounted"
check "it says so in one log line" \
	grep -q "mounted a BPF filesystem at /sys/fs/bpf (the pin dir $PIN was on sysfs)" "$LOG"
check "one bpffs is mounted at /sys/fs/bpf" [ "$(bpffs_mounts /sys/fs/bpf)" = 1 ]
check "maps and program are pinned there" test -e "$PIN/xlb_vips" -a -e "$PIN/prog"
out=$("$XLB" -s "$SOCK" -j vip add 198.18.0.20:53/udp 2>&1)
check "the API serves (vip add)" grep -q '"vip":"198.18.0.20:53/udp"' <<<"$out"

xlbd_stop TERM
check "SIGTERM: pins stay" test -e "$PIN/xlb_vips"

if ! xlbd_start; then
	fail "xlbd restarts on its own bpffs" "see log"
	xlbd_show_log_on_failure
	exit 1
fi
st=$("$XLB" -s "$SOCK" -j status 2>&1)
check "restart adopts the pinned state" grep -q '"adopted":true' <<<"$st"
check "restart mounts nothing twice" [ "$(bpffs_mounts /sys/fs/bpf)" = 1 ]
check "only the first start logged a mount" [ "$(grep -c 'mounted a BPF filesystem' "$LOG")" = 1 ]
vl=$("$XLB" -s "$SOCK" vip list 2>&1)
check "the VIP added before the restart is served" grep -q '198.18.0.20:53/udp' <<<"$vl"
xlbd_stop TERM
rm -rf "$PIN"

# --bpffs: a mount point of the operator's choosing, created when missing
ALT=$T/bpf
"$XLBD" --config "$CONF" --socket "$T/alt.sock" --pin-dir "$ALT/xlb" --bpffs "$ALT" \
	--foreground --detach-on-exit >"$T/alt.log" 2>&1 &
apid=$!
PIDS+=("$apid")
for _ in $(seq 1 100); do grep -q "serving on" "$T/alt.log" && break; sleep 0.05; done
ok=0
grep -q "mounted a BPF filesystem at $ALT " "$T/alt.log" && [ "$(bpffs_mounts "$ALT")" = 1 ] &&
	[ -e "$ALT/xlb/xlb_vips" ] && ok=1
kill -TERM "$apid" 2>/dev/null
wait "$apid" 2>/dev/null
check "--bpffs DIR: mounted there and pinned below it" [ $ok = 1 ]
umount -l "$ALT" 2>/dev/null

# A pin dir on no bpffs and outside the mount point: refused, named, nothing created
mkdir -p "$T/plain"
out=$("$XLBD" --config "$CONF" --socket "$T/p.sock" --pin-dir "$T/plain/xlb" --foreground 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "the pin dir $T/plain/xlb is on .*, not a BPF filesystem" <<<"$out" &&
   grep -q 'mount -t bpf bpf' <<<"$out" && [ ! -e "$T/plain/xlb" ] && [ ! -e "$T/p.sock" ]; then
	pass "a pin dir outside any bpffs: clear error naming it and the fix"
else
	fail "a pin dir outside any bpffs: clear error naming it and the fix" "rc=$rc: $out"
fi

# Without CAP_SYS_ADMIN the mount is refused: exit 1 with the directory and the fix
umount -l /sys/fs/bpf
if command -v setpriv >/dev/null; then
	out=$(setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin "$XLBD_PLAIN" --config "$CONF" \
		--socket "$T/c.sock" --pin-dir "$PIN" --foreground 2>&1)
	rc=$?
	if [ $rc = 1 ] && grep -q "mounting one at /sys/fs/bpf failed: Operation not permitted" <<<"$out" &&
	   grep -q 'mount -t bpf bpf /sys/fs/bpf' <<<"$out" && ! grep -q 'No such file' <<<"$out" &&
	   [ "$(bpffs_mounts /sys/fs/bpf)" = 0 ]; then
		pass "no CAP_SYS_ADMIN: a clear error naming the directory and the fix"
	else
		fail "no CAP_SYS_ADMIN: a clear error naming the directory and the fix" "rc=$rc: $out"
	fi
else
	n=$((n + 1)); echo "ok $n - no CAP_SYS_ADMIN # SKIP setpriv (util-linux) not installed"
fi

check "no sanitizer report" xlbd_sanitizer_clean
echo "1..$n"
