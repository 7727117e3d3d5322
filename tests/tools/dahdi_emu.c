/* tests/tools/dahdi_emu.c  DAHDI in a test: /dev/dahdi/ctl, channel served by pstnsim
 *
 * An LD_PRELOAD object for tollgated: open, close, read, write and ioctl of
 * /dev/dahdi/ctl and /dev/dahdi/channel behave as the DAHDI driver's do
 * (user.h and dahdi-base.c are the reference), for spans whose line is a
 * pstnsim virtual span.  The fds handed out are real (one end of a Unix
 * SOCK_SEQPACKET pair), so poll, select and epoll work on them unchanged:
 * a channel is readable when a whole block (B) or frame (D) waits.
 *
 *   TG_DAHDI_EMU_DIR    pstnsim's --dir: DAHDI span K is its span<K>.d/.b
 *   TG_DAHDI_EMU_SPANS  the spans' types, "t1" (default) or e.g. "e1,t1";
 *                       channels are numbered across them as DAHDI does
 *                       (T1: 24 channels, D on 24; E1: 31, D on 16)
 *
 * pstnsim's 20 ms frames clock the bearers: each gives every open B
 * channel its 160 octets and takes one transmit block from it.  The span
 * has signal while pstnsim's span<K>.b accepts us.  Its D-channel socket is
 * connected when the app first writes to the D-channel (and closed when it
 * closes it): pstnsim's libpri starts its data link then, as a switch's
 * that keeps trying would be answered at once; pstnsim's would give up on
 * SABMEs sent to a channel nobody had open (or set up) yet.  When
 * pstnsim goes away the span is in red alarm (LOS): every open channel gets
 * DAHDI_EVENT_ALARM (read and write fail with ELAST until DAHDI_GETEVENT
 * takes it); when it is back, DAHDI_EVENT_NOALARM.  A pending event makes
 * the fd readable (a zero-length message read() never returns): the real
 * driver says POLLPRI, which a socket cannot.
 */
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <dahdi/user.h>

#define MAXSPANS 8
#define MAXCHANS (MAXSPANS * 31)
#define MAXFD 4096
#define EVQ 32
#define MAXBLOCK 8192
#define FRAME 160          /* octets per timeslot in a pstnsim frame */
#define VHDR 8             /* pstnsim frame header: "TGB1", seq */
#define RETRY_MS 200

enum { K_CTL, K_CHAN };

struct espan {
	int no;
	bool e1;
	int base;          /* channel number of timeslot 1 */
	int total;         /* 24 or 31 */
	int nbear;         /* 23 or 30 */
	int dsock, bsock;  /* to pstnsim, -1 when not connected */
	int alarms;
	int64_t next_try;
};

struct efd;

struct echan {
	int channo;
	struct espan *span;
	int pos;           /* timeslot, 1.. */
	bool dch;
	bool d_active;     /* D: the app has written: connect to pstnsim */
	struct efd *open;
	int blocksize, numbufs, txpol, rxpol, law, audiomode;
	int alarms;
	int ev[EVQ];
	unsigned evin, evout;
	int rxq;           /* blocks in the socket the app has not read */
	uint8_t rxpart[MAXBLOCK];
	int rxpart_n;
	uint8_t *tx;       /* numbufs buffers of blocksize */
	int txn[DAHDI_MAX_NUM_BUFS];
	int txin, txout, txcount, txoff;
	bool txon;
};

struct efd {
	int fd, peer;
	int kind;
	struct echan *ch;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t txcond = PTHREAD_COND_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool enabled;
static char dir[200];
static struct espan spans[MAXSPANS];
static int nspans;
static struct echan chans[MAXCHANS + 1];
static int nchans;
static struct efd *fdtab[MAXFD];
static bool thread_up;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_ioctl)(int, unsigned long, ...);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init(void)
{
	const char *d = getenv("TG_DAHDI_EMU_DIR");
	const char *t = getenv("TG_DAHDI_EMU_SPANS");
	int base = 1;

	real_open = dlsym(RTLD_NEXT, "open");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_close = dlsym(RTLD_NEXT, "close");
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	if (!d || !*d || strlen(d) >= sizeof(dir))
		return;
	strcpy(dir, d);
	if (!t || !*t)
		t = "t1";
	while (*t && nspans < MAXSPANS) {
		struct espan *s = &spans[nspans];

		s->no = ++nspans;
		s->e1 = !strncasecmp(t, "e1", 2);
		s->total = s->e1 ? 31 : 24;
		s->nbear = s->e1 ? 30 : 23;
		s->base = base;
		s->dsock = s->bsock = -1;
		s->alarms = DAHDI_ALARM_RED | DAHDI_ALARM_LOS;
		for (int p = 1; p <= s->total; p++) {
			struct echan *c = &chans[base + p - 1];

			c->channo = base + p - 1;
			c->span = s;
			c->pos = p;
			c->dch = p == (s->e1 ? 16 : 24);
			c->alarms = s->alarms;
		}
		base += s->total;
		t = strchr(t, ',');
		if (!t)
			break;
		t++;
	}
	nchans = base - 1;
	enabled = true;
}

static void emu_init(void)
{
	pthread_once(&once, init);
}

static uint8_t idle_octet(const struct echan *c)
{
	int law = c->law ? c->law
			 : (c->span->e1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW);

	return law == DAHDI_LAW_ALAW ? 0xd5 : 0xff;
}

/* ---- events ----------------------------------------------------------- */

static void wake(struct echan *c)
{
	/* The app's poll sees POLLIN; its read() then says ELAST. */
	if (c->open)
		send(c->open->peer, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void qevent(struct echan *c, int ev)
{
	if (c->evin - c->evout >= EVQ)
		return;
	c->ev[c->evin++ % EVQ] = ev;
	wake(c);
}

static bool ev_pending(const struct echan *c)
{
	return c->evin != c->evout;
}

/* dahdi_alarm_channel(): an event only when in-alarm changes. */
static void chan_alarm(struct echan *c, int alarms)
{
	if (!c->alarms == !alarms) {
		c->alarms = alarms;
		return;
	}
	c->alarms = alarms;
	if (c->open)
		qevent(c, alarms ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
}

static void span_alarm(struct espan *s, int alarms)
{
	s->alarms = alarms;
	for (int p = 1; p <= s->total; p++)
		chan_alarm(&chans[s->base + p - 1], alarms);
}

/* ---- buffers ---------------------------------------------------------- */

static void drain_app(struct echan *c)
{
	uint8_t buf[MAXBLOCK];

	/* What the app has not read is flushed (the peer's queue). */
	while (c->open && recv(c->open->fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	c->rxq = 0;
	c->rxpart_n = 0;
}

static void tx_reset(struct echan *c)
{
	c->txin = c->txout = c->txcount = c->txoff = 0;
	c->txon = c->txpol == DAHDI_POLICY_IMMEDIATE;
	pthread_cond_broadcast(&txcond);
}

static int bufs_alloc(struct echan *c, int blocksize, int numbufs)
{
	uint8_t *tx = calloc((size_t)numbufs, (size_t)blocksize);

	if (!tx)
		return ENOMEM;
	free(c->tx);
	c->tx = tx;
	c->blocksize = blocksize;
	c->numbufs = numbufs;
	drain_app(c);
	tx_reset(c);
	return 0;
}

/* Fill @p out with the next @p n octets to transmit (idle if none). */
static void tx_take(struct echan *c, uint8_t *out, int n)
{
	while (n > 0 && c->txon && c->txcount) {
		int left = c->txn[c->txout] - c->txoff;
		int k = left < n ? left : n;

		memcpy(out, c->tx + c->txout * c->blocksize + c->txoff,
		       (size_t)k);
		out += k;
		n -= k;
		c->txoff += k;
		if (c->txoff == c->txn[c->txout]) {
			c->txoff = 0;
			c->txout = (c->txout + 1) % c->numbufs;
			c->txcount--;
			pthread_cond_broadcast(&txcond);
			/* Underrun: WHEN_FULL waits to be full again. */
			if (!c->txcount && c->txpol != DAHDI_POLICY_IMMEDIATE)
				c->txon = false;
		}
	}
	memset(out, idle_octet(c), (size_t)n);
}

/* @p n received octets for an open B channel: whole blocks to the app. */
static void rx_put(struct echan *c, const uint8_t *in, int n)
{
	while (n > 0) {
		int k = c->blocksize - c->rxpart_n;

		if (k > n)
			k = n;
		memcpy(c->rxpart + c->rxpart_n, in, (size_t)k);
		c->rxpart_n += k;
		in += k;
		n -= k;
		if (c->rxpart_n < c->blocksize)
			break;
		c->rxpart_n = 0;
		/* All numbufs full: the driver overwrites nothing and
		 * drops the new block. */
		if (c->rxq >= c->numbufs)
			continue;
		if (send(c->open->peer, c->rxpart, (size_t)c->blocksize,
			 MSG_DONTWAIT | MSG_NOSIGNAL) == c->blocksize)
			c->rxq++;
	}
}

/* ---- the line: pstnsim ------------------------------------------------ */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		real_close(fd);
		return -1;
	}
	return fd;
}

static struct echan *dchan_of(struct espan *s)
{
	return &chans[s->base + (s->e1 ? 16 : 24) - 1];
}

static void d_connect(struct espan *s)
{
	char path[300];

	if (s->dsock >= 0 || s->bsock < 0 || !dchan_of(s)->open ||
	    !dchan_of(s)->d_active)
		return;
	snprintf(path, sizeof(path), "%s/span%d.d", dir, s->no);
	s->dsock = connect_to(path);
}

static void span_lost(struct espan *s)
{
	if (s->dsock >= 0)
		real_close(s->dsock);
	if (s->bsock >= 0)
		real_close(s->bsock);
	s->dsock = s->bsock = -1;
	s->next_try = now_ms() + RETRY_MS;
	span_alarm(s, DAHDI_ALARM_RED | DAHDI_ALARM_LOS);
}

static void span_try(struct espan *s)
{
	char path[300];

	if (s->bsock >= 0) {
		d_connect(s);
		return;
	}
	if (now_ms() < s->next_try)
		return;
	s->next_try = now_ms() + RETRY_MS;
	snprintf(path, sizeof(path), "%s/span%d.b", dir, s->no);
	s->bsock = connect_to(path);
	if (s->bsock < 0)
		return;
	span_alarm(s, 0);
	d_connect(s);
}

static void d_from_line(struct espan *s)
{
	struct echan *c = dchan_of(s);
	uint8_t buf[2048];

	for (;;) {
		ssize_t n = recv(s->dsock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			span_lost(s);
			return;
		}
		/* HDLC: one frame, FCS included (pstnsim's libpri sends the
		 * two placeholder octets ours expects). */
		if (c->open && n <= c->blocksize &&
		    c->rxq < c->numbufs &&
		    send(c->open->peer, buf, (size_t)n,
			 MSG_DONTWAIT | MSG_NOSIGNAL) == n)
			c->rxq++;
		else if (c->open)
			qevent(c, DAHDI_EVENT_OVERRUN);
	}
}

static void b_from_line(struct espan *s)
{
	uint8_t in[VHDR + 30 * FRAME], out[VHDR + 30 * FRAME];
	size_t len = VHDR + (size_t)s->nbear * FRAME;

	for (;;) {
		ssize_t n = recv(s->bsock, in, sizeof(in), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			span_lost(s);
			return;
		}
		if ((size_t)n != len || memcmp(in, "TGB1", 4))
			continue;
		memcpy(out, in, VHDR);
		for (int b = 1; b <= s->nbear; b++) {
			int ts = s->e1 && b >= 16 ? b + 1 : b;
			struct echan *c = &chans[s->base + ts - 1];
			uint8_t *ib = in + VHDR + (b - 1) * FRAME;
			uint8_t *ob = out + VHDR + (b - 1) * FRAME;

			if (!c->open || !c->tx) {
				memset(ob, s->e1 ? 0xd5 : 0xff, FRAME);
				continue;
			}
			rx_put(c, ib, FRAME);
			tx_take(c, ob, FRAME);
		}
		/* The line's clock: one answer per frame, same sequence. */
		send(s->bsock, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void *line_thread(void *arg)
{
	for (;;) {
		struct pollfd pfd[2 * MAXSPANS];
		struct espan *who[2 * MAXSPANS];
		int n = 0;

		pthread_mutex_lock(&mu);
		for (int i = 0; i < nspans; i++) {
			span_try(&spans[i]);
			if (spans[i].dsock >= 0) {
				who[n] = &spans[i];
				pfd[n++] = (struct pollfd){spans[i].dsock,
							   POLLIN, 0};
			}
			if (spans[i].bsock >= 0) {
				who[n] = &spans[i];
				pfd[n++] = (struct pollfd){spans[i].bsock,
							   POLLIN, 0};
			}
		}
		pthread_mutex_unlock(&mu);
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		pthread_mutex_lock(&mu);
		for (int i = 0; i < n; i++) {
			struct espan *s = who[i];

			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == s->dsock)
				d_from_line(s);
			else if (pfd[i].fd == s->bsock)
				b_from_line(s);
		}
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* ---- the device ------------------------------------------------------- */

static struct efd *lookup(int fd)
{
	return fd >= 0 && fd < MAXFD ? fdtab[fd] : NULL;
}

static int dev_open(const char *path, int flags)
{
	const char *name = path + strlen("/dev/dahdi/");
	int sv[2], kind;
	struct efd *e;

	if (!strcmp(name, "ctl"))
		kind = K_CTL;
	else if (!strcmp(name, "channel"))
		kind = K_CHAN;
	else {
		errno = ENOENT; /* timer, pseudo, transcode: not here */
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET |
			       (flags & O_CLOEXEC ? SOCK_CLOEXEC : 0), 0, sv))
		return -1;
	if (sv[0] >= MAXFD) {
		real_close(sv[0]);
		real_close(sv[1]);
		errno = EMFILE;
		return -1;
	}
	if (flags & O_NONBLOCK)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	e = calloc(1, sizeof(*e));
	if (!e) {
		real_close(sv[0]);
		real_close(sv[1]);
		errno = ENOMEM;
		return -1;
	}
	e->fd = sv[0];
	e->peer = sv[1];
	e->kind = kind;
	pthread_mutex_lock(&mu);
	fdtab[sv[0]] = e;
	if (!thread_up) {
		pthread_t t;

		/* Bring the lines up now, so that the first SPANSTAT is
		 * as a running system's would be. */
		for (int i = 0; i < nspans; i++)
			span_try(&spans[i]);
		thread_up = !pthread_create(&t, NULL, line_thread, NULL);
		if (thread_up)
			pthread_detach(t);
	}
	pthread_mutex_unlock(&mu);
	return sv[0];
}

static bool is_dev(const char *path)
{
	emu_init();
	return enabled && path && !strncmp(path, "/dev/dahdi/", 11);
}

static int open_mode(const char *path, int flags, va_list ap)
{
	mode_t mode = (flags & O_CREAT) ? va_arg(ap, mode_t) : 0;

	if (is_dev(path))
		return dev_open(path, flags);
	return real_open(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_mode(path, flags, ap);
	va_end(ap);
	return r;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_mode(path, flags, ap);
	va_end(ap);
	return r;
}

int openat(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (is_dev(path))
		return dev_open(path, flags);
	return real_openat(dfd, path, flags, mode);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (is_dev(path))
		return dev_open(path, flags);
	return real_openat(dfd, path, flags, mode);
}

static void chan_release(struct echan *c)
{
	if (c->dch && c->span->dsock >= 0) {
		real_close(c->span->dsock);
		c->span->dsock = -1;
	}
	c->open = NULL;
	c->d_active = false;
	c->evin = c->evout = 0;
	c->rxq = c->rxpart_n = 0;
	free(c->tx);
	c->tx = NULL;
	pthread_cond_broadcast(&txcond);
}

int close(int fd)
{
	struct efd *e;

	emu_init();
	pthread_mutex_lock(&mu);
	e = lookup(fd);
	if (e) {
		fdtab[fd] = NULL;
		if (e->ch)
			chan_release(e->ch);
		real_close(e->peer);
		free(e);
	}
	pthread_mutex_unlock(&mu);
	return real_close(fd);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct efd *e;
	ssize_t n;

	emu_init();
	for (;;) {
		pthread_mutex_lock(&mu);
		e = lookup(fd);
		if (!e) {
			pthread_mutex_unlock(&mu);
			return real_read(fd, buf, len);
		}
		if (!e->ch) {
			pthread_mutex_unlock(&mu);
			errno = EINVAL;
			return -1;
		}
		if (ev_pending(e->ch)) {
			pthread_mutex_unlock(&mu);
			errno = ELAST;
			return -1;
		}
		pthread_mutex_unlock(&mu);
		if (!len) {
			errno = EINVAL;
			return -1;
		}
		n = real_read(fd, buf, len);
		if (n == 0)
			continue; /* an event's wake-up, not data */
		if (n > 0) {
			pthread_mutex_lock(&mu);
			if (lookup(fd) == e && e->ch && e->ch->rxq > 0)
				e->ch->rxq--;
			pthread_mutex_unlock(&mu);
		}
		return n;
	}
}

static ssize_t b_write(struct efd *e, const void *buf, size_t len)
{
	struct echan *c = e->ch;
	int amnt = len > (size_t)c->blocksize ? c->blocksize : (int)len;
	bool nonblock = fcntl(e->fd, F_GETFL) & O_NONBLOCK;

	while (c->txcount == c->numbufs) {
		if (nonblock) {
			errno = EAGAIN;
			return -1;
		}
		pthread_cond_wait(&txcond, &mu);
		if (lookup(e->fd) != e || !e->ch || !c->tx) {
			errno = ENODEV;
			return -1;
		}
	}
	memcpy(c->tx + c->txin * c->blocksize, buf, (size_t)amnt);
	c->txn[c->txin] = amnt;
	c->txin = (c->txin + 1) % c->numbufs;
	if (++c->txcount == c->numbufs ||
	    (c->txpol == DAHDI_POLICY_HALF_FULL &&
	     c->txcount >= c->numbufs / 2))
		c->txon = true;
	return amnt;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct efd *e;
	ssize_t r;

	emu_init();
	pthread_mutex_lock(&mu);
	e = lookup(fd);
	if (!e) {
		pthread_mutex_unlock(&mu);
		return real_write(fd, buf, len);
	}
	if (!e->ch || !len) {
		errno = EINVAL;
		r = -1;
	} else if (ev_pending(e->ch)) {
		errno = ELAST;
		r = -1;
	} else if (e->ch->dch) {
		struct espan *s = e->ch->span;

		/* HDLC: the driver fills in the two FCS octets; on a line
		 * in alarm the frame goes nowhere. */
		r = len > (size_t)e->ch->blocksize ? e->ch->blocksize
						    : (ssize_t)len;
		e->ch->d_active = true;
		d_connect(s);
		if (s->dsock >= 0 &&
		    send(s->dsock, buf, (size_t)r,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EAGAIN) {
			/* The driver would queue it in its buffers. */
			struct pollfd pfd = {s->dsock, POLLOUT, 0};

			poll(&pfd, 1, 20);
			send(s->dsock, buf, (size_t)r,
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		}
	} else {
		r = b_write(e, buf, len);
	}
	pthread_mutex_unlock(&mu);
	return r;
}

static struct echan *chan_num(int channo)
{
	return channo >= 1 && channo <= nchans ? &chans[channo] : NULL;
}

static int specify(struct efd *e, int channo)
{
	struct echan *c = chan_num(channo);

	if (e->kind != K_CHAN || e->ch)
		return EINVAL;
	if (!c)
		return ENXIO;
	if (c->open)
		return EBUSY;
	c->open = e;
	e->ch = c;
	c->law = 0;
	c->audiomode = !c->dch;
	c->txpol = c->rxpol = DAHDI_POLICY_IMMEDIATE;
	c->evin = c->evout = 0;
	c->alarms = c->span->alarms;
	/* The driver's defaults, until the app sets its own. */
	if (bufs_alloc(c, DAHDI_DEFAULT_BLOCKSIZE, DAHDI_DEFAULT_NUM_BUFS)) {
		c->open = NULL;
		e->ch = NULL;
		return ENOMEM;
	}
	return 0;
}

static void get_params(struct echan *c, struct dahdi_params *p)
{
	memset(p, 0, sizeof(*p));
	p->channo = c->channo;
	p->spanno = c->span->no;
	p->chanpos = c->pos;
	p->sigtype = p->sigcap = c->dch ? DAHDI_SIG_HDLCFCS : DAHDI_SIG_CLEAR;
	p->curlaw = c->law ? c->law
			   : (c->span->e1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW);
	snprintf(p->name, sizeof(p->name), "EMU/%d/%d", c->span->no, c->pos);
	p->chan_alarms = (unsigned)c->alarms;
}

static void span_stat(struct espan *s, struct dahdi_spaninfo *si)
{
	memset(si, 0, sizeof(*si));
	si->spanno = s->no;
	snprintf(si->name, sizeof(si->name), "EMU/%d", s->no);
	snprintf(si->desc, sizeof(si->desc), "pstnsim span %d (emulated %s)",
		 s->no, s->e1 ? "E1" : "T1");
	si->alarms = s->alarms;
	si->numchans = si->totalchans = s->total;
	si->totalspans = nspans;
	si->lineconfig = s->e1 ? DAHDI_CONFIG_HDB3 | DAHDI_CONFIG_CCS |
				 DAHDI_CONFIG_CRC4
			       : DAHDI_CONFIG_B8ZS | DAHDI_CONFIG_ESF;
	si->linecompat = si->lineconfig;
	snprintf(si->spantype, sizeof(si->spantype), "%s",
		 s->e1 ? "E1" : "T1");
	snprintf(si->devicetype, sizeof(si->devicetype), "dahdi_emu");
}

static int dev_ioctl(struct efd *e, unsigned long req, void *arg)
{
	struct echan *c = e->ch;
	int *ip = arg;

	switch (req) {
	case DAHDI_SPECIFY:
		return specify(e, *ip);
	case DAHDI_GET_PARAMS: {
		struct dahdi_params *p = arg;
		struct echan *pc = c ? c : chan_num(p->channo &
					       ~DAHDI_GET_PARAMS_RETURN_MASTER);

		if (!pc)
			return EINVAL;
		get_params(pc, p);
		return 0;
	}
	case DAHDI_SPANSTAT: {
		struct dahdi_spaninfo *si = arg;
		int no = si->spanno ? si->spanno : c ? c->span->no : 0;

		if (no < 1 || no > nspans)
			return EINVAL;
		span_stat(&spans[no - 1], si);
		return 0;
	}
	}
	if (!c)
		return e->kind == K_CTL ? ENOTTY : EINVAL;
	switch (req) {
	case DAHDI_CHANNO:
		*ip = c->channo;
		return 0;
	case DAHDI_GETEVENT:
		*ip = ev_pending(c) ? c->ev[c->evout++ % EVQ] : DAHDI_EVENT_NONE;
		return 0;
	case DAHDI_SET_BLOCKSIZE:
		if (*ip < 16 || *ip > MAXBLOCK)
			return EINVAL;
		return bufs_alloc(c, *ip, c->numbufs);
	case DAHDI_SET_BUFINFO: {
		struct dahdi_bufferinfo *bi = arg;

		if (bi->bufsize < 16 || bi->bufsize > MAXBLOCK ||
		    bi->numbufs < 2 || bi->numbufs > DAHDI_MAX_NUM_BUFS ||
		    bi->txbufpolicy < 0 || bi->txbufpolicy > 2 ||
		    bi->rxbufpolicy < 0 || bi->rxbufpolicy > 2)
			return EINVAL;
		c->txpol = bi->txbufpolicy;
		c->rxpol = bi->rxbufpolicy;
		return bufs_alloc(c, bi->bufsize, bi->numbufs);
	}
	case DAHDI_GET_BUFINFO: {
		struct dahdi_bufferinfo *bi = arg;

		bi->txbufpolicy = c->txpol;
		bi->rxbufpolicy = c->rxpol;
		bi->numbufs = c->numbufs;
		bi->bufsize = c->blocksize;
		bi->readbufs = c->rxq;
		bi->writebufs = c->txcount;
		return 0;
	}
	case DAHDI_SETLAW:
		if (*ip < DAHDI_LAW_DEFAULT || *ip > DAHDI_LAW_ALAW)
			return EINVAL;
		c->law = *ip;
		return 0;
	case DAHDI_SETLINEAR:
		/* Signed linear reads and writes are not emulated. */
		return *ip ? EINVAL : 0;
	case DAHDI_AUDIOMODE:
		if (c->dch)
			return EINVAL;
		c->audiomode = !!*ip;
		return 0;
	case DAHDI_FLUSH:
		if (*ip & DAHDI_FLUSH_READ)
			drain_app(c);
		if (*ip & DAHDI_FLUSH_WRITE)
			tx_reset(c);
		if (*ip & DAHDI_FLUSH_EVENT)
			c->evin = c->evout = 0;
		return 0;
	}
	return ENOTTY;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct efd *e;
	void *arg;
	va_list ap;
	int err;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	emu_init();
	pthread_mutex_lock(&mu);
	e = lookup(fd);
	if (!e) {
		pthread_mutex_unlock(&mu);
		return real_ioctl(fd, req, arg);
	}
	err = arg ? dev_ioctl(e, req, arg) : EFAULT;
	pthread_mutex_unlock(&mu);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}
