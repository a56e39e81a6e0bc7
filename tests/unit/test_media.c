/* gateway/media: the per-direction stream's numbering and statistics as pure
 * logic, and whole bridges on a real worker thread with plain RTP legs on
 * 127.0.0.1, whose peers are UDP sockets on the test thread (which is also
 * the bridge's signalling loop). Asserts on what the peers receive: every
 * packet, sequence numbers strictly one apart across source switches and a
 * leg swap (what keeps SRTP's index unique, review C1), our own RTCP
 * reports, and the silence that ends a call. The peers, the bridge fixture
 * and the browser are in test_media_fx.c; the hold-music tests in
 * test_media_moh.c. */
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
#include "tests/unit/test_media_fx.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"   /* tnd_srtp: the SDES peer's side */

/* ------------------------------------------------------------ stream, pure */

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
