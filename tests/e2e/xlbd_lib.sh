# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared by the xlbd end-to-end tests (sourced): temp dir, private pin dir, daemon start/stop
# with the sanitized build, TAP helpers, and a trap that removes everything also on failure.

source "$(dirname "${BASH_SOURCE[0]}")/mntns.sh"

BUILD=${XLB_BUILD:-build}
XLBD=${XLBD:-$BUILD/san/xlbd}
XLBD_PLAIN=${XLBD_PLAIN:-$BUILD/xlbd}
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONPATH=$E2E_DIR${PYTHONPATH:+:$PYTHONPATH}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=$(mktemp -d /tmp/xlbd-e2e.XXXXXX)
PIN=/sys/fs/bpf/xlb-test-$$
SOCK=$T/xlbd.sock
CONF=$T/xlbd.json
LOG=$T/xlbd.log
XPID=
PIDS=()			# every background process we started
MOUNTS=()		# every mount we made
n=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1 # $2"; }
check() {		# check NAME COMMAND...: ok when the command succeeds
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "failed: $*"; fi
}

xlbd_cleanup() {
	local p m
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	# pins of the test's datapath: detach nothing (no interface), just remove them
	[ -d "$PIN" ] && rm -rf "$PIN"
	if [ "${XLBD_KEEP:-}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap xlbd_cleanup EXIT

# Skip the whole file (one TAP skip line) unless root and the daemon are there. No bpffs is
# needed: xlbd mounts its own (mntns.sh keeps that mount inside the test's mount namespace).
xlbd_require() {
	local why=
	[ "$(id -u)" -eq 0 ] || why="not root"
	[ -z "$why" ] && [ ! -x "$XLBD" ] && why="$XLBD not built"
	[ -z "$why" ] && ! command -v python3 >/dev/null && why="no python3"
	if [ -n "$why" ]; then
		echo "ok 1 - $1 # SKIP $why"
		exit 0
	fi
}

# xlbd_start [ARGS...]: start the daemon on $CONF in the foreground; wait for its socket.
xlbd_start() {
	local i from
	echo "--- start $(date +%T.%N)" >>"$LOG"
	from=$(($(stat -c %s "$LOG") + 1))
	${XLBD_WRAP:-} "$XLBD" --config "$CONF" --socket "$SOCK" --pin-dir "$PIN" --foreground -v "$@" \
		>>"$LOG" 2>&1 &
	XPID=$!
	PIDS+=("$XPID")
	for i in $(seq 1 200); do
		if [ -S "$SOCK" ] && tail -c +"$from" "$LOG" | grep -q "serving on $SOCK"; then
			return 0
		fi
		kill -0 "$XPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# xlbd_stop [SIGNAL]: stop the daemon, return its exit status.
xlbd_stop() {
	local rc
	kill -"${1:-TERM}" "$XPID" 2>/dev/null
	wait "$XPID" 2>/dev/null
	rc=$?
	XPID=
	return $rc
}

# No sanitizer report in the daemon's log.
xlbd_sanitizer_clean() {
	! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$LOG"
}

# Run a python test part with TAP numbering continued from $n.
xlbd_py() {
	local rc
	TAP_START=$n TAP_NEXT_FILE=$T/tapn python3 "$@"
	rc=$?
	[ -f "$T/tapn" ] && n=$(cat "$T/tapn") && rm -f "$T/tapn"
	return $rc
}

xlbd_show_log_on_failure() {
	echo "# --- xlbd log (last 40 lines)"
	tail -n 40 "$LOG" | sed 's/^/# /'
}
