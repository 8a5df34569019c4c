// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb-gen's engines and their threads: pacing, CPU pinning, the live-frames engine and its
 * program's load, the AF_PACKET engine.
 *
 * Engines. "live": BPF_PROG_TEST_RUN in live-frames mode, one call per chunk of frames per
 * thread; the kernel allocates the frames from a page pool initialised once from the template,
 * runs bpf/xlb-gen.bpf.c on each (which makes it the next frame of the flow sequence) and
 * transmits it through the interface's ndo_xdp_xmit. "packet": AF_PACKET with sendmmsg(),
 * the same frames varied by the same function in userspace, through the qdisc-bypassing
 * transmit path; used where the kernel refuses live frames (before 5.18, or without BPF
 * rights for it), or on request.
 *
 * Threads: thread t of T runs pinned on the t-th CPU it may use and sends the frames of
 * sequence numbers t, t + T, t + 2T, ...; so a run's frames do not depend on the engine.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "engine.h"

#define PKT_BATCH 64		/* frames per sendmmsg() */

volatile sig_atomic_t gen_stop;

void gen_on_signal(int sig)
{
	(void)sig;
	gen_stop = 1;
}

double gen_now_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void sleep_until(const struct timespec *t0, double at)
{
	struct timespec t = *t0;
	double whole;

	t.tv_nsec += (long)(modf(at, &whole) * 1e9);
	t.tv_sec += (time_t)whole + t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
}

/*
 * pace - before a thread sends its next @chunk: false once the run is over for it. With a rate
 * it waits until the time at which the frames sent so far are due, so the rate holds on average
 * over every chunk (about a millisecond's worth of frames each).
 */
static bool pace(struct gen_thread *th, __u64 sent, __u64 *chunk)
{
	struct gen_run *r = th->run;
	double t, per_thread = r->rate / r->threads;

	if (gen_stop || atomic_load(&th->done))
		return false;
	if (th->share) {
		if (sent >= th->share)
			return false;
		if (*chunk > th->share - sent)
			*chunk = th->share - sent;
	}
	if (r->rate > 0)
		sleep_until(&r->t0, sent / per_thread);
	t = gen_now_since(&r->t0);
	return !(r->duration > 0 && t >= r->duration);
}

static __u64 chunk_size(const struct gen_run *r, __u64 max)
{
	double c;

	if (r->rate <= 0)
		return max;
	c = r->rate / r->threads / 1000;	/* a millisecond's worth */
	if (c < 1)
		return 1;
	return c > max ? max : (__u64)c;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/*
 * gen_live_thread - one BPF_PROG_TEST_RUN call for the whole run when it can: the kernel sets up a
 * page pool for every call and tears it down with an RCU grace period (about 25 ms here), so
 * short calls would spend their time there. The program stops at the thread's count by itself
 * and keeps its rate by itself; a duration ends the call by a signal (the kernel checks for one
 * between two batches), sent by the main thread.
 */
void *gen_live_thread(void *arg)
{
	struct gen_thread *th = arg;
	struct gen_run *r = th->run;
	struct xdp_md ctx = { .data_end = r->spec.size, .ingress_ifindex = r->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->frame, .data_size_in = r->spec.size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = r->batch);
	int fd = bpf_program__fd(r->skel->progs.xlb_gen), err;
	struct xlb_gen_state *st;
	__u64 sent;

	th->err = pin_cpu(th->cpu);
	if (th->err) {
		th->what = "pin to its CPU";
		return NULL;
	}
	st = &r->skel->bss->gen_state[th->cpu];
	st->seq = th->idx;
	st->stride = r->threads;
	st->sent = 0;
	st->limit = th->share;
	st->gap_ns = r->rate > 0 ? (__u64)(1e9 * r->threads / r->rate + 0.5) : 0;
	st->due = 0;
	while (!gen_stop && !atomic_load(&th->done)) {
		sent = __atomic_load_n(&st->sent, __ATOMIC_RELAXED);
		if (th->share && sent >= th->share)
			break;
		/* Paced, iterations outnumber frames: the program drops the early ones. */
		opts.repeat = UINT32_MAX;
		if (th->share && !st->gap_ns && th->share - sent < UINT32_MAX)
			opts.repeat = th->share - sent;
		err = bpf_prog_test_run_opts(fd, &opts);
		if (err && errno != EINTR) {
			th->err = -errno;
			th->what = "BPF_PROG_TEST_RUN (live frames)";
			break;
		}
	}
	atomic_store(&th->sent, __atomic_load_n(&st->sent, __ATOMIC_RELAXED));
	return NULL;
}

void *gen_packet_thread(void *arg)
{
	struct gen_thread *th = arg;
	struct gen_run *r = th->run;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = r->ifindex };
	__u32 size = r->spec.size, hl = size < XLB_GEN_TMPL_LEN ? size : XLB_GEN_TMPL_LEN;
	struct mmsghdr msg[PKT_BATCH] = {};
	struct iovec iov[PKT_BATCH];
	__u64 sent = 0, chunk, max = chunk_size(r, PKT_BATCH), seq = th->idx;
	__u8 *bufs = NULL;
	int fd = -1, one = 1;

	th->err = pin_cpu(th->cpu);
	if (th->err) {
		th->what = "pin to its CPU";
		return NULL;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);	/* protocol 0: receives nothing */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		th->err = -errno;
		th->what = "AF_PACKET socket";
		goto out;
	}
	/* Straight to the driver, as live frames go: no qdisc on the way, and a full device ring
	 * is an error (ENOBUFS) we retry, not a silent drop. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) {
		th->err = -errno;
		th->what = "PACKET_QDISC_BYPASS";
		goto out;
	}
	bufs = malloc((size_t)PKT_BATCH * size);
	if (!bufs) {
		th->err = -ENOMEM;
		th->what = "frame buffers";
		goto out;
	}
	for (int i = 0; i < PKT_BATCH; i++) {
		memcpy(bufs + (size_t)i * size, r->frame, size);
		iov[i].iov_base = bufs + (size_t)i * size;
		iov[i].iov_len = size;
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	for (chunk = max; pace(th, sent, &chunk); chunk = max) {
		unsigned int n = chunk, done = 0;
		int k;

		for (unsigned int i = 0; i < n; i++, seq += r->threads) {
			__u8 *f = bufs + (size_t)i * size;

			memcpy(f, r->cfg.tmpl, hl);
			gen_frame(&r->cfg, f, seq);
		}
		while (done < n) {
			k = sendmmsg(fd, msg + done, n - done, 0);
			if (k > 0) {
				done += k;
				continue;
			}
			if (errno == ENOBUFS || errno == EAGAIN || errno == EBUSY ||
			    errno == EINTR) {
				if (gen_stop || atomic_load(&th->done))
					break;
				sched_yield();	/* the device ring is full: let its consumer run */
				continue;
			}
			th->err = -errno;
			th->what = "sendmmsg";
			break;
		}
		sent += done;
		atomic_store_explicit(&th->sent, sent, memory_order_relaxed);
		if (th->err || done < n)
			break;
	}
out:
	free(bufs);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Frames a thread has sent so far: the XDP program counts those of the live engine. */
__u64 gen_thread_sent(const struct gen_thread *th)
{
	const struct gen_run *r = th->run;

	if (r->engine == ENGINE_LIVE && !th->exited && !th->err)
		return __atomic_load_n(&r->skel->bss->gen_state[th->cpu].sent, __ATOMIC_RELAXED);
	return atomic_load(&th->sent);
}

void gen_on_wake(int sig)
{
	(void)sig;	/* only interrupts a thread's BPF_PROG_TEST_RUN call */
}

/*
 * gen_live_open - load the XDP program with the run's template and check, by running the probe
 * program once in live-frames mode (it drops its frame: nothing is sent), that the kernel
 * allows that mode. Returns 0, or -errno with @why set to what refused.
 */
int gen_live_open(struct gen_run *r, const char **why)
{
	struct xdp_md ctx = { .data_end = r->spec.size, .ingress_ifindex = r->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->frame, .data_size_in = r->spec.size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = r->batch);
	int err;

	r->skel = xlb_gen_bpf__open();
	if (!r->skel) {
		*why = "open of the BPF object";
		return -errno;
	}
	r->skel->bss->gen_cfg = r->cfg;
	err = xlb_gen_bpf__load(r->skel);
	if (err) {
		*why = "load of the XDP program";
		return err;
	}
	r->skel->bss->gen_cfg = r->cfg;	/* .bss is mapped afresh by the load */
	if (bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.xlb_gen_probe), &opts)) {
		*why = "BPF_PROG_TEST_RUN in live-frames mode";
		return -errno;
	}
	return 0;
}
