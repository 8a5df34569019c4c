/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlbd internals shared by its files: daemon state, datapath reconciliation, the API server. */
#ifndef XLBD_H
#define XLBD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config_file.h"
#include "maglev.h"
#include "probe.h"
#include "rules.h"
#include "version.h"
#include "xlb.h"

#define XLBD_LINE_MAX (64u << 20)	/* longest request line (bytes, newline excluded): a batch */
#define XLBD_OUT_HIGH (1u << 20)	/* stop reading a client while this much is unsent */
#define XLBD_OUT_MAX (64u << 20)	/* a reply never grows a client's output beyond this */
#define XLBD_IDLE_S 30			/* a client silent this long is disconnected */
#define XLBD_MAX_CLIENTS 1024

/* Rates between the last two samples of a VIP's or a backend's counters. */
struct xlbd_rate {
	__u64 packets, bytes;	/* last sample */
	__u64 pps, bps;		/* rate between the last two samples */
	bool sampled;		/* packets/bytes hold a sample */
};

/*
 * Why a backend has the effective weight it has (xlbd_weigh()): the first reason that applies,
 * in this order. Shown by the CLI and the metrics; never written to the config file.
 */
enum xlbd_why {
	XLBD_WHY_OK = 0,	/* full configured weight (times the agent's share) */
	XLBD_WHY_DISABLED,	/* config state disabled: no slots, flows move */
	XLBD_WHY_DOWN,		/* failed its health check: no slots, flows move */
	XLBD_WHY_AGENT_DOWN,	/* its agent said down/fail/stopped or maint: no slots, flows move */
	XLBD_WHY_DRAINING,	/* config state draining: no slots, keeps its flows */
	XLBD_WHY_AGENT_DRAIN,	/* its agent said drain: no slots, keeps its flows */
	XLBD_WHY_DRAINED,	/* draining longer than drain_timeout_ms: flows move */
	XLBD_WHY_BACKUP,	/* a backup while a primary is usable: no slots, keeps its flows */
	XLBD_WHY_SLOW_START,	/* ramping up after coming up */
	XLBD_WHY_PANIC,		/* down, but balanced anyway: the VIP is below min_healthy_pct */
	XLBD_WHY_ZERO,		/* configured weight 0 (or an agent share of 0%) */
	XLBD_WHY__MAX
};

enum xlbd_health { XLBD_HEALTH_UNKNOWN = 0, XLBD_HEALTH_UP, XLBD_HEALTH_DOWN };

/* What the daemon keeps per VIP id beside the config: rates, and what the datapath holds. */
struct xlbd_vip_rt {
	struct xlbd_rate rate;
	bool programmed;		/* key and value below are in xlb_vips */
	struct xlb_vip_key key;
	struct xlb_vip val;
	bool table_unknown;		/* table adopted from pins: its inputs are unknown */
	struct xlb_maglev_backend *inputs;	/* inputs of the table in the datapath (sorted) */
	size_t ninputs;
	__u32 m;			/* its size; 0 = no table set */
	bool dirty;			/* effective weights may have changed: refresh */
	bool panic;			/* below min_healthy_pct: balancing over failed primaries */
	bool no_backend;		/* no usable backend (logged once per transition) */
	__u64 last_rebuild_ms;		/* CLOCK_MONOTONIC ms of the last table swap */
	__u64 rebuilds;			/* tables swapped in (metrics) */
	/* caches kept while the VIP's stamp (xlb_cfg_vip.stamp) stays: see commit.c, api_view.c */
	char *file_text;		/* its part of the config file (xlb_cfg_vip_text()) */
	__u64 file_stamp;
	char *view;			/* its view in vip_list, up to the runtime keys */
	__u64 view_stamp;
	__u64 digest;			/* of the table in the datapath (shared.c); 0 = none */
};

/* What the daemon keeps per backend id: rates, slots, the datapath's copy, health. */
struct xlbd_be_rt {
	struct xlbd_rate rate;
	__u32 slots;			/* Maglev slots owned */
	bool programmed;		/* prog is in xlb_backends */
	struct xlb_backend prog;
	/* runtime only: shown, exported, never written to the config file */
	enum xlbd_health health;
	bool agent_pct_set;		/* the agent gave a weight share */
	__u32 agent_pct;		/* that share, 0..100 */
	int agent_state;		/* enum agent_state (probe.h) of the last valid reply */
	__u64 up_since_ms;		/* slow start origin: when it last came up (0 = never) */
	__u64 drain_since_ms;		/* when it started draining (0 = not draining) */
	__u32 weight;			/* effective weight, as last computed */
	enum xlbd_why why;
	bool usable;			/* XLB_BE_F_USABLE as last computed */
	struct xlbd_check *check;	/* its health checker (checks.c), or NULL */
	__u64 probes, probe_failures;	/* health probes finished, failed (metrics) */
	/* its view in backend_list up to the runtime keys, kept while its VIP's stamp stays */
	char *view;
	size_t view_addr_len;		/* view[0 .. this): {"address":...,"port":N */
	__u64 view_stamp;
};

/* One entry of the event history (xlb events). */
struct xlbd_event {
	__u64 seq;		/* 1, 2, ...: a client asks for those after the last it saw */
	__u64 time_ms;		/* CLOCK_REALTIME */
	int level;		/* XLB_LOG_* */
	char text[192];
};

struct xlbd_client;
struct xlbd_check;
struct xlbd_checks;
struct health_checker;
struct xlbd_metrics;
struct xlbd_monitor;

struct xlbd {
	/* options */
	char *config_path;	/* absolute */
	const char *socket_path;
	const char *pidfile;
	const char *pin_dir;
	bool detach_on_exit;

	/* datapath and the running configuration (ids filled in) */
	struct xlb *x;
	struct xlb_cfg *cfg;
	bool adopted;
	struct timespec started;	/* CLOCK_MONOTONIC */
	__u32 max_vips, max_backends;	/* the datapath's id ranges (xlb__max_vips(), ...) */
	struct xlbd_vip_rt *vip_rt;	/* [max_vips] */
	struct xlbd_be_rt *be_rt;	/* [max_backends] */
	bool config_programmed;		/* prog_config is in xlb_config */
	struct xlb_config prog_config;
	bool refresh;			/* some VIP is dirty: state_refresh() at the end of the turn */
	__u64 next_weigh_ms;		/* a weight changes by itself then (slow start, drain) */
	struct prober *prober;		/* probes and the loop's timers */
	struct xlbd_checks *checks;	/* the health checkers, shared by equal checks (checks.c) */
	struct prober_timer weigh_timer;	/* fires at next_weigh_ms */
	struct xlbd_event *events;	/* [XLBD_EVENTS_MAX], a ring */
	__u64 events_seq;		/* sequence number of the newest event */
	__u32 vip_next, be_next;	/* next-fit cursors: freed ids are reused as late as possible */
	__u64 stamp_seq;		/* the last stamp given to a VIP (xlb_cfg_vip.stamp) */
	struct timespec last_sample;
	/* a long apply in progress (start, reload, a large batch): shown by status */
	const char *progress_what;	/* NULL when none */
	size_t progress_done, progress_total;
	struct timespec progress_since;
	struct xlbd_metrics *metrics;	/* the HTTP metrics server, or NULL (metrics_listen off) */
	struct xlbd_monitor *monitor;	/* the decision monitor's clients and ring (monitor.c) */
	struct xlbd_announce *announce;	/* the announced addresses (announce.c), or NULL */
	bool announce_dirty;		/* what to announce may have changed: announce_sync() */
	bool announce_withdraw;		/* withdrawing everything (detaching) */
	struct shared *shared;		/* the VIPs shared through etcd (shared.c), or NULL */

	/* event loop */
	int epfd, lfd, sigfd, tfd;
	int spare_fd;		/* held open to refuse a client cleanly when out of fds */
	struct xlbd_client *clients;
	struct xlbd_client *busy;	/* the client whose request is being handled */
	unsigned int nclients;
	bool stop;
};

/*
 * state.c: reconcile the datapath with a configuration. The daemon remembers what it wrote into
 * each map entry (the *_rt "programmed" fields); applying a configuration computes what every
 * entry should hold, from the config and the runtime health, and writes only the differences,
 * in an order that keeps every packet on a valid path. Adoption fills the remembered copies from
 * the pins; a rollback is an apply of the previous configuration.
 */
struct xlb_cfg *state_from_pins(struct xlbd *d);
int state_apply(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to);
/*
 * The same for a change made by API ops on @from, the running config: the VIPs of @to stamped
 * after @since changed, the others did not. Falls back to state_apply() when a VIP was removed.
 */
int state_apply_ops(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to, __u64 since);
/*
 * Its core: @from need only hold the former selves of the VIPs of @to stamped after @since
 * (those are looked up in it by id and by identity), none may have been removed.
 */
int state_apply_touched(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
			__u64 since);
/*
 * A VIP removed from the running config by an op (vip_del, in place): @gone, as it was, and its
 * backends out of the datapath (its entry first, then its table, counters and backends).
 */
int state_apply_removed(struct xlbd *d, const struct xlb_cfg_vip *gone);
/* Mark VIP @v's effective weights as possibly changed; state_refresh() applies it. */
void state_dirty(struct xlbd *d, const struct xlb_cfg_vip *v);
/* Re-weigh the dirty VIPs of the running config and swap in what changed (no config write). */
void state_refresh(struct xlbd *d);
/* d->weigh_timer's function: a slow-start step or a drain timeout is due. */
void state_weigh_timer(struct prober_timer *t);
/*
 * Validate @to as a whole, apply it, save it; on any failure roll back. Takes @to. @by_ops:
 * @to is the running config changed by API ops only (api_change.c), each of which validated
 * what it added or changed with the file parser's own per-object functions and gave the VIPs
 * it touched a stamp after @since: the whole-config JSON roundtrip is then skipped (see
 * commit.c for why it is the same validation) and only those VIPs are reconciled.
 */
int state_commit(struct xlbd *d, struct xlb_cfg *to, bool by_ops, __u64 since, char *err,
		 size_t errlen);
/*
 * A change made in place by one API op on d->cfg itself (a copy of the running config costs
 * its whole VIP array): what the op's VIP was, to commit it (state_commit_in_place()) or put
 * it back.
 */
struct cfg_undo {
	struct xlb_cfg former;	/* d->cfg's top-level keys; vips: &vip, or none (nvips 0) */
	struct xlb_cfg_vip vip;	/* the VIP at @index as it was (its backends shared) */
	int index;		/* in d->cfg->vips, or -1 */
	size_t nvips;		/* d->cfg->nvips before the op (vip_add appends one, vip_del
				 * takes the one at @index out) */
};
/* Before the op: keep VIP @index of d->cfg (-1: none, the op adds one). */
void state_undo_begin(struct xlbd *d, struct cfg_undo *u, int index);
/* Put d->cfg back as it was before the op. */
void state_undo_restore(struct xlbd *d, struct cfg_undo *u);
/*
 * state_commit() of d->cfg as the op left it (by ops, the VIPs it touched stamped after
 * @since): on any failure d->cfg is put back and the datapath rolled back to it.
 */
int state_commit_in_place(struct xlbd *d, struct cfg_undo *u, __u64 since, char *err,
			  size_t errlen);
/* The validation of state_commit() alone (nothing applied or written): 0 or -errno, @err set. */
int state_check(const struct xlbd *d, const struct xlb_cfg *to, bool by_ops, char *err,
		size_t errlen);
void state_reload(struct xlbd *d);
/* A long apply starts (@what: "start", "reload", "batch") or ends (NULL): shown by status. */
void state_progress(struct xlbd *d, const char *what);
void state_sample(struct xlbd *d);
/*
 * Counters of the VIPs of d->cfg (all, or only @only) and of their backends, read in id ranges
 * (a few BPF_MAP_LOOKUP_BATCH calls, not one lookup per id); state_counters_*() give one id's.
 */
struct state_counters {
	struct xlb_counters *vip, *be;
	__u32 vlo, vn, blo, bn;
};
int state_counters_read(struct xlbd *d, const struct xlb_cfg_vip *only, struct state_counters *sc);
const struct xlb_counters *state_counters_vip(const struct state_counters *sc, __u32 id);
const struct xlb_counters *state_counters_be(const struct state_counters *sc, __u32 id);
void state_counters_free(struct state_counters *sc);
__u64 state_elapsed_ms(const struct timespec *since);
double state_elapsed_ms_f(const struct timespec *since);

/* ids.c: ids of a configuration about to be applied; runtime state of a freed id. */
struct ids {
	bool *vip;	/* [max_vips] */
	bool *be;	/* [max_backends] */
};
struct ids *ids_new(const struct xlbd *d);
/*
 * The VIPs of a configuration by identity (address, port, protocol): a hash index, so that
 * matching two configurations VIP by VIP is linear, not quadratic.
 */
struct vip_index {
	const struct xlb_cfg *cfg;
	int *slot;	/* index in cfg->vips + 1; 0 = empty */
	size_t mask;
};
int vip_index_init(struct vip_index *ix, const struct xlb_cfg *cfg);
int vip_index_find(const struct vip_index *ix, const struct xlb_cfg_vip *v);	/* or -1 */
void vip_index_free(struct vip_index *ix);
void ids_free(struct ids *ids);
/*
 * Give every VIP and backend of @to an id: the one of its match in @from (the configuration the
 * datapath was programmed for), or a free one. Marks them in @want. 0 or -ENOSPC / -ENOMEM.
 */
int state_assign_ids(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
		     struct ids *want);
/*
 * A change made by API ops (state_commit()): the VIPs of @to stamped after @since are added or
 * changed, none is removed, the others are the running config's. Gives ids to those only (the
 * ids the datapath does not hold are free), marks them in @t->vip (by index in @to) and lists
 * the ids of the backends they dropped in @t->gone.
 */
struct touched {
	bool *vip;		/* [to->nvips] */
	__u32 *gone;
	size_t ngone, cap;
};
int state_assign_ids_touched(struct xlbd *d, const struct xlb_cfg *from, struct xlb_cfg *to,
			     __u64 since, struct touched *t);
void state_reset_vip_rt(struct xlbd_vip_rt *rt);
/* Free what the runtime state of every id holds (at exit). */
void state_rt_free(struct xlbd *d);
/* A new stamp for VIP @v: its content changed (or is new). */
void state_stamp(struct xlbd *d, struct xlb_cfg_vip *v);
/* Forget backend @id's runtime state (its checker stopped): a new backend may take the id. */
void state_reset_be_rt(struct xlbd *d, __u32 id);

/* checks.c: the health checkers of the running configuration's backends. */
/* Start, restart (changed check or address) or stop checkers to match d->cfg. */
void checks_sync(struct xlbd *d);
/*
 * The same after a change by API ops (state_commit()): only the backends of the VIPs stamped
 * after @since are looked at (the others and their ids are as they were), and the checkers
 * their removed backends left empty are stopped; a whole sync if checks_invalidate() was
 * called since the last one.
 */
void checks_sync_since(struct xlbd *d, __u64 since);
/* Ids may have moved (state_apply()): the next checks_sync_since() is a whole checks_sync(). */
void checks_invalidate(struct xlbd *d);
void checks_drop(struct xlbd *d, __u32 id);
void checks_free(struct xlbd *d);
/* Backend @id's checker, for the views (NULL: none). */
const struct health_checker *checks_of(const struct xlbd *d, __u32 id);

/* weight.c: effective weights, the only place they are computed. */
__u64 xlbd_now_ms(void);	/* CLOCK_MONOTONIC in ms */
/*
 * Compute the effective weight, reason and usability of every backend of @v into its
 * xlbd_be_rt. Returns the ms until a weight changes by itself (slow start, drain timeout), or 0.
 */
__u64 xlbd_weigh(struct xlbd *d, const struct xlb_cfg_vip *v, __u64 now);
const char *xlbd_why_name(enum xlbd_why w);
const char *xlbd_health_name(enum xlbd_health h);

/* events.c: a bounded history of transitions, each also logged. */
#define XLBD_EVENTS_MAX 1024
/* The oldest event kept with a sequence number above @seq, or NULL; the next is seq + 1. */
const struct xlbd_event *xlbd_event_after(const struct xlbd *d, __u64 seq);
void xlbd_event(struct xlbd *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* metrics.c: Prometheus metrics over HTTP (libmicrohttpd in the event loop, no thread). */
/* Listen on d->cfg->metrics_listen (nothing when ""): 0, or -errno after a message. */
int metrics_start(struct xlbd *d);
void metrics_stop(struct xlbd *d);
/* The fd for the daemon's epoll (-1 when off); metrics_run() when it is readable. */
int metrics_fd(const struct xlbd *d);
void metrics_run(struct xlbd *d);
void metrics_reload(struct xlbd *d);
/* The /metrics body (malloc'ed) into *@out, *@len. 0 or -ENOMEM. */
int metrics_render(struct xlbd *d, char **out, size_t *len);
/*
 * Hooks: a probe finished, of the checker shared by the @n backends @ids (checks.c); a VIP's
 * table was swapped in (state.c).
 */
void metrics_probe(struct xlbd *d, const __u32 *ids, size_t n, enum xlb_cfg_check_type type,
		   bool agent, const struct probe_result *r);
void metrics_rebuild(struct xlbd *d, __u32 vip_id, double ms);

/*
 * monitor.c: the packet-decision monitor. monitor_start() clears a switch left on and opens the
 * ring; cmd_monitor() is the API command (a client that stays to receive events); the switch is
 * on while some client is there.
 */
int monitor_start(struct xlbd *d);
void monitor_stop(struct xlbd *d);
int monitor_fd(const struct xlbd *d);	/* for the daemon's epoll; monitor_run() when readable */
void monitor_run(struct xlbd *d);
void monitor_tick(struct xlbd *d);
struct json_t;
int cmd_monitor(struct xlbd *d, struct json_t *req, struct json_t *reply, char *err,
		size_t errlen);

/*
 * announce.c: the addresses of the VIPs served, on an interface of xlbd's own for BIRD to
 * export. The one decision: a VIP's address is announced while the datapath is attached, the
 * VIP has a usable backend and its "announce" flag is on (a shared view may feed the same).
 */
bool announce_wanted(bool attached, bool usable, bool flag);
/* End of a loop turn: follow the config's "announce" section, send what changed if dirty. */
void announce_sync(struct xlbd *d);
/* @v's address is on the interface (announced), as the kernel last said. */
bool announce_vip_announced(const struct xlbd *d, const struct xlb_cfg_vip *v);
/* For status: {"interface", "state" (starting, ready, failed), "addresses" (on it)}. */
struct json_t *announce_status(const struct xlbd *d);
/* Its netlink socket (epoll data XLBD_EV_ANNOUNCE) is readable. */
void announce_run(struct xlbd *d);
/* Exit: withdraw every address (@withdraw: --detach-on-exit) or leave them for the next xlbd. */
void announce_stop(struct xlbd *d, bool withdraw);

/* api.c: the Unix socket server. */
int api_listen(struct xlbd *d);
void api_accept(struct xlbd *d);
void api_client_event(struct xlbd *d, struct xlbd_client *c, uint32_t events);
void api_tick(struct xlbd *d);
void api_close_all(struct xlbd *d);
/* Between chunks of a long apply: accept clients, answer status requests (see API.md). */
void api_progress(struct xlbd *d);
/*
 * One request line (without its newline; a trailing "\r" is dropped) as a JSON object with a
 * string "cmd": the caller's reference, or NULL with the error reply's text in @err. Nothing
 * is looked up or run (tests/fuzz parses requests through it alone).
 */
json_t *api_request_parse(const char *line, size_t len, char *err, size_t errlen);
/* A change (vip_add, ...) as an op on the working copy @to; see api.c. */
typedef int (*op_fn)(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		     size_t errlen);
/* The op of change @name, or NULL when @name is not a change. */
op_fn api_op_of(const char *name);
/* The socket of API client @c (monitor.c streams to it). */
int api_client_fd(const struct xlbd_client *c);

/* epoll data of the fixed fds; any larger value is a client pointer. */
enum { XLBD_EV_LISTEN = 1, XLBD_EV_SIGNAL = 2, XLBD_EV_TIMER = 3, XLBD_EV_PROBE = 4,
       XLBD_EV_METRICS = 5, XLBD_EV_MONITOR = 6, XLBD_EV_ANNOUNCE = 7, XLBD_EV_ETCD = 8,
       XLBD_EV__MAX = 16 };

#endif /* XLBD_H */
