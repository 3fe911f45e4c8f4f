/*
 * tlsfiles.c - hand smtpd the certificate and key files it cannot read.
 *
 * Purpose:      smtpd reads its TLS certificates and private keys itself
 *               when it starts, while still root (its prejail hook).
 *               Afterwards it runs as "user" and cannot read a key file
 *               of mode 0600 owned by root.  So on every reload ternd,
 *               which is root, reads the PEM files the new configuration
 *               names and sends them to smtpd in one sealed memfd, with
 *               an IPC_MASTER_TLS_FILES frame (path, offset, length per
 *               file) just before IPC_MASTER_CONFIG.  smtpd builds its
 *               new SSL_CTXs from those bytes in its reload hook.
 * Used by:      ternd (child_send_config, on reload).
 * Trust:        the files are the administrator's and were checked by
 *               the configuration loader moments before
 *               (config_check_files).  ternd's own copy is wiped as soon
 *               as it is in the memfd; the memfd goes away when both
 *               ends have closed it.
 * Spool access: none.
 * See:          smtpd(8) SECURITY, ternd(8).
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ternd.h"

/* add_path - remember a file once; false when the table is full */
static bool
add_path(const char **paths, unsigned *n, const char *path)
{
	unsigned i;

	if (path == NULL)
		return true;
	for (i = 0; i < *n; i++)
		if (strcmp(paths[i], path) == 0)
			return true;
	if (*n >= IPC_TLS_FILES_MAX)
		return false;
	paths[(*n)++] = path;
	return true;
}

/* tls_paths - every certificate and key file the configuration names */
static unsigned
tls_paths(const struct tern_config *cfg, const char **paths)
{
	unsigned i, n = 0;

	add_path(paths, &n, cfg->tls_cert);
	add_path(paths, &n, cfg->tls_key);
	for (i = 0; i < cfg->nlisteners; i++) {
		add_path(paths, &n, cfg->listeners[i].tls_cert);
		add_path(paths, &n, cfg->listeners[i].tls_key);
	}
	return n;
}

/* copy_in - one file into the memfd at *off; its entry into the frame */
static void
copy_in(int fd, const char *path, uint64_t *off, struct ipc_out *o)
{
	char	*data;
	size_t	 len = 0;

	if ((data = read_secret(path, IPC_TLS_FILE_MAX, &len)) == NULL) {
		/* smtpd keeps what it has for this file, and says so. */
		log_warn("reload: %s", path);
		len = 0;
	} else if (write_all(fd, data, len) == -1) {
		log_warn("reload: memfd for %s", path);
		len = 0;
	}
	free_secret(data, len + 1);
	ipc_put_str(o, path);
	ipc_put_u64(o, *off);
	ipc_put_u64(o, len);
	*off += len;
}

/*
 * tlsfiles_send - the frame and its memfd to one smtpd.  A file that
 * cannot be read goes with length 0: smtpd then keeps the certificate
 * it has and logs that it did.
 */
void
tlsfiles_send(struct ipc_peer *link, const struct tern_config *cfg)
{
	const char	*paths[IPC_TLS_FILES_MAX];
	struct ipc_out	 o;
	uint64_t	 off = 0;
	unsigned	 i, n = tls_paths(cfg, paths);
	int		 fd;

	if ((fd = memfd_create("tern-tls", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		log_warn("reload: memfd_create for the TLS files");
		return;
	}
	ipc_out_begin(&o, IPC_MASTER_TLS_FILES, 0);
	ipc_put_u32(&o, n);
	for (i = 0; i < n; i++)
		copy_in(fd, paths[i], &off, &o);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1) {
		log_warn("reload: sealing the TLS memfd");
		close(fd);
		buf_free(&o.b);
		return;
	}
	ipc_send(link, &o, fd);
}
