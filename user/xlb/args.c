// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Local validation of xlb arguments: VIPs, backends, sources, numbers and keywords. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xlb.h"

static int parse_port(struct cli *c, const char *p, const char *whole, uint16_t *port)
{
	uint32_t v;

	if (xlb_range_parse(xlb_range(XLB_RANGE_PORT), p, strlen(p), &v))
		return cli_usage_error(c, "invalid port \"%s\" in \"%s\"", p, whole);
	*port = v;
	return 0;
}

/* Bare address @s (no brackets) into canonical text; @family 0 = either. */
static int parse_addr(struct cli *c, const char *s, const char *whole, uint8_t family,
		      struct cli_addr *a)
{
	__be32 addr[4];
	__u8 fam;

	if (xlb_addr_parse(s, addr, &fam) || (family && fam != family))
		return cli_usage_error(c, "invalid %saddress \"%s\" in \"%s\"",
				       family == 6 ? "IPv6 " : family == 4 ? "IPv4 " : "", s,
				       whole);
	a->family = fam;
	xlb_addr_format(addr, fam, a->addr, sizeof(a->addr));
	return 0;
}

/*
 * ADDR[:PORT] with IPv6 in brackets ("[2001:db8::1]:80", "[2001:db8::1]"), or a bare IPv6
 * address without port. @need_port: the port is mandatory (sources, VIPs).
 */
static int parse_hostport(struct cli *c, const char *s, const char *whole, bool need_port,
			  struct cli_addr *a)
{
	char host[64];
	const char *colon, *port = NULL;
	uint8_t family = 4;
	size_t n;
	int err;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return cli_usage_error(c, "missing \"]\" in \"%s\"", whole);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return cli_usage_error(c, "unexpected \"%s\" after \"]\" in \"%s\"",
					       end + 1, whole);
		s++;
		n = end - s;
		family = 6;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			n = strlen(s);		/* bare IPv6: several colons, no port */
			family = 6;
		} else if (colon) {
			n = colon - s;
			port = colon + 1;
		} else {
			n = strlen(s);
		}
	}
	if (n >= sizeof(host))
		return cli_usage_error(c, "invalid address in \"%s\"", whole);
	memcpy(host, s, n);
	host[n] = '\0';
	err = parse_addr(c, host, whole, family, a);
	if (err)
		return err;
	if (port) {
		err = parse_port(c, port, whole, &a->port);
		if (err)
			return err;
		a->has_port = true;
	} else if (need_port) {
		return cli_usage_error(c, "missing port in \"%s\"%s", whole,
				       family == 6 ? " (IPv6 goes in brackets: [ADDR]:PORT)" : "");
	}
	return 0;
}

static void format_hostport(const struct cli_addr *a, char *out, size_t len)
{
	snprintf(out, len, a->family == 6 ? "[%s]:%u" : "%s:%u", a->addr, a->port);
}

/* ADDR:PORT/PROTO into its canonical text (as the daemon prints it); @family may be NULL. */
int cli_parse_vip(struct cli *c, const char *s, char *out, size_t len, uint8_t *family)
{
	const char *slash = strrchr(s, '/');
	struct cli_addr a;
	char hp[80];
	int err;

	if (!slash || (size_t)(slash - s) >= sizeof(hp))
		return cli_usage_error(c, "invalid VIP \"%s\" (expected ADDR:PORT/PROTO)", s);
	memcpy(hp, s, slash - s);
	hp[slash - s] = '\0';
	err = parse_hostport(c, hp, s, true, &a);
	if (err)
		return err;
	if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp"))
		return cli_usage_error(c, "invalid protocol \"%s\" in \"%s\" (tcp, udp)", slash + 1,
				       s);
	format_hostport(&a, out, len);
	snprintf(out + strlen(out), len - strlen(out), "/%s", slash + 1);
	if (family)
		*family = a.family;
	return 0;
}

/* A backend: IPV4[:PORT], [IPV6]:PORT, [IPV6] or bare IPV6. */
int cli_parse_backend(struct cli *c, const char *s, struct cli_addr *a)
{
	return parse_hostport(c, s, s, false, a);
}

/* A flow source ADDR:PORT, canonical text into @out. */
int cli_parse_src(struct cli *c, const char *s, char *out, size_t len, uint8_t *family)
{
	struct cli_addr a;
	int err;

	err = parse_hostport(c, s, s, true, &a);
	if (err)
		return err;
	format_hostport(&a, out, len);
	*family = a.family;
	return 0;
}

int cli_parse_range(struct cli *c, const char *what, const char *s, enum xlb_range_id r,
		    uint32_t *out)
{
	char range[XLB_RANGE_TEXT_LEN];

	if (xlb_range_parse(xlb_range(r), s, strlen(s), out))
		return cli_usage_error(c, "invalid %s \"%s\" (%s)", what, s,
				       xlb_range_text(xlb_range(r), range, sizeof(range)));
	return 0;
}

int cli_parse_name(struct cli *c, const char *what, const char *s, const struct xlb_names *t,
		   const int *order, size_t norder, int *value)
{
	char list[256];
	int v;

	if (!xlb_name_parse(t, s, &v)) {
		if (value)
			*value = v;
		return 0;
	}
	return cli_usage_error(c, "invalid %s \"%s\" (%s)", what, s,
			       xlb_names_list(t, order, norder, list, sizeof(list)));
}

const char *cli_value(struct cli *c, int *argc, char ***argv)
{
	const char *v;

	if (*argc < 2) {
		cli_usage_error(c, "missing value after \"%s\"", (*argv)[0]);
		return NULL;
	}
	v = (*argv)[1];
	*argc -= 2;
	*argv += 2;
	return v;
}
