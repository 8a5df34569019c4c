// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Changes through the API with a shared configuration: one etcd transaction each, answered later. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "shared_int.h"

int shared_take_revision(const struct xlbd *d, json_t *req, long long *rev, char *err,
			 size_t errlen)
{
	json_t *r = json_object_get(req, "revision");

	*rev = -1;
	if (!r)
		return 0;
	if (!d->shared) {
		snprintf(err, errlen, "revision: only for a shared configuration (an \"etcd\" "
			 "section)");
		return -EINVAL;
	}
	if (!json_is_integer(r) || json_integer_value(r) < 0) {
		snprintf(err, errlen, "revision: must be an integer >= 0 (the etcd revision read)");
		return -EINVAL;
	}
	*rev = json_integer_value(r);
	json_object_del(req, "revision");
	return 0;
}

static void txn_unlink(struct txn *t)
{
	struct txn **pp;

	for (pp = &t->sh->txns; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
}

void sh_txn_free(struct txn *t)
{
	json_decref(t->req);
	json_decref(t->puts);
	free(t);
}

static void on_txn(void *ctx, int err, json_t *reply, const char *why)
{
	struct txn *t = ctx;
	struct shared *sh = t->sh;
	char msg[768];
	json_t *r, *p;
	long long rev;
	size_t i;

	txn_unlink(t);
	if (err) {
		snprintf(msg, sizeof(msg), "etcd: %s: the change %s", why,
			 err == -ETIMEDOUT ? "may or may not have been made (see xlb vip list)" :
			 "was not made");
		if (t->c)
			api_reply_later(sh->d, t->c, NULL, msg);
		if (err != -EPROTO)
			sh_fail(sh, why);
		sh_txn_free(t);
		return;
	}
	rev = etcd_int(json_object_get(json_object_get(reply, "header"), "revision"), 0);
	if (!json_is_true(json_object_get(reply, "succeeded"))) {
		sh->conflicts++;
		snprintf(msg, sizeof(msg), "conflict: the shared configuration changed since "
			 "revision %lld, which this change was read at (now %lld): nothing "
			 "changed; read it again (xlb vip list) and retry", sh->revision, rev);
		xlbd_event(sh->d, XLB_LOG_INFO, "etcd: a change was refused: %s", msg);
		if (t->c)
			api_reply_later(sh->d, t->c, NULL, msg);
		sh_txn_free(t);
		return;
	}
	json_array_foreach(t->puts, i, p)
		json_array_append_new(p, json_integer(rev));
	err = sh_apply_events(sh, t->puts, rev, msg, sizeof(msg));
	if (t->c) {
		if (err) {
			char m2[900];

			snprintf(m2, sizeof(m2), "stored in etcd at revision %lld but not applied "
				 "here: %.700s", rev, msg);
			api_reply_later(sh->d, t->c, NULL, m2);
		} else {
			r = json_object();
			json_object_set_new(r, "ok", json_true());
			api_change_reply(sh->d, t->req, r);
			json_object_set_new(r, "revision", json_integer(rev));
			api_reply_later(sh->d, t->c, r, NULL);
			json_decref(r);
		}
	}
	sh_txn_free(t);
}

int shared_propose(struct xlbd *d, struct xlb_cfg *to, __u64 since, long long rev, json_t *req,
		   char *err, size_t errlen)
{
	struct shared *sh = d->shared;
	json_t *cmp = json_array(), *ops = json_array(), *puts = json_array();
	struct vip_index ix = {};
	struct txn *t = NULL;
	char key[512];
	size_t i;
	int ret;

	if (sh->state != SH_CONNECTED) {
		snprintf(err, errlen, "etcd unreachable (%s): the shared configuration cannot "
			 "change now; forwarding goes on with revision %lld", sh->why[0] ? sh->why :
			 shared_state_names[sh->state], sh->revision);
		ret = -EAGAIN;
		goto out;
	}
	ret = state_check(d, to, true, err, errlen);
	if (ret)
		goto out;
	ret = vip_index_init(&ix, to);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* the VIPs added or changed, then those removed */
	for (i = 0; i < to->nvips + d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = i < to->nvips ? &to->vips[i] :
					      &d->cfg->vips[i - to->nvips];
		bool gone = i >= to->nvips;
		long long known;
		char *text = NULL;

		if (!gone && v->stamp <= since)
			continue;
		if (gone && vip_index_find(&ix, v) >= 0)
			continue;
		sh_vip_key(sh, v, key, sizeof(key));
		known = xlb_cfg_find_vip(d->cfg, v->family, v->addr, v->port, v->proto) >= 0 ?
			sh_kr_get(sh, key) : 0;
		if (rev >= 0 && known > rev) {
			char n[96];

			sh->conflicts++;
			snprintf(err, errlen, "conflict: VIP %s changed at revision %lld, after "
				 "revision %lld which this change was read at: nothing changed; "
				 "read it again and retry", xlb_vip_name(v, n, sizeof(n)), known, rev);
			ret = -EAGAIN;
			goto out;
		}
		json_array_append_new(cmp, json_pack("{s:o, s:s, s:s, s:I}", "key", sh_b64_json(key),
						     "target", "MOD", "result", "EQUAL",
						     "mod_revision", (json_int_t)known));
		if (gone) {
			json_array_append_new(ops, json_pack("{s:{s:o}}", "request_delete_range",
							     "key", sh_b64_json(key)));
		} else {
			json_t *j = xlb_cfg_vip_to_json(v, true);

			text = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			if (!text) {
				ret = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			json_array_append_new(ops, json_pack("{s:{s:o, s:o}}", "request_put", "key",
							     sh_b64_json(key), "value",
							     sh_b64_json(text)));
		}
		json_array_append_new(puts, json_pack("[s, s?]", key, text));
		free(text);
	}
	if (!json_array_size(ops)) {
		ret = 0;	/* nothing changes: answered at once */
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	t->sh = sh;
	t->c = d->busy;
	t->req = json_incref(req);
	t->puts = puts;
	puts = NULL;
	t->r = etcd_call(sh->e, "/v3/kv/txn", json_pack("{s:o, s:o}", "compare", cmp, "success",
							 ops), on_txn, t);
	cmp = ops = NULL;
	if (!t->r) {
		sh_txn_free(t);
		ret = -ENOMEM;
		snprintf(err, errlen, "etcd: cannot send the transaction");
		goto out;
	}
	t->next = sh->txns;
	sh->txns = t;
	ret = -EINPROGRESS;
out:
	vip_index_free(&ix);
	json_decref(cmp);
	json_decref(ops);
	json_decref(puts);
	xlb_cfg_free(to);
	return ret;
}

void shared_client_gone(struct xlbd *d, struct xlbd_client *c)
{
	for (struct txn *t = d->shared ? d->shared->txns : NULL; t; t = t->next)
		if (t->c == c)
			t->c = NULL;
}

