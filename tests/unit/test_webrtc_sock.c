/* struct tnd_rtpsock on 127.0.0.1: even ports, symmetric RTP latching (a
 * packet from a new source moves the replies there; a second source cannot
 * take a live stream), RTCP on port + 1, and garbage counted and dropped.
 * The SIP peer is plain UDP sockets on the test thread; the rtpsock lives on
 * a worker and is driven through tnd_test_run_on(). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/obj.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"

struct sock {
	struct tnd_loop *loop;           /* owned by the test */
	struct tnd_rtpsock *s;           /* ref; OWNER: worker */
	uint16_t port;
	uint16_t remote_port;            /* argument for do_remote */
	char remote[64];                 /* copied by do_stats */
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
	const struct tnd_rtpsock_conf conf = {
		.addr = "127.0.0.1", .port_min = 21000, .port_max = 29999, .rtcp_port = true,
	};
	const struct tnd_rtpsock_handlers h = { .rtp = on_rtp, .rtcp = on_rtcp };
	struct sock *k = ctx;
	int err;

	(void)unused;
	err = tnd_rtpsock_alloc(&k->s, k->loop, &conf, &h, k);
	if (!err)
		k->port = tnd_rtpsock_port(k->s);
	return err;
}

static int do_remote(void *ctx, const char *unused)
{
	struct sock *k = ctx;

	(void)unused;
	return tnd_rtpsock_set_remote(k->s, "127.0.0.1", k->remote_port, 0);
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
	return 0;
}

static int do_release(void *ctx, const char *unused)
{
	struct sock *k = ctx;

	(void)unused;
	k->s = tnd_obj_put(k->s);
	return 0;
}

/* A UDP socket on 127.0.0.1 standing in for a SIP peer. */
static int peer_open(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

static const uint8_t rtp_pkt[20] = { 0x80, 0, 0, 7, 0, 0, 1, 0, 0x12, 0x34, 0x56, 0x78 };

static int latching(struct sock *k, int p1, uint16_t port1, int p2, uint16_t port2)
{
	char want[64];

	TEST_ASSERT(k->port % 2 == 0 && k->port >= 21000 && k->port < 29999);
	/* before any remote: nothing to send to */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == ENOTCONN);
	k->remote_port = port1;
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(p1, 2000) == 16);

	/* RTP from another port: replies move there, and RTCP follows */
	TEST_ASSERT(peer_send(p2, k->port, rtp_pkt, sizeof(rtp_pkt)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtp_in, 1));
	TEST_ASSERT(k->st.latches == 1 && k->n_rtp == 1);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port2);
	TEST_ASSERT(!strcmp(k->remote, want));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(p2, 2000) == 16);
	TEST_ASSERT(peer_recv(p1, 50) < 0);

	/* the first source again, while the second is live: refused */
	TEST_ASSERT(peer_send(p1, k->port, rtp_pkt, sizeof(rtp_pkt)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_foreign, 1));
	TEST_ASSERT(k->st.latches == 1 && k->st.rtp_in == 1 && !strcmp(k->remote, want));

	/* once the second has been quiet long enough, the first may return */
	g_usleep((TND_RTPSOCK_RELATCH_MS + 100) * 1000);
	TEST_ASSERT(peer_send(p1, k->port, rtp_pkt, sizeof(rtp_pkt)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.latches, 2));
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(p1, 2000) == 16);
	return 0;
}

int test_rtpsock_latching(void)
{
	long live = tnd_obj_live();
	struct sock k;
	uint16_t port1 = 0, port2 = 0;
	int p1 = peer_open(&port1), p2 = peer_open(&port2), rc = 1;

	memset(&k, 0, sizeof(k));
	if (p1 < 0 || p2 < 0 || tnd_loop_alloc(&k.loop, "w0", 1) || tnd_loop_thread_start(k.loop))
		goto out;
	if (tnd_test_run_on(k.loop, do_alloc, &k))
		goto out;
	rc = latching(&k, p1, port1, p2, port2);
	tnd_test_run_on(k.loop, do_release, &k);
	if (!tnd_test_wait_live(live, 2000))
		rc = 1;
 out:
	tnd_loop_free(k.loop);
	if (p1 >= 0)
		close(p1);
	if (p2 >= 0)
		close(p2);
	return rc;
}

static int garbage_and_rtcp(struct sock *k, int p1, uint16_t port1, int p3)
{
	static const uint8_t bad_rtp[12] = { 0x40, 0, 0, 1 };      /* version 1 */
	static const uint8_t rr[8] = { 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 5 };
	static const uint8_t bad_rr[8] = { 0x80, TND_RTCP_RR, 0, 7 };   /* length past the end */
	static const uint8_t stun[20] = { 0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42 };

	k->remote_port = port1;
	TEST_ASSERT(tnd_test_run_on(k->loop, do_remote, k) == 0);
	/* garbage on both ports: counted, dropped, never latched */
	TEST_ASSERT(peer_send(p3, k->port, "hello", 5) == 0);
	TEST_ASSERT(peer_send(p3, k->port, bad_rtp, sizeof(bad_rtp)) == 0);
	TEST_ASSERT(peer_send(p3, k->port, stun, sizeof(stun)) == 0);
	TEST_ASSERT(peer_send(p3, (uint16_t)(k->port + 1), bad_rr, sizeof(bad_rr)) == 0);
	TEST_ASSERT(peer_send(p3, (uint16_t)(k->port + 1), rtp_pkt, sizeof(rtp_pkt)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.drop_garbage, 5));
	TEST_ASSERT(k->st.latches == 0 && k->n_rtp == 0 && k->n_rtcp == 0);

	/* RTCP goes to the SDP port + 1 until RTCP arrives from elsewhere */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == 0);
	TEST_ASSERT(peer_recv(p3, 50) < 0);
	TEST_ASSERT(peer_send(p3, (uint16_t)(k->port + 1), rr, sizeof(rr)) == 0);
	TEST_ASSERT(wait_count(k, &k->st.rtcp_in, 1));
	TEST_ASSERT(k->n_rtcp == 1 && k->st.latches == 1);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtcp, k) == 0);
	TEST_ASSERT(peer_recv(p3, 2000) == 8);
	/* and RTP still goes to the SDP address */
	TEST_ASSERT(tnd_test_run_on(k->loop, do_send_rtp, k) == 0);
	TEST_ASSERT(peer_recv(p1, 2000) == 16);
	TEST_ASSERT(tnd_test_run_on(k->loop, do_stats, k) == 0);
	TEST_ASSERT(k->st.rtcp_out == 2 && k->st.rtp_out == 1 && k->st.drop_too_big == 0);
	return 0;
}

int test_rtpsock_garbage_and_rtcp(void)
{
	long live = tnd_obj_live();
	struct sock k;
	uint16_t port1 = 0, port3 = 0;
	int p1 = peer_open(&port1), p3 = peer_open(&port3), rc = 1;

	memset(&k, 0, sizeof(k));
	if (p1 < 0 || p3 < 0 || tnd_loop_alloc(&k.loop, "w0", 1) || tnd_loop_thread_start(k.loop))
		goto out;
	if (tnd_test_run_on(k.loop, do_alloc, &k))
		goto out;
	rc = garbage_and_rtcp(&k, p1, port1, p3);
	tnd_test_run_on(k.loop, do_release, &k);
	if (!tnd_test_wait_live(live, 2000))
		rc = 1;
 out:
	tnd_loop_free(k.loop);
	if (p1 >= 0)
		close(p1);
	if (p3 >= 0)
		close(p3);
	return rc;
}
