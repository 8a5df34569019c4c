/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the files of the shared view have in common (shared.c: sync, watch, lease, publication;
 * shared_apply.c: key revisions, other hosts' reports, applying etcd's VIPs;
 * shared_txn.c: changes through the API; shared_view.c: digests, health votes, status).
 */
#ifndef XLBD_SHARED_INT_H
#define XLBD_SHARED_INT_H

#include "etcd.h"
#include "shared.h"

enum sh_state { SH_CONNECTING, SH_CONNECTED, SH_UNREACHABLE };
/* "connecting", "connected", "unreachable" (shared_view.c) */
extern const char *const shared_state_names[];

/* The revision of one key this host last applied (a deleted key keeps its delete's). */
struct keyrev {
	char *key;
	long long mod;
};

/* Another host's (or this one's) publication: the revision it applied and its digests. */
struct host {
	char *name;
	long long revision;
	json_t *digests;	/* {"VIP": {"digest": "hex", "mod": the VIP's key revision}} */
	json_t *down;		/* {"VIP|ADDR|PORT": true}: the backends it sees failing */
};

/* A change sent as a transaction, answered when etcd answers. */
struct txn {
	struct shared *sh;
	struct xlbd_client *c;	/* NULL once the client is gone */
	json_t *req;
	json_t *puts;		/* [[key, value or null], ...] */
	struct etcd_req *r;
	struct txn *next;
};

struct shared {
	struct xlbd *d;
	struct etcd *e;
	struct xlb_cfg_etcd conf;	/* the section xlbd started with (a reload keeps it) */
	enum sh_state state;
	char why[512];			/* the last failure */
	__u64 since_ms;			/* in this state since (monotonic) */
	long long revision;		/* etcd's revision this host has applied */
	char pfx[256], pfx_end[256];	/* PREFIX/CLUSTER/ and the end of its range */
	char host[64];
	struct keyrev *kr;		/* open addressing, kr_cap a power of two */
	size_t kr_n, kr_cap;
	struct host *hosts;
	size_t nhosts;
	struct etcd_req *range, *watch, *lease, *ka, *pub;
	long long lease_id;
	struct prober_timer retry, ka_timer;
	bool publish_dirty;
	char *published;
	struct txn *txns;
	__u64 events_seen;		/* d->events_seq when the verdicts were last published */
	char apply_error[512];		/* the last change from etcd that could not be applied */
	__u64 applied, conflicts, unreachable;
};

/* shared.c */
void sh_vip_key(const struct shared *sh, const struct xlb_cfg_vip *v, char *buf, size_t len);
json_t *sh_b64_json(const char *s);
void sh_fail(struct shared *sh, const char *why);
/* The reports of the hosts changed: every VIP's weights may have. */
void sh_all_dirty(struct shared *sh);

/* shared_apply.c */
/* The revision of @key this host last applied (0: none). */
long long sh_kr_get(struct shared *sh, const char *key);
void sh_kr_clear(struct shared *sh);
/* Forget the other hosts' reports. */
void sh_hosts_clear(struct shared *sh);
/*
 * Changes of keys at revision @rev: [[key, value or null, mod_revision], ...], committed once.
 * 0 or -errno with @err.
 */
int sh_apply_events(struct shared *sh, json_t *ev, long long rev, char *err, size_t errlen);
/* The whole prefix read at revision @rev (@kvs: etcd's "kvs"): the shared VIPs become those. */
void sh_apply_full(struct shared *sh, json_t *kvs, long long rev);

/* shared_txn.c */
void sh_txn_free(struct txn *t);

/* shared_view.c */
/* The backends this host sees failing, and its digests, for its report. */
json_t *sh_down_list(struct xlbd *d);
json_t *sh_digests_object(struct xlbd *d);
void shared_digests_free(void);

#endif /* XLBD_SHARED_INT_H */
