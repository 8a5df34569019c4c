/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * shared.c: the VIPs shared by the xlbd of one cluster through etcd, and the per-VIP table
 * digests. The keys (PREFIX/CLUSTER/...):
 *   vips/ADDR:PORT/PROTO  a VIP with its backends, as in the config file (JSON)
 *   seeded                written once with the first VIPs (the seeding rule: README)
 *   hosts/HOST            {"revision", "digests"} of a live host, under its lease
 * Every xlbd watches the prefix and applies what changes through state_commit(); an API change
 * is a transaction comparing the revisions this host read of the VIPs it touches, answered when
 * etcd did (the reply is deferred); the file stays the cache xlbd starts from.
 */
#ifndef XLBD_SHARED_H
#define XLBD_SHARED_H

#include <jansson.h>

#include "xlbd.h"

struct shared;

/* With an "etcd" section: connect and sync (nothing blocks). 0, or -errno after a message. */
int shared_start(struct xlbd *d);
void shared_stop(struct xlbd *d);
/* The client's fd for the daemon's epoll (XLBD_EV_ETCD), -1 when off; shared_run() then. */
int shared_fd(const struct xlbd *d);
void shared_run(struct xlbd *d);
/* End of a loop turn: publish this host's digests when they changed. */
void shared_sync(struct xlbd *d);
/* Is the configuration shared (an API change then goes through etcd)? */
bool shared_on(const struct xlbd *d);

/*
 * An API change: "revision" taken out of @req (the revision the client read; -1 when absent)
 * before the ops see it. 0 or -EINVAL with @err.
 */
int shared_take_revision(const struct xlbd *d, json_t *req, long long *rev, char *err,
			 size_t errlen);
/*
 * Propose @to (the running config changed by ops, the touched VIPs stamped after @since; taken)
 * as an etcd transaction on behalf of d->busy answering @req. Returns -EINPROGRESS when sent
 * (the reply follows: api_reply_later()), or -errno with @err (nothing sent).
 */
int shared_propose(struct xlbd *d, struct xlb_cfg *to, __u64 since, long long rev, json_t *req,
		   char *err, size_t errlen);
/*
 * A reload (SIGHUP) read @to from the file: with a shared configuration its VIPs are replaced by
 * the running ones (etcd's) and its etcd section by the one running. 0 or -ENOMEM.
 */
int shared_reload(struct xlbd *d, struct xlb_cfg *to);
/* API client @c is gone: its pending changes are answered to nobody. */
void shared_client_gone(struct xlbd *d, struct xlbd_client *c);

/* state.c: VIP @v's table @table (ids of @in, sorted by id) is in the datapath. */
void shared_table_done(struct xlbd *d, const struct xlb_cfg_vip *v, const __u32 *table,
		       const struct xlb_maglev_backend *in, size_t n);
/*
 * weight.c: has backend @b of @v failed its check? @local: this host's verdict. With etcd
 * connected, the cluster's: down when a majority of the live hosts (this one included) publish
 * it down; otherwise @local.
 */
bool shared_backend_down(const struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *b, bool local);
/* For status: "etcd" (NULL when off) and "digests" (one per VIP with a table). */
json_t *shared_status_json(struct xlbd *d);
json_t *shared_digests_json(struct xlbd *d);
/* The metrics' lines (malloc'ed, "" when off), or NULL. */
char *shared_metrics_text(struct xlbd *d);

/* api.c: answer API client @c's deferred request: @reply (ok), or the error @why. */
void api_reply_later(struct xlbd *d, struct xlbd_client *c, json_t *reply, const char *why);
/* api_change.c: the reply keys of change @req, once it is applied (vip, backend, ops). */
void api_change_reply(struct xlbd *d, json_t *req, json_t *r);

#endif /* XLBD_SHARED_H */
