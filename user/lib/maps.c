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
 * have gone to another VIP meanwhile. @sole: an all-ports VIP with no port VIP beside it
 * (XLB_SLOT_F_SOLE, see vip_slot_mark()).
 */
static int vip_slot_write(struct xlb *x, const struct xlb_vip_key *key, const struct xlb_vip *vip,
			  bool sole)
{
	struct xlb_vip_slot s = { .key = *key, .vip = *vip };

	if (sole)
		s.vip.flags |= XLB_SLOT_F_SOLE;
	return ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_vip_ids), &vip->id, &s, BPF_ANY));
}

/*
 * vip_slot_mark() - set (@sole) or clear XLB_SLOT_F_SOLE in the slot of the all-ports VIP @key
 * holds in xlb_vips now; nothing if @key is no VIP or its slot is another key's. The datapath
 * then trusts that slot for a flow of any port of the VIP's address (bpf/xlb.bpf.c
 * vip_slot_is()), so the mark is cleared before a port VIP of its {addr, proto, family} enters
 * xlb_vips and set only after the last one left.
 */
static int vip_slot_mark(struct xlb *x, const struct xlb_vip_key *key, bool sole)
{
	int fd = MAP_FD(x, xlb_vip_ids);
	struct xlb_vip_slot s;
	struct xlb_vip vip;

	if (bpf_map_lookup_elem(MAP_FD(x, xlb_vips), key, &vip))
		return errno == ENOENT ? 0 : -errno;
	if (bpf_map_lookup_elem(fd, &vip.id, &s))
		return -errno;
	if (memcmp(&s.key, key, sizeof(*key)) || !(s.vip.flags & XLB_SLOT_F_SOLE) == !sole)
		return 0;
	s.vip.flags ^= XLB_SLOT_F_SOLE;
	return ret_errno(bpf_map_update_elem(fd, &vip.id, &s, BPF_ANY));
}

/* Do @a and @b share {addr, proto, family} (the keys find_vip() chooses between)? */
static bool vip_beside(const struct xlb_vip_key *a, const struct xlb_vip_key *b)
{
	return !memcmp(a->addr, b->addr, sizeof(a->addr)) && a->proto == b->proto &&
	       a->family == b->family;
}

/* The all-ports key of @key's {addr, proto, family}. */
static struct xlb_vip_key vip_all_ports(const struct xlb_vip_key *key)
{
	struct xlb_vip_key k = *key;

	k.port = 0;
	return k;
}

/* The all-ports keys whose port peers are looked for, and the answers. */
struct port_peers {
	const struct xlb_vip_key *keys;
	size_t n;
	bool *peer;
};

static void port_peers_add(struct port_peers *pp, const struct xlb_vip_key *key)
{
	for (size_t i = 0; key->port && i < pp->n; i++)
		if (!pp->keys[i].port && vip_beside(&pp->keys[i], key))
			pp->peer[i] = true;
}

static int port_peers_cb(const struct xlb_vip_key *key, const struct xlb_vip *vip, void *ctx)
{
	(void)vip;
	port_peers_add(ctx, key);
	return 0;
}

/*
 * vip_port_peers() - for each all-ports key of @keys[@n], whether a port VIP beside it is in
 * xlb_vips or among @extra[@n_extra]: into @peer (false for port keys). One walk of xlb_vips, and
 * none when @keys hold no all-ports key.
 */
static int vip_port_peers(struct xlb *x, const struct xlb_vip_key *keys, size_t n,
			  const struct xlb_vip_key *extra, size_t n_extra, bool *peer)
{
	struct port_peers pp = { .keys = keys, .n = n, .peer = peer };
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		peer[i] = false;
		any |= !keys[i].port;
	}
	if (!any)
		return 0;
	for (size_t j = 0; j < n_extra; j++)
		port_peers_add(&pp, &extra[j]);
	return xlb_vip__foreach(x, port_peers_cb, &pp);
}

/*
 * vip_marks_settle() - after port VIPs @keys[@n] left xlb_vips: the all-ports VIPs beside them
 * that no port VIP is beside any more are marked sole again.
 */
static int vip_marks_settle(struct xlb *x, const struct xlb_vip_key *keys, size_t n)
{
	struct xlb_vip_key *aps = calloc(n ? n : 1, sizeof(*aps));
	bool *peer = calloc(n ? n : 1, sizeof(*peer));
	struct xlb_vip vip;
	size_t m = 0;
	int err = aps && peer ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < n; i++) {
		if (!keys[i].port)
			continue;
		aps[m] = vip_all_ports(&keys[i]);
		if (!bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &aps[m], &vip))
			m++;
	}
	if (!err && m)
		err = vip_port_peers(x, aps, m, NULL, 0, peer);
	for (size_t i = 0; !err && i < m; i++)
		if (!peer[i])
			err = vip_slot_mark(x, &aps[i], true);
	free(aps);
	free(peer);
	return err;
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
	if (vip->flags & XLB_SLOT_F_SOLE)
		return -EINVAL;	/* libxlb's own mark, in VIP slots only */
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
	bool *had = NULL, *peer = NULL;
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
	peer = calloc(n, sizeof(*peer));
	err = old && had && peer ? 0 : -ENOMEM;
	/* what each key held: an id it leaves behind is cleared once the map says the new one */
	for (size_t i = 0; !err && i < n; i++)
		had[i] = !bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &keys[i], &old[i]);
	if (!err)
		err = vip_meta_sync(x, keys, n);
	/* a port VIP about to appear: the all-ports VIP beside it is no longer sole, from now */
	for (size_t i = 0; !err && i < n; i++) {
		struct xlb_vip_key all = vip_all_ports(&keys[i]);

		if (keys[i].port)
			err = vip_slot_mark(x, &all, false);
	}
	/* an all-ports VIP written sole only with no port VIP beside it, in the map or this batch */
	if (!err)
		err = vip_port_peers(x, keys, n, keys, n, peer);
	for (size_t i = 0; !err && i < n; i++)
		err = vip_slot_write(x, &keys[i], &vips[i], !keys[i].port && !peer[i]);
	if (!err && n == 1)
		err = ret_errno(bpf_map_update_elem(MAP_FD(x, xlb_vips), keys, vips, BPF_ANY));
	else if (!err)
		err = ret_errno(bpf_map_update_batch(MAP_FD(x, xlb_vips), keys, vips, &count, &o));
	/*
	 * Even after a partial failure, every slot as xlb_vips now says: a key that took its new id
	 * frees its old one; a slot written for an id its key did not take (the write or the update
	 * failed, or the key came again later in the batch) is cleared if it still holds that key.
	 */
	for (size_t i = 0; old && had && peer && i < n; i++) {
		struct xlb_vip cur;
		bool took;

		took = !bpf_map_lookup_elem(MAP_FD(x, xlb_vips), &keys[i], &cur) &&
		       cur.id == vips[i].id;
		if (!took)
			e = vip_slot_clear(x, vips[i].id, &keys[i]);
		else if (had[i] && old[i].id != vips[i].id)
			e = vip_slot_clear(x, old[i].id, &keys[i]);
		else
			e = 0;
		if (e && !err)
			err = e;
	}
	free(old);
	free(had);
	free(peer);
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
	if (!err)
		err = vip_marks_settle(x, key, 1);
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
	if (!e)
		e = vip_marks_settle(x, keys, n);
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
