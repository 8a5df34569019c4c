// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Local validation of xlb arguments (VIPs, backends, sources, numbers, keywords): libxlb rules. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The CLI's words for why @whole (a VIP, a backend or a source) was refused. */
static int hostport_error(struct cli *c, const struct xlb_hostport *hp, const char *whole)
{
	int n = hp->bad_len;

	switch (hp->err) {
	case XLB_HOSTPORT_E_VIP:
		return cli_usage_error(c, "invalid VIP \"%s\" (expected ADDR:PORT/PROTO)", whole);
	case XLB_HOSTPORT_E_BRACKET:
		return cli_usage_error(c, "missing \"]\" in \"%s\"", whole);
	case XLB_HOSTPORT_E_TRAILING:
		return cli_usage_error(c, "unexpected \"%.*s\" after \"]\" in \"%s\"", n, hp->bad,
				       whole);
	case XLB_HOSTPORT_E_LONG:
		return cli_usage_error(c, "invalid address in \"%s\"", whole);
	case XLB_HOSTPORT_E_ADDR:
		return cli_usage_error(c, "invalid %saddress \"%.*s\" in \"%s\"",
				       hp->family == XLB_AF_INET6 ? "IPv6 " : "IPv4 ", n, hp->bad,
				       whole);
	case XLB_HOSTPORT_E_PORT:
		return cli_usage_error(c, "invalid port \"%.*s\" in \"%s\"", n, hp->bad, whole);
	case XLB_HOSTPORT_E_NO_PORT:
		return cli_usage_error(c, "missing port in \"%s\"%s", whole,
				       hp->family == XLB_AF_INET6 ?
					       " (IPv6 goes in brackets: [ADDR]:PORT)" : "");
	case XLB_HOSTPORT_E_PROTO: {
		char list[64];

		return cli_usage_error(c, "invalid protocol \"%.*s\" in \"%s\" (%s)", n, hp->bad,
				       whole, xlb_names_list(&xlb_proto_names, NULL, 0, list,
							     sizeof(list)));
	}
	case XLB_HOSTPORT_OK:
		break;
	}
	return cli_usage_error(c, "invalid address \"%s\"", whole);
}

/* ADDR:PORT/PROTO into its canonical text (as the daemon prints it); @family may be NULL. */
int cli_parse_vip(struct cli *c, const char *s, char *out, size_t len, uint8_t *family)
{
	struct xlb_hostport hp;

	if (xlb_vip_parse(s, &hp))
		return hostport_error(c, &hp, s);
	xlb_vip_format(hp.addr, hp.family, hp.port, hp.proto, out, len);
	if (family)
		*family = hp.family;
	return 0;
}

/* A backend: IPV4[:PORT], [IPV6]:PORT, [IPV6] or bare IPV6. */
int cli_parse_backend(struct cli *c, const char *s, struct xlb_hostport *hp)
{
	if (xlb_hostport_parse(s, strlen(s), false, hp))
		return hostport_error(c, hp, s);
	return 0;
}

/* A flow source ADDR:PORT, canonical text into @out. */
int cli_parse_src(struct cli *c, const char *s, char *out, size_t len, uint8_t *family)
{
	struct xlb_hostport hp;

	if (xlb_hostport_parse(s, strlen(s), true, &hp))
		return hostport_error(c, &hp, s);
	xlb_hostport_format(hp.addr, hp.family, hp.port, out, len);
	*family = hp.family;
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
