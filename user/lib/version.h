/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The release version and the daemon's default API socket, for xlbd, xlb and the Makefile. */
#ifndef XLB_VERSION_H
#define XLB_VERSION_H

/* The Makefile reads the version from this line: keep it one quoted string. */
#define XLB_VERSION "0.1.0"

/* Where xlbd listens and xlb connects unless told otherwise (xlbd -s, xlb -s, $XLB_SOCKET). */
#define XLB_SOCKET_DEFAULT "/run/xlb/xlbd.sock"

#endif /* XLB_VERSION_H */
