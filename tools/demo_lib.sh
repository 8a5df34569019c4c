# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The narration of the demos (tools/demo.sh, tools/demo-cluster.sh): a heading, a note, a command
# shown and run with its output indented, and an error that ends the demo. DEMO_NAME names the
# demo in that error.
if [ -t 1 ]; then B=$'\e[1m' D=$'\e[2m' N=$'\e[0m'; else B= D= N=; fi
say() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
note() { printf '%s\n' "$*" | fold -s -w 96 | sed 's/^/   /; s/ *$//'; }
run() {				# show a command, run it, indent its output
	printf '%s$ %s%s\n' "$D" "$*" "$N"
	"$@" 2>&1 | sed 's/^/     /'
}
die() {
	echo "${DEMO_NAME:-demo}: $*" >&2
	exit 1
}
