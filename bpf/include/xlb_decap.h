/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Outcomes of the backend-side decapsulation program, shared by decap.bpf.c and xlb-decap. */
#ifndef XLB_DECAP_H
#define XLB_DECAP_H

/*
 * One counter per outcome in xlb_decap_stats (per-CPU array indexed by this enum). Every
 * packet is counted under exactly one outcome. Only the DECAP_OK_* outcomes modify the
 * packet; everything else is passed to the kernel untouched.
 */
enum xlb_decap_outcome {
	XLB_DECAP_OK_4IN4 = 0,	/* outer IPv4 proto 4 stripped */
	XLB_DECAP_OK_6IN4,	/* outer IPv4 proto 41 stripped */
	XLB_DECAP_OK_4IN6,	/* outer IPv6 next header 4 stripped */
	XLB_DECAP_OK_6IN6,	/* outer IPv6 next header 41 stripped */
	XLB_DECAP_OK_GUE4,	/* outer IPv4 + UDP to the GUE port stripped */
	XLB_DECAP_OK_GUE6,	/* outer IPv6 + UDP to the GUE port stripped */
	XLB_DECAP_PASS_NOT_IP,	/* not IPv4/IPv6 (ARP, ND is IP): passed */
	XLB_DECAP_PASS_PLAIN,	/* IP, not encapsulated: passed (the backend's own traffic) */
	XLB_DECAP_PASS_FRAG,	/* outer IPv4 fragment: passed, never reassembled here */
	XLB_DECAP_PASS_MALFORMED, /* truncated or inconsistent outer/inner header: passed */
	XLB_DECAP_PASS_ADJUST,	/* bpf_xdp_adjust_head failed: passed unmodified */
	XLB_DECAP__MAX,
};

#define XLB_DECAP_NAMES                                                                   \
	{                                                                                 \
		"decap_4in4", "decap_6in4", "decap_4in6", "decap_6in6", "decap_gue4",     \
			"decap_gue6", "pass_not_ip", "pass_plain", "pass_frag",           \
			"pass_malformed", "pass_adjust_failed",                           \
	}

/* Per-CPU value of xlb_decap_stats. */
struct xlb_decap_counters {
	__u64 packets;
	__u64 bytes;	/* bytes as received, outer headers included */
};

#endif /* XLB_DECAP_H */
