/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside libxlb's datapath layer (not installed, not for xlbd or xlb): the handle struct xlb
 * and what its files share. datapath.c loads, adopts and pins the balancer; attach.c puts it
 * on interfaces; maps.c programs VIPs, backends and the config; flows.c reads and writes the
 * flow table; tables.c swaps
 * Maglev tables; stats.c reads counters. The public interface is xlb.h.
 */
#ifndef XLB_HANDLE_H
#define XLB_HANDLE_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include <bpf/libbpf.h>

#include "xlb.skel.h"	/* struct xlb_bpf: the skeleton of bpf/xlb.bpf.c */
#include "xlb.h"

#define XLB_PROG_NAME "xlb_balancer"	/* the kernel's name of the balancer program */
#define XLB_MAX_IFACES 64

struct xlb {
	struct xlb_bpf *skel;
	bool adopted;
	bool pin;
	__u32 max_vips;		/* entries of the maps indexed by vip id, as loaded or adopted */
	__u32 max_backends;	/* entries of the maps indexed by backend id (id 0 = none) */
	char pin_dir[PATH_MAX - 64];
	__u32 old_prog_id;	/* the program pinned before this open (an earlier xlb's) */
	int ifindexes[XLB_MAX_IFACES]; /* interfaces this handle attached */
	int n_ifindexes;
	__u32 flow_buckets;	/* buckets of xlb_flows, as loaded or adopted */
	struct xlb_flow_bucket *flows_mm; /* xlb_flows mapped (flows.c), NULL until first used */
	size_t flows_mm_len;
};

/* The fd of map @name of handle @x (a member of the skeleton: a typo does not compile). */
#define MAP_FD(x, name) bpf_map__fd((x)->skel->maps.name)
/* The fd of the balancer program of handle @x. */
#define PROG_FD(x) bpf_program__fd((x)->skel->progs.xlb_balancer)

/* 0, or -errno after a libbpf call that returned < 0. */
static inline int ret_errno(int rc)
{
	return rc < 0 ? -errno : 0;
}

/* flows.c */
void xlb_dp_flows_unmap(struct xlb *x);
/* The flow-table seed and size of a fresh state into xlb_vip_meta (datapath.c, at creation). */
int xlb_dp_flows_init(struct xlb *x);

/* attach.c */
extern bool xlb_dp_quiet_libbpf;	/* set while libxdp tries its dispatcher */
__u32 xlb_dp_prog_id(int fd);		/* the id of program @fd, 0 if unknown */
/* Detach from every interface running this handle's program, the one pinned before it, or
 * another program of its maps (xlb__close() with unpin). */
void xlb_dp_detach_all(struct xlb *x);

#endif /* XLB_HANDLE_H */
