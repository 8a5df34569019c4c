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
 * Backends take turns in the given order. Fills @table (M slots) with ids, 0 where no backend
 * has weight. Returns 0 or -EINVAL (bad M, offset/skip out of range, n > M, id 0).
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
 * Returns 0, -EINVAL (bad M, n > M), or -EEXIST (two backends with the same identity).
 */
int xlb_maglev_build(const struct xlb_maglev_backend *b, size_t n, uint32_t m, uint32_t *table);

/* The offset and skip of one backend for a table of size @m. */
void xlb_maglev_permutation(const struct xlb_maglev_backend *b, uint32_t m, uint32_t *offset,
			    uint32_t *skip);

#endif /* XLB_MAGLEV_H */
