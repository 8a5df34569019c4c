/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum helpers for headers the balancer writes. */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of a 20-byte IPv4 header (no options) whose check field is zero. */
static __always_inline __u16 csum_ipv4_hdr(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold32(sum);
}

static __always_inline __u16 csum_fold64(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold32((__u32)s);
}

/* Longest span csum_span() sums: an ICMP error is at most what fits a 1500-byte MTU. */
#define CSUM_SPAN_MAX 1536

/*
 * csum_span() - add the ones' complement sum of @len bytes at @data + @off to *@sum (unfolded,
 * in memory order, as bpf_csum_diff() sums), for a span starting at an even offset of what it
 * belongs to. Constant-size chunks keep every access verified: 256-byte chunks, then one each of
 * 128 .. 4 bytes, then the last 0-3 bytes. Returns 0, or -1 if the span is longer than
 * CSUM_SPAN_MAX or not inside the frame.
 */
static __always_inline int csum_span(void *data, void *end, __u32 off, __u32 len, __u64 *sum)
{
	__u8 *p;

	if (len > CSUM_SPAN_MAX || off > 4096)
		return -1;
	for (int i = 0; i < CSUM_SPAN_MAX / 256; i++) {
		if (len < 256)
			break;
		p = data + off;
		if ((void *)(p + 256) > end)
			return -1;
		*sum += (__u32)bpf_csum_diff(NULL, 0, (void *)p, 256, 0);
		off += 256;
		len -= 256;
	}
#pragma unroll
	for (int size = 128; size >= 4; size >>= 1) {
		if (len & size) {
			p = data + off;
			if ((void *)(p + size) > end)
				return -1;
			*sum += (__u32)bpf_csum_diff(NULL, 0, (void *)p, size, 0);
			off += size;
		}
	}
	p = data + off;
	if (len & 2) {
		if ((void *)(p + 2) > end)
			return -1;
		*sum += *(__u16 *)p;
		p += 2;
	}
	if (len & 1) {
		__u16 w = 0;

		if ((void *)(p + 1) > end)
			return -1;
		*(__u8 *)&w = *p;	/* the odd last byte is the first of a zero-padded word */
		*sum += w;
	}
	return 0;
}

#endif /* XLB_CSUM_H */
