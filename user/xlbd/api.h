/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the API's files share: the handler interface, argument helpers, the views of objects. */
#ifndef XLBD_API_H
#define XLBD_API_H

#include <jansson.h>

#include "xlbd.h"

/*
 * A command handler (the table in api.c): validates @req, does the work, adds its keys to
 * @reply (which holds "ok": true). Returns 0, or -errno with the message in @err (api_error()).
 */
typedef int (*api_cmd_fn)(struct xlbd *d, json_t *req, json_t *reply, char *err, size_t errlen);

/*
 * A reply written as text, for the large views: the handler appends the reply's keys after
 * "ok": true, each as ,"key":value, encoded by jansson (api_text_json(), api_text_string())
 * or taken from a cached encoding; the bytes are those of json_dumps(JSON_COMPACT) of the same
 * tree. A failed allocation sets @oom: the client then gets "reply too large".
 */
struct api_text {
	char *buf;
	size_t len, cap;
	bool oom;
};
typedef int (*api_text_fn)(struct xlbd *d, json_t *req, struct api_text *t, char *err,
			   size_t errlen);

/* api_text.c */
void api_text_put(struct api_text *t, const char *s, size_t n);
void api_text_puts(struct api_text *t, const char *s);	/* bytes already JSON */
void api_text_printf(struct api_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void api_text_json(struct api_text *t, const json_t *v);	/* any value, compact */
/* An integer as json_integer() of it is dumped ("%" JSON_INTEGER_FORMAT), without printf. */
void api_text_int(struct api_text *t, json_int_t v);
void api_text_string(struct api_text *t, const char *s);	/* a string, quoted and escaped */
/* A string of a fixed name table (static storage): its encoding is made once and kept. */
void api_text_name(struct api_text *t, const char *name);
/* Object @o dumped compact without its closing brace (malloc'ed; length in *@len), or NULL. */
char *api_json_open(const json_t *o, size_t *len);

/* Write the message into @err and return -EINVAL: `return api_error(err, errlen, "...")`. */
int api_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- arguments (api_args.c) */

/* Every key of @req but "cmd" must be in @allowed (NULL-terminated). */
int api_check_args(json_t *req, const char *const *allowed, char *err, size_t errlen);
/*
 * The VIP named by argument "vip": index in @cfg or an error (-ENOENT without an error text
 * when it is absent and not @required). *@hint (may be NULL) is tried first and set to the
 * index found: the ops of a batch mostly name the VIP of the op before.
 */
int api_find_vip(const struct xlb_cfg *cfg, json_t *req, bool required, int *hint, char *err,
		 size_t errlen);
/* The same in the running configuration. */
int api_arg_vip(struct xlbd *d, json_t *req, bool required, char *err, size_t errlen);
/* The backend named by "address" and optional "port" in VIP @v: index or an error. */
int api_arg_backend(const struct xlb_cfg_vip *v, json_t *req, char *err, size_t errlen);

/* ---- the views of a VIP and a backend, as the API shows them (api_view.c) */
json_t *api_vip_json(const struct xlbd *d, const struct xlb_cfg_vip *v);
json_t *api_backend_json(struct xlbd *d, const struct xlb_cfg_vip *v,
			 const struct xlb_cfg_backend *b);
/* Their parts: what follows from the configuration (the cached part), what is runtime. */
json_t *api_vip_conf_json(const struct xlb_cfg_vip *v);
unsigned int api_vip_usable(const struct xlbd *d, const struct xlb_cfg_vip *v);
json_t *api_backend_conf_json(const struct xlb_cfg_vip *v, const struct xlb_cfg_backend *b);
/* Adds the runtime keys to @o. */
void api_backend_rt_json(struct xlbd *d, const struct xlb_cfg_backend *b, json_t *o);
/* Are those only health, effective_weight, why, id, slots (no probe: no check, no agent)? */
bool api_backend_plain(const struct xlbd *d, const struct xlb_cfg_backend *b);

/* ---- the commands (API.md) */
/* api_view.c: the state as it is */
int cmd_status(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
int cmd_events(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
/*
 * api_list.c: the views of every VIP or backend, written as text from per-VIP and per-backend
 * parts kept until the VIP's stamp changes (their runtime keys are written afresh)
 */
int cmd_vip_list(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen);
int cmd_backend_list(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen);
int cmd_stats(struct xlbd *d, json_t *req, struct api_text *t, char *err, size_t errlen);
/* api_change.c: changes of the configuration, one at a time or in a batch */
int cmd_vip_add(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
int cmd_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
int cmd_backend_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
int cmd_batch(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
/* api_table.c: what the datapath decides: a flow's backend, a VIP's Maglev table */
int cmd_lookup(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);
int cmd_table(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen);

#endif /* XLBD_API_H */
