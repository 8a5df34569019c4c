// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, the maps libxlb writes and reads: per-VIP and per-backend counters,
 * all-ports VIPs in xlb_vip_meta, Maglev tables set, read back and cleared, one at a time or
 * swapped in batches (refused whole when one entry is bad, chunked when descriptors are few).
 * Each scenario starts from a freshly loaded balancer (fixture.c) in a process of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

static void test_counters(void)
{
	struct xlb_counters v0, v1, b0, b1;
	uint32_t be;
	struct run r;
	struct pkt in;
	int ok = 1;

	WHY[0] = 0;
	xlb_stats__vip(X, VIP_4IN4, &v0);
	be = send_flow("198.18.11.1", "198.18.0.10", 12345, VIP_4IN4, &r, &in);
	xlb_stats__backend(X, be, &b0);
	send_flow("198.18.11.1", "198.18.0.10", 12345, VIP_4IN4, &r, &in);
	xlb_stats__vip(X, VIP_4IN4, &v1);
	xlb_stats__backend(X, be, &b1);
	if (v1.packets - v0.packets != 2 || v1.bytes - v0.bytes != 2ULL * in.len ||
	    v1.new_flows - v0.new_flows != 1)
		ok = fail("vip counters +%llu packets +%llu bytes +%llu new flows; expected 2, %u, 1",
			  (unsigned long long)(v1.packets - v0.packets),
			  (unsigned long long)(v1.bytes - v0.bytes),
			  (unsigned long long)(v1.new_flows - v0.new_flows), 2 * in.len);
	else if (b1.packets - b0.packets != 1 || b1.bytes - b0.bytes != in.len ||
		 b1.new_flows != b0.new_flows)
		ok = fail("backend counters wrong on the established packet");
	else if (xlb_stats__clear_vip(X, VIP_4IN4) || xlb_stats__vip(X, VIP_4IN4, &v1) ||
		 v1.packets)
		ok = fail("vip counters not cleared");
	if (ok) {
		struct xlb_flow_key k;
		struct xlb_flow f;
		uint8_t a[4], d[4];

		inet_pton(AF_INET, "198.18.11.1", a);
		inet_pton(AF_INET, "198.18.0.10", d);
		xlb_flow_key__init(&k, XLB_AF_INET, a, d, 12345, 80, 6);
		if (xlb_flow__get(X, &k, &f) || f.backend_id != be)
			ok = fail("flow entry missing or on backend %u", f.backend_id);
	}
	tap(ok, "per-VIP and per-backend packets, bytes, new flows; the flow's entry", WHY);
}

static void test_all_ports_meta(void)
{
	struct pspec s = V4(.dst = "198.18.0.21", UDP(95));
	struct xlb_vip_key k = { .port = 0, .proto = 17, .family = XLB_AF_INET };
	struct xlb_vip_meta meta;
	struct run r;
	struct pkt in;
	__u32 zero = 0;
	int ok;

	WHY[0] = 0;
	inet_pton(AF_INET, "198.18.0.21", k.addr);
	build_pkt(&in, &s);
	ok = !add_vip("198.18.0.21", 0, 17, VIP_ALL4, XLB_MODE_IPIP, 0) && !run_pkt(&in, &r) &&
	     check_reason(&in, &r, XLB_R_TX, NULL);
	if (ok && (xlb_vip__del(X, &k) || xlb_vip__del(X, &k) != -ENOENT))
		ok = fail("deleting the all-ports VIP failed, or a second delete did not say ENOENT");
	ok = ok && !run_pkt(&in, &r) && check_reason(&in, &r, XLB_R_PASS_NOT_VIP, NULL) &&
	     check_untouched(&in, &r);
	if (ok && bpf_map_lookup_elem(xlb__map_fd(X, "xlb_vip_meta"), &zero, &meta))
		ok = fail("cannot read xlb_vip_meta");
	if (ok && !(meta.all_ports & xlb_all_ports_bit(XLB_AF_INET, 17)))
		ok = fail("v4/udp all-ports bit cleared while 198.18.0.20 is still all-ports");
	tap(ok, "all-ports VIP added and removed: fallback follows xlb_vip_meta", WHY);
}

/* Read VIP @vip_id's table with one lookup syscall per slot: 1 if slot 0 holds @m. */
static int table_via_syscalls(uint32_t vip_id, uint32_t *out, uint32_t m)
{
	uint32_t inner_id, v;
	int fd, ok = 1;

	if (bpf_map_lookup_elem(xlb__map_fd(X, "xlb_maglev"), &vip_id, &inner_id))
		return 0;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return 0;
	for (uint32_t i = 0; i <= m && ok; i++) {
		ok = !bpf_map_lookup_elem(fd, &i, &v);
		if (ok && !i)
			ok = v == m;
		else if (ok)
			out[i - 1] = v;
	}
	close(fd);
	return ok;
}

static void test_table_api(void)
{
	uint32_t t[M], got[M];
	int ok = 1, m;

	WHY[0] = 0;
	for (int i = 0; i < M; i++)
		t[i] = 1 + i % 4;
	if (xlb_vip__set_table(X, 30, t, M))
		ok = fail("set_table failed");
	else if ((m = xlb_vip__get_table(X, 30, got, M)) != M || memcmp(t, got, sizeof(t)))
		ok = fail("get_table returned %d / different ids", m);
	else if (xlb_vip__get_table(X, 30, got, M - 1) != -ENOSPC)
		ok = fail("get_table with a small buffer did not fail with -ENOSPC");
	else if (xlb_vip__clear_table(X, 30) || xlb_vip__get_table(X, 30, got, M) != -ENOENT)
		ok = fail("clear_table did not remove the table");
	else if (xlb_vip__set_table(X, XLB_MAX_VIPS, t, M) != -EINVAL)
		ok = fail("vip id out of range accepted");
	if (ok) {
		static uint32_t big[XLB_MAGLEV_DEFAULT], back[XLB_MAGLEV_DEFAULT];

		for (uint32_t i = 0; i < XLB_MAGLEV_DEFAULT; i++)
			big[i] = 1 + (i * 2654435761U) % 1000;
		if (xlb_vip__set_table(X, 30, big, XLB_MAGLEV_DEFAULT) ||
		    xlb_vip__get_table(X, 30, back, XLB_MAGLEV_DEFAULT) != XLB_MAGLEV_DEFAULT ||
		    memcmp(big, back, sizeof(big)))
			ok = fail("a 65537-slot table did not read back identical");
		/* written through a mapping: the map's own view (what BPF reads) must agree */
		if (ok && !table_via_syscalls(30, back, XLB_MAGLEV_DEFAULT))
			ok = fail("slot 0 or a slot of the inner map differs from the table written");
		else if (ok && memcmp(big, back, sizeof(big)))
			ok = fail("the inner map read element by element differs from the table");
	}
	tap(ok, "libxlb Maglev table set/get/clear", WHY);
}

/* ---------------------------------------------------------------- batch table swaps */

/* The fixture VIPs a batch test sends packets to (one per forwarding mode and family). */
static const struct {
	uint32_t id;
	const char *dst, *client_fmt; /* client addresses: client_fmt % flow number */
} batch_vips[] = {
	{ VIP_4IN4, "198.18.0.10", "198.18.77.%d" },
	{ VIP_4IN6, "198.18.0.11", "198.18.78.%d" },
	{ VIP_6IN6, "2001:db8::10", "2001:db8:77::%x" },
	{ VIP_GUE4, "198.18.0.12", "198.18.79.%d" },
	{ VIP_L2_4, "198.18.0.13", "198.18.80.%d" },
	{ VIP_MISC, "198.18.0.40", "198.18.81.%d" },
};
#define N_BATCH_VIPS (sizeof(batch_vips) / sizeof(batch_vips[0]))
#define BATCH_N 300		/* more than one chunk of 256 */
#define BATCH_EXTRA0 100	/* first id of the VIPs that only get a table */
#define BATCH_M_NEW 7		/* new table size of the fixture VIPs: M changes with the swap */

/* The table of a batch-only VIP @id: size and contents from the id. */
static uint32_t extra_table(uint32_t id, uint32_t *t)
{
	uint32_t m = 13 + (id % 5) * 59; /* up to 249 < M_BIG */

	for (uint32_t i = 0; i < m; i++)
		t[i] = 1 + (i * 31 + id) % (BE_IDS - 1);
	return m;
}

/*
 * Send @nflows new flows (clients never seen before, so no flow-table hit) to each fixture VIP
 * of the batch: each must reach the backend userspace predicts from V[] (the VIP's table).
 * With @moved, counts the flows that @old (the VIPs' previous tables, M slots each) would have
 * sent elsewhere.
 */
static int batch_flows(int base, int nflows, uint32_t old[][M], int *moved)
{
	for (size_t v = 0; v < N_BATCH_VIPS; v++) {
		uint32_t id = batch_vips[v].id;
		int v6 = !!strchr(batch_vips[v].dst, ':');

		for (int f = 0; f < nflows; f++) {
			uint8_t a[16], d[16];
			uint16_t sport = (uint16_t)(20000 + base + f);
			struct xlb_flow_key k;
			uint32_t want, got;
			char src[64];
			struct run r;
			struct pkt in;

			snprintf(src, sizeof(src), batch_vips[v].client_fmt, base + f + 1);
			inet_pton(v6 ? AF_INET6 : AF_INET, src, a);
			inet_pton(v6 ? AF_INET6 : AF_INET, batch_vips[v].dst, d);
			xlb_flow_key__init(&k, v6 ? XLB_AF_INET6 : XLB_AF_INET, a, d, sport, 80, 6);
			want = predict(&k, id);
			got = send_flow(src, batch_vips[v].dst, sport, id, &r, &in);
			if (got != want)
				return fail("VIP %u flow from %s:%u went to backend %u, its table says %u",
					    id, src, sport, got, want);
			if (moved && lookup_in(&k, id, old[v], M).backend_id != want)
				(*moved)++;
		}
	}
	return 1;
}

static void test_batch_swap(void)
{
	static uint32_t extra[BATCH_N][M_BIG], got[M_BIG];
	struct xlb_table_update u[BATCH_N];
	uint32_t saved[N_BATCH_VIPS][M], fresh[N_BATCH_VIPS][BATCH_M_NEW];
	size_t n = 0, applied = 99;
	int ok = 1, moved = 0, rc;

	WHY[0] = 0;
	for (size_t v = 0; v < N_BATCH_VIPS; v++) {
		uint32_t id = batch_vips[v].id;

		memcpy(saved[v], V[id].table, sizeof(saved[v]));
		/* only backends 2 and 3: a flow the old table gave to 0 or 1 must move */
		for (uint32_t i = 0; i < BATCH_M_NEW; i++)
			fresh[v][i] = BE(id, 2 + i % 2);
		u[n++] = (struct xlb_table_update){ .vip_id = id, .m = BATCH_M_NEW,
						    .table = fresh[v] };
	}
	for (uint32_t id = BATCH_EXTRA0; n < BATCH_N; id++, n++)
		u[n] = (struct xlb_table_update){ .vip_id = id, .table = extra[n],
						  .m = extra_table(id, extra[n]) };
	rc = xlb_vip__set_tables(X, u, n, &applied);
	if (rc || applied != n)
		ok = fail("set_tables of %zu returned %d, applied %zu", n, rc, applied);
	for (size_t i = 0; ok && i < n; i++) {
		int m = xlb_vip__get_table(X, u[i].vip_id, got, M_BIG);

		if (m != (int)u[i].m || memcmp(got, u[i].table, u[i].m * sizeof(*got)))
			ok = fail("VIP %u reads back %d slots / other ids than its new table of %u",
				  u[i].vip_id, m, u[i].m);
	}
	if (ok) {
		for (size_t v = 0; v < N_BATCH_VIPS; v++) {
			V[batch_vips[v].id].m = BATCH_M_NEW;
			memcpy(V[batch_vips[v].id].table, fresh[v], sizeof(fresh[v]));
		}
		ok = batch_flows(0, 16, saved, &moved);
	}
	if (ok && moved == 0)
		ok = fail("no flow would have gone elsewhere under the old tables: test proves nothing");
	tap(ok, "300 VIPs' tables swapped in one batch: read back, new flows follow the new tables",
	    WHY);

	/* put the fixture tables back through the same API, and drop the batch-only tables */
	WHY[0] = 0;
	for (size_t v = 0; v < N_BATCH_VIPS; v++) {
		u[v] = (struct xlb_table_update){ .vip_id = batch_vips[v].id, .m = M,
						  .table = saved[v] };
		V[batch_vips[v].id].m = M;
		memcpy(V[batch_vips[v].id].table, saved[v], sizeof(saved[v]));
	}
	ok = !xlb_vip__set_tables(X, u, N_BATCH_VIPS, &applied) && applied == N_BATCH_VIPS;
	for (uint32_t id = BATCH_EXTRA0; id < BATCH_EXTRA0 + BATCH_N - N_BATCH_VIPS; id++)
		ok &= !xlb_vip__clear_table(X, id);
	if (!ok)
		fail("restoring the fixture tables failed");
	else
		ok = batch_flows(100, 4, NULL, NULL);
	tap(ok, "fixture tables restored by a batch of 6: flows follow them again", WHY);
}

static void test_batch_refused(void)
{
	static const struct {
		const char *name;
		uint32_t vip_id, m;
		int no_table;
	} bad[] = {
		{ "m = 0", 200, 0, 0 },
		{ "vip id = XLB_MAX_VIPS", XLB_MAX_VIPS, 5, 0 },
		{ "m > XLB_MAGLEV_MAX", 200, XLB_MAGLEV_MAX + 1, 0 },
		{ "no table", 200, 5, 1 },
		{ "VIP_MISC twice", VIP_MISC, 5, 0 },
	};
	uint32_t t[M], got[M], t200[M];
	struct xlb_table_update u[3];
	char name[128];
	int ok = 1;

	for (int i = 0; i < M; i++) {
		t[i] = BE(VIP_MISC, 3);
		t200[i] = 7;
	}
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		size_t applied = 99;
		int rc, m;

		WHY[0] = 0;
		ok = 1;
		/* valid entries before and after the bad one, one of them a live fixture VIP */
		u[0] = (struct xlb_table_update){ .vip_id = VIP_MISC, .m = M, .table = t };
		u[1] = (struct xlb_table_update){ .vip_id = bad[b].vip_id, .m = bad[b].m,
						  .table = bad[b].no_table ? NULL : t };
		u[2] = (struct xlb_table_update){ .vip_id = 201, .m = M, .table = t200 };
		rc = xlb_vip__set_tables(X, u, 3, &applied);
		if (rc != -EINVAL || applied != 0)
			ok = fail("returned %d, applied %zu; expected -EINVAL, 0", rc, applied);
		else if ((m = xlb_vip__get_table(X, VIP_MISC, got, M)) != (int)V[VIP_MISC].m ||
			 memcmp(got, V[VIP_MISC].table, M * sizeof(*got)))
			ok = fail("VIP_MISC's table changed (reads %d slots)", m);
		else if ((m = xlb_vip__get_table(X, 201, got, M)) != -ENOENT)
			ok = fail("VIP 201 got a table (get_table says %d)", m);
		else if ((m = xlb_vip__get_table(X, 200, got, M)) != -ENOENT)
			ok = fail("VIP 200 got a table (get_table says %d)", m);
		ok = ok && batch_flows(200 + 10 * (int)b, 2, NULL, NULL);
		snprintf(name, sizeof(name), "batch with %s refused before anything changed",
			 bad[b].name);
		tap(ok, name, WHY);
	}
}

/* Fewer descriptors than tables: the batch swaps what it has created and goes on. */
static void test_batch_few_fds(void)
{
	static uint32_t tabs[40][M_BIG], got[M_BIG];
	struct xlb_table_update u[40];
	struct rlimit old, low;
	size_t applied = 0;
	int ok = 1, rc, lim, room = 0;

	WHY[0] = 0;
	for (uint32_t i = 0; i < 40; i++)
		u[i] = (struct xlb_table_update){ .vip_id = 400 + i, .table = tabs[i],
						  .m = extra_table(400 + i, tabs[i]) };
	/* a limit with exactly 5 free descriptor numbers below it: room for 5 inner maps */
	for (lim = 0; room < 5; lim++)
		if (fcntl(lim, F_GETFD) < 0 && errno == EBADF)
			room++;
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)lim;
	if (setrlimit(RLIMIT_NOFILE, &low))
		ok = fail("setrlimit: %s", strerror(errno));
	rc = ok ? xlb_vip__set_tables(X, u, 40, &applied) : 0;
	setrlimit(RLIMIT_NOFILE, &old);
	if (ok && (rc || applied != 40))
		ok = fail("set_tables returned %d, applied %zu of 40", rc, applied);
	for (uint32_t i = 0; ok && i < 40; i++) {
		int m = xlb_vip__get_table(X, 400 + i, got, M_BIG);

		if (m != (int)u[i].m || memcmp(got, u[i].table, u[i].m * sizeof(*got)))
			ok = fail("VIP %u reads back %d slots / other ids", 400 + i, m);
	}
	tap(ok, "batch of 40 tables with descriptors for 5: swapped in smaller chunks", WHY);
}

static const struct scenario scenarios[] = {
	{ "counters", fixture_fresh, test_counters },
	{ "all_ports_meta", fixture_fresh, test_all_ports_meta },
	{ "table_api", fixture_fresh, test_table_api },
	{ "batch_swap", fixture_fresh, test_batch_swap },
	{ "batch_refused", fixture_fresh, test_batch_refused },
	{ "batch_few_fds", fixture_fresh, test_batch_few_fds },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: maps", scenarios,
			    ARRAY_SIZE(scenarios));
}
