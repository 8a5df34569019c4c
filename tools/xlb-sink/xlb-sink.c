// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb-sink: attach the counting XDP sink to an interface, wait, print packets per destination. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "xlb.h"
#include "xlb_sink.h"
#include "sink.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xlb-sink [OPTIONS] IFACE\n"
		"Attach a counting XDP program to IFACE, count frames per outer destination\n"
		"(and per inner destination of IPIP / IPv6-in-IP / GUE frames), print the counts.\n"
		"  -t, --time SECONDS   stop after SECONDS (default: until SIGINT/SIGTERM)\n"
		"  -p, --pass           XDP_PASS counted frames instead of dropping them\n"
		"  -g, --generic        attach in generic (skb) mode instead of native\n"
		"  -u, --gue-port PORT  outer UDP port recognised as GUE (default %d)\n"
		"  -j, --json           print JSON\n"
		"  -a, --attach-pass    only attach a plain XDP_PASS program and exit, leaving it\n"
		"                       attached: a veth then receives its peer's XDP_TX frames\n"
		"  -x, --attach-tx      only attach a program that sends every frame back out\n"
		"                       (XDP_TX) and exit, leaving it attached: a benchmark's ceiling\n"
		"  -h, --help\n",
		XLB_GUE_PORT_DEFAULT);
}

/* One summed map entry. */
struct row {
	struct xlb_sink_key key;
	struct xlb_sink_counters c;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->key.family != y->key.family)
		return x->key.family - y->key.family;
	int r = memcmp(x->key.addr, y->key.addr, sizeof(x->key.addr));

	if (r)
		return r;
	if (x->key.proto != y->key.proto)
		return x->key.proto - y->key.proto;
	return x->key.dport - y->key.dport;
}

/* read_map - sum every per-CPU entry of @map_fd into a sorted array; returns the count or -errno */
static int read_map(int map_fd, struct row **out)
{
	int ncpu = libbpf_num_possible_cpus(), n = 0, cap = 0, err = 0;
	struct xlb_sink_counters *vals = NULL;
	struct xlb_sink_key key, next, *prev = NULL;
	struct row *rows = NULL;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, vals))
			continue;	/* cannot vanish here: nothing deletes entries */
		if (n == cap) {
			struct row *r;

			cap = cap ? cap * 2 : 16;
			r = realloc(rows, cap * sizeof(*rows));
			if (!r) {
				err = -ENOMEM;
				goto out;
			}
			rows = r;
		}
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].key = key;
		for (int i = 0; i < ncpu; i++) {
			rows[n].c.packets += vals[i].packets;
			rows[n].c.bytes += vals[i].bytes;
		}
		n++;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp);
out:
	free(vals);
	if (err) {
		free(rows);
		return err;
	}
	*out = rows;
	return n;
}

static const char *proto_name(int family, int proto)
{
	if (family == 0)
		return "non-ip";
	switch (proto) {
	case 1:
		return "icmp";
	case 4:
		return "ipip";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 41:
		return "ipv6";
	case 58:
		return "icmpv6";
	default:
		return "other";
	}
}

static const char *dst_str(const struct xlb_sink_key *k, char *buf, size_t len)
{
	if (k->family == 0)
		return "-";
	return xlb_addr_format(k->addr, k->family, buf, len);
}

static void print_text(const char *title, const struct row *rows, int n)
{
	char buf[INET6_ADDRSTRLEN + 8];

	printf("%s:\n", title);
	if (!n) {
		printf("  (none)\n");
		return;
	}
	printf("  %-40s %-7s %5s %10s %12s\n", "destination", "proto", "port", "packets", "bytes");
	for (int i = 0; i < n; i++)
		printf("  %-40s %-7s %5u %10llu %12llu\n", dst_str(&rows[i].key, buf, sizeof(buf)),
		       proto_name(rows[i].key.family, rows[i].key.proto), rows[i].key.dport,
		       (unsigned long long)rows[i].c.packets, (unsigned long long)rows[i].c.bytes);
}

static json_t *rows_json(const struct row *rows, int n)
{
	json_t *a = json_array();
	char buf[INET6_ADDRSTRLEN + 8];

	for (int i = 0; i < n; i++) {
		const struct xlb_sink_key *k = &rows[i].key;

		json_array_append_new(
			a, json_pack("{s:s, s:i, s:i, s:s, s:i, s:I, s:I}", "dst",
				     dst_str(k, buf, sizeof(buf)), "family", k->family, "proto",
				     k->proto, "proto_name", proto_name(k->family, k->proto),
				     "dport", k->dport, "packets", (json_int_t)rows[i].c.packets,
				     "bytes", (json_int_t)rows[i].c.bytes));
	}
	return a;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "time", required_argument, NULL, 't' },
		{ "pass", no_argument, NULL, 'p' },
		{ "generic", no_argument, NULL, 'g' },
		{ "gue-port", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "attach-pass", no_argument, NULL, 'a' },
		{ "attach-tx", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool attach_pass = false, attach_tx = false;
	double seconds = 0, elapsed;
	bool pass = false, json = false;
	__u32 flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
	long gue_port = XLB_GUE_PORT_DEFAULT;
	struct row *outer = NULL, *inner = NULL;
	int c, ifindex, err, n_out = 0, n_in = 0, ret = 1;
	struct timespec t0, t1;
	struct sink_bpf *skel = NULL;
	struct bpf_program *prog;
	unsigned long long total = 0;
	bool attached = false;
	char *end;

	while ((c = getopt_long(argc, argv, "t:pgu:jaxh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || seconds <= 0) {
				fprintf(stderr, "Error: bad --time '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			pass = true;
			break;
		case 'g':
			flags = XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
			break;
		case 'u':
			gue_port = strtol(optarg, &end, 10);
			if (*end || gue_port < 1 || gue_port > 65535) {
				fprintf(stderr, "Error: bad --gue-port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'a':
			attach_pass = true;
			break;
		case 'x':
			attach_tx = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	ifindex = if_nametoindex(argv[optind]);
	if (!ifindex) {
		fprintf(stderr, "Error: no interface '%s'\n", argv[optind]);
		return 2;
	}

	skel = sink_bpf__open();
	if (!skel) {
		fprintf(stderr, "Error: open sink object: %s\n", strerror(errno));
		goto out;
	}
	skel->rodata->verdict = pass ? XDP_PASS : XDP_DROP;
	skel->rodata->gue_port = gue_port;
	err = sink_bpf__load(skel);
	if (err) {
		fprintf(stderr, "Error: load sink object: %s\n", strerror(-err));
		goto out;
	}
	prog = attach_pass ? skel->progs.xlb_pass : attach_tx ? skel->progs.xlb_tx :
			     skel->progs.xlb_sink;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(prog), flags, NULL);
	if (err) {
		fprintf(stderr, "Error: attach to %s: %s\n", argv[optind], strerror(-err));
		goto out;
	}
	if (attach_pass || attach_tx) {
		ret = 0;
		goto out;
	}
	attached = true;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "xlb-sink: attached to %s (%s), counting\n", argv[optind],
		pass ? "pass" : "drop");
	do {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (!stop && (seconds <= 0 || elapsed < seconds));

	/* Detach first so the counts are final when read. */
	bpf_xdp_detach(ifindex, flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	attached = false;

	n_out = read_map(bpf_map__fd(skel->maps.xlb_sink_outer), &outer);
	n_in = read_map(bpf_map__fd(skel->maps.xlb_sink_inner), &inner);
	if (n_out < 0 || n_in < 0) {
		err = n_out < 0 ? n_out : n_in;
		fprintf(stderr, "Error: read counters: %s\n", strerror(-err));
		goto out;
	}
	for (int i = 0; i < n_out; i++)
		total += outer[i].c.packets;

	if (json) {
		json_t *o = json_pack("{s:s, s:f, s:I, s:o, s:o}", "ifname", argv[optind],
				      "seconds", elapsed, "packets", (json_int_t)total, "outer",
				      rows_json(outer, n_out), "inner", rows_json(inner, n_in));

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("xlb-sink on %s: %llu packets in %.1f s\n", argv[optind], total, elapsed);
		print_text("by outer destination", outer, n_out);
		print_text("by inner destination (encapsulated frames)", inner, n_in);
	}
	ret = 0;
out:
	if (attached)
		bpf_xdp_detach(ifindex, flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	free(outer);
	free(inner);
	sink_bpf__destroy(skel);
	return ret;
}
