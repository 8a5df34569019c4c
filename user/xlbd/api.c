// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd API transport: the Unix socket, non-blocking clients, line framing, one request line to
 * its command (the table below), replies queued and flushed. The commands are in api_*.c.
 *
 * One file past 600 lines by choice: everything here is one client's life (accept, read,
 * frame, dispatch, queue, flush, close) over one struct xlbd_client that no other file sees;
 * splitting the reading from the writing would only export that struct.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "shared.h"

struct xlbd_client {
	int fd;
	char *in;		/* request bytes not yet framed */
	size_t in_len, in_cap;
	size_t in_scan;		/* in[0 .. in_scan) holds no newline (a long line is scanned once) */
	char *out;		/* reply bytes not yet sent */
	size_t out_len, out_off, out_cap;
	struct timespec last;	/* last activity (monotonic) */
	bool closing;		/* close once @out is sent */
	bool discard;		/* after "request too long": send the reply, then drain input */
	bool shut;		/* shutdown(SHUT_WR) done: waiting for the client's EOF */
	bool eof;		/* the client sent EOF: answer what is buffered, then close */
	bool waiting;		/* its request waits for etcd (shared.c): the next ones wait too */
	uint32_t events;	/* epoll mask currently registered */
	struct xlbd_client *next;
};

/* Input buffers start small and grow, while a line is incomplete, up to one longest line. */
#define IN_START (64u << 10)
#define IN_CAP (XLBD_LINE_MAX + 1)

/* ------------------------------------------------------------------ socket */

int api_listen(struct xlbd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t old;
	int fd, err;

	if (strlen(d->socket_path) >= sizeof(sa.sun_path)) {
		pr_warn("socket path too long: %s", d->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, d->socket_path);
	strcpy(dir, d->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST) {
			err = -errno;
			pr_warn("cannot create %s: %s", dir, strerror(errno));
			return err;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file nobody answers on is stale; one that answers belongs to a live xlbd. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		pr_warn("another xlbd is serving %s", d->socket_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	if (errno == ECONNREFUSED) {
		struct stat st;

		/* only ever remove a stale socket, never a file given by mistake */
		if (lstat(d->socket_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			pr_warn("%s exists and is not a socket", d->socket_path);
			return -EEXIST;
		}
		unlink(d->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* the socket is created 0600 */
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || listen(fd, 128)) {
		err = -errno;
		pr_warn("cannot listen on %s: %s", d->socket_path, strerror(errno));
		close(fd);
		return err;
	}
	d->lfd = fd;
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

static void client_update_events(struct xlbd *d, struct xlbd_client *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if ((!c->closing && !c->eof && !c->waiting && c->out_len - c->out_off < XLBD_OUT_HIGH) ||
	    c->shut)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static void client_free(struct xlbd *d, struct xlbd_client *c)
{
	struct xlbd_client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	shared_client_gone(d, c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	d->nclients--;
}

void api_accept(struct xlbd *d)
{
	struct epoll_event e;
	struct xlbd_client *c;
	int fd;

	for (;;) {
		fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && d->spare_fd >= 0) {
			/*
			 * Out of descriptors: a pending connection would keep the listening
			 * socket readable forever. Free the spare, accept and close, take it back.
			 */
			close(d->spare_fd);
			fd = accept(d->lfd, NULL, NULL);
			if (fd >= 0)
				close(fd);
			d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return; /* EMFILE comes before EAGAIN: nothing was pending */
			pr_warn("out of file descriptors: refused a client (%u clients)",
				d->nclients);
			continue;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_warn("accept: %s", strerror(errno));
			return;
		}
		if (d->nclients >= XLBD_MAX_CLIENTS) {
			pr_warn("too many clients (%u), refusing one", d->nclients);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->in = malloc(IN_START);
		if (c)
			c->in_cap = IN_START;
		if (!c || !c->in) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		clock_gettime(CLOCK_MONOTONIC, &c->last);
		c->events = EPOLLIN;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &e)) {
			close(fd);
			free(c->in);
			free(c);
			continue;
		}
		c->next = d->clients;
		d->clients = c;
		d->nclients++;
		pr_debug("client %d connected (%u clients)", fd, d->nclients);
	}
}

/* Queue @len bytes of reply; false when the client's output limit would be exceeded. */
static bool client_queue(struct xlbd_client *c, const char *buf, size_t len)
{
	size_t need;
	char *n;

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + len;
	if (need - c->out_off > XLBD_OUT_MAX)
		return false;
	if (need > c->out_cap) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
			need = c->out_len + len;
		}
		if (need > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 4096;

			while (cap < need)
				cap *= 2;
			n = realloc(c->out, cap);
			if (!n)
				return false;
			c->out = n;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return true;
}

static void client_reply_oom(struct xlbd_client *c)
{
	static const char oom[] = "{\"ok\":false,\"error\":\"reply too large\"}\n";

	if (!client_queue(c, oom, sizeof(oom) - 1))
		c->closing = true;
}

static void client_reply(struct xlbd_client *c, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT);

	if (!s || !client_queue(c, s, strlen(s)) || !client_queue(c, "\n", 1))
		client_reply_oom(c);
	free(s);
}

/*
 * A reply written as text, its newline included. Into an empty output its buffer is taken, not
 * copied (a view at 1,000 VIPs is megabytes), and a large one is given a socket buffer that
 * holds it, so that it leaves in one send, not in one loop turn per 200 kB the client reads.
 */
#define REPLY_SNDBUF (4u << 20)

static void client_reply_text(struct xlbd_client *c, struct api_text *t)
{
	int sz = REPLY_SNDBUF;

	if (t->oom) {
		client_reply_oom(c);
		return;
	}
	if (t->len > (256u << 10))
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (c->out_off == c->out_len && t->len <= XLBD_OUT_MAX) {
		free(c->out);
		c->out = t->buf;
		c->out_cap = t->cap;
		c->out_len = t->len;
		c->out_off = 0;
		t->buf = NULL;
		t->len = t->cap = 0;
		return;
	}
	if (!client_queue(c, t->buf, t->len))
		client_reply_oom(c);
}

static void reply_error(struct xlbd_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct xlbd_client *c, const char *fmt, ...)
{
	char msg[1024];
	json_t *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* JSON strings are UTF-8: not a message cut inside a character, nor a byte quoted raw */
	r = json_pack("{s:b, s:s}", "ok", 0, "error", xlb_utf8_clean(msg));
	client_reply(c, r);
	json_decref(r);
}

/*
 * The commands of API.md. A command is one line here and a handler in the file of its concern
 * (api.h): one that fills a JSON reply (api_cmd_fn), or one that writes it as text (.text).
 */
static const struct api_command {
	const char *name;
	api_cmd_fn fn;
	api_text_fn text;
} commands[] = {
	{ "status", cmd_status },
	{ "vip_add", cmd_vip_add },
	{ "vip_del", cmd_change },
	{ "vip_list", .text = cmd_vip_list },
	{ "backend_add", cmd_backend_change },
	{ "backend_del", cmd_change },
	{ "backend_set", cmd_backend_change },
	{ "backend_list", .text = cmd_backend_list },
	{ "batch", cmd_batch },
	{ "vip_set", cmd_vip_add },	/* the VIP as it is now, as vip_add replies */
	{ "stats", .text = cmd_stats },
	{ "lookup", cmd_lookup },
	{ "table", cmd_table },
	{ "events", cmd_events },
	{ "monitor", cmd_monitor },	/* monitor.c */
};

int api_client_fd(const struct xlbd_client *c)
{
	return c->fd;
}

json_t *api_request_parse(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *req;

	if (len && line[len - 1] == '\r')
		len--;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(err, errlen, "malformed JSON: %s (column %d)", jerr.text, jerr.column);
		xlb_utf8_clean(err); /* jansson may quote the bytes that were not UTF-8 */
		return NULL;
	}
	if (!json_is_object(req))
		snprintf(err, errlen, "request must be a JSON object");
	else if (!json_is_string(json_object_get(req, "cmd")))
		snprintf(err, errlen, "cmd: missing or not a string");
	else
		return req;
	json_decref(req);
	return NULL;
}

/*
 * One request line to a JSON object (api_request_parse()) and its command. Returns the command
 * with the object in *@req (the caller's), or NULL with the reason in @err (nothing to free).
 */
static const struct api_command *request_command(const char *line, size_t len, json_t **req,
						 char *err, size_t errlen)
{
	const char *name;
	size_t i;

	*req = api_request_parse(line, len, err, errlen);
	if (!*req)
		return NULL;
	name = json_string_value(json_object_get(*req, "cmd"));
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	snprintf(err, errlen, "cmd: unknown command \"%.64s\"", name);
	json_decref(*req);
	*req = NULL;
	return NULL;
}

static void handle_line(struct xlbd *d, struct xlbd_client *c, const char *line, size_t len)
{
	const struct api_command *cmd;
	struct xlbd_client *busy;
	json_t *req, *reply;
	char err[1024] = "";
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cmd = request_command(line, len, &req, err, sizeof(err));
	if (!cmd) {
		reply_error(c, "%s", err);
		return;
	}
	busy = d->busy;	/* a status answered during a long apply: the applying client stays */
	d->busy = c;
	if (cmd->text) {
		struct api_text t = {};

		api_text_puts(&t, "{\"ok\":true");
		ret = cmd->text(d, req, &t, err, sizeof(err));
		api_text_put(&t, "}\n", 2);
		if (!ret)
			client_reply_text(c, &t);
		free(t.buf);
	} else {
		reply = json_object();
		json_object_set_new(reply, "ok", json_true());
		ret = cmd->fn(d, req, reply, err, sizeof(err));
		if (!ret)
			client_reply(c, reply);
		json_decref(reply);
	}
	d->busy = busy;
	if (ret == -EINPROGRESS)
		c->waiting = true;	/* answered by api_reply_later() */
	else if (ret)
		reply_error(c, "%s", err[0] ? err : strerror(-ret));
	pr_debug("client %d: %s -> %s (%.2f ms)", c->fd, cmd->name, ret ? err : "ok",
		 state_elapsed_ms_f(&t0));
	json_decref(req);
}

/* Drop the first @off bytes of the input buffer (the lines handled). */
static void client_consume(struct xlbd_client *c, size_t off)
{
	if (!off)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	c->in_scan = 0;
}

/* Frame and handle every complete line in the input buffer. */
static void client_process(struct xlbd *d, struct xlbd_client *c)
{
	size_t off = 0;
	char *nl;

	while (!c->closing && !c->waiting && off < c->in_len &&
	       c->out_len - c->out_off < XLBD_OUT_HIGH) {
		size_t from = off ? off : c->in_scan;

		nl = memchr(c->in + from, '\n', c->in_len - from);
		if (!nl) {
			if (!off)
				c->in_scan = c->in_len;
			break;
		}
		if ((size_t)(nl - (c->in + off)) > XLBD_LINE_MAX) {
			reply_error(c, "request too long");
			c->closing = c->discard = true;
			break;
		}
		handle_line(d, c, c->in + off, nl - (c->in + off));
		off = nl - c->in + 1;
	}
	client_consume(c, off);
	if (!c->closing && c->in_len > XLBD_LINE_MAX && !memchr(c->in, '\n', c->in_len)) {
		reply_error(c, "request too long");
		c->closing = c->discard = true;
	}
}

/*
 * After EOF: once every complete line is answered (which may wait for the output to drain), a
 * last request without its newline (or a truncated one) still gets a reply; then close.
 */
static void client_eof(struct xlbd *d, struct xlbd_client *c)
{
	if (!c->eof || c->closing || c->waiting || c->out_len - c->out_off >= XLBD_OUT_HIGH ||
	    memchr(c->in, '\n', c->in_len))
		return;
	if (c->in_len)
		handle_line(d, c, c->in, c->in_len);
	c->in_len = c->in_scan = 0;
	c->closing = true;
}

static bool client_flush(struct xlbd_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			return false; /* EPIPE, ECONNRESET: the client is gone */
		}
		c->out_off += n;
	}
	return true;
}

/*
 * Read what the client sent into its buffer, grown for a line longer than the buffer (not to
 * hold many lines). Returns 1 at EOF or on a read error, else 0.
 */
static int client_read(struct xlbd_client *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap * 2 < IN_CAP ? c->in_cap * 2 : IN_CAP;
			char *in;

			if (c->in_cap >= IN_CAP ||
			    memchr(c->in + c->in_scan, '\n', c->in_len - c->in_scan))
				return 0;
			in = realloc(c->in, cap);
			if (!in)
				return 0;
			c->in = in;
			c->in_cap = cap;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += n;
			continue;
		}
		return n == 0 || (errno != EAGAIN && errno != EINTR);
	}
}

/* Is the line @line of @len a status request? */
static bool is_status(const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	bool yes = json_is_string(json_object_get(req, "cmd")) &&
		   !strcmp(json_string_value(json_object_get(req, "cmd")), "status");

	json_decref(req);
	return yes;
}

/*
 * Called between chunks of a long apply: accept clients, and answer the status requests at the
 * head of each client's input (a client's replies stay in order: the first other request stops
 * it). The client whose request is being applied is left alone; nothing is closed here.
 */
void api_progress(struct xlbd *d)
{
	struct epoll_event evs[64];
	int n, i;

	if (d->epfd < 0)
		return;
	n = epoll_wait(d->epfd, evs, 64, 0);
	for (i = 0; i < n; i++) {
		struct xlbd_client *c = evs[i].data.ptr;
		size_t off = 0;
		char *nl;

		if (evs[i].data.u64 == XLBD_EV_LISTEN) {
			api_accept(d);
			continue;
		}
		/* probes, timers, signals: level-triggered, handled once the apply is done */
		if (evs[i].data.u64 < XLBD_EV__MAX || c == d->busy || c->closing || c->eof || c->shut ||
		    c->waiting)
			continue;
		if (evs[i].events & EPOLLIN)
			client_read(c);
		while (off < c->in_len && (nl = memchr(c->in + off, '\n', c->in_len - off)) &&
		       is_status(c->in + off, nl - (c->in + off))) {
			handle_line(d, c, c->in + off, nl - (c->in + off));
			off = nl - c->in + 1;
		}
		client_consume(c, off);
		client_flush(c);
		client_update_events(d, c);
	}
}

void api_client_event(struct xlbd *d, struct xlbd_client *c, uint32_t events)
{
	clock_gettime(CLOCK_MONOTONIC, &c->last);
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->shut) {
		/*
		 * The rest of an oversized request is read and dropped: closing with unread input
		 * would reset the connection and could lose the error reply. The idle timeout
		 * bounds a client that keeps sending.
		 */
		char scratch[16384];
		ssize_t n;

		while ((n = read(c->fd, scratch, sizeof(scratch))) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_free(d, c);
		return;
	}
	if ((events & EPOLLIN) && !c->closing && !c->eof) {
		if (client_read(c))
			c->eof = true;
		client_process(d, c);
		client_eof(d, c);
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		c->closing = true;
	}
	if (!client_flush(c)) {
		client_free(d, c);
		return;
	}
	/* output drained below the mark: resume framing what is already buffered */
	if (!c->closing && (c->in_len || c->eof) && c->out_len == c->out_off) {
		client_process(d, c);
		client_eof(d, c);
		if (!client_flush(c)) {
			client_free(d, c);
			return;
		}
	}
	if (c->closing && c->discard && c->out_off == c->out_len && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = true;
	} else if (c->closing && !c->shut && c->out_off == c->out_len) {
		pr_debug("client %d closed", c->fd);
		client_free(d, c);
		return;
	}
	client_update_events(d, c);
}

void api_reply_later(struct xlbd *d, struct xlbd_client *c, json_t *reply, const char *why)
{
	c->waiting = false;
	if (reply)
		client_reply(c, reply);
	else
		reply_error(c, "%s", why);
	api_client_event(d, c, 0);	/* send it, then the requests that waited behind it */
}

/* Once a second: drop clients idle for too long. */
void api_tick(struct xlbd *d)
{
	struct xlbd_client *c = d->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (!c->waiting && state_elapsed_ms(&c->last) >= XLBD_IDLE_S * 1000ull) {
			pr_debug("client %d idle for %ds, closed", c->fd, XLBD_IDLE_S);
			client_free(d, c);
		}
	}
}

void api_close_all(struct xlbd *d)
{
	while (d->clients)
		client_free(d, d->clients);
	if (d->spare_fd >= 0) {
		close(d->spare_fd);
		d->spare_fd = -1;
	}
	if (d->lfd >= 0) {
		close(d->lfd);
		d->lfd = -1;
		unlink(d->socket_path);
	}
}
