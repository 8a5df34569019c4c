// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xlbd: the xlb control daemon — options, start-up (adopt or load), the event loop, shutdown. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "shared.h"
#include "xlbd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xlbd --config FILE [OPTIONS]\n"
		"\n"
		"  -c, --config FILE      configuration (JSON); rewritten on every API change\n"
		"  -s, --socket PATH      API socket (default " XLB_SOCKET_DEFAULT ")\n"
		"  -p, --pidfile PATH     write the daemon's pid here\n"
		"  -P, --pin-dir DIR      BPF pin directory (default " XLB_PIN_DIR ")\n"
		"  -B, --bpffs DIR        mount a BPF filesystem here when the pin dir is on none\n"
		"                         (default " XLB_BPFFS_ROOT "; the pin dir must lie below it)\n"
		"  -f, --foreground       stay in the foreground (log to stderr)\n"
		"  -S, --syslog           log to syslog\n"
		"  -D, --detach-on-exit   on exit detach the program and remove the pins\n"
		"  -t, --check            validate the configuration, print every error, exit\n"
		"  -v, --verbose          more logging (twice for debug)\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n");
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		pr_warn("pidfile %s is locked by a running xlbd", path);
		close(fd);
		return -EBUSY;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) || write(fd, buf, n) != n) {
		close(fd);
		return -errno;
	}
	return fd; /* kept open: the lock lives as long as the daemon */
}

/* Remove temporary files that an xlbd killed in the middle of a save left behind. */
static void clean_temp_files(const char *config_path)
{
	const char *slash = strrchr(config_path, '/');
	char prefix[NAME_MAX + 8], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	char *dir;
	DIR *dh;

	if (!slash)
		return;
	dir = strndup(config_path, slash == config_path ? 1 : (size_t)(slash - config_path));
	if (!dir)
		return;
	snprintf(prefix, sizeof(prefix), ".%.*s.tmp.", NAME_MAX - 6, slash + 1);
	dh = opendir(dir);
	while (dh && (de = readdir(dh))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!unlink(path))
			pr_info("removed %s, left by an interrupted save", path);
	}
	if (dh)
		closedir(dh);
	free(dir);
}

/*
 * An adopted flow table keeps the size it was created with, whatever the config says now. (The
 * table holds buckets of XLB_FLOW_WAYS flows: flow_table_size rounded up to a multiple of 8.)
 */
static void warn_flow_table_size(struct xlbd *d)
{
	__u32 want = (__u32)(((__u64)d->cfg->flow_table_size + XLB_FLOW_WAYS - 1) / XLB_FLOW_WAYS);
	__u32 have = xlb_flow__buckets(d->x);

	if (have != want)
		pr_warn("flow_table_size %u takes effect only when the datapath is loaded afresh "
			"(xlbd --detach-on-exit, then start); the adopted flow table holds %llu",
			d->cfg->flow_table_size, (unsigned long long)have * XLB_FLOW_WAYS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "bpffs", required_argument, NULL, 'B' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "detach-on-exit", no_argument, NULL, 'D' },
		{ "check", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct xlbd d = { .socket_path = XLB_SOCKET_DEFAULT, .pin_dir = XLB_PIN_DIR,
			  .epfd = -1, .lfd = -1, .sigfd = -1, .tfd = -1, .spare_fd = -1 };
	struct xlb_open_opts oo = { .adopt = true };
	struct xlb_cfg_errors e = {};
	const char *config = NULL;
	bool foreground = false, use_syslog = false, check_only = false;
	int verbose = 0, opt, pidfd = -1, ret = 1, err;
	struct xlb_cfg *pinned = NULL, *want;
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	struct epoll_event ev;
	struct rlimit rl;
	sigset_t mask;
	char *line, *save = NULL;

	while ((opt = getopt_long(argc, argv, "c:s:p:P:B:fSDtvVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 's': d.socket_path = optarg; break;
		case 'p': d.pidfile = optarg; break;
		case 'P': d.pin_dir = optarg; break;
		case 'B': oo.bpffs_root = optarg; break;
		case 'f': foreground = true; break;
		case 'S': use_syslog = true; break;
		case 'D': d.detach_on_exit = true; break;
		case 't': check_only = true; break;
		case 'v': verbose++; break;
		case 'V': printf("xlbd %s\n", XLB_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "xlbd: %s\n", config ? "unexpected argument" : "--config FILE is required");
		usage(stderr);
		return 2;
	}
	xlb_set_log_level(XLB_LOG_INFO + verbose);
	if (!check_only && use_syslog)
		xlb_set_log_syslog(true);
	clock_gettime(CLOCK_MONOTONIC, &d.started);

	d.config_path = realpath(config, NULL);
	if (!d.config_path) {
		pr_warn("config %s: %s", config, strerror(errno));
		return 1;
	}
	d.cfg = xlb_cfg_load(d.config_path, &e);
	if (!d.cfg) {
		for (line = strtok_r(e.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			pr_warn("config: %s", line);
		pr_warn("%u errors in %s; nothing applied", e.count, d.config_path);
		xlb_cfg_errors_free(&e);
		goto out;
	}
	if (check_only) {
		printf("%s: ok (%zu VIPs)\n", d.config_path, d.cfg->nvips);
		ret = 0;
		goto out;
	}
	clean_temp_files(d.config_path);
	pr_info("xlbd %s starting: config %s, socket %s, pin dir %s", XLB_VERSION, d.config_path,
		d.socket_path, d.pin_dir);

	d.be_next = 1;

	/*
	 * room for XLBD_MAX_CLIENTS clients and a probe socket per backend (two with an agent)
	 * beside the datapath's maps
	 */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 65536 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* signals arrive through the event loop */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.prober = prober_new();
	if (!d.prober) {
		pr_warn("probe engine: %s", strerror(errno));
		goto out;
	}
	d.weigh_timer.fn = state_weigh_timer;

	/* the socket first: a second xlbd stops here before touching the datapath */
	if (api_listen(&d))
		goto out;
	/* the metrics listener next: a taken or bad address stops here, nothing else touched */
	if (metrics_start(&d))
		goto out;

	oo.pin_dir = d.pin_dir;
	oo.flow_table_size = d.cfg->flow_table_size;
	oo.max_vips = d.cfg->max_vips;
	oo.max_backends = d.cfg->max_backends;
	d.x = xlb__open(&oo);
	if (!d.x) {
		pr_warn("cannot open the datapath: %s", strerror(errno));
		goto out;
	}
	d.adopted = xlb__adopted(d.x);
	if (monitor_start(&d))
		goto out;
	/* runtime state starts zeroed: no agent share, health unknown, nothing programmed */
	d.max_vips = xlb__max_vips(d.x);
	d.max_backends = xlb__max_backends(d.x);
	d.vip_rt = calloc(d.max_vips, sizeof(*d.vip_rt));
	d.be_rt = calloc(d.max_backends, sizeof(*d.be_rt));
	if (!d.vip_rt || !d.be_rt)
		goto out;
	if (d.adopted) {
		pr_info("adopting the pinned datapath under %s", d.pin_dir);
		pinned = state_from_pins(&d);
		if (!pinned) {
			pr_warn("cannot read the pinned state");
			goto out;
		}
	} else {
		pr_info("loaded a fresh datapath (pin dir %s)", d.pin_dir);
	}
	/* nothing runs yet (d.cfg NULL): programmed from scratch, or from what the pins hold */
	want = d.cfg;
	d.cfg = NULL;
	state_progress(&d, "start");
	err = state_apply(&d, pinned, want);
	state_progress(&d, NULL);
	d.cfg = want;
	if (err)
		goto out;
	if (d.adopted)
		warn_flow_table_size(&d);
	if (d.adopted && (d.max_vips != d.cfg->max_vips || d.max_backends != d.cfg->max_backends))
		pr_warn("max_vips %u, max_backends %u take effect only when the datapath is loaded "
			"afresh (xlbd --detach-on-exit, then start); the adopted maps hold %u VIPs "
			"and %u backend ids", d.cfg->max_vips, d.cfg->max_backends, d.max_vips,
			d.max_backends);
	pr_info("limits: %u VIPs, %u backend ids", d.max_vips, d.max_backends);
	checks_sync(&d);
	xlb_cfg_free(pinned);
	pinned = NULL;

	/* start-up errors went to stderr; from here on a daemon logs to syslog */
	if (!foreground)
		xlb_set_log_syslog(true);
	if (!foreground && daemon(1, 0)) {
		pr_warn("daemon: %s", strerror(errno));
		goto out;
	}
	if (d.pidfile) {
		pidfd = write_pidfile(d.pidfile);
		if (pidfd < 0) {
			pr_warn("pidfile %s: %s", d.pidfile, strerror(-pidfd));
			goto out;
		}
	}

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d.epfd < 0 || d.sigfd < 0 || d.tfd < 0 || timerfd_settime(d.tfd, 0, &its, NULL) ||
	    !d.prober) {
		pr_warn("event loop: %s", strerror(errno));
		goto out;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = XLBD_EV_LISTEN;
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.lfd, &ev);
	ev.data.u64 = XLBD_EV_SIGNAL;
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.sigfd, &ev);
	ev.data.u64 = XLBD_EV_TIMER;
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.tfd, &ev);
	ev.data.u64 = XLBD_EV_PROBE;
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, prober_fd(d.prober), &ev);
	if (metrics_fd(&d) >= 0) {
		ev.data.u64 = XLBD_EV_METRICS;
		epoll_ctl(d.epfd, EPOLL_CTL_ADD, metrics_fd(&d), &ev);
	}
	ev.data.u64 = XLBD_EV_MONITOR;
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, monitor_fd(&d), &ev);
	if (shared_start(&d))
		goto out;
	if (shared_fd(&d) >= 0) {
		ev.data.u64 = XLBD_EV_ETCD;
		epoll_ctl(d.epfd, EPOLL_CTL_ADD, shared_fd(&d), &ev);
	}
	state_sample(&d);
	announce_sync(&d);
	pr_info("serving on %s (%zu VIPs)", d.socket_path, d.cfg->nvips);

	while (!d.stop) {
		struct epoll_event evs[64];
		bool tick = false;
		int n, i;

		n = epoll_wait(d.epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == XLBD_EV_LISTEN) {
				api_accept(&d);
			} else if (evs[i].data.u64 == XLBD_EV_PROBE) {
				prober_run(d.prober);
			} else if (evs[i].data.u64 == XLBD_EV_METRICS) {
				metrics_run(&d);
			} else if (evs[i].data.u64 == XLBD_EV_MONITOR) {
				monitor_run(&d);
			} else if (evs[i].data.u64 == XLBD_EV_ANNOUNCE) {
				announce_run(&d);
			} else if (evs[i].data.u64 == XLBD_EV_ETCD) {
				shared_run(&d);
			} else if (evs[i].data.u64 == XLBD_EV_TIMER) {
				__u64 ticks;

				if (read(d.tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					pr_debug("timerfd: %s", strerror(errno));
				state_sample(&d);
				tick = true; /* after the batch: it may free clients listed in it */
			} else if (evs[i].data.u64 == XLBD_EV_SIGNAL) {
				struct signalfd_siginfo si;

				while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						state_reload(&d);
						metrics_reload(&d);
					} else {
						pr_info("signal %d: stopping", si.ssi_signo);
						d.stop = true;
					}
				}
			} else {
				/*
				 * A client freed while handling an earlier event of this batch
				 * cannot appear later in it: each fd has one entry per wait.
				 */
				api_client_event(&d, evs[i].data.ptr, evs[i].events);
			}
		}
		/* verdicts of this turn, coalesced: one rebuild per VIP */
		if (d.refresh)
			state_refresh(&d);
		announce_sync(&d);
		shared_sync(&d);
		if (tick) {
			api_tick(&d);
			monitor_tick(&d);
		}
	}
	ret = 0;
out:
	monitor_stop(&d);
	announce_stop(&d, d.detach_on_exit);
	api_close_all(&d);
	shared_stop(&d);
	checks_free(&d);
	metrics_stop(&d);
	if (d.prober)
		prober_free(d.prober);
	if (d.x) {
		if (d.detach_on_exit)
			pr_info("detaching and removing the pins under %s", d.pin_dir);
		else
			pr_info("leaving the datapath attached and pinned under %s", d.pin_dir);
		/* a fresh datapath that never came up is not left behind */
		xlb__close(d.x, d.detach_on_exit || (ret && !d.adopted));
	}
	if (pidfd >= 0) {
		unlink(d.pidfile);
		close(pidfd);
	}
	if (d.epfd >= 0)
		close(d.epfd);
	if (d.sigfd >= 0)
		close(d.sigfd);
	if (d.tfd >= 0)
		close(d.tfd);
	xlb_cfg_free(pinned);
	xlb_cfg_free(d.cfg);
	state_rt_free(&d);
	free(d.vip_rt);
	free(d.be_rt);
	free(d.events);
	free(d.config_path);
	if (!check_only)
		pr_info("xlbd exits (%d)", ret);
	return ret;
}
