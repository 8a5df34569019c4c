// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark of the Maglev builder: build and rebuild-after-failure times for M, N and weights. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maglev.h"
#include "xlb_abi.h"
#include "bench_util.h"

/*
 * Usage: bench_maglev [RUNS]. Every figure is the median of RUNS builds (default 15; 7 for the
 * 655373-slot tables). "rebuild" builds the same set without one backend (the one in the
 * middle of the list), as xlbd does when a health check fails; "moved" is how much of the
 * table changed beyond that backend's own slots; "err" is the largest difference between a
 * backend's slots and its exact share M w / W.
 */

/* Median time of @runs builds; -1 on error. */
static double time_build(const struct xlb_maglev_backend *b, size_t n, uint32_t m, uint32_t *t,
			 int runs)
{
	double *d = calloc(runs, sizeof(*d)), med;

	if (!d)
		return -1;
	for (int r = 0; r < runs; r++) {
		double t0 = now_us();
		int err = xlb_maglev_build(b, n, m, t);

		d[r] = now_us() - t0;
		if (err) {
			fprintf(stderr, "xlb_maglev_build: %s\n", strerror(-err));
			free(d);
			return -1;
		}
	}
	qsort(d, runs, sizeof(*d), cmp_double);
	med = d[runs / 2];
	free(d);
	return med;
}

int main(int argc, char **argv)
{
	static const uint32_t ms[] = { 65537, 655373 };
	static const size_t ns[] = { 10, 100, 1000, 10000 };
	int runs = argc > 1 ? atoi(argv[1]) : 15;
	struct xlb_maglev_backend *b, *rest;
	uint32_t *t, *t2, *cnt;
	double t_start = now_us();
	int ret = 1;

	if (runs < 1) {
		fprintf(stderr, "usage: %s [RUNS]\n", argv[0]);
		return 2;
	}
	b = calloc(10000, sizeof(*b));
	rest = calloc(10000, sizeof(*rest));
	t = calloc(XLB_MAGLEV_MAX, sizeof(*t));
	t2 = calloc(XLB_MAGLEV_MAX, sizeof(*t2));
	cnt = calloc(10001, sizeof(*cnt));
	if (!b || !rest || !t || !t2 || !cnt) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}

	printf("Maglev table build (median of %d runs; 655373: of %d)\n\n", runs,
	       runs > 7 ? 7 : runs);
	printf("| M      | N     | weights    | build (us) | rebuild, 1 failed (us) | moved beyond "
	       "its slots | max share error (slots) |\n");
	printf("|--------|-------|------------|-----------:|-----------------------:|------------"
	       "-----------:|------------------------:|\n");
	for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
		uint32_t m = ms[mi];
		int r = m > 100000 && runs > 7 ? 7 : runs;

		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
			for (int weighted = 0; weighted <= 1; weighted++) {
				size_t n = ns[ni], gone = n / 2, k = 0;
				double build, rebuild, err = 0;
				uint64_t wsum = 0;
				uint32_t moved = 0;

				for (size_t i = 0; i < n; i++) {
					struct xlb_maglev_backend *x = &b[i];

					memset(x, 0, sizeof(*x));
					x->id = i + 1;
					x->family = XLB_AF_INET;
					x->addr[0] = 10;
					x->addr[1] = i >> 16;
					x->addr[2] = i >> 8;
					x->addr[3] = i;
					x->port = 80;
					x->weight = weighted ? 1 + rng() % 100 : 1;
					wsum += x->weight;
				}
				for (size_t i = 0; i < n; i++)
					if (i != gone)
						rest[k++] = b[i];

				build = time_build(b, n, m, t, r);
				rebuild = time_build(rest, n - 1, m, t2, r);
				if (build < 0 || rebuild < 0)
					goto out;
				/* the tables of the last runs: accuracy and disruption */
				xlb_maglev_build(b, n, m, t);
				xlb_maglev_build(rest, n - 1, m, t2);
				memset(cnt, 0, (n + 1) * sizeof(*cnt));
				for (uint32_t s = 0; s < m; s++) {
					cnt[t[s]]++;
					if (t[s] != b[gone].id && t[s] != t2[s])
						moved++;
				}
				for (size_t i = 0; i < n; i++) {
					double e = cnt[i + 1] - (double)m * b[i].weight / wsum;

					if (e < 0)
						e = -e;
					if (e > err)
						err = e;
				}
				printf("| %-6u | %-5zu | %-10s | %10.0f | %22.0f | %20.2f %% | "
				       "%23.2f |\n",
				       m, n, weighted ? "rand 1-100" : "equal", build, rebuild,
				       100.0 * moved / m, err);
				fflush(stdout);
			}
		}
	}
	printf("\n(%.1f s in all)\n", (now_us() - t_start) / 1e6);
	ret = 0;
out:
	free(cnt);
	free(t2);
	free(t);
	free(rest);
	free(b);
	return ret;
}
