// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb top: a live view of every VIP and backend (rates, health, weight, slots), like top(1). */
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TOP_REASONS 5		/* the busiest reasons shown */

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* "SECONDS": a number of seconds, 0.1 .. 3600; XLB_EUSAGE after an error naming @what. */
int cli_parse_seconds(struct cli *c, const char *what, const char *s, double *out)
{
	char *end;
	double v = s ? strtod(s, &end) : 0;

	if (!s || !*s || *end || !(v >= 0.1 && v <= 3600))
		return cli_usage_error(c, "invalid %s \"%s\" (expected seconds, 0.1..3600)", what,
				       s ? s : "");
	*out = v;
	return 0;
}

/* The previous frame's counters, to turn new flows and reason packets into rates. */
struct prev {
	json_t *stats;		/* the previous stats reply, or NULL */
	double when;
};

static json_int_t ival(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* The row of @prev matching @row (same "vip", or same address and port under @vip). */
static json_t *find_vip(json_t *stats, const char *vip)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(stats, "vips"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "vip")), vip))
			return v;
	return NULL;
}

static json_t *find_be(json_t *vip, json_t *be)
{
	json_t *b;
	size_t i;

	if (!vip)
		return NULL;
	json_array_foreach(json_object_get(vip, "backends"), i, b)
		if (json_equal(json_object_get(b, "address"), json_object_get(be, "address")) &&
		    ival(b, "port") == ival(be, "port"))
			return b;
	return NULL;
}

/* Adds "fps" (new flows per second since @old) to @row; null on the first frame. */
static void add_fps(json_t *row, json_t *old, double dt)
{
	json_int_t n = ival(row, "new_flows"), o = ival(old, "new_flows");

	if (!old || dt <= 0 || n < o)
		json_object_set_new(row, "fps", json_null());
	else
		json_object_set_new(row, "fps", json_integer((json_int_t)llround((n - o) / dt)));
}

/* Health, effective weight and slots of backend @be of @vip from the backend list. */
static void add_state(json_t *row, json_t *list, const char *vip)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(list, "backends"), i, b) {
		if (strcmp(json_string_value(json_object_get(b, "vip")), vip) ||
		    !json_equal(json_object_get(b, "address"), json_object_get(row, "address")) ||
		    ival(b, "port") != ival(row, "port"))
			continue;
		json_object_set(row, "health", json_object_get(b, "health"));
		json_object_set(row, "effective_weight", json_object_get(b, "effective_weight"));
		json_object_set(row, "slots", json_object_get(b, "slots"));
		json_object_set(row, "why", json_object_get(b, "why"));
		return;
	}
}

struct reason {
	const char *name;
	double pps;
	json_int_t packets;
};

static int cmp_reason(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	if (x->pps != y->pps)
		return x->pps < y->pps ? 1 : -1;
	return x->packets < y->packets ? 1 : x->packets > y->packets ? -1 : 0;
}

static void draw(json_t *stats, json_t *list, json_t *status, struct prev *p, double interval,
		 bool tty)
{
	static const struct cli_col cols[] = {
		{ NULL, "VIP / BACKEND", F_STATS_NAME },
		{ "health", "HEALTH", F_STR },
		{ "effective_weight", "WEIGHT", F_INT, true },
		{ "slots", "SLOTS", F_INT, true },
		{ "pps", "PPS", F_PPS, true },
		{ "bps", "BITS/S", F_BPS, true },
		{ "fps", "FLOWS/S", F_INT, true },
		{ "packets", "PACKETS", F_INT, true },
	};
	static const struct cli_col rcols[] = {
		{ "reason", "REASON", F_STR },
		{ "pps", "PPS", F_PPS, true },
		{ "packets", "PACKETS", F_INT, true },
	};
	double now = now_s(), dt = p->stats ? now - p->when : 0;
	struct reason rs[64];
	struct cli_table *t;
	json_t *vip, *be, *counters;
	const char *name;
	char when[16];
	time_t wall = time(NULL);
	struct tm tm;
	size_t i, j, nr = 0;

	localtime_r(&wall, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("xlb top - %s  vips %lld  backends %lld  flows %lld  every %gs%s\n\n", when,
	       ival(status, "vips"), ival(status, "backends"), ival(status, "flows"), interval,
	       tty ? "  (q quits)" : "");

	t = cli_table_new(cols, ARRAY_SIZE(cols), stats);
	json_array_foreach(json_object_get(stats, "vips"), i, vip) {
		const char *vn = json_string_value(json_object_get(vip, "vip"));
		json_t *ov = p->stats ? find_vip(p->stats, vn) : NULL;
		json_int_t usable = 0, nbe = 0, slots = 0;
		char h[48];

		add_fps(vip, ov, dt);
		json_array_foreach(json_object_get(vip, "backends"), j, be) {
			add_state(be, list, vn);
			add_fps(be, find_be(ov, be), dt);
			nbe++;
			usable += ival(be, "effective_weight") > 0;
			slots += ival(be, "slots");
		}
		/* a VIP: its usable backends of all, and the slots they hold */
		snprintf(h, sizeof(h), "%lld/%lld", usable, nbe);
		json_object_set_new(vip, "health", json_string(h));
		json_object_set_new(vip, "slots", json_integer(slots));
		cli_table_add(t, vip);
		json_array_foreach(json_object_get(vip, "backends"), j, be)
			cli_table_add(t, be);
	}
	cli_table_print(t, stdout);
	cli_table_free(t);

	json_object_foreach(json_object_get(stats, "reasons"), name, counters) {
		json_t *old = json_object_get(json_object_get(p->stats, "reasons"), name);
		json_int_t n = ival(counters, "packets"), o = ival(old, "packets");

		if (nr == ARRAY_SIZE(rs))
			break;
		rs[nr].name = name;
		rs[nr].packets = n;
		rs[nr].pps = old && dt > 0 && n >= o ? (n - o) / dt : 0;
		nr++;
	}
	qsort(rs, nr, sizeof(rs[0]), cmp_reason);
	fputc('\n', stdout);
	t = cli_table_new(rcols, ARRAY_SIZE(rcols), stats);
	for (i = 0; i < nr && i < TOP_REASONS; i++) {
		json_t *row = json_pack("{s:s, s:f, s:I}", "reason", rs[i].name, "pps", rs[i].pps,
					"packets", (json_int_t)rs[i].packets);

		cli_table_add(t, row);
		json_decref(row);
	}
	cli_table_print(t, stdout);
	fflush(stdout);
	cli_table_free(t);
}

/* Waits @s seconds for a key; true when it was "q" (or the wait was interrupted by a signal). */
static bool wait_key(double s, bool tty)
{
	double end = now_s() + s;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char ch;

	while (!top_stop) {
		int ms = (int)((end - now_s()) * 1000);

		if (ms <= 0)
			return false;
		if (!tty) {
			poll(NULL, 0, ms);
			continue;
		}
		if (poll(&pfd, 1, ms) > 0) {
			if (read(STDIN_FILENO, &ch, 1) != 1 || ch == 'q' || ch == 'Q')
				return true;
		}
	}
	return true;
}

static int do_top(struct cli *c, int argc, char **argv)
{
	double interval = 1;
	long iterations = 0;	/* 0: until q or SIGINT */
	const char *vip = NULL;
	char vbuf[96];
	struct prev p = {};
	struct termios saved, raw;
	struct sigaction sa = { .sa_handler = on_signal };
	bool tty_in = isatty(STDIN_FILENO), tty_out = isatty(STDOUT_FILENO), raw_set = false;
	int err = 0;
	long n;

	for (; argc > 0; argc--, argv++) {
		if (!strcmp(argv[0], "-d")) {
			if (cli_parse_seconds(c, "delay", argc > 1 ? argv[1] : NULL, &interval))
				return XLB_EUSAGE;
			argc--, argv++;
		} else if (!strcmp(argv[0], "-n")) {
			char *end;

			iterations = argc > 1 ? strtol(argv[1], &end, 10) : 0;
			if (argc < 2 || !*argv[1] || *end || iterations < 1 || iterations > 1000000)
				return cli_usage_error(c, "invalid iterations \"%s\" (expected 1..1000000)",
						       argc > 1 ? argv[1] : "");
			argc--, argv++;
		} else if (!vip) {
			if (cli_parse_vip(c, argv[0], vbuf, sizeof(vbuf), NULL))
				return XLB_EUSAGE;
			vip = vbuf;
		} else {
			return cli_usage_error(c, "unexpected argument \"%s\"", argv[0]);
		}
	}
	if (c->json)
		return cli_usage_error(c, "top is a live view for a terminal: for JSON, use "
				       "xlb -j stats -w SECONDS");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tty_in && !tcgetattr(STDIN_FILENO, &saved)) {
		raw = saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		raw_set = !tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	if (tty_out)
		fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, no cursor: as top(1) */
	for (n = 0; !top_stop && (!iterations || n < iterations); n++) {
		json_t *req = json_pack("{s:s}", "cmd", "stats"), *stats, *list, *status;

		if (vip)
			json_object_set_new(req, "vip", json_string(vip));
		stats = cli_request(c, req);
		req = json_pack("{s:s}", "cmd", "backend_list");
		if (vip)
			json_object_set_new(req, "vip", json_string(vip));
		list = stats ? cli_request(c, req) : (json_decref(req), NULL);
		status = list ? cli_request(c, json_pack("{s:s}", "cmd", "status")) : NULL;
		if (!status) {
			json_decref(stats);
			json_decref(list);
			err = top_stop ? 0 : -EIO; /* an interrupt in the middle of a request */
			break;
		}
		draw(stats, list, status, &p, interval, tty_out);
		json_decref(p.stats);
		p.stats = stats;
		p.when = now_s();
		json_decref(list);
		json_decref(status);
		if (iterations && n + 1 >= iterations)
			break;
		if (wait_key(interval, raw_set))
			break;
	}
	json_decref(p.stats);
	if (tty_out)
		fputs("\033[?25h\033[?1049l", stdout); /* the terminal as it was */
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return err;
}

const struct cli_obj cli_obj_top = {
	.name = "top",
	.fn = do_top,
	.usage =
	"Usage: xlb top [ -d SECONDS ] [ -n ITERATIONS ] [ VIP ]\n"
	"       xlb top help\n",
};
