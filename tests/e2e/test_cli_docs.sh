#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The usage text of xlb, its man page and its bash completion list the same objects, commands,
# keywords and options. Words are what each source marks as literal: lowercase words (and
# options) of the usage text, bold words of xlb.8's SYNOPSIS/OPTIONS/COMMANDS, and the
# compgen -W '...' lists of the completion. Any word one source has and another lacks fails.
set -u
BUILD=${XLB_BUILD:-build}
XLB=$BUILD/xlb
MAN=user/xlb/xlb.8
COMP=user/xlb/xlb.bash-completion
tmp=$(mktemp -d /tmp/xlb-cli-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

n=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1 # $2"; }

# Literal words of a text: split on blanks and the grammar's [ ] { } |; keep options and
# lowercase words that hold a letter (UPPERCASE placeholders and examples drop out).
words() {
	tr -s ' \t[]{}|' '\n\n\n\n\n\n' |
		grep -E '^(--?[A-Za-z][A-Za-z-]*|[a-z0-9][a-z0-9-]*)$' | grep '[A-Za-z]' |
		grep -vx 'xlb' | sort -u
}

usage_words() { "$XLB" help | words; }

# Bold text (\fB...\fR) and .B lines in SYNOPSIS, OPTIONS and COMMANDS of a man page.
man_words() {
	awk '/^\.SH /{ keep = ($2 == "SYNOPSIS" || $2 == "OPTIONS" || $2 == "COMMANDS") ; next }
	     keep' "$1" |
		sed 's/\\-/-/g' |
		{ grep -oE '\\fB[^\\]*\\f[RPI]|^\.B .*' || true; } |
		sed -E 's/^\\fB//; s/\\f[RPI]$//; s/^\.B //' | words
}

# compgen -W '...' lists of a completion script.
comp_words() {
	{ grep -oE "compgen -W '[^']*'" "$1" || true; } | sed -E "s/^compgen -W '//; s/'$//" | words
}

# Compares two word lists; prints what each has that the other lacks.
differ() {			# $1 $2 = files, $3 $4 = their names
	local only1 only2
	only1=$(comm -23 "$1" "$2" | tr '\n' ' ')
	only2=$(comm -13 "$1" "$2" | tr '\n' ' ')
	[ -z "$only1$only2" ] && return 1
	echo "only in $3: ${only1:-none}; only in $4: ${only2:-none}"
}

check_same() {			# $1 name, $2 $3 files, $4 $5 their names
	local d
	if d=$(differ "$2" "$3" "$4" "$5"); then
		fail "$1" "$d"
	else
		pass "$1"
	fi
}

if [ ! -x "$XLB" ]; then
	fail "xlb built" "$XLB missing"
	echo "1..$n"
	exit 1
fi

usage_words >"$tmp/usage"
man_words "$MAN" >"$tmp/man"
comp_words "$COMP" >"$tmp/comp"

# Guard against a vacuous pass: every source yields the words everyone agrees on.
for src in usage man comp; do
	missing=
	for w in vip backend stats lookup table status help add del set list weight drain \
		table-size 5tuple check-port --json -j --socket; do
		grep -qx -- "$w" "$tmp/$src" || missing="$missing $w"
	done
	if [ -z "$missing" ]; then
		pass "$src lists the core words ($(wc -l <"$tmp/$src") words)"
	else
		fail "$src lists the core words" "missing:$missing"
	fi
done

check_same "man page and usage list the same words" "$tmp/usage" "$tmp/man" usage xlb.8
check_same "completion and usage list the same words" "$tmp/usage" "$tmp/comp" usage completion

# "xlb help" is the main usage followed by each object's own usage, word for word.
objects=$(sed -n 's/^OBJECT := { \(.*\) }$/\1/p' <("$XLB" help) | tr -d '|' | tr -s ' ' '\n')
full=$("$XLB" help)
bad=
for o in $objects; do
	u=$("$XLB" "$o" help) || bad="$bad $o(exit $?)"
	[[ "$full" == *"$u"* ]] || bad="$bad $o"
	"$XLB" "$o" help | words >>"$tmp/objwords"
done
if [ -n "$objects" ] && [ -z "$bad" ]; then
	pass "xlb help holds the usage of every object ($(echo $objects))"
else
	fail "xlb help holds the usage of every object" "differs for:${bad:- no objects found}"
fi
# Words of the main usage lines only: OBJECT names, options, help.
"$XLB" help | sed '/^$/q' | words >>"$tmp/objwords"
sort -u "$tmp/objwords" -o "$tmp/objwords"
check_same "per-object usages and main usage make up xlb help" "$tmp/usage" "$tmp/objwords" \
	"xlb help" "xlb OBJECT help"

# Objects the completion offers first are the objects of the usage (plus help).
comp_objs=$(grep -oE "compgen -W '[a-z ]*status[a-z ]*'" "$COMP" | head -n1 |
	sed -E "s/^compgen -W '//; s/'$//" | tr ' ' '\n' | grep -vx help | sort | tr '\n' ' ')
usage_objs=$(echo "$objects" | sort | tr '\n' ' ')
if [ "$comp_objs" = "$usage_objs" ]; then
	pass "completion offers the usage's objects"
else
	fail "completion offers the usage's objects" "completion: $comp_objs; usage: $usage_objs"
fi

# The comparison itself notices a word that only one source has.
sed 's/^\\fBxlb vip list\\fR$/\\fBxlb vip list\\fR [ \\fBverbose\\fR ]/' "$MAN" >"$tmp/extra.8"
man_words "$tmp/extra.8" >"$tmp/man-extra"
if d=$(differ "$tmp/usage" "$tmp/man-extra" usage xlb.8) && [[ "$d" == *verbose* ]]; then
	pass "a word added to one source only is caught ($d)"
else
	fail "a word added to one source only is caught" "no difference seen"
fi

# The man page renders without warnings, and make installs it gzipped.
if command -v groff >/dev/null; then
	w=$(groff -man -ww -z "$MAN" 2>&1)
	if [ -z "$w" ]; then pass "xlb.8 renders without warnings"; else fail "xlb.8 renders" "$w"; fi
else
	n=$((n + 1)); echo "ok $n - xlb.8 renders # SKIP no groff"
fi
if [ -f "$BUILD/man/xlb/xlb.8.gz" ] && cmp -s <(gzip -dc "$BUILD/man/xlb/xlb.8.gz") "$MAN"; then
	pass "make built $BUILD/man/xlb/xlb.8.gz from xlb.8"
else
	fail "make built $BUILD/man/xlb/xlb.8.gz" "missing or stale (run make)"
fi
# The completion script is valid bash.
if bash -n "$COMP" 2>"$tmp/err"; then pass "completion parses"; else fail "completion parses" "$(cat "$tmp/err")"; fi
echo "1..$n"
