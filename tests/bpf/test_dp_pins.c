// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Datapath scenarios, pins and attachment: libxlb mounts a bpffs where none is, pins its maps
 * and program, adopts a pinned state of its own ABI and replaces another, attaches to a veth in
 * a network namespace of the scenario's own, replaces and detaches the program.
 * Each scenario loads its own objects, in a process and a mount namespace of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "fixture.h"

static __u32 xdp_prog_id(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = if_nametoindex(ifname);

	if (!ifindex || bpf_xdp_query(ifindex, 0, &q))
		return 0;
	return q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
}

static __u32 fd_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* libxlb recorded @ifname's own MAC in xlb_ifmac when it attached there. */
static int ifmac_recorded(struct xlb *x, const char *ifname)
{
	__u32 ifindex = if_nametoindex(ifname), slot = ifindex % XLB_IFMAC_SLOTS;
	struct xlb_ifmac m = {};
	struct ifreq ifr = {};
	int s, err;

	/* (this network namespace's /sys is not mounted: ask the kernel) */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	err = s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr);
	if (s >= 0)
		close(s);
	if (err)
		return fail("cannot read the MAC of %s: %s", ifname, strerror(errno));
	if (bpf_map_lookup_elem(xlb__map_fd(x, "xlb_ifmac"), &slot, &m))
		return fail("xlb_ifmac slot %u unreadable", slot);
	if (m.ifindex != ifindex || memcmp(m.mac, ifr.ifr_hwaddr.sa_data, 6))
		return fail("xlb_ifmac slot %u holds ifindex %u, expected %s (%u) and its MAC", slot,
			    m.ifindex, ifname, ifindex);
	return 1;
}

/*
 * Pinning and adoption: a second open with adopt reuses the pinned maps (VIPs, tables, flows
 * survive), a pinned state of another ABI version is replaced, close(unpin) removes everything.
 * In a private network namespace: attach to a veth, the attachment outlives the handle, an
 * adopting handle replaces the program in place, close(unpin) detaches.
 */
static void test_pins_and_attach(void)
{
	struct xlb_open_opts o = { .flow_table_size = 4096, .adopt = true };
	struct xlb_vip_key k = { .port = htons(80), .proto = 6, .family = XLB_AF_INET };
	struct xlb_vip v = { .id = 3 };
	uint32_t t[7] = { 1, 2, 3, 4, 1, 2, 3 }, got[7];
	struct xlb_config cfg;
	char dir[128], path[192];
	struct xlb *a = NULL, *b = NULL;
	__u32 zero = 0, id1 = 0, id2 = 0;
	struct stat st;
	int ok, fd, have_net, err;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/xlb-test-datapath-%d", getpid());
	o.pin_dir = dir;
	inet_pton(AF_INET, "198.18.0.10", k.addr);
	have_net = unshare(CLONE_NEWNET) == 0 &&
		   system("ip link add xlbt0 type veth peer name xlbt1 && ip link set lo up && "
			  "ip link set xlbt0 up && ip link set xlbt1 up") == 0;

	WHY[0] = 0;
	a = xlb__open(&o);
	ok = a && !xlb__adopted(a);
	snprintf(path, sizeof(path), "%s/xlb_flows", dir);
	if (ok && stat(path, &st))
		ok = fail("%s not pinned", path);
	snprintf(path, sizeof(path), "%s/prog", dir);
	if (ok && stat(path, &st))
		ok = fail("%s not pinned", path);
	ok = ok && !xlb_vip__set(a, &k, &v) && !xlb_vip__set_table(a, 3, t, 7);
	if (ok && have_net) {
		if (xlb__attach(a, "xlbt0", XLB_ATTACH_NATIVE) || xlb__attach(a, "xlbt0", XLB_ATTACH_NATIVE))
			ok = fail("attach (twice, idempotent) failed");
		else if ((id1 = xdp_prog_id("xlbt0")) != fd_prog_id(xlb__prog_fd(a)))
			ok = fail("attached program %u is not ours", id1);
		else
			ok = ifmac_recorded(a, "xlbt0");
	}
	if (a)
		xlb__close(a, false);
	if (ok && have_net && xdp_prog_id("xlbt0") != id1)
		ok = fail("the attachment did not outlive the handle");
	tap(ok, "fresh load pins maps and program under the pin dir; attachment persists; the "
		"interface's MAC is recorded", WHY);

	WHY[0] = 0;
	b = ok ? xlb__open(&o) : NULL;
	ok = b && xlb__adopted(b);
	if (ok && (xlb_vip__get(b, &k, &v) || v.id != 3))
		ok = fail("the VIP did not survive adoption");
	if (ok && (xlb_vip__get_table(b, 3, got, 7) != 7 || memcmp(t, got, sizeof(t))))
		ok = fail("the Maglev table did not survive adoption");
	if (ok && have_net) {
		if (xlb__attach(b, "xlbt0", XLB_ATTACH_NATIVE))
			ok = fail("attach of the adopting handle failed");
		else if ((id2 = xdp_prog_id("xlbt0")) != fd_prog_id(xlb__prog_fd(b)) || id2 == id1)
			ok = fail("program not replaced (attached %u, old %u)", id2, id1);
	}
	tap(ok, "adopt: pinned maps reused, attached program replaced in place", WHY);

	/* asking for another mode moves the program there (a config change across a restart) */
	if (ok && have_net) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		WHY[0] = 0;
		if (xlb__attach(b, "xlbt0", XLB_ATTACH_GENERIC) ||
		    bpf_xdp_query(if_nametoindex("xlbt0"), 0, &q))
			ok = fail("attach in generic mode failed");
		else if (q.skb_prog_id != id2 || q.drv_prog_id)
			ok = fail("after asking for generic: skb %u drv %u, want skb %u", q.skb_prog_id,
				  q.drv_prog_id, id2);
		if (ok && (xlb__attach(b, "xlbt0", XLB_ATTACH_NATIVE) ||
			   bpf_xdp_query(if_nametoindex("xlbt0"), 0, &q)))
			ok = fail("attach back in native mode failed");
		else if (ok && (q.drv_prog_id != id2 || q.skb_prog_id))
			ok = fail("after asking for native: skb %u drv %u, want drv %u", q.skb_prog_id,
				  q.drv_prog_id, id2);
		tap(ok, "attach in another mode moves the program to that mode", WHY);
	}

	/* a pinned state of another ABI version is not adopted */
	WHY[0] = 0;
	if (b) {
		xlb__config_get(b, &cfg);
		cfg.abi_version = XLB_ABI_VERSION + 100;
		bpf_map_update_elem(xlb__map_fd(b, "xlb_config"), &zero, &cfg, BPF_ANY);
		xlb__close(b, false);
	}
	b = xlb__open(&o);
	ok = b && !xlb__adopted(b);
	if (ok && !xlb_vip__get(b, &k, &v))
		ok = fail("a VIP of the stale state is still there");
	if (ok && (err = xlb__config_get(b, &cfg)))
		ok = fail("cannot read the config: %s", strerror(-err));
	if (ok && cfg.abi_version != XLB_ABI_VERSION)
		ok = fail("fresh config has ABI version %u", cfg.abi_version);
	tap(ok, "pinned state of another ABI version: unpinned and loaded fresh", WHY);

	/* the state an ABI 3 xlbd pinned: version 3, without xlb_ifmac and xlb_icmp_bucket */
	{
		struct xlb_open_opts o3 = o;
		char dir3[160];
		struct xlb *c3;

		WHY[0] = 0;
		snprintf(dir3, sizeof(dir3), "%s-abi3", dir);
		o3.pin_dir = dir3;
		c3 = xlb__open(&o3);
		ok = c3 && !xlb_vip__set(c3, &k, &v) && !xlb__config_get(c3, &cfg);
		if (ok) {
			cfg.abi_version = 3;
			bpf_map_update_elem(xlb__map_fd(c3, "xlb_config"), &zero, &cfg, BPF_ANY);
		}
		if (c3)
			xlb__close(c3, false);
		snprintf(path, sizeof(path), "%s/xlb_ifmac", dir3);
		unlink(path);
		snprintf(path, sizeof(path), "%s/xlb_icmp_bucket", dir3);
		unlink(path);
		c3 = ok ? xlb__open(&o3) : NULL;
		ok = c3 && !xlb__adopted(c3);
		if (ok && !xlb_vip__get(c3, &k, &v))
			ok = fail("a VIP of the ABI 3 state is still there");
		snprintf(path, sizeof(path), "%s/xlb_ifmac", dir3);
		if (ok && stat(path, &st))
			ok = fail("%s not pinned by the fresh load", path);
		if (c3)
			xlb__close(c3, true);
		tap(ok, "pinned state of ABI 3 (two maps fewer): unpinned and loaded fresh", WHY);
	}

	WHY[0] = 0;
	if (b)
		xlb__close(b, true);
	ok = stat(dir, &st) != 0;
	if (!ok)
		fail("%s still exists after close(unpin)", dir);
	if (ok && have_net && xdp_prog_id("xlbt0"))
		ok = fail("still attached to xlbt0 after close(unpin)");
	tap(ok, "close(unpin) detaches and removes the pins", WHY);

	/*
	 * A generation that adopted the state without attaching re-pins its own program, so the
	 * one attached is neither the pinned one nor ours: close(unpin) must still detach it.
	 */
	if (have_net) {
		WHY[0] = 0;
		a = xlb__open(&o);
		ok = a && !xlb__adopted(a) && !xlb__attach(a, "xlbt0", XLB_ATTACH_NATIVE);
		id1 = xdp_prog_id("xlbt0");
		if (a)
			xlb__close(a, false);
		b = ok ? xlb__open(&o) : NULL;
		ok = ok && b && xlb__adopted(b);
		if (b)
			xlb__close(b, false);
		b = ok ? xlb__open(&o) : NULL;
		ok = ok && b && xlb__adopted(b);
		if (!ok)
			fail("setup: fresh load, attach, adopt, adopt");
		else if (xdp_prog_id("xlbt0") != id1 || !id1)
			ok = fail("attached program %u, expected the first load's %u",
				  xdp_prog_id("xlbt0"), id1);
		if (b)
			xlb__close(b, true);
		if (ok && (id2 = xdp_prog_id("xlbt0")))
			ok = fail("program %u still attached to xlbt0 after close(unpin)", id2);
		if (ok && !stat(dir, &st))
			ok = fail("%s still exists after close(unpin)", dir);
		tap(ok, "close(unpin) detaches a program attached two adoptions back", WHY);
	}
	if (!have_net)
		printf("# no private network namespace with a veth: attach not exercised\n");
	fd = open(dir, O_RDONLY);
	if (fd >= 0) { /* leave nothing behind even on failure: our own dir only */
		char cmd[192];

		close(fd);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			printf("# could not remove %s\n", dir);
	}
}

/* bpffs mounts at @dir in this mount namespace (field 5 of mountinfo, type after " - "). */
static int bpffs_mounts(const char *dir)
{
	char line[1024], mnt[512], *sep;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		sep = strstr(line, " - ");
		if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 && !strcmp(mnt, dir) &&
		    !strncmp(sep, " - bpf ", 7))
			n++;
	}
	if (f)
		fclose(f);
	return n;
}

/*
 * xlb_bpffs_ensure(): mounts a bpffs where none is, never twice, refuses a pin dir it cannot
 * serve with an error; xlb__open() uses it for its pin dir.
 */
static void test_bpffs(void)
{
	char pins[128], tmp[96], plain[160], root[160], sub[192];
	struct xlb_open_opts o = { .flow_table_size = 4096 };
	bool mounted = true;
	struct xlb *x;
	int err, ok;

	tap(!is_bpffs("/sys/fs/bpf"), "a mount namespace of our own, /sys/fs/bpf without bpffs",
	    "a bpffs is mounted there");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/xlb-test-bpffs-%d/pins", getpid());
	snprintf(tmp, sizeof(tmp), "/tmp/xlb-test-bpffs-%d", getpid());
	snprintf(plain, sizeof(plain), "%s/plain", tmp);
	snprintf(root, sizeof(root), "%s/root", tmp);

	err = xlb_bpffs_ensure(pins, NULL, &mounted);
	ok = !err && mounted && is_bpffs("/sys/fs/bpf") && bpffs_mounts("/sys/fs/bpf") == 1;
	tap(ok, "bpffs: a pin dir on sysfs gets a bpffs mounted at /sys/fs/bpf", strerror(-err));

	err = xlb_bpffs_ensure(pins, NULL, &mounted);
	ok = !err && !mounted && bpffs_mounts("/sys/fs/bpf") == 1;
	tap(ok, "bpffs: one already mounted is used as it is, never mounted twice",
	    mounted ? "mounted again" : strerror(-err));

	ok = !xlb_mkdir_p(plain);
	snprintf(sub, sizeof(sub), "%s/pins", plain);
	err = xlb_bpffs_ensure(sub, NULL, &mounted);
	ok = ok && err == -ENOTDIR && !mounted && !is_bpffs(plain);
	tap(ok, "bpffs: a pin dir outside the mount point and on no bpffs is refused", WHY);

	snprintf(sub, sizeof(sub), "%s/xlb/pins", root);
	err = xlb_bpffs_ensure(sub, root, &mounted);
	ok = !err && mounted && is_bpffs(root) && !is_bpffs(tmp);
	tap(ok, "bpffs: mounted at a given root, created when missing", strerror(-err));
	umount2(root, MNT_DETACH);

	err = xlb_bpffs_ensure("/proc/xlb-test-bpffs/pins", "/proc/xlb-test-bpffs", &mounted);
	ok = err < 0 && !mounted && !is_bpffs("/proc/xlb-test-bpffs");
	tap(ok, "bpffs: a mount point that cannot be created is an error, nothing mounted",
	    "no error");

	err = xlb_bpffs_ensure("xlb/pins", NULL, &mounted);
	tap(err == -EINVAL && !mounted, "bpffs: a relative pin dir is refused", "accepted");

	/* xlb__open() on a host without bpffs: mounts one and pins there */
	umount2("/sys/fs/bpf", MNT_DETACH);
	o.pin_dir = pins;
	x = xlb__open(&o);
	snprintf(sub, sizeof(sub), "%s/xlb_vips", pins);
	ok = x && is_bpffs("/sys/fs/bpf") && bpffs_mounts("/sys/fs/bpf") == 1 &&
	     access(sub, F_OK) == 0;
	tap(ok, "bpffs: xlb__open() mounts a bpffs for its pin dir and pins there",
	    x ? "not pinned on a bpffs" : strerror(errno));
	if (x)
		xlb__close(x, true);
	snprintf(sub, sizeof(sub), "rm -rf '%s' /sys/fs/bpf/xlb-test-bpffs-%d", tmp, getpid());
	if (system(sub))
		printf("# could not remove %s\n", tmp);
}

static const struct scenario scenarios[] = {
	{ "bpffs", NULL, test_bpffs },
	{ "pins_and_attach", NULL, test_pins_and_attach },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "datapath: pins and attachment", scenarios,
			    ARRAY_SIZE(scenarios));
}
