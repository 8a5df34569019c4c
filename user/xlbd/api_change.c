// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd API: changes of the configuration, one op at a time or a batch of them, committed. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "shared.h"


/*
 * Changes. Each is an op on a working copy @to of the configuration (validated against @to as
 * it stands, so that an op of a batch may name a VIP added by an earlier one); the command runs
 * one op and commits, a batch runs all its ops and commits once. @hint: see api_find_vip().
 * (op_fn is in xlbd.h.)
 */

/* Make room for one more element of @size in *@arr of @n: capacity in powers of two. */
static int grow(void *arr, size_t n, size_t size)
{
	size_t cap = 1;
	void *p;

	while (cap < n + 1)
		cap *= 2;
	/* realloc to the size the block has already is free: appends cost O(1) amortized */
	p = realloc(*(void **)arr, cap * size);
	if (!p)
		return -ENOMEM;
	*(void **)arr = p;
	return 0;
}

static int op_vip_add(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", "mode", "table_size", "hash", "check",
					    "slow_start_ms", "drain_timeout_ms", "min_healthy_pct",
					    "no_backend", NULL };
	static const char *const copy[] = { "mode", "table_size", "hash", "check", "slow_start_ms",
					    "drain_timeout_ms", "min_healthy_pct", "no_backend" };
	struct xlb_cfg_errors e = {};
	struct xlb_cfg_vip v;
	json_t *obj, *name = json_object_get(req, "vip");
	char vn[96];
	size_t i;
	int ret;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	if (!name)
		return api_error(err, errlen, "vip: missing");
	xlb_cfg_vip_init(&v);
	if (!json_is_string(name) || xlb_vip_name_parse(json_string_value(name), v.addr, &v.family,
							&v.port, &v.proto))
		return api_error(err, errlen,
				 "vip: not a VIP (ADDR:PORT/PROTO, [IPV6]:PORT/PROTO)");
	obj = json_object();
	json_object_set_new(obj, "address", json_string(xlb_addr_format(v.addr, v.family, vn,
									 sizeof(vn))));
	json_object_set_new(obj, "port", json_integer(v.port));
	json_object_set_new(obj, "proto", json_string(xlb_cfg_proto_name(v.proto)));
	for (i = 0; i < ARRAY_SIZE(copy); i++)
		if (json_object_get(req, copy[i]))
			json_object_set(obj, copy[i], json_object_get(req, copy[i]));
	ret = xlb_cfg_vip_from_json(obj, "", &v, &e);
	json_decref(obj);
	if (ret) {
		xlb_cfg_errors_first(&e, err, errlen);
		xlb_cfg_errors_free(&e);
		return -EINVAL;
	}
	if (xlb_cfg_find_vip(to, v.family, v.addr, v.port, v.proto) >= 0)
		return api_error(err, errlen, "vip: %s exists already",
				 xlb_vip_name(&v, vn, sizeof(vn)));
	if (to->nvips >= d->max_vips || to->nvips >= to->max_vips)
		return api_error(err, errlen, "vip: at most %u VIPs (max_vips)",
				 d->max_vips < to->max_vips ? d->max_vips : to->max_vips);
	if (grow(&to->vips, to->nvips, sizeof(*to->vips)))
		return api_error(err, errlen, "out of memory");
	state_stamp(d, &v);
	*hint = to->nvips;
	to->vips[to->nvips++] = v;
	return 0;
}

static int op_vip_del(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", NULL };
	int i;

	(void)d;
	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	i = api_find_vip(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	xlb_cfg_vip_release(&to->vips[i]);
	memmove(&to->vips[i], &to->vips[i + 1], (to->nvips - i - 1) * sizeof(to->vips[0]));
	to->nvips--;
	*hint = -1;
	return 0;
}

/* The VIP an op names ("vip"; other arguments in @args) into *@vp: 0 or an error. */
static int named_vip(struct xlb_cfg *to, json_t *req, const char *const *args, int *hint,
		     struct xlb_cfg_vip **vp, char *err, size_t errlen)
{
	int i;

	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	i = api_find_vip(to, req, true, hint, err, errlen);
	if (i < 0)
		return i;
	*vp = &to->vips[i];
	return 0;
}

/* @obj (taken) as a backend of @v through the file parser's own validation, into *@b. */
static int backend_from(json_t *obj, const struct xlb_cfg_vip *v, struct xlb_cfg_backend *b,
			char *err, size_t errlen)
{
	struct xlb_cfg_errors e = {};
	int ret = xlb_cfg_backend_from_json(obj, "", v, b, &e);

	json_decref(obj);
	if (!ret)
		return 0;
	xlb_cfg_errors_first(&e, err, errlen);
	xlb_cfg_errors_free(&e);
	return -EINVAL;
}

static int op_backend_add(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", "weight", "state",
					    "mac", "check", "backup", "slow_start_ms",
					    "drain_timeout_ms", NULL };
	struct xlb_cfg_backend b;
	struct xlb_cfg_vip *v;
	char a[INET6_ADDRSTRLEN], vn[96];
	json_t *obj;
	const char *k;
	json_t *val;
	int ret = named_vip(to, req, args, hint, &v, err, errlen);

	if (ret)
		return ret;
	obj = json_object();
	json_object_foreach(req, k, val)
		if (strcmp(k, "cmd") && strcmp(k, "vip"))
			json_object_set(obj, k, val);
	ret = backend_from(obj, v, &b, err, errlen);
	if (ret)
		return ret;
	if (xlb_cfg_find_backend(v, b.family, b.addr, b.port) >= 0)
		return api_error(err, errlen, "address: backend %s port %u exists already in %s",
				 xlb_addr_format(b.addr, b.family, a, sizeof(a)), b.port,
				 xlb_vip_name(v, vn, sizeof(vn)));
	if (xlb_cfg_vip_backends_reserve(v, v->nbackends + 1))
		return api_error(err, errlen, "out of memory");
	v->backends[v->nbackends++] = b;
	state_stamp(d, v);
	return 0;
}

/*
 * The backend an op names ("vip", "address", "port"; other arguments in @args): its index in
 * *@vp, whose backends are made its own (about to change), or an error.
 */
static int named_backend(struct xlb_cfg *to, json_t *req, const char *const *args, int *hint,
			 struct xlb_cfg_vip **vp, char *err, size_t errlen)
{
	int j = named_vip(to, req, args, hint, vp, err, errlen);

	if (j)
		return j;
	j = api_arg_backend(*vp, req, err, errlen);
	if (j >= 0 && xlb_cfg_vip_backends_reserve(*vp, (*vp)->nbackends))
		return api_error(err, errlen, "out of memory");
	return j;
}

static int op_backend_del(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", NULL };
	struct xlb_cfg_vip *v;
	int j = named_backend(to, req, args, hint, &v, err, errlen);

	if (j < 0)
		return j;
	memmove(&v->backends[j], &v->backends[j + 1],
		(v->nbackends - j - 1) * sizeof(v->backends[0]));
	v->nbackends--;
	state_stamp(d, v);
	return 0;
}

static int op_backend_set(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
			  size_t errlen)
{
	static const char *const args[] = { "vip", "address", "port", "weight", "state", NULL };
	struct xlb_cfg_backend b;
	struct xlb_cfg_vip *v;
	json_t *obj;
	int j = named_backend(to, req, args, hint, &v, err, errlen), ret;

	if (j < 0)
		return j;
	if (!json_object_get(req, "weight") && !json_object_get(req, "state"))
		return api_error(err, errlen, "weight or state: one of them is required");
	/* the backend as it is, with the new fields, through the same validation as a file */
	obj = xlb_cfg_backend_to_json(&v->backends[j]);
	if (json_object_get(req, "weight"))
		json_object_set(obj, "weight", json_object_get(req, "weight"));
	if (json_object_get(req, "state"))
		json_object_set(obj, "state", json_object_get(req, "state"));
	ret = backend_from(obj, v, &b, err, errlen);
	if (ret)
		return ret;
	v->backends[j].weight = b.weight;
	v->backends[j].state = b.state;
	state_stamp(d, v);
	return 0;
}

/* vip_set: a VIP's settings that change in place; "announce" for now (announce.c). */
static int op_vip_set(struct xlbd *d, struct xlb_cfg *to, json_t *req, int *hint, char *err,
		      size_t errlen)
{
	static const char *const args[] = { "vip", "announce", NULL };
	json_t *a = json_object_get(req, "announce");
	struct xlb_cfg_vip *v;
	int ret = named_vip(to, req, args, hint, &v, err, errlen);

	if (ret)
		return ret;
	if (!a)
		return api_error(err, errlen, "announce: missing");
	if (!json_is_boolean(a))
		return api_error(err, errlen, "announce: must be true or false");
	v->no_announce = json_is_false(a);
	state_stamp(d, v);
	return 0;
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{ "vip_add", op_vip_add },	   { "vip_del", op_vip_del },
	{ "backend_add", op_backend_add }, { "backend_del", op_backend_del },
	{ "backend_set", op_backend_set }, { "vip_set", op_vip_set },
};

op_fn api_op_of(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].name, name))
			return ops[i].fn;
	return NULL;
}

/*
 * The ops' result @to committed here, or, with a shared configuration, proposed to etcd
 * (-EINPROGRESS: the reply follows once etcd answered, see shared.c).
 */
static int commit(struct xlbd *d, struct xlb_cfg *to, __u64 since, long long rev, json_t *req,
		  char *err, size_t errlen)
{
	if (shared_on(d))
		return shared_propose(d, to, since, rev, req, err, errlen);
	return state_commit(d, to, true, since, err, errlen);
}

/*
 * One change. Of a configuration of this host's own: op on the running config itself, its VIP
 * kept as it was to put back if the op or the commit fails (so a change of one VIP, a removal
 * too, costs nothing per other VIP, not a copy of the VIP array). Of a shared configuration
 * (proposed to etcd, applied once it answers): op on a copy of the running config, commit.
 */
static int change(struct xlbd *d, json_t *req, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req, "cmd"));
	op_fn op = api_op_of(name);
	__u64 since = d->stamp_seq;
	struct xlb_cfg *to;
	struct cfg_undo u;
	long long rev;
	int hint = -1, i = -1, ret = shared_take_revision(d, req, &rev, err, errlen);
	char e2[8];

	if (ret)
		return ret;
	if (!shared_on(d)) {
		/* the VIP the op names, found as the op finds it (none: the op fails alike) */
		if (strcmp(name, "vip_add"))
			i = api_find_vip(d->cfg, req, true, NULL, e2, sizeof(e2));
		state_undo_begin(d, &u, i >= 0 ? i : -1);
		ret = op(d, d->cfg, req, &hint, err, errlen);
		if (ret) {
			state_undo_restore(d, &u);
			return ret;
		}
		return state_commit_in_place(d, &u, since, err, errlen);
	}
	to = xlb_cfg_dup(d->cfg);
	if (!to)
		return api_error(err, errlen, "out of memory");
	ret = op(d, to, req, &hint, err, errlen);
	if (ret) {
		xlb_cfg_free(to);
		return ret;
	}
	return commit(d, to, since, rev, req, err, errlen);
}

/* The backend named by @req in VIP @req's "vip" of the running config, for a reply. */
static json_t *backend_reply(struct xlbd *d, json_t *req)
{
	char err[8];
	int i = api_arg_vip(d, req, true, err, sizeof(err)), j;

	j = i >= 0 ? api_arg_backend(&d->cfg->vips[i], req, err, sizeof(err)) : -1;
	return j >= 0 ? api_backend_json(d, &d->cfg->vips[i], &d->cfg->vips[i].backends[j]) :
			json_null();
}

void api_change_reply(struct xlbd *d, json_t *req, json_t *r)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char e2[8];
	int i;

	if (!strcmp(cmd, "vip_add") || !strcmp(cmd, "vip_set")) {
		i = api_arg_vip(d, req, true, e2, sizeof(e2));
		json_object_set_new(r, "vip", i >= 0 ? api_vip_json(d, &d->cfg->vips[i]) :
						       json_null());
	} else if (!strcmp(cmd, "backend_add") || !strcmp(cmd, "backend_set")) {
		json_object_set_new(r, "backend", backend_reply(d, req));
	} else if (!strcmp(cmd, "batch")) {
		json_object_set_new(r, "ops", json_integer(json_array_size(json_object_get(req,
											   "ops"))));
	}
}

int cmd_vip_add(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	int ret = change(d, req, err, errlen);

	if (!ret)
		api_change_reply(d, req, r);
	return ret;
}

int cmd_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	(void)r;
	return change(d, req, err, errlen);
}

int cmd_backend_change(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	int ret = change(d, req, err, errlen);

	if (!ret)
		api_change_reply(d, req, r);
	return ret;
}

/*
 * A batch: every op applied in order to one copy of the running config, then one commit (one
 * validation of the whole, one file write, one apply: each touched VIP rebuilt once). The
 * first op that fails names itself by index and nothing changes.
 */
int cmd_batch(struct xlbd *d, json_t *req, json_t *r, char *err, size_t errlen)
{
	static const char *const args[] = { "ops", NULL };
	json_t *list = json_object_get(req, "ops"), *op;
	__u64 since = d->stamp_seq;	/* the ops stamp what they touch after this */
	struct xlb_cfg *to;
	char why[768];
	long long rev;
	int hint = -1, ret = shared_take_revision(d, req, &rev, err, errlen);
	size_t i;

	if (ret)
		return ret;
	if (api_check_args(req, args, err, errlen))
		return -EINVAL;
	if (!json_is_array(list))
		return api_error(err, errlen, "ops: missing or not an array");
	to = xlb_cfg_dup(d->cfg);
	if (!to)
		return api_error(err, errlen, "out of memory");
	json_array_foreach(list, i, op) {
		json_t *cmd = json_object_get(op, "cmd");
		op_fn fn;

		if (!json_is_object(op) || !json_is_string(cmd)) {
			ret = api_error(err, errlen, "ops[%zu]: must be an object with a cmd", i);
			break;
		}
		fn = api_op_of(json_string_value(cmd));
		if (!fn) {
			ret = api_error(err, errlen, "ops[%zu]: cmd: \"%.64s\" is not a change "
					"(vip_add, vip_del, vip_set, backend_add, "
					"backend_del, backend_set)", i, json_string_value(cmd));
			break;
		}
		why[0] = '\0';
		ret = fn(d, to, op, &hint, why, sizeof(why));
		if (ret) {
			ret = api_error(err, errlen, "ops[%zu] (%s): %s", i, json_string_value(cmd),
					why[0] ? why : strerror(-ret));
			break;
		}
	}
	if (ret) {
		xlb_cfg_free(to);
		return ret;
	}
	state_progress(d, "batch");
	ret = commit(d, to, since, rev, req, err, errlen);
	state_progress(d, NULL);
	if (!ret)
		api_change_reply(d, req, r);
	return ret;
}
