#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The VIPs shared through etcd, end to end: one etcd (in the rt namespace, on 198.18.0.6, its
# data in the test's temp folder) and three xlbd in the lb namespace, each with its own bpffs,
# pins, socket and config file: lb1 attached to lb:eth0 and carrying real HTTP traffic, lb2 and
# lb3 with no interface. Checked: a bad etcd section is refused with its path and nothing runs;
# lb1 seeds the empty prefix, lb2 and lb3 take the cluster's VIPs over their files'; a change
# through one host is applied on all (vip list, backend list, the datapath's table); two changes
# read at one revision through two hosts: one lands, one is refused with a conflict; the table
# digests agree on every host; etcd killed: traffic goes on through lb1, status and metrics say
# unreachable, a change is refused; lb3 restarted meanwhile starts from its file; etcd back: every
# host connects again, and a change made then is applied on all. TLS (certificates made by openssl
# at test time): a key without its certificate refused at load; a second etcd that wants client
# certificates: a host with one connects and seeds, a host with the CA only is refused.
set -u
source "$(dirname "$0")/mntns.sh"	# the bpffs mounts below stay in this test's namespace
cd "$(dirname "$0")/../.."
XLB_BUILD=${XLB_BUILD:-build}
source tools/testbed.sh
TB_PREFIX=xlbetcd$$

VIP=$TB_VIP4
SVC="$VIP:80/tcp"
EP=http://198.18.0.6:2379

tb_test_start etcd "$XLB_BUILD"/{xlb-sink,xlb-decap,xlbd,xlb}
if ! command -v etcd >/dev/null; then
	tb_ok "etcd # SKIP no etcd (Debian etcd-server; make deps)"
	exit 0
fi
XLBD_BIN=$XLB_BUILD/san/xlbd
[ -x "$XLBD_BIN" ] || XLBD_BIN=$XLB_BUILD/xlbd
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if ! tb_build 2 || ! tb_decap_attach || ! tb_http_servers 80; then
	tb_not_ok "test bed built" "see the messages above"
	exit 1
fi
# lb3 in a namespace of its own (198.18.0.13, via rt), so that a path can fail from it alone
tb_ns_add lb3 && tb_link lb3 eth0 rt lb3 && tb_addr lb3 eth0 198.18.0.13/30 &&
	tb_addr rt lb3 198.18.0.14/30 && ip -n "$(tb_ns lb3)" route add default via 198.18.0.14 ||
	{ tb_not_ok "namespace lb3" "see above"; exit 1; }
NS[1]=lb NS[2]=lb NS[3]=lb3

# ---- configs: lb1 holds the VIP, lb2 and lb3 another one, replaced by the cluster's
conf() {		# conf N IFACES VIPS
	cat >"$TB_TMP/lb$1.json" <<EOF
{"interfaces": $2, "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4",
 "metrics_listen": "127.0.0.1:947$1",
 "etcd": {"endpoints": ["$EP"], "prefix": "/xlbtest", "cluster": "c1", "host": "lb$1",
          "timeout_ms": 1000, "connect_timeout_ms": 300, "retry_ms": 300, "lease_ttl_s": 3},
 "vips": $3}
EOF
}
conf 1 "[{\"name\": \"$TB_LB_IF\", \"mode\": \"native\"}]" \
	"[{\"address\": \"$VIP\", \"port\": 80, \"proto\": \"tcp\", \"table_size\": 251,
	   \"backends\": [{\"address\": \"${TB_BE4[1]}\"}, {\"address\": \"${TB_BE4[2]}\"}]}]"
conf 2 "[]" "[{\"address\": \"198.18.0.99\", \"port\": 53, \"proto\": \"udp\"}]"
conf 3 "[]" "[]"

# ---- a bad etcd section: every problem named, nothing started
sed 's|"endpoints": \["[^"]*"\]|"endpoints": ["198.18.0.6:2379"]|; s|"cluster": "c1"|"cluster": "c/1"|' \
	"$TB_TMP/lb2.json" >"$TB_TMP/bad.json"
out=$("$XLB_BUILD/xlbd" --check --config "$TB_TMP/bad.json" 2>&1)
tb_check "bad etcd section: xlbd --check names etcd.endpoints[0] and etcd.cluster, exit 1" "$out" \
	bash -c '! "$1" --check --config "$2" >/dev/null 2>&1 && grep -q "etcd.endpoints\[0\]: not an etcd URL" <<<"$3" &&
		 grep -q "etcd.cluster: not a cluster name" <<<"$3"' sh "$XLB_BUILD/xlbd" "$TB_TMP/bad.json" "$out"
cp "$TB_TMP/bad.json" "$TB_TMP/bad.before"
tb_exec lb "$XLB_BUILD/xlbd" --config "$TB_TMP/bad.json" --socket "$TB_TMP/bad.sock" \
	--pin-dir /sys/fs/bpf/xlb-bad --foreground >"$TB_TMP/bad.log" 2>&1
rc=$?
tb_check "bad etcd section: xlbd exits 1, its file unchanged, no socket left" "rc $rc" \
	bash -c '[ "$1" = 1 ] && cmp -s "$2" "$3" && [ ! -e "$4" ]' sh "$rc" "$TB_TMP/bad.json" \
	"$TB_TMP/bad.before" "$TB_TMP/bad.sock"

# ---- etcd in rt, listening on the rt side of the lb link only
ETCD_DIR=$TB_TMP/etcd
etcd_start() {
	tb_bg rt "$TB_TMP/etcd.log.$((++ETCD_RUNS))" etcd --name e1 --data-dir "$ETCD_DIR" \
		--listen-client-urls "$EP" --advertise-client-urls "$EP" \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster e1=http://127.0.0.1:2380 --max-txn-ops 1024
	ETCD_PID=$TB_LAST_PID
	tb_wait 20 tb_exec rt etcdctl --endpoints "$EP" endpoint health
}
ETCD_RUNS=0
if ! etcd_start; then
	tb_not_ok "etcd runs in rt on $EP" "$(tail -5 "$TB_TMP/etcd.log.1")"
	exit 1
fi
tb_ok "etcd runs in rt on $EP"

mkdir -p "$TB_TMP"/bpf{1,2,3}
for i in 1 2 3; do mount -t bpf bpf "$TB_TMP/bpf$i"; done
trap 'for i in 1 2 3 4 5; do umount -l "$TB_TMP/bpf$i" 2>/dev/null; done; tb_cleanup; echo "1..$TB_T"' EXIT
declare -A XPID
xlbd_bg() {		# xlbd_bg N: xlbd lbN in lb, on its own bpffs; wait for its socket
	tb_bg "${NS[$1]}" "$TB_TMP/lb$1.log.$((++RUNS))" "$XLBD_BIN" --config "$TB_TMP/lb$1.json" \
		--socket "$TB_TMP/lb$1.sock" --pin-dir "$TB_TMP/bpf$1/xlb" --bpffs "$TB_TMP/bpf$1" \
		--foreground -v
	XPID[$1]=$TB_LAST_PID
	tb_wait 15 "$XLB_BUILD/xlb" -s "$TB_TMP/lb$1.sock" status
}
RUNS=0
x() { local h=$1; shift; "$XLB_BUILD/xlb" -s "$TB_TMP/lb$h.sock" "$@"; }
jget() {		# jget N EXPR: a value of lbN's `xlb -j status` (python expression on s)
	x "$1" -j status | python3 -c 'import json,sys; s=json.load(sys.stdin); print('"$2"')'
}
state() { jget "$1" 's["etcd"]["state"]'; }
connected() { [ "$(state "$1")" = connected ]; }
unreachable() { [ "$(state "$1")" = unreachable ]; }
weight_of() {		# weight_of N BACKEND: its configured weight in lbN
	x "$1" -j backend list "$SVC" | python3 -c 'import json,sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]: print(b["weight"])' "$2"
}
has_weight() { [ "$(weight_of "$1" "$2")" = "$3" ]; }
has_vip() { x "$1" -j vip list | grep -q "\"$2\""; }
req() {			# req N JSON: one raw API request to lbN, its reply
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())' "$TB_TMP/lb$1.sock" "$2"
}
traffic_ok() {		# 10 requests through lb1, every one answered by a backend
	local out
	out=$(tb_requests "http://$VIP/" 10)
	[ "$(grep -c "^be[12]" <<<"$out")" = 10 ]
}

if ! xlbd_bg 1 || ! tb_wait 10 connected 1; then
	tb_not_ok "lb1 starts and connects to etcd" "$(tail -5 "$TB_TMP/lb1.log.1")"
	exit 1
fi
tb_ok "lb1 starts and connects to etcd"
seeded=$(tb_exec rt etcdctl --endpoints "$EP" get --prefix /xlbtest/c1/ --keys-only)
tb_check "lb1 seeded the empty prefix: /xlbtest/c1/seeded and its VIP's key" "$seeded" \
	bash -c 'grep -qx "/xlbtest/c1/seeded" <<<"$1" && grep -qx "/xlbtest/c1/vips/$2" <<<"$1"' \
	sh "$seeded" "$SVC"
for i in 2 3; do
	xlbd_bg $i && tb_wait 10 connected $i || tb_not_ok "lb$i starts and connects" \
		"$(tail -5 "$TB_TMP/lb$i.log.$RUNS")"
done
tb_check "lb2 and lb3 took the cluster's VIP over their files' (lb2's own 198.18.0.99:53 gone)" \
	"$(x 2 vip list)" bash -c 'x() { "$1" -s "$2/lb$3.sock" "${@:4}"; }
	for i in 2 3; do x "$1" "$2" $i -j vip list | grep -q "\"$4\"" || exit 1; done
	! x "$1" "$2" 2 -j vip list | grep -q 198.18.0.99 && ! grep -q 198.18.0.99 "$2/lb2.json" &&
	grep -q "198.18.0.10" "$2/lb2.json"' \
	sh "$XLB_BUILD/xlb" "$TB_TMP" 0 "$SVC"
tb_check "traffic through lb1's XDP attachment reaches the backends" "" traffic_ok

# ---- a change through one host is applied on all
t0=$(tb_now_ms)
out=$(x 2 backend set "$SVC" "${TB_BE4[2]}" weight 50 2>&1)
worst=0 all=
for i in 1 3; do
	if ms=$(tb_wait_ms 10 has_weight $i "${TB_BE4[2]}" 50); then
		ms=$(($(tb_now_ms) - t0))
		all+=" lb$i ${ms}ms"
		[ "$ms" -gt "$worst" ] && worst=$ms
	else
		all+=" lb$i never"
	fi
done
tb_check "backend set weight 50 through lb2: applied on lb1 and lb3 ($all)" "$out" \
	bash -c '! grep -q never <<<"$1"' sh "$all"
echo "# change through lb2 applied on every host within $worst ms"
slots=$(x 1 -j table "$SVC" | python3 -c 'import json,sys
t = json.load(sys.stdin); print(" ".join("%s=%s" % (s["address"], s["slots"]) for s in t["slots"]))' 2>&1)
tb_check "lb1's datapath table follows: be2 holds about a third of the slots ($slots)" "$slots" \
	python3 -c 'import sys
d = dict(kv.split("=") for kv in sys.argv[1].split())
s2 = int(d.get(sys.argv[2], 0)); s1 = int(d.get(sys.argv[3], 0))
sys.exit(0 if 70 <= s2 <= 98 and s1 + s2 == 251 else 1)' "$slots" "${TB_BE4[2]}" "${TB_BE4[1]}"
out=$(x 3 vip add 198.18.0.10:443/tcp table-size 251 2>&1)
tb_check "vip add through lb3: the VIP is on lb1 and lb2" "$out" \
	tb_wait 10 bash -c '"$1" -s "$2/lb1.sock" -j vip list | grep -q "198.18.0.10:443/tcp" &&
		"$1" -s "$2/lb2.sock" -j vip list | grep -q "198.18.0.10:443/tcp"' sh "$XLB_BUILD/xlb" "$TB_TMP"
grep -q "198.18.0.10" "$TB_TMP/lb1.json" && grep -q '"port": 443' "$TB_TMP/lb1.json"
tb_check "lb1's file (its cache) holds the VIP added through lb3" "" [ $? = 0 ]

# ---- digests: the same on every host
digests_agree() {
	local a b c
	a=$(jget 1 '[(d["vip"], d["digest"]) for d in s["digests"]]')
	b=$(jget 2 '[(d["vip"], d["digest"]) for d in s["digests"]]')
	c=$(jget 3 '[(d["vip"], d["digest"]) for d in s["digests"]]')
	[ -n "$a" ] && [ "$a" != "[]" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] &&
		[ "$(jget 1 'len(s["etcd"]["digests_differ"])')" = 0 ] &&
		[ "$(jget 1 'max(d["hosts"] for d in s["digests"])')" = 3 ]
}
tb_check "table digests equal on the three hosts, each published, none differs" \
	"$(jget 1 's["digests"]') $(jget 2 's["digests"]')" tb_wait 10 digests_agree
x 1 status | grep -q "digest" 
tb_check "xlb status shows the digests and the etcd state" "$(x 1 status)" \
	bash -c '"$1" -s "$2" status | grep -q "etcd.*connected" && "$1" -s "$2" status | grep -q "$3"' \
	sh "$XLB_BUILD/xlb" "$TB_TMP/lb1.sock" "$(jget 1 's["digests"][0]["digest"]')"

# ---- health: each host reports its verdicts; a backend is down where most live hosts see it down
HC=198.18.0.10:8080/tcp
op_vip="{\"cmd\": \"vip_add\", \"vip\": \"$HC\", \"table_size\": 251, \"check\": {\"type\": \"tcp\", \"port\": 80, \"interval_ms\": 200, \"timeout_ms\": 150}}"
op_be() { echo "{\"cmd\": \"backend_add\", \"vip\": \"$HC\", \"address\": \"$1\"}"; }
out=$(req 1 "{\"cmd\": \"batch\", \"ops\": [$op_vip, $(op_be "${TB_BE4[1]}"), $(op_be "${TB_BE4[2]}")]}")
be_field() {		# be_field N BACKEND KEY: a backend of $HC as lbN shows it
	x "$1" -j backend list "$HC" | python3 -c 'import json,sys
for b in json.load(sys.stdin)["backends"]:
    if b["address"] == sys.argv[1]: print(b.get(sys.argv[2]))' "$2" "$3"
}
is() { [ "$(be_field "$1" "$2" "$3")" = "$4" ]; }
all_up() { for i in 1 2 3; do is $i "${TB_BE4[2]}" health up || return 1; done; }
tb_check "a VIP with a tcp check through a batch on lb1: be2 up on the three hosts" "$out" \
	tb_wait 10 all_up
ip -n "$(tb_ns lb3)" route add prohibit "${TB_BE4[2]}/32"
tb_wait 10 is 3 "${TB_BE4[2]}" health down
tb_check "be2 unreachable from lb3 alone: lb3 sees it down but keeps it (why ok: outvoted)" \
	"$(x 3 -j backend list "$HC")" bash -c '[ "$1" = down ] && [ "$2" = ok ] && [ "$3" = ok ]' sh \
	"$(be_field 3 "${TB_BE4[2]}" health)" "$(be_field 3 "${TB_BE4[2]}" why)" \
	"$(be_field 1 "${TB_BE4[2]}" why)"
tb_check "be2 unreachable from lb3 alone: the tables stay identical (digests agree)" \
	"$(jget 3 's["digests"]')" tb_wait 10 digests_agree
ip -n "$(tb_ns lb)" route add prohibit "${TB_BE4[2]}/32"
all_down() { for i in 1 2 3; do is $i "${TB_BE4[2]}" why down || return 1; done; }
tb_check "be2 unreachable from lb1 and lb2 too (a majority): removed on the three hosts" \
	"$(x 1 -j backend list "$HC")" tb_wait 10 all_down
tb_check "the three tables agree without be2 (digests)" "" tb_wait 10 digests_agree
ip -n "$(tb_ns lb)" route del prohibit "${TB_BE4[2]}/32"
ip -n "$(tb_ns lb3)" route del prohibit "${TB_BE4[2]}/32"
all_ok() { for i in 1 2 3; do is $i "${TB_BE4[2]}" why ok || return 1; done; }
tb_check "be2 reachable again: back on the three hosts" "$(x 3 -j backend list "$HC")" \
	tb_wait 10 all_ok

# ---- a reload (SIGHUP) of lb2 whose file lost its VIPs: the cluster's stay
python3 -c 'import json,sys; c = json.load(open(sys.argv[1])); c["vips"] = []
json.dump(c, open(sys.argv[1], "w"))' "$TB_TMP/lb2.json"
kill -HUP "${XPID[2]}"
tb_check "reload of lb2 with no VIP in its file: the cluster's VIPs stay (logged)" "$(x 2 vip list)" \
	tb_wait 5 bash -c 'grep -q "reload: the VIPs are the cluster" "$1" && "$2" -s "$3" -j vip list |
		grep -q "198.18.0.10:443/tcp"' sh "$TB_TMP/lb2.log.2" "$XLB_BUILD/xlb" "$TB_TMP/lb2.sock"

# ---- time for a change through lb2 to be applied on lb1 and lb3 (polled: an upper bound)
times=
for w in 41 42 43 44 45; do
	t0=$(tb_now_ms)
	x 2 backend set "$SVC" "${TB_BE4[2]}" weight $w >/dev/null 2>&1
	tb_wait_ms 10 has_weight 1 "${TB_BE4[2]}" $w >/dev/null &&
		tb_wait_ms 10 has_weight 3 "${TB_BE4[2]}" $w >/dev/null
	times+=" $(($(tb_now_ms) - t0))"
done
x 2 backend set "$SVC" "${TB_BE4[2]}" weight 50 >/dev/null 2>&1
echo "# 5 changes through lb2, ms from the command's start until applied on lb1 and lb3 (polled, 20 ms + one xlb call per poll):$times"
tb_check "5 changes through lb2 each applied on lb1 and lb3 within 10 s ($times ms)" "" \
	tb_wait 10 has_weight 3 "${TB_BE4[2]}" 50

# ---- two changes read at the same revision through two hosts: one lands, one is refused
rev=$(jget 1 's["etcd"]["revision"]')
req 1 "{\"cmd\": \"backend_set\", \"vip\": \"$SVC\", \"address\": \"${TB_BE4[1]}\", \"weight\": 70, \"revision\": $rev}" >"$TB_TMP/c1" &
P1=$!
req 3 "{\"cmd\": \"backend_set\", \"vip\": \"$SVC\", \"address\": \"${TB_BE4[1]}\", \"weight\": 80, \"revision\": $rev}" >"$TB_TMP/c3" &
P3=$!
wait $P1 $P3
r1=$(cat "$TB_TMP/c1") r3=$(cat "$TB_TMP/c3")
oks=$(cat "$TB_TMP/c1" "$TB_TMP/c3" | grep -c '"ok": *true')
conf=$(cat "$TB_TMP/c1" "$TB_TMP/c3" | grep -c 'conflict: ')
tb_check "two changes at revision $rev through lb1 and lb3: one lands, one is a conflict" "$r1 | $r3" \
	[ "$oks" = 1 ] && [ "$conf" = 1 ]
if grep -q '"ok": *true' "$TB_TMP/c1"; then won=70; else won=80; fi
tb_check "the one that landed is on every host (weight $won), the refused one nowhere" "" \
	tb_wait 10 bash -c 'for i in 1 2 3; do "$1" -s "$2/lb$i.sock" -j backend list "$3" |
		grep -q "\"weight\": *$4" || exit 1; done' sh "$XLB_BUILD/xlb" "$TB_TMP" "$SVC" "$won"
out=$(x 2 --revision "$rev" backend set "$SVC" "${TB_BE4[1]}" weight 90 2>&1)
tb_check "xlb --revision $rev (stale) through lb2: Error: conflict, exit 1" "$out" \
	bash -c '! "$1" -s "$2" --revision "$3" backend set "$4" "$5" weight 90 2>/dev/null &&
		grep -q "^Error: conflict" <<<"$6"' sh "$XLB_BUILD/xlb" "$TB_TMP/lb2.sock" "$rev" "$SVC" \
	"${TB_BE4[1]}" "$out"

# ---- etcd stopped: forwarding goes on, status and metrics say so, changes are refused
tb_stop "$ETCD_PID"
kill -9 "$ETCD_PID" 2>/dev/null
for i in 1 2 3; do
	tb_wait 10 unreachable $i || tb_not_ok "lb$i sees etcd unreachable" "$(jget $i 's["etcd"]')"
done
tb_check "etcd stopped: status on the three hosts says unreachable" "$(jget 1 's["etcd"]')" \
	bash -c 'for i in 1 2 3; do "$1" -s "$2/lb$i.sock" -j status | grep -q "\"state\": *\"unreachable\"" || exit 1; done' \
	sh "$XLB_BUILD/xlb" "$TB_TMP"
m=$(tb_exec lb curl -s http://127.0.0.1:9471/metrics | grep '^xlb_etcd')
tb_check "metrics: xlb_etcd_up 0, xlb_etcd_unreachable_total 1" "$m" \
	bash -c 'grep -qx "xlb_etcd_up 0" <<<"$1" && grep -qx "xlb_etcd_unreachable_total 1" <<<"$1"' sh "$m"
tb_check "etcd stopped: traffic still goes through lb1 to the backends" "" traffic_ok
out=$(x 2 backend set "$SVC" "${TB_BE4[2]}" weight 10 2>&1)
tb_check "etcd stopped: a change is refused, saying etcd is unreachable; nothing changed" "$out" \
	bash -c 'grep -q "etcd unreachable" <<<"$1" && [ "$2" = 50 ]' sh "$out" "$(weight_of 2 "${TB_BE4[2]}")"
tb_stop "${XPID[3]}"
if xlbd_bg 3; then
	tb_check "lb3 restarted with etcd down starts from its file: both VIPs, weight $won, unreachable" \
		"$(x 3 -j vip list)" bash -c 'has() { "$1" -s "$2/lb3.sock" -j "${@:3}"; }
		has "$1" "$2" vip list | grep -q "198.18.0.10:443/tcp" &&
		has "$1" "$2" backend list "$3" | grep -q "\"weight\": *$4"' sh "$XLB_BUILD/xlb" "$TB_TMP" \
		"$SVC" "$won"
	tb_wait 10 unreachable 3
	tb_check "lb3's status says etcd unreachable" "$(jget 3 's["etcd"]')" unreachable 3
else
	tb_not_ok "lb3 restarts with etcd down" "$(tail -5 "$TB_TMP/lb3.log.$RUNS")"
fi

# ---- etcd back: every host connects again; a change made then is applied on all
etcd_start || tb_not_ok "etcd restarts" "$(tail -5 "$TB_TMP/etcd.log.$ETCD_RUNS")"
for i in 1 2 3; do
	tb_wait 15 connected $i || tb_not_ok "lb$i connects again" "$(jget $i 's["etcd"]')"
done
tb_check "etcd back: the three hosts are connected again" "" \
	bash -c 'for i in 1 2 3; do "$1" -s "$2/lb$i.sock" -j status | grep -q "\"state\": *\"connected\"" || exit 1; done' \
	sh "$XLB_BUILD/xlb" "$TB_TMP"
t0=$(tb_now_ms)
out=$(x 1 backend set "$SVC" "${TB_BE4[2]}" weight 100 2>&1)
ok=1
for i in 2 3; do tb_wait 10 has_weight $i "${TB_BE4[2]}" 100 || ok=0; done
tb_check "a change through lb1 after etcd returned is applied on lb2 and lb3 ($(($(tb_now_ms) - t0)) ms)" \
	"$out" [ $ok = 1 ]
tb_check "digests equal on the three hosts again" "$(jget 3 's["digests"]')" tb_wait 10 digests_agree
tb_check "etcd back: traffic through lb1" "" traffic_ok

# ---- TLS: a second etcd on https://198.18.0.6:2479 that wants a client certificate (certificates
# made now by openssl: a CA, etcd's for its address, lb4's client one); lb4 (in lb3's namespace,
# no interface) with ca_file, cert_file and key_file connects and seeds its prefix; lb5 with the
# CA only is refused by etcd, and says so
EPS=https://198.18.0.6:2479
tls_certs() {
	local d=$TB_TMP/tls n
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=xlb-test-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null || return 1
	for n in etcd lb4; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" \
			-keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null || return 1
		if [ $n = etcd ]; then
			# clientAuth too: etcd's JSON gateway dials its own gRPC server with it
			printf 'subjectAltName=IP:198.18.0.6\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/$n.ext"
		else
			printf 'extendedKeyUsage=clientAuth\n' >"$d/$n.ext"
		fi
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 1 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null || return 1
	done
}
tls_conf() {		# tls_conf N TLS_KEYS: lbN's file, etcd over TLS, the VIP of lb1
	cat >"$TB_TMP/lb$1.json" <<EOF
{"interfaces": [], "nexthop_mac": "$TB_NEXTHOP_MAC", "encap_source4": "$TB_LB4", "metrics_listen": "off",
 "etcd": {"endpoints": ["$EPS"], "prefix": "/xlbtls", "cluster": "c1", "host": "lb$1",
          "timeout_ms": 1000, "connect_timeout_ms": 300, "retry_ms": 300, "lease_ttl_s": 3, $2},
 "vips": [{"address": "$VIP", "port": 80, "proto": "tcp", "table_size": 251,
           "backends": [{"address": "${TB_BE4[1]}"}]}]}
EOF
}
T=$TB_TMP/tls
tried_tls() { [ -n "$(jget "$1" 's["etcd"].get("error") or ""')" ]; }	# an attempt failed
seeded_tls() { etcdctl_tls get --prefix /xlbtls --keys-only 2>/dev/null | grep -q "/xlbtls/c1/vips/"; }
etcdctl_tls() { tb_exec rt etcdctl --endpoints "$EPS" --cacert "$T/ca.pem" --cert "$T/lb4.pem" --key "$T/lb4.key" "$@"; }
if ! command -v openssl >/dev/null; then
	tb_ok "etcd over TLS # SKIP no openssl (make deps)"
elif ! tls_certs; then
	tb_not_ok "openssl made the test's certificates" "see $TB_TMP/tls"
else
	tls_conf 5 "\"key_file\": \"$T/lb4.key\""
	out=$("$XLB_BUILD/xlbd" --check --config "$TB_TMP/lb5.json" 2>&1)
	tb_check "a key_file without cert_file: xlbd --check names etcd.cert_file, exit 1" "$out" \
		bash -c '! "$1" --check --config "$2" >/dev/null 2>&1 && grep -q "etcd.cert_file: missing" <<<"$3"' \
		sh "$XLB_BUILD/xlbd" "$TB_TMP/lb5.json" "$out"
	tb_bg rt "$TB_TMP/etcd-tls.log" etcd --name t1 --data-dir "$TB_TMP/etcd-tls" \
		--listen-client-urls "$EPS" --advertise-client-urls "$EPS" \
		--listen-peer-urls http://127.0.0.1:2480 --initial-advertise-peer-urls http://127.0.0.1:2480 \
		--initial-cluster t1=http://127.0.0.1:2480 --cert-file "$T/etcd.pem" \
		--key-file "$T/etcd.key" --trusted-ca-file "$T/ca.pem" --client-cert-auth
	if tb_wait 20 etcdctl_tls endpoint health >/dev/null 2>&1; then
		NS[4]=lb3 NS[5]=lb3
		mkdir -p "$TB_TMP"/bpf{4,5}
		mount -t bpf bpf "$TB_TMP/bpf4" && mount -t bpf bpf "$TB_TMP/bpf5"
		tls_conf 4 "\"ca_file\": \"$T/ca.pem\", \"cert_file\": \"$T/lb4.pem\", \"key_file\": \"$T/lb4.key\""
		tls_conf 5 "\"ca_file\": \"$T/ca.pem\""
		xlbd_bg 4 && xlbd_bg 5
		tb_check "lb4 with a client certificate connects to etcd over TLS" "$(jget 4 's["etcd"]')" \
			tb_wait 10 connected 4
		tb_check "lb4 seeded /xlbtls over TLS: etcdctl (with a certificate) reads its VIP's key" \
			"$(etcdctl_tls get --prefix /xlbtls --keys-only 2>&1)" \
			tb_wait 5 seeded_tls
		tb_wait 5 tried_tls 5
		err5=$(jget 5 's["etcd"].get("error") or ""')
		echo "# lb5's etcd error: $err5"
		# refused in the TLS handshake, not at the TCP connect (lb4 reached the same endpoint)
		tb_check "lb5 without a client certificate is refused by etcd: unreachable, never connected" \
			"$(x 5 -j status 2>&1 | head -c 600) $(tail -3 "$TB_TMP/lb5.log.$RUNS")" \
			bash -c '[ "$1" = unreachable ] && [ "$2" = 0 ] && [ -n "$3" ] &&
				! grep -qiE "connect|resolve|timed out" <<<"$3"' \
			sh "$(state 5)" "$(jget 5 's["etcd"]["revision"]')" "$err5"
		for i in 4 5; do tb_stop "${XPID[$i]}"; umount -l "$TB_TMP/bpf$i"; done
	else
		tb_not_ok "etcd over TLS runs in rt on $EPS" "$(tail -5 "$TB_TMP/etcd-tls.log")"
	fi
fi

for i in 1 2 3; do tb_stop "${XPID[$i]}"; done
bad=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TB_TMP"/lb*.log.* 2>/dev/null)
tb_check "no sanitizer report in the xlbd logs" "$bad" [ -z "$bad" ]
