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
	uint32_t inv;	 /* skip^-1 mod M for the tail phase; 0 until needed */
	uint32_t weight;
	uint32_t quota;	 /* slots it will own */
	uint32_t turns;	 /* turns played so far (k) */
	uint32_t next;	 /* next player in the same round's list */
	/* weighted rounds: the round of its next turn as quotient and remainder, see rounds_init() */
	uint64_t round;
	uint64_t frac;	 /* < 2w */
	uint64_t step_r; /* 2 wmax mod 2w */
	uint64_t step_q; /* 2 wmax / 2w */
};

/* State of one population run. */
struct fill {
	uint32_t m;
	uint32_t *table;
	uint8_t *used;	  /* occupancy, one byte per slot, see probe() */
	uint32_t tail_at; /* number of filled slots at which the tail phase starts */
	uint32_t *empty;  /* tail phase: the empty slots, in no particular order */
	uint32_t nempty;
	uint64_t barrett; /* floor(2^64 / M) */
};

/* a + b mod M for a, b < M */
static inline uint32_t add_m(uint32_t a, uint32_t b, uint32_t m)
{
	uint32_t c = a + b;

	return c >= m ? c - m : c;
}

static inline uint32_t is_used(const uint8_t *used, uint32_t pos)
{
	return used[pos];
}

/*
 * Probing. Occupancy is a bitmap (8 KiB for M = 65537, 80 KiB for 655373) rather than the table
 * itself, so the probes hit L1 or L2 instead of a table 32 times larger. While the table is
 * less than half full, one slot at a time: the next slot is usually free and the branch well
 * predicted. Past that, whether a slot is taken is a coin toss and a mispredicted branch per
 * probe would cost more than the probe, so eight slots are tested at once without branches
 * and the first free one picked from the mask.
 */
static inline uint32_t probe(const uint8_t *restrict used, uint32_t m, uint32_t filled,
			     uint32_t pos, uint32_t skip)
{
	uint32_t s2, s4, s8;

	if (filled < m / 2) {
		while (is_used(used, pos))
			pos = add_m(pos, skip, m);
		return pos;
	}
	s2 = add_m(skip, skip, m);
	s4 = add_m(s2, s2, m);
	s8 = add_m(s4, s4, m);
	for (;;) {
		uint32_t p[8], mask;

		p[0] = pos;
		p[1] = add_m(pos, skip, m);
		p[2] = add_m(pos, s2, m);
		p[4] = add_m(pos, s4, m);
		p[3] = add_m(p[2], skip, m);
		p[5] = add_m(p[4], skip, m);
		p[6] = add_m(p[4], s2, m);
		p[7] = add_m(p[6], skip, m);
		mask = is_used(used, p[0]) | is_used(used, p[1]) << 1 | is_used(used, p[2]) << 2 |
		       is_used(used, p[3]) << 3 | is_used(used, p[4]) << 4 |
		       is_used(used, p[5]) << 5 | is_used(used, p[6]) << 6 | is_used(used, p[7]) << 7;
		if (mask != 0xff)
			return p[__builtin_ctz(~mask)];
		pos = add_m(pos, s8, m);
	}
}

/* x mod M for x < 2^64 / 2 (Barrett reduction; the quotient estimate is low by at most 1). */
static inline uint32_t mod_m(const struct fill *f, uint64_t x)
{
	uint64_t q = (uint64_t)(((unsigned __int128)x * f->barrett) >> 64);
	uint64_t r = x - q * f->m;

	return r >= f->m ? r - f->m : r;
}

static uint32_t inverse_mod(uint32_t a, uint32_t m)
{
	int64_t t = 0, nt = 1, r = m, nr = a;

	while (nr) {
		int64_t q = r / nr, tmp;

		tmp = t - q * nt;
		t = nt;
		nt = tmp;
		tmp = r - q * nr;
		r = nr;
		nr = tmp;
	}
	return t < 0 ? t + m : t;
}

/*
 * The tail phase. With E slots left a probe succeeds with probability E/M, so the last few
 * hundred slots would cost about M ln(E) probes, half of all. Instead, the empty slots are kept
 * in a list and a turn computes, for each, its distance along the player's permutation,
 * (s - pos) * skip^-1 mod M, and takes the nearest: exactly the slot probing would find.
 */
static __attribute__((noinline)) uint32_t tail_pick(struct fill *f, uint32_t filled,
						     struct player *p)
{
	uint32_t m = f->m, pos = p->pos, best = UINT32_MAX, bi = 0;

	if (filled == f->tail_at) {
		/* Entering the tail phase: list the empty slots once. */
		for (uint32_t s = 0; s < m; s++)
			if (!f->used[s])
				f->empty[f->nempty++] = s;
	}
	if (!p->inv)
		p->inv = inverse_mod(p->skip, m);
	for (uint32_t i = 0; i < f->nempty; i++) {
		uint32_t s = f->empty[i];
		uint32_t d = mod_m(f, (uint64_t)(s >= pos ? s - pos : s + m - pos) * p->inv);

		if (d < best) {
			best = d;
			bi = i;
		}
	}
	pos = f->empty[bi];
	f->empty[bi] = f->empty[--f->nempty];
	return pos;
}

/*
 * One turn of @p: claim the first empty slot of its permutation from its cursor on. @filled
 * (slots claimed so far) lives in the callers' registers, not in @f: the table stores could
 * alias it otherwise and make every turn wait for the previous one.
 */
static inline __attribute__((always_inline)) void claim(struct fill *f, uint32_t filled,
							 struct player *p)
{
	uint8_t *restrict used = f->used;
	uint32_t *restrict table = f->table;
	uint32_t m = f->m, pos;

	if (filled < f->tail_at)
		pos = probe(used, m, filled, p->pos, p->skip);
	else
		pos = tail_pick(f, filled, p);
	used[pos] = 1;
	table[pos] = p->id;
	p->pos = add_m(pos, p->skip, m);
}

/*
 * Round of turn k of a backend of weight w: r(k) = floor((wmax - 1 + 2k wmax) / 2w), kept as a
 * quotient and a remainder so that the next one costs an addition, not a division.
 */
static void rounds_init(struct player *p, uint32_t wmax)
{
	uint64_t c = 2 * (uint64_t)p->weight;

	p->round = (wmax - 1) / c;
	p->frac = (wmax - 1) % c;
	p->step_q = 2 * (uint64_t)wmax / c;
	p->step_r = 2 * (uint64_t)wmax % c;
}

static inline void rounds_next(struct player *p)
{
	p->round += p->step_q;
	p->frac += p->step_r;
	if (p->frac >= 2 * (uint64_t)p->weight) {
		p->frac -= 2 * (uint64_t)p->weight;
		p->round++;
	}
}

/* Largest remainder order: larger remainder first, then list order. */
struct rem {
	uint64_t rem;
	uint32_t idx;
};

static inline bool rem_before(const struct rem *a, const struct rem *b)
{
	return a->rem > b->rem || (a->rem == b->rem && a->idx < b->idx);
}

static inline void rem_swap(struct rem *a, struct rem *b)
{
	struct rem x = *a;

	*a = *b;
	*b = x;
}

/* The element of rank @k (0 = first) in rem_before() order: a quickselect, O(n) expected. */
static struct rem rem_select(struct rem *r, uint32_t n, uint32_t k)
{
	uint32_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, store = lo;

		/* median of three as the pivot, moved to hi */
		if (rem_before(&r[mid], &r[lo]))
			rem_swap(&r[mid], &r[lo]);
		if (rem_before(&r[hi], &r[lo]))
			rem_swap(&r[hi], &r[lo]);
		if (rem_before(&r[mid], &r[hi]))
			rem_swap(&r[mid], &r[hi]);
		for (uint32_t i = lo; i < hi; i++)
			if (rem_before(&r[i], &r[hi]))
				rem_swap(&r[i], &r[store++]);
		rem_swap(&r[store], &r[hi]);
		if (k == store)
			return r[k];
		if (k < store)
			hi = store - 1;
		else
			lo = store + 1;
	}
	return r[lo];
}

/* Quotas by largest remainder: floor(M w / W), plus one for the largest remainders. */
static int set_quotas(struct player *pl, uint32_t np, uint32_t m, uint64_t wsum)
{
	uint64_t left = m;
	struct rem *r, cut;

	r = malloc(np * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < np; i++) {
		uint64_t x = (uint64_t)m * pl[i].weight;

		pl[i].quota = x / wsum;
		left -= pl[i].quota;
		r[i] = (struct rem){ .rem = x % wsum, .idx = i };
	}
	/* left < np: the floors miss less than one slot per player */
	if (left) {
		cut = rem_select(r, np, left - 1);
		for (uint32_t i = 0; i < np; i++) {
			struct rem x = { .rem = (uint64_t)m * pl[i].weight % wsum, .idx = i };

			if (!rem_before(&cut, &x))
				pl[i].quota++;
		}
	}
	free(r);
	return 0;
}

/* Weighted turns: the calendar of rounds described at the top of the file. */
static int play_rounds(struct fill *f, struct player *pl, uint32_t np, uint32_t wmax,
		       uint64_t wsum)
{
	/*
	 * Without quotas the table would be full by round last - 1 (each player has played at
	 * least (r + 1) w / wmax - 1/2 turns after round r). With quotas a player may need one
	 * more turn (never two); turns that would come after round last are played in round last.
	 */
	uint64_t last = ((2 * (uint64_t)f->m + np) * wmax + 2 * wsum - 1) / (2 * wsum);
	uint32_t *head, **tail, filled = 0;
	int err;

	err = set_quotas(pl, np, f->m, wsum);
	if (err)
		return err;
	/* one FIFO per round: head[r], and tail[r] pointing at the link to append to */
	head = malloc((last + 1) * sizeof(*head));
	tail = malloc((last + 1) * sizeof(*tail));
	if (!head || !tail) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t r = 0; r <= last; r++) {
		head[r] = NIL;
		tail[r] = &head[r];
	}
	for (uint32_t i = 0; i < np; i++) {
		uint64_t r;

		if (!pl[i].quota)
			continue;
		rounds_init(&pl[i], wmax);
		r = pl[i].round < last ? pl[i].round : last;
		*tail[r] = i;
		tail[r] = &pl[i].next;
	}
	for (uint64_t r = 0; r <= last; r++) {
		for (uint32_t i = head[r]; i != NIL;) {
			struct player *p = &pl[i];
			uint32_t nx = p->next;
			uint64_t t;

			claim(f, filled++, p);
			if (++p->turns < p->quota) {
				rounds_next(p);
				t = p->round < last ? p->round : last;
				p->next = NIL;
				*tail[t] = i;
				tail[t] = &p->next;
			}
			i = nx;
		}
	}
	err = filled == f->m ? 0 : -EFAULT; /* the quotas add up to M */
out:
	free(tail);
	free(head);
	return err;
}

/* Where the tail phase starts: when about sqrt(M / 2) slots are left (measured optimum). */
static uint32_t tail_size(uint32_t m)
{
	uint32_t e = 1;

	while ((uint64_t)e * e * 2 < m)
		e++;
	return e;
}

/* The population over validated entries; @table is already zeroed. */
static int populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table)
{
	struct fill f = { .m = m, .table = table };
	uint32_t np = 0, wmax = 0;
	uint64_t wsum = 0;
	struct player *pl;
	bool equal = true;
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

	f.tail_at = m - tail_size(m);
	f.barrett = UINT64_MAX / m;
	pl = malloc(np * sizeof(*pl));
	f.used = calloc(m, sizeof(*f.used));
	f.empty = malloc((m - f.tail_at) * sizeof(*f.empty));
	if (!pl || !f.used || !f.empty) {
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
		/*
		 * The classic loop: every player once per round in list order until the table is
		 * full. It is what play_rounds() does for equal weights (the largest remainders
		 * tie and go to the first players in list order), only faster.
		 */
		for (uint32_t filled = 0, i = 0; filled < m; filled++) {
			claim(&f, filled, &pl[i]);
			if (++i == np)
				i = 0;
		}
	} else {
		err = play_rounds(&f, pl, np, wmax, wsum);
	}
out:
	free(f.empty);
	free(f.used);
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
