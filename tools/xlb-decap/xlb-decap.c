// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb-decap: attach the backend-side decapsulation XDP program to an interface; show its stats. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "xlb.h"
#include "xlb_decap.h"
#include "decap.skel.h"

/*
 * The program stays attached after this tool exits (a netlink XDP attachment holds its own
 * reference), so no pin is needed; it goes away with --detach or with the interface.
 */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xlb-decap [OPTIONS] IFACE          attach decapsulation to IFACE and exit\n"
		"       xlb-decap --detach IFACE           remove it\n"
		"       xlb-decap --stats [-j] IFACE       print its counters\n"
		"  -u, --gue-port PORT  outer UDP destination port of GUE (default %d)\n"
		"  -g, --generic        generic (skb) mode instead of native\n"
		"  -f, --force          replace a program already attached\n"
		"  -j, --json           JSON output for --stats\n"
		"  -h, --help\n",
		XLB_GUE_PORT_DEFAULT);
}

static int do_attach(int ifindex, const char *ifname, long gue_port, __u32 mode, bool force)
{
	struct decap_bpf *skel;
	__u32 flags = mode | (force ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST);
	int err;

	skel = decap_bpf__open();
	if (!skel) {
		fprintf(stderr, "Error: open decap object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->gue_port = gue_port;
	err = decap_bpf__load(skel);
	if (!err)
		err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xlb_decap), flags, NULL);
	if (err)
		fprintf(stderr, "Error: attach decap on %s: %s%s\n", ifname, strerror(-err),
			err == -EBUSY || err == -EEXIST ? " (a program is attached; --force)" : "");
	decap_bpf__destroy(skel);
	return err ? 1 : 0;
}

/* find_stats_map - the xlb_decap_stats map of the decap program attached to @ifindex */
static int find_stats_map(int ifindex, const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[16], prog_id;
	int prog_fd, map_fd = -1, err;
	const __u32 max_ids = sizeof(ids) / sizeof(ids[0]);

	err = bpf_xdp_query(ifindex, 0, &q);
	prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (err || !prog_id) {
		fprintf(stderr, "Error: no XDP program on %s\n", ifname);
		return -ENOENT;
	}
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0) {
		err = -errno;
		fprintf(stderr, "Error: XDP program %u on %s: %s\n", prog_id, ifname,
			strerror(-err));
		return err;
	}
	info.nr_map_ids = max_ids;
	info.map_ids = (__u64)(unsigned long)ids;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	close(prog_fd);
	if (err || strcmp(info.name, "xlb_decap")) {
		fprintf(stderr, "Error: the program on %s is not xlb_decap\n", ifname);
		return -ENOENT;
	}
	for (__u32 i = 0; i < info.nr_map_ids && i < max_ids && map_fd < 0; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, "xlb_decap_stats"))
			map_fd = fd;
		else
			close(fd);
	}
	if (map_fd < 0)
		fprintf(stderr, "Error: xlb_decap_stats not found on %s\n", ifname);
	return map_fd;
}

static int do_stats(int ifindex, const char *ifname, bool json)
{
	static const char *const names[] = XLB_DECAP_NAMES;
	int ncpu = libbpf_num_possible_cpus(), map_fd, ret = 1;
	struct xlb_decap_counters *vals = NULL;
	json_t *o = NULL;

	map_fd = find_stats_map(ifindex, ifname);
	if (map_fd < 0)
		return 1;
	if (ncpu < 0) {
		fprintf(stderr, "Error: number of CPUs: %s\n", strerror(-ncpu));
		goto out;
	}
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals) {
		fprintf(stderr, "Error: out of memory\n");
		goto out;
	}
	if (json)
		o = json_object();
	else
		printf("decap on %s:\n", ifname);
	for (__u32 k = 0; k < XLB_DECAP__MAX; k++) {
		unsigned long long p = 0, b = 0;

		if (bpf_map_lookup_elem(map_fd, &k, vals)) {
			fprintf(stderr, "Error: read %s counter on %s: %s\n", names[k], ifname,
				strerror(errno));
			goto out;
		}
		for (int i = 0; i < ncpu; i++) {
			p += vals[i].packets;
			b += vals[i].bytes;
		}
		if (json)
			json_object_set_new(o, names[k], json_pack("{s:I, s:I}", "packets",
								  (json_int_t)p, "bytes",
								  (json_int_t)b));
		else
			printf("  %-20s %10llu packets %12llu bytes\n", names[k], p, b);
	}
	if (json) {
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
	}
	ret = 0;
out:
	json_decref(o);
	free(vals);
	close(map_fd);
	return ret;
}

int main(int argc, char **argv)
{
	enum { ATTACH, DETACH, STATS } action = ATTACH;
	static const struct option opts[] = {
		{ "gue-port", required_argument, NULL, 'u' },
		{ "generic", no_argument, NULL, 'g' },
		{ "force", no_argument, NULL, 'f' },
		{ "detach", no_argument, NULL, 'd' },
		{ "stats", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	long gue_port = XLB_GUE_PORT_DEFAULT;
	__u32 mode = XDP_FLAGS_DRV_MODE;
	bool force = false, json = false;
	int c, ifindex, err;
	char *end;

	while ((c = getopt_long(argc, argv, "u:gfdsjh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			gue_port = strtol(optarg, &end, 10);
			if (*end || gue_port < 1 || gue_port > 65535) {
				fprintf(stderr, "Error: bad --gue-port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'g':
			mode = XDP_FLAGS_SKB_MODE;
			break;
		case 'f':
			force = true;
			break;
		case 'd':
			action = DETACH;
			break;
		case 's':
			action = STATS;
			break;
		case 'j':
			json = true;
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
	switch (action) {
	case ATTACH:
		return do_attach(ifindex, argv[optind], gue_port, mode, force);
	case DETACH:
		err = bpf_xdp_detach(ifindex, mode, NULL);
		if (err)
			fprintf(stderr, "Error: detach from %s: %s\n", argv[optind],
				strerror(-err));
		return err ? 1 : 0;
	case STATS:
		return do_stats(ifindex, argv[optind], json);
	}
	return 1;
}
