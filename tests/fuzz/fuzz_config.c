// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: bytes as an xlbd config file, through xlb_cfg_load() (the parser xlbd runs
 * at start and on reload, validation included). Besides memory errors it holds the result to
 * what xlbd relies on: a file refused has its reasons (one "path: message" line each); a file
 * accepted has none, and its model written as JSON (as xlbd saves it after an API change)
 * parses back to an equal config, as does a copy of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config_file.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violation(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s\n%s\n", what, detail ? detail : "");
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("xlb-fuzz-config", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

/* @cfg, serialized as xlbd writes it, must parse back to an equal config. */
static void check_roundtrip(const struct xlb_cfg *cfg)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *back, *dup;
	json_t *j = xlb_cfg_to_json(cfg);
	char *text;

	if (!j)
		violation("an accepted config does not serialize", NULL);
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		violation("an accepted config does not dump as JSON text", NULL);
	back = xlb_cfg_parse_string(text, &e);
	if (!back)
		violation("the JSON of an accepted config is refused", e.text);
	if (!xlb_cfg_equal(cfg, back))
		violation("the JSON of an accepted config parses to another config", text);
	dup = xlb_cfg_dup(cfg);
	if (!dup || !xlb_cfg_equal(cfg, dup))
		violation("a copy of an accepted config differs", NULL);
	xlb_cfg_free(dup);
	xlb_cfg_free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlb_cfg_errors e = {};
	struct xlb_cfg *cfg;
	const char *line;
	unsigned int n = 0;
	char first[256];

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		violation("cannot write the memfd", NULL);
	cfg = xlb_cfg_load(path, &e);
	if (!cfg) {
		json_t *s;

		if (!e.count || !e.text || !*xlb_cfg_errors_first(&e, first, sizeof(first)))
			violation("a config refused without a reason", NULL);
		/* the first reason is the API's error reply: a JSON string */
		s = json_string(first);
		if (!s)
			violation("a reason that is not UTF-8 (no JSON reply)", first);
		json_decref(s);
		/* every line is a reason: none empty, the count right */
		for (line = e.text; *line; n++) {
			const char *nl = strchr(line, '\n');

			if (!nl || nl == line)
				violation("an error line is empty or unterminated", e.text);
			line = nl + 1;
		}
		if (n != e.count)
			violation("the error count differs from the lines", e.text);
	} else {
		if (e.count)
			violation("a config accepted with errors", e.text);
		check_roundtrip(cfg);
		if (xlb_cfg_check_vips(cfg, &e))
			violation("an accepted config fails its own cross-object rules", e.text);
		xlb_cfg_free(cfg);
	}
	xlb_cfg_errors_free(&e);
	return 0;
}
