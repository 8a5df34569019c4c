// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: program the balancer's maps: the config entry, VIPs (with the address filter
 * xlb_vip_meta kept ahead of them and their slots in xlb_vip_ids), backends, flow keys.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "handle.h"

int xlb__config_get(struct xlb *x, struct xlb_config *cfg)
{
	__u32 zero = 0;

	return ret_errno(bpf_map_lookup_elem(MAP_FD(x, xlb_config), &zero, cfg));
}

int xlb__config_set(struct xlb *x, const struct xlb_config *cfg)
{
	struct xlb_config c = *cfg;
	__u32 zero = 0;

	if (c.encap_src4_bits > 16)
		return -EINVAL;
	/* the too-big reply limit is never off: 0 stands for the default, written as such */
	if (!c.icmp_rate)
		c.icmp_rate = XLB_ICMP_RATE_DEFAULT;
	if (!c.icmp_burst)
		c.icmp_burst = XLB_ICMP_BURST_DEFAULT;
	c.abi_version = XLB_ABI_VERSION;
	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_config), &zero, &c, BPF_ANY));
}

static void vip_meta_add(struct xlb_vip_meta *meta, const struct xlb_vip_key *key)
{
	__u32 bit = xlb_vip_filter_bit(key->addr);

	meta->addr_filter[bit / 64] |= 1ULL << (bit % 64);
	if (!key->port)
		meta->all_ports |= xlb_all_ports_bit(key->family, key->proto);
}

/* Do @keys already hold exactly @vips? Then a set changes nothing. */
static bool vips_unchanged(struct xlb *x, const struct xlb_vip_key *keys,
			   const struct xlb_vip *vips, size_t n)
{
	struct xlb_vip cur;

	for (size_t i = 0; i < n; i++)
		if (bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &keys[i], &cur) ||
		    memcmp(&cur, &vips[i], sizeof(cur)))
			return false;
	return true;
}

/*
 * Recompute xlb_vip_meta from xlb_vips (plus @extra, the @n keys about to be added): a filter
 * bit is set before the VIP it announces appears, and cleared only after the last one is gone,
 * so the datapath never skips a live VIP. One walk of xlb_vips: callers changing many VIPs
 * batch them (xlb_vip__set_batch()) rather than paying a walk per VIP. The flow table's seed
 * and size are carried over: the entry is rewritten as a whole.
 */
static int vip_meta_sync(struct xlb *x, const struct xlb_vip_key *extra, size_t n)
{
	struct xlb_vip_key key, next;
	struct xlb_vip_meta meta = {}, cur;
	int fd = MAP_FD(x, xlb_vips);
	void *prev = NULL;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(MAP_FD(x, xlb_vip_meta), &zero, &cur))
		return -errno;
	meta.flow_seed = cur.flow_seed;
	meta.flow_buckets = cur.flow_buckets;
	for (size_t i = 0; i < n; i++)
		vip_meta_add(&meta, &extra[i]);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		vip_meta_add(&meta, &key);
	}
	if (errno != ENOENT)
		return -errno;
	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_vip_meta), &zero, &meta, BPF_ANY));
}

/*
 * The VIP slots (xlb_vip_ids[id], struct xlb_vip_slot): a flow-table hit's VIP by the id in its
 * way. A slot is written before its VIP appears in xlb_vips and cleared after it is gone (or
 * after its key took another id), so a slot names a live VIP or one just being added; a clear
 * slot (family 0) matches no packet. A slot is cleared only if it still holds @key: the id may
 * have gone to another VIP meanwhile.
 */
static int vip_slot_write(struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *vip)
{
	struct xlb_vip_slot s = { .key = *key, .vip = *vip };

	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_vip_ids), &vip->id, &s, BPF_ANY));
}

static int vip_slot_clear(struct xlb *x, __u32 id, const struct xlb_vip_key *key)
{
	struct xlb_vip_slot s, none = {};
	int fd = MAP_FD(x, xlb_vip_ids);

	if (bpf_map_lookup_elem(fd, &id, &s))
		return -errno;
	if (memcmp(&s.key, key, sizeof(*key)))
		return 0;
	return ret_errno(bpf_map_update_elem(fd, &id, &none, BPF_ANY));
}

static int vip_check(const struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *vip)
{
	if (vip->id >= x->max_vips || vip->mode >= XLB_MODE__MAX)
		return -EINVAL;
	if (key->family != XLB_AF_INET && key->family != XLB_AF_INET6)
		return -EINVAL;
	return 0;
}

int xlb_vip__set(struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *vip)
{
	return xlb_vip__set_batch(x, key, vip, 1);
}

int xlb_vip__set_batch(struct xlb *x, const struct xlb_vip_key *keys, const struct xlb_vip *vips,
		       size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	struct xlb_vip *old = NULL;
	bool *had = NULL;
	__u32 count = n;
	int err, e;

	for (size_t i = 0; i < n; i++) {
		err = vip_check(x, &keys[i], &vips[i]);
		if (err)
			return err;
	}
	if (!n || vips_unchanged(x, keys, vips, n))
		return 0;
	old = calloc(n, sizeof(*old));
	had = calloc(n, sizeof(*had));
	err = old && had ? 0 : -ENOMEM;
	/* what each key held: an id it leaves behind is cleared once the map says the new one */
	for (size_t i = 0; !err && i < n; i++)
		had[i] = !bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &keys[i], &old[i]);
	if (!err)
		err = vip_meta_sync(x, keys, n);
	for (size_t i = 0; !err && i < n; i++)
		err = vip_slot_write(x, &keys[i], &vips[i]);
	if (err)
		goto out;
	if (n == 1)
		err = ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_vips), keys, vips, BPF_ANY));
	else
		err = ret_errno(bpf_map_update_batch(MAP_FD(x, xlb_vips), keys, vips, &count, &o));
	/* even after a partial failure: a key that took its new id frees its old one */
	for (size_t i = 0; i < n; i++) {
		struct xlb_vip cur;

		if (!had[i] || old[i].id == vips[i].id ||
		    bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &keys[i], &cur) ||
		    cur.id != vips[i].id)
			continue;
		e = vip_slot_clear(x, old[i].id, &keys[i]);
		if (e && !err)
			err = e;
	}
out:
	free(old);
	free(had);
	return err;
}

int xlb_vip__get(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip *vip)
{
	return ret_errno(bpf_map_lookup_elem(MAP_FD(x, xlb_vips), key, vip));
}

/* Delete @key from xlb_vips, then clear the slot of the id it held. */
static int vip_del_one(struct xlb *x, const struct xlb_vip_key *key)
{
	struct xlb_vip vip;
	bool had = !bpf_map_lookup_elem(MAP_FD(x, xlb_vips), key, &vip);
	int err = ret_errno(bpf_map_delete_elem(MAP_FD(x, xlb_vips), key));

	return !err && had ? vip_slot_clear(x, vip.id, key) : err;
}

int xlb_vip__del(struct xlb *x, const struct xlb_vip_key *key)
{
	int err = vip_del_one(x, key);

	if (!err)
		err = vip_meta_sync(x, NULL, 0);
	return err;
}

int xlb_vip__del_batch(struct xlb *x, const struct xlb_vip_key *keys, size_t n)
{
	int err = 0, e;

	/* one by one (a key already gone must not stop the others), then one walk */
	for (size_t i = 0; i < n; i++) {
		e = vip_del_one(x, &keys[i]);
		if (e && e != -ENOENT && !err)
			err = e;
	}
	e = n ? vip_meta_sync(x, NULL, 0) : 0;
	return err ? err : e;
}

int xlb_vip__foreach(struct xlb *x,
		     int (*cb)(const struct xlb_vip_key *key, const struct xlb_vip *vip, void *ctx),
		     void *ctx)
{
	struct xlb_vip_key key, next;
	int fd = MAP_FD(x, xlb_vips), rc;
	struct xlb_vip vip;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &vip))
			continue; /* deleted meanwhile */
		rc = cb(&key, &vip, ctx);
		if (rc)
			return rc;
	}
	return errno == ENOENT ? 0 : -errno;
}

int xlb_backend__set(struct xlb *x, __u32 id, const struct xlb_backend *be)
{
	if (id == XLB_BACKEND_NONE || id >= x->max_backends)
		return -EINVAL;
	if (be->family != XLB_AF_INET && be->family != XLB_AF_INET6)
		return -EINVAL;
	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_backends), &id, be, BPF_ANY));
}

int xlb_backend__set_batch(struct xlb *x, const __u32 *ids, const struct xlb_backend *bes,
			   size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	__u32 count = n;

	for (size_t i = 0; i < n; i++)
		if (ids[i] == XLB_BACKEND_NONE || ids[i] >= x->max_backends ||
		    (bes[i].family != XLB_AF_INET && bes[i].family != XLB_AF_INET6))
			return -EINVAL;
	if (n == 1)
		return xlb_backend__set(x, ids[0], bes);
	if (!n)
		return 0;
	return ret_errno(bpf_map_update_batch(MAP_FD(x, xlb_backends), ids, bes, &count, &o));
}

int xlb_backend__get(struct xlb *x, __u32 id, struct xlb_backend *be)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return ret_errno(bpf_map_lookup_elem(MAP_FD(x, xlb_backends), &id, be));
}

int xlb_backend__clear(struct xlb *x, __u32 id)
{
	struct xlb_backend be = {};

	if (id == XLB_BACKEND_NONE || id >= x->max_backends)
		return -EINVAL;
	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_backends), &id, &be, BPF_ANY));
}

void xlb_flow_key__init(struct xlb_flow_key *k, int family, const void *src, const void *dst,
			__u16 sport, __u16 dport, __u8 proto)
{
	size_t alen = family == XLB_AF_INET6 ? 16 : 4;

	memset(k, 0, sizeof(*k));
	memcpy(k->src, src, alen);
	memcpy(k->dst, dst, alen);
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->proto = proto;
	k->family = (__u8)family;
}
