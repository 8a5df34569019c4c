/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The datapath tests' harness: TAP lines, failure texts, scenarios each in a process of its own. */
#ifndef XLB_TEST_HARNESS_H
#define XLB_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xlb;

/* Why the last check failed: set by fail(), printed after a "not ok" line. */
extern char WHY[512];

/* One TAP line: "ok N - @name", or "not ok N - @name # @why". */
void tap(int ok, const char *name, const char *why);

/* fail() - sets WHY from @fmt; returns 0, so that a check can end with "return fail(...)". */
__attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...);

/* The "not ok" lines so far (of every scenario run by harness_main()). */
int harness_failed(void);

/* The TAP plan: "1..N" for the lines printed so far. */
void harness_plan(void);

/*
 * harness_start() - what every datapath test does first: without root (no BPF_PROG_TEST_RUN)
 * prints one skipped line for @what and returns false; else keeps the process (and what it
 * forks) on one CPU, since the verdict counters and flood windows are per CPU, and returns true.
 */
bool harness_start(const char *what);

/* A scenario: what it starts from, then its checks. */
struct scenario {
	const char *name;	/* [a-z0-9_]+; tests/run.sh names it bpf/BINARY/NAME for ONLY= */
	int (*load)(void);	/* a fresh object for it (fixture_fresh()); non-zero: not run */
	void (*run)(void);	/* its checks, one TAP line each */
};

/*
 * harness_main() - the main() of a test made of scenarios. "--list" prints their names, one a
 * line; no argument runs them all, names run those. Each runs in a child process of its own, in
 * a mount namespace of its own where /sys/fs/bpf holds no bpffs (see private_mounts()), so no
 * scenario sees what another changed; a child that dies is one failure. Returns main()'s status.
 */
int harness_main(int argc, char **argv, const char *what, const struct scenario *s, size_t n);

/* Whether @dir is on a bpffs. */
bool is_bpffs(const char *dir);

/*
 * private_mounts() - a mount namespace of our own in which /sys/fs/bpf holds no bpffs, whatever
 * the host has: pins are made as on a fresh machine (libxlb mounts its own) and touch none of
 * the host's. 0 or -errno.
 */
int private_mounts(void);

/*
 * run_frame() - one BPF_PROG_TEST_RUN of program @prog_fd on @len bytes at @in, arriving on
 * @ifindex (0: no xdp_md passed); the frame out into @out (@out_size bytes), its verdict and
 * length into @verdict and @out_len. 0 or -errno.
 */
int run_frame(int prog_fd, const void *in, uint32_t len, uint32_t ifindex, void *out,
	      uint32_t out_size, uint32_t *verdict, uint32_t *out_len);

/* "XDP_TX" and the like. */
const char *verdict_name(uint32_t v);

/* Refills every CPU's too-big reply bucket of @x (a zero entry is a full bucket). 0 or -errno. */
int icmp_buckets_reset(struct xlb *x);

#endif /* XLB_TEST_HARNESS_H */
