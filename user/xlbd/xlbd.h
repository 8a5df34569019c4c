/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlbd internals shared by its files: daemon state, datapath reconciliation, the API server. */
#ifndef XLBD_H
#define XLBD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config_file.h"
#include "rules.h"
#include "version.h"
#include "xlb.h"

#define XLBD_LINE_MAX 65536		/* longest request line (bytes, newline excluded) */
#define XLBD_OUT_HIGH (1u << 20)	/* stop reading a client while this much is unsent */
#define XLBD_OUT_MAX (64u << 20)	/* a reply never grows a client's output beyond this */
#define XLBD_IDLE_S 30			/* a client silent this long is disconnected */
#define XLBD_MAX_CLIENTS 1024

/* What the daemon keeps per id beside the config: rate samples and Maglev slot counts. */
struct xlbd_rt {
	__u64 packets, bytes;	/* last sample */
	__u64 pps, bps;		/* rate between the last two samples */
	__u32 slots;		/* Maglev slots owned (backends) */
	bool sampled;		/* packets/bytes hold a sample */
	bool table_unknown;	/* VIPs: table adopted from pins, inputs unknown */
};

struct xlbd_client;

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
	struct xlbd_rt *vip_rt;		/* [XLB_MAX_VIPS] */
	struct xlbd_rt *be_rt;		/* [XLB_MAX_BACKENDS] */
	__u32 vip_next, be_next;	/* next-fit cursors: freed ids are reused as late as possible */
	struct timespec last_sample;

	/* event loop */
	int epfd, lfd, sigfd, tfd;
	int spare_fd;		/* held open to refuse a client cleanly when out of fds */
	struct xlbd_client *clients;
	unsigned int nclients;
	bool stop;
};

/* state.c: reconcile the datapath with a configuration. */
struct xlb_cfg *state_from_pins(struct xlbd *d);
int state_apply(struct xlbd *d, struct xlb_cfg *from, struct xlb_cfg *to, bool from_pins);
/* Validate @to as a whole, apply it, save it; on any failure roll back. Takes @to. */
int state_commit(struct xlbd *d, struct xlb_cfg *to, char *err, size_t errlen);
void state_reload(struct xlbd *d);
void state_sample(struct xlbd *d);
__u64 state_elapsed_ms(const struct timespec *since);

/* api.c: the Unix socket server. */
int api_listen(struct xlbd *d);
void api_accept(struct xlbd *d);
void api_client_event(struct xlbd *d, struct xlbd_client *c, uint32_t events);
void api_tick(struct xlbd *d);
void api_close_all(struct xlbd *d);

/* epoll data of the fixed fds; any larger value is a client pointer. */
enum { XLBD_EV_LISTEN = 1, XLBD_EV_SIGNAL = 2, XLBD_EV_TIMER = 3, XLBD_EV__MAX = 16 };

#endif /* XLBD_H */
