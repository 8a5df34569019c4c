// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb events: the daemon's recent transitions (health, weights, rebuilds); -f follows them. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define FOLLOW_POLL_US 200000	/* -f asks for new events this often */

static void print_event(struct cli *c, json_t *ev)
{
	static const char *const levels[] = { "warn", "info", "debug" };
	json_int_t ms = json_integer_value(json_object_get(ev, "time_ms"));
	json_int_t lvl = json_integer_value(json_object_get(ev, "level"));
	time_t s = ms / 1000;
	char when[32];
	struct tm tm;

	if (c->json) {
		json_dumpf(ev, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		return;
	}
	gmtime_r(&s, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03dZ %-5s %s\n", when, (int)(ms % 1000),
	       lvl >= 0 && lvl < 3 ? levels[lvl] : "?",
	       json_string_value(json_object_get(ev, "text")));
}

/* Prints the events after @since; returns the sequence number of the last one, or -1. */
static json_int_t fetch(struct cli *c, json_int_t since)
{
	json_t *res = cli_request(c, json_pack("{s:s, s:I}", "cmd", "events", "since", since));
	json_t *ev;
	json_int_t last;
	size_t i;

	if (!res)
		return -1;
	json_array_foreach(json_object_get(res, "events"), i, ev)
		print_event(c, ev);
	last = json_integer_value(json_object_get(res, "last"));
	json_decref(res);
	fflush(stdout);
	return last;
}

static int do_events(struct cli *c, int argc, char **argv)
{
	bool follow = false;
	json_int_t last;

	for (; argc > 0; argc--, argv++) {
		if (!strcmp(argv[0], "-f") || !strcmp(argv[0], "follow"))
			follow = true;
		else
			return cli_usage_error(c, "unexpected argument \"%s\"", argv[0]);
	}
	last = fetch(c, 0);
	while (follow && last >= 0) {
		usleep(FOLLOW_POLL_US);
		last = fetch(c, last);
	}
	return last < 0 ? -EIO : 0;
}

const struct cli_obj cli_obj_events = {
	.name = "events",
	.fn = do_events,
	.usage =
	"Usage: xlb events [ -f | follow ]\n"
	"       xlb events help\n",
};
