/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev tables from backend identities: each backend's permutation, and xlb_maglev_build(). */

/*
 * Identity. xlb_maglev_build() derives offset and skip from the backend's identity only: the
 * bytes (family, address, port) are packed into a canonical 24-byte key (an IPv4 address uses
 * its 4 bytes, the rest is zero; the port is big-endian) and hashed with two fixed seeds:
 * offset = h(key, seed1) mod M, skip = h(key, seed2) mod (M - 1) + 1. The hash is a chain of
 * splitmix64 finalizers over the key read as big-endian 64-bit words: integer arithmetic only,
 * the same on every machine (a test pins values). The backends are sorted by key before they
 * take turns, so the input order does not matter, and removing one leaves the others'
 * permutations and their relative order untouched: slots move only where the removed backend
 * was, plus the knock-on moves the paper accepts (about 0.6% of M for N = 100, measured).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "../../bpf/include/xlb_abi.h"

/* Canonical identity: bytes family, address (16), port (2, big-endian), zero padding. */
struct ident {
	uint64_t w[3]; /* the 24 bytes as big-endian words: comparing words compares bytes */
};

static int make_ident(const struct xlb_maglev_backend *b, struct ident *k)
{
	uint8_t bytes[24] = { 0 };
	size_t alen;

	if (b->family == XLB_AF_INET)
		alen = 4;
	else if (b->family == XLB_AF_INET6)
		alen = 16;
	else
		return -EINVAL;
	bytes[0] = b->family;
	memcpy(&bytes[1], b->addr, alen);
	bytes[17] = b->port >> 8;
	bytes[18] = b->port & 0xff;
	for (int i = 0; i < 3; i++) {
		uint64_t v = 0;

		for (int j = 0; j < 8; j++)
			v = v << 8 | bytes[i * 8 + j];
		k->w[i] = v;
	}
	return 0;
}

/* splitmix64's finalizer: a bijection with full avalanche. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t ident_hash(const struct ident *k, uint64_t seed)
{
	uint64_t h = mix64(seed);

	for (int i = 0; i < 3; i++)
		h = mix64(h ^ k->w[i]);
	return h;
}

/* Two fixed, unrelated seeds ("xlb-mgl1", "xlb-mgl2"); changing them reshuffles every table. */
#define SEED_OFFSET 0x786c622d6d676c31ULL
#define SEED_SKIP 0x786c622d6d676c32ULL

static void ident_permutation(const struct ident *k, uint32_t m, uint32_t *offset, uint32_t *skip)
{
	*offset = ident_hash(k, SEED_OFFSET) % m;
	*skip = ident_hash(k, SEED_SKIP) % (m - 1) + 1;
}

void xlb_maglev_permutation(const struct xlb_maglev_backend *b, uint32_t m, uint32_t *offset,
			    uint32_t *skip)
{
	struct ident k;

	if (m < 2 || make_ident(b, &k)) {
		*offset = 0;
		*skip = 1;
		return;
	}
	ident_permutation(&k, m, offset, skip);
}

/* ------------------------------------------------------------------ build */

/*
 * Orders 0..n-1 by the keys keys[i * nw .. i * nw + nw - 1] (nw <= 3), compared as big-endian
 * numbers, most significant word first: an LSD radix sort on bytes that skips the byte positions
 * where every key agrees (most of them: IPv4 identities differ in 2 to 6 bytes of 24). No
 * comparison, O(n) per differing byte. @a and @b are scratch of n entries; returns the one
 * holding the order, or NULL when out of memory.
 */
static uint32_t *radix_order(uint32_t *a, uint32_t *b, uint32_t n, const uint64_t *keys, int nw)
{
	uint32_t (*hist)[256] = NULL;
	uint64_t diff[3] = { 0 };
	int nd = 0, digit[24];

	/* the byte positions where some key differs from the first */
	for (uint32_t i = 1; i < n; i++)
		for (int w = 0; w < nw; w++)
			diff[w] |= keys[(size_t)i * nw + w] ^ keys[w];
	for (int d = nw * 8 - 1; d >= 0; d--)
		if ((diff[d / 8] >> (56 - 8 * (d % 8))) & 0xff)
			digit[nd++] = d; /* least significant first */
	hist = calloc(nd ? nd : 1, sizeof(*hist));
	if (!hist)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		a[i] = i;
		for (int j = 0; j < nd; j++) {
			int d = digit[j];

			hist[j][(keys[(size_t)i * nw + d / 8] >> (56 - 8 * (d % 8))) & 0xff]++;
		}
	}
	for (int j = 0; j < nd; j++) {
		int d = digit[j], w = d / 8, shift = 56 - 8 * (d % 8);
		uint32_t *h = hist[j], sum = 0, *x;

		for (int v = 0; v < 256; v++) {
			uint32_t c = h[v];

			h[v] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			b[h[(keys[(size_t)a[i] * nw + w] >> shift) & 0xff]++] = a[i];
		x = a;
		a = b;
		b = x;
	}
	free(hist);
	return a;
}

int xlb_maglev_build(const struct xlb_maglev_backend *b, size_t n, uint32_t m, uint32_t *table)
{
	struct xlb_maglev_entry *e = NULL;
	uint64_t *keys = NULL, *ids = NULL;
	uint32_t *o1 = NULL, *o2 = NULL, *order;
	int err = 0;

	if (!table || (n && !b) || !xlb_maglev_size_valid(m) || n > m)
		return -EINVAL;
	if (!n) {
		memset(table, 0, m * sizeof(*table));
		return 0;
	}

	keys = malloc(n * sizeof(struct ident));
	ids = malloc(n * sizeof(*ids));
	e = malloc(n * sizeof(*e));
	o1 = malloc(n * sizeof(*o1));
	o2 = malloc(n * sizeof(*o2));
	if (!keys || !ids || !e || !o1 || !o2) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ident k;

		if (!b[i].id) {
			err = -EINVAL;
			goto out;
		}
		err = make_ident(&b[i], &k);
		if (err)
			goto out;
		memcpy(&keys[i * 3], k.w, sizeof(k.w));
		ids[i] = b[i].id;
	}

	/* Duplicates, adjacent once sorted: one id for two identities ... */
	order = radix_order(o1, o2, n, ids, 1);
	if (!order) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 1; i < n; i++) {
		if (ids[order[i - 1]] == ids[order[i]]) {
			err = -EEXIST;
			goto out;
		}
	}
	/* ... or the same identity twice. The turns go in the order of the identities. */
	order = radix_order(o1, o2, n, keys, 3);
	if (!order) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct xlb_maglev_backend *bi = &b[order[i]];
		const uint64_t *k = &keys[(size_t)order[i] * 3];
		struct ident id = { .w = { k[0], k[1], k[2] } };

		if (i && !memcmp(k, &keys[(size_t)order[i - 1] * 3], sizeof(id.w))) {
			err = -EEXIST;
			goto out;
		}
		e[i].id = bi->id;
		e[i].weight = bi->weight;
		ident_permutation(&id, m, &e[i].offset, &e[i].skip);
	}
	err = xlb_maglev_populate(e, n, m, table);
out:
	if (err)
		memset(table, 0, m * sizeof(*table));
	free(o2);
	free(o1);
	free(e);
	free(ids);
	free(keys);
	return err;
}
