// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libxlb: the Maglev tables of VIPs: one inner map per table (slot 0 holds M), filled through
 * a mapping, swapped into xlb_maglev in batches; read back and removed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "handle.h"

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

	err = ret_errno(bpf_map_update_batch(MAP_FD(x, xlb_maglev), keys, fds, &count, &o));
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
	if (bpf_map_lookup_elem(MAP_FD(x, xlb_maglev), &vip_id, &inner_id))
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
	if (bpf_map_delete_elem(MAP_FD(x, xlb_maglev), &vip_id) && errno != ENOENT)
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
		err = ret_errno(bpf_map_delete_batch(MAP_FD(x, xlb_maglev), ids + done, &count,
						     &o));
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

