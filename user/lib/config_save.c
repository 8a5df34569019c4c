// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Atomic save of the configuration file: temporary file, fsync, rename, fsync of the directory. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_file.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

int xlb_cfg_save_begin(const struct xlb_cfg *cfg, const char *path, char **tmpp)
{
	size_t len;
	char *text = xlb_cfg_text(cfg, NULL, &len);
	int err;

	*tmpp = NULL;
	if (!text)
		return -ENOMEM;
	err = xlb_cfg_save_text_begin(text, len, path, tmpp);
	free(text);
	return err;
}

int xlb_cfg_save_text_begin(const char *text, size_t len, const char *path, char **tmpp)
{
	char *dcopy = NULL, *bcopy = NULL, *tmp = NULL;
	int fd = -1, err = 0;
	const char *dir, *base;
	struct stat st;

	*tmpp = NULL;
	dcopy = strdup(path);
	bcopy = strdup(path);
	if (!dcopy || !bcopy) {
		err = -ENOMEM;
		goto out;
	}
	dir = dirname(dcopy);
	base = basename(bcopy);
	if (asprintf(&tmp, "%s/.%s.tmp.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		tmp = NULL;
		goto out;
	}
	/* Keep the mode of the file being replaced (0644 for a new one). */
	if (fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644) < 0 ||
	    (err = write_all(fd, text, len)) || (err = write_all(fd, "\n", 1)) ||
	    fsync(fd) < 0) {
		err = err ? err : -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	*tmpp = tmp;
	tmp = NULL; /* the caller's now */
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dcopy);
	free(bcopy);
	return err;
}

void xlb_cfg_save_abort(char *tmp)
{
	if (!tmp)
		return;
	unlink(tmp);
	free(tmp);
}

int xlb_cfg_save_finish(char *tmp, const char *path)
{
	char *dcopy = strdup(path);
	int dfd, err = 0;

	if (!dcopy) {
		xlb_cfg_save_abort(tmp);
		return -ENOMEM;
	}
	if (rename(tmp, path) < 0) {
		err = -errno;
		xlb_cfg_save_abort(tmp);
		free(dcopy);
		return err;
	}
	free(tmp);
	/* renamed: @path holds the new text; a failing directory fsync cannot undo that */
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		pr_warn("%s: fsync of its directory: %s", path, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	free(dcopy);
	return 0;
}

int xlb_cfg_save(const struct xlb_cfg *cfg, const char *path)
{
	char *tmp;
	int err = xlb_cfg_save_begin(cfg, path, &tmp);

	return err ? err : xlb_cfg_save_finish(tmp, path);
}
