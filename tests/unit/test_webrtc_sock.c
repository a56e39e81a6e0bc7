/* The SIP leg's transport: source learning (webrtc/learn.c) against
 * scripted time, then struct tnd_rtpsock on 127.0.0.1 (RTP Bleed refused,
 * NAT port changes followed, RTCP pinned to the RTP source's IP, connected
 * sockets, garbage counted, DSCP), then the SRTP wrapper's refusals (an
 * index protected twice, too many inbound SSRCs). Media-plane review H1,
 * M2, C1, L3, L8, M10.
 *
 * The SIP peer is plain UDP sockets on the test thread: the real peer on
 * 127.0.0.2, strangers on 127.0.0.3 (Linux routes all of 127/8 to lo), so
 * "same IP" and "another IP" both exist on loopback. The rtpsock lives on a
 * worker and is driven through tnd_test_run_on(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/obj.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define PEER_IP "127.0.0.2"
#define STRANGER_IP "127.0.0.3"

/* ------------------------------------------------------------ learn.c */

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

#define MS 1000LL   /* learn.c's clock is in microseconds */
#define T0 (100 * 1000 * MS)

static bool dst_is(const struct tnd_learn *l, int k, const struct sockaddr_storage *sa)
{
	const struct sockaddr_storage *d = tnd_learn_dst(l, k);

	return d && tnd_webrtc_sa_equal(d, sa);
}

static void learn_start(struct tnd_learn *l, bool strict, const struct sockaddr_storage *sdp)
{
	struct sockaddr_storage rtcp = *sdp;
	const struct tnd_learn_conf c = { .strict = strict };

	tnd_webrtc_sa_set_port(&rtcp, (uint16_t)(tnd_webrtc_sa_port(sdp) + 1));
	tnd_learn_init(l, &c);
	tnd_learn_set_sdp(l, sdp, &rtcp, T0);
}

/* An attacker sprays one packet per port (a new SSRC and sequence each)
 * before the peer speaks: probation stops every one; the peer is accepted
 * from its first packet and from then on nobody else is, within the window
 * or after it. */
int test_learn_spray_before_peer(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), evil = v4("192.0.2.66", 4000);
	struct tnd_learn l;

	learn_start(&l, false, &sdp);
	for (uint32_t i = 0; i < 50; i++) {
		tnd_webrtc_sa_set_port(&evil, (uint16_t)(4000 + i));
		TEST_ASSERT(tnd_learn_rtp(&l, &evil, 0x1000 + i, (uint16_t)(i * 77), T0 + i * MS) ==
			    TND_LEARN_PROBATION);
		TEST_ASSERT(dst_is(&l, 0, &sdp));
	}
	TEST_ASSERT(tnd_learn_rtp(&l, &sdp, 7, 1, T0 + 60 * MS) == TND_LEARN_ACCEPT);
	TEST_ASSERT(tnd_learn_settled(&l, 0, T0 + 60 * MS));
	/* an in-sequence stream from the attacker now: refused, peer alive */
	for (uint16_t i = 0; i < 5; i++)
		TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, i, T0 + (80 + i * 20) * MS) ==
			    TND_LEARN_FOREIGN);
	/* past the window, even with the peer silent for long */
	for (uint16_t i = 0; i < 5; i++)
		TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, (uint16_t)(10 + i), T0 + 60000 * MS) ==
			    TND_LEARN_FOREIGN);
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	return 0;
}

/* The SDP names a port the NAT does not use: another port of the SDP IP is
 * learned after two in-sequence packets with one SSRC, at any time, and the
 * RTCP destination follows it (port + 1). A stranger's interleaved packets
 * do not reset that probation. The SDP address wins back at once. */
int test_learn_nat_port_change(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), nat = v4("10.0.0.1", 31000);
	struct sockaddr_storage nat_rtcp = v4("10.0.0.1", 31001), evil = v4("192.0.2.66", 4000);
	struct tnd_learn l;
	int64_t t = T0 + 10000 * MS;   /* past the learning window */

	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 100, t) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &evil, 6, 7, t + 5 * MS) == TND_LEARN_FOREIGN);
	/* out of sequence: probation starts over */
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 102, t + 20 * MS) == TND_LEARN_PROBATION);
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 103, t + 40 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 0, &nat) && dst_is(&l, 1, &nat_rtcp));
	TEST_ASSERT(tnd_learn_settled(&l, 0, t + 40 * MS));
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 104, t + 60 * MS) == TND_LEARN_ACCEPT);
	/* the SDP address itself: always accepted, and preferred */
	TEST_ASSERT(tnd_learn_rtp(&l, &sdp, 8, 1, t + 80 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 105, t + 100 * MS) == TND_LEARN_FOREIGN);
	return 0;
}

/* The signalling source's IP counts like the SDP IP (strict mode too). */
int test_learn_signal_ip(void)
{
	struct sockaddr_storage sdp = v4("192.168.1.20", 4000), pub = v4("203.0.113.5", 40000);
	struct sockaddr_storage sig = v4("203.0.113.5", 5060), other = v4("203.0.113.6", 5060);
	struct tnd_learn l;
	int64_t t = T0 + 10000 * MS;

	learn_start(&l, true, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &pub, 1, 1, t) == TND_LEARN_FOREIGN);
	tnd_learn_set_signal(&l, &sig);
	TEST_ASSERT(tnd_learn_rtp(&l, &pub, 1, 2, t + 20 * MS) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &pub, 1, 3, t + 40 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 0, &pub));
	/* strict: a new signalling IP takes the old one's source away */
	TEST_ASSERT(tnd_learn_set_signal(&l, &other));
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	return 0;
}

/* The peer pauses 2 s (hold, DTX): neither a stranger nor another port of
 * its own IP may take over while it counts as alive (5 s); then its own IP
 * may, a stranger still not (the window is over). */
int test_learn_alive_refuses(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), nat = v4("10.0.0.1", 31000);
	struct sockaddr_storage evil = v4("192.0.2.66", 4000);
	struct tnd_learn l;
	int64_t t = T0 + 100 * MS;

	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &sdp, 1, 1, t) == TND_LEARN_ACCEPT);
	t += 2000 * MS;
	TEST_ASSERT(tnd_learn_window_open(&l, t));
	for (uint16_t i = 0; i < 5; i++) {
		TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, i, t + i * 20 * MS) == TND_LEARN_FOREIGN);
		TEST_ASSERT(tnd_learn_rtp(&l, &nat, 8, i, t + i * 20 * MS) == TND_LEARN_FOREIGN);
	}
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	t += 3100 * MS;   /* 5.1 s of silence */
	TEST_ASSERT(!tnd_learn_alive(&l, 0, t) && !tnd_learn_window_open(&l, t));
	TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, 10, t) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, 11, t + 20 * MS) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 8, 10, t) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 8, 11, t + 20 * MS) == TND_LEARN_MOVED);
	return 0;
}

/* Outside strict mode another IP is learned in the window while the SDP
 * address is silent (a peer whose SDP shows its private address), and the
 * SDP address, or its IP, still wins back. Strict mode never learns it. */
int test_learn_strict(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), other = v4("192.0.2.66", 4000);
	struct sockaddr_storage nat = v4("10.0.0.1", 31000);
	struct tnd_learn l;

	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 1, T0 + 10 * MS) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 2, T0 + 30 * MS) == TND_LEARN_MOVED);
	/* not settled (no connect) while the window is open */
	TEST_ASSERT(!tnd_learn_settled(&l, 0, T0 + 30 * MS));
	TEST_ASSERT(tnd_learn_settled(&l, 0, T0 + 3000 * MS));
	TEST_ASSERT(tnd_learn_rtp(&l, &sdp, 1, 1, T0 + 50 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 0, &sdp));
	/* the stranger cannot return while the peer is alive */
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 3, T0 + 70 * MS) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 4, T0 + 90 * MS) == TND_LEARN_FOREIGN);

	/* a stranger streamed first and is alive: the peer's NAT port (its
	 * SDP IP) still takes over after probation */
	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 1, T0 + 10 * MS) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 2, T0 + 30 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 1, T0 + 40 * MS) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 2, T0 + 50 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 0, &nat));
	TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, 3, T0 + 60 * MS) == TND_LEARN_FOREIGN);

	learn_start(&l, true, &sdp);
	for (uint16_t i = 0; i < 10; i++)
		TEST_ASSERT(tnd_learn_rtp(&l, &other, 9, i, T0 + i * 20 * MS) ==
			    TND_LEARN_FOREIGN);
	TEST_ASSERT(dst_is(&l, 0, &sdp) && !tnd_learn_settled(&l, 0, T0 + 10000 * MS));
	return 0;
}

/* A 200 repeating the 183's SDP does not reopen learning; a new SDP
 * address starts afresh, window included. */
int test_learn_same_sdp(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), sdp_rtcp = v4("10.0.0.1", 4001);
	struct sockaddr_storage nat = v4("10.0.0.1", 31000), evil = v4("192.0.2.66", 4000);
	struct sockaddr_storage next = v4("10.0.0.2", 6000), next_rtcp = v4("10.0.0.2", 6001);
	struct tnd_learn l;
	int64_t t = T0 + 10000 * MS;

	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 1, t) == TND_LEARN_PROBATION);
	TEST_ASSERT(tnd_learn_rtp(&l, &nat, 5, 2, t + 20 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(!tnd_learn_set_sdp(&l, &sdp, &sdp_rtcp, t + 30 * MS));
	TEST_ASSERT(dst_is(&l, 0, &nat) && tnd_learn_alive(&l, 0, t + 30 * MS));
	/* the window did not reopen either */
	TEST_ASSERT(tnd_learn_rtp(&l, &evil, 9, 1, t + 6000 * MS) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_set_sdp(&l, &next, &next_rtcp, t + 6100 * MS));
	TEST_ASSERT(dst_is(&l, 0, &next) && dst_is(&l, 1, &next_rtcp));
	TEST_ASSERT(!tnd_learn_alive(&l, 0, t + 6100 * MS));
	TEST_ASSERT(tnd_learn_window_open(&l, t + 6200 * MS));
	return 0;
}

/* RTCP, on either port, only from the RTP destination's IP; the RTCP port
 * is learned there and not moved while alive; with rtcp-mux the same. */
int test_learn_rtcp(void)
{
	struct sockaddr_storage sdp = v4("10.0.0.1", 4000), sdp_rtcp = v4("10.0.0.1", 4001);
	struct sockaddr_storage nat = v4("10.0.0.1", 31001), nat2 = v4("10.0.0.1", 31003);
	struct sockaddr_storage evil = v4("192.0.2.66", 4001);
	const struct tnd_learn_conf mux = { .mux = true };
	struct tnd_learn l;

	learn_start(&l, false, &sdp);
	TEST_ASSERT(tnd_learn_rtcp(&l, true, &evil, T0) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtcp(&l, false, &evil, T0) == TND_LEARN_FOREIGN);
	TEST_ASSERT(dst_is(&l, 1, &sdp_rtcp));
	TEST_ASSERT(tnd_learn_rtcp(&l, true, &nat, T0 + 10 * MS) == TND_LEARN_MOVED);
	TEST_ASSERT(dst_is(&l, 1, &nat) && dst_is(&l, 0, &sdp));
	TEST_ASSERT(tnd_learn_settled(&l, 1, T0 + 10 * MS));
	TEST_ASSERT(tnd_learn_rtcp(&l, true, &nat2, T0 + 5000 * MS) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtcp(&l, true, &nat, T0 + 5000 * MS) == TND_LEARN_ACCEPT);
	/* RTCP on the RTP port from the peer's IP: delivered, moves nothing */
	TEST_ASSERT(tnd_learn_rtcp(&l, false, &nat2, T0 + 5100 * MS) == TND_LEARN_ACCEPT);
	TEST_ASSERT(dst_is(&l, 0, &sdp) && dst_is(&l, 1, &nat));

	tnd_learn_init(&l, &mux);
	TEST_ASSERT(tnd_learn_rtcp(&l, false, &sdp, T0) == TND_LEARN_FOREIGN);   /* no SDP yet */
	tnd_learn_set_sdp(&l, &sdp, &sdp, T0);
	TEST_ASSERT(tnd_learn_rtcp(&l, false, &evil, T0) == TND_LEARN_FOREIGN);
	TEST_ASSERT(tnd_learn_rtcp(&l, false, &sdp, T0) == TND_LEARN_ACCEPT);
	TEST_ASSERT(dst_is(&l, 1, &sdp) && tnd_learn_settled(&l, 0, T0));
	return 0;
}

/* ------------------------------------------------------------ struct tnd_rtpsock */

struct sock {
	struct tnd_loop *loop;           /* owned by the test */
	struct tnd_rtpsock *s;           /* ref; OWNER: worker */
	struct tnd_rtpsock_conf conf;    /* for do_alloc */
	uint16_t port;
	const char *remote_ip;           /* arguments for do_remote */
	uint16_t remote_port;
	char remote[64], remote_rtcp[64];   /* copied by do_stats */
	struct tnd_rtpsock_stats st;
	_Atomic int n_rtp, n_rtcp;       /* written by the worker's handlers */
};

static void on_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct sock *k = arg;

	(void)pkt;
	(void)len;
	k->n_rtp++;
}

static void on_rtcp(void *arg, uint8_t *pkt, size_t len)
{
	struct sock *k = arg;

	(void)pkt;
	(void)len;
	k->n_rtcp++;
}

static int do_alloc(void *ctx, const char *unused)
{
	const struct tnd_rtpsock_handlers h = { .rtp = on_rtp, .rtcp = on_rtcp };
	struct sock *k = ctx;
	int err;

	(void)unused;
	k->conf.addr = "127.0.0.1";
	k->conf.port_min = 21000;
	k->conf.port_max = 29999;
	k->conf.rtcp_port = true;
	err = tnd_rtpsock_alloc(&k->s, k->loop, &k->conf, &h, k);
	if (!err)
		k->port = tnd_rtpsock_port(k->s);
	return err;
}

static int do_remote(void *ctx, const char *unused)
{
	struct sock *k = ctx;

	(void)unused;
	return tnd_rtpsock_set_remote(k->s, k->remote_ip ? k->remote_ip : PEER_IP,
				      k->remote_port, 0, NULL);
}

static int do_send_rtp(void *ctx, const char *unused)
{
	static const uint8_t pkt[16] = {
		0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff,
	};
	struct sock *k = ctx;

	(void)unused;
	return tnd_rtpsock_send_rtp(k->s, pkt, sizeof(pkt));
}

static int do_send_rtcp(void *ctx, const char *unused)
{
	static const uint8_t rr[8] = { 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 9 };
	struct sock *k = ctx;

	(void)unused;
	return tnd_rtpsock_send_rtcp(k->s, rr, sizeof(rr));
}

static int do_stats(void *ctx, const char *unused)
{
	struct sock *k = ctx;

	(void)unused;
	tnd_rtpsock_stats(k->s, &k->st);
	tnd_rtpsock_remote(k->s, k->remote, sizeof(k->remote));
	tnd_rtpsock_remote_rtcp(k->s, k->remote_rtcp, sizeof(k->remote_rtcp));
	return 0;
}

static int do_release(void *ctx, const char *unused)
{
	struct sock *k = ctx;

	(void)unused;
	k->s = tnd_obj_put(k->s);
	return 0;
}

/* A UDP socket on `ip` standing in for a SIP peer (or a stranger). */
static int peer_open(const char *ip, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int peer_send(int fd, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)len ? 0 : 1;
}

/* RTP with this SSRC and sequence number. */
static int peer_rtp(int fd, uint16_t port, uint32_t ssrc, uint16_t seq)
{
	uint8_t pkt[20] = { 0x80, 0 };

	tnd_rtp_set_seq(pkt, seq);
	tnd_rtp_set_ts(pkt, seq * 160u);
	tnd_rtp_set_ssrc(pkt, ssrc);
	return peer_send(fd, port, pkt, sizeof(pkt));
}

/* Bytes of one datagram within ms, or -1. */
static ssize_t peer_recv(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[2048];

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, buf, sizeof(buf), 0);
}

/* Polls the worker's counters until `field` reaches want. */
static bool wait_count(struct sock *k, const uint64_t *field, uint64_t want)
{
	for (int i = 0; i < 2000; i++) {
		if (tnd_test_run_on(k->loop, do_stats, k))
			return false;
		if (*field >= want)
			return true;
		g_usleep(1000);
	}
	return false;
}

static bool remote_is(struct sock *k, uint16_t port)
{
	char want[64];

	snprintf(want, sizeof(want), PEER_IP ":%u", port);
	return tnd_test_run_on(k->loop, do_stats, k) == 0 && !strcmp(k->remote, want);
}

typedef int (sock_test_h)(struct sock *k, const int *fd, const uint16_t *port);

/* Runs body with an rtpsock made from conf on a worker and peers[i] bound
 * to ips[i]; checks that nothing leaks. */
static int with_sock(const struct tnd_rtpsock_conf *conf, const char *const *ips, int n,
		     sock_test_h *body)
{
	long live = tnd_obj_live();
	struct sock k;
	int fd[4] = { -1, -1, -1, -1 }, rc = 1;
	uint16_t port[4] = { 0 };

	memset(&k, 0, sizeof(k));
	if (conf)
		k.conf = *conf;
	for (int i = 0; i < n; i++)
		if ((fd[i] = peer_open(ips[i], &port[i])) < 0)
			goto out;
	if (tnd_loop_alloc(&k.loop, "w0", 1) || tnd_loop_thread_start(k.loop))
		goto out;
	if (tnd_test_run_on(k.loop, do_alloc, &k))
		goto out;
	rc = body(&k, fd, port);
	tnd_test_run_on(k.loop, do_release, &k);
	if (!tnd_test_wait_live(live, 2000))
		rc = 1;
 out:
	tnd_loop_free(k.loop);
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

static const char *const peer_stranger[] = { PEER_IP, STRANGER_IP };

/* Was: one packet from p2 moved the remote to p2 (RTP Bleed). Now a
 * stranger's spray before the peer speaks takes nothing; the peer is
 * accepted at once and its socket connected, after which the kernel drops
 * the stranger's stream before it reaches us. */
static int no_hijack(struct sock *k, const int *fd, const uint16_t *port)
{
	TEST_ASSERT(k->port % 2 == 0 && k->port >= 21000 && k->port < 29999);
	/* before any remote: nothing to send to */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == ENOTCONN);
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16);

	/* the spray: a new SSRC and sequence number every packet */
	for (uint16_t i = 0; i < 20; i++)
		TEST_ASSERT(peer_rtp(fd[1], k->port, 0x5000u + i, (uint16_t)(i * 1000)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_probation, 20));
	TEST_ASSERT(k->st.latches == 0 && k->n_rtp == 0 && !k->st.connected);
	TEST_ASSERT(remote_is(k, port[0]));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16 && peer_recv(fd[1], 50) < 0);

	/* the peer speaks: accepted, settled, connected */
	TEST_ASSERT(peer_rtp(fd[0], k->port, 7, 1) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1));
	TEST_ASSERT(k->st.connected && k->st.last_rx_us > 0 && k->n_rtp == 1);

	/* an in-sequence stream from the stranger, then the peer again: only
	 * the peer's packet reaches the socket */
	for (uint16_t i = 0; i < 5; i++)
		TEST_ASSERT(peer_rtp(fd[1], k->port, 9, i) == 0);
	TEST_ASSERT(peer_rtp(fd[0], k->port, 7, 2) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 2));
	TEST_ASSERT(k->n_rtp == 2 && k->st.drop_foreign == 0 && k->st.drop_probation == 20);
	TEST_ASSERT(k->st.latches == 0 && remote_is(k, port[0]));
	/* send() on the connected socket reaches the peer, not the stranger */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16 && peer_recv(fd[1], 50) < 0);
	return 0;
}

int test_rtpsock_no_hijack(void)
{
	return with_sock(NULL, peer_stranger, 2, no_hijack);
}

/* The peer speaks, pauses 2 s (hold, DTX), and a stranger streams in
 * sequence meanwhile: refused. The peer counts as alive for 5 s, so its
 * socket stays connected and the kernel drops the stream; the learning
 * rules' own refusal is test_learn_alive_refuses. */
static int pause_then_attacker(struct sock *k, const int *fd, const uint16_t *port)
{
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(peer_rtp(fd[0], k->port, 7, 1) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1) && k->st.connected);
	g_usleep(2000 * 1000);
	for (uint16_t i = 0; i < 5; i++)
		TEST_ASSERT(peer_rtp(fd[1], k->port, 9, i) == 0);
	TEST_ASSERT(peer_rtp(fd[0], k->port, 7, 2) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 2));
	TEST_ASSERT(k->st.latches == 0 && k->n_rtp == 2 && remote_is(k, port[0]));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16 && peer_recv(fd[1], 50) < 0);
	return 0;
}

int test_rtpsock_pause_then_attacker(void)
{
	return with_sock(NULL, peer_stranger, 2, pause_then_attacker);
}

/* Strict mode: a stranger's stream, before the peer speaks and inside the
 * learning window, is refused and counted; the peer's packet is taken. */
static int strict(struct sock *k, const int *fd, const uint16_t *port)
{
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	for (uint16_t i = 0; i < 6; i++)
		TEST_ASSERT(peer_rtp(fd[1], k->port, 9, i) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_foreign, 6));
	TEST_ASSERT(k->st.latches == 0 && k->st.drop_probation == 0 && k->n_rtp == 0);
	TEST_ASSERT(remote_is(k, port[0]));
	TEST_ASSERT(peer_rtp(fd[0], k->port, 7, 1) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1) && k->st.connected);
	return 0;
}

int test_rtpsock_strict(void)
{
	const struct tnd_rtpsock_conf conf = { .strict = true };

	return with_sock(&conf, peer_stranger, 2, strict);
}

static const char *const peer_peer2[] = { PEER_IP, PEER_IP, PEER_IP };

/* The SDP names port[0], the NAT sends from port[1]: followed after two
 * in-sequence packets, replies go there over a connected socket. The source
 * then goes quiet past alive_ms: our next send disconnects, and the NAT's
 * next port (port[2]) is learned the same way. */
static int nat_port_change(struct sock *k, const int *fd, const uint16_t *port)
{
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(peer_rtp(fd[1], k->port, 7, 100) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_probation, 1));
	TEST_ASSERT(remote_is(k, port[0]) && k->n_rtp == 0);
	TEST_ASSERT(peer_rtp(fd[1], k->port, 7, 101) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1));
	TEST_ASSERT(k->st.latches == 1 && k->st.connected && remote_is(k, port[1]));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[1], 2000) == 16 && peer_recv(fd[0], 50) < 0);

	g_usleep(400 * 1000);   /* alive_ms is 300 here */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[1], 2000) == 16);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_stats, k) == 0 && !k->st.connected);
	TEST_ASSERT(peer_rtp(fd[2], k->port, 8, 5) == 0);
	TEST_ASSERT(peer_rtp(fd[2], k->port, 8, 6) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 2));
	TEST_ASSERT(k->st.latches == 2 && k->st.connected && remote_is(k, port[2]));
	return 0;
}

int test_rtpsock_nat_port_change(void)
{
	const struct tnd_rtpsock_conf conf = { .alive_ms = 300 };

	return with_sock(&conf, peer_peer2, 3, nat_port_change);
}

/* set_remote with the same address (183, then 200) keeps what was learned;
 * a new address restarts: replies go there and the socket is disconnected
 * until it speaks. */
static int same_remote(struct sock *k, const int *fd, const uint16_t *port)
{
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(peer_rtp(fd[1], k->port, 7, 1) == 0);
	TEST_ASSERT(peer_rtp(fd[1], k->port, 7, 2) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1) && remote_is(k, port[1]));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(remote_is(k, port[1]) && k->st.connected);
	k->remote_port = port[2];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(remote_is(k, port[2]) && !k->st.connected);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[2], 2000) == 16 && peer_recv(fd[1], 50) < 0);
	return 0;
}

int test_rtpsock_same_remote(void)
{
	return with_sock(NULL, peer_peer2, 3, same_remote);
}

/* Garbage is counted and never learned. Was: a third party's RR moved the
 * RTCP destination. Now RTCP from another IP is refused on both ports, and
 * the RTCP port is learned only at the RTP destination's IP. */
static int garbage_and_rtcp(struct sock *k, const int *fd, const uint16_t *port)
{
	static const uint8_t bad_rtp[12] = { 0x40, 0, 0, 1 };      /* version 1 */
	static const uint8_t rr[8] = { 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 5 };
	static const uint8_t bad_rr[8] = { 0x80, TND_RTCP_RR, 0, 7 };   /* length past the end */
	static const uint8_t stun[20] = { 0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42 };
	static const uint8_t rtp_pkt[20] = { 0x80, 0, 0, 7, 0, 0, 1, 0, 0x12, 0x34, 0x56, 0x78 };
	char want[64];

	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	/* garbage on both ports: counted, dropped, never learned */
	TEST_ASSERT(peer_send(fd[1], k->port, "hello", 5) == 0);
	TEST_ASSERT(peer_send(fd[1], k->port, bad_rtp, sizeof(bad_rtp)) == 0);
	TEST_ASSERT(peer_send(fd[1], k->port, stun, sizeof(stun)) == 0);
	TEST_ASSERT(peer_send(fd[1], (uint16_t)(k->port + 1), bad_rr, sizeof(bad_rr)) == 0);
	TEST_ASSERT(peer_send(fd[1], (uint16_t)(k->port + 1), rtp_pkt, sizeof(rtp_pkt)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_garbage, 5));
	TEST_ASSERT(k->st.latches == 0 && k->n_rtp == 0 && k->n_rtcp == 0);

	/* a stranger's RR on either port: refused, RTCP still to SDP port + 1 */
	TEST_ASSERT(peer_send(fd[1], (uint16_t)(k->port + 1), rr, sizeof(rr)) == 0);
	TEST_ASSERT(peer_send(fd[1], k->port, rr, sizeof(rr)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_foreign, 2));
	TEST_ASSERT(k->n_rtcp == 0 && k->st.latches == 0);
	snprintf(want, sizeof(want), PEER_IP ":%u", port[0] + 1);
	TEST_ASSERT(!strcmp(k->remote_rtcp, want));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == 0);
	TEST_ASSERT(peer_recv(fd[1], 50) < 0);

	/* the peer's RR from its RTP port: the RTCP port is learned there */
	TEST_ASSERT(peer_send(fd[0], (uint16_t)(k->port + 1), rr, sizeof(rr)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtcp_in, 1));
	TEST_ASSERT(k->n_rtcp == 1 && k->st.latches == 1);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 8);
	/* its RR on the RTP port: delivered */
	TEST_ASSERT(peer_send(fd[0], k->port, rr, sizeof(rr)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtcp_in, 2));
	/* and RTP still goes to the SDP address */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_stats, k) == 0);
	TEST_ASSERT(k->st.rtcp_out == 2 && k->st.rtp_out == 1 && k->st.drop_too_big == 0);
	TEST_ASSERT(k->st.drop_foreign == 2 && remote_is(k, port[0]));
	return 0;
}

int test_rtpsock_garbage_and_rtcp(void)
{
	return with_sock(NULL, peer_stranger, 2, garbage_and_rtcp);
}

/* SDES mandatory (srtp_required): before the keys, the peer's plain RTP
 * and RTCP reach nobody (counted as drop_srtp) and nothing is sent, even
 * with a remote; once tnd_rtpsock_set_srtp ran, sends go out protected. */
static int do_set_srtp(void *ctx, const char *unused)
{
	uint8_t key[30];
	struct sock *k = ctx;

	(void)unused;
	memset(key, 0x42, sizeof(key));
	return tnd_rtpsock_set_srtp(k->s, "AES_CM_128_HMAC_SHA1_32", key, 30, key, 30);
}

static int srtp_required(struct sock *k, const int *fd, const uint16_t *port)
{
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == ENOTCONN);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == ENOTCONN);
	TEST_ASSERT(peer_recv(fd[0], 100) < 0);
	for (uint16_t i = 0; i < 4; i++)
		TEST_ASSERT(peer_rtp(fd[0], k->port, 0xabc, i) == 0);
	TEST_ASSERT(peer_send(fd[0], (uint16_t)(k->port + 1),
			      (const uint8_t[8]){ 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 5 }, 8) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_srtp, 5));
	TEST_ASSERT(k->n_rtp == 0 && k->n_rtcp == 0 && k->st.rtp_in == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_set_srtp, k) == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	/* 16 bytes of RTP and the 4-byte tag of AES_CM_128_HMAC_SHA1_32 */
	TEST_ASSERT(peer_recv(fd[0], 2000) == 16 + 4);
	return 0;
}

int test_rtpsock_srtp_required(void)
{
	const struct tnd_rtpsock_conf conf = { .srtp_required = true };

	return with_sock(&conf, peer_stranger, 2, srtp_required);
}

/* The TOS byte a datagram arrived with (IP_RECVTOS on fd), or -1. */
static int recv_tos(int fd, int ms)
{
	uint8_t buf[64], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1 || recvmsg(fd, &m, 0) < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
			return *CMSG_DATA(c);
	return -1;
}

/* Media leaves marked EF: the TOS byte 0xb8 arrives with RTP and RTCP. */
static int dscp(struct sock *k, const int *fd, const uint16_t *port)
{
	int on = 1;

	TEST_ASSERT(setsockopt(fd[0], IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)) == 0);
	k->remote_port = port[0];
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(recv_tos(fd[0], 2000) == 0xb8);
	/* the RTCP socket too, once its port is learned at the peer */
	TEST_ASSERT(peer_send(fd[0], (uint16_t)(k->port + 1),
			      (const uint8_t[8]){ 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 5 }, 8) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtcp_in, 1));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == 0);
	TEST_ASSERT(recv_tos(fd[0], 2000) == 0xb8);
	return 0;
}

int test_rtpsock_dscp(void)
{
	int fd, v = 0, before = 0, after = 0;
	socklen_t len = sizeof(v);

	TEST_ASSERT(with_sock(NULL, peer_stranger, 1, dscp) == 0);
	/* the helper alone: IPv4 TOS, and the receive buffer we ask for (the
	 * kernel reports twice what it was asked: its bookkeeping share) */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(fd >= 0);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &before, &len);
	len = sizeof(v);
	if (tnd_sock_media_opts(fd, AF_INET, TND_RTPSOCK_DSCP_EF, TND_RTPSOCK_RCVBUF) ||
	    getsockopt(fd, IPPROTO_IP, IP_TOS, &v, &len) ||
	    (len = sizeof(after), getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &after, &len))) {
		close(fd);
		TEST_ASSERT(0);
	}
	close(fd);
	TEST_ASSERT(v == 0xb8 && after == 2 * TND_RTPSOCK_RCVBUF && after != before);
	/* IPv6: the traffic class */
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		len = sizeof(v);
		v = 0;
		if (tnd_sock_media_opts(fd, AF_INET6, TND_RTPSOCK_DSCP_EF, 0) ||
		    getsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &v, &len))
			v = -1;
		close(fd);
		TEST_ASSERT(v == 0xb8);
	}
	return 0;
}

/* ------------------------------------------------------------ srtp.c */

static void srtp_pair(struct tnd_srtp_keys *a, struct tnd_srtp_keys *b)
{
	memset(a, 0, sizeof(*a));
	a->profile = TND_SRTP_AEAD_AES_128_GCM;
	a->key_len = 16;
	a->salt_len = 12;
	for (size_t i = 0; i < TND_SRTP_MAX_KEY_SALT; i++) {
		a->tx[i] = (uint8_t)(3 * i);
		a->rx[i] = (uint8_t)(200 - i);
	}
	*b = *a;
	memcpy(b->tx, a->rx, sizeof(b->tx));
	memcpy(b->rx, a->tx, sizeof(b->rx));
}

/* 12-byte header and 40 bytes of `fill` into pkt (room for the tag after) */
static size_t srtp_rtp(uint8_t *pkt, uint32_t ssrc, uint16_t seq, uint8_t fill)
{
	memset(pkt, fill, 52);
	pkt[0] = 0x80;
	pkt[1] = 0;
	tnd_rtp_set_seq(pkt, seq);
	tnd_rtp_set_ts(pkt, seq * 160u);
	tnd_rtp_set_ssrc(pkt, ssrc);
	return 52;
}

/* Review C1: protecting one SSRC's index a second time, with another
 * payload, would reuse a GCM nonce (AES-CM keystream): refused. The same
 * index under another SSRC, and the next index, are fine. */
int test_srtp_no_repeat_tx(void)
{
	struct tnd_srtp_keys ka, kb;
	struct tnd_srtp *a = NULL, *b = NULL;
	uint8_t pkt[52 + TND_PC_SRTP_OVERHEAD];
	size_t n;
	int rc = 1;

	srtp_pair(&ka, &kb);
	if (tnd_srtp_alloc(&a, &ka) || tnd_srtp_alloc(&b, &kb))
		goto out;
	n = srtp_rtp(pkt, 0x1111, 40050, 0xaa);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) ||
	    tnd_srtp_unprotect(b, pkt, &n, false))
		goto out;
	n = srtp_rtp(pkt, 0x1111, 40050, 0x55);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) != EALREADY)
		goto out;
	/* an index older than the 1024 window, which libsrtp2 cannot tell */
	n = srtp_rtp(pkt, 0x1111, 38000, 0x55);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) != EALREADY)
		goto out;
	n = srtp_rtp(pkt, 0x1111, 40051, 0x55);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) ||
	    tnd_srtp_unprotect(b, pkt, &n, false))
		goto out;
	n = srtp_rtp(pkt, 0x2222, 40050, 0x55);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) ||
	    tnd_srtp_unprotect(b, pkt, &n, false))
		goto out;
	rc = 0;
 out:
	tnd_srtp_free(a);
	tnd_srtp_free(b);
	return rc;
}

/* Review L3: forgeries take no slot; TND_SRTP_MAX_IN_SSRC authenticated
 * SSRCs are decrypted, the next new one is refused and counted, the known
 * ones keep working (RTP and RTCP alike). */
int test_srtp_ssrc_cap(void)
{
	struct tnd_srtp_keys ka, kb;
	struct tnd_srtp *a = NULL, *b = NULL;
	uint8_t pkt[52 + TND_PC_SRTP_OVERHEAD];
	uint8_t rr[8 + TND_PC_SRTP_OVERHEAD] = { 0x80, TND_RTCP_RR, 0, 1 };
	size_t n;
	int rc = 1;

	srtp_pair(&ka, &kb);
	if (tnd_srtp_alloc(&a, &ka) || tnd_srtp_alloc(&b, &kb))
		goto out;
	for (uint32_t i = 0; i < 20; i++) {
		n = srtp_rtp(pkt, 0x9000 + i, 1, 0);
		if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false))
			goto out;
		pkt[20] ^= 1;
		if (tnd_srtp_unprotect(b, pkt, &n, false) != EBADMSG)
			goto out;
	}
	for (uint32_t i = 0; i < TND_SRTP_MAX_IN_SSRC + 2; i++) {
		int want = i < TND_SRTP_MAX_IN_SSRC ? 0 : ENOSPC;

		n = srtp_rtp(pkt, 0x100 + i, 7, (uint8_t)i);
		if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) ||
		    tnd_srtp_unprotect(b, pkt, &n, false) != want)
			goto out;
	}
	if (tnd_srtp_ssrc_refused(b) != 2)
		goto out;
	n = srtp_rtp(pkt, 0x100, 8, 0);
	if (tnd_srtp_protect(a, pkt, &n, sizeof(pkt), false) ||
	    tnd_srtp_unprotect(b, pkt, &n, false))
		goto out;
	/* SRTCP from a known SSRC passes, from a new one is refused */
	tnd_rtp_wr32(rr + 4, 0x101);
	n = 8;
	if (tnd_srtp_protect(a, rr, &n, sizeof(rr), true) || tnd_srtp_unprotect(b, rr, &n, true))
		goto out;
	memset(rr + 8, 0, TND_PC_SRTP_OVERHEAD);
	tnd_rtp_wr32(rr + 4, 0x7777);
	n = 8;
	if (tnd_srtp_protect(a, rr, &n, sizeof(rr), true) ||
	    tnd_srtp_unprotect(b, rr, &n, true) != ENOSPC || tnd_srtp_ssrc_refused(b) != 3)
		goto out;
	rc = 0;
 out:
	tnd_srtp_free(a);
	tnd_srtp_free(b);
	return rc;
}
