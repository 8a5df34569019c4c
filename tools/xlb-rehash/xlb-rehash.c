// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlb-rehash: a test-bed tool, not part of xlb. Attaches bpf/rehash.bpf.c (tcx) at an
 * interface's ingress and holds it there until SIGINT/SIGTERM: every skb received there loses
 * its hash, so a multipath route hashes the packet's headers (see tools/cluster.sh).
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rehash.skel.h"

/* The kernel's enum bpf_attach_type value (uapi, stable); this libbpf's headers predate tcx. */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct rehash_bpf *skel;
	unsigned int ifindex;
	sigset_t mask, old;
	int link, ret = 1;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(argc == 2 && !strcmp(argv[1], "-h") ? stdout : stderr,
			"Usage: xlb-rehash IFACE\n"
			"Test bed only: attach a tcx program at IFACE's ingress that clears each skb's\n"
			"hash (so a multipath route hashes the headers), until SIGINT or SIGTERM.\n");
		return argc == 2 && !strcmp(argv[1], "-h") ? 0 : 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "Error: no interface '%s'\n", argv[1]);
		return 2;
	}
	skel = rehash_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "Error: load rehash object: %s\n", strerror(errno));
		return 1;
	}
	link = bpf_link_create(bpf_program__fd(skel->progs.rehash), ifindex, BPF_TCX_INGRESS, NULL);
	if (link < 0) {
		fprintf(stderr, "Error: tcx attach to %s ingress: %s\n", argv[1], strerror(-link));
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);	/* delivered only inside sigsuspend: no lost wakeup */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "xlb-rehash: attached to %s ingress\n", argv[1]);
	while (!stop)
		sigsuspend(&old);
	close(link);	/* the link's last fd: detached */
	ret = 0;
out:
	rehash_bpf__destroy(skel);
	return ret;
}
