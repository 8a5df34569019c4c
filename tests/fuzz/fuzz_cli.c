// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: bytes as an xlb command line. The input is one argv word per line; an
 * empty line ends the words and what follows is the content of any file the command reads
 * (-b FILE, or -b - on stdin). The CLI runs as it is, from its own main() (compiled here as
 * xlb_main), with link-time substitutions (-Wl,--wrap): cli_request() records the request
 * instead of connecting (and fails, as an unreachable daemon would: every loop ends), fopen()
 * reads the input's file content instead of any path, and json_object_set_new() refuses a
 * value that could not be made.
 *
 * Beyond memory errors it holds the CLI to its contract: every request it would send is a JSON
 * object with a string "cmd" that survives the line framing (one line, no newline inside) and
 * parses back equal, without a key left out; a usage error (exit 2) sent nothing; a command
 * that sent a request does not report success when the request failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int xlb_main(int argc, char **argv);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
json_t *__wrap_cli_request(struct cli *c, json_t *req);
int __real_json_object_set_new(json_t *object, const char *key, json_t *value);
int __wrap_json_object_set_new(json_t *object, const char *key, json_t *value);

#define WORDS_MAX 128

static FILE *real_stderr, *devnull;
static const char *file_text;	/* the input's file content while a command runs, else NULL */
static size_t file_len;
static unsigned int requests;	/* requests the command would have sent */
static const uint8_t *input;
static size_t input_len;
static bool show;		/* $FUZZ_SHOW: print the requests and exit status (to replay) */

static void violation(const char *what, const char *detail)
{
	fprintf(real_stderr, "fuzz_cli: %s\n%s\ninput (argv words one a line):\n%.*s\n", what,
		detail ? detail : "", (int)(input_len > 4000 ? 4000 : input_len),
		(const char *)input);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	real_stderr = stderr;
	devnull = __real_fopen("/dev/null", "w");
	if (!devnull) {
		perror("/dev/null");
		exit(1);
	}
	/* the CLI's output goes nowhere; libFuzzer and the sanitizers keep the real stderr */
	stdout = devnull;
	stderr = devnull;
	unsetenv("XLB_SOCKET");
	show = getenv("FUZZ_SHOW");
	return 0;
}

static FILE *open_file_text(void)
{
	if (!file_len)
		return __real_fopen("/dev/null", "r");
	return fmemopen((void *)file_text, file_len, "r");
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	if (!file_text)
		return __real_fopen(path, mode);
	return open_file_text();
}

/*
 * A value the CLI could not make (json_string() of bytes that are not UTF-8, say) would leave
 * its key out of the request without a word: the user's setting silently dropped.
 */
int __wrap_json_object_set_new(json_t *object, const char *key, json_t *value)
{
	if (!value)
		violation("a request key left out: its JSON value could not be made", key);
	return __real_json_object_set_new(object, key, value);
}

json_t *__wrap_cli_request(struct cli *c, json_t *req)
{
	json_t *back, *cmd;
	json_error_t jerr;
	char *text;

	(void)c;
	requests++;
	if (!req)
		violation("the CLI built no request (a JSON value it could not make?)", NULL);
	cmd = json_object_get(req, "cmd");
	if (!json_is_object(req) || !json_is_string(cmd))
		violation("a request without a string cmd", NULL);
	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		violation("a request that does not serialize", NULL);
	if (show)
		fprintf(real_stderr, "request: %s\n", text);
	if (strchr(text, '\n'))
		violation("a request that is not one line", text);
	back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!back || !json_equal(back, req))
		violation("a request that does not parse back equal", text);
	if (!strcmp(json_string_value(cmd), "batch")) {
		json_t *ops = json_object_get(req, "ops"), *op;
		size_t i;

		if (!json_is_array(ops) || !json_array_size(ops))
			violation("a batch without ops", text);
		json_array_foreach(ops, i, op)
			if (!json_is_string(json_object_get(op, "cmd")))
				violation("a batch op without a string cmd", text);
	}
	json_decref(back);
	json_decref(req);
	free(text);
	return NULL;	/* as when xlbd cannot be reached: the error path of every command */
}

/*
 * A streaming request (xlb monitor) goes through cli_send() of client.c, which is left out:
 * the same checks, then the error of a daemon that cannot be reached.
 */
int cli_send(struct cli *c, json_t *req)
{
	__wrap_cli_request(c, req);
	return cli_error(c, "xlbd not reached (fuzzing)");
}

/* -j prints the reply through cli_request_print() of client.c, also left out: the same. */
int cli_request_print(struct cli *c, json_t *req, FILE *f)
{
	(void)f;
	__wrap_cli_request(c, req);
	return -EIO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *argv[WORDS_MAX + 2];
	FILE *saved_stdin = stdin, *in;
	int argc = 0, status;

	input = data;
	input_len = size;
	argv[argc++] = strdup("xlb");
	while (p < end && argc <= WORDS_MAX) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = (nl ? nl : end) - p;

		if (nl && !len) {	/* an empty line: the words end */
			p++;
			break;
		}
		argv[argc] = strndup(p, len);	/* stops at a NUL byte, as argv would */
		argc++;
		p += len + !!nl;
	}
	argv[argc] = NULL;
	file_text = p;
	file_len = end - p;
	in = open_file_text();
	stdin = in;
	requests = 0;
	optind = 0;	/* glibc: getopt starts afresh */
	status = xlb_main(argc, argv);
	stdin = saved_stdin;
	fclose(in);
	file_text = NULL;
	if (show)
		fprintf(real_stderr, "exit status %d\n", status);
	if (status != 0 && status != 1 && status != 2)
		violation("an exit status other than 0, 1 or 2", NULL);
	if (status == 2 && requests)
		violation("a usage error (exit 2) after a request was sent", NULL);
	if (status == 0 && requests)
		violation("success reported although the request failed", NULL);
	while (argc--)
		free(argv[argc]);
	return 0;
}
