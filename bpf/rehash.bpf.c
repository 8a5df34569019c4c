// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test-bed tool (tools/xlb-rehash): forget an skb's hash so the router hashes the headers. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/*
 * Linux's multipath route takes the L4 hash an skb already carries (skb->l4_hash) before it
 * dissects any header, and a packet from a local TCP socket carries that socket's random
 * txhash across a veth: the scale-out bed's router (tools/cluster.sh) would spread connections
 * at random, and move one on a retransmission timeout. Attached (tcx) at the router's ingress
 * from the clients, this program clears that hash, so fib_multipath_hash_policy=1 hashes the
 * 5-tuple of every packet as a router does with frames from a wire. Not part of xlb's datapath.
 */
SEC("tc")
int rehash(struct __sk_buff *skb)
{
	bpf_set_hash_invalid(skb);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
