/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside libxlb's JSON in (config_parse.c, config_parse_vip.c): one field of an object read and
 * checked (config_field.c), each problem added to @e under the field's JSON path. The prefix
 * jf_ (JSON field) keeps these names, global in the archive, apart from those of its users.
 */
#ifndef XLB_CONFIG_FIELD_H
#define XLB_CONFIG_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config_file.h"
#include "names.h"
#include "rules.h"

/* The size of a JSON path buffer ("vips[1].backends[0].check.expect"). */
#define PATH_LEN 192

/* snprintf into a path buffer: error paths are cut rather than overflowing. */
void __attribute__((format(printf, 3, 4))) jf_fmt_path(char *out, size_t len, const char *fmt, ...);
/* @path "." @key into @out (PATH_LEN bytes); @key alone when @path is "". */
void jf_join(char *out, const char *path, const char *key);
/* Every key of @obj must be in @keys (NULL-terminated). */
void jf_check_keys(json_t *obj, const char *path, const char *const *keys,
		   struct xlb_cfg_errors *e);
/* Integer @key of @obj in range @r; @def when absent (or an error if @required). */
int jf_uint(json_t *obj, const char *path, const char *key, enum xlb_range_id r, uint32_t def,
	    bool required, uint32_t *out, struct xlb_cfg_errors *e);
/* String @key of @obj; NULL (no error) when absent and not @required. */
const char *jf_str(json_t *obj, const char *path, const char *key, bool required,
		   struct xlb_cfg_errors *e, int *err);
/* Enum @key: one of the names of @t; @def when absent. */
int jf_enum(json_t *obj, const char *path, const char *key, const struct xlb_names *t, int def,
	    int *out, struct xlb_cfg_errors *e);
/* An address @key (*@family set from it); *@present whether it was given. */
int jf_addr(json_t *obj, const char *path, const char *key, bool required, __be32 addr[4],
	    __u8 *family, bool *present, struct xlb_cfg_errors *e);
/* A MAC address @key ("aa:bb:cc:dd:ee:ff"); *@present whether it was given and valid. */
int jf_mac(json_t *obj, const char *path, const char *key, __u8 mac[6], bool *present,
	   struct xlb_cfg_errors *e);

#endif
