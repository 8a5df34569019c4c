#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Golden output of every xlb command, text and JSON, against the real xlbd (load and pin only,
# no interface). Values that vary from run to run (pid, uptime, config path, version) are
# masked; everything else, Maglev slots and flow hashes included, is fixed by the config's
# hash seed. Read-only commands also run through the ASan/UBSan build of xlb.
# XLB_GOLDEN_UPDATE=1 rewrites tests/e2e/cli_golden/ from this run instead of comparing.
set -u
source "$(dirname "$0")/mntns.sh"
BUILD=${XLB_BUILD:-build}
XLB=$BUILD/xlb
XLB_SAN=$BUILD/san/xlb
XLBD=$BUILD/xlbd
GOLDEN=$(dirname "$0")/cli_golden
UPDATE=${XLB_GOLDEN_UPDATE:-}

tmp=$(mktemp -d /tmp/xlb-cli-golden.XXXXXX)
pins=/sys/fs/bpf/xlb-test-$$
daemon=
proxy=
cleanup() {
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$pins" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1 # $2"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

if [ "$(id -u)" != 0 ]; then
	skip "cli golden" "needs root (BPF) to run xlbd"
	echo "1..$n"
	exit 0
fi
for b in "$XLB" "$XLB_SAN" "$XLBD"; do
	if [ ! -x "$b" ]; then
		fail "cli golden" "$b not built"
		echo "1..$n"
		exit 1
	fi
done

cat >"$tmp/xlbd.json" <<'CONF'
{
	"interfaces": [],
	"metrics_listen": "off",
	"hash_seed": 42,
	"flow_table_size": 4096,
	"encap_source4": "198.18.0.1",
	"encap_source6": "2001:db8::1",
	"vips": []
}
CONF
"$XLBD" --config "$tmp/xlbd.json" --socket "$tmp/xlbd.sock" --pin-dir "$pins" --foreground \
	--detach-on-exit >"$tmp/xlbd.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do
	[ -S "$tmp/xlbd.sock" ] && break
	kill -0 "$daemon" 2>/dev/null || break
	sleep 0.1
done
if [ ! -S "$tmp/xlbd.sock" ]; then
	fail "xlbd starts" "no socket after 10 s; log: $(tail -n 3 "$tmp/xlbd.log" | tr '\n' ' ')"
	echo "1..$n"
	exit 1
fi
pass "xlbd starts and serves $tmp/xlbd.sock"
export XLB_SOCKET=$tmp/xlbd.sock

# Masks what varies between runs, in text ("pid   123") and JSON ("pid":123 / "pid": 123).
mask() {
	sed -E -e "s|$tmp|TMP|g" \
		-e 's/^(version|pid|uptime|config)( +).*/\1\2X/' \
		-e 's/("(version|config)": ?)"[^"]*"/\1"X"/g' \
		-e 's/("(pid|uptime_s)": ?)[0-9]+/\1"X"/g'
}

# Runs "$@" and prints what a golden file holds: the command, stdout, stderr, exit status.
capture() {
	local rc
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	echo "\$ xlb ${*:2}"
	mask <"$tmp/out"
	if [ -s "$tmp/err" ]; then
		echo "--- stderr"
		mask <"$tmp/err"
	fi
	[ "$rc" -ne 0 ] && echo "--- exit $rc"
	return 0
}

# step NAME [ro] ARGS...: xlb ARGS against cli_golden/NAME; "ro" (read-only) also runs san/xlb.
step() {
	local name=$1 ro= bin d
	shift
	[ "$1" = ro ] && { ro=1; shift; }
	for bin in "$XLB" ${ro:+"$XLB_SAN"}; do
		capture "$bin" "$@" >"$tmp/got"
		if [ -n "$UPDATE" ]; then
			[ "$bin" = "$XLB" ] && cp "$tmp/got" "$GOLDEN/$name"
			continue
		fi
		if [ ! -f "$GOLDEN/$name" ]; then
			fail "$name: xlb $*" "no golden file $GOLDEN/$name (XLB_GOLDEN_UPDATE=1 makes it)"
		elif d=$(diff -u "$GOLDEN/$name" "$tmp/got"); then
			pass "$name${ro:+ ($(basename "$(dirname "$bin")")/xlb)}: xlb $*"
		else
			fail "$name: xlb $*" "$(echo "$d" | grep -m1 -E '^[-+][^-+]') ($bin)"
			echo "$d" | sed 's/^/#   /'
		fi
	done
}

V4=198.18.0.10:80/tcp
V6=[2001:db8::10]:443/tcp
VU=198.18.0.20:0/udp

step 01-status-empty.txt ro status
step 02-status-empty.json ro -j status
step 03-vip-add.txt vip add $V4
step 04-vip-add.json -j vip add $V6 mode gue table-size 251 hash src
step 05-vip-add-pretty.json -p vip add $VU mode l2 table-size 509
step 06-backend-add.txt backend add $V4 198.18.1.2:8080 check http /health interval 3600000 \
	timeout 1000 rise 1000 fall 1000 expect 204
step 07-backend-add.json -j backend add $V4 198.18.1.3 weight 50
step 08-backend-add-v6.txt b a $V6 [2001:db8:1::2]:443 check tcp check-port 8443 \
	interval 3600000 rise 1000 fall 1000
step 09-backend-add-v6.json -j b a $V6 2001:db8:1::3 weight 200
step 10-backend-add-l2.json -j backend add $VU 198.18.1.4 mac 02:00:00:00:00:04
step 11-vip-list.txt ro vip list
step 12-vip-list.json ro -j vip list
step 13-vip-list-pretty.json ro -p v l
step 14-backend-list.txt ro backend list
step 15-backend-list.json ro -j backend list
step 16-backend-list-vip.txt ro b l $V6
step 17-backend-set.json -j backend set $V4 198.18.1.3 drain weight 10
step 18-backend-set.txt backend set $V6 2001:db8:1::3 disable
step 19-backend-list-after-set.txt ro backend list
step 20-stats.txt ro stats

# From an xlbd older than "rows" and "fields" (a proxy that refuses them as it would), the text
# tables ask again without them and print the same bytes.
python3 "$(dirname "$0")/old_xlbd.py" "$tmp/old.sock" "$tmp/xlbd.sock" "$tmp/old.log" &
proxy=$!
for _ in $(seq 50); do [ -S "$tmp/old.sock" ] && break; sleep 0.1; done
for cmd in stats "backend list"; do
	# shellcheck disable=SC2086
	if "$XLB" -s "$tmp/old.sock" $cmd >"$tmp/old.out" 2>&1 &&
	   "$XLB" $cmd | cmp -s - "$tmp/old.out"; then
		pass "xlb $cmd from an xlbd without rows/fields: the same output"
	else
		fail "xlb $cmd from an xlbd without rows/fields: the same output" \
		     "$(head -c 300 "$tmp/old.out")"
	fi
done
if [ "$(tr '\n' ' ' <"$tmp/old.log")" = "ready cmd,rows cmd cmd,fields,rows cmd,rows cmd " ]; then
	pass "the fallback asked with rows/fields once, then without"
else
	fail "the fallback asked with rows/fields once, then without" "$(tr '\n' ' ' <"$tmp/old.log")"
fi
kill "$proxy" 2>/dev/null
wait "$proxy" 2>/dev/null
proxy=
step 21-stats-vip.json ro -p stats $V4
step 22-lookup.txt ro lookup $V4 198.18.200.7:40000
step 23-lookup-v6.json ro -j lookup $V6 [2001:db8:ff::7]:40000 tcp
step 24-lookup-udp.txt ro lookup $VU 198.18.200.9:5353 udp
step 25-table.txt ro table $V4
step 26-table-v6.txt ro table $V6
step 27-table-v6-full.json ro -j table $V6
step 28-error-vip-exists.txt vip add $V4
step 29-error-vip-exists.json -j vip add $V4
step 30-error-no-backend.txt backend del $V4 198.18.1.99
step 31-error-no-vip.json -j stats 198.18.0.99:80/tcp
step 32-backend-del.txt backend del $V4 198.18.1.3
step 33-vip-del.json -j vip del $VU
step 34-vip-list-after-del.txt ro vip list
step 35-status.txt ro status
step 36-status.json ro -j status

# The daemon must have survived all of it.
if kill -0 "$daemon" 2>/dev/null; then
	pass "xlbd still running"
else
	fail "xlbd still running" "$(tail -n 3 "$tmp/xlbd.log" | tr '\n' ' ')"
fi
echo "1..$n"
