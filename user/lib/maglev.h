/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev consistent-hash table builder with weights (Eisenbud et al., NSDI 2016, 3.4). */
#ifndef XLB_MAGLEV_H
#define XLB_MAGLEV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Table sizes allowed (all prime); 65537 is the default. */
extern const uint32_t xlb_maglev_sizes[];
extern const size_t xlb_maglev_nsizes;
bool xlb_maglev_size_valid(uint32_t m);

/* One backend as the population step sees it. */
struct xlb_maglev_entry {
	uint32_t id;	 /* value written into the slots this backend claims (never 0) */
	uint32_t offset; /* first preferred slot, < M */
	uint32_t skip;	 /* step through the slots, 1 .. M-1 */
	uint32_t weight; /* relative share; 0 = no slots */
};

/**
 * xlb_maglev_populate() - the population step with explicit offsets and skips.
 * Backends take turns in the given order, weighted as described at the top of maglev_weights.c
 * (equal weights: the paper's loop). Fills @table (M slots) with ids, 0 (XLB_BACKEND_NONE) everywhere
 * when no backend has weight. @m may be any prime up to XLB_MAGLEV_MAX here (so that tests can
 * work examples by hand with M = 7). Returns 0, -EINVAL (M not prime, offset/skip out of range,
 * n > M, id 0) or -ENOMEM.
 */
int xlb_maglev_populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table);

/* A backend by identity: offset and skip derive from (family, addr, port), not its position. */
struct xlb_maglev_backend {
	uint32_t id;
	uint8_t family;	  /* 4 or 6 */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, network order */
	uint16_t port;	  /* host order; 0 if none */
	uint32_t weight;
};

/**
 * xlb_maglev_build() - build the table of a backend set: any order of @b gives the same table.
 * @m must be one of xlb_maglev_sizes. A backend of weight w owns round(M w / W) slots (largest
 * remainder: within one slot of its exact share); weight 0 owns none; all weight 0 (or n = 0)
 * gives a table of XLB_BACKEND_NONE. Returns 0, -EINVAL (bad M, n > M, id 0, family not 4/6),
 * -EEXIST (two backends with the same identity or the same id) or -ENOMEM; on error @table is
 * all XLB_BACKEND_NONE.
 */
int xlb_maglev_build(const struct xlb_maglev_backend *b, size_t n, uint32_t m, uint32_t *table);

/* The offset and skip of one backend for a table of size @m (from its identity only). */
void xlb_maglev_permutation(const struct xlb_maglev_backend *b, uint32_t m, uint32_t *offset,
			    uint32_t *skip);

#endif /* XLB_MAGLEV_H */
