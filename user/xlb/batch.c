// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlb -b FILE: a file of commands (one a line, as on the command line) sent as one batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WORDS_MAX 128

/*
 * Split @line into words in place: blanks separate them, double quotes keep blanks in one
 * (\" and \\ inside quotes), a word starting with # ends the line. Returns the count, or -1
 * for an unterminated quote or too many words.
 */
static int split(char *line, char **w)
{
	char *r = line, *o;
	int n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			r++;
		if (!*r || *r == '#')
			return n;
		if (n == WORDS_MAX)
			return -1;
		w[n++] = o = r;
		while (*r && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
			if (*r != '"') {
				*o++ = *r++;
				continue;
			}
			for (r++; *r != '"'; r++) {
				if (!*r)
					return -1;
				if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
					r++;
				*o++ = *r;
			}
			r++;
		}
		if (*r)
			r++;
		*o = '\0';
	}
}

int cli_batch(struct cli *c, const char *file, int (*run)(struct cli *c, int argc, char **argv))
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	char *line = NULL, *w[WORDS_MAX];
	size_t cap = 0, nops = 0, lines_cap = 0;
	int err = 0, n;
	json_t *res;

	c->batch_file = file;
	if (!f)
		return cli_error(c, "cannot open \"%s\": %s", file, strerror(errno));
	c->batch = json_array();
	while (!err && getline(&line, &cap, f) >= 0) {
		c->line++;
		n = split(line, w);
		if (n < 0) {
			err = cli_usage_error(c, "unterminated quote or more than %d words",
					      WORDS_MAX);
			break;
		}
		if (!n)
			continue;
		err = run(c, n, w);
		for (; !err && nops < json_array_size(c->batch); nops++) {
			if (nops == lines_cap) {
				int *l = realloc(c->op_lines, (lines_cap ? lines_cap * 2 : 64) *
							      sizeof(*l));

				if (!l) {
					err = cli_error(c, "out of memory");
					break;
				}
				c->op_lines = l;
				lines_cap = lines_cap ? lines_cap * 2 : 64;
			}
			c->op_lines[nops] = c->line;
			c->nop_lines = nops + 1;
		}
	}
	if (!err && ferror(f))
		err = cli_error(c, "cannot read \"%s\": %s", file, strerror(errno));
	free(line);
	if (f != stdin)
		fclose(f);
	c->line = 0;
	if (!err && !nops)
		err = cli_usage_error(c, "%s: no command to run", strcmp(file, "-") ? file : "stdin");
	if (err) {
		json_decref(c->batch);
		c->batch = NULL;
		free(c->op_lines);
		return err;
	}
	/* the whole file, one request: all of it applied, or nothing (an error names the line) */
	res = json_pack("{s:s, s:o}", "cmd", "batch", "ops", c->batch);
	c->batch = NULL;
	c->timeout_ms = XLB_BATCH_TIMEOUT_MS;
	res = cli_request(c, res);
	free(c->op_lines);
	c->op_lines = NULL;
	if (!res)
		return -EIO;
	if (c->json) {
		json_dumpf(res, stdout, c->pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
	}
	json_decref(res);
	return 0;
}
