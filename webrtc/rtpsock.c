/* Plain RTP/AVP sockets toward SIP peers (RFC 3550, RFC 3551), with
 * symmetric RTP (RFC 4961 behaviour, for peers behind NAT) under the source
 * learning rules of learn.c (media-plane review H1, M2).
 *
 * One UDP socket on an even port, plus port + 1 for RTCP unless rtcp-mux
 * (RFC 5761). Receiving runs from the worker's epoll set (poll.h) into the
 * worker's receive buffer: no allocation per packet, no memory per socket.
 * A socket whose source has settled is connect()ed, so the kernel drops
 * other senders and sends take send(); it is disconnected when the source
 * goes quiet or the SDP address changes. Media sockets get DSCP EF and a
 * larger receive buffer (review L8). Worker thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "webrtc/webrtc_int.h"


struct tnd_rtpsock {
	struct tnd_obj obj;        /* first: refcount */
	/* everything below: OWNER: worker */
	struct tnd_loop *loop;     /* borrowed */
	GMainContext *ctx;         /* borrowed: the worker's */
	struct tnd_poller *poller; /* borrowed: the worker's */
	int fd[2];                 /* owned: RTP, RTCP (-1 with rtcp-mux) */
	struct tnd_poll_reg reg[2];
	bool connected[2];         /* fd[k] is connect()ed to learn's dst[k] */
	bool connect_failed[2];    /* no retry per packet until the next move */
	int family;
	uint16_t port;
	struct tnd_learn learn;    /* the learning rules' state (learn.c) */
	bool latch_logged;
	struct tnd_rtpsock_handlers h;
	void *arg;                 /* borrowed: the owner's */
	struct tnd_rtpsock_stats st;
	struct tnd_webrtc_release rel; /* the last reference's deferred put */
	struct tnd_srtp *srtp;     /* owned: SDES-SRTP keys, or NULL (plain RTP) */
	bool srtp_required;        /* no plain RTP, even before the keys */
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

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
					  sizeof(struct sockaddr_in6);
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
		snprintf(buf, size, "[%s]:%u", ip, tnd_webrtc_sa_port(ss));
	else
		snprintf(buf, size, "%s:%u", ip, tnd_webrtc_sa_port(ss));
}

ssize_t tnd_sock_recv_one(int fd, uint8_t *buf, struct sockaddr_storage *from, socklen_t *len)
{
	socklen_t cap = *len;

	/* one datagram per wake-up: epoll is level-triggered and reports the
	 * socket again while more wait, and reading on to EAGAIN would cost a
	 * second system call for nearly every packet (at 50 packets a second a
	 * socket rarely holds two). A few tries skip errors that ICMP queued
	 * for earlier sends. */
	for (int i = 0; i < 4; i++) {
		ssize_t n;

		*len = cap;
		n = recvfrom(fd, buf, TND_POLL_BUF_SIZE, MSG_TRUNC, (struct sockaddr *)from, len);
		if (n >= 0)
			return n;
		if (errno == EINTR || errno == ECONNREFUSED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			TND_LOG_RL(TND_LOG_WEBRTC, WARN, "recvfrom: %s", g_strerror(errno));
		break;
	}
	return -1;
}

int tnd_sock_media_opts(int fd, int family, int dscp, int rcvbuf)
{
	int err = 0;

	if (dscp >= 0) {
		int tos = (dscp & 0x3f) << 2;   /* DSCP sits above the 2 ECN bits */

		if (family == AF_INET6) {
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)))
				err = errno;
			/* a dual-stack socket's IPv4 packets; refused on v6-only */
			(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
		} else if (setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos))) {
			err = errno;
		}
	}
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) && !err)
		err = errno;
	return err;
}

/* Connects fd[k] to the learned destination, or (on false) dissolves the
 * association with AF_UNSPEC (connect(2)) so any sender reaches us again. */
static void set_connected(struct tnd_rtpsock *s, int k, bool on)
{
	const struct sockaddr_storage *dst = tnd_learn_dst(&s->learn, k);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	int rc;

	if (on && !dst)
		return;
	rc = on ? connect(s->fd[k], (const struct sockaddr *)dst, sa_len(dst)) :
		  connect(s->fd[k], &unspec, sizeof(unspec));
	if (rc) {
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "%sconnect on RT%sP port %u: %s", on ? "" : "dis",
			   k ? "C" : "", s->port + k, g_strerror(errno));
		if (on) {
			s->connect_failed[k] = true;
			return;
		}
	}
	s->connected[k] = on;
	if (!k)
		s->st.connected = on;
}

static void disconnect_all(struct tnd_rtpsock *s)
{
	for (int k = 0; k < 2; k++) {
		s->connect_failed[k] = false;
		if (s->connected[k])
			set_connected(s, k, false);
	}
}

static void log_move(struct tnd_rtpsock *s, int k, const struct sockaddr_storage *from)
{
	char to[64];

	tnd_webrtc_sa_str(from, to, sizeof(to));
	if (!s->latch_logged) {
		s->latch_logged = true;
		TND_LOG_NOTICE(TND_LOG_WEBRTC, "RT%sP from %s: sending there", k ? "C" : "", to);
	} else {
		TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "RT%sP from %s: sending there", k ? "C" : "",
			   to);
	}
}

/* True when the learning rules accept the packet; counts what they refuse
 * and follows a move with the sockets' connections. */
static bool learn(struct tnd_rtpsock *s, int k, bool rtcp, const struct tnd_rtp_hdr *hdr,
		  const struct sockaddr_storage *from)
{
	int64_t now = tnd_poller_now_us(s->poller);
	enum tnd_learn_verdict v;

	v = rtcp ? tnd_learn_rtcp(&s->learn, k == 1, from, now) :
		   tnd_learn_rtp(&s->learn, from, hdr->ssrc, hdr->seq, now);
	switch (v) {
	case TND_LEARN_FOREIGN:
		s->st.drop_foreign++;
		TND_LOG_RL(TND_LOG_WEBRTC, INFO, "RT%sP from a refused source on port %u",
			   rtcp ? "C" : "", s->port + k);
		return false;
	case TND_LEARN_PROBATION:
		s->st.drop_probation++;
		return false;
	case TND_LEARN_MOVED:
		/* rare, and a connected socket only hears its destination: drop
		 * every connection and let settled sources reconnect */
		s->st.latches++;
		log_move(s, rtcp && k ? 1 : 0, from);
		disconnect_all(s);
		break;
	case TND_LEARN_ACCEPT:
		break;
	}
	s->st.last_rx_us = now;
	if (!s->connected[k] && !s->connect_failed[k] && tnd_learn_settled(&s->learn, k, now))
		set_connected(s, k, true);
	return true;
}

static void handle(struct tnd_rtpsock *s, int k, uint8_t *rx, size_t n,
		   const struct sockaddr_storage *from)
{
	struct tnd_rtp_hdr hdr;
	enum tnd_demux d = tnd_demux_classify(rx, n);
	bool rtcp;

	/* SDES-SRTP: authenticate first, so that nothing unauthenticated
	 * reaches the learning rules or the owner; the checks below then run
	 * on the plaintext */
	if ((d == TND_DEMUX_RTP || d == TND_DEMUX_RTCP) &&
	    (s->srtp ? tnd_srtp_unprotect(s->srtp, rx, &n, d == TND_DEMUX_RTCP) != 0 :
	     s->srtp_required)) {
		s->st.drop_srtp++;
		TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "SRT%sP on port %u did not authenticate",
			   d == TND_DEMUX_RTCP ? "C" : "", s->port + k);
		return;
	}
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
	if (!learn(s, k, rtcp, &hdr, from))
		return;
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

static void read_one(struct tnd_rtpsock *s, int k)
{
	uint8_t *rx = tnd_poller_rx_buf(s->poller);
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	ssize_t n;

	/* no reference per datagram (review L11): the owner lets go through
	 * tnd_rtpsock_release(), whose last put waits for the batch's end */
	n = tnd_sock_recv_one(s->fd[k], rx, &from, &len);
	if (n > TND_PC_MAX_PACKET)
		s->st.drop_too_big++;
	else if (n >= 0)
		handle(s, k, rx, (size_t)n, &from);
}

void tnd_rtpsock_release(struct tnd_rtpsock *s)
{
	if (s)
		tnd_webrtc_put_later(&s->obj, s->poller, &s->rel);
}

/* the owner from the registration embedded in it */
static void on_rtp(struct tnd_poll_reg *reg, uint32_t events)
{
	(void)events;
	read_one((struct tnd_rtpsock *)((char *)reg - offsetof(struct tnd_rtpsock, reg[0])), 0);
}

static void on_rtcp(struct tnd_poll_reg *reg, uint32_t events)
{
	(void)events;
	read_one((struct tnd_rtpsock *)((char *)reg - offsetof(struct tnd_rtpsock, reg[1])), 1);
}

static void rtpsock_destroy(void *data)
{
	struct tnd_rtpsock *s = data;

	tnd_srtp_free(s->srtp);
	for (int k = 0; k < 2; k++) {
		tnd_poller_del(s->poller, &s->reg[k]);
		if (s->fd[k] >= 0)
			close(s->fd[k]);
	}
}

static int bind_one(const struct tnd_rtpsock_conf *conf, int family,
		    const struct sockaddr_storage *base, socklen_t len, uint16_t port, int *fdp)
{
	struct sockaddr_storage sa = *base;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return errno;
	tnd_webrtc_sa_set_port(&sa, port);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	err = tnd_sock_media_opts(fd, family, conf->dscp ? conf->dscp : TND_RTPSOCK_DSCP_EF,
				  conf->rcvbuf ? (int)conf->rcvbuf : TND_RTPSOCK_RCVBUF);
	if (err)
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "DSCP or receive buffer on port %u: %s", port,
			   g_strerror(err));
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
		int err = bind_one(conf, s->family, &base, len, port, &s->fd[0]);

		if (!err && conf->rtcp_port) {
			err = bind_one(conf, s->family, &base, len, (uint16_t)(port + 1),
				       &s->fd[1]);
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
	s->srtp_required = conf->srtp_required;
	tnd_learn_init(&s->learn, &(struct tnd_learn_conf){
		.strict = conf->strict, .mux = !conf->rtcp_port, .probation = conf->probation,
		.window_ms = conf->learn_window_ms, .alive_ms = conf->alive_ms,
	});
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
			   uint16_t rtcp_port, bool *moved)
{
	struct sockaddr_storage sa[2];
	socklen_t len;
	bool changed;

	if (!s || !port || parse_ip(ip, port, &sa[0], &len) || sa[0].ss_family != s->family)
		return EINVAL;
	sa[1] = sa[0];
	tnd_webrtc_sa_set_port(&sa[1], rtcp_port ? rtcp_port :
				       s->fd[1] >= 0 ? (uint16_t)(port + 1) : port);
	changed = tnd_learn_set_sdp(&s->learn, &sa[0], &sa[1], g_get_monotonic_time());
	if (changed)
		disconnect_all(s);
	if (moved)
		*moved = changed;
	return 0;
}

int tnd_rtpsock_set_signal_ip(struct tnd_rtpsock *s, const char *ip)
{
	struct sockaddr_storage sa;
	socklen_t len;

	if (!s || parse_ip(ip, 0, &sa, &len) || sa.ss_family != s->family)
		return EINVAL;
	if (tnd_learn_set_signal(&s->learn, &sa))
		disconnect_all(s);
	return 0;
}

/* i: 0 RTP, 1 RTCP; k: the socket, which is also the learning channel */
static int send_to(struct tnd_rtpsock *s, int i, const uint8_t *pkt, size_t len)
{
	int k = i && s->fd[1] >= 0 ? 1 : 0;
	const struct sockaddr_storage *dst = tnd_learn_dst(&s->learn, k);
	ssize_t n;

	if (!dst) {
		s->st.drop_no_remote++;
		return ENOTCONN;
	}
	/* a source gone quiet may be a NAT rebinding: let its new port reach
	 * the learning rules again */
	if (s->connected[k] && !tnd_learn_alive(&s->learn, k, tnd_poller_now_us(s->poller)))
		set_connected(s, k, false);
	if (s->connected[k])
		n = send(s->fd[k], pkt, len, 0);
	else
		n = sendto(s->fd[k], pkt, len, 0, (const struct sockaddr *)dst, sa_len(dst));
	if (n < 0) {
		int err = errno;

		s->st.send_err++;
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "send: %s", g_strerror(err));
		return err;
	}
	s->st.bytes_out += len;
	if (i)
		s->st.rtcp_out++;
	else
		s->st.rtp_out++;
	return 0;
}

/* With SDES-SRTP the packet is protected in a copy: the caller's buffer is
 * const (the bridge may still use it) and has no promised tailroom. */
static int send_srtp(struct tnd_rtpsock *s, int i, const uint8_t *pkt, size_t len)
{
	uint8_t buf[TND_PC_MAX_PACKET + TND_PC_SRTP_OVERHEAD];
	int err;

	if (len > TND_PC_MAX_PACKET)
		return ENOSPC;
	memcpy(buf, pkt, len);
	err = tnd_srtp_protect(s->srtp, buf, &len, sizeof(buf), i != 0);
	if (err) {
		s->st.send_err++;
		return err;
	}
	return send_to(s, i, buf, len);
}

int tnd_rtpsock_send_rtp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len)
{
	if (!s || !pkt)
		return EINVAL;
	if (!s->srtp && s->srtp_required)
		return ENOTCONN;   /* never in clear; the keys come before a remote */
	return s->srtp ? send_srtp(s, 0, pkt, len) : send_to(s, 0, pkt, len);
}

int tnd_rtpsock_send_rtcp(struct tnd_rtpsock *s, const uint8_t *pkt, size_t len)
{
	if (!s || !pkt)
		return EINVAL;
	if (!s->srtp && s->srtp_required)
		return ENOTCONN;
	return s->srtp ? send_srtp(s, 1, pkt, len) : send_to(s, 1, pkt, len);
}

int tnd_rtpsock_set_srtp(struct tnd_rtpsock *s, const char *suite, const uint8_t *tx,
			 size_t tx_len, const uint8_t *rx, size_t rx_len)
{
	struct tnd_srtp_keys k;
	int err;

	if (!s || !suite || !tx || !rx)
		return EINVAL;
	if (s->srtp)
		return EALREADY;
	err = tnd_srtp_keys_sdes(&k, suite, tx, tx_len, rx, rx_len);
	if (err)
		return err;
	err = tnd_srtp_alloc(&s->srtp, &k);
	OPENSSL_cleanse(&k, sizeof(k));
	return err;
}

static void remote_str(const struct tnd_rtpsock *s, int k, char *buf, size_t size)
{
	const struct sockaddr_storage *dst = tnd_learn_dst(&s->learn, k && s->fd[1] >= 0);

	if (dst)
		tnd_webrtc_sa_str(dst, buf, size);
	else
		snprintf(buf, size, "none");
}

void tnd_rtpsock_remote(const struct tnd_rtpsock *s, char *buf, size_t size)
{
	remote_str(s, 0, buf, size);
}

void tnd_rtpsock_remote_rtcp(const struct tnd_rtpsock *s, char *buf, size_t size)
{
	remote_str(s, 1, buf, size);
}

void tnd_rtpsock_stats(const struct tnd_rtpsock *s, struct tnd_rtpsock_stats *st)
{
	*st = s->st;
}

bool tnd_rtpsock_has_remote(const struct tnd_rtpsock *s)
{
	return tnd_learn_dst(&s->learn, 0) != NULL;
}

void tnd_rtpsock_detach(struct tnd_rtpsock *s)
{
	s->h = (struct tnd_rtpsock_handlers){ NULL, NULL };
	s->arg = NULL;
}
