// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Parsing and formatting of addresses, MACs, ADDR:PORT and VIP names, for xlbd, xlb and tools. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "names.h"
#include "rules.h"
#include "xlb.h"

/* Longer than any address text (45 bytes at most): refused before it is copied. */
#define HOST_MAX 64
/* Longer than any ADDR:PORT of a VIP: not a VIP at all. */
#define VIP_HOSTPORT_MAX 80

int xlb_addr_parse(const char *s, __be32 addr[4], __u8 *family)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!s || !*s)
		return -EINVAL;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		addr[0] = a4.s_addr;
		*family = XLB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		/* An IPv4-mapped IPv6 address is still an IPv6 key: say so rather than guess. */
		memcpy(addr, &a6, 16);
		*family = XLB_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *xlb_addr_format(const __be32 addr[4], __u8 family, char *buf, size_t len)
{
	if (!inet_ntop(family == XLB_AF_INET6 ? AF_INET6 : AF_INET, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

int xlb_mac_parse(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
			 &tail) != 6)
		return -EINVAL;
	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

static int refuse(struct xlb_hostport *hp, enum xlb_hostport_err err, const char *bad, size_t n)
{
	hp->err = err;
	hp->bad = bad;
	hp->bad_len = n;
	return -EINVAL;
}

int xlb_hostport_parse(const char *s, size_t len, bool need_port, struct xlb_hostport *hp)
{
	const char *end = s + len, *host = s, *port = NULL, *colon;
	char text[HOST_MAX];
	uint32_t v;
	size_t n;
	__u8 fam;

	memset(hp, 0, sizeof(*hp));
	hp->family = XLB_AF_INET;
	if (len && s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (!rb)
			return refuse(hp, XLB_HOSTPORT_E_BRACKET, s, len);
		if (rb + 1 < end && rb[1] == ':')
			port = rb + 2;
		else if (rb + 1 < end)
			return refuse(hp, XLB_HOSTPORT_E_TRAILING, rb + 1, end - rb - 1);
		host = s + 1;
		n = rb - host;
		hp->family = XLB_AF_INET6;
	} else {
		colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', end - colon - 1)) {
			n = len;	/* bare IPv6: several colons, no port */
			hp->family = XLB_AF_INET6;
		} else if (colon) {
			n = colon - s;
			port = colon + 1;
		} else {
			n = len;
		}
	}
	if (n >= sizeof(text))
		return refuse(hp, XLB_HOSTPORT_E_LONG, host, n);
	memcpy(text, host, n);
	text[n] = '\0';
	if (xlb_addr_parse(text, hp->addr, &fam) || fam != hp->family)
		return refuse(hp, XLB_HOSTPORT_E_ADDR, host, n);
	if (port) {
		if (xlb_range_parse(xlb_range(XLB_RANGE_PORT), port, end - port, &v))
			return refuse(hp, XLB_HOSTPORT_E_PORT, port, end - port);
		hp->port = v;
		hp->has_port = true;
	} else if (need_port) {
		return refuse(hp, XLB_HOSTPORT_E_NO_PORT, s, len);
	}
	return 0;
}

int xlb_vip_parse(const char *s, struct xlb_hostport *hp)
{
	const char *slash = s ? strrchr(s, '/') : NULL;
	int v;

	if (!slash || slash - s >= VIP_HOSTPORT_MAX) {
		memset(hp, 0, sizeof(*hp));
		return refuse(hp, XLB_HOSTPORT_E_VIP, s, s ? strlen(s) : 0);
	}
	if (xlb_hostport_parse(s, slash - s, true, hp))
		return -EINVAL;
	if (xlb_name_parse(&xlb_proto_names, slash + 1, &v))
		return refuse(hp, XLB_HOSTPORT_E_PROTO, slash + 1, strlen(slash + 1));
	hp->proto = v;
	return 0;
}

int xlb_vip_name_parse(const char *s, __be32 addr[4], __u8 *family, uint16_t *port, __u8 *proto)
{
	struct xlb_hostport hp;

	if (xlb_vip_parse(s, &hp))
		return -EINVAL;
	memcpy(addr, hp.addr, sizeof(hp.addr));
	*family = hp.family;
	*port = hp.port;
	*proto = hp.proto;
	return 0;
}

int xlb_addr_port_parse(const char *s, __be32 addr[4], __u8 *family, uint16_t *port)
{
	struct xlb_hostport hp;

	if (!s || xlb_hostport_parse(s, strlen(s), true, &hp))
		return -EINVAL;
	memcpy(addr, hp.addr, sizeof(hp.addr));
	*family = hp.family;
	*port = hp.port;
	return 0;
}

const char *xlb_hostport_format(const __be32 addr[4], __u8 family, uint16_t port, char *buf,
				size_t len)
{
	char a[INET6_ADDRSTRLEN];

	xlb_addr_format(addr, family, a, sizeof(a));
	if (family == XLB_AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

const char *xlb_vip_format(const __be32 addr[4], __u8 family, uint16_t port, __u8 proto,
			   char *buf, size_t len)
{
	size_t n;

	if (!len)
		return buf;
	xlb_hostport_format(addr, family, port, buf, len);
	n = strlen(buf);
	snprintf(buf + n, len - n, "/%s", xlb_name_of(&xlb_proto_names, proto));
	return buf;
}
