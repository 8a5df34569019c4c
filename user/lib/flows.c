// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: the flow table xlb_flows (struct xlb_flow_bucket), read and written in place through
 * a shared mapping of the array: the bucket and tag of a flow (the datapath's xlb_flow_split()
 * of xlb_flow_hash64() with xlb_vip_meta's seed), its way, the count of recorded flows.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "handle.h"

_Static_assert(XLB_MAX_BACKENDS_LIMIT <= 1 << 16, "a way's 16 bits hold every backend id");
_Static_assert(XLB_MAX_VIPS_LIMIT <= 1 << 15, "a way's 15 bits hold every vip id");

int xlb_dp_flows_init(struct xlb *x)
{
	struct xlb_vip_meta meta;
	__u32 zero = 0;
	int fd = MAP_FD(x, xlb_vip_meta);

	if (bpf_map_lookup_elem(fd, &zero, &meta))
		return -errno;
	if (getrandom(&meta.flow_seed, sizeof(meta.flow_seed), 0) != sizeof(meta.flow_seed))
		return -errno;
	meta.flow_buckets = x->flow_buckets;
	return ret_errno(bpf_map_update_elem(fd, &zero, &meta, BPF_ANY));
}

void xlb_dp_flows_unmap(struct xlb *x)
{
	if (x->flows_mm)
		munmap(x->flows_mm, x->flows_mm_len);
	x->flows_mm = NULL;
}

/* The buckets, mapped on first use (one mapping for the handle's life). */
static struct xlb_flow_bucket *flows_map(struct xlb *x)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)x->flow_buckets * sizeof(struct xlb_flow_bucket);
	void *m;

	if (x->flows_mm)
		return x->flows_mm;
	len = (len + page - 1) / page * page;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, MAP_FD(x, xlb_flows), 0);
	if (m == MAP_FAILED)
		return NULL;
	x->flows_mm = m;
	x->flows_mm_len = len;
	return m;
}

/* Flow @k's bucket, tag and outer hash, with the table's own seed and size (xlb_vip_meta). */
static int flow_split(struct xlb *x, const struct xlb_flow_key *k, __u32 *bucket, __u32 *tag,
		      __u32 *outer)
{
	struct xlb_vip_meta meta;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(MAP_FD(x, xlb_vip_meta), &zero, &meta))
		return -errno;
	*tag = xlb_flow_split(xlb_flow_hash64(k, meta.flow_seed), meta.flow_buckets, bucket, outer);
	return 0;
}

int xlb_flow__place(struct xlb *x, const struct xlb_flow_key *k, __u32 *bucket, __u32 *tag)
{
	__u32 outer;
	int err = flow_split(x, k, bucket, tag, &outer);

	if (err)
		return err;
	return *bucket < x->flow_buckets ? 0 : -ERANGE;
}

int xlb_flow__outer(struct xlb *x, const struct xlb_flow_key *k, __u32 *outer)
{
	__u32 bucket, tag;

	return flow_split(x, k, &bucket, &tag, outer);
}

/* Does way word @w hold a flow of @tag recorded for VIP @vip_id (XLB_FLOW_ANY_VIP: any)? */
static bool way_is(__u64 w, __u32 tag, __u32 vip_id)
{
	return xlb_way_tag(w) == tag && xlb_way_backend(w) &&
	       (vip_id == XLB_FLOW_ANY_VIP || xlb_way_vip(w) == vip_id);
}

/* Flow @k's bucket, mapped, into *@b, its index into *@bucket and its tag into *@tag. */
static int flow_bucket(struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow_bucket **b,
		       __u32 *bucket, __u32 *tag)
{
	struct xlb_flow_bucket *m = flows_map(x);
	int err;

	if (!m)
		return -errno;
	err = xlb_flow__place(x, k, bucket, tag);
	if (!err)
		*b = &m[*bucket];
	return err;
}

/* The way of flow @k recorded for VIP @vip_id (XLB_FLOW_ANY_VIP: any) into @f, or -ENOENT. */
int xlb_flow__find(struct xlb *x, const struct xlb_flow_key *k, __u32 vip_id, struct xlb_flow *f)
{
	struct xlb_flow_bucket *b = NULL;
	__u32 bucket, tag;
	int err = flow_bucket(x, k, &b, &bucket, &tag);

	if (err)
		return err;
	/* from way tag % 8 round the bucket, as the datapath's flow_find() scans */
	for (__u32 n = 0, i; n < XLB_FLOW_WAYS; n++) {
		__u64 w;

		i = (tag + n) % XLB_FLOW_WAYS;
		w = __atomic_load_n(&b->way[i], __ATOMIC_RELAXED);
		if (!way_is(w, tag, vip_id))
			continue;
		f->backend_id = xlb_way_backend(w);
		f->vip_id = xlb_way_vip(w);
		f->referenced = !!(w & XLB_WAY_REF);
		f->bucket = bucket;
		f->way = i;
		return 0;
	}
	return -ENOENT;
}

int xlb_flow__get(struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f)
{
	return xlb_flow__find(x, k, XLB_FLOW_ANY_VIP, f);
}

int xlb_flow__set(struct xlb *x, const struct xlb_flow_key *k, __u32 backend_id, __u32 vip_id)
{
	__u32 bucket, tag, way = XLB_FLOW_WAYS;
	struct xlb_flow_bucket *b = NULL;
	int err;

	if (backend_id == XLB_BACKEND_NONE || backend_id >= x->max_backends ||
	    vip_id >= x->max_vips)
		return -EINVAL;
	err = flow_bucket(x, k, &b, &bucket, &tag);
	if (err)
		return err;
	/* the flow's own way for this VIP, else the first empty one */
	for (__u32 i = 0; i < XLB_FLOW_WAYS; i++) {
		__u64 w = __atomic_load_n(&b->way[i], __ATOMIC_RELAXED);

		if (way_is(w, tag, vip_id)) {
			way = i;
			break;
		}
		if (!xlb_way_backend(w) && way == XLB_FLOW_WAYS)
			way = i;
	}
	if (way == XLB_FLOW_WAYS)
		return -ENOSPC;
	__atomic_store_n(&b->way[way], xlb_way_make(tag, backend_id, vip_id), __ATOMIC_RELAXED);
	return 0;
}

int xlb_flow__count(struct xlb *x, __u64 *n)
{
	const struct xlb_flow_bucket *b = flows_map(x);

	*n = 0;
	if (!b)
		return -errno;
	for (__u32 i = 0; i < x->flow_buckets; i++)
		for (__u32 j = 0; j < XLB_FLOW_WAYS; j++)
			*n += !!xlb_way_backend(__atomic_load_n(&b[i].way[j], __ATOMIC_RELAXED));
	return 0;
}

__u32 xlb_flow__buckets(const struct xlb *x)
{
	return x->flow_buckets;
}
