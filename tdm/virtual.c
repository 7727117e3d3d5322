/* tdm/virtual.c  The virtual line: pstnsim's Unix sockets (tdm/vframe.h) */
#define LOG_MODULE "tdm"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/util.h>

#include "util/util.h"
#include "backend.h"
#include "vframe.h"

struct vline {
	int id;
	char dir[256];
	unsigned nchan;
	int dfd;            /* D-channel socket, -1 when down */
	int afd;            /* audio socket, -1 when down */
	int stale_afd;      /* previous audio fd, closed at the next up */
	uint8_t rxbuf[TDM_VFRAME_MAX];  /* media worker only */
	uint8_t txbuf[TDM_VFRAME_MAX];  /* media worker only */
};

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	tg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	/* Non-blocking only after connect: a Unix connect is immediate. */
	evutil_make_socket_nonblocking(fd);
	return fd;
}

static int v_init(void **linep, const struct tdm_span_config *cfg)
{
	struct vline *v;

	if (!cfg->dir)
		return EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	v->id = cfg->id;
	tg_strlcpy(v->dir, cfg->dir, sizeof(v->dir));
	v->nchan = cfg->type == TDM_E1 ? 30 : 23;
	v->dfd = v->afd = v->stale_afd = -1;
	*linep = v;
	return 0;
}

static void v_fini(void *line)
{
	struct vline *v = line;

	if (v->dfd >= 0)
		close(v->dfd);
	if (v->afd >= 0)
		close(v->afd);
	if (v->stale_afd >= 0)
		close(v->stale_afd);
	free(v);
}

static int v_up(void *line, int *dfdp, int *afdp)
{
	struct vline *v = line;
	char path[300];
	int dfd, afd;

	if (v->stale_afd >= 0) {
		close(v->stale_afd);
		v->stale_afd = -1;
	}
	snprintf(path, sizeof(path), "%s/span%d.d", v->dir, v->id);
	dfd = connect_unix(path);
	if (dfd < 0) {
		gw_dbg(GW_DBG_Q921, "span %d: %s: %s", v->id, path,
		       strerror(-dfd));
		return -dfd;
	}
	snprintf(path, sizeof(path), "%s/span%d.b", v->dir, v->id);
	afd = connect_unix(path);
	if (afd < 0) {
		gw_warn("span %d: %s: %s", v->id, path, strerror(-afd));
		close(dfd);
		return -afd;
	}
	v->dfd = *dfdp = dfd;
	v->afd = *afdp = afd;
	gw_notice("span %d: connected to the line at %s", v->id, v->dir);
	return 0;
}

static void v_down(void *line)
{
	struct vline *v = line;

	if (v->afd >= 0) {
		/* Stop its traffic now; the number stays allocated until
		 * the media worker cannot be polling it any more. */
		shutdown(v->afd, SHUT_RDWR);
		v->stale_afd = v->afd;
		v->afd = -1;
	}
	if (v->dfd >= 0)
		close(v->dfd);
	v->dfd = -1;
}

static int v_d_read(void *line, void *buf, int len)
{
	struct vline *v = line;
	ssize_t n;

	if (v->dfd < 0)
		return -1;
	n = recv(v->dfd, buf, (size_t)len, MSG_DONTWAIT);
	if (n > 0)
		return (int)n;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		return -1;
	return 0;
}

static int v_d_write(void *line, const void *buf, int len)
{
	struct vline *v = line;
	ssize_t n;

	if (v->dfd < 0)
		return -1;
	n = send(v->dfd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n != len) {
		gw_warn("span %d: D-channel send failed: %s", v->id,
			n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return len;
}

static int v_audio_recv(void *line, int afd, const uint8_t **rx,
			uint32_t *seq)
{
	struct vline *v = line;
	ssize_t n;

	n = recv(afd, v->rxbuf, sizeof(v->rxbuf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? EAGAIN : errno;
	if (n == 0)
		return ENOTCONN;
	if (tdm_vframe_check(v->rxbuf, (size_t)n, v->nchan, seq)) {
		/* A bad frame is dropped, not fatal: the line keeps its
		 * clock and the next frame is likely fine. */
		return EAGAIN;
	}
	*rx = v->rxbuf + TDM_VFRAME_HDR;
	return 0;
}

static int v_audio_send(void *line, int afd, uint32_t seq,
			const uint8_t *tx)
{
	struct vline *v = line;
	size_t len = tdm_vframe_size(v->nchan);
	ssize_t n;

	tdm_vframe_put_hdr(v->txbuf, seq);
	memcpy(v->txbuf + TDM_VFRAME_HDR, tx, len - TDM_VFRAME_HDR);
	n = send(afd, v->txbuf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno;
	return 0;
}

static void v_alarms(void *line, char *buf, size_t len)
{
	/* A socket has no line alarms: it is there or not. */
	tg_strlcpy(buf, "", len);
}

const struct tdm_backend tdm_backend_virtual = {
	.name = "virtual",
	.init = v_init,
	.fini = v_fini,
	.up = v_up,
	.down = v_down,
	.d_read = v_d_read,
	.d_write = v_d_write,
	.audio_recv = v_audio_recv,
	.audio_send = v_audio_send,
	.alarms = v_alarms,
};
