// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libxlb datapath layer: load/adopt/pin the XDP balancer, attach it, program and read its maps. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

/*
 * The generated skeleton is named after bpf/xlb.bpf.c and would collide with libxlb's own
 * struct xlb and xlb__open/attach/detach: rename its symbols for this file.
 */
#define xlb xlb_skel
#define xlb__open xlb_skel__open
#define xlb__open_opts xlb_skel__open_opts
#define xlb__load xlb_skel__load
#define xlb__open_and_load xlb_skel__open_and_load
#define xlb__attach xlb_skel__attach
#define xlb__detach xlb_skel__detach
#define xlb__destroy xlb_skel__destroy
#define xlb__create_skeleton xlb_skel__create_skeleton
#define xlb__elf_bytes xlb_skel__elf_bytes
#define xlb__assert xlb_skel__assert
#include "xlb.skel.h"
#undef xlb
#undef xlb__open
#undef xlb__open_opts
#undef xlb__load
#undef xlb__open_and_load
#undef xlb__attach
#undef xlb__detach
#undef xlb__destroy
#undef xlb__create_skeleton
#undef xlb__elf_bytes
#undef xlb__assert

#include "xlb.h"

#define XLB_PROG_NAME "xlb_balancer"
#define XLB_PROG_PIN "prog"
#define XLB_MAX_IFACES 64

/* Every map of the balancer, by the name it is pinned under. */
static const char *const map_names[] = {
	"xlb_vips",	     "xlb_backends",	 "xlb_maglev", "xlb_flows", "xlb_stats_vip",
	"xlb_stats_backend", "xlb_stats_reason", "xlb_config", "xlb_flood",
	"xlb_vip_meta",	     "xlb_ifmac",	 "xlb_icmp_bucket",
	"xlb_monitor",	     "xlb_mon_ring",	 "xlb_mon_stats",	/* user/lib/monitor.c */
};
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

struct xlb {
	struct xlb_skel *skel;	/* the embedded object (NULL when opened from opts->bpf_obj) */
	struct bpf_object *obj;
	struct bpf_program *prog;
	int map_fds[N_MAPS];
	int prog_fd;
	bool adopted;
	bool pin;
	__u32 max_vips;		/* entries of the maps indexed by vip id, as loaded or adopted */
	__u32 max_backends;	/* entries of the maps indexed by backend id (id 0 = none) */
	char pin_dir[PATH_MAX - 64];
	__u32 old_prog_id;	/* the program pinned before this open (an earlier xlb's) */
	int ifindexes[XLB_MAX_IFACES]; /* interfaces this handle attached */
	int n_ifindexes;
};

/* Set while libxdp tries its dispatcher: its expected load failures are debug noise. */
static bool quiet_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[8192];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	/* libbpf's own messages one level quieter than ours; they carry their "libbpf: " */
	xlb_log(level == LIBBPF_WARN && !quiet_libbpf ? XLB_LOG_INFO : XLB_LOG_DEBUG, "%s", buf);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	if (level == LIBXDP_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	xlb_log(XLB_LOG_DEBUG, "libxdp: %s", buf);
	return 0;
}

static int map_index(const char *name)
{
	for (size_t i = 0; i < N_MAPS; i++)
		if (!strcmp(map_names[i], name))
			return (int)i;
	return -1;
}

static void pin_path(const struct xlb *x, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", x->pin_dir, name);
}

/* Remove every pin of ours under the pin dir, and the dir if it is then empty. */
static void unpin_all(struct xlb *x)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < N_MAPS; i++) {
		pin_path(x, map_names[i], path, sizeof(path));
		unlink(path);
	}
	pin_path(x, XLB_PROG_PIN, path, sizeof(path));
	unlink(path);
	rmdir(x->pin_dir);
}

/*
 * Maps whose size is chosen at load time (the flow table, and the maps indexed by vip or
 * backend id): a pinned one keeps the size it was created with, whatever is asked now.
 * Returns 1 for the vip id maps, 2 for the backend id maps, 3 for the flow table, else 0.
 */
static int sized_map(const char *name)
{
	static const char *const vip_maps[] = { "xlb_vips", "xlb_maglev", "xlb_stats_vip" };
	static const char *const be_maps[] = { "xlb_backends", "xlb_stats_backend" };

	for (size_t i = 0; i < ARRAY_SIZE(vip_maps); i++)
		if (!strcmp(name, vip_maps[i]))
			return 1;
	for (size_t i = 0; i < ARRAY_SIZE(be_maps); i++)
		if (!strcmp(name, be_maps[i]))
			return 2;
	return strcmp(name, "xlb_flows") ? 0 : 3;
}

static __u32 map_size(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/*
 * Open the pinned maps if they form a compatible state: every map present with the type, key
 * and value size this object expects, and xlb_config written by the same ABI version.
 * Returns 1 with @fds filled, 0 if nothing is pinned, -ESTALE if a pinned state is unusable.
 */
static int open_pinned(struct xlb *x, int fds[N_MAPS])
{
	char path[PATH_MAX];
	int present = 0, err = 0;

	for (size_t i = 0; i < N_MAPS; i++)
		fds[i] = -1;
	for (size_t i = 0; i < N_MAPS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->obj, map_names[i]);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		pin_path(x, map_names[i], path, sizeof(path));
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			if (errno != ENOENT)
				pr_warn("xlb: cannot open pinned map %s: %s", path, strerror(errno));
			err = -ESTALE;
			continue;
		}
		present++;
		if (!m || bpf_obj_get_info_by_fd(fds[i], &info, &len) ||
		    info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) ||
		    (!sized_map(map_names[i]) && info.max_entries != bpf_map__max_entries(m))) {
			pr_warn("xlb: pinned map %s does not match this program's layout", path);
			err = -ESTALE;
		}
	}
	if (!present)
		return 0;
	/* the maps of one kind of id were sized together: a mix is not a state of ours */
	for (size_t i = 0; !err && i < N_MAPS; i++) {
		for (size_t j = i + 1; sized_map(map_names[i]) % 3 && j < N_MAPS; j++) {
			if (sized_map(map_names[i]) == sized_map(map_names[j]) &&
			    map_size(fds[i]) != map_size(fds[j])) {
				pr_warn("xlb: pinned maps %s and %s differ in size", map_names[i],
					map_names[j]);
				err = -ESTALE;
				break;
			}
		}
	}
	if (!err) {
		struct xlb_config cfg = {};
		__u32 zero = 0;

		if (bpf_map_lookup_elem(fds[map_index("xlb_config")], &zero, &cfg) ||
		    cfg.abi_version != XLB_ABI_VERSION) {
			pr_warn("xlb: pinned state in %s has ABI version %u, this program %u",
				x->pin_dir, cfg.abi_version, XLB_ABI_VERSION);
			err = -ESTALE;
		}
	}
	if (err) {
		for (size_t i = 0; i < N_MAPS; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
		return err;
	}
	return 1;
}

static __u32 prog_id(int fd);

struct xlb *xlb__open(const struct xlb_open_opts *opts)
{
	const char *dir = opts && opts->pin_dir ? opts->pin_dir : XLB_PIN_DIR;
	int pinned[N_MAPS], err = 0, rc;
	char path[PATH_MAX];
	struct bpf_map *m;
	struct xlb *x;

	for (size_t i = 0; i < N_MAPS; i++)
		pinned[i] = -1;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	for (size_t i = 0; i < N_MAPS; i++)
		x->map_fds[i] = -1;
	x->prog_fd = -1;
	if (strlen(dir) >= sizeof(x->pin_dir)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(x->pin_dir, sizeof(x->pin_dir), "%s", dir);
	x->pin = dir[0] != 0;
	if (x->pin) {
		/* before loading anything: a host without bpffs gets one, or a clear error */
		err = xlb_bpffs_ensure(x->pin_dir, opts ? opts->bpffs_root : NULL, NULL);
		if (err)
			goto fail;
	}

	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
	if (opts && opts->bpf_obj) {
		x->obj = bpf_object__open_file(opts->bpf_obj, NULL);
		if (!x->obj) {
			err = -errno;
			pr_warn("xlb: cannot open %s: %s", opts->bpf_obj, strerror(errno));
			goto fail;
		}
	} else {
		x->skel = xlb_skel__open();
		if (!x->skel) {
			err = -errno;
			pr_warn("xlb: cannot open the embedded BPF object: %s", strerror(errno));
			goto fail;
		}
		x->obj = x->skel->obj;
	}
	x->prog = bpf_object__find_program_by_name(x->obj, XLB_PROG_NAME);
	if (!x->prog) {
		err = -ENOENT;
		pr_warn("xlb: program %s not found in the BPF object", XLB_PROG_NAME);
		goto fail;
	}
	m = bpf_object__find_map_by_name(x->obj, "xlb_flows");
	if (m && opts && opts->flow_table_size)
		bpf_map__set_max_entries(m, opts->flow_table_size);
	/* the id-indexed maps sized as asked (adopted maps keep theirs: bpf_map__reuse_fd()) */
	for (size_t i = 0; opts && i < N_MAPS; i++) {
		__u32 want = sized_map(map_names[i]) == 1 ? opts->max_vips :
			     sized_map(map_names[i]) == 2 ? opts->max_backends : 0;

		if (want > (sized_map(map_names[i]) == 1 ? XLB_MAX_VIPS_LIMIT : XLB_MAX_BACKENDS_LIMIT) ||
		    (want && want < 2)) {
			err = -EINVAL;
			pr_warn("xlb: %u entries for %s: out of range", want, map_names[i]);
			goto fail;
		}
		m = bpf_object__find_map_by_name(x->obj, map_names[i]);
		if (m && want)
			bpf_map__set_max_entries(m, want);
	}

	if (x->pin) {
		/* the program an earlier xlb pinned (and may have attached): ours to replace */
		pin_path(x, XLB_PROG_PIN, path, sizeof(path));
		rc = bpf_obj_get(path);
		if (rc >= 0) {
			x->old_prog_id = prog_id(rc);
			close(rc);
		}
	}
	if (x->pin && opts && opts->adopt) {
		rc = open_pinned(x, pinned);
		if (rc == 1) {
			for (size_t i = 0; i < N_MAPS; i++) {
				m = bpf_object__find_map_by_name(x->obj, map_names[i]);
				err = bpf_map__reuse_fd(m, pinned[i]);
				if (err) {
					pr_warn("xlb: cannot reuse pinned map %s: %s", map_names[i],
						strerror(-err));
					goto fail;
				}
			}
			x->adopted = true;
		} else if (rc < 0) {
			pr_warn("xlb: unpinning the stale state in %s and loading afresh",
				x->pin_dir);
			unpin_all(x);
		}
	}

	err = bpf_object__load(x->obj);
	if (err) {
		pr_warn("xlb: cannot load the BPF program: %s", strerror(-err));
		goto fail;
	}
	x->prog_fd = bpf_program__fd(x->prog);
	for (size_t i = 0; i < N_MAPS; i++) {
		m = bpf_object__find_map_by_name(x->obj, map_names[i]);
		x->map_fds[i] = m ? bpf_map__fd(m) : -1;
		if (x->map_fds[i] < 0) {
			err = -ENOENT;
			pr_warn("xlb: map %s missing from the BPF object", map_names[i]);
			goto fail;
		}
	}
	x->max_vips = bpf_map__max_entries(bpf_object__find_map_by_name(x->obj, "xlb_maglev"));
	x->max_backends = bpf_map__max_entries(bpf_object__find_map_by_name(x->obj, "xlb_backends"));
	if (!x->adopted) {
		struct xlb_config cfg = { .gue_port = XLB_GUE_PORT_DEFAULT };

		err = xlb__config_set(x, &cfg);
		if (err)
			goto fail;
	}
	if (x->pin) {
		err = xlb_mkdir_p(x->pin_dir);
		if (err) {
			pr_warn("xlb: cannot create the pin dir %s: %s", x->pin_dir, strerror(-err));
			goto fail;
		}
		for (size_t i = 0; i < N_MAPS && !x->adopted; i++) {
			pin_path(x, map_names[i], path, sizeof(path));
			unlink(path);
			if (bpf_obj_pin(x->map_fds[i], path)) {
				err = -errno;
				pr_warn("xlb: cannot pin %s: %s", path, strerror(errno));
				goto fail;
			}
		}
		pin_path(x, XLB_PROG_PIN, path, sizeof(path));
		unlink(path);
		if (bpf_obj_pin(x->prog_fd, path)) {
			err = -errno;
			pr_warn("xlb: cannot pin %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	for (size_t i = 0; i < N_MAPS; i++)
		if (pinned[i] >= 0)
			close(pinned[i]);
	pr_debug("xlb: %s datapath (pins: %s)", x->adopted ? "adopted" : "loaded",
		 x->pin ? x->pin_dir : "none");
	return x;
fail:
	for (size_t i = 0; i < N_MAPS; i++)
		if (pinned[i] >= 0)
			close(pinned[i]);
	if (x->skel)
		xlb_skel__destroy(x->skel);
	else if (x->obj)
		bpf_object__close(x->obj);
	free(x);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

bool xlb__adopted(const struct xlb *x)
{
	return x->adopted;
}

__u32 xlb__max_vips(const struct xlb *x)
{
	return x->max_vips;
}

__u32 xlb__max_backends(const struct xlb *x)
{
	return x->max_backends;
}

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

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/*
 * Record @ifindex's own MAC in xlb_ifmac: the source MAC of every frame the balancer sends back
 * out of it, read here once rather than per packet. A slot held by another interface that still
 * runs an xlb balancer is left to it (logged): frames of this one then leave with the MAC they
 * were sent to as their source, as before xlb_ifmac existed.
 */
static void ifmac_set(const struct xlb *x, int ifindex)
{
	int fd = x->map_fds[map_index("xlb_ifmac")], s;
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
	int fd = x->map_fds[map_index("xlb_ifmac")];
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
	if (cur && cur_flags != flags && (cur == prog_id(x->prog_fd) || is_xlb_prog(cur))) {
		/*
		 * Another mode was asked for (config changed): a program cannot change mode in
		 * place, so detach it and attach anew; packets of the moment in between reach the
		 * host stack.
		 */
		pr_info("xlb: %s: switching from %s to %s mode", ifname,
			cur_flags == XDP_FLAGS_SKB_MODE ? "generic" : "native",
			mode == XLB_ATTACH_GENERIC ? "generic" : "native");
		err = bpf_xdp_detach(ifindex, cur_flags, NULL);
		if (err) {
			pr_warn("xlb: cannot detach from %s: %s", ifname, strerror(-err));
			return err;
		}
		cur = 0;
	}
	if (cur && cur == prog_id(x->prog_fd)) {
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
		err = bpf_xdp_attach(ifindex, x->prog_fd, cur_flags | XDP_FLAGS_REPLACE, &ao);
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
		int fd = dup(x->prog_fd);

		quiet_libbpf = true;
		xp = fd >= 0 ? xdp_program__from_fd(fd) : NULL;
		/* libxdp returns an error-encoded pointer, not NULL; it owns @fd from then on */
		if (xp && libxdp_get_error(xp)) {
			xp = NULL;
			fd = -1;
		}
		err = xp ? xdp_program__attach(xp, ifindex, xm, 0) : -EINVAL;
		quiet_libbpf = false;
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
	err = bpf_xdp_attach(ifindex, x->prog_fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
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

	if (bpf_obj_get_info_by_fd(x->map_fds[map_index("xlb_config")], &minfo, &mlen))
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

	if (!id || (id != prog_id(x->prog_fd) && id != x->old_prog_id && !uses_our_maps(x, id)))
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

void xlb__close(struct xlb *x, bool unpin)
{
	if (!x)
		return;
	if (unpin) {
		struct if_nameindex *ifs = if_nameindex();

		/*
		 * Also interfaces an earlier process attached (this handle adopted its state):
		 * every interface running our program or the one pinned before us.
		 */
		for (int i = 0; i < x->n_ifindexes; i++)
			detach_ifindex(x, x->ifindexes[i]);
		for (struct if_nameindex *i = ifs; i && i->if_index; i++)
			detach_ifindex(x, i->if_index);
		if (ifs)
			if_freenameindex(ifs);
		if (x->pin)
			unpin_all(x);
	}
	if (x->skel)
		xlb_skel__destroy(x->skel);
	else
		bpf_object__close(x->obj);
	free(x);
}

int xlb__prog_fd(const struct xlb *x)
{
	return x->prog_fd;
}

int xlb__map_fd(const struct xlb *x, const char *name)
{
	int i = map_index(name);

	return i < 0 ? -ENOENT : x->map_fds[i];
}

static int mfd(const struct xlb *x, const char *name)
{
	return x->map_fds[map_index(name)];
}

static int ret_errno(int rc)
{
	return rc < 0 ? -errno : 0;
}

int xlb__config_get(struct xlb *x, struct xlb_config *cfg)
{
	__u32 zero = 0;

	return ret_errno(bpf_map_lookup_elem(mfd(x, "xlb_config"), &zero, cfg));
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
	return ret_errno(bpf_map_update_elem(mfd(x, "xlb_config"), &zero, &c, BPF_ANY));
}

static void vip_meta_add(struct xlb_vip_meta *meta, const struct xlb_vip_key *key)
{
	__u32 bit = xlb_vip_filter_bit(key->addr);

	meta->addr_filter[bit / 64] |= 1ULL << (bit % 64);
	if (!key->port)
		meta->all_ports |= xlb_all_ports_bit(key->family, key->proto);
}

/*
 * Recompute xlb_vip_meta from xlb_vips (plus @extra, the @n keys about to be added): a filter
 * bit is set before the VIP it announces appears, and cleared only after the last one is gone,
 * so the datapath never skips a live VIP. One walk of xlb_vips: callers changing many VIPs
 * batch them (xlb_vip__set_batch()) rather than paying a walk per VIP.
 */
static int vip_meta_sync(struct xlb *x, const struct xlb_vip_key *extra, size_t n)
{
	struct xlb_vip_key key, next;
	struct xlb_vip_meta meta = {};
	int fd = mfd(x, "xlb_vips");
	void *prev = NULL;
	__u32 zero = 0;

	for (size_t i = 0; i < n; i++)
		vip_meta_add(&meta, &extra[i]);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		vip_meta_add(&meta, &key);
	}
	if (errno != ENOENT)
		return -errno;
	return ret_errno(bpf_map_update_elem(mfd(x, "xlb_vip_meta"), &zero, &meta, BPF_ANY));
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
	__u32 count = n;
	int err;

	for (size_t i = 0; i < n; i++) {
		err = vip_check(x, &keys[i], &vips[i]);
		if (err)
			return err;
	}
	if (!n)
		return 0;
	err = vip_meta_sync(x, keys, n);
	if (err)
		return err;
	if (n == 1)
		return ret_errno(bpf_map_update_elem(mfd(x, "xlb_vips"), keys, vips, BPF_ANY));
	return ret_errno(bpf_map_update_batch(mfd(x, "xlb_vips"), keys, vips, &count, &o));
}

int xlb_vip__get(struct xlb *x, const struct xlb_vip_key *key, struct xlb_vip *vip)
{
	return ret_errno(bpf_map_lookup_elem(mfd(x, "xlb_vips"), key, vip));
}

int xlb_vip__del(struct xlb *x, const struct xlb_vip_key *key)
{
	int err = ret_errno(bpf_map_delete_elem(mfd(x, "xlb_vips"), key));

	if (!err)
		err = vip_meta_sync(x, NULL, 0);
	return err;
}

int xlb_vip__del_batch(struct xlb *x, const struct xlb_vip_key *keys, size_t n)
{
	int err = 0, e;

	/* one by one (a key already gone must not stop the others), then one walk */
	for (size_t i = 0; i < n; i++) {
		e = ret_errno(bpf_map_delete_elem(mfd(x, "xlb_vips"), &keys[i]));
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
	int fd = mfd(x, "xlb_vips"), rc;
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
	return ret_errno(bpf_map_update_elem(mfd(x, "xlb_backends"), &id, be, BPF_ANY));
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
	return n ? ret_errno(bpf_map_update_batch(mfd(x, "xlb_backends"), ids, bes, &count, &o)) : 0;
}

int xlb_backend__get(struct xlb *x, __u32 id, struct xlb_backend *be)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return ret_errno(bpf_map_lookup_elem(mfd(x, "xlb_backends"), &id, be));
}

int xlb_backend__clear(struct xlb *x, __u32 id)
{
	struct xlb_backend be = {};

	if (id == XLB_BACKEND_NONE || id >= x->max_backends)
		return -EINVAL;
	return ret_errno(bpf_map_update_elem(mfd(x, "xlb_backends"), &id, &be, BPF_ANY));
}

/*
 * An array map stores each value in round_up(value_size, 8) bytes: in a mapping of a Maglev
 * table, slot i's __u32 is word TABLE_STRIDE * i.
 */
#define TABLE_STRIDE 2

/* The bytes an mmap of a Maglev table of @n slots covers (whole pages). */
static size_t table_map_len(__u32 n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((size_t)n * TABLE_STRIDE * sizeof(__u32) + page - 1) / page * page;
}

/*
 * Create the inner map of one table and fill it through a mapping of its values (slot 0 holds
 * M); returns its fd or -errno (the caller logs: running out of fds is not always an error).
 * Nothing else holds the map until it is swapped in, so no reader can see it half written.
 */
int xlb_table__create(const __u32 *table, __u32 m)
{
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__u32 n = m + 1;
	size_t len;
	__u32 *v;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_maglev_in", sizeof(__u32), sizeof(__u32), n,
			    &co);
	if (fd < 0)
		return -errno;
	len = table_map_len(n);
	v = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	v[0] = m;
	for (__u32 i = 0; i < m; i++)
		v[(i + 1) * TABLE_STRIDE] = table[i];
	munmap(v, len);
	return fd;
}

/*
 * Tables swapped per BPF_MAP_UPDATE_BATCH. Every new inner map of a chunk is alive (an fd, its
 * slots in kernel memory) until the chunk is swapped, beside the old tables the chunk replaces:
 * this bounds that overhead to 256 tables and the memory of 256 default-size tables (128 MiB),
 * i.e. fewer tables per chunk when they are bigger. Each chunk costs one RCU grace period.
 */
#define SWAP_CHUNK_TABLES 256
#define SWAP_CHUNK_BYTES (256ULL * (XLB_MAGLEV_DEFAULT + 1) * 8)

/* Swap in @k inner maps: one batch update of the outer map, one grace period. */
static int swap_chunk(struct xlb *x, const __u32 *keys, const int *fds, __u32 k, size_t *done)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	__u32 count = k;
	int err;

	err = ret_errno(bpf_map_update_batch(mfd(x, "xlb_maglev"), keys, fds, &count, &o));
	/* on failure the kernel reports how many leading elements it applied */
	*done += err ? (count <= k ? count : 0) : k;
	if (err)
		pr_warn("xlb: batch swap of %u Maglev tables failed after %u: %s", k, count,
			strerror(-err));
	return err;
}

int xlb_vip__set_tables(struct xlb *x, const struct xlb_table_update *u, size_t n,
			size_t *applied)
{
	__u64 seen[(XLB_MAX_VIPS_LIMIT + 63) / 64] = { 0 };
	__u32 keys[SWAP_CHUNK_TABLES];
	int fds[SWAP_CHUNK_TABLES];
	bool own[SWAP_CHUNK_TABLES];
	size_t done = 0, i = 0;
	bool no_fds = false;
	__u64 bytes = 0;
	__u32 k = 0;
	int err = 0;

	if (applied)
		*applied = 0;
	if (n && !u)
		return -EINVAL;
	/* the whole batch is checked before anything changes */
	for (i = 0; i < n; i++) {
		__u32 id = u[i].vip_id;

		if (id >= x->max_vips || !u[i].m || u[i].m > XLB_MAGLEV_MAX ||
		    (!u[i].table && !u[i].prebuilt) || (u[i].prebuilt && u[i].fd < 0))
			return -EINVAL;
		if (seen[id / 64] & (1ULL << (id % 64)))
			return -EINVAL; /* twice in one batch: which table would be "the new one"? */
		seen[id / 64] |= 1ULL << (id % 64);
	}
	for (i = 0; i < n;) {
		__u64 need = ((__u64)u[i].m + 1) * 8;
		int fd;

		if (k == SWAP_CHUNK_TABLES || (k && bytes + need > SWAP_CHUNK_BYTES) || no_fds) {
			err = swap_chunk(x, keys, fds, k, &done);
			while (k)
				if (own[--k])
					close(fds[k]);
			bytes = 0;
			no_fds = false;
			if (err)
				goto out;
		}
		fd = u[i].prebuilt ? u[i].fd : xlb_table__create(u[i].table, u[i].m);
		if ((fd == -EMFILE || fd == -ENFILE) && k) {
			/* out of descriptors: swap what is ready, which frees them, and go on */
			no_fds = true;
			continue;
		}
		if (fd < 0) {
			err = fd;
			pr_warn("xlb: cannot create the Maglev table of VIP %u (%u slots): %s",
				u[i].vip_id, u[i].m, strerror(-err));
			goto out;
		}
		keys[k] = u[i].vip_id;
		own[k] = !u[i].prebuilt;
		fds[k++] = fd;
		bytes += need;
		i++;
	}
	if (k)
		err = swap_chunk(x, keys, fds, k, &done);
out:
	while (k)
		if (own[--k])
			close(fds[k]);
	if (applied)
		*applied = done;
	return err;
}

int xlb_vip__set_table(struct xlb *x, __u32 vip_id, const __u32 *table, __u32 m)
{
	struct xlb_table_update u = { .vip_id = vip_id, .m = m, .table = table };

	return xlb_vip__set_tables(x, &u, 1, NULL);
}

int xlb_vip__get_table(struct xlb *x, __u32 vip_id, __u32 *table, __u32 cap)
{
	__u32 inner_id, zero = 0, m;
	size_t len = 0;
	__u32 *v;
	int fd, err = 0;

	if (vip_id >= x->max_vips)
		return -EINVAL;
	if (bpf_map_lookup_elem(mfd(x, "xlb_maglev"), &vip_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, &m)) {
		err = -errno;
		goto out;
	}
	if (table && cap < m) {
		err = -ENOSPC;
		goto out;
	}
	if (table && m) {
		/* the table may be swapped meanwhile: this read sees the one @fd holds, whole */
		len = table_map_len(m + 1);
		v = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (v == MAP_FAILED) {
			err = -errno;
			goto out;
		}
		for (__u32 i = 0; i < m; i++)
			table[i] = v[(i + 1) * TABLE_STRIDE];
		munmap(v, len);
	}
	err = (int)m;
out:
	close(fd);
	return err;
}

int xlb_vip__clear_table(struct xlb *x, __u32 vip_id)
{
	if (vip_id >= x->max_vips)
		return -EINVAL;
	if (bpf_map_delete_elem(mfd(x, "xlb_maglev"), &vip_id) && errno != ENOENT)
		return -errno;
	return 0;
}

int xlb_vip__clear_tables(struct xlb *x, const __u32 *ids, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count;
	size_t done = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		if (ids[i] >= x->max_vips)
			return -EINVAL;
	/* one BPF_MAP_DELETE_BATCH waits for one grace period, not one per table */
	while (done < n) {
		count = n - done;
		err = ret_errno(bpf_map_delete_batch(mfd(x, "xlb_maglev"), ids + done, &count, &o));
		done += count;
		if (err == -ENOENT) {
			done++;	/* a VIP without a table: skip it, clear the rest */
			continue;
		}
		if (err)
			return err;
	}
	return 0;
}

/* Sum a per-CPU value of @n __u64 counters. */
static int percpu_sum(int fd, __u32 key, __u64 *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		int err = -errno;

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
	int ncpu = libbpf_num_possible_cpus(), err;
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	err = ret_errno(bpf_map_update_elem(fd, &key, vals, BPF_ANY));
	free(vals);
	return err;
}

int xlb_stats__vip(struct xlb *x, __u32 vip_id, struct xlb_counters *out)
{
	if (vip_id >= x->max_vips)
		return -EINVAL;
	return percpu_sum(mfd(x, "xlb_stats_vip"), vip_id, (__u64 *)out, 3);
}

int xlb_stats__backend(struct xlb *x, __u32 id, struct xlb_counters *out)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return percpu_sum(mfd(x, "xlb_stats_backend"), id, (__u64 *)out, 3);
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
	return percpu_sum_ids(mfd(x, "xlb_stats_vip"), lo, count, (__u64 *)out, 3);
}

int xlb_stats__backend_range(struct xlb *x, __u32 lo, __u32 count, struct xlb_counters *out)
{
	if (lo >= x->max_backends || count > x->max_backends - lo)
		return -EINVAL;
	return percpu_sum_ids(mfd(x, "xlb_stats_backend"), lo, count, (__u64 *)out, 3);
}

int xlb_stats__reasons(struct xlb *x, struct xlb_reason_counters out[XLB_R__MAX])
{
	for (__u32 r = 0; r < XLB_R__MAX; r++) {
		int err = percpu_sum(mfd(x, "xlb_stats_reason"), r, (__u64 *)&out[r], 2);

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
	return percpu_sum_range(mfd(x, "xlb_stats_vip"), n, (__u64 *)out, 3);
}

int xlb_stats__backends(struct xlb *x, __u32 n, struct xlb_counters *out)
{
	if (n > x->max_backends)
		return -EINVAL;
	return percpu_sum_range(mfd(x, "xlb_stats_backend"), n, (__u64 *)out, 3);
}

int xlb_stats__clear_vip(struct xlb *x, __u32 vip_id)
{
	if (vip_id >= x->max_vips)
		return -EINVAL;
	return percpu_clear(mfd(x, "xlb_stats_vip"), vip_id, 3);
}

int xlb_stats__clear_backend(struct xlb *x, __u32 id)
{
	if (id >= x->max_backends)
		return -EINVAL;
	return percpu_clear(mfd(x, "xlb_stats_backend"), id, 3);
}

const char *xlb_reason_name(unsigned int reason)
{
	static const char *const names[] = XLB_REASON_NAMES;

	_Static_assert(sizeof(names) / sizeof(names[0]) == XLB_R__MAX, "one name per reason");
	return reason < XLB_R__MAX ? names[reason] : "unknown";
}

int xlb_flow__get(struct xlb *x, const struct xlb_flow_key *k, struct xlb_flow *f)
{
	return ret_errno(bpf_map_lookup_elem(mfd(x, "xlb_flows"), k, f));
}

/* Count the flows by batches of keys (one syscall per 4096 entries); -errno when unsupported. */
static int flow_count_batch(int fd, __u64 *n)
{
	const __u32 chunk = 4096;
	struct xlb_flow_key *keys = calloc(chunk, sizeof(*keys));
	struct xlb_flow *vals = calloc(chunk, sizeof(*vals));
	__u32 in = 0, out, count;
	bool first = true;
	int err = -ENOMEM;

	*n = 0;
	while (keys && vals) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &o);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		*n += count;
		if (err) {
			err = 0; /* ENOENT: the end */
			break;
		}
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return err;
}

int xlb_flow__count(struct xlb *x, __u64 *n)
{
	struct xlb_flow_key key, next;
	int fd = mfd(x, "xlb_flows");
	void *prev = NULL;

	if (!flow_count_batch(fd, n))
		return 0;
	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
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
