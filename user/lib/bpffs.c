// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libxlb bpffs: make sure a pin directory lies on a BPF filesystem, mounting one when none is. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "xlb.h"

/* Names of the filesystems a pin dir is most often found on by mistake, for the messages. */
static const char *fs_name(long type, char *buf, size_t len)
{
	switch (type) {
	case SYSFS_MAGIC: return "sysfs";
	case TMPFS_MAGIC: return "tmpfs";
	case EXT4_SUPER_MAGIC: return "ext4";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case PROC_SUPER_MAGIC: return "proc";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case XFS_SUPER_MAGIC: return "xfs";
	}
	snprintf(buf, len, "a filesystem of type 0x%lx", (unsigned long)type);
	return buf;
}

/*
 * The nearest existing directory at or above @dir, written into @buf; statfs() of it in @sf.
 * Returns 0 or -errno (only when not even "/" can be examined, or @dir is too long).
 */
static int nearest_existing(const char *dir, char *buf, size_t len, struct statfs *sf)
{
	char *slash;

	if (snprintf(buf, len, "%s", dir) >= (int)len)
		return -ENAMETOOLONG;
	for (;;) {
		if (!statfs(buf, sf))
			return 0;
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		slash = strrchr(buf, '/');
		if (!slash)
			return -ENOENT;
		if (slash == buf) {
			buf[1] = 0;
			return statfs(buf, sf) ? -errno : 0;
		}
		*slash = 0;
	}
}

/* Is @dir @root itself or below it (whole path components, no "..")? */
static bool path_within(const char *dir, const char *root)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strstr(dir, "/../") || strncmp(dir, root, n))
		return false;
	return dir[n] == 0 || dir[n] == '/' || (n == 1 && root[0] == '/');
}

int xlb_mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int xlb_bpffs_ensure(const char *dir, const char *root, bool *mounted)
{
	char near[PATH_MAX], fsbuf[48];
	struct statfs sf;
	int err;

	if (mounted)
		*mounted = false;
	if (!root)
		root = XLB_BPFFS_ROOT;
	if (!dir || dir[0] != '/' || root[0] != '/') {
		pr_warn("xlb: the pin dir and the bpffs mount point must be absolute paths");
		return -EINVAL;
	}
	err = nearest_existing(dir, near, sizeof(near), &sf);
	if (err) {
		pr_warn("xlb: cannot examine the pin dir %s: %s", dir, strerror(-err));
		return err;
	}
	if (sf.f_type == BPF_FS_MAGIC)
		return 0; /* already there (systemd, iproute2, an earlier xlbd): never mounted twice */
	if (!path_within(dir, root)) {
		pr_warn("xlb: the pin dir %s is on %s, not a BPF filesystem, and lies outside %s "
			"where one would be mounted; choose a pin dir on a bpffs, or mount one: "
			"mount -t bpf bpf DIR",
			dir, fs_name(sf.f_type, fsbuf, sizeof(fsbuf)), root);
		return -ENOTDIR;
	}
	err = xlb_mkdir_p(root);
	if (err) {
		pr_warn("xlb: the pin dir %s is not on a BPF filesystem and %s cannot be created to "
			"mount one: %s; mount one by hand: mount -t bpf bpf %s",
			dir, root, strerror(-err), root);
		return err;
	}
	if (mount("bpf", root, "bpf", 0, "mode=0700")) {
		err = -errno;
		pr_warn("xlb: the pin dir %s is not on a BPF filesystem and mounting one at %s failed: "
			"%s; mount it by hand (mount -t bpf bpf %s) or run with CAP_SYS_ADMIN",
			dir, root, strerror(errno), root);
		return err;
	}
	pr_info("mounted a BPF filesystem at %s (the pin dir %s was on %s)", root, dir,
		fs_name(sf.f_type, fsbuf, sizeof(fsbuf)));
	if (mounted)
		*mounted = true;
	return 0;
}
