// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Driver of the probe engine for tests/e2e/test_probe.sh: one probe, a watched checker, a storm. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "health.h"
#include "probe.h"

static const char usage_text[] =
	"Usage: probe_drv probe [OPTIONS] TYPE ADDR:PORT\n"
	"       probe_drv watch [OPTIONS] TYPE ADDR:PORT\n"
	"       probe_drv scale [OPTIONS] TYPE ADDR:PORT\n"
	"       probe_drv storm [OPTIONS] TYPE:ADDR:PORT...\n"
	"TYPE: tcp, http, udp, agent (watch: also none, for an agent alone)\n"
	"  --timeout MS --path P --host H --expect LO-HI --payload S --expect-reply S --send S\n"
	"  --source ADDR --interval MS --rise N --fall N --jitter PCT --fastinter MS\n"
	"  --downinter MS --agent-port N --agent-interval MS --initial up|down|unknown\n"
	"  --seconds S (watch, scale) --count N (scale, storm) --nofile N\n"
	"  --cancel-every K (storm)\n";

struct opts {
	struct hc_params hp;
	double seconds;
	unsigned int count, nofile, cancel_every;
	enum hc_verdict initial;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_type(const char *s, enum probe_type *t)
{
	static const char *const names[] = { "none", "tcp", "http", "udp", "agent" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*t = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_source(const char *s, struct probe_target *t)
{
	if (inet_pton(AF_INET, s, t->source) == 1)
		;
	else if (inet_pton(AF_INET6, s, t->source) != 1)
		return -EINVAL;
	t->has_source = true;
	return 0;
}

/* "tcp:198.18.0.1:80", "udp:[2001:db8::1]:53" */
static int parse_typed_target(const char *s, struct probe_target *t)
{
	const char *colon = strchr(s, ':');
	char type[16];

	if (!colon || colon - s >= (long)sizeof(type))
		return -EINVAL;
	memcpy(type, s, colon - s);
	type[colon - s] = '\0';
	if (parse_type(type, &t->type) || !t->type)
		return -EINVAL;
	return xlb_addr_port_parse(colon + 1, t->addr, &t->family, &t->port);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'P' },
		{ "host", required_argument, NULL, 'H' },
		{ "expect", required_argument, NULL, 'e' },
		{ "payload", required_argument, NULL, 'p' },
		{ "expect-reply", required_argument, NULL, 'x' },
		{ "send", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, 'S' },
		{ "interval", required_argument, NULL, 'i' },
		{ "rise", required_argument, NULL, 'r' },
		{ "fall", required_argument, NULL, 'f' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "fastinter", required_argument, NULL, 'F' },
		{ "downinter", required_argument, NULL, 'D' },
		{ "agent-port", required_argument, NULL, 'a' },
		{ "agent-interval", required_argument, NULL, 'A' },
		{ "initial", required_argument, NULL, 'I' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "nofile", required_argument, NULL, 'N' },
		{ "cancel-every", required_argument, NULL, 'c' },
		{}
	};
	struct probe_target *t = &o->hp.target;
	unsigned int lo_, hi_;
	int c;

	o->hp.interval_ms = 200;
	o->hp.rise = 3;
	o->hp.fall = 2;
	t->timeout_ms = 200;
	o->seconds = 5;
	o->count = 1000;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't': t->timeout_ms = atoi(optarg); break;
		case 'P': t->http_path = optarg; break;
		case 'H': t->http_host = optarg; break;
		case 'e':
			if (sscanf(optarg, "%u-%u", &lo_, &hi_) != 2)
				return -EINVAL;
			t->expect_lo = lo_;
			t->expect_hi = hi_;
			break;
		case 'p':
			t->udp_payload = optarg;
			t->udp_payload_len = strlen(optarg);
			break;
		case 'x':
			t->udp_expect = optarg;
			t->udp_expect_len = strlen(optarg);
			break;
		case 's': t->agent_send = o->hp.agent_send = optarg; break;
		case 'S':
			if (parse_source(optarg, t))
				return -EINVAL;
			break;
		case 'i': o->hp.interval_ms = atoi(optarg); break;
		case 'r': o->hp.rise = atoi(optarg); break;
		case 'f': o->hp.fall = atoi(optarg); break;
		case 'j': o->hp.jitter_pct = atoi(optarg); break;
		case 'F': o->hp.fastinter_ms = atoi(optarg); break;
		case 'D': o->hp.downinter_ms = atoi(optarg); break;
		case 'a': o->hp.agent_port = atoi(optarg); break;
		case 'A': o->hp.agent_interval_ms = atoi(optarg); break;
		case 'I':
			o->initial = !strcmp(optarg, "up") ? HC_UP :
				     !strcmp(optarg, "down") ? HC_DOWN : HC_UNKNOWN;
			break;
		case 'T': o->seconds = atof(optarg); break;
		case 'n': o->count = atoi(optarg); break;
		case 'N': o->nofile = atoi(optarg); break;
		case 'c': o->cancel_every = atoi(optarg); break;
		default: return -EINVAL;
		}
	}
	return 0;
}

/* Wait for the prober's fd as the daemon would, then let it work. */
static void loop_once(struct prober *p, int epfd, int timeout_ms)
{
	struct epoll_event ev;

	if (epoll_wait(epfd, &ev, 1, timeout_ms) > 0)
		prober_run(p);
}

static int loop_new(struct prober *p)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, prober_fd(p), &ev)) {
		close(epfd);
		return -1;
	}
	return epfd;
}

static void print_result(const char *prefix, const struct probe_result *r, bool agent)
{
	printf("%sok=%d status=%u latency_us=%u detail=\"%s\"", prefix, r->ok, r->http_status,
	       r->latency_us, r->detail);
	if (agent && r->ok)
		printf(" weight=%d state=%s reason=\"%s\"", r->agent.weight_pct,
		       agent_state_name(r->agent.state), r->agent.reason);
	printf("\n");
	fflush(stdout);
}

/* ---------------------------------------------------------------- probe */

struct one {
	int calls;
	struct probe_result r;
};

static void one_cb(void *ctx, const struct probe_result *r)
{
	struct one *o = ctx;

	o->calls++;
	o->r = *r;
}

static int cmd_probe(struct opts *o)
{
	struct probe_target *t = &o->hp.target;
	struct one res = {};
	struct prober *p;
	uint64_t end;
	int epfd, err;

	p = prober_new();
	if (!p)
		return 1;
	epfd = loop_new(p);
	err = prober_start(p, t, one_cb, &res, NULL);
	if (err) {
		fprintf(stderr, "prober_start: %s\n", strerror(-err));
		goto out;
	}
	end = prober_now_ns() + (t->timeout_ms + 2000) * 1000000ull;
	while (!res.calls && prober_now_ns() < end)
		loop_once(p, epfd, 100);
	/* a second callback would be a bug: give it a chance to show */
	loop_once(p, epfd, 20);
	if (res.calls != 1) {
		fprintf(stderr, "%d callbacks\n", res.calls);
		err = -EPROTO;
		goto out;
	}
	print_result("", &res.r, t->type == PROBE_AGENT);
out:
	close(epfd);
	prober_free(p);
	return err ? 1 : 0;
}

/* ---------------------------------------------------------------- watch */

struct watch {
	unsigned int max_inflight;
	bool overlap;
};

static void w_change(void *ctx, struct health_checker *hc, enum hc_verdict from,
		     enum hc_verdict to)
{
	(void)ctx;
	printf("%lld verdict %s %s successes=%u failures=%u detail=\"%s\"\n", real_ms(),
	       hc_verdict_name(from), hc_verdict_name(to), hc->successes, hc->failures,
	       hc->last.r.detail);
	fflush(stdout);
}

static void w_agent(void *ctx, struct health_checker *hc, const struct agent_reply *from,
		    const struct agent_reply *to)
{
	(void)ctx;
	(void)hc;
	printf("%lld agent weight=%d state=%s reason=\"%s\" from weight=%d state=%s\n", real_ms(),
	       to->weight_pct, agent_state_name(to->state), to->reason, from->weight_pct,
	       agent_state_name(from->state));
	fflush(stdout);
}

static void w_result(void *ctx, struct health_checker *hc, const struct probe_result *r,
		     bool agent)
{
	char prefix[64];

	(void)ctx;
	(void)hc;
	snprintf(prefix, sizeof(prefix), "%lld %s ", real_ms(), agent ? "agent-result" : "result");
	print_result(prefix, r, agent);
}

static int cmd_watch(struct opts *o)
{
	static const struct hc_ops ops = {
		.on_change = w_change, .on_agent = w_agent, .on_result = w_result,
	};
	unsigned int allowed = (o->hp.target.type != 0) + (o->hp.agent_port != 0), max = 0;
	struct health_checker *hc = NULL;
	struct prober *p;
	uint64_t end;
	int epfd = -1, ret = 1;

	p = prober_new();
	if (!p)
		return 1;
	epfd = loop_new(p);
	hc = hc_new(p, &o->hp, &ops, NULL);
	if (!hc) {
		fprintf(stderr, "hc_new: %s\n", strerror(errno));
		goto out;
	}
	if (hc_start(hc, o->initial))
		goto out;
	printf("%lld start %s\n", real_ms(), hc_verdict_name(o->initial));
	fflush(stdout);
	end = prober_now_ns() + (uint64_t)(o->seconds * 1e9);
	while (!stop && prober_now_ns() < end) {
		loop_once(p, epfd, 50);
		/* a checker never has two probes of one kind running */
		if (prober_inflight(p) > max)
			max = prober_inflight(p);
		if (prober_inflight(p) > allowed) {
			printf("%lld overlap inflight=%u\n", real_ms(), prober_inflight(p));
			fflush(stdout);
		}
	}
	printf("%lld end verdict=%s probes=%llu agent=%llu max_inflight=%u\n", real_ms(),
	       hc_verdict_name(hc->verdict), (unsigned long long)hc->nprobes,
	       (unsigned long long)hc->nagent, max);
	ret = 0;
out:
	hc_free(hc);
	if (epfd >= 0)
		close(epfd);
	prober_free(p);
	return ret;
}

/* ---------------------------------------------------------------- scale */

static void raise_nofile(unsigned int n)
{
	struct rlimit rl = { .rlim_cur = n, .rlim_max = n };

	if (n && setrlimit(RLIMIT_NOFILE, &rl)) {
		/* without the privilege to raise the hard limit, the soft one */
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = n < rl.rlim_max ? n : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* CPU time of the process in ms: user, and system (which includes the softirq work that the
 * veth pair does in our context for both ends of every connection). */
static void cpu_ms(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3;
	*sys = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/*
 * --count checkers of one target, all in one loop as in the daemon: the probe rate achieved
 * against the nominal count / interval, and the CPU spent, once every checker has started.
 */
static int cmd_scale(struct opts *o)
{
	struct health_checker **hcs;
	struct prober *p;
	unsigned int i, max = 0;
	uint64_t probes0 = 0, probes = 0, t0, t1, end;
	double u0, s0, u1, s1, secs, nominal;
	int epfd = -1, ret = 1;

	raise_nofile(o->nofile);
	hcs = calloc(o->count, sizeof(*hcs));
	p = prober_new();
	if (!hcs || !p)
		goto out;
	epfd = loop_new(p);
	for (i = 0; i < o->count; i++) {
		hcs[i] = hc_new(p, &o->hp, NULL, NULL);
		if (!hcs[i] || hc_start(hcs[i], o->initial))
			goto out;
	}
	/* one interval to spread the first probes, then measure */
	end = prober_now_ns() + o->hp.interval_ms * 1000000ull;
	while (prober_now_ns() < end)
		loop_once(p, epfd, 50);
	for (i = 0; i < o->count; i++)
		probes0 += hcs[i]->nprobes;
	t0 = prober_now_ns();
	cpu_ms(&u0, &s0);
	end = t0 + (uint64_t)(o->seconds * 1e9);
	while (!stop && prober_now_ns() < end) {
		loop_once(p, epfd, 50);
		if (prober_inflight(p) > max)
			max = prober_inflight(p);
	}
	t1 = prober_now_ns();
	cpu_ms(&u1, &s1);
	for (i = 0; i < o->count; i++)
		probes += hcs[i]->nprobes;
	probes -= probes0;
	secs = (t1 - t0) / 1e9;
	nominal = o->count * 1000.0 / o->hp.interval_ms;
	printf("scale checkers=%u seconds=%.2f probes=%llu rate=%.0f nominal=%.0f "
	       "achieved_pct=%.0f user_pct=%.0f sys_pct=%.0f max_inflight=%u\n",
	       o->count, secs, (unsigned long long)probes, probes / secs, nominal,
	       100.0 * probes / secs / nominal, (u1 - u0) / 10.0 / secs, (s1 - s0) / 10.0 / secs,
	       max);
	ret = 0;
out:
	for (i = 0; hcs && i < o->count; i++)
		hc_free(hcs[i]);
	free(hcs);
	if (epfd >= 0)
		close(epfd);
	prober_free(p);
	return ret;
}

/* ---------------------------------------------------------------- storm */

struct storm_slot {
	struct probe *h;
	int calls;
	bool cancelled;
	bool ok;
	char detail[PROBE_DETAIL_MAX];
};

static struct storm_slot *storm_slots;

static void storm_cb(void *ctx, const struct probe_result *r)
{
	struct storm_slot *s = &storm_slots[(uintptr_t)ctx];

	s->calls++;
	s->h = NULL;
	s->ok = r->ok;
	snprintf(s->detail, sizeof(s->detail), "%s", r->detail);
}

static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

struct tally {
	char detail[PROBE_DETAIL_MAX];
	unsigned int n;
};

static int cmd_storm(struct opts *o, struct probe_target *targets, unsigned int ntargets)
{
	unsigned int i, calls = 0, cancelled = 0, bad = 0, nok = 0, ntally = 0, j;
	uint64_t t0, end, mid;
	struct tally tally[32] = {};
	struct prober *p = NULL;
	int fds_before, fds_after, epfd = -1, ret = 1;
	bool mid_done = false;

	raise_nofile(o->nofile);
	storm_slots = calloc(o->count, sizeof(*storm_slots));
	if (!storm_slots)
		return 1;
	fds_before = count_fds();
	p = prober_new();
	if (!p)
		goto out;
	epfd = loop_new(p);
	t0 = prober_now_ns();
	for (i = 0; i < o->count; i++) {
		struct probe_target t = targets[i % ntargets];
		int err;

		t.timeout_ms = o->hp.target.timeout_ms;
		err = prober_start(p, &t, storm_cb, (void *)(uintptr_t)i, &storm_slots[i].h);
		if (err) {
			fprintf(stderr, "prober_start %u: %s\n", i, strerror(-err));
			goto out;
		}
		if (o->cancel_every && i % o->cancel_every == 0) {
			prober_cancel(storm_slots[i].h);
			storm_slots[i].cancelled = true;
		}
	}
	/* the other half of the cancellations while the probes are in flight */
	mid = t0 + o->hp.target.timeout_ms * 1000000ull / 2;
	end = t0 + (o->hp.target.timeout_ms + 3000) * 1000000ull;
	while (prober_inflight(p) && prober_now_ns() < end) {
		loop_once(p, epfd, 20);
		if (!mid_done && o->cancel_every && prober_now_ns() >= mid) {
			for (i = 1; i < o->count; i += o->cancel_every) {
				if (storm_slots[i].h) {
					prober_cancel(storm_slots[i].h);
					storm_slots[i].h = NULL;
					storm_slots[i].cancelled = true;
				}
			}
			mid_done = true;
		}
	}
	/* late duplicates would show here */
	loop_once(p, epfd, 50);
	for (i = 0; i < o->count; i++) {
		struct storm_slot *s = &storm_slots[i];

		calls += s->calls;
		cancelled += s->cancelled;
		nok += s->ok;
		if (s->calls != (s->cancelled ? 0 : 1)) {
			if (bad++ < 5)
				printf("# probe %u: %d callbacks (cancelled %d)\n", i, s->calls,
				       s->cancelled);
		}
		if (!s->calls)
			continue;
		for (j = 0; j < ntally && strcmp(tally[j].detail, s->detail); j++)
			;
		if (j == ntally && ntally < sizeof(tally) / sizeof(tally[0]))
			snprintf(tally[ntally++].detail, PROBE_DETAIL_MAX, "%s", s->detail);
		if (j < ntally)
			tally[j].n++;
	}
	for (j = 0; j < ntally; j++)
		printf("# detail \"%s\" %u\n", tally[j].detail, tally[j].n);
	printf("storm probes=%u callbacks=%u cancelled=%u ok=%u bad=%u inflight=%u ms=%llu ",
	       o->count, calls, cancelled, nok, bad, prober_inflight(p),
	       (unsigned long long)((prober_now_ns() - t0) / 1000000));
	ret = bad || prober_inflight(p) ? 1 : 0;
out:
	if (epfd >= 0)
		close(epfd);
	prober_free(p);
	fds_after = count_fds();
	printf("fds_before=%d fds_after=%d\n", fds_before, fds_after);
	if (fds_before != fds_after)
		ret = 1;
	free(storm_slots);
	return ret;
}

int main(int argc, char **argv)
{
	struct probe_target targets[16];
	struct opts o = {};
	const char *cmd;
	int i, n = 0;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	cmd = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o)) {
		fputs(usage_text, stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	optind++; /* argv[optind] is relative to argv + 1 */
	if (!strcmp(cmd, "storm")) {
		for (i = optind; i < argc && n < 16; i++, n++) {
			targets[n] = (struct probe_target){};
			if (parse_typed_target(argv[i], &targets[n])) {
				fprintf(stderr, "bad target %s\n", argv[i]);
				return 2;
			}
		}
		if (!n)
			return 2;
		return cmd_storm(&o, targets, n);
	}
	if (argc - optind != 2 || parse_type(argv[optind], &o.hp.target.type) ||
	    xlb_addr_port_parse(argv[optind + 1], o.hp.target.addr, &o.hp.target.family,
				&o.hp.target.port)) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(cmd, "probe"))
		return cmd_probe(&o);
	if (!strcmp(cmd, "watch"))
		return cmd_watch(&o);
	if (!strcmp(cmd, "scale"))
		return cmd_scale(&o);
	fputs(usage_text, stderr);
	return 2;
}
