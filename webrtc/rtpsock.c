/* Plain RTP/AVP sockets toward SIP peers (RFC 3550, RFC 3551), with
 * symmetric RTP latching (RFC 4961 behaviour, for peers behind NAT).
 *
 * One UDP socket on an even port, plus port + 1 for RTCP unless rtcp-mux
 * (RFC 5761). Receiving runs from the worker's epoll set (poll.h) into the
 * worker's receive buffer: no allocation per packet, no memory per socket. Only valid RTP moves
 * the RTP remote and only valid RTCP the RTCP remote; after the first move a
 * second source needs the current one to have gone quiet for
 * TND_RTPSOCK_RELATCH_MS. Worker thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "webrtc/webrtc_int.h"

#define RX_TRIES 4

struct peer {
	struct sockaddr_storage sa;
	socklen_t len;
	bool set;
	bool latched;        /* packets came from it: it is live */
	int64_t last_us;     /* last valid packet from it */
};

struct tnd_rtpsock {
	struct tnd_obj obj;        /* first: refcount */
	/* everything below: OWNER: worker */
	struct tnd_loop *loop;     /* borrowed */
	GMainContext *ctx;         /* borrowed: the worker's */
	struct tnd_poller *poller; /* borrowed: the worker's */
	int fd[2];                 /* owned: RTP, RTCP (-1 with rtcp-mux) */
	struct tnd_poll_reg reg[2];
	int family;
	uint16_t port;
	struct peer remote[2];     /* RTP, RTCP */
	bool latch_logged;
	struct tnd_rtpsock_handlers h;
	void *arg;                 /* borrowed: the owner's */
	struct tnd_rtpsock_stats st;
};

static int parse_ip(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip && inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		*len = sizeof(*v4);
		return 0;
	}
	if (ip && inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*len = sizeof(*v6);
		return 0;
	}
	return EINVAL;
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

bool tnd_webrtc_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family || sa_port(a) != sa_port(b))
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

void tnd_webrtc_sa_str(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const void *a = ss->ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		inet_ntop(ss->ss_family, a, ip, sizeof(ip));
	if (ss->ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", ip, sa_port(ss));
	else
		snprintf(buf, size, "%s:%u", ip, sa_port(ss));
}

/* Moves remote[i] to `from` when that is allowed; true when `from` is (now)
 * the remote. */
static bool latch(struct tnd_rtpsock *s, int i, const struct sockaddr_storage *from,
		  socklen_t len)
{
	struct peer *p = &s->remote[i];
	int64_t now = g_get_monotonic_time();
	char was[64], to[64];

	if (p->set && tnd_webrtc_sa_equal(&p->sa, from)) {
		p->latched = true;
		p->last_us = now;
		return true;
	}
	if (p->set && p->latched && now - p->last_us < TND_RTPSOCK_RELATCH_MS * 1000LL)
		return false;
	if (p->set)
		tnd_webrtc_sa_str(&p->sa, was, sizeof(was));
	else
		snprintf(was, sizeof(was), "none");
	tnd_webrtc_sa_str(from, to, sizeof(to));
	if (!s->latch_logged) {
		s->latch_logged = true;
		TND_LOG_NOTICE(TND_LOG_WEBRTC, "RT%sP from %s: sending there (was %s)",
			       i ? "C" : "", to, was);
	} else {
		TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "RT%sP from %s: sending there (was %s)",
			   i ? "C" : "", to, was);
	}
	memcpy(&p->sa, from, len);
	p->len = len;
	p->set = p->latched = true;
	p->last_us = now;
	s->st.latches++;
	/* RTCP follows RTP until it shows up itself: same host, port + 1
	 * (or the same port with rtcp-mux) */
	if (i == 0 && !s->remote[1].latched) {
		s->remote[1].sa = p->sa;
		s->remote[1].len = len;
		s->remote[1].set = true;
		if (s->fd[1] >= 0)
			sa_set_port(&s->remote[1].sa, (uint16_t)(sa_port(from) + 1));
	}
	return true;
}

static void handle(struct tnd_rtpsock *s, int k, uint8_t *rx, size_t n,
		   const struct sockaddr_storage *from, socklen_t len)
{
	struct tnd_rtp_hdr hdr;
	enum tnd_demux d = tnd_demux_classify(rx, n);
	bool rtcp;

	if (d == TND_DEMUX_RTP && k == 0 && !tnd_rtp_parse(rx, n, &hdr))
		rtcp = false;
	else if (d == TND_DEMUX_RTCP && !tnd_rtcp_parse(rx, n, NULL, NULL))
		rtcp = true;
	else {
		s->st.drop_garbage++;
		TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "%zu bytes of %s on RT%sP port %u", n,
			   d == TND_DEMUX_STUN ? (tnd_stun_check(rx, n) ? "bad STUN" : "STUN") :
			   d == TND_DEMUX_DTLS ? "DTLS" : "non-RTP", k ? "C" : "", s->port + k);
		return;
	}
	/* RTCP on the RTP port while we have an RTCP port: delivered, but it
	 * says nothing about where our RTCP should go */
	if (!(rtcp && k == 0 && s->fd[1] >= 0) && !latch(s, rtcp ? 1 : 0, from, len)) {
		s->st.drop_foreign++;
		return;
	}
	s->st.bytes_in += n;
	if (rtcp) {
		s->st.rtcp_in++;
		if (s->h.rtcp)
			s->h.rtcp(s->arg, rx, n);
	} else {
		s->st.rtp_in++;
		if (s->h.rtp)
			s->h.rtp(s->arg, rx, n);
	}
}

static void read_burst(struct tnd_rtpsock *s, int k)
{
	uint8_t *rx;

	rx = tnd_poller_rx_buf(s->poller);
	tnd_obj_get(s);   /* a handler may drop the owner's reference */
	/* one datagram per wake-up: epoll is level-triggered and reports the
	 * socket again while more wait, and reading on to EAGAIN would cost a
	 * second system call for nearly every packet (at 50 packets a second a
	 * socket rarely holds two). RX_TRIES bounds errors queued by ICMP. */
	for (int i = 0; i < RX_TRIES && s->fd[k] >= 0; i++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(s->fd[k], rx, TND_POLL_BUF_SIZE, MSG_TRUNC,
				     (struct sockaddr *)&from, &len);

		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;   /* ICMP from an earlier send */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				TND_LOG_RL(TND_LOG_WEBRTC, WARN, "recvfrom: %s", g_strerror(errno));
			break;
		}
		if ((size_t)n > TND_PC_MAX_PACKET)
			s->st.drop_too_big++;
		else
			handle(s, k, rx, (size_t)n, &from, len);
		break;
	}
	tnd_webrtc_put_later(&s->obj, s->ctx);
}

/* the owner from the registration embedded in it */
static void on_rtp(struct tnd_poll_reg *reg, uint32_t events)
{
	(void)events;
	read_burst((struct tnd_rtpsock *)((char *)reg - offsetof(struct tnd_rtpsock, reg[0])), 0);
}

static void on_rtcp(struct tnd_poll_reg *reg, uint32_t events)
{
	(void)events;
	read_burst((struct tnd_rtpsock *)((char *)reg - offsetof(struct tnd_rtpsock, reg[1])), 1);
}

static void rtpsock_destroy(void *data)
{
	struct tnd_rtpsock *s = data;

	for (int k = 0; k < 2; k++) {
		tnd_poller_del(s->poller, &s->reg[k]);
		if (s->fd[k] >= 0)
			close(s->fd[k]);
	}
}

static int bind_one(int family, const struct sockaddr_storage *base, socklen_t len,
		    uint16_t port, int *fdp)
{
	struct sockaddr_storage sa = *base;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	sa_set_port(&sa, port);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		int err = errno;

		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

/* An even port for RTP (RFC 3550 11), and port + 1 free too when asked,
 * starting at a random place in the range so calls do not collide. */
static int bind_pair(struct tnd_rtpsock *s, const struct tnd_rtpsock_conf *conf)
{
	struct sockaddr_storage base;
	socklen_t len;
	unsigned lo = conf->port_min, hi = conf->port_max, count, start;

	if (!lo && !hi) {
		lo = 16384;
		hi = 32767;
	}
	lo += lo & 1;
	if (conf->rtcp_port)
		hi--;
	if (lo < 1024 || hi > 65535 || lo > hi)
		return EINVAL;
	if (parse_ip(conf->addr, 0, &base, &len))
		return EINVAL;
	s->family = base.ss_family;
	count = (hi - lo) / 2 + 1;
	start = (unsigned)g_random_int_range(0, (gint32)count);
	for (unsigned i = 0; i < count; i++) {
		uint16_t port = (uint16_t)(lo + 2 * ((start + i) % count));
		int err = bind_one(s->family, &base, len, port, &s->fd[0]);

		if (!err && conf->rtcp_port) {
			err = bind_one(s->family, &base, len, (uint16_t)(port + 1), &s->fd[1]);
			if (err) {
				close(s->fd[0]);
				s->fd[0] = -1;
			}
		}
		if (!err) {
			s->port = port;
			return 0;
		}
		if (err != EADDRINUSE)
			return err;
	}
	return EADDRINUSE;
}

int tnd_rtpsock_alloc(struct tnd_rtpsock **sp, struct tnd_loop *worker,
		      const struct tnd_rtpsock_conf *conf, const struct tnd_rtpsock_handlers *h,
		      void *arg)
{
	struct tnd_rtpsock *s;
	int err;

	if (!sp || !worker || !conf || !conf->addr || !h || !tnd_loop_is_current(worker))
		return EINVAL;
	s = tnd_obj_zalloc(sizeof(*s), rtpsock_destroy);
	if (!s)
		return ENOMEM;
	s->fd[0] = s->fd[1] = -1;
	s->reg[0].fd = s->reg[1].fd = -1;
	s->loop = worker;
	s->poller = tnd_loop_poller(worker);
	s->ctx = tnd_loop_context(worker);
	s->h = *h;
	s->arg = arg;
	err = bind_pair(s, conf);
	if (err)
		goto out;
	for (int k = 0; k < 2; k++) {
		if (s->fd[k] < 0)
			continue;
		err = tnd_poller_add(s->poller, &s->reg[k], s->fd[k], k ? on_rtcp : on_rtp);
		if (err)
			goto out;
	}
 out:
	if (err)
		tnd_obj_put(s);
	else
		*sp = s;
	return err;
}

uint16_t tnd_rtpsock_port(const struct tnd_rtpsock *s)
{
	return s->port;
}

int tnd_rtpsock_set_remote(struct tnd_rtpsock *s, const char *ip, uint16_t port,
			   uint16_t rtcp_port)
{
	struct peer p[2];

	memset(p, 0, sizeof(p));
	if (!s || !port || parse_ip(ip, port, &p[0].sa, &p[0].len) ||
	    p[0].sa.ss_family != s->family)
		return EINVAL;
	p[1] = p[0];
	sa_set_port(&p[1].sa, rtcp_port ? rtcp_port : s->fd[1] >= 0 ? (uint16_t)(port + 1) : port);
	p[0].set = p[1].set = true;
	s->remote[0] = p[0];
	s->remote[1] = p[1];
	return 0;
}

static int send_to(struct tnd_rtpsock *s, int i, const uint8_t *pkt, size_t len)
{
	int fd = i && s->fd[1] >= 0 ? s->fd[1] : s->fd[0];
	struct peer *p = &s->remote[i];

	if (!p->set) {
		s->st.drop_no_remote++;
		return ENOTCONN;
	}
	if (sendto(fd, pkt, len, 0, (const struct sockaddr *)&p->sa, p->len) < 0) {
		int err = errno;

		s->st.send_err++;
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "sendto: %s", g_strerror(err));
		return err;
	}
	s->st.bytes_out += len;
	if (i)
		s->st.rtcp_out++;
	else
		s->st.rtp_out++;
	return 0;
}

int tnd_rtpsock_send_rtp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len)
{
	if (!s || !pkt)
		return EINVAL;
	return send_to(s, 0, pkt, len);
}

int tnd_rtpsock_send_rtcp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len)
{
	if (!s || !pkt)
		return EINVAL;
	return send_to(s, 1, pkt, len);
}

void tnd_rtpsock_remote(const struct tnd_rtpsock *s, char *buf, size_t size)
{
	if (s->remote[0].set)
		tnd_webrtc_sa_str(&s->remote[0].sa, buf, size);
	else
		snprintf(buf, size, "none");
}

void tnd_rtpsock_stats(const struct tnd_rtpsock *s, struct tnd_rtpsock_stats *st)
{
	*st = s->st;
}

bool tnd_rtpsock_has_remote(const struct tnd_rtpsock *s)
{
	return s->remote[0].set;
}

void tnd_rtpsock_detach(struct tnd_rtpsock *s)
{
	s->h = (struct tnd_rtpsock_handlers){ NULL, NULL };
	s->arg = NULL;
}
