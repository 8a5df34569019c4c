/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Inside libxlb's Maglev builder: the weighted order of turns (maglev_weights.c) for maglev.c. */
#ifndef XLB_MAGLEV_WEIGHTS_H
#define XLB_MAGLEV_WEIGHTS_H

#include <stdint.h>

/* The rest of a player's state when weights differ. */
struct xlb_maglev_sched {
	uint32_t weight;
	uint32_t quota; /* slots it will own */
};

/**
 * xlb_maglev_schedule() - the order of the M turns of a table of @m slots among @np players of
 * weights @ws[i].weight (all > 0; the largest @wmax, their sum @wsum): sets each player's quota
 * (largest remainder) and writes into @seq (@m entries) the player of every turn, in the rounds
 * described at the top of maglev_weights.c. Returns 0 or -ENOMEM.
 */
int xlb_maglev_schedule(struct xlb_maglev_sched *ws, uint32_t np, uint32_t m, uint32_t wmax,
			uint64_t wsum, uint32_t *seq);

#endif /* XLB_MAGLEV_WEIGHTS_H */
