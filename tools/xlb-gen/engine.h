/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlb-gen's engines (engine.c): a run as the options made it, its sending threads ("live":
 * BPF_PROG_TEST_RUN in live-frames mode; "packet": AF_PACKET), their pacing; for xlb-gen.c.
 */
#ifndef XLB_GEN_ENGINE_H
#define XLB_GEN_ENGINE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <linux/types.h>

#include "gen.h"
#include "xlb-gen.skel.h"

enum gen_engine { ENGINE_AUTO, ENGINE_LIVE, ENGINE_PACKET };

struct gen_run {
	struct gen_spec spec;
	struct xlb_gen_cfg cfg;
	__u8 *frame;			/* the template, spec.size bytes */
	const char *ifname;
	int ifindex;
	enum gen_engine engine;
	unsigned int threads, batch;
	__u64 count;			/* 0 = bounded by duration only */
	double duration;		/* 0 = bounded by count only */
	double rate;			/* frames per second over all threads; 0 = unlimited */
	double interval;
	bool json, verbose;
	struct xlb_gen_bpf *skel;
	struct timespec t0;
};

struct gen_thread {
	struct gen_run *run;
	pthread_t tid;
	unsigned int idx;
	int cpu;
	__u64 share;			/* frames this thread sends; 0 = until the duration ends */
	_Atomic __u64 sent;		/* AF_PACKET: frames sent so far; live: at the end */
	atomic_bool done;		/* set by the main thread: the run is over */
	bool exited;
	int err;			/* -errno of the failure that stopped it */
	const char *what;		/* what failed */
};

/* Set (by gen_on_signal(), or the main thread) when the run is to end. */
extern volatile sig_atomic_t gen_stop;
/* SIGINT / SIGTERM: end the run. */
void gen_on_signal(int sig);
/* SIGUSR1 of a live thread: only interrupts its BPF_PROG_TEST_RUN call. */
void gen_on_wake(int sig);
/* Seconds since @t0 (CLOCK_MONOTONIC). */
double gen_now_since(const struct timespec *t0);
/* The threads' functions (@arg: its struct gen_thread). */
void *gen_live_thread(void *arg);
void *gen_packet_thread(void *arg);
/* Frames a thread has sent so far: the XDP program counts those of the live engine. */
__u64 gen_thread_sent(const struct gen_thread *th);
/*
 * gen_live_open - load the XDP program with the run's template and check, by running the probe
 * program once in live-frames mode (it drops its frame: nothing is sent), that the kernel
 * allows that mode. Returns 0, or -errno with @why set to what refused.
 */
int gen_live_open(struct gen_run *r, const char **why);

#endif
