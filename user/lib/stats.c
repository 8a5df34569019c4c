// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libxlb: the balancer's counters (per VIP, per backend, per reason) summed over CPUs; cleared. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "handle.h"

/* A zeroed per-CPU value of @n __u64 counters (*@ncpu copies), or NULL with *@err set. */
static __u64 *percpu_value(size_t n, int *ncpu, int *err)
{
	__u64 *vals;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		*err = -EINVAL;
		return NULL;
	}
	vals = calloc((size_t)*ncpu * n, sizeof(*vals));
	*err = vals ? 0 : -ENOMEM;
	return vals;
}

/* Sum a per-CPU value of @n __u64 counters. */
static int percpu_sum(int fd, __u32 key, __u64 *out, size_t n)
{
	int ncpu, err;
	__u64 *vals = percpu_value(n, &ncpu, &err);

	if (!vals)
		return err;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		err = -errno;
		free(vals);
		return err;
	}
	memset(out, 0, n * sizeof(*out));
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < n; i++)
			out[i] += vals[(size_t)c * n + i];
	free(vals);
	return 0;
}

static int percpu_clear(int fd, __u32 key, size_t n)
{
	int ncpu, err;
	__u64 *vals = percpu_value(n, &ncpu, &err);

	if (!vals)
		return err;
	err = ret_errno(bpf_map_update_elem(fd, &key, vals, BPF_ANY));
	free(vals);
	return err;
}

int xlb_stats__vip(struct xlb *x, __u32 vip_id, struct xlb_counters *out)
{
	if (vip_id >= x->max_vips)
		return -EINVAL;
	return percpu_sum(MAP_FD(x, xlb_stats_vip), vip_id, (__u64 *)out, 3);
}

int xlb_stats__backend(struct xlb *x, __u32 id, struct xlb_counters *out)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return percpu_sum(MAP_FD(x, xlb_stats_backend), id, (__u64 *)out, 3);
}

/* Keys per BPF_MAP_LOOKUP_BATCH of a range read: bounds its buffer (keys x CPUs x value). */
#define RANGE_CHUNK 1024

/* Sum the per-CPU values (@n __u64 each) of keys @lo .. @lo + @count - 1 of array @fd. */
static int percpu_sum_ids(int fd, __u32 lo, __u32 count, __u64 *out, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 keys[RANGE_CHUNK], done = 0;
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu * n * RANGE_CHUNK, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, (size_t)count * n * sizeof(*out));
	while (done < count) {
		/* an array's batch token is the key before the first one to read */
		__u32 prev = lo + done - 1, next, got = count - done < RANGE_CHUNK ? count - done :
								     RANGE_CHUNK;

		err = ret_errno(bpf_map_lookup_batch(fd, lo + done ? &prev : NULL, &next, keys, vals,
						     &got, &o));
		if (err && err != -ENOENT)
			break;
		err = 0;
		for (__u32 k = 0; k < got; k++) {
			__u64 *dst = &out[(size_t)(keys[k] - lo) * n];

			if (keys[k] < lo || keys[k] - lo >= count)
				continue;
			for (int c = 0; c < ncpu; c++)
				for (size_t i = 0; i < n; i++)
					dst[i] += vals[((size_t)k * ncpu + c) * n + i];
		}
		if (!got)
			break;
		done += got;
	}
	free(vals);
	return err;
}

int xlb_stats__vip_range(struct xlb *x, __u32 lo, __u32 count, struct xlb_counters *out)
{
	if (lo >= x->max_vips || count > x->max_vips - lo)
		return -EINVAL;
	return percpu_sum_ids(MAP_FD(x, xlb_stats_vip), lo, count, (__u64 *)out, 3);
}

int xlb_stats__backend_range(struct xlb *x, __u32 lo, __u32 count, struct xlb_counters *out)
{
	if (lo >= x->max_backends || count > x->max_backends - lo)
		return -EINVAL;
	return percpu_sum_ids(MAP_FD(x, xlb_stats_backend), lo, count, (__u64 *)out, 3);
}

int xlb_stats__reasons(struct xlb *x, struct xlb_reason_counters out[XLB_R__MAX])
{
	for (__u32 r = 0; r < XLB_R__MAX; r++) {
		int err = percpu_sum(MAP_FD(x, xlb_stats_reason), r, (__u64 *)&out[r], 2);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Sum the per-CPU counters of keys 0 .. @n-1 of array @fd into @out (@n values of @nf __u64
 * each): BPF_MAP_LOOKUP_BATCH, a few syscalls for the whole range; one lookup per key where
 * the kernel has no batch operations for the map.
 */
static int percpu_sum_range(int fd, __u32 n, __u64 *out, size_t nf)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 chunk = 4096, in = 0, next, count, i, k;
	__u32 *keys = NULL;
	__u64 *vals = NULL;
	bool first = true;

	if (ncpu <= 0)
		return -EINVAL;
	memset(out, 0, (size_t)n * nf * sizeof(*out));
	keys = calloc(chunk, sizeof(*keys));
	vals = calloc((size_t)chunk * ncpu * nf, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (in < n) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		count = n - in < chunk ? n - in : chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &next, keys, vals, &count, &o);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (i = 0; i < count; i++) {
			if (keys[i] >= n)
				continue;
			for (int c = 0; c < ncpu; c++)
				for (k = 0; k < nf; k++)
					out[(size_t)keys[i] * nf + k] +=
						vals[((size_t)i * ncpu + c) * nf + k];
		}
		if (err || !count)
			break; /* ENOENT: the end of the map */
		in = next;
		first = false;
	}
	if (err == -EINVAL || err == -EOPNOTSUPP) {
		/* no batch operations: one lookup per key */
		for (err = 0, i = 0; i < n && !err; i++)
			err = percpu_sum(fd, i, out + (size_t)i * nf, nf);
	} else if (err == -ENOENT || err > 0) {
		err = 0;
	}
out:
	free(keys);
	free(vals);
	return err < 0 ? err : 0;
}

int xlb_stats__vips(struct xlb *x, __u32 n, struct xlb_counters *out)
{
	if (n > x->max_vips)
		return -EINVAL;
	return percpu_sum_range(MAP_FD(x, xlb_stats_vip), n, (__u64 *)out, 3);
}

int xlb_stats__backends(struct xlb *x, __u32 n, struct xlb_counters *out)
{
	if (n > x->max_backends)
		return -EINVAL;
	return percpu_sum_range(MAP_FD(x, xlb_stats_backend), n, (__u64 *)out, 3);
}

int xlb_stats__clear_vip(struct xlb *x, __u32 vip_id)
{
	if (vip_id >= x->max_vips)
		return -EINVAL;
	return percpu_clear(MAP_FD(x, xlb_stats_vip), vip_id, 3);
}

int xlb_stats__clear_backend(struct xlb *x, __u32 id)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return percpu_clear(MAP_FD(x, xlb_stats_backend), id, 3);
}

const char *xlb_reason_name(unsigned int reason)
{
	static const char *const names[] = XLB_REASON_NAMES;

	_Static_assert(sizeof(names) / sizeof(names[0]) == XLB_R__MAX, "one name per reason");
	return reason < XLB_R__MAX ? names[reason] : "unknown";
}

