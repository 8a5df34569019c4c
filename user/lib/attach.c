// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: put the balancer on interfaces and take it off (libxdp, else a plain netlink attach;
 * an earlier xlb's program replaced in one request), with the interface MACs in xlb_ifmac.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "config.h"	/* XLB_IFACE_NATIVE, XLB_IFACE_GENERIC: the names of the modes */
#include "handle.h"
#include "names.h"

/* Set while libxdp tries its dispatcher: its expected load failures are debug noise. */
bool xlb_dp_quiet_libbpf;

/* The id of the program attached to @ifindex in any mode, and the mode's flags. */
static __u32 attached_id(int ifindex, __u32 *flags)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	*flags = 0;
	if (bpf_xdp_query(ifindex, 0, &q))
		return 0;
	if (q.drv_prog_id) {
		*flags = XDP_FLAGS_DRV_MODE;
		return q.drv_prog_id;
	}
	if (q.skb_prog_id) {
		*flags = XDP_FLAGS_SKB_MODE;
		return q.skb_prog_id;
	}
	if (q.hw_prog_id) {
		*flags = XDP_FLAGS_HW_MODE;
		return q.hw_prog_id;
	}
	return 0;
}

/* Is program @id an xlb balancer (this or an earlier load)? */
static bool is_xlb_prog(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	bool ret = false;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		ret = !strncmp(info.name, XLB_PROG_NAME, sizeof(info.name));
	close(fd);
	return ret;
}

__u32 xlb_dp_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* "generic" or "native", as the config names the modes. */
static const char *mode_name(bool generic)
{
	return xlb_name_of(&xlb_iface_mode_names, generic ? XLB_IFACE_GENERIC : XLB_IFACE_NATIVE);
}

/* The id of this handle's program. */
static __u32 own_prog_id(const struct xlb *x)
{
	return xlb_dp_prog_id(PROG_FD(x));
}

/*
 * Record @ifindex's own MAC in xlb_ifmac: the source MAC of every frame the balancer sends back
 * out of it, read here once rather than per packet. A slot held by another interface that still
 * runs an xlb balancer is left to it (logged): frames of this one then leave with the MAC they
 * were sent to as their source, as before xlb_ifmac existed.
 */
static void ifmac_set(const struct xlb *x, int ifindex)
{
	int fd = MAP_FD(x, xlb_ifmac), s;
	__u32 slot = (__u32)ifindex % XLB_IFMAC_SLOTS, flags, id;
	struct xlb_ifmac v = { .ifindex = (__u32)ifindex }, cur = {};
	struct ifreq ifr = {};

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		pr_info("xlb: %s: no Ethernet address (%s); sent frames keep their destination MAC "
			"as source", ifr.ifr_name, strerror(errno));
		if (s >= 0)
			close(s);
		return;
	}
	close(s);
	memcpy(v.mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!bpf_map_lookup_elem(fd, &slot, &cur) && cur.ifindex && cur.ifindex != v.ifindex &&
	    (id = attached_id((int)cur.ifindex, &flags)) && is_xlb_prog(id)) {
		pr_warn("xlb: %s: MAC slot %u taken by ifindex %u; its frames keep their "
			"destination MAC as source", ifr.ifr_name, slot, cur.ifindex);
		return;
	}
	if (bpf_map_update_elem(fd, &slot, &v, BPF_ANY))
		pr_warn("xlb: %s: cannot record its MAC: %s", ifr.ifr_name, strerror(errno));
}

/* Forget @ifindex's MAC when the balancer leaves it. */
static void ifmac_clear(const struct xlb *x, int ifindex)
{
	int fd = MAP_FD(x, xlb_ifmac);
	__u32 slot = (__u32)ifindex % XLB_IFMAC_SLOTS;
	struct xlb_ifmac cur = {}, none = {};

	if (!bpf_map_lookup_elem(fd, &slot, &cur) && cur.ifindex == (__u32)ifindex)
		bpf_map_update_elem(fd, &slot, &none, BPF_ANY);
}

/* An interface this handle attached to: remembered for close(), its MAC recorded. */
static void remember_ifindex(struct xlb *x, int ifindex)
{
	ifmac_set(x, ifindex);
	for (int i = 0; i < x->n_ifindexes; i++)
		if (x->ifindexes[i] == ifindex)
			return;
	if (x->n_ifindexes < XLB_MAX_IFACES)
		x->ifindexes[x->n_ifindexes++] = ifindex;
}

int xlb__attach(struct xlb *x, const char *ifname, enum xlb_attach_mode mode)
{
	__u32 flags = mode == XLB_ATTACH_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	__u32 cur, cur_flags;
	int ifindex, err;

	if (mode == XLB_ATTACH_NONE)
		return 0;
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		pr_warn("xlb: no interface %s", ifname);
		return -ENODEV;
	}
	cur = attached_id(ifindex, &cur_flags);
	if (cur && cur_flags != flags && (cur == own_prog_id(x) || is_xlb_prog(cur))) {
		/*
		 * Another mode was asked for (config changed): a program cannot change mode in
		 * place, so detach it and attach anew; packets of the moment in between reach the
		 * host stack.
		 */
		pr_info("xlb: %s: switching from %s to %s mode", ifname,
			mode_name(cur_flags == XDP_FLAGS_SKB_MODE),
			mode_name(mode == XLB_ATTACH_GENERIC));
		err = bpf_xdp_detach(ifindex, cur_flags, NULL);
		if (err) {
			pr_warn("xlb: cannot detach from %s: %s", ifname, strerror(-err));
			return err;
		}
		cur = 0;
	}
	if (cur && cur == own_prog_id(x)) {
		remember_ifindex(x, ifindex);
		return 0;
	}
	if (cur) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
		int old_fd;

		if (!is_xlb_prog(cur)) {
			pr_warn("xlb: %s already has another XDP program (id %u)", ifname, cur);
			return -EBUSY;
		}
		/* An earlier xlb (restart or upgrade): swap programs in one netlink request. */
		old_fd = bpf_prog_get_fd_by_id(cur);
		if (old_fd < 0)
			return -errno;
		ao.old_prog_fd = old_fd;
		err = bpf_xdp_attach(ifindex, PROG_FD(x), cur_flags | XDP_FLAGS_REPLACE, &ao);
		close(old_fd);
		if (err) {
			pr_warn("xlb: cannot replace the program on %s: %s", ifname, strerror(-err));
			return err;
		}
		pr_info("xlb: replaced program %u on %s", cur, ifname);
		remember_ifindex(x, ifindex);
		return 0;
	}

	/* libxdp first; where its dispatcher is refused, a plain netlink attach. */
	{
		enum xdp_attach_mode xm = mode == XLB_ATTACH_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
		struct xdp_program *xp;
		int fd = dup(PROG_FD(x));

		xlb_dp_quiet_libbpf = true;
		xp = fd >= 0 ? xdp_program__from_fd(fd) : NULL;
		/* libxdp returns an error-encoded pointer, not NULL; it owns @fd from then on */
		if (xp && libxdp_get_error(xp)) {
			xp = NULL;
			fd = -1;
		}
		err = xp ? xdp_program__attach(xp, ifindex, xm, 0) : -EINVAL;
		xlb_dp_quiet_libbpf = false;
		if (xp)
			xdp_program__close(xp);
		else if (fd >= 0)
			close(fd);
		if (!err && attached_id(ifindex, &cur_flags)) {
			remember_ifindex(x, ifindex);
			return 0;
		}
		pr_debug("xlb: libxdp attach on %s failed (%s), attaching directly", ifname,
			 strerror(err < 0 ? -err : EINVAL));
	}
	err = bpf_xdp_attach(ifindex, PROG_FD(x), flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		pr_warn("xlb: cannot attach to %s: %s", ifname, strerror(-err));
		return err;
	}
	remember_ifindex(x, ifindex);
	return 0;
}

/*
 * Does program @id use this handle's maps? Then it is an xlb of the same state, loaded by any
 * earlier generation: one that adopted without attaching re-pinned its own program, so the one
 * still attached is then neither ours nor the one pinned before us.
 */
static bool uses_our_maps(const struct xlb *x, __u32 id)
{
	struct bpf_prog_info info = {};
	struct bpf_map_info minfo = {};
	__u32 len = sizeof(info), mlen = sizeof(minfo), ids[64];
	bool ret = false;
	int fd;

	if (bpf_obj_get_info_by_fd(MAP_FD(x, xlb_config), &minfo, &mlen))
		return false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
			ret |= ids[i] == minfo.id;
	close(fd);
	return ret;
}

/*
 * Detach from @ifindex if the program there is this handle's, the one it took over, or any
 * other program of the same maps.
 */
static int detach_ifindex(const struct xlb *x, int ifindex)
{
	__u32 flags, id = attached_id(ifindex, &flags);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	int fd, err;

	if (!id || (id != own_prog_id(x) && id != x->old_prog_id && !uses_our_maps(x, id)))
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	ao.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &ao);
	close(fd);
	if (!err)
		ifmac_clear(x, ifindex);
	return err;
}

int xlb__detach(struct xlb *x, const char *ifname)
{
	int ifindex = if_nametoindex(ifname);

	if (!ifindex)
		return -ENODEV;
	for (int i = 0; i < x->n_ifindexes; i++)
		if (x->ifindexes[i] == ifindex)
			x->ifindexes[i] = x->ifindexes[--x->n_ifindexes];
	return detach_ifindex(x, ifindex);
}

void xlb_dp_detach_all(struct xlb *x)
{
	struct if_nameindex *ifs = if_nameindex();

	/*
	 * Also interfaces an earlier process attached (this handle adopted its state): every
	 * interface running our program or the one pinned before us.
	 */
	for (int i = 0; i < x->n_ifindexes; i++)
		detach_ifindex(x, x->ifindexes[i]);
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		detach_ifindex(x, i->if_index);
	if (ifs)
		if_freenameindex(ifs);
}
