// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb-gen: send UDP / TCP frames of many flows out of an interface, bounded; report the rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
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

#include "xlb.h"
#include "engine.h"
#include "gen.h"

#define GEN_MAX_THREADS 64

static const char *const engine_names[] = { "auto", "live", "packet" };
static const char *const proto_names[] = { "udp", "tcp-syn", "tcp-ack" };

static bool verbose;

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf one level quieter than we are: its warnings only with -v */
	if (level != LIBBPF_WARN || !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: xlb-gen [OPTIONS] -D DST {-n COUNT | -d SECONDS} IFACE\n"
"Send UDP or TCP frames of many flows out of IFACE and report the rate.\n"
"  -D, --dst ADDR           destination address, IPv4 or IPv6 (required)\n"
"  -s, --src ADDR[-ADDR]    source address or range (default: IFACE's address); in IPv6\n"
"                           a range varies the last 32 bits only\n"
"  -P, --dport PORT         destination port (default 9)\n"
"  -p, --sport PORT[-PORT]  source port or range (default 1024-65535)\n"
"  -f, --flows N            distinct flows (source address x port), default 1; without\n"
"                           a source range the address counts up from --src as needed\n"
"  -o, --order seq|random   flow of each frame: in turn, or pseudo-random (default seq)\n"
"  -T, --proto P            udp, tcp-syn or tcp-ack (default udp)\n"
"  -S, --size BYTES         frame length, Ethernet header included, FCS excluded,\n"
"                           %d-%d (default %d, or the headers' length if longer)\n"
"  -n, --count N            frames to send over all threads\n"
"  -d, --duration SECONDS   stop after SECONDS (one of --count, --duration is required)\n"
"  -r, --rate PPS           target rate over all threads (default: as fast as possible)\n"
"  -t, --threads N          threads, one per CPU, on the first N CPUs allowed (default 1)\n"
"  -m, --dst-mac MAC        destination MAC (default: the neighbour table's entry of the\n"
"                           next hop towards --dst)\n"
"  -M, --src-mac MAC        source MAC (default IFACE's)\n"
"  -e, --engine E           live (XDP live frames), packet (AF_PACKET) or auto (default:\n"
"                           live, packet where the kernel refuses live frames)\n"
"  -b, --batch N            frames per kernel batch of live frames, 1-256 (default 64)\n"
"  -i, --interval SECONDS   report period (default 1)\n"
"  -j, --json               print one JSON object at the end instead of text\n"
"  -v, --verbose            more messages (libbpf's included)\n"
"  -h, --help\n",
		XLB_GEN_MIN_LEN, XLB_GEN_MAX_LEN, XLB_GEN_MIN_LEN);
}

static const struct option options[] = {
	{ "dst", required_argument, NULL, 'D' },
	{ "src", required_argument, NULL, 's' },
	{ "dport", required_argument, NULL, 'P' },
	{ "sport", required_argument, NULL, 'p' },
	{ "flows", required_argument, NULL, 'f' },
	{ "order", required_argument, NULL, 'o' },
	{ "proto", required_argument, NULL, 'T' },
	{ "size", required_argument, NULL, 'S' },
	{ "count", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'd' },
	{ "rate", required_argument, NULL, 'r' },
	{ "threads", required_argument, NULL, 't' },
	{ "dst-mac", required_argument, NULL, 'm' },
	{ "src-mac", required_argument, NULL, 'M' },
	{ "engine", required_argument, NULL, 'e' },
	{ "batch", required_argument, NULL, 'b' },
	{ "interval", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{}
};

/* usage_err - print "Error: --OPTION ...: why" for option @c and return 2 (bad usage) */
static int __attribute__((format(printf, 2, 3))) usage_err(int c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "Error: ");
	for (const struct option *o = options; c && o->name; o++)
		if (o->val == c)
			fprintf(stderr, "--%s: ", o->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (xlb-gen --help lists the options)\n");
	return 2;
}

static int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double min, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "P" or "P-Q" with 1 <= P <= Q <= 65535 */
static int parse_ports(const char *s, __u16 *first, __u32 *n)
{
	char buf[32], *dash;
	__u64 a, b;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = 0;
	if (parse_u64(buf, 1, 65535, &a))
		return -EINVAL;
	b = a;
	if (dash && (parse_u64(dash, a, 65535, &b)))
		return -EINVAL;
	*first = a;
	*n = b - a + 1;
	return 0;
}

/* "ADDR" or "ADDR-ADDR" of one family; an IPv6 range may differ in its last 32 bits only */
static int parse_src(const char *s, __be32 addr[4], __u8 *family, __u32 *n)
{
	char buf[INET6_ADDRSTRLEN * 2 + 2], *dash;
	__be32 last[4];
	__u8 f2;
	int w;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = 0;
	if (xlb_addr_parse(buf, addr, family))
		return -EINVAL;
	*n = 1;
	if (!dash)
		return 0;
	if (xlb_addr_parse(dash, last, &f2) || f2 != *family)
		return -EINVAL;
	w = *family == XLB_AF_INET ? 0 : 3;
	if (w && memcmp(addr, last, 12))
		return -EINVAL;
	if (ntohl(last[w]) < ntohl(addr[w]))
		return -EINVAL;
	*n = ntohl(last[w]) - ntohl(addr[w]) + 1;
	return 0;
}

/* cpus - the CPUs this process may run on, in order; returns how many (at most @max) */
static int cpus(int *out, int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE && c < XLB_GEN_MAX_CPUS && n < max; c++)
		if (CPU_ISSET(c, &set))
			out[n++] = c;
	return n;
}

static void mpps_line(double t, __u64 n, double dt)
{
	printf("%7.2f s  %12llu packets  %12.0f pps\n", t, (unsigned long long)n,
	       dt > 0 ? n / dt : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct gen_run r = {
		.spec = { .dport = 9, .sport = 1024, .nports = 65535 - 1024 + 1, .flows = 1 },
		.engine = ENGINE_AUTO, .threads = 1, .batch = 64, .interval = 1,
	};
	struct gen_spec *s = &r.spec;
	bool have_src = false, src_range = false, have_dst = false, ports_given = false;
	bool have_dmac = false, have_smac = false, have_size = false;
	struct gen_thread th[GEN_MAX_THREADS] = {};
	int cpu_ids[GEN_MAX_THREADS], ncpu, c, err, ret = 1;
	json_t *intervals = NULL;
	__u64 v, total = 0, last = 0;
	double t, tlast = 0, next;
	__u8 fam, src_fam = 0;
	__u32 n;

	while ((c = getopt_long(argc, argv, "D:s:P:p:f:o:T:S:n:d:r:t:m:M:e:b:i:jvh", options,
				NULL)) != -1) {
		switch (c) {
		case 'D':
			if (xlb_addr_parse(optarg, s->dst, &fam))
				return usage_err(c, "'%s' is not an IPv4 or IPv6 address", optarg);
			s->family = fam;
			have_dst = true;
			break;
		case 's':
			if (parse_src(optarg, s->src, &src_fam, &n))
				return usage_err(c, "'%s' is not an address or a range "
						 "ADDR-ADDR of one family (IPv6: differing in "
						 "the last 32 bits)", optarg);
			s->naddrs = n;
			src_range = strchr(optarg, '-') != NULL;
			have_src = true;
			break;
		case 'P':
			if (parse_u64(optarg, 1, 65535, &v))
				return usage_err(c, "'%s' is not a port 1-65535", optarg);
			s->dport = v;
			break;
		case 'p':
			if (parse_ports(optarg, &s->sport, &s->nports))
				return usage_err(c, "'%s' is not a port or a range P-Q of ports "
						 "1-65535", optarg);
			ports_given = true;
			break;
		case 'f':
			if (parse_u64(optarg, 1, UINT32_MAX, &v))
				return usage_err(c, "'%s' is not a number 1-%u", optarg,
						 UINT32_MAX);
			s->flows = v;
			break;
		case 'o':
			if (strcmp(optarg, "seq") && strcmp(optarg, "random"))
				return usage_err(c, "'%s' is neither seq nor random", optarg);
			s->random = !strcmp(optarg, "random");
			break;
		case 'T':
			for (n = 0; n < 3 && strcmp(optarg, proto_names[n]); n++)
				;
			if (n == 3)
				return usage_err(c, "'%s' is none of udp, tcp-syn, tcp-ack",
						 optarg);
			s->proto = n;
			break;
		case 'S':
			if (parse_u64(optarg, XLB_GEN_MIN_LEN, XLB_GEN_MAX_LEN, &v))
				return usage_err(c, "'%s' is not a frame length %d-%d", optarg,
						 XLB_GEN_MIN_LEN, XLB_GEN_MAX_LEN);
			s->size = v;
			have_size = true;
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX >> 1, &r.count))
				return usage_err(c, "'%s' is not a number of frames >= 1", optarg);
			break;
		case 'd':
			if (parse_double(optarg, 0, &r.duration) || r.duration <= 0 ||
			    r.duration > 86400)
				return usage_err(c, "'%s' is not a duration in seconds (0-86400]",
						 optarg);
			break;
		case 'r':
			if (parse_double(optarg, 1, &r.rate) || r.rate > 1e9)
				return usage_err(c, "'%s' is not a rate 1-1e9 frames per second",
						 optarg);
			break;
		case 't':
			if (parse_u64(optarg, 1, GEN_MAX_THREADS, &v))
				return usage_err(c, "'%s' is not a thread count 1-%d", optarg,
						 GEN_MAX_THREADS);
			r.threads = v;
			break;
		case 'm':
			if (xlb_mac_parse(optarg, s->dst_mac))
				return usage_err(c, "'%s' is not a MAC address", optarg);
			have_dmac = true;
			break;
		case 'M':
			if (xlb_mac_parse(optarg, s->src_mac))
				return usage_err(c, "'%s' is not a MAC address", optarg);
			have_smac = true;
			break;
		case 'e':
			for (n = 0; n < 3 && strcmp(optarg, engine_names[n]); n++)
				;
			if (n == 3)
				return usage_err(c, "'%s' is none of auto, live, packet", optarg);
			r.engine = n;
			break;
		case 'b':
			if (parse_u64(optarg, 1, 256, &v))
				return usage_err(c, "'%s' is not a batch size 1-256", optarg);
			r.batch = v;
			break;
		case 'i':
			if (parse_double(optarg, 0.01, &r.interval) || r.interval > 3600)
				return usage_err(c, "'%s' is not a period 0.01-3600 seconds",
						 optarg);
			break;
		case 'j':
			r.json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			/* getopt_long has named the unknown option or the missing argument */
			fprintf(stderr, "xlb-gen --help lists the options\n");
			return 2;
		}
	}
	if (optind != argc - 1)
		return usage_err(0, optind < argc ? "one interface expected, got '%s' and more" :
				 "the interface is missing%s", optind < argc ? argv[optind] : "");
	r.ifname = argv[optind];
	if (!have_dst)
		return usage_err('D', "the destination address is required");
	if (!r.count && r.duration <= 0)
		return usage_err(0, "give --count or --duration: an unbounded run is refused");
	if (have_src && src_fam != s->family)
		return usage_err('s', "the source is not of the family of --dst");
	if (!have_size)
		s->size = gen_hdr_len(s) > XLB_GEN_MIN_LEN ? gen_hdr_len(s) : XLB_GEN_MIN_LEN;
	if (s->size < gen_hdr_len(s))
		return usage_err('S', "%u is shorter than the %u bytes of the headers of %s over "
				 "IPv%d", s->size, gen_hdr_len(s), proto_names[s->proto],
				 s->family);
	if (r.count && r.count < r.threads)
		return usage_err('t', "%u threads for %llu frames: fewer threads than frames "
				 "needed", r.threads, (unsigned long long)r.count);
	ncpu = cpus(cpu_ids, GEN_MAX_THREADS);
	if (r.threads > (unsigned int)ncpu)
		return usage_err('t', "%u threads but only %d CPUs to run them on", r.threads,
				 ncpu);
	r.ifindex = if_nametoindex(r.ifname);
	if (!r.ifindex)
		return usage_err(0, "no interface '%s'", r.ifname);

	if (!have_src && (err = gen_if_addr(r.ifname, s->family, s->src))) {
		fprintf(stderr, "Error: %s has no IPv%d address: give --src\n", r.ifname,
			s->family);
		return 1;
	}
	if (!have_src)
		s->naddrs = 1;
	if (!ports_given && s->flows < s->nports)
		s->nports = s->flows;	/* one port per flow is all a small run needs */
	if (!src_range) {
		/* The address counts up as far as the flows need. */
		__u32 w = s->family == 4 ? 0 : 3;

		s->naddrs = (s->flows + s->nports - 1) / s->nports;
		if ((__u64)ntohl(s->src[w]) + s->naddrs - 1 > UINT32_MAX)
			return usage_err('f', "%u flows need %u source addresses from the one "
					 "given, past the end of the address space", s->flows,
					 s->naddrs);
	}
	if ((__u64)s->naddrs * s->nports < s->flows)
		return usage_err('f', "%u flows exceed the %u addresses x %u ports of --src and "
				 "--sport", s->flows, s->naddrs, s->nports);
	if (!have_smac && (err = gen_if_mac(r.ifname, s->src_mac))) {
		fprintf(stderr, "Error: MAC address of %s: %s\n", r.ifname, strerror(-err));
		return 1;
	}
	if (!have_dmac && (err = gen_neigh_mac(r.ifindex, s->family, s->dst, s->dst_mac))) {
		fprintf(stderr, "Error: no neighbour entry for the next hop towards the "
			"destination on %s (%s): give --dst-mac, or reach it once first (ping)\n",
			r.ifname, strerror(-err));
		return 1;
	}

	r.frame = malloc(s->size);
	if (!r.frame) {
		fprintf(stderr, "Error: out of memory\n");
		return 1;
	}
	gen_template(s, r.frame, &r.cfg);
	libbpf_set_print(libbpf_quiet);
	xlb_set_log_level(verbose ? XLB_LOG_DEBUG : XLB_LOG_INFO);

	if (r.engine != ENGINE_PACKET) {
		const char *why = NULL;

		err = gen_live_open(&r, &why);
		if (err && r.engine == ENGINE_LIVE) {
			fprintf(stderr, "Error: %s: %s\n", why, strerror(-err));
			goto out;
		}
		if (err) {
			/* Kernels before 5.18 (or a sandbox) refuse live frames: say so, go on. */
			pr_info("xlb-gen: live frames refused (%s: %s): using AF_PACKET\n", why,
				strerror(-err));
			xlb_gen_bpf__destroy(r.skel);
			r.skel = NULL;
		}
		r.engine = err ? ENGINE_PACKET : ENGINE_LIVE;
	}

	signal(SIGINT, gen_on_signal);
	signal(SIGTERM, gen_on_signal);
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = gen_on_wake }, NULL); /* no SA_RESTART */
	clock_gettime(CLOCK_MONOTONIC, &r.t0);
	for (unsigned int i = 0; i < r.threads; i++) {
		th[i].run = &r;
		th[i].idx = i;
		th[i].cpu = cpu_ids[i];
		th[i].share = r.count ? r.count / r.threads + (i < r.count % r.threads) : 0;
		err = -pthread_create(&th[i].tid, NULL,
				      r.engine == ENGINE_LIVE ? gen_live_thread : gen_packet_thread,
				      &th[i]);
		if (err) {
			fprintf(stderr, "Error: thread: %s\n", strerror(-err));
			gen_stop = 1;
			r.threads = i;
			break;
		}
	}
	if (!r.json)
		printf("xlb-gen: %s, %u thread%s, engine %s, %s IPv%d, %u-byte frames, %u flow%s "
		       "(%s)\n", r.ifname, r.threads, r.threads == 1 ? "" : "s",
		       engine_names[r.engine], proto_names[s->proto], s->family, s->size, s->flows,
		       s->flows == 1 ? "" : "s", s->random ? "random" : "seq");
	intervals = json_array();

	/* Report every interval until every thread has finished; end the threads' runs. */
	for (next = r.interval;;) {
		bool running = false, over;

		for (unsigned int i = 0; i < r.threads; i++) {
			if (!th[i].exited && pthread_tryjoin_np(th[i].tid, NULL) == 0)
				th[i].exited = true;
			running |= !th[i].exited;
		}
		t = gen_now_since(&r.t0);
		over = gen_stop || (r.duration > 0 && t >= r.duration);
		total = 0;
		for (unsigned int i = 0; i < r.threads; i++) {
			__u64 n = gen_thread_sent(&th[i]);

			total += n;
			if (th[i].exited || !(over || (th[i].share && n >= th[i].share)))
				continue;
			/* Again every turn until it has gone: a signal may miss the call. */
			atomic_store(&th[i].done, true);
			if (r.engine == ENGINE_LIVE)
				pthread_kill(th[i].tid, SIGUSR1);
		}
		if (!running)
			break;
		if (t >= next) {
			if (!r.json)
				mpps_line(t, total - last, t - tlast);
			json_array_append_new(intervals, json_pack("{s:f, s:I, s:f}", "t", t,
					      "packets", (json_int_t)(total - last), "pps",
					      (total - last) / (t - tlast)));
			last = total;
			tlast = t;
			next += r.interval;
		}
		usleep(t + 0.01 < next ? 10000 : (useconds_t)((next - t) * 1e6) + 1);
	}
	t = gen_now_since(&r.t0);

	ret = 0;
	for (unsigned int i = 0; i < r.threads; i++) {
		if (th[i].err) {
			fprintf(stderr, "Error: thread %u on CPU %d: %s: %s\n", i, th[i].cpu,
				th[i].what, strerror(-th[i].err));
			ret = 1;
		}
	}
	if (r.json) {
		char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
		json_t *o;

		xlb_addr_format(s->src, s->family, src, sizeof(src));
		xlb_addr_format(s->dst, s->family, dst, sizeof(dst));
		o = json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:s, s:i, s:I, s:s, s:I, s:f, s:f, "
			      "s:f, s:b, s:o}",
			      "ifname", r.ifname, "engine", engine_names[r.engine], "threads",
			      r.threads, "proto", proto_names[s->proto], "family", s->family,
			      "src", src, "dst", dst, "size", s->size, "flows",
			      (json_int_t)s->flows,
			      "order", s->random ? "random" : "seq", "packets", (json_int_t)total,
			      "seconds", t, "pps", t > 0 ? total / t : 0.0, "target_pps", r.rate,
			      "complete", !ret && (!r.count || total == r.count), "intervals",
			      intervals);
		intervals = NULL;
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		printf("xlb-gen: sent %llu packets in %.3f s: %.0f pps (%.3f Mpps)\n",
		       (unsigned long long)total, t, t > 0 ? total / t : 0,
		       t > 0 ? total / t / 1e6 : 0);
	}
	if (!ret && r.count && total != r.count && !gen_stop)
		ret = 1;
out:
	json_decref(intervals);
	xlb_gen_bpf__destroy(r.skel);
	free(r.frame);
	return ret;
}
