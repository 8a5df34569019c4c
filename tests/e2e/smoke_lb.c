// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* smoke_lb: program and attach the xlb datapath through libxlb alone, for the end-to-end tests. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xlb.h"
#include "maglev.h"

/*
 * Without the daemon: open the datapath (no pins unless --pin-dir), write the config, one
 * VIP per --vip with every --backend of its family (all backends if none matches), a Maglev
 * table over them, attach natively to IFACE, print "ready", and wait for SIGTERM/SIGINT or
 * --seconds. At the end print the counters as one JSON line and detach everything.
 *
 * `--disable ADDR` after startup is not possible (no control channel); a test that wants a
 * failed backend starts the helper with `--failed ADDR`: that backend stays in the table but
 * is marked unusable, so the datapath re-hashes its flows.
 */

#define MAX_VIPS 4
#define MAX_BACKENDS 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct be_arg {
	__be32 addr[4];
	__u8 family;
	bool failed;
	char text[64];
};

struct vip_arg {
	struct xlb_vip_key key;
	char text[80];
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: smoke_lb [OPTIONS] IFACE\n"
		   "  --nexthop MAC          destination MAC of encapsulated frames (required)\n"
		   "  --vip ADDR:PORT/PROTO  a VIP (repeatable; IPv6 in brackets)\n"
		   "  --backend ADDR         a backend of every VIP of its family (repeatable)\n"
		   "  --failed ADDR          like --backend, but marked unusable\n"
		   "  --mode ipip|gue        forwarding mode (default ipip)\n"
		   "  --encap-src4 ADDR      outer IPv4 source\n"
		   "  --encap-src6 ADDR      outer IPv6 source\n"
		   "  --table-size M         Maglev table size (default 65537)\n"
		   "  --pin-dir DIR          pin maps there (default: no pins)\n"
		   "  --generic              attach in generic (skb) mode\n"
		   "  --seconds N            stop after N seconds (default 60)\n");
}

/* "198.18.0.10:80/tcp" or "[2001:db8::10]:80/udp" */
static int parse_vip(const char *s, struct vip_arg *v)
{
	char buf[80], *addr = buf, *port, *proto;
	long p;

	snprintf(v->text, sizeof(v->text), "%s", s);
	snprintf(buf, sizeof(buf), "%s", s);
	proto = strrchr(buf, '/');
	if (!proto)
		return -EINVAL;
	*proto++ = 0;
	port = strrchr(buf, ':');
	if (!port)
		return -EINVAL;
	*port++ = 0;
	if (*addr == '[') {
		addr++;
		if (!*addr || addr[strlen(addr) - 1] != ']')
			return -EINVAL;
		addr[strlen(addr) - 1] = 0;
	}
	memset(&v->key, 0, sizeof(v->key));
	if (xlb_addr_parse(addr, v->key.addr, &v->key.family))
		return -EINVAL;
	p = strtol(port, &port, 10);
	if (*port || p < 0 || p > 65535)
		return -EINVAL;
	v->key.port = htons(p);
	if (!strcmp(proto, "tcp"))
		v->key.proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		v->key.proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nexthop", required_argument, NULL, 'n' },
		{ "vip", required_argument, NULL, 'v' },
		{ "backend", required_argument, NULL, 'b' },
		{ "failed", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "encap-src4", required_argument, NULL, '4' },
		{ "encap-src6", required_argument, NULL, '6' },
		{ "table-size", required_argument, NULL, 't' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "generic", no_argument, NULL, 'g' },
		{ "seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct xlb_open_opts oo = { .pin_dir = "" };
	struct xlb_config cfg = {
		.abi_version = XLB_ABI_VERSION,
		.gue_port = XLB_GUE_PORT_DEFAULT,
	};
	struct vip_arg vips[MAX_VIPS];
	struct be_arg bes[MAX_BACKENDS];
	int nvips = 0, nbes = 0, c, err, ret = 1;
	__u32 m = XLB_MAGLEV_DEFAULT, *table = NULL;
	enum xlb_attach_mode amode = XLB_ATTACH_NATIVE;
	__u8 mode = XLB_MODE_IPIP, fam;
	__u32 ids[MAX_VIPS][MAX_BACKENDS] = {};
	bool have_mac = false, attached = false;
	long seconds = 60;
	struct xlb *x = NULL;
	const char *ifname;
	struct timespec t0, t1;
	json_t *out = NULL;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (xlb_mac_parse(optarg, cfg.nexthop_mac))
				goto bad_value;
			have_mac = true;
			break;
		case 'v':
			if (nvips == MAX_VIPS || parse_vip(optarg, &vips[nvips]))
				goto bad_value;
			nvips++;
			break;
		case 'b':
		case 'f':
			if (nbes == MAX_BACKENDS ||
			    xlb_addr_parse(optarg, bes[nbes].addr, &bes[nbes].family))
				goto bad_value;
			bes[nbes].failed = c == 'f';
			snprintf(bes[nbes].text, sizeof(bes[nbes].text), "%s", optarg);
			nbes++;
			break;
		case 'm':
			if (!strcmp(optarg, "ipip"))
				mode = XLB_MODE_IPIP;
			else if (!strcmp(optarg, "gue"))
				mode = XLB_MODE_GUE;
			else
				goto bad_value;
			break;
		case '4': {
			__be32 a[4];

			if (xlb_addr_parse(optarg, a, &fam) || fam != XLB_AF_INET)
				goto bad_value;
			cfg.encap_src4 = a[0];
			break;
		}
		case '6':
			if (xlb_addr_parse(optarg, cfg.encap_src6, &fam) || fam != XLB_AF_INET6)
				goto bad_value;
			break;
		case 't':
			m = strtoul(optarg, NULL, 10);
			if (!xlb_maglev_size_valid(m))
				goto bad_value;
			break;
		case 'p':
			oo.pin_dir = optarg;
			break;
		case 'g':
			amode = XLB_ATTACH_GENERIC;
			break;
		case 's':
			seconds = strtol(optarg, NULL, 10);
			if (seconds < 1)
				goto bad_value;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;	/* getopt named it */
		}
	}
	if (optind != argc - 1 || !have_mac || !nvips || !nbes) {
		fprintf(stderr, "Error: IFACE, --nexthop, --vip and --backend are required\n");
		goto bad;
	}
	ifname = argv[optind];

	x = xlb__open(&oo);
	if (!x) {
		fprintf(stderr, "Error: xlb__open: %s\n", strerror(errno));
		goto out;
	}
	err = xlb__config_set(x, &cfg);
	if (err) {
		fprintf(stderr, "Error: config: %s\n", strerror(-err));
		goto out;
	}
	table = calloc(m, sizeof(*table));
	if (!table) {
		fprintf(stderr, "Error: out of memory\n");
		goto out;
	}

	for (int v = 0; v < nvips; v++) {
		struct xlb_vip vip = { .id = v, .mode = mode };
		struct xlb_maglev_backend mb[MAX_BACKENDS];
		bool any_same = false;
		size_t n = 0;

		for (int b = 0; b < nbes; b++)
			any_same |= bes[b].family == vips[v].key.family;
		for (int b = 0; b < nbes; b++) {
			struct xlb_backend be = { .family = bes[b].family, .vip_id = v };
			__u32 id = 1 + v * MAX_BACKENDS + b;

			if (any_same && bes[b].family != vips[v].key.family)
				continue;
			memcpy(be.addr, bes[b].addr, sizeof(be.addr));
			be.flags = bes[b].failed ? 0 : XLB_BE_F_USABLE;
			err = xlb_backend__set(x, id, &be);
			if (err) {
				fprintf(stderr, "Error: backend %s: %s\n", bes[b].text,
					strerror(-err));
				goto out;
			}
			ids[v][b] = id;
			memset(&mb[n], 0, sizeof(mb[n]));
			mb[n].id = id;
			mb[n].family = bes[b].family;
			memcpy(mb[n].addr, bes[b].addr, bes[b].family == XLB_AF_INET ? 4 : 16);
			mb[n].weight = 100;
			n++;
		}
		err = xlb_maglev_build(mb, n, m, table);
		if (!err)
			err = xlb_vip__set_table(x, v, table, m);
		if (!err)
			err = xlb_vip__set(x, &vips[v].key, &vip);
		if (err) {
			fprintf(stderr, "Error: vip %s: %s\n", vips[v].text, strerror(-err));
			goto out;
		}
	}

	err = xlb__attach(x, ifname, amode);
	if (err) {
		fprintf(stderr, "Error: attach %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	attached = true;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (!stop && t1.tv_sec - t0.tv_sec < seconds);

	/* Counters: per backend (by address, per VIP) and per reason. */
	out = json_object();
	json_t *jv = json_array(), *jr = json_object();
	struct xlb_reason_counters rc[XLB_R__MAX];

	for (int v = 0; v < nvips; v++) {
		json_t *jb = json_array();
		struct xlb_counters vc = {};

		xlb_stats__vip(x, v, &vc);
		for (int b = 0; b < nbes; b++) {
			struct xlb_counters bc = {};

			if (!ids[v][b])
				continue;
			xlb_stats__backend(x, ids[v][b], &bc);
			json_array_append_new(jb, json_pack("{s:s, s:I, s:I}", "address",
							    bes[b].text, "packets",
							    (json_int_t)bc.packets, "new_flows",
							    (json_int_t)bc.new_flows));
		}
		json_array_append_new(jv, json_pack("{s:s, s:I, s:o}", "vip", vips[v].text,
						    "packets", (json_int_t)vc.packets, "backends",
						    jb));
	}
	if (!xlb_stats__reasons(x, rc))
		for (int r = 0; r < XLB_R__MAX; r++)
			json_object_set_new(jr, xlb_reason_name(r),
					    json_integer((json_int_t)rc[r].packets));
	json_object_set_new(out, "vips", jv);
	json_object_set_new(out, "reasons", jr);
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	ret = 0;
out:
	json_decref(out);
	if (x && attached)
		xlb__detach(x, ifname);
	if (x)
		xlb__close(x, true);
	free(table);
	return ret;
bad_value:
	for (const struct option *o = opts; o->name; o++)
		if (o->val == c)
			fprintf(stderr, "Error: bad --%s '%s'\n", o->name, optarg);
bad:
	usage(stderr);
	return 2;
}
