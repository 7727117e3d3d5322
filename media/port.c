/* media/port.c  RTP/RTCP socket pairs: even port in a range, RTCP reserved */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"

#define RTP_TOS_EF 0xb8 /* DSCP EF (RFC 3246): voice */

static void destructor(void *arg)
{
	struct media_rtp *rtp = arg;

	if (rtp->fd >= 0)
		close(rtp->fd);
	if (rtp->rtcp_fd >= 0)
		close(rtp->rtcp_fd);
}

static int parse_ip(struct sockaddr_storage *ss, socklen_t *lenp,
		    const char *ip)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*lenp = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*lenp = sizeof(*sin6);
		return 0;
	}
	return EINVAL;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int bind_one(int *fdp, struct sockaddr_storage *ss, socklen_t len,
		    uint16_t port)
{
	int tos = RTP_TOS_EF;
	int fd;
	int err = 0;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return errno;
	/* Marking is a courtesy to the network: failure is not an error. */
	if (ss->ss_family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos,
				 sizeof(tos));
	set_port(ss, port);
	if (bind(fd, (struct sockaddr *)ss, len) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static int bind_pair(struct media_rtp *rtp, struct sockaddr_storage *ss,
		     socklen_t len, uint16_t port)
{
	int err;

	err = bind_one(&rtp->fd, ss, len, port);
	if (err)
		return err;
	/* RFC 3550 11: RTCP on the next odd port.  A timeslot <-> RTP
	 * bridge reads and sends its reports there; a relay only holds
	 * it, so no one else takes it while the call lasts. */
	err = bind_one(&rtp->rtcp_fd, ss, len, (uint16_t)(port + 1));
	if (err) {
		close(rtp->fd);
		rtp->fd = -1;
	}
	return err;
}

int media_rtp_alloc(struct media_rtp **rtpp, struct media_engine *me,
		    const char *ip, uint16_t port_min, uint16_t port_max)
{
	struct sockaddr_storage ss;
	struct media_rtp *rtp;
	unsigned lo, pairs, start, i;
	socklen_t len;
	int err;

	if (!rtpp || !me || !ip)
		return EINVAL;
	err = parse_ip(&ss, &len, ip);
	if (err)
		return err;
	lo = (port_min + 1u) & ~1u;
	if (lo == 0)
		lo = 2;
	/* Both ports of a pair lie within the range. */
	pairs = port_max > lo ? (port_max - lo + 1u) / 2u : 0;
	if (pairs == 0)
		return EINVAL;

	rtp = obj_zalloc(sizeof(*rtp), destructor);
	if (!rtp)
		return ENOMEM;
	rtp->fd = -1;
	rtp->rtcp_fd = -1;
	rtp->family = ss.ss_family;

	/* Rotate the start so a port just freed is not reused at once: late
	 * packets of the old call must not land in the new one. */
	start = me->port_cursor % pairs;
	err = EADDRINUSE;
	for (i = 0; i < pairs; i++) {
		unsigned idx = (start + i) % pairs;
		uint16_t port = (uint16_t)(lo + 2 * idx);

		err = bind_pair(rtp, &ss, len, port);
		if (!err) {
			rtp->port = port;
			me->port_cursor = idx + 1;
			break;
		}
		if (err != EADDRINUSE)
			break;
	}
	if (err) {
		gw_warn("no RTP port on %s in %u-%u: %s", ip, port_min,
			port_max, strerror(err));
		obj_deref(rtp);
		return err;
	}
	*rtpp = rtp;
	return 0;
}

uint16_t media_rtp_port(const struct media_rtp *rtp)
{
	return rtp ? rtp->port : 0;
}

void media_rtp_free(struct media_rtp *rtp)
{
	obj_deref(rtp);
}
