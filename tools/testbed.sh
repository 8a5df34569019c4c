# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Namespace test bed for xlb: sourceable bash functions that build hosts, links, routes and servers,
# and remove every one of them again.
#
# Usage (tests, demo, benchmarks):
#
#	source tools/testbed.sh
#	trap tb_cleanup EXIT
#	tb_build 3			# client, rt, lb, be1..be3 as drawn below
#	tb_exec client curl http://198.18.0.10/
#
# Every namespace is named "$TB_PREFIX-NAME" (TB_PREFIX defaults to xlb<PID>), so two runs never
# collide, and tb_cleanup kills the processes started with tb_bg, every process still inside our
# namespaces, deletes the namespaces (which destroys their veths and XDP attachments) and the
# temporary folder. Addresses come from 198.18.0.0/15 and 2001:db8::/32 only.
#
# The topology of tb_build N:
#
#	client eth0 ---- c0  [rt]  lb0 ---- eth0 lb          (XDP balancer on lb:eth0)
#	198.18.0.1/30        |   198.18.0.6/30  198.18.0.5/30
#	2001:db8::1/126     br0  2001:db8::6/126 2001:db8::5/126
#	                198.18.1.254/24, 2001:db8:1::fe/64
#	                   /    |    \
#	               be1 eth0  be2 eth0 ... beN eth0         (XDP decap on each eth0)
#	            198.18.1.N/24, 2001:db8:1::N/64, VIP 198.18.0.10 and 2001:db8::10 on lo
#
# - rt is a router: it forwards the client's VIP packets to lb (host routes for the VIPs),
#   the balancer's encapsulated packets (outer destination = a backend) onto the backend
#   bridge, and the backends' replies (source = VIP) straight back to the client: direct server
#   return, the balancer sees only the client-to-VIP direction. rp_filter is off everywhere since
#   replies from the VIP arrive at rt from the backends, not from lb.
# - The balancer XDP_TXes encapsulated frames back out of lb:eth0 to the next-hop MAC, which is
#   rt:lb0 ($TB_NEXTHOP_MAC). A frame sent with XDP_TX into a veth is only received if the peer
#   runs NAPI, so rt:lb0 gets a plain XDP_PASS program (`xlb-sink --attach-pass`). GRO on rt:lb0
#   would also enable NAPI, but lost about a third of the XDP_TX frames in our runs.
# - The kernel here has no ipip/ip6_tunnel/fou modules: each backend strips the outer header
#   with the xlb-decap XDP program and the kernel delivers the inner packet to the VIP on lo
#   (arp_ignore=1 / arp_announce=2 keep the backends from answering ARP for it).
# - The client link has MTU 1400 so that a full-sized client packet still fits a 1500-byte link
#   after 20 (IPIP) or 40 (IPv6) bytes of encapsulation; TCP advertises the matching MSS, so
#   the backends' replies fit too.
# - Checksum offload is off on the hosts that originate TCP (client, backends): a frame that
#   crosses an XDP program loses the skb's "checksum to be completed" state, so it must carry a
#   complete checksum.

TB_PREFIX=${TB_PREFIX:-xlb$$}
XLB_BUILD=${XLB_BUILD:-${BUILD:-build}}
TB_NS=()			# full names of the namespaces we created, in creation order
TB_PIDS=()			# background processes started with tb_bg
TB_TMP=${TB_TMP:-}		# temporary folder (logs, configs, sockets), made by tb_tmp
TB_LAST_PID=
TB_HTTPD_PID=()			# TB_HTTPD_PID[i]: the HTTP server of be<i>
TB_XLBD_PID=			# xlbd started by tb_xlbd_start, and its socket
TB_XLBD_SOCK=

TB_VIP4=198.18.0.10
TB_VIP6=2001:db8::10
TB_CLIENT4=198.18.0.1
TB_CLIENT6=2001:db8::1
TB_LB4=198.18.0.5
TB_LB6=2001:db8::5
TB_LB_IF=eth0			# the balancer's interface inside the lb namespace
TB_NEXTHOP_MAC=			# MAC of rt:lb0, set by tb_build
TB_NBACKENDS=0
TB_BE4=()			# TB_BE4[i] = 198.18.1.i (index 1..N)
TB_BE6=()

tb_log() { echo "# $*" >&2; }

# tb_now_ms: the clock in milliseconds; tb_wait_ms SECONDS CMD...: run CMD every 20 ms until it
# succeeds, print the milliseconds that took; fails after SECONDS
tb_now_ms() { echo $(($(date +%s%N) / 1000000)); }
tb_wait_ms() {
	local limit=$1 t0 i
	shift
	t0=$(tb_now_ms)
	for i in $(seq $((limit * 50))); do
		if "$@" >/dev/null 2>&1; then
			echo $(($(tb_now_ms) - t0))
			return 0
		fi
		sleep 0.02
	done
	return 1
}

tb_ns() { echo "$TB_PREFIX-$1"; }

# tb_tmp - make the temporary folder $TB_TMP once (call it directly, not in $(...))
tb_tmp() {
	[ -n "$TB_TMP" ] || TB_TMP=$(mktemp -d "/tmp/$TB_PREFIX.XXXXXX")
}

# tb_ns_add NAME - create namespace NAME with lo up and our sysctls
tb_ns_add() {
	local ns
	ns=$(tb_ns "$1")
	ip netns add "$ns" || return 1
	TB_NS+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
}

# tb_exec NAME CMD... - run CMD in namespace NAME
tb_exec() {
	local ns
	ns=$(tb_ns "$1"); shift
	ip netns exec "$ns" "$@"
}

# tb_bg NAME LOG CMD... - run CMD in NAME in the background, output to LOG; pid in TB_LAST_PID.
# Must not be called from a subshell, or tb_cleanup will not know the process. The pid is the
# command's own (ip netns exec execs it), so `kill $TB_LAST_PID` reaches the command. LOG is
# emptied before the command starts: a wait for a line of it (tb_wait grep) must never see the
# line a previous command left in the same file.
tb_bg() {
	local name=$1 log=$2
	shift 2
	: >"$log"
	ip netns exec "$(tb_ns "$name")" "$@" >>"$log" 2>&1 &
	TB_LAST_PID=$!
	TB_PIDS+=("$TB_LAST_PID")
}

# tb_bg_bpffs NAME LOG CMD... - tb_bg with a bpffs mounted on /sys/fs/bpf. `ip netns exec` gives
# each command a fresh /sys without bpffs; this mount lives as long as CMD (and its children),
# which is what a test daemon that pins its maps needs.
tb_bg_bpffs() {
	local name=$1 log=$2
	shift 2
	tb_bg "$name" "$log" sh -c 'mount -t bpf bpf /sys/fs/bpf && exec "$@"' sh "$@"
}

# tb_stop PID [SECONDS] - stop one process we started (SIGTERM, then SIGKILL after SECONDS, 3)
tb_stop() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq $((${2:-3} * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# tb_wait SECONDS CMD... - poll CMD every 0.1 s until it succeeds; fails after SECONDS
tb_wait() {
	local limit=$1 i
	shift
	for i in $(seq $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# tb_link NS1 IF1 NS2 IF2 - a veth pair IF1 (in NS1) <-> IF2 (in NS2), both up
tb_link() {
	ip -n "$(tb_ns "$1")" link add name "$2" type veth peer name "$4" netns "$(tb_ns "$3")" ||
		return 1
	ip -n "$(tb_ns "$1")" link set "$2" up
	ip -n "$(tb_ns "$3")" link set "$4" up
}

# tb_addr NS IF ADDR/LEN... - add addresses (IPv6 without duplicate address detection)
tb_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$(tb_ns "$ns")" -6 addr add "$a" dev "$dev" nodad || return 1
		else
			ip -n "$(tb_ns "$ns")" addr add "$a" dev "$dev" || return 1
		fi
	done
}

# tb_mac NS IF - print the MAC address of IF
tb_mac() {
	ip -n "$(tb_ns "$1")" -br link show dev "$2" | awk '{print $3}'
}

# tb_no_offload NS IF - software checksums (see the header comment)
tb_no_offload() {
	tb_exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

# tb_build N - the topology drawn at the top of this file with N backends (1..250)
tb_build() {
	local n=${1:-3} i be
	TB_NBACKENDS=$n
	tb_tmp

	tb_ns_add client && tb_ns_add rt && tb_ns_add lb || return 1
	tb_exec rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 >/dev/null

	# client <-> rt
	tb_link client eth0 rt c0 || return 1
	ip -n "$(tb_ns client)" link set eth0 mtu 1400
	ip -n "$(tb_ns rt)" link set c0 mtu 1400
	tb_addr client eth0 "$TB_CLIENT4/30" "$TB_CLIENT6/126"
	tb_addr rt c0 198.18.0.2/30 2001:db8::2/126
	ip -n "$(tb_ns client)" route add default via 198.18.0.2
	ip -n "$(tb_ns client)" -6 route add default via 2001:db8::2
	tb_no_offload client eth0

	# lb <-> rt; the VIPs are routed to lb
	tb_link lb "$TB_LB_IF" rt lb0 || return 1
	tb_addr lb "$TB_LB_IF" "$TB_LB4/30" "$TB_LB6/126"
	tb_addr rt lb0 198.18.0.6/30 2001:db8::6/126
	ip -n "$(tb_ns lb)" route add default via 198.18.0.6
	ip -n "$(tb_ns lb)" -6 route add default via 2001:db8::6
	tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass lb0 || return 1
	tb_no_offload lb "$TB_LB_IF"
	TB_NEXTHOP_MAC=$(tb_mac rt lb0)

	# the backend segment: a bridge in rt
	ip -n "$(tb_ns rt)" link add br0 type bridge forward_delay 0 mcast_snooping 0 stp_state 0
	ip -n "$(tb_ns rt)" link set br0 up
	tb_addr rt br0 198.18.1.254/24 2001:db8:1::fe/64
	for i in $(seq "$n"); do
		be=be$i
		tb_ns_add "$be" || return 1
		tb_exec "$be" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2 >/dev/null
		tb_link "$be" eth0 rt "$be" || return 1
		ip -n "$(tb_ns rt)" link set "$be" master br0
		tb_addr "$be" eth0 "198.18.1.$i/24" "2001:db8:1::$i/64"
		ip -n "$(tb_ns "$be")" route add default via 198.18.1.254
		ip -n "$(tb_ns "$be")" -6 route add default via 2001:db8:1::fe
		tb_no_offload "$be" eth0
		TB_BE4[i]=198.18.1.$i
		TB_BE6[i]=2001:db8:1::$i
	done
	tb_vip_add "$TB_VIP4" "$TB_VIP6"
}

# tb_vip_add ADDR... - one more VIP address (IPv4 or IPv6): on every backend's lo, routed to lb by rt
tb_vip_add() {
	local a i len via
	for a in "$@"; do
		len=32 via=$TB_LB4
		[[ $a == *:* ]] && len=128 via=$TB_LB6
		for i in $(seq "$TB_NBACKENDS"); do
			tb_addr "be$i" lo "$a/$len" || return 1
		done
		ip -n "$(tb_ns rt)" route add "$a/$len" via "$via" || return 1
	done
}

# tb_decap_attach [ARGS...] - attach xlb-decap (ARGS e.g. --gue-port P) on every backend's eth0
tb_decap_attach() {
	local i
	for i in $(seq "$TB_NBACKENDS"); do
		tb_exec "be$i" "$XLB_BUILD/xlb-decap" "$@" eth0 || return 1
	done
}

# tb_http_servers [PORT] - on every backend a tiny HTTP server (IPv4 and IPv6): GET answers its
# own name ("be2\n"), POST its name and the number of body bytes received ("be2 100000\n").
# Each server stops by itself after 10 minutes at the latest.
tb_http_servers() {
	local port=${1:-80} i py
	tb_tmp
	py=$TB_TMP/httpd.py
	cat >"$py" <<'EOF'
import http.server, signal, socket, sys
name, port = sys.argv[1], int(sys.argv[2])
signal.alarm(600)
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        got = 0
        while got < n:
            d = self.rfile.read(min(65536, n - got))
            if not d:
                break
            got += len(d)
        body = ("%s %d\n" % (name, got)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
Server(("::", port), Handler).serve_forever()
EOF
	for i in $(seq "$TB_NBACKENDS"); do
		tb_http_server_start "$i" "$port" nowait
	done
	for i in $(seq "$TB_NBACKENDS"); do
		tb_http_server_wait "$i" "$port" || return 1
	done
}

# tb_http_server_start I [PORT] [nowait] - (re)start be<I>'s HTTP server of tb_http_servers
# (after a tb_stop of it, say); waits until it listens unless "nowait"
tb_http_server_start() {
	local i=$1 port=${2:-80}
	tb_bg "be$i" "$TB_TMP/httpd-be$i.log" python3 "$TB_TMP/httpd.py" "be$i" "$port"
	TB_HTTPD_PID[i]=$TB_LAST_PID
	[ "${3:-}" = nowait ] || tb_http_server_wait "$i" "$port"
}

tb_http_server_wait() {
	tb_wait 10 tb_exec "be$1" sh -c "ss -Hltn 'sport = :${2:-80}' | grep -q ." || {
		tb_log "http server on be$1 did not start"; return 1; }
}

# tb_test_start NAME FILE... - start a TAP test: on exit, tb_cleanup and the plan; skip (exit 0)
# without root or when a FILE is not executable (not built)
tb_test_start() {
	local name=$1 f
	shift
	trap 'tb_cleanup; echo "1..$TB_T"' EXIT
	if [ "$(id -u)" -ne 0 ]; then
		tb_ok "$name # SKIP needs root"
		exit 0
	fi
	for f in "$@"; do
		if [ ! -x "$f" ]; then
			tb_ok "$name # SKIP $f not built (make tests-build)"
			exit 0
		fi
	done
}

# TAP output for the tests: tb_ok NAME; tb_not_ok NAME [WHY]; tb_check NAME WHY CMD... (ok when
# CMD succeeds); tb_verdicts WHAT LINES (a test per "ok|not ok<TAB>NAME<TAB>WHY" line, as the
# tests' python checks print them; not ok WHAT when there is none). TB_T counts the tests (the
# plan "1..$TB_T" goes last), TB_FAILED the failures.
TB_T=0
TB_FAILED=0

tb_ok() {
	TB_T=$((TB_T + 1))
	echo "ok $TB_T - $1"
}

tb_not_ok() {
	TB_T=$((TB_T + 1))
	TB_FAILED=$((TB_FAILED + 1))
	echo "not ok $TB_T - $1${2:+ # $2}"
}

tb_check() {
	local name=$1 why=$2
	shift 2
	if "$@"; then tb_ok "$name"; else tb_not_ok "$name" "$why"; fi
}

tb_verdicts() {
	local what=$1 v name why
	if [ -z "$2" ]; then
		tb_not_ok "$what" "no verdicts: missing counts or python failed"
		return
	fi
	while IFS=$'\t' read -r v name why; do
		[ -z "$v" ] && continue
		if [ "$v" = ok ]; then tb_ok "$name"; else tb_not_ok "$name" "$why"; fi
	done <<<"$2"
}

# tb_xlbd_start SECONDS - xlbd on lb:$TB_LB_IF with the config $TB_TMP/xlbd.json, its own bpffs,
# the socket $TB_XLBD_SOCK and the log $TB_TMP/xlbd.log, stopped after SECONDS at the latest;
# waits up to 15 s for it to answer `xlb status`. Its pid in TB_XLBD_PID.
tb_xlbd_start() {
	TB_XLBD_SOCK=$TB_TMP/xlbd.sock
	tb_bg_bpffs lb "$TB_TMP/xlbd.log" timeout "$1" "$XLB_BUILD/xlbd" \
		--config "$TB_TMP/xlbd.json" --socket "$TB_XLBD_SOCK" --pin-dir /sys/fs/bpf/xlb \
		--foreground --detach-on-exit
	TB_XLBD_PID=$TB_LAST_PID
	tb_wait 15 "$XLB_BUILD/xlb" -s "$TB_XLBD_SOCK" status
}

# tb_requests URL N [PORTS] - N HTTP requests of URL from the client, a new connection each;
# prints the answers, one a line, FAIL for a request that failed; with PORTS, appends the client's
# source port of each connection to that file (a connection is a flow: its 4-tuple)
tb_requests() {
	local i
	for i in $(seq "$2"); do
		if [ -n "${3:-}" ]; then
			tb_exec client curl -s -m 3 -w "%{stderr}%{local_port}\n" "$1" 2>>"$3" ||
				echo FAIL
		else
			tb_exec client curl -s -m 3 "$1" || echo FAIL
		fi
	done
}

# tb_cleanup - stop our processes, delete our namespaces and the temporary folder. Idempotent.
tb_cleanup() {
	local p ns i
	for p in "${TB_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for ns in "${TB_NS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
	done
	for i in $(seq 30); do
		p=
		for ns in "${TB_NS[@]}"; do
			p+=$(ip netns pids "$ns" 2>/dev/null)
		done
		[ -z "$p" ] && break
		sleep 0.1
	done
	for ns in "${TB_NS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	for p in "${TB_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ((i = ${#TB_NS[@]} - 1; i >= 0; i--)); do
		ip netns del "${TB_NS[i]}" 2>/dev/null
	done
	[ -n "$TB_TMP" ] && rm -rf "$TB_TMP"
	TB_NS=() TB_PIDS=() TB_TMP=
	return 0
}

# tb_gen_burst [SECONDS] [PPS] [FLOWS] - a burst of generated traffic through the IPv4 VIP:
# SECONDS (default 3) of xlb-gen on the client, TCP ACKs to $TB_VIP4:80 from FLOWS source ports
# (default 1000) at PPS (default 20000), counted per backend at the balancer's next hop
# (rt:lb0) by xlb-sink; prints the generator's summary and each backend's packets and pps.
# Needs tb_build and a balancer serving $TB_VIP4:80/tcp in ipip mode (the sink counts the
# encapsulated frames by outer destination). For the burst the sink takes the place of rt:lb0's
# plain XDP_PASS program (it passes the frames on, so the backends still receive them; their
# kernels answer the unknown ACKs with resets) and rt:c0 gets a plain XDP_PASS program, since a
# veth only receives live frames sent into it when its peer runs XDP; both are as before after.
# The rate is held low by default: everything beyond the balancer is the kernel's slow path.
tb_gen_burst() {
	local secs=${1:-3} pps=${2:-20000} flows=${3:-1000} mac sink rc=0 names="" i
	tb_tmp
	mac=$(tb_mac rt c0)
	tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass c0 || return 1
	ip -n "$(tb_ns rt)" link set dev lb0 xdp off
	tb_bg rt "$TB_TMP/burst-sink.out" "$XLB_BUILD/xlb-sink" --pass -j -t $((secs + 10)) lb0
	sink=$TB_LAST_PID
	if tb_wait 20 grep -q attached "$TB_TMP/burst-sink.out"; then
		tb_exec client "$XLB_BUILD/xlb-gen" -j -D "$TB_VIP4" -P 80 -T tcp-ack -m "$mac" \
			-f "$flows" -o random -r "$pps" -d "$secs" eth0 >"$TB_TMP/burst-gen.out" \
			2>"$TB_TMP/burst-gen.err" || rc=1
		sleep 0.2	# the last frames are on their way
	else
		rc=1
	fi
	tb_stop "$sink"
	ip -n "$(tb_ns rt)" link set dev c0 xdp off
	tb_exec rt "$XLB_BUILD/xlb-sink" --attach-pass lb0 || rc=1
	if [ "$rc" -ne 0 ]; then
		tb_log "gen burst failed: $(cat "$TB_TMP/burst-gen.err" "$TB_TMP/burst-sink.out")"
		return 1
	fi
	for i in $(seq "$TB_NBACKENDS"); do names+="be$i=${TB_BE4[i]} "; done
	GEN="$(cat "$TB_TMP/burst-gen.out")" SINK="$(grep '^{' "$TB_TMP/burst-sink.out")" \
		NAMES="$names" python3 - <<'PY'
import json, os
g, s = json.loads(os.environ["GEN"]), json.loads(os.environ["SINK"])
names = dict(x.split("=")[::-1] for x in os.environ["NAMES"].split())
print("xlb-gen: %d packets in %.1f s (%.0f pps, engine %s) to %s:80, TCP ACK, %d flows"
      % (g["packets"], g["seconds"], g["pps"], g["engine"], g["dst"], g["flows"]))
print("at the next hop, per backend (IPIP frames by outer destination):")
print("  %-8s %-16s %10s %10s" % ("backend", "address", "packets", "pps"))
rows = {r["dst"]: r["packets"] for r in s["outer"] if r["proto"] == 4}
for a in sorted(names, key=lambda a: names[a]):
    n = rows.get(a, 0)
    print("  %-8s %-16s %10d %10.0f" % (names[a], a, n, n / g["seconds"]))
other = sum(n for a, n in rows.items() if a not in names)
if other:
    print("  %-8s %-16s %10d" % ("other", "-", other))
PY
}
