/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The configuration as JSON: validation of a file or an API object, serialization, atomic save. */
#ifndef XLB_CONFIG_FILE_H
#define XLB_CONFIG_FILE_H

#include <stdbool.h>
#include <jansson.h>

#include "config.h"

/* ---- JSON in (config_parse.c) */

/**
 * xlb_cfg_from_json() - validate a whole configuration and build its model.
 * Returns a new config, or NULL when anything is wrong (each problem is in @e).
 */
struct xlb_cfg *xlb_cfg_from_json(json_t *root, struct xlb_cfg_errors *e);
/**
 * xlb_cfg_check_vips() - the rules between the top-level keys and the VIPs, which no single
 * object can check: the MTU leaves the hosts of each VIP a path MTU they accept after the
 * largest encapsulation its backends use (IPv6: 1280, IPv4: 552), and a VIP that encapsulates
 * has the outer source address (encap_source4 / encap_source6) of each of its backends' families.
 * xlb_cfg_from_json() runs it on a config otherwise valid; xlbd on a config changed by API ops.
 * Problems are appended to @e by the VIP's path ("vips[2]: ..."). Returns 0 or -EINVAL.
 */
int xlb_cfg_check_vips(const struct xlb_cfg *cfg, struct xlb_cfg_errors *e);
/* The same for the VIPs stamped after @since alone (xlb_cfg_vip.stamp): those an API op changed. */
int xlb_cfg_check_vips_since(const struct xlb_cfg *cfg, __u64 since, struct xlb_cfg_errors *e);
/* Parse text / a file, then xlb_cfg_from_json(). Syntax errors carry line and column. */
struct xlb_cfg *xlb_cfg_parse_string(const char *text, struct xlb_cfg_errors *e);
struct xlb_cfg *xlb_cfg_load(const char *path, struct xlb_cfg_errors *e);

/**
 * xlb_cfg_vip_from_json() / xlb_cfg_backend_from_json() - validate one VIP / backend object
 * (the same rules as inside a whole config). @path prefixes the error paths ("" for none).
 * A VIP object may omit "backends". Return 0 or -EINVAL (problems in @e).
 */
int xlb_cfg_vip_from_json(json_t *obj, const char *path, struct xlb_cfg_vip *vip,
			  struct xlb_cfg_errors *e);
int xlb_cfg_backend_from_json(json_t *obj, const char *path, const struct xlb_cfg_vip *vip,
			      struct xlb_cfg_backend *be, struct xlb_cfg_errors *e);

/* ---- JSON out (config_json.c): every field is written, defaults included (explicit files). */
json_t *xlb_cfg_to_json(const struct xlb_cfg *cfg);
json_t *xlb_cfg_vip_to_json(const struct xlb_cfg_vip *vip, bool with_backends);
json_t *xlb_cfg_backend_to_json(const struct xlb_cfg_backend *be);
/* A check in full (@only_set false), or only the keys of c->set (a backend's own). */
json_t *xlb_cfg_check_to_json(const struct xlb_cfg_check *c, bool only_set);
/*
 * The file's text (what xlb_cfg_save() writes, without the last newline), built from parts so
 * that a caller can keep each VIP's part until the VIP changes: xlb_cfg_vip_text() is VIP
 * @vip's part (malloc'ed, NULL on failure); xlb_cfg_text() joins the top-level keys and the
 * parts @vip_text[i] of cfg->vips[i] (@vip_text, or one of its entries, NULL: made here).
 * Returns a malloc'ed string (its length in *@len if not NULL), or NULL with errno set.
 */
char *xlb_cfg_vip_text(const struct xlb_cfg_vip *vip);
char *xlb_cfg_text(const struct xlb_cfg *cfg, const char *const *vip_text, size_t *len);

/* Equal configurations (runtime ids ignored). */
bool xlb_cfg_equal(const struct xlb_cfg *a, const struct xlb_cfg *b);

/* ---- atomic save (config_save.c) */

/**
 * xlb_cfg_save() - write @cfg to @path atomically: a temporary file in the same directory,
 * fsync, rename over @path, fsync of the directory. Returns 0 or -errno; on failure @path is
 * left as it was.
 */
int xlb_cfg_save(const struct xlb_cfg *cfg, const char *path);
/*
 * The same in two steps, so that a change can be written before it is applied:
 * xlb_cfg_save_begin() writes and fsyncs the temporary file (*@tmp: its name, NULL on failure;
 * @path untouched); xlb_cfg_save_finish() renames it over @path and fsyncs the directory (a
 * failure of that last fsync is only logged: @path already holds the new text), returning 0 or
 * -errno (@path as it was); xlb_cfg_save_abort() removes it. Both take @tmp.
 */
int xlb_cfg_save_begin(const struct xlb_cfg *cfg, const char *path, char **tmp);
/* The same with the text given (xlb_cfg_text()), @len bytes. */
int xlb_cfg_save_text_begin(const char *text, size_t len, const char *path, char **tmp);
int xlb_cfg_save_finish(char *tmp, const char *path);
void xlb_cfg_save_abort(char *tmp);

#endif /* XLB_CONFIG_FILE_H */
