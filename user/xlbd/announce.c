// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xlbd announce: the addresses of the VIPs this host should receive traffic for, kept as host
 * addresses (/32, /128) on an interface of xlbd's own ("announce": {"interface": "xlb0"}), for
 * the host's BIRD to export into BGP (its "direct" protocol; tools/bird/bird.conf). The
 * interface is a dummy one, or an ifb one where the kernel has no dummy driver: both drop
 * whatever is sent through them and exist only to hold the addresses.
 *
 * Everything goes over one non-blocking rtnetlink socket (libmnl) driven by the event loop:
 * find the interface (create it, bring it up), dump its addresses, then add and remove
 * addresses until they match what announce_wanted() decides, VIP by VIP. The kernel's own
 * notifications keep the view current (an address removed by hand comes back). The addresses
 * outlive xlbd: a restarted xlbd finds them and changes nothing; only --detach-on-exit (and a
 * VIP losing its last usable backend, or "announce": false) withdraws them.
 *
 * Over 600 lines: one state machine over one socket. The requests (ask_*), the answers (on_*)
 * and the life cycle all read and move the same phase, sequence numbers, in-flight count and
 * address set of struct xlbd_announce; apart, each would need all of them exported, for a file
 * only a few dozen lines over.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libmnl/libmnl.h>

#include "xlbd.h"

/* One host address: the VIP's address of either family. */
struct ann_addr {
	__u8 family;		/* XLB_AF_INET / XLB_AF_INET6 */
	__be32 addr[4];
};

enum ann_phase {
	ANN_LINK,	/* asked for the interface by name */
	ANN_CREATE,	/* asked the kernel to create it */
	ANN_UP,		/* asked to bring it up */
	ANN_DUMP,	/* reading its addresses */
	ANN_READY,	/* addresses known: adds and removals go out as needed */
	ANN_FAILED,	/* an error: retried on the next tick */
};

struct xlbd_announce {
	struct mnl_socket *nl;
	char ifname[IF_NAMESIZE];
	unsigned int ifindex;		/* 0: not found yet */
	bool up;			/* IFF_UP */
	enum ann_phase phase;
	const char *kind;		/* link kind being created: "dummy", then "ifb" */
	__u32 seq, phase_seq;		/* last sequence number; that of the phase's request */
	unsigned int inflight;		/* address requests not acknowledged yet */
	struct ann_addr *have;		/* addresses on the interface */
	size_t nhave, caphave;
	__u64 retry_ms;			/* ANN_FAILED: retry from then on */
	char buf[32768];		/* one datagram: dumps come in up to 32 KiB */
};

bool announce_wanted(bool attached, bool usable, bool flag)
{
	return attached && usable && flag;
}

static size_t addr_len(__u8 family)
{
	return family == XLB_AF_INET6 ? 16 : 4;
}

static bool addr_eq(const struct ann_addr *a, __u8 family, const __be32 *addr)
{
	return a->family == family && !memcmp(a->addr, addr, addr_len(family));
}

static int have_find(const struct xlbd_announce *a, __u8 family, const __be32 *addr)
{
	for (size_t i = 0; i < a->nhave; i++)
		if (addr_eq(&a->have[i], family, addr))
			return (int)i;
	return -1;
}

static void have_add(struct xlbd_announce *a, __u8 family, const __be32 *addr)
{
	if (have_find(a, family, addr) >= 0)
		return;
	if (a->nhave == a->caphave) {
		size_t cap = a->caphave ? a->caphave * 2 : 16;
		struct ann_addr *n = realloc(a->have, cap * sizeof(*n));

		if (!n)
			return; /* seen again by the next dump */
		a->have = n;
		a->caphave = cap;
	}
	memset(&a->have[a->nhave], 0, sizeof(a->have[0]));
	a->have[a->nhave].family = family;
	memcpy(a->have[a->nhave].addr, addr, addr_len(family));
	a->nhave++;
}

static void have_del(struct xlbd_announce *a, __u8 family, const __be32 *addr)
{
	int i = have_find(a, family, addr);

	if (i >= 0)
		a->have[i] = a->have[--a->nhave];
}

static const char *ann_addr_str(const struct ann_addr *x, char *buf, size_t len)
{
	return inet_ntop(x->family == XLB_AF_INET6 ? AF_INET6 : AF_INET, x->addr, buf, len);
}

/* ------------------------------------------------------------------ requests */

static struct nlmsghdr *req_start(struct xlbd_announce *a, __u16 type, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(a->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++a->seq ? a->seq : ++a->seq;
	return nlh;
}

/* Send @nlh; the kernel handles it within the call, its answers wait on the socket. */
static int req_send(struct xlbd_announce *a, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(a->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

static void fail(struct xlbd_announce *a, const char *what, int err)
{
	pr_warn("announce: %s %s: %s (retried in 1 s)", what, a->ifname, strerror(err));
	a->phase = ANN_FAILED;
	a->retry_ms = xlbd_now_ms() + 1000;
}

static void ask_link(struct xlbd_announce *a)
{
	struct nlmsghdr *nlh = req_start(a, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int err;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, a->ifname);
	a->phase = ANN_LINK;
	a->phase_seq = nlh->nlmsg_seq;
	a->ifindex = 0;
	err = req_send(a, nlh);
	if (err)
		fail(a, "cannot look up", -err);
}

/* Create the interface, up (BIRD exports only its /32 and /128: the link-local one stays). */
static void ask_create(struct xlbd_announce *a)
{
	struct nlmsghdr *nlh = req_start(a, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *li;
	int err;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, a->ifname);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, a->kind);
	mnl_attr_nest_end(nlh, li);
	a->phase = ANN_CREATE;
	a->phase_seq = nlh->nlmsg_seq;
	err = req_send(a, nlh);
	if (err)
		fail(a, "cannot create", -err);
}

static void ask_up(struct xlbd_announce *a)
{
	struct nlmsghdr *nlh = req_start(a, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int err;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = a->ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	a->phase = ANN_UP;
	a->phase_seq = nlh->nlmsg_seq;
	err = req_send(a, nlh);
	if (err)
		fail(a, "cannot bring up", -err);
}

static void ask_dump(struct xlbd_announce *a)
{
	struct nlmsghdr *nlh = req_start(a, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	int err;

	ifa->ifa_family = AF_UNSPEC;
	a->nhave = 0;
	a->phase = ANN_DUMP;
	a->phase_seq = nlh->nlmsg_seq;
	err = req_send(a, nlh);
	if (err)
		fail(a, "cannot list the addresses of", -err);
}

/* Add (@add) or remove one host address; its acknowledgement comes back through the loop. */
static int ask_addr(struct xlbd_announce *a, const struct ann_addr *x, bool add)
{
	struct nlmsghdr *nlh = req_start(a, add ? RTM_NEWADDR : RTM_DELADDR,
					 NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t len = addr_len(x->family);

	ifa->ifa_family = x->family == XLB_AF_INET6 ? AF_INET6 : AF_INET;
	ifa->ifa_prefixlen = len * 8;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = a->ifindex;
	/* no duplicate address detection: the address is the service's, held on purpose */
	ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, len, x->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, x->addr);
	if (x->family == XLB_AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return req_send(a, nlh);
}

/* ------------------------------------------------------------------ what to announce */

/* The addresses announce_wanted() picks, one per address (VIPs share addresses across ports). */
static size_t wanted(const struct xlbd *d, struct ann_addr *out)
{
	bool attached = d->x && d->cfg->nifaces > 0 && !d->announce_withdraw;
	size_t i, j, n = 0;

	for (i = 0; i < d->cfg->nvips; i++) {
		const struct xlb_cfg_vip *v = &d->cfg->vips[i];
		bool usable = v->id_set && !d->vip_rt[v->id].no_backend;

		if (!announce_wanted(attached, usable, !v->no_announce))
			continue;
		for (j = 0; j < n; j++)
			if (addr_eq(&out[j], v->family, v->addr))
				break;
		if (j < n)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = v->family;
		memcpy(out[n].addr, v->addr, addr_len(v->family));
		n++;
	}
	return n;
}

/* Send the adds and removals that make the interface hold what is wanted now. */
static void reconcile(struct xlbd *d)
{
	struct xlbd_announce *a = d->announce;
	struct ann_addr *want;
	char s[INET6_ADDRSTRLEN];
	size_t n, i, k;
	int err;

	if (a->phase != ANN_READY || a->inflight)
		return;
	d->announce_dirty = false;
	want = calloc(d->cfg->nvips + 1, sizeof(*want));
	if (!want) {
		d->announce_dirty = true;
		return;
	}
	n = wanted(d, want);
	for (i = 0; i < n; i++) {
		if (have_find(a, want[i].family, want[i].addr) >= 0)
			continue;
		err = ask_addr(a, &want[i], true);
		if (err) {
			fail(a, "cannot add an address to", -err);
			goto out;
		}
		a->inflight++;
		xlbd_event(d, XLB_LOG_INFO, "announce: %s on %s",
			   ann_addr_str(&want[i], s, sizeof(s)), a->ifname);
	}
	for (i = 0; i < a->nhave; i++) {
		for (k = 0; k < n; k++)
			if (addr_eq(&want[k], a->have[i].family, a->have[i].addr))
				break;
		if (k < n)
			continue;
		err = ask_addr(a, &a->have[i], false);
		if (err) {
			fail(a, "cannot remove an address from", -err);
			goto out;
		}
		a->inflight++;
		xlbd_event(d, XLB_LOG_INFO, "withdraw: %s from %s",
			   ann_addr_str(&a->have[i], s, sizeof(s)), a->ifname);
	}
out:
	free(want);
}

/* ------------------------------------------------------------------ answers */

struct attrs {
	const struct nlattr *tb[IFLA_MAX > IFA_MAX ? IFLA_MAX + 1 : IFA_MAX + 1];
	int max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void on_link(struct xlbd *d, const struct nlmsghdr *nlh)
{
	struct xlbd_announce *a = d->announce;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct attrs t = { .max = IFLA_MAX };

	mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &t);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (a->ifindex && (unsigned int)ifi->ifi_index == a->ifindex) {
			pr_warn("announce: %s was removed: creating it again", a->ifname);
			a->nhave = 0;
			a->inflight = 0;
			ask_link(a);
		}
		return;
	}
	if (!t.tb[IFLA_IFNAME] || strcmp(mnl_attr_get_str(t.tb[IFLA_IFNAME]), a->ifname))
		return;
	a->ifindex = ifi->ifi_index;
	a->up = ifi->ifi_flags & IFF_UP;
	if (a->phase == ANN_READY && !a->up) {
		pr_warn("announce: %s was set down: bringing it up", a->ifname);
		ask_up(a);
	}
}

static void on_addr(struct xlbd *d, const struct nlmsghdr *nlh)
{
	struct xlbd_announce *a = d->announce;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct attrs t = { .max = IFA_MAX };
	const struct nlattr *at;
	__be32 addr[4] = {};
	__u8 family;

	if (!a->ifindex || ifa->ifa_index != a->ifindex)
		return;
	if (ifa->ifa_family == AF_INET && ifa->ifa_prefixlen == 32)
		family = XLB_AF_INET;
	else if (ifa->ifa_family == AF_INET6 && ifa->ifa_prefixlen == 128)
		family = XLB_AF_INET6;
	else
		return; /* not one of ours: left alone */
	mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &t);
	at = t.tb[IFA_LOCAL] ? t.tb[IFA_LOCAL] : t.tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != addr_len(family))
		return;
	memcpy(addr, mnl_attr_get_payload(at), addr_len(family));
	if (nlh->nlmsg_type == RTM_NEWADDR) {
		have_add(a, family, addr);
	} else {
		have_del(a, family, addr);
		d->announce_dirty = true; /* removed by someone else: put back if still wanted */
	}
}

static void on_ack(struct xlbd *d, const struct nlmsghdr *nlh)
{
	struct xlbd_announce *a = d->announce;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	int err = e->error < 0 ? -e->error : e->error;

	if (nlh->nlmsg_seq != a->phase_seq || a->phase == ANN_READY) {
		/* an address request */
		if (a->inflight)
			a->inflight--;
		if (err && err != EEXIST && err != EADDRNOTAVAIL) {
			fail(a, "cannot change an address of", err);
			a->inflight = 0;
		}
		return;
	}
	switch (a->phase) {
	case ANN_LINK:
		if (err == ENODEV) {
			a->kind = "dummy";
			ask_create(a);
		} else if (err) {
			fail(a, "cannot look up", err);
		} else if (!a->ifindex) {
			fail(a, "no index for", ENODEV);
		} else if (!a->up) {
			ask_up(a);
		} else {
			ask_dump(a);
		}
		break;
	case ANN_CREATE:
		if (err == EOPNOTSUPP && !strcmp(a->kind, "dummy")) {
			/* a kernel without the dummy driver: ifb holds addresses the same way */
			pr_info("announce: no dummy interfaces in this kernel: %s is an ifb one",
				a->ifname);
			a->kind = "ifb";
			ask_create(a);
		} else if (err) {
			fail(a, "cannot create", err);
		} else {
			pr_info("announce: created %s (%s)", a->ifname, a->kind);
			ask_link(a);
		}
		break;
	case ANN_UP:
		if (err)
			fail(a, "cannot bring up", err);
		else
			ask_dump(a);
		break;
	case ANN_DUMP:
		if (err)
			fail(a, "cannot list the addresses of", err);
		break;
	default:
		break;
	}
}

static void on_msg(struct xlbd *d, const struct nlmsghdr *nlh)
{
	struct xlbd_announce *a = d->announce;

	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		on_ack(d, nlh);
		break;
	case NLMSG_DONE:
		if (a->phase == ANN_DUMP && nlh->nlmsg_seq == a->phase_seq) {
			a->phase = ANN_READY;
			pr_info("announce: %s holds %zu VIP addresses", a->ifname, a->nhave);
			d->announce_dirty = true;
		}
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(d, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(d, nlh);
		break;
	}
}

bool announce_vip_announced(const struct xlbd *d, const struct xlb_cfg_vip *v)
{
	return d->announce && have_find(d->announce, v->family, v->addr) >= 0;
}

json_t *announce_status(const struct xlbd *d)
{
	const struct xlbd_announce *a = d->announce;

	return json_pack("{s:s, s:s, s:I}", "interface", d->cfg->announce_iface, "state",
			 !a || a->phase < ANN_READY ? "starting" :
			 a->phase == ANN_READY ? "ready" : "failed",
			 "addresses", (json_int_t)(a ? a->nhave : 0));
}

/* ------------------------------------------------------------------ life cycle */

static int open_on(struct xlbd *d, const char *ifname)
{
	struct xlbd_announce *a = calloc(1, sizeof(*a));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = XLBD_EV_ANNOUNCE };
	int err;

	if (!a)
		return -ENOMEM;
	a->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!a->nl || mnl_socket_bind(a->nl, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
				      MNL_SOCKET_AUTOPID) < 0 ||
	    (d->epfd >= 0 && epoll_ctl(d->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(a->nl), &ev))) {
		err = -errno;
		pr_warn("announce: netlink socket: %s", strerror(errno));
		if (a->nl)
			mnl_socket_close(a->nl);
		free(a);
		return err;
	}
	snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	a->seq = time(NULL);
	d->announce = a;
	ask_link(a);
	return 0;
}

static void close_announce(struct xlbd *d)
{
	struct xlbd_announce *a = d->announce;

	if (!a)
		return;
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, mnl_socket_get_fd(a->nl), NULL);
	mnl_socket_close(a->nl);
	free(a->have);
	free(a);
	d->announce = NULL;
}

void announce_run(struct xlbd *d)
{
	struct xlbd_announce *a = d->announce;
	const struct nlmsghdr *nlh;
	ssize_t n;

	while (a && (n = mnl_socket_recvfrom(a->nl, a->buf, sizeof(a->buf))) != 0) {
		int len;

		if (n < 0) {
			if (errno == ENOBUFS) {
				/* answers or notifications were lost: start over */
				a->inflight = 0;
				ask_link(a);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				pr_warn("announce: netlink: %s", strerror(errno));
			break;
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)a->buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			on_msg(d, nlh);
		a = d->announce;
	}
	/* only when something changed: an answer alone never sends a request again */
	if (d->announce && d->announce_dirty)
		reconcile(d);
}

void announce_sync(struct xlbd *d)
{
	struct xlbd_announce *a = d->announce;
	const char *want = d->cfg && d->cfg->announce ? d->cfg->announce_iface : NULL;

	if (a && (!want || strcmp(want, a->ifname))) {
		/* turned off or moved: the old interface's addresses go (bounded: kernel acks) */
		announce_stop(d, true);
		a = NULL;
	}
	if (!a && want) {
		if (open_on(d, want))
			return;
		a = d->announce;
	}
	if (!a)
		return;
	if (a->phase == ANN_FAILED) {
		if (xlbd_now_ms() >= a->retry_ms) {
			a->inflight = 0;
			ask_link(a);
		}
		return;
	}
	if (d->announce_dirty)
		reconcile(d);
}

/* At exit: wait up to 100 ms for the socket and handle what came; false once past @until. */
static bool pump(struct xlbd *d, __u64 until)
{
	struct pollfd p = { .fd = mnl_socket_get_fd(d->announce->nl), .events = POLLIN };

	if (xlbd_now_ms() >= until)
		return false;
	if (poll(&p, 1, 100) > 0)
		announce_run(d);
	return true;
}

void announce_stop(struct xlbd *d, bool withdraw)
{
	struct xlbd_announce *a = d->announce;
	__u64 until = xlbd_now_ms() + 1000;
	char s[INET6_ADDRSTRLEN];

	if (!a)
		return;
	/*
	 * The addresses are removed, the acknowledgements awaited: 1 s at most in all (an exit
	 * right after the start first finishes reading the interface).
	 */
	d->announce_withdraw = withdraw;
	while (withdraw && a->phase < ANN_READY && pump(d, until))
		;
	if (withdraw && a->phase == ANN_READY) {
		d->announce_dirty = true;
		reconcile(d);
		while (a->inflight && a->phase == ANN_READY && pump(d, until))
			;
		if (a->nhave)
			pr_warn("announce: %zu addresses left on %s", a->nhave, a->ifname);
		else
			pr_info("announce: all VIP addresses withdrawn from %s", a->ifname);
	} else if (withdraw) {
		pr_warn("announce: %s not ready: its VIP addresses are left as they are",
			a->ifname);
	} else if (a->nhave) {
		pr_info("announce: %zu VIP addresses stay on %s (%s)", a->nhave, a->ifname,
			ann_addr_str(&a->have[0], s, sizeof(s)));
	}
	d->announce_withdraw = false;
	close_announce(d);
}
