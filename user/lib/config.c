// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The xlbd configuration model: defaults, names, deep copy, free and lookups (no JSON here). */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

const char *xlb_vip_name(const struct xlb_cfg_vip *vip, char *buf, size_t len)
{
	return xlb_vip_format(vip->addr, vip->family, vip->port, vip->proto, buf, len);
}

const char *const xlb_check_keys[XLB_CHECK_KEY__MAX + 1] = {
	"type",		"port",		"path",		"host",		"expect",
	"interval_ms",	"timeout_ms",	"rise",		"fall",		"jitter_pct",
	"fastinter_ms", "downinter_ms", "source",	"payload",	"expect_payload",
	"agent_port",	"agent_interval_ms", "agent_send", NULL,
};

void xlb_cfg_check_init(struct xlb_cfg_check *c)
{
	memset(c, 0, sizeof(*c));
	c->type = XLB_CHECK_NONE;
	strcpy(c->path, "/");
	c->expect = 200;
	c->expect_hi = 200;
	c->interval_ms = XLB_CHECK_INTERVAL_DEFAULT;
	c->timeout_ms = XLB_CHECK_TIMEOUT_DEFAULT;
	c->rise = XLB_CHECK_RISE_DEFAULT;
	c->fall = XLB_CHECK_FALL_DEFAULT;
	c->jitter_pct = XLB_CHECK_JITTER_DEFAULT;
	c->fastinter_ms = XLB_CHECK_FASTINTER_DEFAULT;
	c->downinter_ms = XLB_CHECK_DOWNINTER_DEFAULT;
}

void xlb_cfg_backend_init(struct xlb_cfg_backend *be)
{
	memset(be, 0, sizeof(*be));
	be->weight = XLB_CFG_WEIGHT_DEFAULT;
	be->state = XLB_STATE_ACTIVE;
	xlb_cfg_check_init(&be->check);
}

void xlb_cfg_vip_init(struct xlb_cfg_vip *vip)
{
	memset(vip, 0, sizeof(*vip));
	vip->proto = IPPROTO_TCP;
	vip->mode = XLB_MODE_IPIP;
	vip->table_size = XLB_MAGLEV_DEFAULT;
	vip->hash = XLB_HASH_5TUPLE;
	xlb_cfg_check_init(&vip->check);
}

/* A VIP's backends: a block that copies of a configuration share, counted. */
struct backends_block {
	unsigned int refs;
	size_t cap;
	struct xlb_cfg_backend b[];
};

static struct backends_block *block_of(struct xlb_cfg_backend *b)
{
	return (struct backends_block *)((char *)b - offsetof(struct backends_block, b));
}

int xlb_cfg_vip_backends_reserve(struct xlb_cfg_vip *vip, size_t n)
{
	struct backends_block *o = vip->backends ? block_of(vip->backends) : NULL, *nb;
	size_t cap = 4;

	if (n < vip->nbackends)
		n = vip->nbackends;
	if (o && o->refs == 1 && o->cap >= n)
		return 0;
	while (cap < n)
		cap *= 2;
	if (o && o->refs == 1) {
		nb = realloc(o, sizeof(*nb) + cap * sizeof(nb->b[0]));
		if (!nb)
			return -ENOMEM;
	} else {
		nb = malloc(sizeof(*nb) + cap * sizeof(nb->b[0]));
		if (!nb)
			return -ENOMEM;
		if (vip->nbackends)
			memcpy(nb->b, vip->backends, vip->nbackends * sizeof(nb->b[0]));
		nb->refs = 1;
		if (o)
			o->refs--;
	}
	memset(nb->b + vip->nbackends, 0, (cap - vip->nbackends) * sizeof(nb->b[0]));
	nb->cap = cap;
	vip->backends = nb->b;
	return 0;
}

void xlb_cfg_vip_share(struct xlb_cfg_vip *dst, const struct xlb_cfg_vip *src)
{
	*dst = *src;
	if (src->backends)
		block_of(src->backends)->refs++;
}

void xlb_cfg_vip_release(struct xlb_cfg_vip *vip)
{
	if (vip->backends && --block_of(vip->backends)->refs == 0)
		free(block_of(vip->backends));
	vip->backends = NULL;
	vip->nbackends = 0;
}

struct xlb_cfg *xlb_cfg_dup(const struct xlb_cfg *cfg)
{
	struct xlb_cfg *c = calloc(1, sizeof(*c));
	size_t i;

	if (!c)
		return NULL;
	*c = *cfg;
	c->ifaces = NULL;
	c->vips = NULL;
	c->nifaces = c->nvips = 0;
	if (cfg->nifaces) {
		c->ifaces = calloc(cfg->nifaces, sizeof(*c->ifaces));
		if (!c->ifaces)
			goto err;
		memcpy(c->ifaces, cfg->ifaces, cfg->nifaces * sizeof(*c->ifaces));
		c->nifaces = cfg->nifaces;
	}
	if (cfg->nvips) {
		c->vips = calloc(cfg->nvips, sizeof(*c->vips));
		if (!c->vips)
			goto err;
	}
	for (i = 0; i < cfg->nvips; i++) {
		struct xlb_cfg_vip *d = &c->vips[i];
		const struct xlb_cfg_vip *s = &cfg->vips[i];

		xlb_cfg_vip_share(d, s);
		c->nvips = i + 1;
	}
	return c;
err:
	xlb_cfg_free(c);
	errno = ENOMEM;
	return NULL;
}

void xlb_cfg_free(struct xlb_cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nvips; i++)
		xlb_cfg_vip_release(&cfg->vips[i]);
	free(cfg->vips);
	free(cfg->ifaces);
	free(cfg);
}

int xlb_cfg_find_vip(const struct xlb_cfg *cfg, __u8 family, const __be32 addr[4], uint16_t port,
		     __u8 proto)
{
	size_t i;

	for (i = 0; i < cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &cfg->vips[i];

		if (v->family == family && v->port == port && v->proto == proto &&
		    !memcmp(v->addr, addr, 16))
			return i;
	}
	return -1;
}

int xlb_cfg_find_backend(const struct xlb_cfg_vip *vip, __u8 family, const __be32 addr[4],
			 uint16_t port)
{
	size_t i;

	for (i = 0; i < vip->nbackends; i++) {
		const struct xlb_cfg_backend *b = &vip->backends[i];

		if (b->family == family && b->port == port && !memcmp(b->addr, addr, 16))
			return i;
	}
	return -1;
}
