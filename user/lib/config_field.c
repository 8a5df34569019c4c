// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reading one field of a JSON object of the configuration: its type and range checked, each
 * problem reported under its JSON path, for config_parse.c and config_parse_vip.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_field.h"
#include "rules.h"

/* snprintf into a path buffer: error paths are cut rather than overflowing. */
void __attribute__((format(printf, 3, 4))) jf_fmt_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

void jf_join(char *out, const char *path, const char *key)
{
	jf_fmt_path(out, PATH_LEN, "%s%s%s", path, *path ? "." : "", key);
}

/* Every key of @obj must be in @keys (NULL-terminated). */
void jf_check_keys(json_t *obj, const char *path, const char *const *keys,
		   struct xlb_cfg_errors *e)
{
	const char *k;
	json_t *v;
	char p[PATH_LEN];

	json_object_foreach(obj, k, v) {
		const char *const *a;

		for (a = keys; *a; a++)
			if (!strcmp(*a, k))
				break;
		if (!*a) {
			jf_join(p, path, k);
			xlb_cfg_errors_add(e, p, "unknown key");
		}
	}
}

/* Integer @key of @obj in range @r; @def when absent (or an error if @required). */
int jf_uint(json_t *obj, const char *path, const char *key, enum xlb_range_id r, uint32_t def,
	    bool required, uint32_t *out, struct xlb_cfg_errors *e)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN], range[XLB_RANGE_TEXT_LEN];
	long long x;

	jf_join(p, path, key);
	if (!v) {
		if (required) {
			xlb_cfg_errors_add(e, p, "missing");
			return -EINVAL;
		}
		*out = def;
		return 0;
	}
	xlb_range_text(xlb_range(r), range, sizeof(range));
	if (!json_is_integer(v)) {
		xlb_cfg_errors_add(e, p, "must be an integer %s", range);
		return -EINVAL;
	}
	x = json_integer_value(v);
	if (!xlb_range_has(xlb_range(r), x)) {
		xlb_cfg_errors_add(e, p, "must be %s", range);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

/* String @key of @obj; NULL (no error) when absent and not @required. */
const char *jf_str(json_t *obj, const char *path, const char *key, bool required,
		   struct xlb_cfg_errors *e, int *err)
{
	json_t *v = json_object_get(obj, key);
	char p[PATH_LEN];

	if (!v) {
		if (required) {
			jf_join(p, path, key);
			xlb_cfg_errors_add(e, p, "missing");
			*err = -EINVAL;
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		jf_join(p, path, key);
		xlb_cfg_errors_add(e, p, "must be a string");
		*err = -EINVAL;
		return NULL;
	}
	/* NUL bytes are for payloads (get_bytes()) only: here they would cut the text short */
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		jf_join(p, path, key);
		xlb_cfg_errors_add(e, p, "must not contain NUL bytes");
		*err = -EINVAL;
		return NULL;
	}
	return json_string_value(v);
}

/* Enum @key: one of the names of @t; @def when absent. */
int jf_enum(json_t *obj, const char *path, const char *key, const struct xlb_names *t, int def,
	    int *out, struct xlb_cfg_errors *e)
{
	char p[PATH_LEN], list[128];
	int err = 0;
	const char *s = jf_str(obj, path, key, false, e, &err);

	if (err)
		return err;
	if (!s) {
		*out = def;
		return 0;
	}
	if (!xlb_name_parse(t, s, out))
		return 0;
	jf_join(p, path, key);
	xlb_cfg_errors_add(e, p, "unknown value \"%s\" (expected %s)", s,
			   xlb_names_list(t, NULL, 0, list, sizeof(list)));
	return -EINVAL;
}

int jf_addr(json_t *obj, const char *path, const char *key, bool required, __be32 addr[4],
	    __u8 *family, bool *present, struct xlb_cfg_errors *e)
{
	char p[PATH_LEN];
	int err = 0;
	const char *s = jf_str(obj, path, key, required, e, &err);

	if (present)
		*present = s != NULL;
	if (!s)
		return err;
	if (xlb_addr_parse(s, addr, family)) {
		jf_join(p, path, key);
		xlb_cfg_errors_add(e, p, "not an IPv4 or IPv6 address: \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

int jf_mac(json_t *obj, const char *path, const char *key, __u8 mac[6], bool *present,
	   struct xlb_cfg_errors *e)
{
	char p[PATH_LEN];
	int err = 0;
	const char *s = jf_str(obj, path, key, false, e, &err);

	*present = s != NULL;
	if (!s)
		return err;
	if (xlb_mac_parse(s, mac)) {
		jf_join(p, path, key);
		xlb_cfg_errors_add(e, p, "not a MAC address (aa:bb:cc:dd:ee:ff): \"%s\"", s);
		*present = false;
		return -EINVAL;
	}
	return 0;
}
