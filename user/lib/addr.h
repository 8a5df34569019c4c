/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Addresses as xlb writes them: bare addresses, MACs, ADDR:PORT, and VIPs ADDR:PORT/PROTO. */
#ifndef XLB_ADDR_H
#define XLB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

/**
 * xlb_addr_parse() - a bare IPv4 or IPv6 address ("198.18.0.1", "2001:db8::1"; no brackets, no
 * port) into @addr: four words, IPv4 in addr[0] and zeros, or the 16 IPv6 bytes; @family
 * XLB_AF_INET or XLB_AF_INET6. Returns 0 or -EINVAL.
 */
int xlb_addr_parse(const char *s, __be32 addr[4], __u8 *family);
/* Formats into @buf (at least 46 bytes). Returns @buf. */
const char *xlb_addr_format(const __be32 addr[4], __u8 family, char *buf, size_t len);
/* "aa:bb:cc:dd:ee:ff" */
int xlb_mac_parse(const char *s, __u8 mac[6]);

/* Why an ADDR:PORT or a VIP was refused, for a message that names the part at fault. */
enum xlb_hostport_err {
	XLB_HOSTPORT_OK = 0,
	XLB_HOSTPORT_E_VIP,	 /* no "/PROTO", or far too long: not ADDR:PORT/PROTO at all */
	XLB_HOSTPORT_E_BRACKET,	 /* "[" without "]" */
	XLB_HOSTPORT_E_TRAILING, /* after "]", something other than ":PORT" (in @bad) */
	XLB_HOSTPORT_E_LONG,	 /* the address part is longer than any address */
	XLB_HOSTPORT_E_ADDR,	 /* @bad is not an address of the family its form implies */
	XLB_HOSTPORT_E_PORT,	 /* @bad is not a port 0..65535 (decimal digits only) */
	XLB_HOSTPORT_E_NO_PORT,	 /* a port is required and missing */
	XLB_HOSTPORT_E_PROTO,	 /* @bad is not a protocol name (tcp, udp) */
};

/* An address with an optional port (and a protocol for a VIP), or why there is none. */
struct xlb_hostport {
	__be32 addr[4];
	__u8 family;		/* XLB_AF_INET / XLB_AF_INET6; on error, what the form implies */
	bool has_port;
	uint16_t port;		/* host order */
	__u8 proto;		/* xlb_vip_parse() only: IPPROTO_TCP / IPPROTO_UDP */
	enum xlb_hostport_err err;
	const char *bad;	/* on error: the part of the input at fault, @bad_len bytes */
	size_t bad_len;
};

/**
 * xlb_hostport_parse() - the @len bytes at @s as an address with an optional port:
 * IPV4, IPV4:PORT, [IPV6], [IPV6]:PORT, or a bare IPV6 (two colons or more, so no port).
 * @need_port: a port is required. Returns 0, or -EINVAL with @hp->err (and @hp->bad) saying why.
 */
int xlb_hostport_parse(const char *s, size_t len, bool need_port, struct xlb_hostport *hp);

/**
 * xlb_vip_parse() - a VIP as the API and the CLI name it: "198.18.0.10:80/tcp",
 * "[2001:db8::10]:443/udp" (the port is required; 0 is the all-ports VIP). Problems are found in
 * reading order: the form, then the address and port, then the protocol. Returns 0 or -EINVAL
 * (@hp->err says why).
 */
int xlb_vip_parse(const char *s, struct xlb_hostport *hp);

/* The same, without the reason. xlb_addr_port_parse(): ADDR:PORT, the port required. */
int xlb_vip_name_parse(const char *s, __be32 addr[4], __u8 *family, uint16_t *port, __u8 *proto);
int xlb_addr_port_parse(const char *s, __be32 addr[4], __u8 *family, uint16_t *port);

/* "198.18.0.1:80", "[2001:db8::1]:80" into @buf; with @proto "...:80/tcp". Return @buf. */
const char *xlb_hostport_format(const __be32 addr[4], __u8 family, uint16_t port, char *buf,
				size_t len);
const char *xlb_vip_format(const __be32 addr[4], __u8 family, uint16_t port, __u8 proto,
			   char *buf, size_t len);

#endif /* XLB_ADDR_H */
