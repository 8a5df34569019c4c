/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xlbd's etcd v3 client: JSON requests to etcd's gRPC gateway (etcd 3.4: /v3/kv/range,
 * /v3/kv/txn, /v3/watch, /v3/lease/...) over libcurl's multi interface, driven by the daemon's
 * event loop: its sockets behind one epoll fd, its timeout on the loop's timer heap. Nothing
 * here blocks. What the keys mean is shared.c's business.
 */
#ifndef XLBD_ETCD_H
#define XLBD_ETCD_H

#include <stddef.h>
#include <jansson.h>

#include "config.h"
#include "probe.h"

struct etcd;
struct etcd_req;

/*
 * The end of a request: @err 0 with @reply the body's JSON object (HTTP 200), or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, -EIO, -EPROTO) with @why saying what happened (@reply NULL).
 * Runs from etcd_run() or etcd_timer; the request is gone after it returns.
 */
typedef void (*etcd_done_fn)(void *ctx, int err, json_t *reply, const char *why);
/* One message of a stream (/v3/watch): the JSON object of one line of the body. It must not
 * cancel a request (defer that to a timer). */
typedef void (*etcd_msg_fn)(void *ctx, json_t *msg);

/* A client of the endpoints of @cfg, its timer on @p's heap. NULL with errno set. */
struct etcd *etcd_new(struct prober *p, const struct xlb_cfg_etcd *cfg);
/* Ends every request (no callback runs). */
void etcd_free(struct etcd *e);
/* For the daemon's epoll (EPOLLIN); etcd_run() when it is readable. */
int etcd_fd(const struct etcd *e);
void etcd_run(struct etcd *e);

/*
 * POST @body (taken) to @path ("/v3/kv/range"): @done once, within the configured timeout.
 * Returns the request (for etcd_cancel()), or NULL when it could not start (@done not called).
 */
struct etcd_req *etcd_call(struct etcd *e, const char *path, json_t *body, etcd_done_fn done,
			   void *ctx);
/* The same for a stream: @msg per message, @done when it ends (no timeout but the connect's). */
struct etcd_req *etcd_stream(struct etcd *e, const char *path, json_t *body, etcd_msg_fn msg,
			     etcd_done_fn done, void *ctx);
/* End @r now; its callbacks do not run. */
void etcd_cancel(struct etcd *e, struct etcd_req *r);
/* The endpoint requests go to; etcd_next_endpoint() moves to the next (after a failure). */
const char *etcd_endpoint(const struct etcd *e);
void etcd_next_endpoint(struct etcd *e);

/* Base64 of @len bytes (malloc'ed), and back (malloc'ed, NUL-terminated, length in *@len). */
char *etcd_b64(const void *s, size_t len);
char *etcd_unb64(const char *s, size_t *len);
/* An int64 of the gateway's JSON (a string, or a number), or @def when absent or not one. */
long long etcd_int(const json_t *v, long long def);

#endif /* XLBD_ETCD_H */
