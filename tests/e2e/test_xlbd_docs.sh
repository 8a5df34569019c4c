#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xlbd documentation in step with the code (no root): every option of `xlbd --help` is in
# xlbd.8 and the reverse, every API command is in API.md and xlbd.8, the example config is
# valid, the systemd unit runs the daemon in the foreground from @SBINDIR@.
set -u
BUILD=${XLB_BUILD:-build}
XLBD=$BUILD/xlbd
D=$(cd "$(dirname "$0")/../.." && pwd)/user/xlbd
n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1 # $2"; }

help=$("$XLBD" --help)
opts_help=$(grep -oE -- '--[a-z-]+' <<<"$help" | sort -u)
opts_man=$(grep -oE -- '\\fB\\-\\-[a-z]+(\\-[a-z]+)*' "$D/xlbd.8" | sed 's/\\fB//; s/\\-/-/g' | sort -u)
if [ "$opts_help" = "$opts_man" ]; then
	pass "xlbd --help and xlbd.8 list the same options"
else
	fail "xlbd --help and xlbd.8 list the same options" \
		"$(diff <(echo "$opts_help") <(echo "$opts_man") | grep '^[<>]' | tr '\n' ' ')"
fi
cmds=$(grep -oE '"(status|vip_add)"|\{ "[a-z_]+", (\.text = )?cmd_' "$D/api.c" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
missing=
for c in $cmds; do
	grep -q "^| \`$c\`" "$D/API.md" || missing+=" $c(API.md)"
	grep -q "\\\\fB$c\\\\fR" "$D/xlbd.8" || missing+=" $c(xlbd.8)"
done
if [ -z "$missing" ] && [ "$(wc -w <<<"$cmds")" -eq 15 ]; then
	pass "every API command is documented in API.md and xlbd.8"
else
	fail "every API command is documented in API.md and xlbd.8" "missing:$missing; commands: $cmds"
fi
if out=$("$XLBD" --check --config "$D/xlbd.example.json" 2>&1); then
	pass "xlbd.example.json is a valid configuration"
else
	fail "xlbd.example.json is a valid configuration" "$out"
fi
if grep -q '^ExecStart=@SBINDIR@/xlbd --config /etc/xlb/xlbd.json --foreground$' "$D/xlbd.service" &&
   grep -q '^Type=simple$' "$D/xlbd.service" && grep -q '^ExecReload=.*kill -HUP \$MAINPID' "$D/xlbd.service"; then
	pass "xlbd.service: Type=simple, ExecStart in the foreground, ExecReload sends SIGHUP"
else
	fail "xlbd.service: Type=simple, ExecStart in the foreground, ExecReload sends SIGHUP" "see the unit"
fi
if "$XLBD" 2>/dev/null; then
	fail "xlbd without --config exits 2" "exit 0"
else
	rc=$?
	if [ $rc -eq 2 ]; then pass "xlbd without --config exits 2"; else fail "xlbd without --config exits 2" "exit $rc"; fi
fi
exit 0
