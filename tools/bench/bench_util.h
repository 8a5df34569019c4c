/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Helpers the benchmark programs share: a repeatable random sequence, a clock, a sort order. */
#ifndef XLB_BENCH_UTIL_H
#define XLB_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

/* xorshift64*: the same inputs on every run, so that runs compare. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static inline uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 0x2545f4914f6cdd1dULL) >> 32;
}

/* CLOCK_MONOTONIC in microseconds. */
static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif /* XLB_BENCH_UTIL_H */
