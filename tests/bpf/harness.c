// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The datapath tests' harness: TAP lines, failure texts, scenarios each in a process of its own. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "xlb.h"
#include "harness.h"

char WHY[512];

/* The TAP numbering and failures; shared with the scenarios' child processes once forked. */
struct tally {
	int lines, failed;
};
static struct tally own_tally, *tally = &own_tally;

void tap(int ok, const char *name, const char *why)
{
	tally->lines++;
	if (ok) {
		printf("ok %d - %s\n", tally->lines, name);
	} else {
		tally->failed++;
		printf("not ok %d - %s # %s\n", tally->lines, name, why ? why : "");
	}
	fflush(stdout);
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(WHY, sizeof(WHY), fmt, ap);
	va_end(ap);
	return 0;
}

int harness_failed(void)
{
	return tally->failed;
}

void harness_plan(void)
{
	printf("1..%d\n", tally->lines);
}

bool harness_start(const char *what)
{
	cpu_set_t cpus;

	if (geteuid() != 0) {
		printf("ok 1 - %s # SKIP need root for BPF_PROG_TEST_RUN\n", what);
		return false;
	}
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	return true;
}

bool is_bpffs(const char *dir)
{
	struct statfs sf;

	return !statfs(dir, &sf) && sf.f_type == BPF_FS_MAGIC;
}

int private_mounts(void)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	while (is_bpffs("/sys/fs/bpf") && !umount2("/sys/fs/bpf", MNT_DETACH))
		;
	return is_bpffs("/sys/fs/bpf") ? -EBUSY : 0;
}

/* Scenario @s in a child process; its death (a crash, an exit status) is one failure. */
static void run_scenario(const struct scenario *s)
{
	char why[96];
	int status, err;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		tap(0, s->name, strerror(errno));
		return;
	}
	if (!pid) {
		err = private_mounts();
		if (err)
			tap(0, "a mount namespace of our own, /sys/fs/bpf without bpffs",
			    strerror(-err));
		else if (!s->load || !s->load())
			s->run();
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			tap(0, s->name, strerror(errno));
			return;
		}
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	else
		return;
	tap(0, s->name, why);
}

int harness_main(int argc, char **argv, const char *what, const struct scenario *s, size_t n)
{
	struct tally *shared;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", s[i].name);
		return 0;
	}
	for (int a = 1; a < argc; a++) {
		size_t i = 0;

		while (i < n && strcmp(argv[a], s[i].name))
			i++;
		if (i == n) {
			fprintf(stderr, "usage: %s [--list | SCENARIO...]\n(no scenario %s)\n",
				argv[0], argv[a]);
			return 2;
		}
	}
	if (!harness_start(what))
		return 0;
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED) {
		tap(0, what, "cannot share the TAP count with the scenarios");
		return 1;
	}
	*shared = *tally;
	tally = shared;
	for (size_t i = 0; i < n; i++) {
		int named = argc == 1;

		for (int a = 1; a < argc && !named; a++)
			named = !strcmp(argv[a], s[i].name);
		if (named)
			run_scenario(&s[i]);
	}
	harness_plan();
	return harness_failed() ? 1 : 0;
}

int run_frame(int prog_fd, const void *in, uint32_t len, uint32_t ifindex, void *out,
	      uint32_t out_size, uint32_t *verdict, uint32_t *out_len)
{
	struct xdp_md md = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = out_size, .repeat = 1);

	if (ifindex) {
		o.ctx_in = &md;
		o.ctx_size_in = sizeof(md);
	}
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*verdict = o.retval;
	*out_len = o.data_size_out;
	return 0;
}

const char *verdict_name(uint32_t v)
{
	switch (v) {
	case XDP_ABORTED: return "XDP_ABORTED";
	case XDP_DROP: return "XDP_DROP";
	case XDP_PASS: return "XDP_PASS";
	case XDP_TX: return "XDP_TX";
	case XDP_REDIRECT: return "XDP_REDIRECT";
	}
	return "?";
}

int icmp_buckets_reset(struct xlb *x)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	void *zeros = calloc((size_t)(ncpu > 0 ? ncpu : 1), 16);
	__u32 zero = 0;

	if (!zeros)
		return -ENOMEM;
	err = bpf_map_update_elem(xlb__map_fd(x, "xlb_icmp_bucket"), &zero, zeros, BPF_ANY);
	free(zeros);
	return err ? -errno : 0;
}
