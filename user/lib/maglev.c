/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev consistent-hash table builder with weights (Eisenbud et al., NSDI 2016, 3.4). */
/*
 * Over 600 lines on purpose: this is one algorithm whose phases (quotas, the turn schedule,
 * the probing loops, the tail) share the layout described below and are tuned together.
 */

/*
 * Permutations. Backend i prefers the slots offset_i, offset_i + skip_i, offset_i + 2 skip_i,
 * ... (mod M). M is prime and 1 <= skip < M, so this visits every slot exactly once. Each
 * backend keeps a cursor into its own permutation; a turn claims the first still empty slot at
 * or after the cursor. Slots are never freed during a build, so a cursor only moves forward and
 * a build probes about M ln M slots in all, whatever N.
 *
 * Identity. xlb_maglev_build() derives offset and skip from the backend's identity only: the
 * bytes (family, address, port) are packed into a canonical 24-byte key (an IPv4 address uses
 * its 4 bytes, the rest is zero; the port is big-endian) and hashed with two fixed seeds:
 * offset = h(key, seed1) mod M, skip = h(key, seed2) mod (M - 1) + 1. The hash is a chain of
 * splitmix64 finalizers over the key read as big-endian 64-bit words: integer arithmetic only,
 * the same on every machine (a test pins values). The backends are sorted by key before they
 * take turns, so the input order does not matter, and removing one leaves the others'
 * permutations and their relative order untouched: slots move only where the removed backend
 * was, plus the knock-on moves the paper accepts (about 0.6% of M for N = 100, measured).
 *
 * Weights. First the exact number of slots: backend i of weight w_i gets its largest remainder
 * quota, floor(M w_i / W) (W = sum of weights) plus one for the M - sum(floors) largest
 * remainders M w_i mod W (ties: list order). So every backend is within one slot of its share
 * M w_i / W, whatever the spread of weights; weight 0 gets nothing. Equal weights give
 * floor(M / N) or ceil(M / N), the first backends in list order getting the extra slots, as in
 * the paper's loop.
 *
 * Then who plays when: rounds of a credit scheme. Let wmax be the largest weight. Every backend
 * starts with a credit of 1/2; each round it gains w / wmax and, if its credit reached 1, takes
 * one turn and spends 1; within a round, backends play in list order. In integers, the k-th
 * turn (k = 0, 1, ...) of a backend of weight w falls in round
 *
 *	r(k) = ceil((2k + 1) wmax / 2w) - 1 = floor(((2k + 1) wmax - 1) / 2w),
 *
 * at most once per round (the heaviest play in every round). A backend stops at its quota, so
 * the table is full after exactly M turns, and the light backends are spread through the table
 * instead of crowded at its end. With equal weights this is the classic loop: every backend
 * once per round, in list order.
 *
 * Cost. The order of turns depends on the weights only, so it is laid out in advance: a
 * counting sort of all M turns by round (the division in r(k) done as a multiplication by a
 * reciprocal; the turns per round counted once per distinct weight), with no floating point
 * and no empty turns: a light backend costs nothing in the rounds it skips. The turns are then
 * played in flat loops, one per probing phase. Probing uses a byte map of the slots taken; the
 * first half of the table is probed two slots at a time without a branch, then four at a time
 * up to 70%, the rest eight at a time; the last sqrt(M / 2) or so slots, where probing would
 * cost M / E per turn with E slots left, are found by computing each empty slot's distance
 * along the player's permutation instead (tail_pick()). Allocation happens once per build.
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

/* One playing backend during population: what every turn touches (16 bytes). */
struct player {
	uint32_t id;
	uint32_t pos;	/* next slot of its permutation to look at (the cursor) */
	uint32_t skip;
	uint32_t pad;
};

/* The rest of a player's state when weights differ. */
struct sched {
	uint32_t weight;
	uint32_t quota; /* slots it will own */
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

/* A turn placed after the calendar: its round and its player. */
struct late {
	uint64_t round;
	uint32_t idx;
};

static int cmp_late(const void *a, const void *b)
{
	const struct late *x = a, *y = b;

	if (x->round != y->round)
		return x->round < y->round ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Where the turns go: counted per round (first pass), then placed (second pass). */
struct layout {
	uint64_t last;	   /* rounds 0 .. last have a counter */
	uint32_t *start;   /* turns per round, then the next free place of each round */
	uint32_t *seq;	   /* NULL in the first pass */
	struct late *late; /* turns in rounds after last, in player order */
	uint32_t nlate;
};

/* A turn of player @i in round @r; when counting, @add turns (players of the same weight). */
static inline void place(struct layout *l, uint64_t r, uint32_t i, uint32_t add)
{
	if (__builtin_expect(r > l->last, 0)) {
		if (l->seq)
			l->late[l->nlate] = (struct late){ .round = r, .idx = i };
		l->nlate += add;
	} else if (l->seq) {
		l->seq[l->start[r]++] = i;
	} else {
		l->start[r + 1] += add;
	}
}

/*
 * The rounds of the turns of player @i: turn k is in round floor(x_k / 2w) with
 * x_k = wmax - 1 + 2k wmax. When x and 2w fit in 32 bits (any sane weights), the division is a
 * multiplication by a 64-bit reciprocal, exact for 32-bit operands (Lemire, Kaser, Kurz, "Faster
 * remainder by direct computation", 2019); otherwise a division. When counting (no l->seq yet),
 * each turn counts @add times: the players of one weight at once (count_turns()).
 */
static void lay_turns(struct layout *l, uint32_t weight, uint32_t quota, uint32_t wmax,
		      uint32_t i, uint32_t add)
{
	uint64_t x = wmax - 1, step = 2 * (uint64_t)wmax, d = 2 * (uint64_t)weight;

	if (x + (uint64_t)(quota - 1) * step <= UINT32_MAX && d <= UINT32_MAX) {
		uint64_t c = UINT64_MAX / d + 1, lim = (l->last + 1) * d, kin = 0;
		uint32_t k = 0;

		/* turns k < kin are in rounds up to last (x_k < lim): no test in their loops */
		if (lim > x)
			kin = (lim - 1 - x) / step + 1;
		if (kin > quota)
			kin = quota;
		if (l->seq) {
			uint32_t *restrict seq = l->seq, *restrict start = l->start;

			for (; k < kin; k++, x += step)
				seq[start[(uint64_t)(((unsigned __int128)c * x) >> 64)]++] = i;
		} else {
			uint32_t *restrict start = l->start;

			for (; k < kin; k++, x += step)
				start[(uint64_t)(((unsigned __int128)c * x) >> 64) + 1] += add;
		}
		for (; k < quota; k++, x += step)
			place(l, (uint64_t)(((unsigned __int128)c * x) >> 64), i, add);
	} else {
		for (uint32_t k = 0; k < quota; k++, x += step)
			place(l, x / d, i, add);
	}
}

/*
 * The first pass: turns per round. Players of the same weight have the same rounds and quotas
 * within one of each other (floor(M w / W), plus one for some), so their turns are counted
 * once per weight: typical weights take few values.
 */
static int count_turns(struct layout *l, const struct sched *ws, uint32_t np, uint32_t m,
		       uint64_t wsum, uint32_t wmax)
{
	struct group {
		uint32_t weight, floor, n, nplus;
	} *g;
	uint32_t h = 2, bits = 1, ng = 0, *head;
	bool direct;

	while (h < 2 * (uint64_t)np) {
		h *= 2;
		bits++;
	}
	/* the weight itself as the hash when they are all below h: no collision */
	direct = wmax < h;
	if (direct)
		h = wmax + 1;
	head = malloc(h * sizeof(*head));
	g = malloc(np * sizeof(*g));
	if (!head || !g) {
		free(g);
		free(head);
		return -ENOMEM;
	}
	memset(head, 0xff, h * sizeof(*head));
	for (uint32_t i = 0; i < np; i++) {
		uint32_t w = ws[i].weight, j = direct ? w : (w * 0x9e3779b1U) >> (32 - bits);

		if (!ws[i].quota)
			continue;
		while (head[j] != UINT32_MAX && g[head[j]].weight != w)
			j = (j + 1) & (h - 1);
		if (head[j] == UINT32_MAX) {
			head[j] = ng;
			g[ng++] = (struct group){ .weight = w, .floor = (uint64_t)m * w / wsum };
		}
		g[head[j]].n++;
		if (ws[i].quota > g[head[j]].floor)
			g[head[j]].nplus++;
	}
	for (uint32_t j = 0; j < ng; j++) {
		uint64_t x = wmax - 1 + 2 * (uint64_t)g[j].floor * wmax; /* turn k = floor */

		if (g[j].floor)
			lay_turns(l, g[j].weight, g[j].floor, wmax, 0, g[j].n);
		if (g[j].nplus)
			place(l, x / (2 * (uint64_t)g[j].weight), 0, g[j].nplus);
	}
	free(g);
	free(head);
	return 0;
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
static int set_quotas(struct sched *ws, uint32_t np, uint32_t m, uint64_t wsum)
{
	uint64_t left = m;
	struct rem *r, cut;

	r = malloc(np * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < np; i++) {
		uint64_t x = (uint64_t)m * ws[i].weight;

		ws[i].quota = x / wsum;
		left -= ws[i].quota;
		r[i] = (struct rem){ .rem = x % wsum, .idx = i };
	}
	/* left < np: the floors miss less than one slot per player */
	if (left) {
		cut = rem_select(r, np, left - 1);
		for (uint32_t i = 0; i < np; i++) {
			struct rem x = { .rem = (uint64_t)m * ws[i].weight % wsum, .idx = i };

			if (!rem_before(&cut, &x))
				ws[i].quota++;
		}
	}
	free(r);
	return 0;
}

/*
 * Weighted turns: the rounds described at the top of the file. The order of the turns depends
 * on the weights only, so it is laid out first, as a counting sort of every turn by its round
 * (stable: list order within a round), and then played like the classic loop.
 */
static int play_rounds(struct fill *f, struct player *pl, struct sched *ws, uint32_t np,
		       uint32_t wmax, uint64_t wsum)
{
	/*
	 * Counters for the rounds up to last. Without quotas the table would be full by round
	 * last - 1 (each player has played at least (r + 1) w / wmax - 1/2 turns after round r);
	 * with quotas a light player rounded up may need one turn more, rarely after last: those
	 * few turns are sorted apart, so that no weight ratio can make the counters huge.
	 */
	struct layout l = {
		.last = ((2 * (uint64_t)f->m + np) * wmax + 2 * wsum - 1) / (2 * wsum),
	};
	uint32_t nlate;
	int err;

	err = set_quotas(ws, np, f->m, wsum);
	if (err)
		return err;
	l.start = calloc(l.last + 2, sizeof(*l.start));
	if (!l.start) {
		err = -ENOMEM;
		goto out;
	}
	err = count_turns(&l, ws, np, f->m, wsum, wmax);
	if (err)
		goto out;
	for (uint64_t r = 1; r <= l.last + 1; r++)
		l.start[r] += l.start[r - 1];
	nlate = l.nlate;
	l.nlate = 0;
	l.seq = malloc(f->m * sizeof(*l.seq));
	l.late = malloc((nlate ? nlate : 1) * sizeof(*l.late));
	if (!l.seq || !l.late) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < np; i++)
		if (ws[i].quota)
			lay_turns(&l, ws[i].weight, ws[i].quota, wmax, i, 1);
	qsort(l.late, nlate, sizeof(*l.late), cmp_late);
	for (uint32_t j = 0; j < nlate; j++)
		l.seq[f->m - nlate + j] = l.late[j].idx;
	/* the quotas add up to M, so seq is full */
	play(f, pl, l.seq, np);
out:
	free(l.late);
	free(l.seq);
	free(l.start);
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
	struct sched *ws = NULL;
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
	err = populate(e, n, m, table);
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
