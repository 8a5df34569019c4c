// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The xlbd client: one JSON request and one JSON reply per line over the Unix socket. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REPLY_MAX (256u << 20)	/* a full table of the largest M is a few MiB */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int connect_daemon(struct cli *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = c->timeout_ms / 1000,
			      .tv_usec = (c->timeout_ms % 1000) * 1000 };
	int fd, err;

	if (strlen(c->socket) >= sizeof(sun.sun_path)) {
		cli_error(c, "socket path too long: \"%s\"", c->socket);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, c->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cli_error(c, "socket: %s", strerror(errno));
	/* connect() and send() on a Unix socket wait at most the send timeout (full backlog). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = errno;
		close(fd);
		return cli_error(c, "cannot connect to xlbd at %s: %s%s", c->socket,
				 err == EAGAIN ? "timed out" : strerror(err),
				 err == ENOENT || err == ECONNREFUSED ?
					 " (is xlbd running? -s PATH or XLB_SOCKET selects the socket)" :
					 "");
	}
	return fd;
}

static int send_all(struct cli *c, int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cli_error(c, "cannot send to xlbd at %s: %s", c->socket,
					 errno == EAGAIN ? "timed out" : strerror(errno));
		buf += n;
		len -= n;
	}
	return 0;
}

int cli_send(struct cli *c, json_t *req)
{
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int fd;

	json_decref(req);
	if (!text)
		return cli_error(c, "out of memory");
	fd = connect_daemon(c);
	if (fd >= 0 && (send_all(c, fd, text, strlen(text)) || send_all(c, fd, "\n", 1))) {
		close(fd);
		fd = -EIO;
	}
	free(text);
	return fd;
}

/* Reads up to the first newline within the deadline; returns the line (malloc'd) or NULL. */
static char *read_line(struct cli *c, int fd)
{
	long long deadline = now_ms() + c->timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl;

	if (!buf) {
		cli_error(c, "out of memory");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			cli_error(c, "xlbd at %s did not answer within %d ms", c->socket,
				  c->timeout_ms);
			goto err;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_error(c, "poll: %s", strerror(errno));
			goto err;
		}
		if (r == 0)
			continue;	/* the deadline check above reports it */
		if (cap - len < 4096) {
			char *p;

			if (cap >= REPLY_MAX) {
				cli_error(c, "reply from xlbd at %s is too long", c->socket);
				goto err;
			}
			p = realloc(buf, cap * 2);
			if (!p) {
				cli_error(c, "out of memory");
				goto err;
			}
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error(c, "cannot read from xlbd at %s: %s", c->socket, strerror(errno));
			goto err;
		}
		if (n == 0) {
			cli_error(c, "xlbd at %s closed the connection without a reply", c->socket);
			goto err;
		}
		buf[len + n] = '\0';
		nl = memchr(buf + len, '\n', n);
		len += n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
	}
err:
	free(buf);
	return NULL;
}

/* Sends @req (its reference is taken) and returns the reply line, or NULL after the error. */
static char *exchange(struct cli *c, json_t *req)
{
	char *line = NULL, *text;
	int fd;

	if (!req) {
		cli_error(c, "out of memory");
		return NULL;
	}
	/* -r REV: every change holds only if the shared configuration is as read at REV */
	if (c->revision >= 0 && json_is_string(json_object_get(req, "cmd"))) {
		static const char *const changes[] = { "vip_add", "vip_del", "vip_set",
						       "backend_add", "backend_del", "backend_set",
						       "batch" };
		const char *cmd = json_string_value(json_object_get(req, "cmd"));

		for (size_t i = 0; i < ARRAY_SIZE(changes); i++)
			if (!strcmp(cmd, changes[i]))
				json_object_set_new(req, "revision", json_integer(c->revision));
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		cli_error(c, "out of memory");
		return NULL;
	}
	fd = connect_daemon(c);
	if (fd >= 0 && !send_all(c, fd, text, strlen(text)) && !send_all(c, fd, "\n", 1))
		line = read_line(c, fd);
	if (fd >= 0)
		close(fd);
	free(text);
	return line;
}

/* The reply @line (taken) without "ok", or NULL once its error has been reported. */
static json_t *reply_of(struct cli *c, char *line)
{
	json_t *reply, *ok;
	json_error_t jerr;

	reply = json_loads(line, 0, &jerr);
	if (!reply || !json_is_object(reply)) {
		cli_error(c, "invalid reply from xlbd at %s: %s", c->socket,
			  reply ? "not an object" : jerr.text);
		goto fail;
	}
	ok = json_object_get(reply, "ok");
	if (!json_is_true(ok)) {
		json_t *msg = json_object_get(reply, "error");

		const char *m = json_is_string(msg) ? json_string_value(msg) : NULL;
		unsigned long op;
		char *end;

		/* a refused op of a batch (-b FILE): named by its line of the file */
		if (m && c->op_lines && !strncmp(m, "ops[", 4) &&
		    (op = strtoul(m + 4, &end, 10), !strncmp(end, "] ", 2)) && op < c->nop_lines) {
			const char *why = end + 2, *close = why[0] == '(' ? strstr(why, "): ") : NULL;

			c->line = c->op_lines[op];
			cli_error(c, "%s", close ? close + 3 : why);
			c->line = 0;
		} else if (m)
			cli_error(c, "%s", m);
		else
			cli_error(c, "xlbd failed without saying why");
		goto fail;
	}
	json_object_del(reply, "ok");
	goto out;
fail:
	json_decref(reply);
	reply = NULL;
out:
	free(line);
	return reply;
}

/* The first of @keys that @req has and @line refuses ("KEY: unknown argument"), else -1. */
static int refused_key(json_t *req, const char *line, const char *const *keys, size_t n)
{
	char refused[64];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(refused, sizeof(refused), "\"error\":\"%s: unknown argument\"", keys[i]);
		if (json_object_get(req, keys[i]) && strstr(line, refused))
			return (int)i;
	}
	return -1;
}

json_t *cli_request(struct cli *c, json_t *req)
{
	/* "fields" and "rows" (the text tables') are newer than some xlbd: then without them */
	static const char *const newer[] = { "fields", "rows" };
	char *line;
	int k;

	for (;;) {
		json_t *full = NULL;
		size_t i;

		for (i = 0; req && i < ARRAY_SIZE(newer) && !full; i++)
			if (json_object_get(req, newer[i]))
				full = json_deep_copy(req);
		line = exchange(c, req);
		k = line && full ? refused_key(full, line, newer, ARRAY_SIZE(newer)) : -1;
		if (k < 0) {
			json_decref(full);
			break;
		}
		free(line);
		json_object_del(full, newer[k]);
		req = full;
	}
	return line ? reply_of(c, line) : NULL;
}

int cli_request_print(struct cli *c, json_t *req, FILE *f)
{
	static const char ok[] = "{\"ok\":true";
	const size_t n = sizeof(ok) - 1;
	char *line = exchange(c, req);
	json_t *reply;

	if (!line)
		return -EIO;
	/* xlbd writes "ok" first and every reply as json_dumps(JSON_COMPACT) would (API.md) */
	if (!strncmp(line, ok, n) && (line[n] == ',' || (line[n] == '}' && !line[n + 1]))) {
		if (line[n] == ',')
			fprintf(f, "{%s\n", line + n + 1);
		free(line);
		return 0;
	}
	reply = reply_of(c, line);
	if (!reply)
		return -EIO;
	if (json_object_size(reply)) {
		json_dumpf(reply, f, JSON_COMPACT);
		fputc('\n', f);
	}
	json_decref(reply);
	return 0;
}
