/* tdm/dahdi.c  The DAHDI line: a PRI span of a telephony card
 *
 * The span's channels are opened through /dev/dahdi/channel (DAHDI_SPECIFY):
 * the D-channel must be HDLC with FCS (dchan= / hardhdlc= in system.conf),
 * the bearers clear channels (bchan=).  libpri reads and writes whole HDLC
 * frames on the D-channel fd; each B-channel fd gives one 160-octet block
 * every 20 ms.  A line alarm arrives as DAHDI_EVENT_ALARM (read and write
 * fail with ELAST while an event waits, poll says POLLPRI): the line is
 * then lost and is brought up again once DAHDI_SPANSTAT shows no alarm.
 */
#define LOG_MODULE "tdm"

#include <config.h>

#include <errno.h>
#include <stddef.h>

#include "backend.h"

#ifndef HAVE_DAHDI
const struct tdm_backend *const tdm_backend_dahdi = NULL;
#else

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "util/util.h"
#include "vframe.h"

#define BLOCK TDM_FRAME_SAMPLES  /* 20 ms of G.711 */
#define B_NUMBUFS 3     /* transmit starts with 60 ms queued (WHEN_FULL) */
#define D_NUMBUFS 16
#define D_BUFSIZE 1024
#define MAX_CHANNO 1024 /* how far to look for the span's first channel */
/* A frame some bearers are late for goes out after this long without
 * them (they are clocked by the same span, so late means broken). */
#define PARTIAL_US 10000
#define EVENTS_MAX 16   /* events handled per read */
/* The alarms that mean no line.  Not NOTOPEN: some cards (the notopen
 * line config) raise it while no channel of the span is open, which is
 * how we are until the line is usable.  Not RECOVER or LOOPBACK either. */
#define LINE_DOWN (DAHDI_ALARM_RED | DAHDI_ALARM_YELLOW | DAHDI_ALARM_BLUE)

struct dline {
	int id;                 /* our span number */
	int dspan;              /* DAHDI's */
	enum tdm_span_type type;
	unsigned nchan;         /* bearers */
	int ctl;                /* /dev/dahdi/ctl, -1 until opened */
	int base;               /* channel number of the span's timeslot 1 */
	int dfd;                /* D-channel, -1 when down */
	int dpoll;              /* epoll: the D-channel, IN and PRI */
	int bfd[TDM_VFRAME_MAXCHAN + 1];  /* [1..nchan]; -1 */
	int apoll;              /* epoll over the bearers: the audio fd */
	bool b_stale;           /* the line is down: the bearers stay open
				 * until the next up (the media worker may
				 * read them until it hears of the loss) */
	char last_err[128];     /* the last reason up() failed (log once) */
	unsigned hdlc_errors;   /* bad FCS, aborts, overruns seen */
	/* media worker only: the frame being gathered */
	uint32_t have;          /* bit b: bearer b's block is in rx */
	uint32_t sent_mask;     /* the bearers of the frame last handed out */
	int64_t first_us;       /* when its first block came */
	uint32_t seq;
	uint8_t rx[TDM_VFRAME_MAXCHAN * BLOCK];
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Timeslot of bearer @p b: on E1 timeslot 16 is the D-channel. */
static int bearer_ts(const struct dline *l, unsigned b)
{
	return l->type == TDM_E1 && b >= 16 ? (int)b + 1 : (int)b;
}

static int dchan_ts(const struct dline *l)
{
	return l->type == TDM_E1 ? 16 : 24;
}

/* Log a reason the line cannot come up once, not every second. */
static void up_fail(struct dline *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void up_fail(struct dline *l, const char *fmt, ...)
{
	char msg[sizeof(l->last_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!strcmp(msg, l->last_err))
		return;
	tg_strlcpy(l->last_err, msg, sizeof(l->last_err));
	gw_warn("span %d: DAHDI span %d: %s", l->id, l->dspan, msg);
}

static void alarm_text(int alarms, char *buf, size_t len)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{DAHDI_ALARM_RED, "red"},       {DAHDI_ALARM_YELLOW, "yellow"},
		{DAHDI_ALARM_BLUE, "blue"},     {DAHDI_ALARM_LOOPBACK, "loopback"},
		{DAHDI_ALARM_RECOVER, "recovering"},
		{DAHDI_ALARM_NOTOPEN, "not-open"},
		{DAHDI_ALARM_LOS, "los"},       {DAHDI_ALARM_LFA, "lfa"},
		{DAHDI_ALARM_LMFA, "lmfa"},
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < TG_ARRAY_SIZE(names) && n < len; i++) {
		if (!(alarms & names[i].bit))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      names[i].name);
	}
}

static int spanstat(struct dline *l, struct dahdi_spaninfo *si)
{
	memset(si, 0, sizeof(*si));
	si->spanno = l->dspan;
	return ioctl(l->ctl, DAHDI_SPANSTAT, si) ? errno : 0;
}

/* The span's first channel: DAHDI numbers channels across spans. */
static int find_base(struct dline *l)
{
	for (int c = 1; c <= MAX_CHANNO; c++) {
		struct dahdi_params p = {.channo = c};

		if (ioctl(l->ctl, DAHDI_GET_PARAMS, &p))
			continue;
		if (p.spanno == l->dspan)
			return c - (p.chanpos - 1);
	}
	return -1;
}

/* Open channel @p channo and check what system.conf made of it. */
static int chan_open(struct dline *l, int channo, int sig, const char *what)
{
	struct dahdi_params p;
	int fd, n, err;

	fd = open("/dev/dahdi/channel", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		up_fail(l, "/dev/dahdi/channel: %s", strerror(err));
		return -err;
	}
	n = channo;
	if (ioctl(fd, DAHDI_SPECIFY, &n)) {
		err = errno;
		up_fail(l, "%s channel %d: %s", what, channo, strerror(err));
		goto fail;
	}
	memset(&p, 0, sizeof(p));
	if (ioctl(fd, DAHDI_GET_PARAMS, &p)) {
		err = errno;
		up_fail(l, "%s channel %d: DAHDI_GET_PARAMS: %s", what, channo,
			strerror(err));
		goto fail;
	}
	if (p.sigtype != sig || p.spanno != l->dspan) {
		err = EINVAL;
		up_fail(l, "channel %d is not the span's %s (span %d, "
			"signalling 0x%x; system.conf: %s)", channo, what,
			p.spanno, (unsigned)p.sigtype,
			sig == DAHDI_SIG_HDLCFCS ? "hardhdlc= or dchan="
						 : "bchan=");
		goto fail;
	}
	return fd;
 fail:
	close(fd);
	return -err;
}

static int dchan_setup(struct dline *l, int fd)
{
	struct dahdi_bufferinfo bi = {
		.txbufpolicy = DAHDI_POLICY_IMMEDIATE,
		.rxbufpolicy = DAHDI_POLICY_IMMEDIATE,
		.numbufs = D_NUMBUFS,
		.bufsize = D_BUFSIZE,
	};

	if (ioctl(fd, DAHDI_SET_BUFINFO, &bi))
		return errno;
	return 0;
}

static int bchan_setup(struct dline *l, int fd, int channo)
{
	/* Transmit only once B_NUMBUFS blocks are queued, so that a late
	 * media worker does not make the card play gaps (yate does this). */
	struct dahdi_bufferinfo bi = {
		.txbufpolicy = DAHDI_POLICY_WHEN_FULL,
		.rxbufpolicy = DAHDI_POLICY_IMMEDIATE,
		.numbufs = B_NUMBUFS,
		.bufsize = BLOCK,
	};
	int law = l->type == TDM_E1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
	int bs = BLOCK, zero = 0, one = 1, flush = DAHDI_FLUSH_ALL, n = 0;

	if (ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs) ||
	    ioctl(fd, DAHDI_SET_BUFINFO, &bi) ||
	    ioctl(fd, DAHDI_SETLINEAR, &zero) ||
	    ioctl(fd, DAHDI_SETLAW, &law) ||
	    ioctl(fd, DAHDI_AUDIOMODE, &one) ||
	    ioctl(fd, DAHDI_FLUSH, &flush) || ioctl(fd, DAHDI_CHANNO, &n))
		return errno;
	if (n != channo)
		return ENXIO;
	return 0;
}

static int poll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLPRI,
				 .data.u32 = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? errno : 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_line(struct dline *l)
{
	close_fd(&l->dpoll);
	close_fd(&l->dfd);
	close_fd(&l->apoll);
	for (unsigned b = 1; b <= l->nchan; b++)
		close_fd(&l->bfd[b]);
	l->b_stale = false;
}

static int d_init(void **linep, const struct tdm_span_config *cfg)
{
	struct dline *l = calloc(1, sizeof(*l));

	if (!l)
		return ENOMEM;
	l->id = cfg->id;
	l->dspan = cfg->dahdi_span > 0 ? cfg->dahdi_span : cfg->id;
	l->type = cfg->type;
	l->nchan = cfg->type == TDM_E1 ? 30 : 23;
	l->ctl = l->dfd = l->dpoll = l->apoll = -1;
	l->base = -1;
	for (unsigned b = 0; b <= TDM_VFRAME_MAXCHAN; b++)
		l->bfd[b] = -1;
	*linep = l;
	return 0;
}

static void d_fini(void *line)
{
	struct dline *l = line;

	close_line(l);
	close_fd(&l->ctl);
	free(l);
}

/* The span as DAHDI has it: configured, of our type, not in alarm. */
static int span_check(struct dline *l)
{
	struct dahdi_spaninfo si;
	unsigned want = l->type == TDM_E1 ? 31 : 24;
	char text[64];
	int err;

	if (l->ctl < 0) {
		l->ctl = open("/dev/dahdi/ctl", O_RDWR | O_CLOEXEC);
		if (l->ctl < 0) {
			err = errno;
			up_fail(l, "/dev/dahdi/ctl: %s (is the DAHDI driver "
				"loaded?)", strerror(err));
			return err;
		}
	}
	err = spanstat(l, &si);
	if (err) {
		up_fail(l, "DAHDI_SPANSTAT: %s (no such span?)", strerror(err));
		return err;
	}
	if ((unsigned)si.totalchans != want) {
		up_fail(l, "%d channels, a %s span has %u (type = ?)",
			si.totalchans, l->type == TDM_E1 ? "E1" : "T1", want);
		return EINVAL;
	}
	if (si.alarms & LINE_DOWN) {
		alarm_text(si.alarms, text, sizeof(text));
		up_fail(l, "in alarm (%s), waiting", text);
		return ENOLINK;
	}
	if (l->base < 0 && (l->base = find_base(l)) < 0) {
		up_fail(l, "none of its channels is configured (dahdi_cfg)");
		return ENOENT;
	}
	return 0;
}

static int d_up(void *line, int *dfdp, int *afdp)
{
	struct dline *l = line;
	int err, fd;

	if (l->b_stale)
		close_line(l);
	err = span_check(l);
	if (err)
		return err;
	fd = chan_open(l, l->base + dchan_ts(l) - 1, DAHDI_SIG_HDLCFCS,
		       "D-channel");
	if (fd < 0) {
		err = -fd;
		goto fail;
	}
	l->dfd = fd;
	if ((err = dchan_setup(l, fd))) {
		up_fail(l, "D-channel setup: %s", strerror(err));
		goto fail;
	}
	for (unsigned b = 1; b <= l->nchan; b++) {
		int channo = l->base + bearer_ts(l, b) - 1;

		fd = chan_open(l, channo, DAHDI_SIG_CLEAR, "B-channel");
		if (fd < 0) {
			err = -fd;
			goto fail;
		}
		l->bfd[b] = fd;
		if ((err = bchan_setup(l, fd, channo))) {
			up_fail(l, "B-channel %d setup: %s", channo,
				strerror(err));
			goto fail;
		}
	}
	/* Epoll sets: libevent and the media worker wait for readable only,
	 * and a DAHDI event (an alarm) is POLLPRI. */
	l->dpoll = epoll_create1(EPOLL_CLOEXEC);
	l->apoll = epoll_create1(EPOLL_CLOEXEC);
	err = l->dpoll < 0 || l->apoll < 0 ? errno
					    : poll_add(l->dpoll, l->dfd, 0);
	for (unsigned b = 1; b <= l->nchan && !err; b++)
		err = poll_add(l->apoll, l->bfd[b], b);
	if (err) {
		up_fail(l, "epoll: %s", strerror(err));
		goto fail;
	}
	l->have = l->sent_mask = 0;
	l->last_err[0] = '\0';
	*dfdp = l->dpoll;
	*afdp = l->apoll;
	gw_notice("span %d: DAHDI span %d up (channels %d-%d, D-channel %d)",
		  l->id, l->dspan, l->base, l->base + (l->type == TDM_E1 ? 30
								    : 23),
		  l->base + dchan_ts(l) - 1);
	return 0;
 fail:
	/* The next try looks for the span's channels afresh (dahdi_cfg
	 * may have renumbered them). */
	l->base = -1;
	close_line(l);
	return err ? err : EIO;
}

static void d_down(void *line)
{
	struct dline *l = line;

	close_fd(&l->dpoll);
	close_fd(&l->dfd);
	/* The media worker may be reading the bearers still. */
	l->b_stale = true;
}

/* Events of the D-channel: -1 the line is lost (alarm), else 0. */
static int d_events(struct dline *l)
{
	for (int i = 0; i < EVENTS_MAX; i++) {
		int ev = DAHDI_EVENT_NONE;

		if (ioctl(l->dfd, DAHDI_GETEVENT, &ev) || ev == DAHDI_EVENT_NONE)
			return 0;
		switch (ev) {
		case DAHDI_EVENT_ALARM: {
			struct dahdi_spaninfo si;
			char text[64] = "";
			bool down = true;

			if (!spanstat(l, &si)) {
				alarm_text(si.alarms, text, sizeof(text));
				down = si.alarms & LINE_DOWN;
			}
			gw_warn("span %d: DAHDI span %d alarm%s%s%s", l->id,
				l->dspan, *text ? ": " : "", text,
				down ? "" : " (the line still works)");
			if (down)
				return -1;
			break;
		}
		case DAHDI_EVENT_NOALARM:
			gw_info("span %d: DAHDI span %d alarm cleared", l->id,
				l->dspan);
			break;
		case DAHDI_EVENT_BADFCS:
		case DAHDI_EVENT_ABORT:
		case DAHDI_EVENT_OVERRUN:
			/* The frame is lost; Q.921 recovers it. */
			l->hdlc_errors++;
			gw_dbg(GW_DBG_Q921, "span %d: HDLC %s (%u so far)",
			       l->id, ev == DAHDI_EVENT_BADFCS ? "bad FCS"
				      : ev == DAHDI_EVENT_ABORT ? "abort"
								 : "overrun",
			       l->hdlc_errors);
			break;
		default:
			gw_dbg(GW_DBG_Q921, "span %d: DAHDI event %d", l->id,
			       ev);
			break;
		}
	}
	return 0;
}

static int d_d_read(void *line, void *buf, int len)
{
	struct dline *l = line;

	if (l->dfd < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		ssize_t n = read(l->dfd, buf, (size_t)len);

		if (n > 0)
			return (int)n;
		if (n < 0 && errno == ELAST) {
			if (d_events(l))
				return -1;
			continue; /* a frame may be behind the event */
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		gw_warn("span %d: D-channel read: %s", l->id,
			n < 0 ? strerror(errno) : "end of file");
		return -1;
	}
	return 0;
}

static int d_d_write(void *line, const void *buf, int len)
{
	struct dline *l = line;
	ssize_t n;

	if (l->dfd < 0)
		return -1;
	n = write(l->dfd, buf, (size_t)len);
	if (n == len)
		return len;
	/* ELAST: an event waits; the D-channel poll wakes us to read it
	 * (this frame is lost, Q.921 sends it again). */
	if (n < 0 && errno != ELAST)
		gw_warn("span %d: D-channel write: %s", l->id,
			strerror(errno));
	return -1;
}

/* Drain a bearer's events: the alarm itself is the D-channel's business. */
static void b_events(int fd)
{
	for (int i = 0; i < EVENTS_MAX; i++) {
		int ev = DAHDI_EVENT_NONE;

		if (ioctl(fd, DAHDI_GETEVENT, &ev) || ev == DAHDI_EVENT_NONE)
			return;
	}
}

/*
 * One frame for the media engine: a block from every bearer.  The card
 * clocks them together, so they become readable at the same tick; one
 * that misses it gets silence in this frame and nothing sent for it.
 */
static int d_audio_recv(void *line, int afd, const uint8_t **rx,
			uint32_t *seq)
{
	struct dline *l = line;
	uint32_t all = (uint32_t)((2ull << l->nchan) - 2);
	const int *fds = l->bfd;
	uint8_t sil = l->type == TDM_E1 ? 0xd5 : 0xff;

	for (unsigned b = 1; b <= l->nchan; b++) {
		uint8_t *blk = l->rx + (b - 1) * BLOCK;
		ssize_t n;

		if (l->have & (1u << b) || fds[b] < 0)
			continue;
		n = read(fds[b], blk, BLOCK);
		if (n < 0 && errno == ELAST) {
			b_events(fds[b]);
			n = read(fds[b], blk, BLOCK);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ELAST)
				continue;
			return errno;
		}
		if (n < BLOCK)
			memset(blk + n, sil, BLOCK - (size_t)n);
		if (!l->have)
			l->first_us = mono_us();
		l->have |= 1u << b;
	}
	if (!l->have ||
	    (l->have != all && mono_us() - l->first_us < PARTIAL_US))
		return EAGAIN;
	for (unsigned b = 1; b <= l->nchan; b++)
		if (!(l->have & (1u << b)))
			memset(l->rx + (b - 1) * BLOCK, sil, BLOCK);
	l->sent_mask = l->have;
	l->have = 0;
	*seq = l->seq++;
	*rx = l->rx;
	return 0;
}

/* The answer to a frame: each bearer's block goes to its channel. */
static int d_audio_send(void *line, int afd, uint32_t seq,
			const uint8_t *tx)
{
	struct dline *l = line;
	const int *fds = l->bfd;
	int err = 0;

	for (unsigned b = 1; b <= l->nchan; b++) {
		if (!(l->sent_mask & (1u << b)) || fds[b] < 0)
			continue;
		/* EAGAIN: the transmit buffers are full (the card is
		 * behind us): this block is dropped. */
		if (write(fds[b], tx + (b - 1) * BLOCK, BLOCK) < 0 &&
		    errno != EAGAIN && errno != ELAST)
			err = errno;
	}
	return err;
}

static void d_alarms(void *line, char *buf, size_t len)
{
	struct dline *l = line;
	struct dahdi_spaninfo si;

	buf[0] = '\0';
	if (l->ctl < 0) {
		tg_strlcpy(buf, "no-dahdi", len);
		return;
	}
	if (spanstat(l, &si)) {
		tg_strlcpy(buf, "no-span", len);
		return;
	}
	alarm_text(si.alarms, buf, len);
}

static const struct tdm_backend dahdi_backend = {
	.name = "dahdi",
	.init = d_init,
	.fini = d_fini,
	.up = d_up,
	.down = d_down,
	.d_read = d_d_read,
	.d_write = d_d_write,
	.audio_recv = d_audio_recv,
	.audio_send = d_audio_send,
	.alarms = d_alarms,
};

const struct tdm_backend *const tdm_backend_dahdi = &dahdi_backend;

#endif
