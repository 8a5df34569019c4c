#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlb argument handling without a daemon: bad arguments exit 2 naming the argument, before any
# connection is tried; valid ones get as far as the socket; unreachable or silent daemons exit 1.
# Runs the plain and the ASan/UBSan build of the CLI.
set -u
BUILD=${XLB_BUILD:-build}
tmp=$(mktemp -d /tmp/xlb-cli-args.XXXXXX)
listener=
cleanup() {
	[ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
export XLB_SOCKET=$tmp/none.sock	# nothing listens there
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1 # $2"; }

V4=198.18.0.10:80/tcp
V6=[2001:db8::10]:443/tcp
NOSOCK="cannot connect to xlbd at $XLB_SOCKET"
LONGPATH=/$(printf 'a%.0s' $(seq 255))	# 256 bytes: one more than a check's path holds
NOTUTF8=$(printf 'a\xffb')	# not text: JSON cannot carry it (was left out of the request unsaid)

# expected exit | text the error must contain | arguments (split on blanks; @V4@/@V6@ expand)
cases=$(cat <<CASES
2|missing OBJECT|
2|unknown object "foo"|foo
2|ambiguous object "s" (stats, status)|s
2|ambiguous object "stat"|stat
2|unknown option "-x"|-x vip list
2|unknown option "--bogus"|--bogus vip list
2|option "-s" needs a value|-s
2|unknown command "frob" for object "vip"|vip frob
2|unknown command "frob" for object "backend"|b frob
2|missing VIP|vip add
2|missing VIP|vip a
2|invalid port "70000" in "198.18.0.10:70000/tcp"|vip add 198.18.0.10:70000/tcp
2|invalid port "" in "198.18.0.10:/tcp"|vip add 198.18.0.10:/tcp
2|invalid port "-1" in "198.18.0.10:-1/tcp"|vip add 198.18.0.10:-1/tcp
2|invalid port "99999999999" in|vip add 198.18.0.10:99999999999/tcp
2|invalid IPv4 address "198.18.0.300" in "198.18.0.300:80/tcp"|vip add 198.18.0.300:80/tcp
2|invalid protocol "icmp" in "198.18.0.10:80/icmp"|vip add 198.18.0.10:80/icmp
2|invalid VIP "198.18.0.10:80"|vip add 198.18.0.10:80
2|missing port in "198.18.0.10/tcp"|vip add 198.18.0.10/tcp
2|missing port in "2001:db8::10:80/tcp" (IPv6 goes in brackets|vip add 2001:db8::10:80/tcp
2|missing "]" in "[2001:db8::10:80/tcp"|vip add [2001:db8::10:80/tcp
2|invalid IPv6 address "198.18.0.10" in "[198.18.0.10]:80/tcp"|vip add [198.18.0.10]:80/tcp
2|invalid mode "foo" (ipip, gue, l2)|vip add @V4@ mode foo
2|missing value after "mode"|vip add @V4@ mode
2|invalid table size "12x"|vip add @V4@ table-size 12x
2|invalid table size "0"|vip add @V4@ table-size 0
2|invalid table size "1000" (251, 509, 1021,|vip add @V4@ table-size 1000
2|invalid hash "dst" (5tuple, src)|vip add @V6@ hash dst
2|unknown keyword "color"|vip add @V4@ color red
2|"mode" given twice|vip add @V4@ mode gue mode l2
2|unexpected argument "extra"|vip del @V4@ extra
2|unexpected argument "x"|vip list x
2|missing backend address after "198.18.0.10:80/tcp"|backend add @V4@
2|invalid IPv4 address "198.18.1.999" in "198.18.1.999"|backend add @V4@ 198.18.1.999
2|invalid port "99999" in "198.18.1.2:99999"|backend add @V4@ 198.18.1.2:99999
2|invalid IPv6 address "2001:db8:1::zz" in "[2001:db8:1::zz]:80"|backend add @V6@ [2001:db8:1::zz]:80
2|unexpected "x" after "]" in "[2001:db8:1::2]x"|backend add @V6@ [2001:db8:1::2]x
2|invalid IPv6 address "2001:db8:1:::2" in "2001:db8:1:::2"|backend add @V6@ 2001:db8:1:::2
2|invalid weight "70000" (0..65535)|backend add @V4@ 198.18.1.2 weight 70000
2|invalid weight "-1" (0..65535)|backend add @V4@ 198.18.1.2 weight -1
2|invalid MAC "aa:bb" (aa:bb:cc:dd:ee:ff)|backend add @V4@ 198.18.1.2 mac aa:bb
2|invalid check "icmp" (tcp, http, udp, none)|backend add @V4@ 198.18.1.2 check icmp
2|missing PATH after "check http"|backend add @V4@ 198.18.1.2 check http
2|invalid HTTP path "health"|backend add @V4@ 198.18.1.2 check http health
2|invalid HTTP path "/café" (/ then printable ASCII, no blank, shorter than 256 bytes)|backend add @V4@ 198.18.1.2 check http /café
2|invalid HTTP path "$LONGPATH"|backend add @V4@ 198.18.1.2 check http $LONGPATH
2|invalid agent-send "a|backend add @V4@ 198.18.1.2 check tcp agent-port 9000 agent-send $NOTUTF8
2|invalid host "a|backend add @V4@ 198.18.1.2 check http / host $NOTUTF8
2|invalid check-port "0" (1..65535)|backend add @V4@ 198.18.1.2 check tcp check-port 0
2|invalid interval "99" (100..3600000)|backend add @V4@ 198.18.1.2 interval 99
2|invalid timeout "1s"|backend add @V4@ 198.18.1.2 timeout 1s
2|invalid rise "0"|backend add @V4@ 198.18.1.2 rise 0
2|invalid fall "x"|backend add @V4@ 198.18.1.2 fall x
2|invalid expect "200x"|backend add @V4@ 198.18.1.2 check http / expect 200x
2|missing value after "fall"|backend add @V4@ 198.18.1.2 fall
2|"weight" given twice|backend add @V4@ 198.18.1.2 weight 1 weight 2
2|unknown keyword "state"|backend add @V4@ 198.18.1.2 state up
2|missing change|backend set @V4@ 198.18.1.2
2|unknown keyword "up"|backend set @V4@ 198.18.1.2 up
2|"enable" conflicts with an earlier change|backend set @V4@ 198.18.1.2 drain enable
2|invalid weight "x" (0..65535)|backend set @V4@ 198.18.1.2 weight x
2|missing value after "weight"|backend set @V4@ 198.18.1.2 weight
2|unexpected argument "x"|backend del @V4@ 198.18.1.2 x
2|invalid VIP "nope"|backend list nope
2|invalid VIP "x"|stats x
2|unexpected argument "b"|stats @V4@ b
2|missing VIP|lookup
2|missing source ADDR:PORT after "198.18.0.10:80/tcp"|lookup @V4@
2|missing port in "198.18.0.1"|lookup @V4@ 198.18.0.1
2|source "[2001:db8::1]:1234" is IPv6 but VIP "198.18.0.10:80/tcp" is IPv4|lookup @V4@ [2001:db8::1]:1234
2|invalid protocol "sctp" (tcp, udp)|lookup @V4@ 198.18.0.1:1234 sctp
2|missing VIP|table
2|unexpected argument "now"|status now
1|$NOSOCK|vip list
1|$NOSOCK|b l
1|$NOSOCK|statu
1|$NOSOCK|vip add @V6@ mode gue table-size 251 hash src
1|$NOSOCK|backend add @V6@ [2001:db8:1::2]:8080 weight 5 check http /health check-port 8081 interval 500 timeout 200 rise 2 fall 3 expect 204
1|$NOSOCK|backend add @V6@ 2001:db8:1::2 mac 02:00:00:00:00:01 check none
1|$NOSOCK|backend set @V4@ 198.18.1.2:8080 weight 0 drain
1|$NOSOCK|backend del @V4@ 198.18.1.2
1|$NOSOCK|lookup @V6@ [2001:db8::99]:40000 tcp
1|$NOSOCK|table @V4@
CASES
)

run_cases() {			# $1 = binary, $2 = label
	local bin=$1 label=$2 line want msg args rc out err
	while IFS='|' read -r want msg args; do
		args=${args//@V4@/$V4}
		args=${args//@V6@/$V6}
		read -r -a argv <<<"$args"
		"$bin" "${argv[@]}" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		out=$(cat "$tmp/out")
		err=$(cat "$tmp/err")
		local name="$label xlb $args"
		if [ "$rc" -ne "$want" ]; then
			fail "$name" "exit $rc, expected $want; stderr: $(head -c 300 "$tmp/err" | tr '\n' ' ')"
		elif ! grep -qF -- "Error: $msg" "$tmp/err"; then
			fail "$name" "stderr lacks 'Error: $msg': $(head -n 1 "$tmp/err")"
		elif [ "$want" = 2 ] && ! grep -q '^Usage: xlb' "$tmp/err"; then
			fail "$name" "no usage after a usage error"
		elif [ -n "$out" ]; then
			fail "$name" "unexpected stdout: $out"
		elif grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
			fail "$name" "sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$tmp/err")"
		else
			pass "$name"
		fi
	done <<<"$cases"
}

for bin in "$BUILD/xlb" "$BUILD/san/xlb"; do
	label=$([ "$bin" = "$BUILD/xlb" ] && echo plain || echo san)
	if [ ! -x "$bin" ]; then
		fail "$label binary" "$bin not built"
		continue
	fi
	run_cases "$bin" "$label"

	# JSON mode: the error is one JSON object on stdout and nothing else; exit codes unchanged.
	"$bin" -j vip add 198.18.0.10:70000/tcp >"$tmp/out" 2>"$tmp/err"
	rc=$?
	want='{"error":"invalid port \"70000\" in \"198.18.0.10:70000/tcp\""}'
	if [ "$rc" = 2 ] && [ "$(cat "$tmp/out")" = "$want" ] && [ ! -s "$tmp/err" ]; then
		pass "$label -j usage error is {\"error\": ...} on stdout, exit 2"
	else
		fail "$label -j usage error" "exit $rc, stdout '$(cat "$tmp/out")', stderr '$(head -n1 "$tmp/err")'"
	fi
	"$bin" -j -s "$tmp/other.sock" status >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 1 ] && grep -qF "{\"error\":\"cannot connect to xlbd at $tmp/other.sock" "$tmp/out"; then
		pass "$label -j -s: connection error as JSON naming the -s socket, exit 1"
	else
		fail "$label -j connection error" "exit $rc, stdout '$(cat "$tmp/out")'"
	fi

	# Help goes to stdout with exit 0, for everything and for each object (prefix included).
	for args in "help" "-h" "vip help" "b help" "backend add help" "stats help" "lookup help" \
		"table help" "status help"; do
		# shellcheck disable=SC2086
		"$bin" $args >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ "$rc" = 0 ] && grep -q '^Usage: xlb' "$tmp/out" && [ ! -s "$tmp/err" ]; then
			pass "$label xlb $args prints usage"
		else
			fail "$label xlb $args" "exit $rc, stderr '$(head -n1 "$tmp/err")'"
		fi
	done
	out=$("$bin" -V 2>&1)
	if [[ "$out" =~ ^xlb\ [0-9] ]]; then pass "$label -V"; else fail "$label -V" "got '$out'"; fi
done

# A stale socket file (nothing listening) and a daemon that accepts but never answers.
bin=$BUILD/san/xlb
: >"$tmp/stale.sock"
"$bin" -s "$tmp/stale.sock" vip list >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 1 ] && grep -qF "cannot connect to xlbd at $tmp/stale.sock" "$tmp/err"; then
	pass "stale socket file: exit 1 naming it"
else
	fail "stale socket file" "exit $rc, stderr '$(head -n1 "$tmp/err")'"
fi
if command -v python3 >/dev/null; then
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); time.sleep(30)' \
		"$tmp/mute.sock" &
	listener=$!
	for _ in $(seq 50); do [ -S "$tmp/mute.sock" ] && break; sleep 0.1; done
	start=$(date +%s)
	"$bin" -s "$tmp/mute.sock" status >/dev/null 2>"$tmp/err"
	rc=$?
	took=$(($(date +%s) - start))
	if [ "$rc" = 1 ] && [ "$took" -le 8 ] && grep -qF "did not answer" "$tmp/err"; then
		pass "silent daemon: exit 1 after the timeout (${took}s)"
	else
		fail "silent daemon" "exit $rc after ${took}s, stderr '$(head -n1 "$tmp/err")'"
	fi
else
	n=$((n + 1)); echo "ok $n - silent daemon # SKIP no python3 to play one"
fi
echo "1..$n"
