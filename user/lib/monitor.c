// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libxlb: the packet-decision monitor's maps (switch and filters, ring, counters), reason names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "handle.h"

int xlb_monitor__set(struct xlb *x, const struct xlb_mon_cfg *cfg)
{
	int fd = MAP_FD(x, xlb_monitor);
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	return bpf_map_update_elem(fd, &zero, cfg, BPF_ANY) ? -errno : 0;
}

int xlb_monitor__get(struct xlb *x, struct xlb_mon_cfg *cfg)
{
	int fd = MAP_FD(x, xlb_monitor);
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	return bpf_map_lookup_elem(fd, &zero, cfg) ? -errno : 0;
}

int xlb_monitor__counters(struct xlb *x, struct xlb_mon_counters *out)
{
	int fd = MAP_FD(x, xlb_mon_stats), ncpu, err = 0;
	struct xlb_mon_counters *v;
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	ncpu = libbpf_num_possible_cpus();
	if (fd < 0 || ncpu <= 0)
		return fd < 0 ? fd : ncpu;
	v = calloc(ncpu, sizeof(*v));	/* 32 bytes: a per-CPU value needs no rounding */
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, v)) {
		err = -errno;
	} else {
		for (int i = 0; i < ncpu; i++) {
			out->matched += v[i].matched;
			out->emitted += v[i].emitted;
			out->lost += v[i].lost;
		}
	}
	free(v);
	return err;
}

int xlb_monitor__ring_fd(const struct xlb *x)
{
	return MAP_FD(x, xlb_mon_ring);
}

int xlb_reason_parse(const char *name)
{
	for (unsigned int r = 0; r < XLB_R__MAX; r++)
		if (!strcmp(name, xlb_reason_name(r)))
			return (int)r;
	return -EINVAL;
}
