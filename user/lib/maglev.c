/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maglev consistent-hash table builder with weights (Eisenbud et al., NSDI 2016, 3.4): the
 * population step. The backends' permutations come from their identities (maglev_build.c), the
 * order of their turns from their weights (maglev_weights.c); this file plays the turns.
 */

/*
 * Permutations. Backend i prefers the slots offset_i, offset_i + skip_i, offset_i + 2 skip_i,
 * ... (mod M). M is prime and 1 <= skip < M, so this visits every slot exactly once. Each
 * backend keeps a cursor into its own permutation; a turn claims the first still empty slot at
 * or after the cursor. Slots are never freed during a build, so a cursor only moves forward and
 * a build probes about M ln M slots in all, whatever N.
 *
 * Cost. The turns are played in flat loops, one per probing phase. Probing uses a byte map of
 * the slots taken; the first half of the table is probed two slots at a time without a branch,
 * then four at a time up to 70%, the rest eight at a time; the last sqrt(M / 2) or so slots,
 * where probing would cost M / E per turn with E slots left, are found by computing each empty
 * slot's distance along the player's permutation instead (tail_pick()). Allocation happens once
 * per build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "maglev_weights.h"
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

/* One playing backend during population: what every turn touches (16 bytes). */
struct player {
	uint32_t id;
	uint32_t pos;	/* next slot of its permutation to look at (the cursor) */
	uint32_t skip;
	uint32_t pad;
};

/* State of one population run. */
struct fill {
	uint32_t m;
	uint32_t *table;
	uint8_t *used;	  /* occupancy, one byte per slot, see probe_lo() */
	uint32_t tail_at; /* number of filled slots at which the tail phase starts */
	uint32_t *empty;  /* tail phase: the empty slots, in no particular order */
	uint32_t *inv;	  /* tail phase: skip^-1 mod M per player; 0 until needed */
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
 * Probing. Occupancy is a byte per slot (64 KiB for M = 65537) rather than the table itself,
 * which is four times larger; a byte map beat a bitmap here (fewer instructions per probe). A
 * mispredicted branch costs more than a probe, so: while the table is less than half full, the
 * first two slots are tested without a branch (both taken less than a quarter of the time);
 * past that, four slots at a time up to 70% full, then eight, the first free one picked from a
 * mask (the group sizes and bounds measured best for M = 65537, N = 1000).
 */
static inline __attribute__((always_inline)) uint32_t probe_lo(const uint8_t *restrict used,
								uint32_t m, uint32_t pos,
								uint32_t skip)
{
	uint32_t p1 = add_m(pos, skip, m), u0 = is_used(used, pos), u1 = is_used(used, p1);

	if (__builtin_expect(!(u0 & u1), 1))
		return u0 ? p1 : pos;
	pos = add_m(p1, skip, m);
	while (is_used(used, pos))
		pos = add_m(pos, skip, m);
	return pos;
}

static inline __attribute__((always_inline)) uint32_t probe_mid(const uint8_t *restrict used,
								 uint32_t m, uint32_t pos,
								 uint32_t skip)
{
	uint32_t s2 = add_m(skip, skip, m), s4 = add_m(s2, s2, m);

	for (;;) {
		uint32_t p[4], mask;

		p[0] = pos;
		p[1] = add_m(pos, skip, m);
		p[2] = add_m(pos, s2, m);
		p[3] = add_m(p[2], skip, m);
		mask = is_used(used, p[0]) | is_used(used, p[1]) << 1 | is_used(used, p[2]) << 2 |
		       is_used(used, p[3]) << 3;
		if (mask != 0xf)
			return p[__builtin_ctz(~mask)];
		pos = add_m(pos, s4, m);
	}
}

static inline __attribute__((always_inline)) uint32_t probe_hi(const uint8_t *restrict used,
								uint32_t m, uint32_t pos,
								uint32_t skip)
{
	uint32_t s2, s4, s8;

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

/* x mod M (Barrett reduction: the quotient estimate is exact or one short, for any 64-bit x). */
static inline uint32_t mod_m(const struct fill *f, uint64_t x)
{
	uint64_t q = (uint64_t)(((unsigned __int128)x * f->barrett) >> 64);
	uint64_t r = x - q * f->m;

	return r >= f->m ? r - f->m : r;
}

/* a^-1 mod M by Euclid; 32-bit divisions (faster), the coefficients stay within +-M. */
static uint32_t inverse_mod(uint32_t a, uint32_t m)
{
	int32_t t = 0, nt = 1;
	uint32_t r = m, nr = a;

	while (nr) {
		uint32_t q = r / nr, x = r - q * nr;
		int32_t tmp = t - (int32_t)q * nt;

		t = nt;
		nt = tmp;
		r = nr;
		nr = x;
	}
	return t < 0 ? (uint32_t)(t + (int32_t)m) : (uint32_t)t;
}

/*
 * The tail phase. With E slots left a probe succeeds with probability E/M, so the last few
 * hundred slots would cost about M ln(E) probes, half of all. Instead, the empty slots are kept
 * in a list and a turn computes, for each, its distance along the player's permutation,
 * (s - pos) * skip^-1 mod M, and takes the nearest: exactly the slot probing would find.
 */
static __attribute__((noinline)) uint32_t tail_pick(struct fill *f, uint32_t filled,
						     const struct player *p, uint32_t *inv)
{
	uint32_t m = f->m, pos = p->pos, best = UINT32_MAX, bi = 0;
	uint64_t v, c;

	if (filled == f->tail_at) {
		/* Entering the tail phase: list the empty slots once, skipping full words. */
		uint32_t s = 0;

		for (; s + 8 <= m; s += 8) {
			uint64_t w;

			memcpy(&w, &f->used[s], sizeof(w));
			if (w == 0x0101010101010101ULL)
				continue;
			for (uint32_t j = s; j < s + 8; j++)
				if (!f->used[j])
					f->empty[f->nempty++] = j;
		}
		for (; s < m; s++)
			if (!f->used[s])
				f->empty[f->nempty++] = s;
	}
	if (!*inv)
		*inv = inverse_mod(p->skip, m);
	/* (s - pos) skip^-1 = s skip^-1 + c mod M, with s v + c < 2 M^2: no wrap, no test */
	v = *inv;
	c = (uint64_t)(m - pos) * v;

	for (uint32_t i = 0; i < f->nempty; i++) {
		uint32_t d = mod_m(f, f->empty[i] * v + c);

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
 * All M turns: player seq[t] plays turn t, or, without @seq, players 0 .. np - 1 in turn, round
 * after round (the classic loop). One loop per probing phase, so that a turn tests no phase;
 * the turn number lives in registers, not in @f: the table stores could alias it otherwise and
 * make every turn wait for the previous one.
 */
static inline __attribute__((always_inline)) void play(struct fill *f, struct player *pl,
							const uint32_t *seq, uint32_t np)
{
	uint8_t *restrict used = f->used;
	uint32_t *restrict table = f->table;
	uint32_t m = f->m, t = 0, i = 0, half, mid;

	half = m / 2 < f->tail_at ? m / 2 : f->tail_at;
	mid = (uint64_t)m * 7 / 10 < f->tail_at ? (uint64_t)m * 7 / 10 : f->tail_at;

#define TURN(PICK)                                                   \
	do {                                                         \
		uint32_t idx = seq ? seq[t] : i, pos;                \
		struct player *p = &pl[idx];                         \
                                                                     \
		pos = PICK;                                          \
		used[pos] = 1;                                       \
		table[pos] = p->id;                                  \
		p->pos = add_m(pos, p->skip, m);                     \
		if (!seq && ++i == np)                               \
			i = 0;                                       \
	} while (0)

	for (; t < half; t++)
		TURN(probe_lo(used, m, p->pos, p->skip));
	for (; t < mid; t++)
		TURN(probe_mid(used, m, p->pos, p->skip));
	for (; t < f->tail_at; t++)
		TURN(probe_hi(used, m, p->pos, p->skip));
	for (; t < m; t++)
		TURN(tail_pick(f, t, p, &f->inv[idx]));
#undef TURN
}

/*
 * Weighted turns: their order depends on the weights only, so it is laid out first
 * (xlb_maglev_schedule()), then played like the classic loop.
 */
static int play_rounds(struct fill *f, struct player *pl, struct xlb_maglev_sched *ws,
		       uint32_t np, uint32_t wmax, uint64_t wsum)
{
	uint32_t *seq = malloc(f->m * sizeof(*seq));
	int err;

	if (!seq)
		return -ENOMEM;
	err = xlb_maglev_schedule(ws, np, f->m, wmax, wsum, seq);
	if (!err)
		play(f, pl, seq, np); /* the quotas add up to M, so seq is full */
	free(seq);
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

/* The population over validated entries: writes every slot of @table (M turns claim M slots). */
static int populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table)
{
	struct fill f = { .m = m, .table = table };
	uint32_t np = 0, wmax = 0;
	uint64_t wsum = 0;
	struct player *pl;
	struct xlb_maglev_sched *ws = NULL;
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
	if (!np) {
		memset(table, 0, m * sizeof(*table)); /* every slot XLB_BACKEND_NONE */
		return 0;
	}

	f.tail_at = m - tail_size(m);
	f.barrett = UINT64_MAX / m;
	pl = malloc(np * sizeof(*pl));
	f.used = calloc(m, sizeof(*f.used));
	f.empty = malloc((m - f.tail_at) * sizeof(*f.empty));
	f.inv = calloc(np, sizeof(*f.inv));
	if (!equal)
		ws = calloc(np, sizeof(*ws));
	if (!pl || !f.used || !f.empty || !f.inv || (!equal && !ws)) {
		err = -ENOMEM;
		goto out;
	}
	np = 0;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].weight)
			continue;
		if (ws)
			ws[np].weight = e[i].weight;
		pl[np++] = (struct player){ .id = e[i].id, .pos = e[i].offset, .skip = e[i].skip };
	}

	if (equal) {
		/*
		 * The classic loop: every player once per round in list order until the table is
		 * full. It is what play_rounds() does for equal weights (the largest remainders
		 * tie and go to the first players in list order), only faster.
		 */
		play(&f, pl, NULL, np);
	} else {
		err = play_rounds(&f, pl, ws, np, wmax, wsum);
	}
out:
	free(ws);
	free(f.inv);
	free(f.empty);
	free(f.used);
	free(pl);
	return err;
}

int xlb_maglev_populate(const struct xlb_maglev_entry *e, size_t n, uint32_t m, uint32_t *table)
{
	int err;

	if (!table || (n && !e) || m > XLB_MAGLEV_MAX || !is_prime(m) || n > m)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!e[i].id || e[i].offset >= m || !e[i].skip || e[i].skip >= m)
			return -EINVAL;
	err = populate(e, n, m, table);
	if (err)
		memset(table, 0, m * sizeof(*table));
	return err;
}
