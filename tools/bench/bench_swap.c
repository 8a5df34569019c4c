// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark of Maglev table swaps: the tables of N VIPs swapped one by one vs in one batch. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xlb.h"
#include "bench_util.h"

/*
 * Usage: bench_swap [RUNS]. For N = 1, 10, 100, 1000 VIPs with M = 65537, the time to swap in
 * every VIP's table with xlb_vip__set_table() one VIP after the other, and with one
 * xlb_vip__set_tables() call; each figure is the median of RUNS runs (default 5; 3 for the
 * 1,000 one-by-one, which take seconds each), the two ways interleaved run by run. Every run
 * swaps in other tables than the previous one (the slots' contents do not change the cost,
 * their number does). Tables are random backend ids; the VIPs share NSRC source tables so the
 * benchmark's own memory stays small (the kernel still holds one inner map per VIP).
 *
 * A second table swaps tables of 13 slots, so that creating and filling the inner maps costs
 * next to nothing and what is left is the grace periods: one per chunk of 256 tables.
 */

#define M XLB_MAGLEV_DEFAULT
#define M_SMALL 13
#define NSRC 8
#define MAX_N 1000

static double now_ms(void)
{
	return now_us() / 1e3;
}

static double median(double *d, int n)
{
	qsort(d, n, sizeof(*d), cmp_double);
	return n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
}

static uint32_t *src[NSRC];

/*
 * A grace period asked for right after another one ended takes longer (here 12-16 ms instead of
 * about 6): every timed run starts after a pause, as a swap triggered by an event would.
 */
static void settle(void)
{
	usleep(50 * 1000);
}

/* The updates of run @run for @n VIPs: VIP i gets source table (i + run) % NSRC, @m slots. */
static void updates(struct xlb_table_update *u, size_t n, int run, __u32 m)
{
	for (size_t i = 0; i < n; i++)
		u[i] = (struct xlb_table_update){ .vip_id = (__u32)i, .m = m,
						  .table = src[(i + (size_t)run) % NSRC] };
}

static int one_by_one(struct xlb *x, const struct xlb_table_update *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = xlb_vip__set_table(x, u[i].vip_id, u[i].table, u[i].m);

		if (err)
			return err;
	}
	return 0;
}

/* VIP @vip_id's table in the datapath is @want: 1, else 0. */
static int check(struct xlb *x, __u32 vip_id, const uint32_t *want, uint32_t *buf)
{
	return xlb_vip__get_table(x, vip_id, buf, M) == M && !memcmp(buf, want, M * sizeof(*buf));
}

int main(int argc, char **argv)
{
	static const size_t ns[] = { 1, 10, 100, MAX_N }, ns_small[] = { 1, 10, 256, 257, MAX_N };
	struct xlb_open_opts opts = { .pin_dir = "" };
	int runs = argc > 1 ? atoi(argv[1]) : 5, run = 0, rc = 1;
	struct xlb_table_update *u = NULL;
	double seq[64], bat[64];
	uint32_t *buf = NULL;
	struct xlb *x = NULL;
	double t_start = now_ms();

	if (runs < 1 || runs > 64) {
		fprintf(stderr, "usage: bench_swap [RUNS 1..64]\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_swap: needs root (BPF maps)\n");
		return 0;
	}
	u = calloc(MAX_N, sizeof(*u));
	buf = calloc(M, sizeof(*buf));
	for (int s = 0; s < NSRC; s++) {
		src[s] = calloc(M, sizeof(*src[s]));
		if (!src[s])
			goto out;
		for (uint32_t i = 0; i < M; i++)
			src[s][i] = 1 + rng() % (XLB_MAX_BACKENDS - 1);
	}
	if (!u || !buf)
		goto out;
	x = xlb__open(&opts);
	if (!x) {
		fprintf(stderr, "bench_swap: cannot load the balancer: %s\n", strerror(errno));
		goto out;
	}
	/* every VIP starts with a table, as in a running daemon: each swap replaces one */
	updates(u, MAX_N, run++, M);
	if (xlb_vip__set_tables(x, u, MAX_N, NULL)) {
		fprintf(stderr, "bench_swap: initial tables: %s\n", strerror(errno));
		goto out;
	}

	printf("Maglev table swaps, M = %u, tables of N VIPs swapped in one by one "
	       "(xlb_vip__set_table) or in one batch (xlb_vip__set_tables);\n"
	       "median of %d runs (%d for N = %d one by one), ms\n\n",
	       M, runs, runs < 3 ? runs : 3, MAX_N);
	printf("%6s %13s %10s %13s %10s %9s\n", "N", "one-by-one", "per VIP", "batch", "per VIP",
	       "ratio");
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		size_t n = ns[k];
		int r_seq = n == MAX_N && runs > 3 ? 3 : runs, n_seq = 0, err;
		double ms_seq, ms_bat;

		for (int r = 0; r < runs; r++) {
			double t0;

			if (r < r_seq) {
				updates(u, n, run++, M);
				settle();
				t0 = now_ms();
				err = one_by_one(x, u, n);
				seq[n_seq++] = now_ms() - t0;
				if (err || !check(x, u[n - 1].vip_id, u[n - 1].table, buf)) {
					fprintf(stderr, "bench_swap: one-by-one swap of %zu: %s\n", n,
						err ? strerror(-err) : "table differs");
					goto out;
				}
			}
			updates(u, n, run++, M);
			settle();
			t0 = now_ms();
			err = xlb_vip__set_tables(x, u, n, NULL);
			bat[r] = now_ms() - t0;
			if (err || !check(x, u[n - 1].vip_id, u[n - 1].table, buf)) {
				fprintf(stderr, "bench_swap: batch swap of %zu: %s\n", n,
					err ? strerror(-err) : "table differs");
				goto out;
			}
		}
		ms_seq = median(seq, n_seq);
		ms_bat = median(bat, runs);
		printf("%6zu %13.2f %10.3f %13.2f %10.3f %8.4fx\n", n, ms_seq, ms_seq / n, ms_bat,
		       ms_bat / n, ms_bat / ms_seq);
		fflush(stdout);
	}
	printf("\nratio = batch / one-by-one; a batch swaps up to 256 tables per grace period.\n");

	/* small tables: what a batch costs beyond building its inner maps */
	printf("\ntables of %u slots (building them is negligible), median of %d runs, ms\n\n",
	       M_SMALL, runs);
	printf("%6s %8s %13s %13s %10s\n", "N", "chunks", "one-by-one", "batch", "per chunk");
	for (size_t k = 0; k < sizeof(ns_small) / sizeof(ns_small[0]); k++) {
		size_t n = ns_small[k], chunks = (n + 255) / 256;
		int r_seq = n <= 10 ? runs : 0;
		double ms_bat;

		for (int r = 0; r < runs; r++) {
			int err = 0;
			double t0;

			if (r < r_seq) {
				updates(u, n, run++, M_SMALL);
				settle();
				t0 = now_ms();
				err = one_by_one(x, u, n);
				seq[r] = now_ms() - t0;
			}
			if (!err) {
				updates(u, n, run++, M_SMALL);
				settle();
				t0 = now_ms();
				err = xlb_vip__set_tables(x, u, n, NULL);
				bat[r] = now_ms() - t0;
			}
			if (err) {
				fprintf(stderr, "bench_swap: swap of %zu small tables: %s\n", n,
					strerror(-err));
				goto out;
			}
		}
		ms_bat = median(bat, runs);
		if (r_seq)
			printf("%6zu %8zu %13.2f %13.2f %10.2f\n", n, chunks, median(seq, r_seq),
			       ms_bat, ms_bat / chunks);
		else
			printf("%6zu %8zu %13s %13.2f %10.2f\n", n, chunks, "-", ms_bat,
			       ms_bat / chunks);
		fflush(stdout);
	}
	printf("total benchmark time %.1f s\n", (now_ms() - t_start) / 1e3);
	rc = 0;
out:
	xlb__close(x, false);
	for (int s = 0; s < NSRC; s++)
		free(src[s]);
	free(buf);
	free(u);
	return rc;
}
