/* gateway/media: the per-direction stream's numbering and statistics as pure
 * logic, and whole bridges on a real worker thread with plain RTP legs on
 * 127.0.0.1, whose peers are UDP sockets on the test thread (which is also
 * the bridge's signalling loop). Asserts on what the peers receive: every
 * packet, sequence numbers strictly one apart across source switches and a
 * leg swap (what keeps SRTP's index unique, review C1), our own RTCP
 * reports, and the silence that ends a call. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/media.h"
#include "gateway/media/stream.h"
#include "tests/unit/runner.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"   /* tnd_srtp: the SDES peer's side */

/* ------------------------------------------------------------ stream, pure */

static void mk_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	memset(p, 0, 172);
	p[0] = 0x80;
	p[1] = pt;
	tnd_rtp_set_seq(p, seq);
	tnd_rtp_set_ts(p, ts);
	tnd_rtp_set_ssrc(p, ssrc);
}

static const struct tnd_mdir_pt pcmu = { 0, 0, 8000 };

/* Two sources with overlapping sequence numbers, then one that starts far
 * behind: the output is one stream, each packet exactly last+1. */
static int test_mdir_switch_continuity(void)
{
	struct tnd_mdir d = { 0 };
	uint8_t p[172];
	uint16_t last = 0;
	uint32_t last_ts = 0;
	int64_t now = 1000000;
	int n = 0;

	tnd_mdir_init(&d, 0xabcdef01, 1000, 5000);
	tnd_mdir_set_pts(&d, &pcmu, 1);
	for (int src = 0; src < 3; src++) {
		uint16_t seq0 = src == 0 ? 40000 : src == 1 ? 40050 : 35000;
		uint32_t ssrc = src == 2 ? 0x11111111 : 0x22222222u + (uint32_t)src;

		for (int i = 0; i < 100; i++, n++, now += 20000) {
			mk_rtp(p, 0, (uint16_t)(seq0 + i), (uint32_t)(7 + i) * 160, ssrc);
			tnd_mdir_rewrite(&d, p, sizeof(p), &pcmu, now);
			TEST_ASSERT(tnd_rtp_ssrc(p) == 0xabcdef01);
			if (n == 0) {
				TEST_ASSERT(tnd_rtp_seq(p) == 1000);
			} else {
				TEST_ASSERT(tnd_rtp_seq(p) == (uint16_t)(last + 1));
				TEST_ASSERT(tnd_rtp_ts(p) - last_ts >= 1 &&
					    tnd_rtp_ts(p) - last_ts <= 320);
			}
			/* the marker flags each switch's first packet only */
			TEST_ASSERT(tnd_rtp_marker(p) == (i == 0));
			last = tnd_rtp_seq(p);
			last_ts = tnd_rtp_ts(p);
		}
	}
	TEST_ASSERT(d.st.switches == 2);
	TEST_ASSERT(d.tx.packets == 300);
	return 0;
}

/* Inside the window: reordering stays reordering, a duplicate keeps its
 * index (so SRTP refuses it rather than encrypting a new payload under an
 * old index), and a jump renumbers. */
static int test_mdir_reorder_dup_jump(void)
{
	struct tnd_mdir d = { 0 };
	uint8_t p[172];
	uint16_t out[8];
	const uint16_t in[] = { 10, 12, 11, 12, 13, 30000, 30001 };

	tnd_mdir_init(&d, 7, 500, 0);
	tnd_mdir_set_pts(&d, &pcmu, 1);
	for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		mk_rtp(p, 0, in[i], in[i] * 160u, 99);
		tnd_mdir_rewrite(&d, p, sizeof(p), &pcmu, 1000000 + i * 20000);
		out[i] = tnd_rtp_seq(p);
	}
	TEST_ASSERT(out[0] == 500 && out[1] == 502 && out[2] == 501);
	TEST_ASSERT(out[3] == out[1]);               /* duplicate: same index */
	TEST_ASSERT(out[4] == 503);
	TEST_ASSERT(out[5] == 504 && out[6] == 505); /* jump: continues */
	TEST_ASSERT(d.st.switches == 1);
	return 0;
}

/* RFC 3550 A.3: 10 of 100 lost gives fraction 25/256 and cumulative 10;
 * steady 20 ms spacing gives no jitter, alternating 10/30 ms gives some. */
static int test_mdir_report_loss_jitter(void)
{
	struct tnd_mdir d = { 0 };
	struct tnd_mdir_report r;
	uint8_t p[172];
	int64_t now = 5000000;

	tnd_mdir_init(&d, 1, 0, 0);
	TEST_ASSERT(!tnd_mdir_report(&d, &r));
	for (uint16_t s = 65500; s != 64; s++, now += 20000) {
		if (s % 10 == 5)
			continue;   /* lost */
		mk_rtp(p, 0, s, s * 160u, 42);
		tnd_mdir_account(&d, p, sizeof(p), 8000, now);
	}
	TEST_ASSERT(tnd_mdir_report(&d, &r));
	TEST_ASSERT(r.ssrc == 42);
	TEST_ASSERT(r.ext_max_seq == 65536 + 63);
	TEST_ASSERT(r.cumulative == 10);
	TEST_ASSERT(r.fraction == 25);
	TEST_ASSERT(r.jitter == 0);
	for (uint16_t s = 64; s < 264; s++) {
		now += (s & 1) ? 10000 : 30000;
		mk_rtp(p, 0, s, s * 160u, 42);
		tnd_mdir_account(&d, p, sizeof(p), 8000, now);
	}
	TEST_ASSERT(tnd_mdir_report(&d, &r));
	TEST_ASSERT(r.fraction == 0);
	TEST_ASSERT(r.jitter >= 60 && r.jitter <= 100);   /* |D| = 80 samples */
	return 0;
}

/* ------------------------------------------------------------ bridges */

struct peer {
	int fd;
	uint16_t port;
	uint8_t pt;      /* the payload type this side's leg carries */
};

static int peer_open(struct peer *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(p->fd, (struct sockaddr *)&a, &len))
		return errno;
	p->port = ntohs(a.sin_port);
	return 0;
}

static void peer_send(const struct peer *p, uint16_t to, const uint8_t *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(to) };

	sendto(p->fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* One datagram within ms (the main context turns meanwhile), or -1. */
static ssize_t peer_recv(const struct peer *p, uint8_t *buf, size_t cap, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	do {
		ssize_t n = recv(p->fd, buf, cap, 0);
		struct pollfd pf = { p->fd, POLLIN, 0 };

		if (n >= 0)
			return n;
		while (g_main_context_iteration(NULL, FALSE))
			;
		poll(&pf, 1, 5);
	} while (g_main_context_iteration(NULL, FALSE), g_get_monotonic_time() < end);
	return -1;
}

struct fixture {
	struct tnd_loop *worker, *signal;
	struct tnd_bridge *br;
	struct peer a, b;
	int ready;
	int ready_err;
	uint16_t b_port_ready;
	int state;                  /* last state event + 1 */
	/* each WebRTC leg's ICE side from its last `ready` */
	struct {
		char ufrag[257], pwd[257];
		char cands[8][256];
		int n_cands;
	} ice[2];
	int ready_b;
	int state_b;                /* leg B's last state + 1 */
};

static void keep_ice(struct fixture *f, unsigned side, const char *ufrag, const char *pwd,
		     const char *const *cands)
{
	int n = 0;

	snprintf(f->ice[side].ufrag, sizeof(f->ice[side].ufrag), "%s", ufrag ? ufrag : "");
	snprintf(f->ice[side].pwd, sizeof(f->ice[side].pwd), "%s", pwd ? pwd : "");
	for (; cands && cands[n] && n < 8; n++)
		snprintf(f->ice[side].cands[n], sizeof(f->ice[side].cands[0]), "%s", cands[n]);
	f->ice[side].n_cands = n;
}

static void ev_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t port)
{
	struct fixture *f = arg;

	(void)complete;
	f->ready++;
	f->ready_err = err;
	f->b_port_ready = port;
	keep_ice(f, 0, ufrag, pwd, cands);
}

static void ev_ready_b(void *arg, int err, const char *ufrag, const char *pwd,
		       const char *const *cands, bool complete)
{
	struct fixture *f = arg;

	(void)complete;
	f->ready_b++;
	f->ready_err = err;
	keep_ice(f, 1, ufrag, pwd, cands);
}

static void ev_state_b(void *arg, enum tnd_bridge_state state, int err)
{
	struct fixture *f = arg;

	(void)err;
	f->state_b = (int)state + 1;
}

static void ev_state(void *arg, enum tnd_bridge_state state, int err)
{
	struct fixture *f = arg;

	(void)err;
	f->state = (int)state + 1;
}

static const struct tnd_bridge_events events = {
	.ready = ev_ready, .state = ev_state,
	.ready_b = ev_ready_b, .state_b = ev_state_b,
};

static bool spin_until(int *flag, int value, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	while (*flag < value && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	return *flag >= value;
}

static int prime(struct peer *from, uint16_t to, struct peer *at)
{
	uint8_t p[172], r[2048];

	for (int i = 0; i < 100; i++) {
		mk_rtp(p, from->pt, (uint16_t)(60000 + i), 0, 0x9999);
		peer_send(from, to, p, sizeof(p));
		if (peer_recv(at, r, sizeof(r), 20) > 0) {
			while (peer_recv(at, r, sizeof(r), 50) > 0)
				;
			return 0;
		}
	}
	return 1;
}

static int fixture_up(struct fixture *f, unsigned timeout_ms)
{
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 30000, .port_max = 39999,
		.a_rtp = true, .timeout_ms = timeout_ms,
	};
	const struct tnd_bridge_pt pts[] = { { 0, 8, 8000 }, { 101, 100, 8000 } };

	memset(f, 0, sizeof(*f));
	f->a.fd = f->b.fd = -1;
	if (tnd_loop_alloc(&f->worker, "media0", 1) || tnd_loop_thread_start(f->worker) ||
	    tnd_loop_alloc(&f->signal, "signal", 0))
		return 1;
	if (peer_open(&f->a) || peer_open(&f->b))
		return 1;
	f->a.pt = 0;
	f->b.pt = 8;
	if (tnd_bridge_alloc(&f->br, f->worker, f->signal, &conf, &events, f))
		return 1;
	if (!spin_until(&f->ready, 1, 5000) || f->ready_err)
		return 1;
	if (tnd_bridge_rtp_remote(f->br, 0, "127.0.0.1", f->a.port, f->a.port) ||
	    tnd_bridge_rtp_remote(f->br, 1, "127.0.0.1", f->b.port, 0) ||
	    tnd_bridge_route(f->br, pts, 2))
		return 1;
	/* the commands reach the worker in order, but a packet can overtake
	 * them: wait until one crosses each way */
	return prime(&f->a, tnd_bridge_port(f->br, 0), &f->b) ||
	       prime(&f->b, tnd_bridge_port(f->br, 1), &f->a);
}

static int fixture_down(struct fixture *f, long live)
{
	int64_t end = g_get_monotonic_time() + 5000000;

	if (f->br) {
		tnd_bridge_close(f->br);
		f->br = tnd_obj_put(f->br);
	}
	/* the worker releases the legs; their last puts are deferred */
	while (tnd_obj_live() != live && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	tnd_loop_free(f->worker);
	tnd_loop_free(f->signal);
	if (f->a.fd >= 0)
		close(f->a.fd);
	if (f->b.fd >= 0)
		close(f->b.fd);
	return tnd_obj_live() == live ? 0 : 1;
}

/* Sends n packets from `from` toward port `to`, waiting for each at `at`;
 * checks each arrives with the expected next sequence number. Returns how
 * many arrived in order. */
static int relay_run(struct peer *from, uint16_t to, struct peer *at, uint32_t ssrc,
		     uint16_t seq0, int n, uint16_t *next, bool *have)
{
	/* the route maps PCMU 0 on leg A to 8 on leg B (and back) */
	uint8_t pt_in = from->pt, pt_out = at->pt;
	uint8_t p[172], r[2048];
	int ok = 0;

	for (int i = 0; i < n; i++) {
		ssize_t len;

		mk_rtp(p, pt_in, (uint16_t)(seq0 + i), (uint32_t)(seq0 + i) * 160u, ssrc);
		peer_send(from, to, p, sizeof(p));
		len = peer_recv(at, r, sizeof(r), 1000);
		while (len > 0 && tnd_demux_classify(r, (size_t)len) == TND_DEMUX_RTCP)
			len = peer_recv(at, r, sizeof(r), 1000);   /* our reports */
		if (len != (ssize_t)sizeof(p) || tnd_rtp_pt(r) != pt_out)
			continue;
		if (*have && tnd_rtp_seq(r) != *next)
			continue;
		*have = true;
		*next = (uint16_t)(tnd_rtp_seq(r) + 1);
		ok++;
	}
	return ok;
}

/* Review C1's scenario end to end: two SIP-side sources with overlapping
 * sequence numbers, then one far behind, all from the SIP peer's address:
 * every packet reaches leg A, numbered one stream, with our SSRC. */
static int test_bridge_sip_source_switch(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	uint16_t next = 0;
	bool have = false;
	uint16_t bport;

	TEST_ASSERT(fixture_up(&f, 0) == 0);
	bport = tnd_bridge_port(f.br, 1);
	TEST_ASSERT(bport != 0 && tnd_bridge_port(f.br, 0) != 0);
	/* leg A speaks first, so the B side's peer is the SDP one */
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1, 100, 5, &next,
			      &have) == 5);
	have = false;
	TEST_ASSERT(relay_run(&f.b, bport, &f.a, 0xb1, 40000, 60, &next, &have) == 60);
	TEST_ASSERT(relay_run(&f.b, bport, &f.a, 0xb2, 40030, 60, &next, &have) == 60);
	TEST_ASSERT(relay_run(&f.b, bport, &f.a, 0xb3, 5000, 60, &next, &have) == 60);
	return fixture_down(&f, live);
}

/* Leg B replaced under the call (a transfer to a party on a new port): the
 * new socket's first packets continue leg A's stream at last+1. */
static int test_bridge_swap_sip_leg(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	struct peer c = { -1, 0, 8 };
	uint16_t next = 0, old_port;
	bool have = false;
	uint8_t p[172], r[2048];

	TEST_ASSERT(fixture_up(&f, 0) == 0);
	old_port = tnd_bridge_port(f.br, 1);
	TEST_ASSERT(relay_run(&f.b, old_port, &f.a, 0xb1, 1000, 20, &next, &have) == 20);
	TEST_ASSERT(tnd_bridge_swap_sip_leg(f.br) == 0);
	TEST_ASSERT(spin_until(&f.ready, 2, 5000) && f.ready_err == 0);
	TEST_ASSERT(f.b_port_ready != 0 && f.b_port_ready != old_port);
	TEST_ASSERT(peer_open(&c) == 0);
	c.pt = 8;
	TEST_ASSERT(tnd_bridge_sip_remote(f.br, "127.0.0.1", c.port, 0) == 0);
	/* the new party's first packets may overtake the command that gives
	 * its address and wait out probation; what arrives continues A's
	 * stream exactly */
	TEST_ASSERT(relay_run(&c, f.b_port_ready, &f.a, 0xc1, 60000, 20, &next, &have) >= 17);
	/* and the other way: leg A's packets now reach the new party */
	have = false;
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &c, 0xa1, 7, 10, &next,
			      &have) == 10);
	/* the old port is gone */
	mk_rtp(p, 8, 1, 160, 0xb1);
	peer_send(&f.b, old_port, p, sizeof(p));
	TEST_ASSERT(peer_recv(&f.a, r, sizeof(r), 300) < 0 ||
		    tnd_demux_classify(r, 2) == TND_DEMUX_RTCP);
	close(c.fd);
	return fixture_down(&f, live);
}

/* The SIP peer's address moves under the same socket (a re-INVITE or REFER
 * toward another phone) and the new party reuses the old one's SSRC and
 * sequence range (two SIPp playing one capture): its packets start a new
 * numbering at last+1 instead of repeating numbers already sent, which
 * SRTP toward a browser refuses as replays. */
static int test_bridge_sip_remote_moves(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	struct peer c = { -1, 0, 8 };
	uint16_t next = 0, bport;
	bool have = false;

	TEST_ASSERT(fixture_up(&f, 0) == 0);
	bport = tnd_bridge_port(f.br, 1);
	TEST_ASSERT(relay_run(&f.b, bport, &f.a, 0xb1, 1000, 40, &next, &have) == 40);
	TEST_ASSERT(peer_open(&c) == 0);
	c.pt = 8;
	TEST_ASSERT(tnd_bridge_sip_remote(f.br, "127.0.0.1", c.port, 0) == 0);
	/* the command reaches the worker before the first packet does */
	for (int i = 0; i < 50; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	/* 39 behind the last: without a new numbering, a misordered old one */
	TEST_ASSERT(relay_run(&c, bport, &f.a, 0xb1, 1000, 40, &next, &have) == 40);
	/* the same address again (a refresh) keeps the numbering going */
	TEST_ASSERT(tnd_bridge_sip_remote(f.br, "127.0.0.1", c.port, 0) == 0);
	TEST_ASSERT(relay_run(&c, bport, &f.a, 0xb1, 1040, 20, &next, &have) == 20);
	close(c.fd);
	return fixture_down(&f, live);
}

/* RTCP is terminated: leg A gets our SR (our SSRC, the packet count we
 * sent it) with a report block on its own stream, never the SIP peer's
 * reports. */
static int test_bridge_rtcp_terminated(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	uint16_t next = 0;
	bool have = false;
	uint8_t sr[28] = { 0x80, TND_RTCP_SR, 0, 6 };
	uint8_t r[2048];
	bool got_sr = false;
	int64_t end;
	int sent = 0;

	TEST_ASSERT(fixture_up(&f, 0) == 0);
	tnd_rtp_wr32(sr + 4, 0x5eedf00d);   /* the SIP peer's own SR */
	end = g_get_monotonic_time() + 4000000;
	while (!got_sr && g_get_monotonic_time() < end) {
		uint8_t p[172];
		ssize_t n;

		sent += relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1,
				  (uint16_t)(100 + sent), 1, &next, &have);
		mk_rtp(p, 8, (uint16_t)(300 + sent), (uint32_t)sent * 160u, 0xb1);
		peer_send(&f.b, tnd_bridge_port(f.br, 1), p, sizeof(p));
		peer_send(&f.b, (uint16_t)(tnd_bridge_port(f.br, 1) + 1), sr, sizeof(sr));
		while ((n = peer_recv(&f.a, r, sizeof(r), 20)) > 0) {
			if (tnd_demux_classify(r, (size_t)n) != TND_DEMUX_RTCP)
				continue;
			TEST_ASSERT(tnd_rtcp_parse(r, (size_t)n, NULL, NULL) == 0);
			TEST_ASSERT(tnd_rtp_rd32(r + 4) != 0x5eedf00d);
			if (r[1] != TND_RTCP_SR)
				continue;
			TEST_ASSERT(tnd_rtp_rd32(r + 4) == tnd_bridge_webrtc_ssrc(f.br));
			TEST_ASSERT(tnd_rtp_rd32(r + 20) >= 1);  /* packets we sent */
			TEST_ASSERT((r[0] & 0x1f) == 1);         /* one report block */
			TEST_ASSERT(tnd_rtp_rd32(r + 28) == 0xa1);   /* about A's stream */
			got_sr = true;
		}
		g_usleep(20000);
	}
	TEST_ASSERT(got_sr);
	return fixture_down(&f, live);
}

/* A SIP peer that goes silent ends the call: the bridge reports it. */
static int test_bridge_silence_timeout(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	uint16_t next = 0;
	bool have = false;

	TEST_ASSERT(fixture_up(&f, 1200) == 0);
	TEST_ASSERT(relay_run(&f.b, tnd_bridge_port(f.br, 1), &f.a, 0xb1, 1, 10, &next,
			      &have) == 10);
	/* leg A keeps talking, leg B says nothing more */
	for (int i = 0; i < 150 && f.state != TND_BRIDGE_SIP_SILENT + 1; i++) {
		uint8_t p[172];

		mk_rtp(p, 0, (uint16_t)i, (uint32_t)i * 160u, 0xa1);
		peer_send(&f.a, tnd_bridge_port(f.br, 0), p, sizeof(p));
		spin_until(&f.state, 100, 20);
	}
	TEST_ASSERT(f.state == TND_BRIDGE_SIP_SILENT + 1);
	return fixture_down(&f, live);
}

/* Teardown in every order: closed before set-up ran, closed while packets
 * flow, and the last reference dropped before the close is processed. No
 * object outlives it (the runner counts), and ASan sees no use after free. */
static int test_bridge_teardown_orders(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	uint16_t next = 0;
	bool have = false;

	TEST_ASSERT(fixture_up(&f, 0) == 0);
	TEST_ASSERT(fixture_down(&f, live) == 0);

	/* close queued right behind set-up */
	{
		const struct tnd_bridge_conf conf = { .rtp_addr = "127.0.0.1", .a_rtp = true };
		struct tnd_bridge *br;
		struct tnd_loop *w, *s;

		TEST_ASSERT(tnd_loop_alloc(&w, "media0", 1) == 0 && tnd_loop_thread_start(w) == 0);
		TEST_ASSERT(tnd_loop_alloc(&s, "signal", 0) == 0);
		TEST_ASSERT(tnd_bridge_alloc(&br, w, s, &conf, &events, &f) == 0);
		tnd_bridge_close(br);
		tnd_obj_put(br);
		tnd_loop_free(w);    /* runs the queued set-up and close first */
		while (g_main_context_iteration(NULL, FALSE))
			;
		tnd_loop_free(s);
		TEST_ASSERT(tnd_obj_live() == live);
	}

	/* closed while packets flow both ways */
	TEST_ASSERT(fixture_up(&f, 0) == 0);
	TEST_ASSERT(relay_run(&f.b, tnd_bridge_port(f.br, 1), &f.a, 0xb1, 1, 5, &next,
			      &have) == 5);
	for (int i = 0; i < 50; i++) {
		uint8_t p[172];

		mk_rtp(p, 8, (uint16_t)(10 + i), 0, 0xb1);
		peer_send(&f.b, tnd_bridge_port(f.br, 1), p, sizeof(p));
		mk_rtp(p, 0, (uint16_t)(10 + i), 0, 0xa1);
		peer_send(&f.a, tnd_bridge_port(f.br, 0), p, sizeof(p));
	}
	return fixture_down(&f, live);
}

/* ------------------------------------------------------------ browser leg */

/* A browser: a real tnd_pc on a loop of its own (the browser's thread),
 * driven by steps queued there; what its handlers see is kept under mu. */
struct browser {
	struct tnd_obj obj;           /* the step job's reference target */
	struct tnd_loop *loop;        /* owned by the test */
	struct tnd_pc *pc;            /* OWNER: loop */
	struct fixture *f;            /* borrowed: the bridge's ICE side */
	unsigned side;                /* the bridge's leg it talks to */
	GMutex mu;
	/* LOCK: mu */
	char ufrag[257], pwd[257];
	char cands[8][256];
	int n_cands;
	bool gathered, connected, step_done;
	int step_err;
	int n_rtp;
	uint32_t ssrc;
	uint16_t first_seq, last_seq;
	uint16_t send_seq;            /* the browser's own outgoing numbering */
};

static void br_cand(void *arg, const char *cand)
{
	struct browser *b = arg;

	g_mutex_lock(&b->mu);
	if (!cand)
		b->gathered = true;
	else if (b->n_cands < 8)
		snprintf(b->cands[b->n_cands++], sizeof(b->cands[0]), "%s", cand);
	g_mutex_unlock(&b->mu);
}

static void br_state(void *arg, enum tnd_pc_state st)
{
	struct browser *b = arg;

	g_mutex_lock(&b->mu);
	b->connected = st == TND_PC_CONNECTED;
	g_mutex_unlock(&b->mu);
}

static void br_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct browser *b = arg;

	(void)len;
	g_mutex_lock(&b->mu);
	if (!b->n_rtp++)
		b->first_seq = tnd_rtp_seq(pkt);
	b->last_seq = tnd_rtp_seq(pkt);
	b->ssrc = tnd_rtp_ssrc(pkt);
	g_mutex_unlock(&b->mu);
}

/* On the browser's loop: make the pc, take the bridge's ICE side as the
 * remote one (the gateway's DTLS is passive, ours active), gather. */
static void step_start(void *obj)
{
	static const char *const addrs[] = { "127.0.0.1" };
	static const struct tnd_pc_handlers h = { br_cand, br_state, br_rtp, NULL };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	struct browser *b = obj;
	int err;

	err = tnd_pc_alloc(&b->pc, b->loop, &conf, false, &h, b);
	if (!err) {
		g_mutex_lock(&b->mu);
		err = tnd_pc_local_ice(b->pc, b->ufrag, sizeof(b->ufrag), b->pwd, sizeof(b->pwd));
		g_mutex_unlock(&b->mu);
	}
	if (!err)
		err = tnd_pc_set_remote(b->pc, b->f->ice[b->side].ufrag, b->f->ice[b->side].pwd,
					tnd_webrtc_fingerprint(), TND_DTLS_ACTIVE);
	for (int i = 0; !err && i < b->f->ice[b->side].n_cands; i++)
		err = tnd_pc_add_remote_candidate(b->pc, b->f->ice[b->side].cands[i]);
	if (!err)
		err = tnd_pc_add_remote_candidate(b->pc, NULL);
	if (!err)
		err = tnd_pc_gather(b->pc);
	g_mutex_lock(&b->mu);
	b->step_err = err;
	b->step_done = true;
	g_mutex_unlock(&b->mu);
}

/* On the browser's loop: ten packets toward the gateway. */
static void step_send(void *obj)
{
	struct browser *b = obj;
	uint8_t p[256];

	for (int i = 0; i < 10; i++) {
		mk_rtp(p, 0, b->send_seq, (uint32_t)b->send_seq * 160u, 0xb0b);
		b->send_seq++;
		tnd_pc_send_rtp(b->pc, p, 172, sizeof(p));
	}
}

static void step_stop(void *obj)
{
	struct browser *b = obj;

	if (b->pc) {
		tnd_pc_close(b->pc);
		tnd_pc_detach(b->pc);
		b->pc = tnd_obj_put(b->pc);
	}
}

static bool browser_flag(struct browser *b, bool *flag, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;
	bool v;

	do {
		g_main_context_iteration(NULL, FALSE);
		g_mutex_lock(&b->mu);
		v = *flag;
		g_mutex_unlock(&b->mu);
		if (!v)
			g_usleep(2000);
	} while (!v && g_get_monotonic_time() < end);
	return v;
}

static void browser_destroy(void *obj)
{
	struct browser *b = obj;

	g_mutex_clear(&b->mu);
}

/* A browser for leg A on its own loop, its pc made from the bridge's last
 * `ready`; then the bridge is told the browser's side. NULL on failure. */
static struct browser *browser_up(struct fixture *f, unsigned side, uint16_t send_seq0)
{
	struct browser *b = tnd_obj_zalloc(sizeof(*b), browser_destroy);
	int n;

	if (!b)
		return NULL;
	g_mutex_init(&b->mu);
	b->f = f;
	b->side = side;
	b->send_seq = send_seq0;
	if (tnd_loop_alloc(&b->loop, "browser", 1) || tnd_loop_thread_start(b->loop) ||
	    tnd_loop_call(b->loop, step_start, b) || !browser_flag(b, &b->step_done, 5000) ||
	    b->step_err || !browser_flag(b, &b->gathered, 5000))
		return b;
	g_mutex_lock(&b->mu);
	tnd_bridge_leg_remote(f->br, side, b->ufrag, b->pwd, tnd_webrtc_fingerprint(), false);
	for (n = 0; n < b->n_cands; n++)
		tnd_bridge_leg_candidate(f->br, side, b->cands[n]);
	g_mutex_unlock(&b->mu);
	tnd_bridge_leg_candidate(f->br, side, NULL);
	return b;
}

static void browser_down(struct browser *b)
{
	if (!b)
		return;
	if (b->loop) {
		tnd_loop_call(b->loop, step_stop, b);
		tnd_loop_free(b->loop);   /* runs the stop first */
	}
	tnd_obj_put(b);
}

static int fixture_up_webrtc(struct fixture *f)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 30000, .port_max = 39999,
		.ice_addrs = addrs, .n_ice_addrs = 1, .ice_controlling = true,
	};
	const struct tnd_bridge_pt pts[] = { { 0, 8, 8000 } };

	memset(f, 0, sizeof(*f));
	f->a.fd = f->b.fd = -1;
	if (tnd_loop_alloc(&f->worker, "media0", 1) || tnd_loop_thread_start(f->worker) ||
	    tnd_loop_alloc(&f->signal, "signal", 0) || peer_open(&f->b))
		return 1;
	f->b.pt = 8;
	if (tnd_bridge_alloc(&f->br, f->worker, f->signal, &conf, &events, f) ||
	    !spin_until(&f->ready, 1, 5000) || f->ready_err || !f->ice[0].n_cands)
		return 1;
	return tnd_bridge_sip_remote(f->br, "127.0.0.1", f->b.port, 0) ||
	       tnd_bridge_route(f->br, pts, 1);
}

/* Sends from the SIP peer until the browser has `want` more packets. */
static bool to_browser(struct fixture *f, struct browser *b, uint16_t *seq, int want)
{
	int64_t end = g_get_monotonic_time() + 5000000;
	int have;

	do {
		uint8_t p[172];

		mk_rtp(p, 8, *seq, (uint32_t)*seq * 160u, 0x51b);
		(*seq)++;
		peer_send(&f->b, tnd_bridge_port(f->br, 1), p, sizeof(p));
		spin_until(&f->state, 100, 10);
		g_mutex_lock(&b->mu);
		have = b->n_rtp;
		g_mutex_unlock(&b->mu);
	} while (have < want && g_get_monotonic_time() < end);
	return have >= want;
}

/* Reattach: leg A's pc replaced under a live call (a page reload). The
 * new browser hears the same SSRC continue at last+1, and the SIP peer's
 * stream from the gateway continues too; leg B was never touched. */
static int test_bridge_swap_webrtc_leg(void)
{
	long live = tnd_obj_live();
	struct fixture f;
	struct browser *b1 = NULL, *b2 = NULL;
	uint16_t sip_seq = 100, last1, next_b = 0;
	uint32_t ssrc1;
	bool have_b = false;
	uint8_t r[2048];
	int rc = 1;

	if (fixture_up_webrtc(&f))
		goto out;
	b1 = browser_up(&f, 0, 5000);
	if (!b1 || !browser_flag(b1, &b1->connected, 10000) || !to_browser(&f, b1, &sip_seq, 20))
		goto out;
	/* the browser's packets reach the SIP peer, numbered by the gateway */
	tnd_loop_call(b1->loop, step_send, b1);
	for (int i = 0; i < 10; i++) {
		ssize_t n = peer_recv(&f.b, r, sizeof(r), 2000);

		if (n == 172 && tnd_demux_classify(r, 2) == TND_DEMUX_RTP) {
			if (have_b && tnd_rtp_seq(r) != next_b)
				goto out;
			have_b = true;
			next_b = (uint16_t)(tnd_rtp_seq(r) + 1);
		}
	}
	g_mutex_lock(&b1->mu);
	last1 = b1->last_seq;
	ssrc1 = b1->ssrc;
	g_mutex_unlock(&b1->mu);

	/* the page reloads: a new pc, the old one gone without a word */
	browser_down(b1);
	b1 = NULL;
	if (tnd_bridge_swap_webrtc_leg(f.br) || !spin_until(&f.ready, 2, 5000) || f.ready_err)
		goto out;
	b2 = browser_up(&f, 0, 9000);
	if (!b2 || !browser_flag(b2, &b2->connected, 10000) || !to_browser(&f, b2, &sip_seq, 5))
		goto out;
	g_mutex_lock(&b2->mu);
	rc = b2->ssrc == ssrc1 && b2->first_seq == (uint16_t)(last1 + 1) ? 0 : 1;
	if (rc)
		printf("# new browser: ssrc %08x (was %08x), first seq %u after %u\n", b2->ssrc,
		       ssrc1, b2->first_seq, last1);
	g_mutex_unlock(&b2->mu);
	/* and its packets continue the SIP peer's stream */
	tnd_loop_call(b2->loop, step_send, b2);
	for (int i = 0; !rc && i < 10; i++) {
		ssize_t n = peer_recv(&f.b, r, sizeof(r), 2000);

		if (n == 172 && tnd_demux_classify(r, 2) == TND_DEMUX_RTP) {
			rc = tnd_rtp_seq(r) == next_b ? 0 : 1;
			if (rc)
				printf("# SIP peer: seq %u, expected %u\n", tnd_rtp_seq(r), next_b);
			break;
		}
	}
 out:
	browser_down(b1);
	browser_down(b2);
	if (fixture_down(&f, live))
		rc = 1;
	return rc;
}

/* Both legs WebRTC (browser to browser): each pc has its own ICE, DTLS and
 * SRTP with the gateway, and packets cross both ways, each stream numbered
 * by the gateway. */
static int test_bridge_webrtc_to_webrtc(void)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 30000, .port_max = 39999,
		.ice_addrs = addrs, .n_ice_addrs = 1, .ice_controlling = true,
		.b_webrtc = true, .b_ice_controlling = true,
	};
	const struct tnd_bridge_pt pts[] = { { 0, 0, 8000 } };
	long live = tnd_obj_live();
	struct fixture f;
	struct browser *b[2] = { NULL, NULL };
	int rc = 1;

	memset(&f, 0, sizeof(f));
	f.a.fd = f.b.fd = -1;
	if (tnd_loop_alloc(&f.worker, "media0", 1) || tnd_loop_thread_start(f.worker) ||
	    tnd_loop_alloc(&f.signal, "signal", 0) ||
	    tnd_bridge_alloc(&f.br, f.worker, f.signal, &conf, &events, &f) ||
	    !spin_until(&f.ready, 1, 5000) || !spin_until(&f.ready_b, 1, 5000) || f.ready_err ||
	    tnd_bridge_route(f.br, pts, 1))
		goto out;
	/* two legs, two ICE sides */
	if (!f.ice[0].n_cands || !f.ice[1].n_cands || !strcmp(f.ice[0].ufrag, f.ice[1].ufrag))
		goto out;
	b[0] = browser_up(&f, 0, 100);
	b[1] = browser_up(&f, 1, 40000);
	if (!b[0] || !b[1] || !browser_flag(b[0], &b[0]->connected, 10000) ||
	    !browser_flag(b[1], &b[1]->connected, 10000) ||
	    !spin_until(&f.state, TND_BRIDGE_CONNECTED + 1, 5000) ||
	    !spin_until(&f.state_b, TND_BRIDGE_CONNECTED + 1, 5000))
		goto out;
	for (int i = 0; i < 2; i++) {
		struct browser *to = b[!i];
		int n = 0;
		uint16_t first = 0, last = 0;

		tnd_loop_call(b[i]->loop, step_send, b[i]);
		for (int t = 0; t < 500 && n < 10; t++) {
			g_usleep(2000);
			g_mutex_lock(&to->mu);
			n = to->n_rtp;
			first = to->first_seq;
			last = to->last_seq;
			g_mutex_unlock(&to->mu);
		}
		if (n != 10 || (uint16_t)(last - first) != 9) {
			printf("# leg %d to leg %d: %d packets, seq %u..%u\n", i, !i, n, first, last);
			goto out;
		}
	}
	rc = 0;
 out:
	browser_down(b[0]);
	browser_down(b[1]);
	if (fixture_down(&f, live))
		rc = 1;
	return rc;
}

/* WebRTC <-> SDES-SRTP: leg B protects with the keys a=crypto gave, and a
 * peer with the mirror keys (libsrtp2, as a PBX would) hears the browser
 * and is heard; plain RTP at that leg reaches nobody. */
static int test_bridge_webrtc_to_sdes(void)
{
	struct tnd_srtp_keys pk = {
		.profile = TND_SRTP_AES128_CM_SHA1_80, .key_len = 16, .salt_len = 14,
	};
	long live = tnd_obj_live();
	struct fixture f;
	struct browser *b = NULL;
	struct tnd_srtp *peer = NULL;
	uint8_t ours[30], theirs[30], p[256], r[2048];
	uint16_t seq = 700;
	int rc = 1, got = 0, n_before;

	for (int i = 0; i < 30; i++) {
		ours[i] = (uint8_t)(0x11 * i + 3);
		theirs[i] = (uint8_t)(0x7d ^ (i * 5));
	}
	memcpy(pk.tx, theirs, 30);
	memcpy(pk.rx, ours, 30);
	if (fixture_up_webrtc(&f) || tnd_srtp_alloc(&peer, &pk) ||
	    tnd_bridge_rtp_srtp(f.br, 1, "AES_CM_128_HMAC_SHA1_80", ours, theirs, 30))
		goto out;
	b = browser_up(&f, 0, 3000);
	if (!b || !browser_flag(b, &b->connected, 10000))
		goto out;
	/* the PBX's SRTP reaches the browser */
	for (int t = 0; t < 500 && got < 10; t++) {
		size_t len = 172;

		mk_rtp(p, 8, seq, (uint32_t)seq * 160u, 0xfeed);
		seq++;
		if (tnd_srtp_protect(peer, p, &len, sizeof(p), false))
			goto out;
		peer_send(&f.b, tnd_bridge_port(f.br, 1), p, len);
		spin_until(&f.state, 100, 10);
		g_mutex_lock(&b->mu);
		got = b->n_rtp;
		g_mutex_unlock(&b->mu);
	}
	if (got < 10)
		goto out;
	/* the browser's packets reach the PBX protected, and authenticate */
	got = 0;
	tnd_loop_call(b->loop, step_send, b);
	for (int i = 0; i < 20 && got < 10; i++) {
		ssize_t n = peer_recv(&f.b, r, sizeof(r), 2000);
		size_t len;

		if (n <= 0)
			break;
		if (tnd_demux_classify(r, (size_t)n) != TND_DEMUX_RTP)
			continue;   /* our SRTCP reports */
		len = (size_t)n;
		if (len == 172 || tnd_srtp_unprotect(peer, r, &len, false) || len != 172 ||
		    tnd_rtp_pt(r) != 8)
			goto out;
		got++;
	}
	if (got != 10)
		goto out;
	/* plain RTP at the SDES leg is refused */
	g_mutex_lock(&b->mu);
	n_before = b->n_rtp;
	g_mutex_unlock(&b->mu);
	for (int i = 0; i < 5; i++) {
		mk_rtp(p, 8, seq, (uint32_t)seq * 160u, 0xfeed);
		seq++;
		peer_send(&f.b, tnd_bridge_port(f.br, 1), p, 172);
	}
	spin_until(&f.state, 100, 300);
	g_mutex_lock(&b->mu);
	rc = b->n_rtp == n_before ? 0 : 1;
	g_mutex_unlock(&b->mu);
 out:
	browser_down(b);
	tnd_srtp_free(peer);
	if (fixture_down(&f, live))
		rc = 1;
	return rc;
}

/* The packet path takes no reference per datagram (review L11): an owner
 * that lets go of its socket from inside the socket's own handler, with a
 * burst still queued, must not make the path touch freed memory (ASan) and
 * the socket must still be freed. */
struct releaser {
	struct tnd_obj obj;
	struct tnd_loop *loop;
	struct tnd_rtpsock *s;         /* ref until the handler lets go */
	uint16_t port, peer_port;
	_Atomic int n;
};

static void release_on_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct releaser *r = arg;

	(void)pkt;
	(void)len;
	r->n++;
	if (r->s) {
		tnd_rtpsock_detach(r->s);
		tnd_rtpsock_release(r->s);
		r->s = NULL;
	}
}

static void releaser_start(void *obj)
{
	static const struct tnd_rtpsock_handlers h = { release_on_rtp, NULL };
	const struct tnd_rtpsock_conf conf = {
		.addr = "127.0.0.1", .port_min = 30000, .port_max = 39999, .rtcp_port = true,
	};
	struct releaser *r = obj;

	if (tnd_rtpsock_alloc(&r->s, r->loop, &conf, &h, r))
		return;
	tnd_rtpsock_set_remote(r->s, "127.0.0.1", r->peer_port, 0, NULL);
	r->port = tnd_rtpsock_port(r->s);
}

static int test_rtpsock_release_in_handler(void)
{
	long live = tnd_obj_live();
	struct releaser *r = tnd_obj_zalloc(sizeof(*r), NULL);
	struct peer peer = { -1, 0, 0 };
	uint8_t p[172];
	int64_t end;
	int rc = 1;

	if (!r || peer_open(&peer) || tnd_loop_alloc(&r->loop, "media0", 1) ||
	    tnd_loop_thread_start(r->loop))
		goto out;
	r->peer_port = peer.port;
	tnd_loop_call(r->loop, releaser_start, r);
	for (int i = 0; i < 500 && !r->port; i++)
		g_usleep(2000);
	if (!r->port)
		goto out;
	for (int i = 0; i < 8; i++) {
		mk_rtp(p, 0, (uint16_t)(1 + i), (uint32_t)i * 160u, 0x77);
		peer_send(&peer, r->port, p, sizeof(p));
	}
	/* the first packet's handler let go; the socket is gone after that
	 * batch, and the rest of the burst reached no handler */
	end = g_get_monotonic_time() + 5000000;
	while (tnd_obj_live() != live + 1 && g_get_monotonic_time() < end)
		g_usleep(2000);
	rc = r->n == 1 && tnd_obj_live() == live + 1 ? 0 : 1;
 out:
	if (r && r->loop)
		tnd_loop_free(r->loop);
	if (peer.fd >= 0)
		close(peer.fd);
	tnd_obj_put(r);
	return rc;
}

/* ------------------------------------------------------------ hold music */

/* A 16-bit PCM WAV file of `frames` samples a channel (a 660 Hz square). */
static int write_wav(const char *path, unsigned rate, unsigned ch, unsigned bits,
		     unsigned frames)
{
	FILE *f = fopen(path, "wb");
	uint32_t data = frames * ch * bits / 8;
	uint8_t h[44] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0";
	uint32_t v[] = { rate, rate * ch * bits / 8 };

	if (!f)
		return errno;
	h[22] = (uint8_t)ch;
	memcpy(h + 24, &v[0], 4);   /* little-endian host (x86, arm) */
	memcpy(h + 28, &v[1], 4);
	h[32] = (uint8_t)(ch * bits / 8);
	h[34] = (uint8_t)bits;
	memcpy(h + 36, "data", 4);
	memcpy(h + 40, &data, 4);
	fwrite(h, 1, sizeof(h), f);
	for (unsigned i = 0; i < frames * ch; i++) {
		int16_t s = (i / ch) * 660 * 2 / rate % 2 ? 8000 : -8000;

		fwrite(&s, 1, bits / 8, f);
	}
	return fclose(f) ? errno : 0;
}

static int test_moh_load(void)
{
	char dir[] = "/tmp/tandem-moh-XXXXXX", path[64], why[256];
	struct tnd_moh *m = NULL;
	FILE *f;

	TEST_ASSERT(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.wav", dir);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ENOENT && !m);
	TEST_ASSERT_STR_CONTAINS(why, path);
	f = fopen(path, "w");
	TEST_ASSERT(f);
	fputs("not a wav file at all", f);
	fclose(f);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == EBADMSG && !m);
	TEST_ASSERT_STR_CONTAINS(why, "not a WAV file");
	TEST_ASSERT(write_wav(path, 8000, 1, 8, 8000) == 0);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ENOTSUP && !m);
	TEST_ASSERT_STR_CONTAINS(why, "16 bits");
	TEST_ASSERT(write_wav(path, 16000, 1, 16, 800) == 0);   /* 50 ms */
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ERANGE && !m);
	TEST_ASSERT_STR_CONTAINS(why, "shorter than");
	TEST_ASSERT(write_wav(path, 44100, 2, 16, 44100) == 0);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == 0 && m);
	TEST_ASSERT(tnd_moh_ms(m) == 1000);
	m = tnd_obj_put(m);
	TEST_ASSERT(write_wav(path, 8000, 1, 16, 1600) == 0);   /* 200 ms, no resampling */
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == 0 && tnd_moh_ms(m) == 200);
	m = tnd_obj_put(m);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The browser holds a relayed call with music configured: leg B's peer gets
 * the music (660 Hz, in its codec, PCMA) as the continuation of the stream
 * it had (same SSRC, sequence + 1, timestamps on by 160), and after the
 * resume the relayed packets continue that numbering again. */
static int test_bridge_hold_music(void)
{
	long live = tnd_obj_live();
	char dir[] = "/tmp/tandem-moh-XXXXXX", path[64], why[256];
	struct tnd_bridge_codec bc = { .pt = 8, .ptime = 20 };
	struct tnd_codec_params cp = { 0 };
	struct tnd_codec_dec *dec = NULL;
	struct tnd_moh *moh = NULL;
	struct fixture f;
	uint8_t r[2048];
	int16_t pcm[160], prev = 0;
	uint16_t next = 0;
	uint32_t ssrc = 0, ts = 0;
	bool have = false;
	int got = 0, flips = 0;

	TEST_ASSERT(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.wav", dir);
	TEST_ASSERT(write_wav(path, 16000, 1, 16, 16000) == 0);
	TEST_ASSERT(tnd_moh_load(&moh, path, why, sizeof(why)) == 0);
	unlink(path);
	rmdir(dir);
	bc.codec = tnd_codec_find("PCMA", 8000, 1);
	TEST_ASSERT(bc.codec && tnd_codec_dec_alloc(&dec, bc.codec, &cp) == 0);
	TEST_ASSERT(fixture_up(&f, 0) == 0);
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1, 100, 5, &next,
			      &have) == 5);
	TEST_ASSERT(tnd_bridge_hold(f.br, true, true) == 0);
	TEST_ASSERT(tnd_bridge_hold_music(f.br, 1, moh, &bc) == 0);
	while (got < 25) {
		ssize_t len = peer_recv(&f.b, r, sizeof(r), 1000);
		size_t n = 0;

		TEST_ASSERT(len > 0);
		if (tnd_demux_classify(r, (size_t)len) == TND_DEMUX_RTCP)
			continue;
		TEST_ASSERT(len == TND_RTP_HDR_LEN + 160 && tnd_rtp_pt(r) == 8);
		TEST_ASSERT(tnd_rtp_seq(r) == next);
		if (got) {
			TEST_ASSERT(tnd_rtp_ssrc(r) == ssrc && tnd_rtp_ts(r) == ts + 160);
		}
		ssrc = tnd_rtp_ssrc(r);
		ts = tnd_rtp_ts(r);
		next++;
		got++;
		TEST_ASSERT(tnd_codec_decode(dec, r + TND_RTP_HDR_LEN, 160, pcm, 160, &n) == 0);
		for (size_t i = 0; i < n; i++, prev = pcm[i - 1])
			flips += (pcm[i] < 0) != (prev < 0);
	}
	/* a 660 Hz square changes sign 1320 times a second: 0.5 s here */
	printf("# music: %d packets, %d sign changes\n", got, flips);
	TEST_ASSERT(flips >= 600 && flips <= 720);
	/* resume: music off first, then the relay, which continues after it
	 * although the browser's own numbering moved on while held */
	TEST_ASSERT(tnd_bridge_hold_music(f.br, 1, NULL, NULL) == 0);
	TEST_ASSERT(tnd_bridge_hold(f.br, false, false) == 0);
	for (int i = 0; i < 20 && peer_recv(&f.b, r, sizeof(r), 40) > 0; i++)
		next = tnd_demux_classify(r, 12) == TND_DEMUX_RTCP ? next :
		       (uint16_t)(tnd_rtp_seq(r) + 1);   /* music still in flight */
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1, 180, 5, &next,
			      &have) == 5);
	tnd_codec_dec_free(dec);
	moh = tnd_obj_put(moh);
	return fixture_down(&f, live);
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_mdir_switch_continuity),
		TND_TEST(test_mdir_reorder_dup_jump),
		TND_TEST(test_mdir_report_loss_jitter),
		TND_TEST(test_bridge_sip_source_switch),
		TND_TEST(test_bridge_swap_sip_leg),
		TND_TEST(test_bridge_sip_remote_moves),
		TND_TEST(test_bridge_rtcp_terminated),
		TND_TEST(test_bridge_silence_timeout),
		TND_TEST(test_bridge_teardown_orders),
		TND_TEST(test_bridge_swap_webrtc_leg),
		TND_TEST(test_bridge_webrtc_to_webrtc),
		TND_TEST(test_bridge_webrtc_to_sdes),
		TND_TEST(test_rtpsock_release_in_handler),
		TND_TEST(test_moh_load),
		TND_TEST(test_bridge_hold_music),
	};
	int rc;

	if (tnd_webrtc_init())
		return 1;
	rc = tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	tnd_webrtc_deinit();
	return rc;
}
