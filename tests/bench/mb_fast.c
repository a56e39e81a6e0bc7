/* media-bench: the calls' media made cheaper than the relay's (--fast 1).
 *
 * The driver does per call the packet work of the relay (docs/benchmarks.md),
 * so on the same libraries it ran out of CPU first and the relay's ceiling
 * could only be extrapolated. What it does instead, once a call is up:
 * - the phones share one socket: one sendmmsg per 1 ms send phase for all the
 *   phones in it, recvmmsg in batches of 64 (a relay cannot: it has a socket
 *   per leg). Packets are told apart by the call index in their payload and
 *   checked against the call's relay address.
 * - each browser's socket (the pc's own, once it reads it itself) moves from
 *   the pc to this file: the driver protects and sends on it directly, reads
 *   it from its own epoll set, and answers the relay's consent checks.
 * - nothing wakes the driver per packet: its epoll set is read once per 1 ms
 *   tick, after the sends, and each datagram's arrival time is the kernel's
 *   (SO_TIMESTAMPNS), so reading late does not count as the relay's delay.
 *   It also spares the relay the cost of waking the driver for each packet,
 *   as udp-floor's driver does, and as a real network does.
 * - one browser packet in --decrypt-every is decrypted, authenticated and
 *   its payload checked (call index, the driver's sequence number, send
 *   time); the others, whose SRTP header is in the clear, are matched to
 *   their send time by sequence number (mb_media.c), which is what loss,
 *   latency and jitter need. A relay that corrupted or misrouted packets
 *   shows in the sample (rx_auth_fail, bad).
 * Reaching the pc's socket and SRTP session needs webrtc/'s private header:
 * the bench only, never the gateway. Main thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "gateway/base/poll.h"
#include "tests/bench/media_bench.h"
#include "webrtc/webrtc_int.h"

#define RX_BATCH 64
#define MAX_EVENTS 1024
#define TAG_PHONE UINT64_MAX
#define SOCK_BUF (8 << 20)
#define CTRL_SIZE 64   /* SO_TIMESTAMPNS and SO_RXQ_OVFL messages */

static struct {
	int epfd, pfd;                    /* owned: the epoll set; the phones' socket */
	uint16_t pport;
	struct mmsghdr *tx;               /* owned: the send batch */
	struct iovec *tx_iov;             /* owned */
	uint8_t *tx_buf;                  /* owned: TND_MB_PKT per entry */
	unsigned tx_n, tx_cap;
	struct mmsghdr rx[RX_BATCH];
	struct iovec rx_iov[RX_BATCH];
	struct sockaddr_in rx_from[RX_BATCH];
	uint8_t rx_buf[RX_BATCH][TND_POLL_BUF_SIZE];
	uint8_t rx_ctrl[RX_BATCH][CTRL_SIZE];
	uint32_t drops;                   /* SO_RXQ_OVFL: the socket's drop count */
	int64_t rt_off;                   /* CLOCK_REALTIME minus CLOCK_MONOTONIC, us */
	unsigned next_rtp, next_pc;       /* where bind_in looks next */
} fx = { .epfd = -1, .pfd = -1 };

/* Larger buffers: at 2,000 calls 100 datagrams a millisecond reach the
 * phones' socket. SO_RCVBUFFORCE passes rmem_max as root. */
static void big_buffers(int fd)
{
	int v = SOCK_BUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static void stamps_on(int fd)
{
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

/* A UDP socket on 127.0.0.1 at the first free port of [lo, hi] from
 * *next on (wrapping); *next moves past it. The fd, or -errno. */
static int bind_in(uint16_t lo, uint16_t hi, unsigned *next, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	for (unsigned i = 0; i <= (unsigned)(hi - lo); i++) {
		unsigned p = lo + (*next + i) % (unsigned)(hi - lo + 1);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			*port = (uint16_t)p;
			*next = p - lo + 1;
			return fd;
		}
	}
	close(fd);
	return -EADDRINUSE;
}

int tnd_mb_fast_start(struct tnd_mb *mb, unsigned max_calls)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = TAG_PHONE };
	int one = 1;

	fx.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fx.epfd < 0)
		return errno;
	fx.pfd = bind_in(mb->o.rtp_port_min, mb->o.rtp_port_max, &fx.next_rtp, &fx.pport);
	if (fx.pfd < 0)
		return -fx.pfd;
	big_buffers(fx.pfd);
	stamps_on(fx.pfd);
	setsockopt(fx.pfd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (epoll_ctl(fx.epfd, EPOLL_CTL_ADD, fx.pfd, &e))
		return errno;
	/* a phase holds every 20th call; a late tick sends one phase at a time */
	fx.tx_cap = max_calls / TND_MB_SLOTS + 1;
	fx.tx = g_new0(struct mmsghdr, fx.tx_cap);
	fx.tx_iov = g_new0(struct iovec, fx.tx_cap);
	fx.tx_buf = g_malloc((size_t)fx.tx_cap * TND_MB_PKT);
	for (unsigned i = 0; i < RX_BATCH; i++) {
		fx.rx_iov[i].iov_base = fx.rx_buf[i];
		fx.rx_iov[i].iov_len = sizeof(fx.rx_buf[i]);
	}
	return 0;
}

uint16_t tnd_mb_fast_phone_port(void)
{
	return fx.pport;
}

int tnd_mb_fast_phone_remote(struct tnd_mb_call *c, const char *ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || !port)
		return EINVAL;
	c->prelay = sa;
	c->prelay_set = true;
	return 0;
}

uint64_t tnd_mb_fast_rx_drops(void)
{
	return fx.drops;
}

/* ------------------------------------------------------------ browser socket */

void tnd_mb_fast_take(struct tnd_mb_call *c)
{
	/* direct.c keeps its poller registration first in its struct, for
	 * its own handler to find it: that is the socket and where it is read */
	struct tnd_poll_reg *reg = c->pc && c->pc->direct ? (struct tnd_poll_reg *)c->pc->direct :
				   NULL;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = c->idx };
	int fd;

	/* the credentials were kept from the offer: libnice, gone now, had them */
	if (c->taken || !reg || reg->fd < 0 || !c->pc->srtp || !c->ice_user)
		return;
	fd = reg->fd;
	tnd_poller_del(tnd_loop_poller(c->mb->loop), reg);
	stamps_on(fd);
	if (epoll_ctl(fx.epfd, EPOLL_CTL_ADD, fd, &e)) {
		fprintf(stderr, "media-bench: epoll_ctl: %s\n", strerror(errno));
		return;
	}
	c->bfd = fd;
	c->srtp = c->pc->srtp;
	c->taken = true;
}

int tnd_mb_fast_send_browser(struct tnd_mb_call *c, uint8_t *pkt, size_t len, size_t cap)
{
	size_t n = len;
	int err;

	/* until the relay's address is known the pc sends (same SRTP session) */
	if (!c->bconn)
		return c->pc ? tnd_pc_send_rtp(c->pc, pkt, len, cap) : ENOTCONN;
	err = tnd_srtp_protect(c->srtp, pkt, &n, cap, false);
	if (err)
		return err;
	return send(c->bfd, pkt, n, 0) < 0 ? errno : 0;
}

/* RFC 8445 7.3: the relay's checks (Tandem's consent, rtpengine's) need an
 * answer or the relay ends the call. Answers to the pc's own checks are
 * dropped: its consent timeout is a day (mb_call.c). */
static void stun_in(struct tnd_mb_call *c, uint8_t *buf, size_t len,
		    const struct sockaddr_in *from)
{
	struct tnd_stun_binding b;
	struct sockaddr_storage ss;
	struct tnd_stun_key key;
	uint8_t msg[600];
	size_t n, ul;
	int bad;

	if (!c->ice_user || tnd_stun_parse_binding(buf, len, &b) ||
	    b.type != TND_STUN_BINDING_REQUEST || !b.user)
		return;
	ul = strlen(c->ice_user);
	if (b.user_len <= ul || memcmp(b.user, c->ice_user, ul))
		return;
	/* a check every few seconds per call: keying per message is fine */
	tnd_stun_key_set(&key, c->ice_pwd);
	bad = tnd_stun_verify(buf, len, b.integrity_off, &key);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, from, sizeof(*from));
	n = bad ? 0 : tnd_stun_build_success(msg, sizeof(msg), b.txid, &ss, &key);
	tnd_stun_key_clear(&key);
	if (n)
		sendto(c->bfd, msg, n, 0, (const struct sockaddr *)from, sizeof(*from));
}

/* An SRTP packet at a taken browser socket: 1 in decrypt_every (and every
 * one until the relay's sequence offset is known) is decrypted. */
static void browser_rtp(struct tnd_mb_call *c, uint8_t *buf, size_t len, int64_t now)
{
	struct tnd_mb *mb = c->mb;
	bool win = mb->window;
	size_t n = len;

	if (len < TND_RTP_HDR_LEN)
		return;
	if (c->seq_off_known && ++c->brx % mb->o.decrypt_every) {
		if (tnd_mb_media_rx_seq(c, tnd_rtp_seq(buf), now))
			mb->rx_by_seq += win;
		else
			mb->rx_unmatched += win;
		return;
	}
	if (tnd_srtp_unprotect(c->srtp, buf, &n, false)) {
		c->s[TND_MB_P2B].bad++;
		mb->rx_auth_fail += win;
		return;
	}
	if (!tnd_mb_media_rx(c, TND_MB_P2B, buf, n, now))
		mb->rx_decrypted += win;
}

static void browser_in(struct tnd_mb_call *c, uint8_t *buf, size_t len,
		       const struct sockaddr_in *from, int64_t now)
{
	switch (tnd_demux_classify(buf, len)) {
	case TND_DEMUX_STUN:
		stun_in(c, buf, len, from);
		break;
	case TND_DEMUX_RTP:
		if (!c->bconn && !connect(c->bfd, (const struct sockaddr *)from, sizeof(*from)))
			c->bconn = true;
		if (c->state == TND_MB_C_UP)
			browser_rtp(c, buf, len, now);
		break;
	case TND_DEMUX_DTLS:
		/* a close_notify: the pc reports CLOSED and the call ends */
		if (c->pc) {
			tnd_pc_hold(c->pc);
			tnd_pc_input_nostun(c->pc, TND_DEMUX_DTLS, buf, len, true);
			tnd_pc_unhold(c->pc);
		}
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ phones */

int tnd_mb_fast_queue_phone(struct tnd_mb_call *c, const uint8_t *pkt, size_t len)
{
	unsigned i = fx.tx_n;
	uint8_t *b;

	if (!c->prelay_set || len > TND_MB_PKT)
		return ENOTCONN;
	if (i == fx.tx_cap)
		return ENOSPC;
	b = fx.tx_buf + (size_t)i * TND_MB_PKT;
	memcpy(b, pkt, len);
	fx.tx_iov[i].iov_base = b;
	fx.tx_iov[i].iov_len = len;
	fx.tx[i].msg_hdr = (struct msghdr){
		.msg_name = &c->prelay, .msg_namelen = sizeof(c->prelay),
		.msg_iov = &fx.tx_iov[i], .msg_iovlen = 1,
	};
	fx.tx_n++;
	return 0;
}

unsigned tnd_mb_fast_flush(struct tnd_mb *mb)
{
	unsigned done = 0, failed = 0;

	(void)mb;
	while (done < fx.tx_n) {
		int n = sendmmsg(fx.pfd, fx.tx + done, fx.tx_n - done, 0);

		if (n > 0) {
			done += (unsigned)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			/* pass over the one that failed, send the rest */
			done++;
			failed++;
		}
	}
	fx.tx_n = 0;
	return failed;
}

/* Arrival time of a datagram: the kernel's stamp, else now. */
static int64_t arrival(const struct msghdr *m, int64_t now)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR((struct msghdr *)m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SO_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - fx.rt_off;
		}
		if (cm->cmsg_type == SO_RXQ_OVFL)
			memcpy(&fx.drops, CMSG_DATA(cm), sizeof(fx.drops));
	}
	return now;
}

static void prep_rx(unsigned i)
{
	fx.rx[i].msg_hdr = (struct msghdr){
		.msg_name = &fx.rx_from[i], .msg_namelen = sizeof(fx.rx_from[i]),
		.msg_iov = &fx.rx_iov[i], .msg_iovlen = 1,
		.msg_control = fx.rx_ctrl[i], .msg_controllen = CTRL_SIZE,
	};
}

static void phone_in(struct tnd_mb *mb, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *from, int64_t now)
{
	struct tnd_mb_call *c;
	uint32_t idx;

	/* the call's index is at the payload's 8th byte (12 when no CSRC or
	 * extension, as every relay here sends); tnd_mb_media_rx checks all */
	if (len < TND_RTP_HDR_LEN + TND_MB_PL_MIN)
		return;
	idx = tnd_rtp_rd32(pkt + TND_RTP_HDR_LEN + 8);
	if (idx >= mb->n_calls)
		return;
	c = &mb->calls[idx];
	if (c->state != TND_MB_C_UP)
		return;
	/* only from the call's own relay port (the echo: its one socket) */
	if (from->sin_port != c->prelay.sin_port || from->sin_addr.s_addr !=
	    c->prelay.sin_addr.s_addr) {
		c->s[TND_MB_B2P].bad++;
		return;
	}
	tnd_mb_media_rx(c, TND_MB_B2P, pkt, len, now);
}

static void phones_read(struct tnd_mb *mb, int64_t now)
{
	int n;

	do {
		for (unsigned i = 0; i < RX_BATCH; i++)
			prep_rx(i);
		n = recvmmsg(fx.pfd, fx.rx, RX_BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++)
			phone_in(mb, fx.rx_buf[i], fx.rx[i].msg_len, &fx.rx_from[i],
				 arrival(&fx.rx[i].msg_hdr, now));
	} while (n == RX_BATCH);
}

/* One datagram per ready browser socket per tick: at 50 packets/s one
 * rarely waits behind another, and a second read would mostly find none. */
static void browser_read(struct tnd_mb_call *c, int64_t now)
{
	struct msghdr *m = &fx.rx[0].msg_hdr;
	ssize_t n;

	prep_rx(0);
	n = recvmsg(c->bfd, m, MSG_DONTWAIT);
	if (n <= 0)
		return;
	browser_in(c, fx.rx_buf[0], (size_t)n, &fx.rx_from[0], arrival(m, now));
}

void tnd_mb_fast_poll(struct tnd_mb *mb)
{
	struct epoll_event ev[MAX_EVENTS];
	int64_t now = g_get_monotonic_time();
	int n;

	fx.rt_off = g_get_real_time() - now;
	do {
		n = epoll_wait(fx.epfd, ev, MAX_EVENTS, 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == TAG_PHONE)
				phones_read(mb, now);
			else if (ev[i].data.u64 < mb->n_calls)
				browser_read(&mb->calls[ev[i].data.u64], now);
		}
	} while (n == MAX_EVENTS);
}

/* ------------------------------------------------------------ --target loop */

int tnd_mb_fast_loop_call(struct tnd_mb_call *c, const struct sockaddr_in *echo)
{
	struct tnd_mb *mb = c->mb;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = c->idx };
	struct tnd_srtp_keys k = {
		.profile = TND_SRTP_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12,
	};
	uint16_t port;
	int fd, err;

	/* the browser hears its own packets back: one key both ways */
	for (size_t i = 0; i < k.key_len + k.salt_len; i++)
		k.tx[i] = k.rx[i] = (uint8_t)g_random_int();
	err = tnd_srtp_alloc(&c->srtp, &k);
	if (err)
		return err;
	fd = bind_in(mb->o.pc_port_min, mb->o.pc_port_max, &fx.next_pc, &port);
	if (fd < 0)
		return -fd;
	if (connect(fd, (const struct sockaddr *)echo, sizeof(*echo)) ||
	    epoll_ctl(fx.epfd, EPOLL_CTL_ADD, fd, &e)) {
		err = errno;
		close(fd);
		return err;
	}
	stamps_on(fd);
	c->bfd = fd;
	c->taken = c->bconn = true;
	c->prelay = *echo;
	c->prelay_set = true;
	return 0;
}
