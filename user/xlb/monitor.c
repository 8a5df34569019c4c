// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb monitor: the datapath's per-packet decisions as xlbd streams them, filtered and sampled. */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t mon_stop;

static void on_signal(int sig)
{
	(void)sig;
	mon_stop = 1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "198.18.5.1:40000", "[2001:db8::1]:40000", or the bare address without a port. */
static void endpoint(json_t *ev, const char *addr, const char *port, char *buf, size_t len)
{
	const char *a = str(ev, addr);
	json_t *p = json_object_get(ev, port);

	if (!a)
		snprintf(buf, len, "?");
	else if (!p)
		snprintf(buf, len, "%s", a);
	else if (strchr(a, ':'))
		snprintf(buf, len, "[%s]:%d", a, (int)json_integer_value(p));
	else
		snprintf(buf, len, "%s:%d", a, (int)json_integer_value(p));
}

/* One line per decision: time, reason, the flow, the VIP, the backend and where it came from. */
static void print_event(json_t *ev)
{
	json_int_t ns = json_integer_value(json_object_get(ev, "time_ns"));
	json_t *be = json_object_get(ev, "backend");
	char when[32], src[64], dst[64], bea[64];
	time_t s = ns / 1000000000;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%06d %-16s", when, (int)(ns % 1000000000 / 1000), str(ev, "reason"));
	if (str(ev, "src")) {
		endpoint(ev, "src", "sport", src, sizeof(src));
		endpoint(ev, "dst", "dport", dst, sizeof(dst));
		printf(" %s > %s %s", src, dst, str(ev, "proto"));
	} else {
		printf(" (not IP, or not parsed)");
	}
	if (str(ev, "vip"))
		printf(" vip %s", str(ev, "vip"));
	if (be) {
		endpoint(be, "address", "port", bea, sizeof(bea));
		if (!json_integer_value(json_object_get(be, "port")))
			snprintf(bea, sizeof(bea), "%s", str(be, "address") ? str(be, "address") : "?");
		printf(" backend %s", bea);
	}
	if (str(ev, "source") && !strcmp(str(ev, "source"), "flow_table"))
		printf(" (flow table)");
	else if (str(ev, "source"))
		printf(" (maglev slot %lld)", (long long)json_integer_value(json_object_get(ev, "slot")));
	if (json_is_true(json_object_get(ev, "fragment")))
		printf(" fragment");
	if (json_is_true(json_object_get(ev, "icmp_error")))
		printf(" icmp-error");
	printf(" len %lld\n", (long long)json_integer_value(json_object_get(ev, "len")));
}

/*
 * Handles one line of the stream: the reply to the request first (an error ends the command),
 * then events and loss notices. Returns 1 for an event, 0 for anything else, -EIO on an error.
 */
static int handle_line(struct cli *c, const char *line, bool first)
{
	json_t *o = json_loads(line, 0, NULL), *ev;
	int ret = 0;

	if (!json_is_object(o)) {
		json_decref(o);
		return cli_error(c, "invalid line from xlbd at %s", c->socket);
	}
	if (first) {
		if (!json_is_true(json_object_get(o, "ok")))
			ret = cli_error(c, "%s", str(o, "error") ? str(o, "error") :
					"xlbd refused without saying why");
	} else if ((ev = json_object_get(o, "event"))) {
		if (c->json) {
			json_dumpf(ev, stdout, JSON_COMPACT);
			fputc('\n', stdout);
		} else {
			print_event(ev);
		}
		fflush(stdout);
		ret = 1;
	} else if (json_object_get(o, "lost")) {
		if (c->json) {
			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			fflush(stdout);
		}
		fprintf(stderr, "xlb: %lld events lost (the ring or this connection was full)\n",
			(long long)json_integer_value(json_object_get(o, "lost")));
	}
	json_decref(o);
	return ret;
}

/* Reads the stream until @count events (0 = no limit), @deadline (0 = none) or an interrupt. */
static int stream(struct cli *c, int fd, __u64 count, long long deadline)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	long long reply_by = now_ms() + c->timeout_ms;
	bool first = true;
	__u64 seen = 0;
	int err = 0;

	if (!buf)
		return cli_error(c, "out of memory");
	while (!mon_stop && (!count || seen < count)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long now = now_ms(), wait = -1;
		char *nl, *line;
		ssize_t n;

		if (first)
			wait = reply_by - now;
		if (deadline && (wait < 0 || deadline - now < wait))
			wait = deadline - now;
		if (first && wait <= 0 && reply_by <= now) {
			err = cli_error(c, "xlbd at %s did not answer within %d ms", c->socket,
					c->timeout_ms);
			break;
		}
		if (deadline && now >= deadline)
			break;
		if (poll(&pfd, 1, wait < 0 ? -1 : (int)wait) <= 0)
			continue;	/* EINTR (an interrupt) or the time: checked above */
		if (cap - len < 4096) {
			char *p = realloc(buf, cap * 2);

			if (!p) {
				err = cli_error(c, "out of memory");
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = cli_error(c, "xlbd at %s closed the connection%s", c->socket,
					n < 0 ? ": read error" : "");
			break;
		}
		len += n;
		buf[len] = '\0';
		line = buf;
		while (err >= 0 && (!count || seen < count) && (nl = strchr(line, '\n'))) {
			int r;

			*nl = '\0';
			r = handle_line(c, line, first);
			first = false;
			if (r < 0)
				err = r;
			seen += r > 0;
			line = nl + 1;
		}
		if (err < 0)
			break;
		len -= line - buf;
		memmove(buf, line, len);
	}
	free(buf);
	return err < 0 ? err : 0;
}

static int do_monitor(struct cli *c, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", "monitor"), *reasons = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	double duration = 0;
	uint32_t sample = 0, count = 0;
	char vbuf[128];
	int fd, err;

	if (!req)
		return cli_error(c, "out of memory");
	while (argc > 0) {
		const char *k = argv[0], *v;

		v = cli_value(c, &argc, &argv);
		if (!v) {
			err = XLB_EUSAGE;
			goto fail;
		}
		if (!strcmp(k, "reason")) {
			char *list = strdup(v), *save = NULL, *r;

			if (!list) {
				err = cli_error(c, "out of memory");
				goto fail;
			}
			if (!reasons)
				reasons = json_array();
			for (r = strtok_r(list, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
				int id = xlb_reason_parse(r);

				if (id < 0 || id >= XLB_R_EV_FLOOD) {
					free(list);
					err = cli_usage_error(c, "invalid reason \"%s\" (a verdict "
							      "reason of xlb stats: tx, pass_not_vip, "
							      "drop_malformed, ...)", r);
					goto fail;
				}
				json_array_append_new(reasons, json_string(r));
			}
			free(list);
		} else if (!strcmp(k, "vip")) {
			if (cli_parse_vip(c, v, vbuf, sizeof(vbuf), NULL)) {
				err = XLB_EUSAGE;
				goto fail;
			}
			json_object_set_new(req, "vip", json_string(vbuf));
		} else if (!strcmp(k, "address")) {
			__be32 a[4];
			__u8 fam;

			if (xlb_addr_parse(v, a, &fam)) {
				err = cli_usage_error(c, "invalid address \"%s\"", v);
				goto fail;
			}
			json_object_set_new(req, "address", json_string(v));
		} else if (!strcmp(k, "sample")) {
			if (cli_parse_range(c, "sample", v, XLB_RANGE_MON_SAMPLE, &sample)) {
				err = XLB_EUSAGE;
				goto fail;
			}
			json_object_set_new(req, "sample", json_integer(sample));
		} else if (!strcmp(k, "count")) {
			if (cli_parse_range(c, "count", v, XLB_RANGE_MON_COUNT, &count)) {
				err = XLB_EUSAGE;
				goto fail;
			}
		} else if (!strcmp(k, "duration")) {
			if (cli_parse_seconds(c, "duration", v, &duration)) {
				err = XLB_EUSAGE;
				goto fail;
			}
		} else {
			err = cli_usage_error(c, "unexpected argument \"%s\"", k);
			goto fail;
		}
	}
	if (reasons)
		json_object_set_new(req, "reasons", reasons);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	fd = cli_send(c, req);
	if (fd < 0)
		return fd;
	err = stream(c, fd, count, duration > 0 ? now_ms() + (long long)(duration * 1000) : 0);
	close(fd);
	return err;
fail:
	if (reasons && !json_object_get(req, "reasons"))
		json_decref(reasons);
	json_decref(req);
	return err;
}

const struct cli_obj cli_obj_monitor = {
	.name = "monitor",
	.fn = do_monitor,
	.usage =
	"Usage: xlb monitor [ reason REASON[,REASON...] ] [ vip VIP ] [ address ADDR ]\n"
	"                   [ sample N ] [ count N ] [ duration SECONDS ]\n"
	"       xlb monitor help\n",
};
