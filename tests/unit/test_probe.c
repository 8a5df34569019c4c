// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the probe engine and health rules: agent lines, HTTP status lines, timer heap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "health.h"
#include "probe.h"

/* ---------------------------------------------------------------- agent_parse */

struct agent_case {
	const char *line;
	int ret;
	int weight;
	enum agent_state state;
	const char *reason;
};

static const struct agent_case agent_cases[] = {
	{ "50%", 0, 50, AGENT_NONE, "" },
	{ "0%", 0, 0, AGENT_NONE, "" },
	{ "100%", 0, 100, AGENT_NONE, "" },
	{ "256%", 0, 256, AGENT_NONE, "" },
	{ "75%\r", 0, 75, AGENT_NONE, "" },
	{ "75%\r\n", 0, 75, AGENT_NONE, "" },
	{ "drain", 0, -1, AGENT_DRAIN, "" },
	{ "DRAIN", 0, -1, AGENT_DRAIN, "" },
	{ "ready", 0, -1, AGENT_READY, "" },
	{ "up", 0, -1, AGENT_UP, "" },
	{ "maint", 0, -1, AGENT_MAINT, "" },
	{ "down", 0, -1, AGENT_DOWN, "" },
	{ "fail", 0, -1, AGENT_DOWN, "" },
	{ "stopped", 0, -1, AGENT_DOWN, "" },
	{ "down#maint window", 0, -1, AGENT_DOWN, "maint window" },
	{ "down #  maint window  ", 0, -1, AGENT_DOWN, "maint window" },
	{ "fail#disk full, #2", 0, -1, AGENT_DOWN, "disk full, #2" },
	{ "up 75%", 0, 75, AGENT_UP, "" },
	{ "75%,ready", 0, 75, AGENT_READY, "" },
	{ "  ready ,\t 30% , up ", 0, 30, AGENT_READY, "" },
	{ "up drain", 0, -1, AGENT_DRAIN, "" },		/* the most restrictive wins */
	{ "drain up", 0, -1, AGENT_DRAIN, "" },
	{ "maint down ready", 0, -1, AGENT_DOWN, "" },
	{ "10% 20%", 0, 20, AGENT_NONE, "" },		/* the last weight counts */
	{ "50% #busy", 0, 50, AGENT_NONE, "busy" },
	{ "down#tab\there", 0, -1, AGENT_DOWN, "tab?here" },
	{ "", -EINVAL },
	{ "   ", -EINVAL },
	{ ",,", -EINVAL },
	{ "#only a reason", -EINVAL },
	{ "\r\n", -EINVAL },
	{ "bogus", -EINVAL },
	{ "50% bogus", -EINVAL },
	{ "upp", -EINVAL },
	{ "u", -EINVAL },
	{ "%", -EINVAL },
	{ "257%", -EINVAL },
	{ "1000%", -EINVAL },
	{ "-5%", -EINVAL },
	{ "+5%", -EINVAL },
	{ "5.5%", -EINVAL },
	{ "50", -EINVAL },
	{ "50 %", -EINVAL },
	{ "maxconn:10", -EINVAL },
	{ "up\rdown", -EINVAL },			/* a CR inside the line is no separator */
	{ "drain;", -EINVAL },
};

static void test_agent_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(agent_cases) / sizeof(agent_cases[0]); i++) {
		const struct agent_case *c = &agent_cases[i];
		struct agent_reply r = { .weight_pct = 12345, .state = 99, .reason = "untouched" };
		int ret = agent_parse(c->line, &r);

		if (ret != c->ret)
			fail_msg("agent_parse(\"%s\") = %d, want %d", c->line, ret, c->ret);
		if (ret) {
			/* a malformed line leaves the output alone */
			if (r.weight_pct != 12345 || strcmp(r.reason, "untouched"))
				fail_msg("agent_parse(\"%s\") wrote its output on failure",
					 c->line);
			continue;
		}
		if (r.weight_pct != c->weight || r.state != c->state || strcmp(r.reason, c->reason))
			fail_msg("agent_parse(\"%s\") = {%d, %s, \"%s\"}, want {%d, %s, \"%s\"}",
				 c->line, r.weight_pct, agent_state_name(r.state), r.reason,
				 c->weight, agent_state_name(c->state), c->reason);
	}
}

static void test_agent_reason_bounded(void **state)
{
	char line[300];
	struct agent_reply r;

	(void)state;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "down#", 5);
	assert_int_equal(agent_parse(line, &r), 0);
	assert_int_equal(strlen(r.reason), sizeof(r.reason) - 1);
}

/* ---------------------------------------------------------------- http_status_parse */

struct http_case {
	const char *buf;
	int ret;
	int status;
};

static const struct http_case http_cases[] = {
	{ "HTTP/1.1 200 OK\r\n", 0, 200 },
	{ "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 0, 500 },
	{ "HTTP/1.1 204\r\n", 0, 204 },
	{ "HTTP/1.1 204 \r\n", 0, 204 },
	{ "HTTP/1.1 301 Moved\n", 0, 301 },		/* bare LF */
	{ "HTTP/1.1 404 Not\tFound\r\n", 0, 404 },
	{ "HTTP/1.1 200 caf\xc3\xa9\r\n", 0, 200 },	/* obs-text */
	{ "HTTP/1.1 599 x\r\n", 0, 599 },
	{ "HTTP/1.1 100 Continue\r\n", 0, 100 },
	{ "", -EAGAIN },
	{ "H", -EAGAIN },
	{ "HTTP/1.", -EAGAIN },
	{ "HTTP/1.1 ", -EAGAIN },
	{ "HTTP/1.1 20", -EAGAIN },
	{ "HTTP/1.1 200", -EAGAIN },
	{ "HTTP/1.1 200 OK", -EAGAIN },
	{ "HTTP/1.1 200 OK\r", -EAGAIN },
	{ "http/1.1 200 OK\r\n", -EINVAL },		/* the name is case-sensitive */
	{ "HTTP/11 200 OK\r\n", -EINVAL },
	{ "HTTP/1.1  200 OK\r\n", -EINVAL },
	{ "HTTP/1.1 20 OK\r\n", -EINVAL },
	{ "HTTP/1.1 2000 OK\r\n", -EINVAL },
	{ "HTTP/1.1 099 OK\r\n", -EINVAL },
	{ "HTTP/1.1 600 OK\r\n", -EINVAL },
	{ "HTTP/1.1 200OK\r\n", -EINVAL },
	{ "HTTP/1.1 200 OK\rX", -EINVAL },
	{ "HTTP/1.1 200 O\x01K\r\n", -EINVAL },
	{ "HTTP/1.1 200 O\x7fK\r\n", -EINVAL },
	{ "HTTP/2 200\r\n", -EINVAL },
	{ " HTTP/1.1 200 OK\r\n", -EINVAL },
	{ "SSH-2.0-OpenSSH_9.2\r\n", -EINVAL },
	{ "ICY 200 OK\r\n", -EINVAL },
};

static void test_http_status_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]); i++) {
		const struct http_case *c = &http_cases[i];
		int st = -1, ret = http_status_parse(c->buf, strlen(c->buf), &st);

		if (ret != c->ret)
			fail_msg("http_status_parse(\"%s\") = %d, want %d", c->buf, ret, c->ret);
		if (!ret && st != c->status)
			fail_msg("http_status_parse(\"%s\"): status %d, want %d", c->buf, st,
				 c->status);
	}
}

/* A valid line fed byte by byte is -EAGAIN until its LF, whatever follows in the buffer. */
static void test_http_status_prefixes(void **state)
{
	const char *reply = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n";
	size_t end = strstr(reply, "\n") - reply + 1, len;
	int st;

	(void)state;
	for (len = 0; len < end; len++)
		assert_int_equal(http_status_parse(reply, len, &st), -EAGAIN);
	for (; len <= strlen(reply); len++) {
		st = 0;
		assert_int_equal(http_status_parse(reply, len, &st), 0);
		assert_int_equal(st, 503);
	}
}

/* ---------------------------------------------------------------- targets */

static void never_called(void *ctx, const struct probe_result *r)
{
	(void)ctx;
	fail_msg("callback of a refused probe called (%s)", r->detail);
}

static void test_target_check(void **state)
{
	const struct probe_target good = {
		.type = PROBE_HTTP, .family = XLB_AF_INET, .port = 80, .timeout_ms = 200,
	};
	struct probe_target t;
	struct prober *p;

	(void)state;
	assert_int_equal(probe_target_check(&good), 0);
#define BAD(field, value)                                                   \
	do {                                                                \
		t = good;                                                   \
		t.field = value;                                            \
		if (probe_target_check(&t) != -EINVAL)                      \
			fail_msg("target with " #field " = " #value " accepted"); \
	} while (0)
	BAD(type, 0);
	BAD(type, PROBE_AGENT + 1);
	BAD(family, 2);
	BAD(port, 0);
	BAD(timeout_ms, 0);
	BAD(http_path, "health");
	BAD(http_path, "/a b");
	BAD(http_path, "/a\r\nX-Injected: 1");
	BAD(http_path, "");
	BAD(http_host, "a\r\nb");
	BAD(http_host, "");
	BAD(expect_lo, 99);
	BAD(expect_hi, 600);
	t = good;
	t.expect_lo = 400;
	t.expect_hi = 300;
	assert_int_equal(probe_target_check(&t), -EINVAL);
	t = good;
	t.type = PROBE_UDP;
	t.udp_payload_len = 4;		/* with no payload */
	assert_int_equal(probe_target_check(&t), -EINVAL);
	t.udp_payload = "ping";
	assert_int_equal(probe_target_check(&t), 0);
	t.udp_expect_len = PROBE_UDP_EXPECT_MAX + 1;
	t.udp_expect = "x";
	assert_int_equal(probe_target_check(&t), -EINVAL);

	/* prober_start() refuses the same targets, without starting anything */
	p = prober_new();
	assert_non_null(p);
	t = good;
	t.http_path = "/x y";
	assert_int_equal(prober_start(p, &t, never_called, NULL, NULL), -EINVAL);
	assert_int_equal(prober_inflight(p), 0);
	prober_free(p);
}

/* ---------------------------------------------------------------- timers */

struct tt {
	struct prober_timer t;
	unsigned int id;
};

static struct {
	unsigned int fired[4096];
	uint64_t when[4096];
	unsigned int n;
} log_;

static void tt_fn(struct prober_timer *t)
{
	struct tt *x = (struct tt *)t;

	log_.fired[log_.n] = x->id;
	log_.when[log_.n] = t->when_ns;
	log_.n++;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * Random arms, moves and cancels, then expiry in steps: every step fires exactly the timers
 * due by then that are still armed, earliest first.
 */
static void test_timer_order(void **state)
{
	enum { N = 3000 };
	static struct tt ts[N];
	static uint64_t want[N];	/* expected expiry; 0 = cancelled */
	struct prober *p = prober_new();
	unsigned int i, round, nwant = 0, seen = 0;
	uint64_t now;

	(void)state;
	assert_non_null(p);
	memset(&log_, 0, sizeof(log_));
	for (i = 0; i < N; i++) {
		ts[i] = (struct tt){ .t.fn = tt_fn, .id = i };
		want[i] = 1000 + rng() % 100000;
		assert_int_equal(prober_timer_arm(p, &ts[i].t, want[i]), 0);
	}
	for (i = 0; i < N; i++) {
		switch (rng() % 4) {
		case 0: /* moved */
			want[i] = 1000 + rng() % 100000;
			assert_int_equal(prober_timer_arm(p, &ts[i].t, want[i]), 0);
			break;
		case 1:
			prober_timer_cancel(p, &ts[i].t);
			prober_timer_cancel(p, &ts[i].t);	/* twice: a no-op */
			assert_false(prober_timer_armed(&ts[i].t));
			want[i] = 0;
			break;
		}
	}
	for (i = 0; i < N; i++)
		nwant += want[i] != 0;
	for (round = 0, now = 0; now < 101000 + 997; round++, now += 997) {
		unsigned int from = log_.n;

		prober_expire(p, now);
		for (i = from; i < log_.n; i++) {
			unsigned int id = log_.fired[i];

			if (!want[id] || want[id] > now)
				fail_msg("timer %u (due %llu) fired at %llu", id,
					 (unsigned long long)want[id], (unsigned long long)now);
			if (i > from && log_.when[i] < log_.when[i - 1])
				fail_msg("timer %u fired after a later one", id);
			if (ts[id].t.slot)
				fail_msg("timer %u still armed after firing", id);
			want[id] = 0; /* fires once */
			seen++;
		}
		/* nothing due was left behind */
		for (i = 0; i < N; i++)
			if (want[i] && want[i] <= now)
				fail_msg("timer %u due %llu not fired at %llu", i,
					 (unsigned long long)want[i], (unsigned long long)now);
	}
	assert_int_equal(seen, nwant);
	prober_free(p);
}

static unsigned int rearm_count;
static struct prober *rearm_p;

static void rearm_fn(struct prober_timer *t)
{
	rearm_count++;
	prober_timer_arm(rearm_p, t, 1); /* for the past, again */
}

/* A callback that re-arms for the past fires once per expiry, not forever. */
static void test_timer_rearm_bounded(void **state)
{
	struct prober_timer t = { .fn = rearm_fn }, u = { .fn = rearm_fn };

	(void)state;
	rearm_p = prober_new();
	assert_non_null(rearm_p);
	rearm_count = 0;
	prober_timer_arm(rearm_p, &t, 5);
	prober_timer_arm(rearm_p, &u, 6);
	prober_expire(rearm_p, 10);
	assert_in_range(rearm_count, 2, 3);
	prober_expire(rearm_p, 10);
	assert_in_range(rearm_count, 4, 6);
	prober_timer_cancel(rearm_p, &t);
	prober_timer_cancel(rearm_p, &u);
	rearm_count = 0;
	prober_expire(rearm_p, 10);
	assert_int_equal(rearm_count, 0);
	prober_free(rearm_p);
}

/* ---------------------------------------------------------------- health rules */

static void test_verdict_next(void **state)
{
	(void)state;
	/* from UNKNOWN: rise successes or fall failures decide */
	assert_int_equal(hc_verdict_next(HC_UNKNOWN, 1, 0, 3, 2), HC_UNKNOWN);
	assert_int_equal(hc_verdict_next(HC_UNKNOWN, 2, 0, 3, 2), HC_UNKNOWN);
	assert_int_equal(hc_verdict_next(HC_UNKNOWN, 3, 0, 3, 2), HC_UP);
	assert_int_equal(hc_verdict_next(HC_UNKNOWN, 0, 1, 3, 2), HC_UNKNOWN);
	assert_int_equal(hc_verdict_next(HC_UNKNOWN, 0, 2, 3, 2), HC_DOWN);
	/* UP stays up until fall failures */
	assert_int_equal(hc_verdict_next(HC_UP, 0, 1, 3, 2), HC_UP);
	assert_int_equal(hc_verdict_next(HC_UP, 0, 2, 3, 2), HC_DOWN);
	assert_int_equal(hc_verdict_next(HC_UP, 7, 0, 3, 2), HC_UP);
	/* DOWN stays down until rise successes */
	assert_int_equal(hc_verdict_next(HC_DOWN, 2, 0, 3, 2), HC_DOWN);
	assert_int_equal(hc_verdict_next(HC_DOWN, 3, 0, 3, 2), HC_UP);
	assert_int_equal(hc_verdict_next(HC_DOWN, 0, 9, 3, 2), HC_DOWN);
	/* rise = fall = 1: every result decides */
	assert_int_equal(hc_verdict_next(HC_UP, 0, 1, 1, 1), HC_DOWN);
	assert_int_equal(hc_verdict_next(HC_DOWN, 1, 0, 1, 1), HC_UP);
}

static void test_delay(void **state)
{
	struct hc_params hp = { .interval_ms = 200, .fastinter_ms = 50, .downinter_ms = 1000 };
	uint64_t r;
	unsigned int i;

	(void)state;
	assert_int_equal(hc_delay_ms(&hp, HC_UP, 5, 0), 200);		/* steady */
	assert_int_equal(hc_delay_ms(&hp, HC_UP, 0, 1), 50);		/* going down */
	assert_int_equal(hc_delay_ms(&hp, HC_DOWN, 0, 4), 1000);	/* steady down */
	assert_int_equal(hc_delay_ms(&hp, HC_DOWN, 1, 0), 50);		/* coming back */
	assert_int_equal(hc_delay_ms(&hp, HC_UNKNOWN, 0, 0), 200);
	assert_int_equal(hc_delay_ms(&hp, HC_UNKNOWN, 1, 0), 50);
	hp.fastinter_ms = hp.downinter_ms = 0;			/* both default to interval */
	assert_int_equal(hc_delay_ms(&hp, HC_UP, 0, 1), 200);
	assert_int_equal(hc_delay_ms(&hp, HC_DOWN, 0, 4), 200);

	assert_int_equal(hc_jitter_ms(200, 0, 12345), 200);
	for (i = 0, r = 1; i < 10000; i++) {
		uint32_t d = hc_jitter_ms(200, 10, rng());

		assert_in_range(d, 180, 220);
		r |= d == 180 ? 2 : d == 220 ? 4 : 0; /* both ends reachable */
	}
	assert_int_equal(r, 7);
}

static void test_agent_merge(void **state)
{
	struct agent_reply cur = { .weight_pct = -1, .state = AGENT_NONE }, rep;

	(void)state;
	assert_int_equal(agent_parse("50%", &rep), 0);
	hc_agent_merge(&cur, &rep);
	assert_int_equal(cur.weight_pct, 50);
	assert_int_equal(cur.state, AGENT_NONE);
	assert_int_equal(agent_parse("down#maint window", &rep), 0);
	hc_agent_merge(&cur, &rep);
	assert_int_equal(cur.weight_pct, 50);		/* kept */
	assert_int_equal(cur.state, AGENT_DOWN);
	assert_string_equal(cur.reason, "maint window");
	assert_int_equal(agent_parse("75%", &rep), 0);
	hc_agent_merge(&cur, &rep);
	assert_int_equal(cur.weight_pct, 75);
	assert_int_equal(cur.state, AGENT_DOWN);	/* kept, with its reason */
	assert_string_equal(cur.reason, "maint window");
	assert_int_equal(agent_parse("ready", &rep), 0);
	hc_agent_merge(&cur, &rep);
	assert_int_equal(cur.state, AGENT_READY);
	assert_string_equal(cur.reason, "");
}

/* Bad checker parameters are refused. */
static void test_hc_params(void **state)
{
	struct hc_params good = {
		.target = { .type = PROBE_TCP, .family = XLB_AF_INET, .port = 80,
			    .timeout_ms = 200 },
		.interval_ms = 200, .rise = 3, .fall = 2,
	}, hp;
	struct prober *p = prober_new();
	struct health_checker *hc;

	(void)state;
	assert_non_null(p);
	hc = hc_new(p, &good, NULL, NULL);
	assert_non_null(hc);
	assert_int_equal(hc->verdict, HC_UNKNOWN);
	assert_int_equal(hc->agent.weight_pct, -1);
	hc_free(hc);
#define BAD_HC(field, value)                                                  \
	do {                                                                  \
		hp = good;                                                    \
		hp.field = value;                                             \
		errno = 0;                                                    \
		if (hc_new(p, &hp, NULL, NULL) || errno != EINVAL)            \
			fail_msg("hc_new with " #field " = " #value " accepted"); \
	} while (0)
	BAD_HC(interval_ms, 0);
	BAD_HC(rise, 0);
	BAD_HC(fall, 0);
	BAD_HC(jitter_pct, 51);
	BAD_HC(target.port, 0);
	BAD_HC(target.timeout_ms, 0);
	/* the agent inherits the timeout; its own port must be valid */
	hp = good;
	hp.agent_port = 9000;
	hc = hc_new(p, &hp, NULL, NULL);
	assert_non_null(hc);
	assert_int_equal(hc->params.agent_interval_ms, 200);
	assert_int_equal(hc->params.agent_timeout_ms, 200);
	/* started: both timers armed; stopped: none */
	assert_int_equal(hc_start(hc, HC_UP), 0);
	assert_true(prober_timer_armed(&hc->timer));
	assert_true(prober_timer_armed(&hc->agent_timer));
	assert_int_equal(hc->verdict, HC_UP);
	hc_stop(hc);
	assert_false(prober_timer_armed(&hc->timer));
	assert_false(prober_timer_armed(&hc->agent_timer));
	hc_free(hc);
	/* type 0: no health probe, the agent alone */
	hp = good;
	hp.target.type = 0;
	hp.target.port = 0;
	hp.agent_port = 9000;
	hc = hc_new(p, &hp, NULL, NULL);
	assert_non_null(hc);
	assert_int_equal(hc_start(hc, HC_UP), 0);
	assert_false(prober_timer_armed(&hc->timer));
	assert_true(prober_timer_armed(&hc->agent_timer));
	hc_free(hc);
	prober_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_parse),
		cmocka_unit_test(test_agent_reason_bounded),
		cmocka_unit_test(test_http_status_parse),
		cmocka_unit_test(test_http_status_prefixes),
		cmocka_unit_test(test_target_check),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_rearm_bounded),
		cmocka_unit_test(test_verdict_next),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_agent_merge),
		cmocka_unit_test(test_hc_params),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
