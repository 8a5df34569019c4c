// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: load the balancer from its embedded skeleton or adopt the state an earlier process
 * pinned, pin maps and program, and close (with unpin: detach everywhere, remove the pins).
 * Attaching is attach.c, map access maps.c, tables.c and stats.c (see handle.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/libxdp.h>

#include "handle.h"

#define XLB_PROG_PIN "prog"

/* How a map is sized at load time; a pinned one keeps the size it was created with. */
enum map_sizing {
	SIZED_FIXED,	/* as bpf/lib/maps.h declares it */
	SIZED_VIPS,	/* indexed by vip id: xlb_open_opts.max_vips */
	SIZED_BACKENDS,	/* indexed by backend id: xlb_open_opts.max_backends */
	SIZED_FLOWS,	/* the flow table: xlb_open_opts.flow_table_size flows, 8 a bucket */
};

/* Every map of the balancer, pinned under its own name; the skeleton's member of that name. */
#define PINNED(name, sizing) { #name, offsetof(struct xlb_bpf, maps.name), sizing }
static const struct pinned_map {
	const char *name;
	size_t off;		/* of its struct bpf_map * in struct xlb_bpf */
	enum map_sizing sizing;
} pinned_maps[] = {
	PINNED(xlb_vips, SIZED_VIPS),
	PINNED(xlb_backends, SIZED_BACKENDS),
	PINNED(xlb_maglev, SIZED_VIPS),
	PINNED(xlb_flows, SIZED_FLOWS),
	PINNED(xlb_vip_ids, SIZED_VIPS),
	PINNED(xlb_stats_vip, SIZED_VIPS),
	PINNED(xlb_stats_backend, SIZED_BACKENDS),
	PINNED(xlb_stats_reason, SIZED_FIXED),
	PINNED(xlb_config, SIZED_FIXED),
	PINNED(xlb_flood, SIZED_FIXED),
	PINNED(xlb_vip_meta, SIZED_FIXED),
	PINNED(xlb_ifmac, SIZED_FIXED),
	PINNED(xlb_icmp_bucket, SIZED_FIXED),
	PINNED(xlb_frags, SIZED_FIXED),
	PINNED(xlb_monitor, SIZED_FIXED),	/* user/lib/monitor.c */
	PINNED(xlb_mon_ring, SIZED_FIXED),
	PINNED(xlb_mon_stats, SIZED_FIXED),
};
#define N_MAPS ARRAY_SIZE(pinned_maps)

static struct bpf_map *pinned_map(const struct xlb *x, size_t i)
{
	return *(struct bpf_map **)((char *)x->skel + pinned_maps[i].off);
}

/* One message of libbpf or libxdp as one line of ours, at @level. */
static void log_lib(int level, const char *prefix, const char *fmt, va_list ap)
{
	char buf[8192];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	xlb_log(level, "%s%s", prefix, buf);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's own messages one level quieter than ours; they carry their "libbpf: " */
	if (level != LIBBPF_DEBUG)
		log_lib(level == LIBBPF_WARN && !xlb_dp_quiet_libbpf ? XLB_LOG_INFO : XLB_LOG_DEBUG,
			"", fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBXDP_DEBUG)
		log_lib(XLB_LOG_DEBUG, "libxdp: ", fmt, ap);
	return 0;
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
		pin_path(x, pinned_maps[i].name, path, sizeof(path));
		unlink(path);
	}
	pin_path(x, XLB_PROG_PIN, path, sizeof(path));
	unlink(path);
	rmdir(x->pin_dir);
}

static __u32 map_size(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Sized together: the maps of one kind of id (the flow table has no partner). */
static bool sized_with(const struct pinned_map *a, const struct pinned_map *b)
{
	return (a->sizing == SIZED_VIPS || a->sizing == SIZED_BACKENDS) && a->sizing == b->sizing;
}

static int fd_of(const struct xlb *x, const int fds[N_MAPS], const struct bpf_map *m)
{
	for (size_t i = 0; i < N_MAPS; i++)
		if (pinned_map(x, i) == m)
			return fds[i];
	return -1;
}

/* Is @fd an array of one key size and value size of struct xlb_config (readable into one)? */
static bool config_layout_ok(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_ARRAY &&
	       info.key_size == sizeof(__u32) && info.value_size == sizeof(struct xlb_config);
}

/* Does the pinned xlb_vip_meta carry the pinned flow table's size (and so its seed)? */
static bool flows_meta_ok(const struct xlb *x, const int fds[N_MAPS])
{
	int flows = fd_of(x, fds, x->skel->maps.xlb_flows);
	struct xlb_vip_meta meta;
	__u32 zero = 0;

	return !bpf_map_lookup_elem(fd_of(x, fds, x->skel->maps.xlb_vip_meta), &zero, &meta) &&
	       meta.flow_buckets && meta.flow_buckets == map_size(flows);
}

/*
 * Open the pinned maps if they form a compatible state: every map present with the type, key
 * and value size this object expects, xlb_config written by the same ABI version, and
 * xlb_vip_meta holding the flow table's size.
 * Returns 1 with @fds filled, 0 if nothing is pinned, -ESTALE if a pinned state is unusable.
 */
static int open_pinned(struct xlb *x, int fds[N_MAPS])
{
	char path[PATH_MAX];
	int present = 0, err = 0;

	for (size_t i = 0; i < N_MAPS; i++)
		fds[i] = -1;
	for (size_t i = 0; i < N_MAPS; i++) {
		struct bpf_map *m = pinned_map(x, i);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		pin_path(x, pinned_maps[i].name, path, sizeof(path));
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			if (errno != ENOENT)
				pr_warn("xlb: cannot open pinned map %s: %s", path, strerror(errno));
			err = -ESTALE;
			continue;
		}
		present++;
		if (bpf_obj_get_info_by_fd(fds[i], &info, &len) ||
		    info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
		    info.value_size != bpf_map__value_size(m) ||
		    (pinned_maps[i].sizing == SIZED_FIXED &&
		     info.max_entries != bpf_map__max_entries(m))) {
			pr_warn("xlb: pinned map %s does not match this program's layout", path);
			err = -ESTALE;
		}
	}
	if (!present)
		return 0;
	/* the maps of one kind of id were sized together: a mix is not a state of ours */
	for (size_t i = 0; !err && i < N_MAPS; i++) {
		for (size_t j = i + 1; j < N_MAPS; j++) {
			if (sized_with(&pinned_maps[i], &pinned_maps[j]) &&
			    map_size(fds[i]) != map_size(fds[j])) {
				pr_warn("xlb: pinned maps %s and %s differ in size",
					pinned_maps[i].name, pinned_maps[j].name);
				err = -ESTALE;
				break;
			}
		}
	}
	/* (also after a layout mismatch: another version is the likely reason, and says so) */
	for (size_t i = 0; i < N_MAPS; i++) {
		struct xlb_config cfg = {};
		__u32 zero = 0;

		if (pinned_map(x, i) != x->skel->maps.xlb_config || fds[i] < 0)
			continue;
		/* read only a map of the layout expected: another one's value may be larger */
		if (!config_layout_ok(fds[i])) {
			err = -ESTALE;
			continue;
		}
		if (bpf_map_lookup_elem(fds[i], &zero, &cfg) ||
		    cfg.abi_version != XLB_ABI_VERSION) {
			pr_warn("xlb: pinned state in %s has ABI version %u, this program %u",
				x->pin_dir, cfg.abi_version, XLB_ABI_VERSION);
			err = -ESTALE;
		}
	}
	if (!err && !flows_meta_ok(x, fds)) {
		pr_warn("xlb: pinned xlb_vip_meta does not describe the pinned xlb_flows");
		err = -ESTALE;
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


/* The entries asked for map @i (0: as declared); false when out of range. */
static bool wanted_size(const struct xlb_open_opts *opts, size_t i, __u32 *want)
{
	switch (pinned_maps[i].sizing) {
	case SIZED_VIPS:
		*want = opts->max_vips;
		return *want <= XLB_MAX_VIPS_LIMIT && *want != 1;
	case SIZED_BACKENDS:
		*want = opts->max_backends;
		return *want <= XLB_MAX_BACKENDS_LIMIT && *want != 1;
	case SIZED_FLOWS:
		/* flows to buckets, rounded up (0: as declared) */
		*want = (__u32)(((__u64)opts->flow_table_size + XLB_FLOW_WAYS - 1) / XLB_FLOW_WAYS);
		return true;
	default:
		*want = 0;
		return true;
	}
}

struct xlb *xlb__open(const struct xlb_open_opts *opts)
{
	const char *dir = opts && opts->pin_dir ? opts->pin_dir : XLB_PIN_DIR;
	int pinned[N_MAPS], err = 0, rc;
	char path[PATH_MAX];
	struct xlb *x;

	for (size_t i = 0; i < N_MAPS; i++)
		pinned[i] = -1;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
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
	x->skel = xlb_bpf__open();
	if (!x->skel) {
		err = -errno;
		pr_warn("xlb: cannot open the embedded BPF object: %s", strerror(errno));
		goto fail;
	}
	/* the maps sized as asked (adopted maps keep theirs: bpf_map__reuse_fd()) */
	for (size_t i = 0; opts && i < N_MAPS; i++) {
		__u32 want;

		if (!wanted_size(opts, i, &want)) {
			err = -EINVAL;
			pr_warn("xlb: %u entries for %s: out of range", want, pinned_maps[i].name);
			goto fail;
		}
		if (want)
			bpf_map__set_max_entries(pinned_map(x, i), want);
	}

	if (x->pin) {
		/* the program an earlier xlb pinned (and may have attached): ours to replace */
		pin_path(x, XLB_PROG_PIN, path, sizeof(path));
		rc = bpf_obj_get(path);
		if (rc >= 0) {
			x->old_prog_id = xlb_dp_prog_id(rc);
			close(rc);
		}
	}
	if (x->pin && opts && opts->adopt) {
		rc = open_pinned(x, pinned);
		if (rc == 1) {
			for (size_t i = 0; i < N_MAPS; i++) {
				err = bpf_map__reuse_fd(pinned_map(x, i), pinned[i]);
				if (err) {
					pr_warn("xlb: cannot reuse pinned map %s: %s",
						pinned_maps[i].name, strerror(-err));
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

	err = xlb_bpf__load(x->skel);
	if (err) {
		pr_warn("xlb: cannot load the BPF program: %s", strerror(-err));
		goto fail;
	}
	x->max_vips = bpf_map__max_entries(x->skel->maps.xlb_maglev);
	x->max_backends = bpf_map__max_entries(x->skel->maps.xlb_backends);
	x->flow_buckets = bpf_map__max_entries(x->skel->maps.xlb_flows);
	if (!x->adopted) {
		struct xlb_config cfg = { .gue_port = XLB_GUE_PORT_DEFAULT };

		err = xlb__config_set(x, &cfg);
		if (!err)
			err = xlb_dp_flows_init(x);
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
			pin_path(x, pinned_maps[i].name, path, sizeof(path));
			unlink(path);
			if (bpf_obj_pin(bpf_map__fd(pinned_map(x, i)), path)) {
				err = -errno;
				pr_warn("xlb: cannot pin %s: %s", path, strerror(errno));
				goto fail;
			}
		}
		pin_path(x, XLB_PROG_PIN, path, sizeof(path));
		unlink(path);
		if (bpf_obj_pin(PROG_FD(x), path)) {
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
	xlb_bpf__destroy(x->skel);
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


void xlb__close(struct xlb *x, bool unpin)
{
	if (!x)
		return;
	if (unpin) {
		xlb_dp_detach_all(x);
		if (x->pin)
			unpin_all(x);
	}
	xlb_dp_flows_unmap(x);
	xlb_bpf__destroy(x->skel);
	free(x);
}

int xlb__prog_fd(const struct xlb *x)
{
	return PROG_FD(x);
}

int xlb__map_fd(const struct xlb *x, const char *name)
{
	for (size_t i = 0; i < N_MAPS; i++)
		if (!strcmp(pinned_maps[i].name, name))
			return bpf_map__fd(pinned_map(x, i));
	return -ENOENT;
}

