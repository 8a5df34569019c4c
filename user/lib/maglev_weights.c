/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev with weights: each backend's number of slots, and the order in which backends play. */

/*
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
 * and no empty turns: a light backend costs nothing in the rounds it skips.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "maglev_weights.h"

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
static int count_turns(struct layout *l, const struct xlb_maglev_sched *ws, uint32_t np, uint32_t m,
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
static int set_quotas(struct xlb_maglev_sched *ws, uint32_t np, uint32_t m, uint64_t wsum)
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

int xlb_maglev_schedule(struct xlb_maglev_sched *ws, uint32_t np, uint32_t m, uint32_t wmax,
			uint64_t wsum, uint32_t *seq)
{
	/*
	 * Counters for the rounds up to last. Without quotas the table would be full by round
	 * last - 1 (each player has played at least (r + 1) w / wmax - 1/2 turns after round r);
	 * with quotas a light player rounded up may need one turn more, rarely after last: those
	 * few turns are sorted apart, so that no weight ratio can make the counters huge.
	 */
	struct layout l = {
		.last = ((2 * (uint64_t)m + np) * wmax + 2 * wsum - 1) / (2 * wsum),
	};
	uint32_t nlate;
	int err;

	err = set_quotas(ws, np, m, wsum);
	if (err)
		return err;
	l.start = calloc(l.last + 2, sizeof(*l.start));
	if (!l.start) {
		err = -ENOMEM;
		goto out;
	}
	err = count_turns(&l, ws, np, m, wsum, wmax);
	if (err)
		goto out;
	for (uint64_t r = 1; r <= l.last + 1; r++)
		l.start[r] += l.start[r - 1];
	nlate = l.nlate;
	l.nlate = 0;
	l.late = malloc((nlate ? nlate : 1) * sizeof(*l.late));
	if (!l.late) {
		err = -ENOMEM;
		goto out;
	}
	l.seq = seq; /* from here on the turns are placed, no longer counted */
	for (uint32_t i = 0; i < np; i++)
		if (ws[i].quota)
			lay_turns(&l, ws[i].weight, ws[i].quota, wmax, i, 1);
	qsort(l.late, nlate, sizeof(*l.late), cmp_late);
	for (uint32_t j = 0; j < nlate; j++)
		seq[m - nlate + j] = l.late[j].idx;
out:
	free(l.late);
	free(l.start);
	return err;
}
