/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev consistent-hash table builder with weights (Eisenbud et al., NSDI 2016, 3.4). */

/*
 * Permutations. Backend i prefers the slots offset_i, offset_i + skip_i, offset_i + 2 skip_i,
 * ... (mod M). M is prime and 1 <= skip < M, so this visits every slot exactly once. Each
 * backend keeps a cursor into its own permutation; a turn claims the first still empty slot at
 * or after the cursor. Slots are never freed during a build, so the cursor only moves forward
 * and a build does at most about M * ln(M) probes in total, independent of N.
 *
 * Identity. xlb_maglev_build() derives offset and skip from the backend's identity only:
 * the bytes (family, address, port) are packed into a canonical 24-byte key (an IPv4 address
 * uses its 4 bytes, the rest is zero; the port is big-endian) and hashed with two fixed seeds:
 * offset = h(key, seed1) mod M, skip = h(key, seed2) mod (M - 1) + 1. The hash is a chain of
 * splitmix64 finalizers over the key read as big-endian 64-bit words: integer arithmetic only,
 * the same on every machine. Backends are sorted by key before they take turns, so the input
 * order does not matter and removing one backend leaves the others' permutations and their
 * relative turn order untouched: the table changes only where the removed backend's slots and
 * the knock-on effect of the paper (section 5.3) require.
 *
 * Weights: a credit scheme with rounds. Let wmax be the largest weight. Every backend of
 * weight w > 0 starts with a credit of 1/2; in each round it gains w / wmax and, if its credit
 * is at least 1, it takes one turn and spends 1. Weight 0 never plays. The heaviest backends
 * play in every round; a backend of weight w plays its k-th turn (k = 0, 1, ...) in round
 *
 *	r(k) = ceil((2k + 1) wmax / 2w) - 1 = floor(((2k + 1) wmax - 1) / 2w)
 *
 * in integers, never more than once per round. The start credit of 1/2 rounds instead of
 * truncating (the Sainte-Lague/Webster idea), so after any whole round every backend has played
 * round(t * w / wmax) turns for the same t, within half a turn of its share. Every turn claims
 * exactly one slot and the table is full after M turns; the last round is cut short, which
 * costs at most one more turn. So a backend owns M * w / W slots within about two slots
 * (W = sum of weights), whatever the spread of weights; the tests measure at most 2 for
 * weights 1..100 at M = 65537.
 *
 * Order within a round: the backends play in the order of their previous turns, first turns
 * in list order (xlb_maglev_build(): sorted by identity). With equal weights this is the
 * classic Maglev loop, every round in list order.
 *
 * Cost: the rounds are a calendar (one FIFO list per round): a backend that plays is appended
 * to the list of the round of its next turn, so a light backend costs nothing in the rounds it
 * skips and a build does M turns plus one step per round, with no floating point and no
 * allocation in the loop. The number of rounds is at most ceil((2M + N) wmax / 2W).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "../../bpf/include/xlb_abi.h"

const uint32_t xlb_maglev_sizes[] = {
	251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65537, 131071, 262139, 524287, 655373,
};
const size_t xlb_maglev_nsizes = sizeof(xlb_maglev_sizes) / sizeof(xlb_maglev_sizes[0]);

_Static_assert(XLB_MAGLEV_MAX == 655373, "xlb_maglev_sizes must end at XLB_MAGLEV_MAX");

bool xlb_maglev_size_valid(uint32_t m)
{
	for (size_t i = 0; i < xlb_maglev_nsizes; i++)
		if (xlb_maglev_sizes[i] == m)
			return true;
	return false;
}

/* xlb_maglev_populate() takes any prime up to XLB_MAGLEV_MAX so that tests can use M = 7. */
static bool is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	for (uint32_t d = 2; d <= m / d; d++)
		if (m % d == 0)
			return false;
	return true;
}

#define NIL UINT32_MAX

/* One playing backend during population. */
struct player {
	uint32_t id;
	uint32_t pos;	 /* next slot of its permutation to look at (the cursor) */
	uint32_t skip;
	uint32_t weight;
	uint32_t turns;	 /* turns played so far (k) */
	uint32_t next;	 /* next player in the same round's list */
};

/*
 * Occupancy is a bitmap (8 KiB for M = 65537, 80 KiB for 655373) rather than the table itself:
 * the probes, which are most of the work, then hit L1 or L2 instead of a table 32 times larger.
 */
static inline void claim(struct player *p, uint64_t *used, uint32_t m, uint32_t *table)
{
	uint32_t pos = p->pos, skip = p->skip;

	while (used[pos >> 6] & (1ULL << (pos & 63))) {
		pos += skip;
		if (pos >= m)
			pos -= m;
	}
	used[pos >> 6] |= 1ULL << (pos & 63);
	table[pos] = p->id;
	pos += skip;
	if (pos >= m)
		pos -= m;
	p->pos = pos;
}

/* Round of turn k of a backend of weight w: floor(((2k + 1) wmax - 1) / 2w). */
static inline uint64_t turn_round(uint64_t k, uint32_t w, uint32_t wmax)
{
	return ((2 * k + 1) * wmax - 1) / (2 * (uint64_t)w);
}

/* The population loop over already validated entries; @table is already zeroed. */
static int populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table)
{
	size_t np = 0, nwords = (m + 63) / 64;
	uint32_t wmax = 0, filled = 0;
	uint64_t wsum = 0, nrounds = 0;
	bool equal = true;
	struct player *pl = NULL;
	uint64_t *used = NULL;
	uint32_t *head = NULL, *tail = NULL;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		if (!e[i].weight)
			continue;
		if (wmax && e[i].weight != wmax)
			equal = false;
		if (e[i].weight > wmax)
			wmax = e[i].weight;
		wsum += e[i].weight;
		np++;
	}
	if (!np)
		return 0; /* every slot XLB_BACKEND_NONE */

	if (!equal)
		nrounds = ((2 * (uint64_t)m + np) * wmax + 2 * wsum - 1) / (2 * wsum);
	pl = malloc(np * sizeof(*pl));
	used = calloc(nwords, sizeof(*used));
	if (!equal) {
		head = malloc(nrounds * sizeof(*head));
		tail = malloc(nrounds * sizeof(*tail));
	}
	if (!pl || !used || (!equal && (!head || !tail))) {
		err = -ENOMEM;
		goto out;
	}

	np = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].weight)
			continue;
		pl[np++] = (struct player){ .id = e[i].id, .pos = e[i].offset, .skip = e[i].skip,
					    .weight = e[i].weight, .next = NIL };
	}

	if (equal) {
		/* The classic loop: every backend plays once per round, in list order. */
		for (;;) {
			for (size_t i = 0; i < np; i++) {
				claim(&pl[i], used, m, table);
				if (++filled == m)
					goto out;
			}
		}
	}

	memset(head, 0xff, nrounds * sizeof(*head));
	for (uint32_t i = 0; i < np; i++) {
		uint64_t r = turn_round(0, pl[i].weight, wmax);

		if (r >= nrounds)
			continue;
		if (head[r] == NIL)
			head[r] = i;
		else
			pl[tail[r]].next = i;
		tail[r] = i;
	}
	for (uint64_t r = 0; r < nrounds; r++) {
		for (uint32_t i = head[r]; i != NIL;) {
			struct player *p = &pl[i];
			uint32_t nx = p->next;
			uint64_t t;

			claim(p, used, m, table);
			if (++filled == m)
				goto out;
			t = turn_round(++p->turns, p->weight, wmax);
			if (t < nrounds) {
				p->next = NIL;
				if (head[t] == NIL)
					head[t] = i;
				else
					pl[tail[t]].next = i;
				tail[t] = i;
			}
			i = nx;
		}
	}
	err = -EFAULT; /* unreachable: nrounds rounds always hold at least M turns */
out:
	free(tail);
	free(head);
	free(used);
	free(pl);
	return err;
}

int xlb_maglev_populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table)
{
	if (!table || (n && !e) || m > XLB_MAGLEV_MAX || !is_prime(m) || n > m)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!e[i].id || e[i].offset >= m || !e[i].skip || e[i].skip >= m)
			return -EINVAL;
	memset(table, 0, m * sizeof(*table));
	return populate(e, n, m, table);
}

/* ------------------------------------------------------------------ identity */

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

struct sorted {
	struct ident k;
	uint32_t idx;
};

static int cmp_sorted(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;

	for (int i = 0; i < 3; i++)
		if (x->k.w[i] != y->k.w[i])
			return x->k.w[i] < y->k.w[i] ? -1 : 1;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int xlb_maglev_build(const struct xlb_maglev_backend *b, size_t n, uint32_t m, uint32_t *table)
{
	struct sorted *s = NULL;
	struct xlb_maglev_entry *e = NULL;
	uint32_t *ids = NULL;
	int err = 0;

	if (!table || (n && !b) || !xlb_maglev_size_valid(m) || n > m)
		return -EINVAL;
	memset(table, 0, m * sizeof(*table));
	if (!n)
		return 0;

	s = malloc(n * sizeof(*s));
	e = malloc(n * sizeof(*e));
	ids = malloc(n * sizeof(*ids));
	if (!s || !e || !ids) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!b[i].id) {
			err = -EINVAL;
			goto out;
		}
		err = make_ident(&b[i], &s[i].k);
		if (err)
			goto out;
		s[i].idx = i;
		ids[i] = b[i].id;
	}

	/* Duplicates: the same identity twice, or one id for two identities. */
	qsort(s, n, sizeof(*s), cmp_sorted);
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (size_t i = 1; i < n; i++) {
		if (!cmp_sorted(&s[i - 1], &s[i]) || ids[i - 1] == ids[i]) {
			err = -EEXIST;
			goto out;
		}
	}

	for (size_t i = 0; i < n; i++) {
		const struct xlb_maglev_backend *bi = &b[s[i].idx];

		e[i].id = bi->id;
		e[i].weight = bi->weight;
		ident_permutation(&s[i].k, m, &e[i].offset, &e[i].skip);
	}
	err = populate(e, n, m, table);
out:
	if (err)
		memset(table, 0, m * sizeof(*table));
	free(ids);
	free(e);
	free(s);
	return err;
}
