/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The xlbd configuration model: its structs, defaults, copies, lookups and the error list. */
#ifndef XLB_CONFIG_H
#define XLB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "names.h"
#include "xlb.h"

enum xlb_cfg_iface_mode { XLB_IFACE_NATIVE = 0, XLB_IFACE_GENERIC = 1 };
enum xlb_cfg_hash { XLB_HASH_5TUPLE = 0, XLB_HASH_SRC = 1 };
enum xlb_cfg_state { XLB_STATE_ACTIVE = 0, XLB_STATE_DRAINING = 1, XLB_STATE_DISABLED = 2 };
enum xlb_cfg_check_type { XLB_CHECK_NONE = 0, XLB_CHECK_TCP, XLB_CHECK_HTTP, XLB_CHECK_UDP };
/* Packets too big once encapsulated: drop, pass to the host, or answer with ICMP (else drop). */
enum xlb_cfg_too_big { XLB_TOO_BIG_DROP = 0, XLB_TOO_BIG_PASS = 1, XLB_TOO_BIG_ICMP = 2 };

#define XLB_CFG_WEIGHT_DEFAULT 100
#define XLB_CFG_WEIGHT_MAX 65535
#define XLB_CFG_MTU_DEFAULT 1500
/* metrics_listen when the file has none: loopback only, a port no common service uses */
#define XLB_METRICS_LISTEN_DEFAULT "127.0.0.1:9469"
#define XLB_CFG_FLOWS_MIN 1024
#define XLB_CFG_FLOWS_MAX (1u << 26)
#define XLB_CFG_ANNOUNCE_IFACE "xlb0"	/* default "announce": {"interface"} */
/* the "etcd" section's defaults */
#define XLB_ETCD_ENDPOINTS_MAX 8
#define XLB_ETCD_PREFIX_DEFAULT "/xlb"
#define XLB_ETCD_CLUSTER_DEFAULT "default"
#define XLB_ETCD_TIMEOUT_DEFAULT 2000
#define XLB_ETCD_CONNECT_TIMEOUT_DEFAULT 1000
#define XLB_ETCD_RETRY_DEFAULT 1000
#define XLB_ETCD_TTL_DEFAULT 5

/*
 * "etcd" section: the VIPs are shared by every xlbd of one cluster through etcd's v3 JSON
 * gateway (xlbd: etcd.c, shared.c); this file is then the cache xlbd starts from.
 */
struct xlb_cfg_etcd {
	bool on;			/* the section is given: off when absent */
	size_t nendpoints;
	char endpoints[XLB_ETCD_ENDPOINTS_MAX][128];	/* "http://ADDR:PORT", tried in turn */
	char prefix[128];		/* keys under PREFIX/CLUSTER/ */
	char cluster[64];
	char host[64];			/* this host's name in the cluster ("" = hostname) */
	uint32_t timeout_ms;		/* one request's limit */
	uint32_t connect_timeout_ms;
	uint32_t retry_ms;		/* wait before connecting again */
	uint32_t lease_ttl_s;		/* what this host publishes lives this long without it */
	char ca_file[256];		/* https: CA bundle that signs etcd's certificate ("" = the system's) */
	char cert_file[256];		/* https: this host's client certificate (PEM), with key_file */
	char key_file[256];		/* its private key (PEM) */
};

/* Health check settings of one backend (or a VIP's defaults for its backends): what xlbd probes. */
struct xlb_cfg_check {
	enum xlb_cfg_check_type type;
	uint16_t port;		/* 0 = the backend's port */
	char path[256];		/* http only; "/" by default */
	int expect;		/* http only: expected status, 100..599 */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t rise;		/* successes before up */
	uint32_t fall;		/* failures before down */
	uint16_t expect_hi;	/* http only: statuses expect..expect_hi pass */
	char host[256];		/* http only: Host header; "" = the backend's address */
	uint32_t jitter_pct;	/* each interval drawn within +- this share */
	uint32_t fastinter_ms;	/* interval while a transition is in progress */
	uint32_t downinter_ms;	/* interval while down */
	bool has_source;	/* probes leave from this address */
	__u8 source_family;
	__be32 source[4];
	uint8_t payload[512];	/* udp only: datagram sent */
	uint32_t payload_len;
	uint8_t expect_payload[512];	/* udp only: the reply starts with these bytes */
	uint32_t expect_payload_len;
	uint16_t agent_port;	/* agent check (HAProxy convention); 0 = none */
	uint32_t agent_interval_ms;	/* 0 = interval_ms */
	char agent_send[256];	/* sent to the agent after connecting; "" = nothing */
	uint32_t set;		/* keys given in the backend's own "check" (XLB_CHECK_KEY_*) */
};

/*
 * The keys of a "check" object, as bits of xlb_cfg_check.set: a backend's check is its VIP's
 * with the keys the backend gives itself; only those are written back for the backend.
 */
enum {
	XLB_CHECK_KEY_TYPE, XLB_CHECK_KEY_PORT, XLB_CHECK_KEY_PATH, XLB_CHECK_KEY_HOST,
	XLB_CHECK_KEY_EXPECT, XLB_CHECK_KEY_INTERVAL, XLB_CHECK_KEY_TIMEOUT, XLB_CHECK_KEY_RISE,
	XLB_CHECK_KEY_FALL, XLB_CHECK_KEY_JITTER, XLB_CHECK_KEY_FASTINTER, XLB_CHECK_KEY_DOWNINTER,
	XLB_CHECK_KEY_SOURCE, XLB_CHECK_KEY_PAYLOAD, XLB_CHECK_KEY_EXPECT_PAYLOAD,
	XLB_CHECK_KEY_AGENT_PORT, XLB_CHECK_KEY_AGENT_INTERVAL, XLB_CHECK_KEY_AGENT_SEND,
	XLB_CHECK_KEY__MAX
};
/* Their names, in XLB_CHECK_KEY_* order (NULL-terminated). */
extern const char *const xlb_check_keys[XLB_CHECK_KEY__MAX + 1];

/* Check defaults: a refused port is seen in ~0.3 s, a silent host in ~0.5 s, no flapping. */
#define XLB_CHECK_INTERVAL_DEFAULT 200
#define XLB_CHECK_TIMEOUT_DEFAULT 150
#define XLB_CHECK_RISE_DEFAULT 3
#define XLB_CHECK_FALL_DEFAULT 2
#define XLB_CHECK_JITTER_DEFAULT 10
#define XLB_CHECK_FASTINTER_DEFAULT 100
#define XLB_CHECK_DOWNINTER_DEFAULT 500
#define XLB_REBUILD_MIN_INTERVAL_DEFAULT 50

struct xlb_cfg_backend {
	__be32 addr[4];
	__u8 family;		/* XLB_AF_INET / XLB_AF_INET6 */
	uint16_t port;		/* host order; identity is address + port */
	uint32_t weight;
	enum xlb_cfg_state state;
	bool has_mac;
	__u8 mac[6];
	struct xlb_cfg_check check;
	bool backup;		/* traffic only while no primary of the VIP is usable */
	uint32_t slow_start_ms;	/* 0 = the VIP's */
	uint32_t drain_timeout_ms;	/* 0 = the VIP's */
	__u32 id;		/* runtime only (xlbd), never serialized; 0 = unassigned */
};

struct xlb_cfg_vip {
	__be32 addr[4];
	__u8 family;
	uint16_t port;		/* host order; 0 = all ports */
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	enum xlb_mode mode;
	uint32_t table_size;
	enum xlb_cfg_hash hash;
	uint32_t slow_start_ms;	/* ramp of a backend that comes up; 0 = none */
	uint32_t drain_timeout_ms;	/* a draining backend loses its flows after this; 0 = never */
	uint32_t min_healthy_pct;	/* panic threshold over the primaries; 0 = off */
	bool no_backend_pass;	/* no usable backend: new flows go to the host, not dropped */
	bool no_announce;	/* "announce": false: never routed to this host (maintenance) */
	struct xlb_cfg_check check;	/* its backends' check, unless they say otherwise */
	size_t nbackends;
	struct xlb_cfg_backend *backends;
	__u32 id;		/* runtime only (xlbd), never serialized */
	bool id_set;		/* runtime only: id is assigned */
	/*
	 * runtime only: xlbd gives the VIP a new stamp whenever its content changes, so that
	 * what it derives from it (the file text, the API's views) is kept until then; 0 = none
	 */
	__u64 stamp;
};

struct xlb_cfg_iface {
	char name[IF_NAMESIZE];
	enum xlb_cfg_iface_mode mode;
};

struct xlb_cfg {
	size_t nifaces;
	struct xlb_cfg_iface *ifaces;
	__u8 nexthop_mac[6];
	uint32_t hash_seed;
	uint32_t flow_table_size;
	bool has_encap4, has_encap6;
	__be32 encap_source4;
	uint32_t encap_source4_bits;	/* 0..16 */
	__be32 encap_source6[4];
	uint32_t mtu;
	uint32_t flood_limit;
	uint16_t gue_port;
	enum xlb_cfg_too_big too_big;
	uint32_t rebuild_min_interval_ms;	/* damping: least time between two rebuilds of a VIP */
	/* map sizes of a fresh load (an adopted datapath keeps its own): at most these VIPs,
	 * and backends in all (max_backends - 1: id 0 is "none") */
	uint32_t max_vips;
	uint32_t max_backends;
	/* Prometheus metrics listener (xlbd): "" = off, else ADDR:PORT as given, parsed below;
	 * XLB_METRICS_LISTEN_DEFAULT when the file does not say */
	char metrics_listen[64];
	__u8 metrics_family;
	__be32 metrics_addr[4];
	uint16_t metrics_port;
	/* "announce" section: the VIP addresses on this interface, exported by BIRD (xlbd) */
	bool announce;			/* the section is given: off when absent */
	char announce_iface[IF_NAMESIZE];
	struct xlb_cfg_etcd etcd;
	size_t nvips;
	struct xlb_cfg_vip *vips;
};

/*
 * Errors: every problem found is appended as one line "path: message" (for example
 * "vips[1].backends[0].weight: must be 0..65535"). An empty list means no error.
 */
struct xlb_cfg_errors {
	char *text;	/* '\n'-separated lines, NUL-terminated; NULL when empty */
	size_t len;
	unsigned int count;
};

void xlb_cfg_errors_add(struct xlb_cfg_errors *e, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xlb_cfg_errors_free(struct xlb_cfg_errors *e);
/* The first error line (without its newline) copied into @buf, or "" when none. */
const char *xlb_cfg_errors_first(const struct xlb_cfg_errors *e, char *buf, size_t len);

/*
 * Copy (runtime ids included) and free. A copy shares each VIP's backends with the original
 * until one of them changes them: xlb_cfg_vip_backends_reserve() first, before writing into
 * vip->backends, adding or removing one (so a copy of a large configuration for a change of
 * one VIP costs its VIP array, not all its backends).
 */
struct xlb_cfg *xlb_cfg_dup(const struct xlb_cfg *cfg);
void xlb_cfg_free(struct xlb_cfg *cfg);
void xlb_cfg_vip_release(struct xlb_cfg_vip *vip);	/* drops vip->backends only */
/* @src into @dst, its backends shared as a copy shares them (xlb_cfg_vip_release() drops them). */
void xlb_cfg_vip_share(struct xlb_cfg_vip *dst, const struct xlb_cfg_vip *src);
/* Make @vip's backends its own, with room for @n (zeroed beyond nbackends). 0 or -ENOMEM. */
int xlb_cfg_vip_backends_reserve(struct xlb_cfg_vip *vip, size_t n);

/* Defaults of a VIP / a backend (its check included), as the parser applies them. */
void xlb_cfg_vip_init(struct xlb_cfg_vip *vip);
void xlb_cfg_backend_init(struct xlb_cfg_backend *be);

/* Lookups within a config: index or -1. */
int xlb_cfg_find_vip(const struct xlb_cfg *cfg, __u8 family, const __be32 addr[4], uint16_t port,
		     __u8 proto);
int xlb_cfg_find_backend(const struct xlb_cfg_vip *vip, __u8 family, const __be32 addr[4],
			 uint16_t port);

/* The name of @vip as the API and the CLI write it (addr.h): "198.18.0.10:80/tcp", into @buf. */
const char *xlb_vip_name(const struct xlb_cfg_vip *vip, char *buf, size_t len);

/* Names of enum values as they appear in JSON: shorthands for the tables of names.h. */
const char *xlb_cfg_mode_name(enum xlb_mode m);
const char *xlb_cfg_hash_name(enum xlb_cfg_hash h);
const char *xlb_cfg_state_name(enum xlb_cfg_state s);
const char *xlb_cfg_check_name(enum xlb_cfg_check_type t);
const char *xlb_cfg_proto_name(__u8 proto);

#endif /* XLB_CONFIG_H */
