/* gateway/call: the call state machine driven in process with real parts,
 * none mocked: the gateway's SIP user agent (sip/) on 127.0.0.1, a media
 * pool with one worker thread (gateway/media), and as the SIP peer a second
 * tnd_sipua on another port, driven through sip/'s own API. The browser side
 * is the call sink below, which records every notification, and the SDP a
 * browser would send. Most tests stop before ICE (the SIP leg's inactivity
 * clock starts with the SDP answer); one brings the media up with a real
 * tnd_pc as the browser, on a thread of its own.
 *
 * The test thread is the signalling thread: it spins the default main
 * context, which carries both user agents and the bridge's events. Each test
 * asserts on what the SIP peer saw (INVITE and its SDP, status codes, BYE or
 * CANCEL), on the sink's call.state sequence, and that every call, dialog,
 * bridge and port is gone at the end (tnd_calls_stats; the runner counts
 * tnd_obj objects). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/base/stats.h"
#include "gateway/call/call.h"
#include "gateway/conf.h"
#include "gateway/media/media.h"
#include "sip/sip.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call.h"
#include "webrtc/webrtc.h"

#include "tests/unit/test_call_fx.h"

/* ------------------------------------------------------------ browser to SIP */

/* The whole outgoing call: our answer to the browser, the INVITE with the
 * codec the browser and we agreed on, ringing and answered in order, and
 * the browser's hangup reaching the peer as BYE. */
static int out_answered_hangup(void)
{
	char msg[256];
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	/* our answer to the browser: PCMU at its PT, our ICE and DTLS */
	TEST_ASSERT_STR_CONTAINS(fx.answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0 126");
	TEST_ASSERT_STR_CONTAINS(fx.answer, "a=fingerprint:sha-256 ");
	TEST_ASSERT_STR_CONTAINS(fx.answer, "a=ice-ufrag:");
	TEST_ASSERT(!strstr(fx.answer, "opus"));
	/* the INVITE: every codec we relay or transcode, in [media] sip_codecs
	 * order (PCMU,PCMA,G722,opus,G729), plus telephone-event, plain RTP */
	TEST_ASSERT_STR_CONTAINS(pc->log, "invite bob;");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "RTP/AVP 0 8 9 111 18 101 110");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:0 PCMU/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:9 G722/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:111 opus/48000/2");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=fmtp:18 annexb=no");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:101 telephone-event/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:110 telephone-event/48000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "c=IN IP4 127.0.0.1");

	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 ringing 180 Ringing;1 answered 200 OK;"));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));

	/* someone else's hangup, or an unknown id: 404, nothing sent */
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice2, fx.call_id, msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, "c0", msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	/* `ended` 200 at once; the BYE goes out meanwhile (protocol.md) */
	TEST_ASSERT_STR_CONTAINS(fx.sink, ";1 ended 200 hung up;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* The callee is busy: 486 reaches the browser as `ended` 486. */
static int out_rejected_486(void)
{
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 ended 486 Busy Here;"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 486 local;");
	return 0;
}

/* /metrics' view of the same: one attempt, one 4xx outcome, no set-up
 * time (never answered), and the live call in the call layer's gauges
 * while it rings. */
static int out_metrics_busy(void)
{
	unsigned busy = TND_ST_OUTCOMES + TND_STATS_OUT * TND_STATS_CLASSES + TND_STATS_4XX;
	uint64_t att = tnd_stats_sum(TND_ST_ATTEMPTS + TND_STATS_OUT), n4 = tnd_stats_sum(busy);
	uint64_t n2 = tnd_stats_sum(busy - TND_STATS_4XX + TND_STATS_2XX);
	uint64_t setups = tnd_stats_hist_count(TND_H_SETUP + TND_STATS_OUT);
	GString *out = g_string_new(NULL);
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	tnd_calls_metrics_write(fx.calls, out);
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_calls_active{direction=\"out\","
				 "mode=\"passthrough\"} 1\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_calls_active{direction=\"in\","
				 "mode=\"passthrough\"} 0\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_media_worker_load_ratio{worker=\"0\"} ");
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(tnd_stats_sum(TND_ST_ATTEMPTS + TND_STATS_OUT) == att + 1);
	TEST_ASSERT(tnd_stats_sum(busy) == n4 + 1);
	TEST_ASSERT(tnd_stats_sum(busy - TND_STATS_4XX + TND_STATS_2XX) == n2);
	TEST_ASSERT(tnd_stats_hist_count(TND_H_SETUP + TND_STATS_OUT) == setups);
	g_string_truncate(out, 0);
	tnd_calls_metrics_write(fx.calls, out);
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_calls_active{direction=\"out\","
				 "mode=\"passthrough\"} 0\n");
	g_string_free(out, TRUE);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* A call to a host name: the next hop is looked up off the signalling
 * thread (sip/resolve.c) and the INVITE reaches the peer at the address
 * found (localhost: /etc/hosts, no DNS server needed). */
static int out_by_name(void)
{
	char to[128], msg[256] = "";
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned before = fx.n_pc;

	snprintf(to, sizeof(to), "sip:bob@localhost:%u", fx.peer_port);
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg)) == 0);
	tnd_obj_put(r);
	for (int64_t end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	     fx.n_pc == before && g_get_monotonic_time() < end;)
		spin(2);
	TEST_ASSERT(fx.n_pc == before + 1);
	TEST_ASSERT(tnd_sipcall_reject(fx.pc[before].sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 486 Busy Here;");
	return 0;
}

/* A host name that does not resolve (RFC 6761 .invalid): the call ends
 * 503 or 504 (DNS server slow) with the name in a reason naming DNS,
 * within [sip] dns_timeout, and nothing reaches the peer. */
static int out_name_unresolvable(void)
{
	char msg[256] = "";
	struct tnd_call_params p = { .to = "sip:bob@pbx.example.invalid", .sdp = browser_offer,
				     .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned before = fx.n_pc;

	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg)) == 0);
	tnd_obj_put(r);
	TEST_ASSERT(wait_for(fx.sink, "ended", 7000));
	TEST_ASSERT(strstr(fx.sink, "1 ended 503 DNS: no address for pbx.example.invalid;") ||
		    strstr(fx.sink, "1 ended 504 DNS timeout for pbx.example.invalid;"));
	TEST_ASSERT(fx.n_pc == before);
	return 0;
}

/* The browser hangs up while it rings: the browser gets `ended` 487 at
 * once and the peer gets CANCEL (487 to its INVITE). */
static int out_cancel_ringing(void)
{
	char msg[256];
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	/* the browser is told at once, not when the SIP side has answered */
	TEST_ASSERT(!strcmp(fx.sink, "1 ringing 180 Ringing;1 ended 487 hung up;"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ended 487 remote-cancel;"));
	return 0;
}

/* Requests the gateway refuses before anything reaches SIP. */
static int out_refused(void)
{
	struct tnd_call_params p = { .to = "sip:bob@127.0.0.1", .sdp = "v=0\r\n" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	char msg[256];

	/* the dial plan */
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == EPERM);
	p.to = "sip:bob@pbx.example";
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(msg, "params.sdp");
	/* no codec we relay or transcode (GSM): 488 before any port is taken */
	p.sdp = L("v=0") L("o=- 1 1 IN IP4 127.0.0.1") L("s=-") L("t=0 0")
		L("m=audio 9 UDP/TLS/RTP/SAVPF 3") L("c=IN IP4 0.0.0.0")
		L("a=ice-ufrag:Ow9+") L("a=ice-pwd:Gk2bA7sQm6hX1yTqzR0vN3pL")
		L("a=fingerprint:sha-256 " FP) L("a=setup:actpass") L("a=mid:0")
		L("a=rtcp-mux") L("a=rtpmap:3 GSM/8000");
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == ENOTSUP);
	tnd_obj_put(r);
	TEST_ASSERT(!fx.done && fx.n_pc == 0 && !*fx.sink);
	return 0;
}

/* ------------------------------------------------------------ SIP to browser */

/* An INVITE for a logged-in user rings her WebSocket with our offer and
 * 180 to the caller; her reject reaches the caller as 486. */
static int in_reject(void)
{
	char msg[256];
	struct pcall *pc;

	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 incoming sip:carol@127.0.0.1");
	/* a browser offer: the caller's codec at its PT (pass-through), Opus
	 * to transcode from, telephone-event at both clocks, DTLS, ICE */
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 0 111 101 110");
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "a=fmtp:111 minptime=10;useinbandfec=1");
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "a=setup:actpass");
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "a=ice-pwd:");
	/* bad codes and other connections are refused */
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 200, msg,
				     sizeof(msg)) == EINVAL);
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice2, fx.incoming_id, 486, msg,
				     sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "180;ended 486 rejected;"));
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, ";1 ended 486 ");
	return 0;
}

/* Nobody logged in as the user: 480, and no call is made. */
static int in_unknown_user(void)
{
	struct pcall *pc, *pc2;

	pc = peer_invite("nobody");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "ended 480 rejected;"));
	/* alice known to the user table but with no WebSocket open: the same */
	fx.n_alice = 0;
	pc2 = peer_invite("alice");
	TEST_ASSERT(pc2);
	TEST_ASSERT(wait_for(pc2->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc2->log, "ended 480 rejected;"));
	TEST_ASSERT(!*fx.sink);
	return 0;
}

/* Two WebSockets ring; the second answers: the first hears "answered
 * elsewhere", the caller gets 200 with our SDP; the caller's BYE ends it. */
static int in_answer_forked_then_bye(void)
{
	char msg[256];
	struct pcall *pc;

	fx.n_alice = 2;
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(fx.n_incoming == 2);
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice2, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == 0);
	/* the loser's answer comes too late */
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == EALREADY);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "m=audio ");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "RTP/AVP 0 101");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "c=IN IP4 127.0.0.1");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 0 answered elsewhere;");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 answered 200 OK;");
	spin(50);
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "2 ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 ended 200 BYE;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 200 local;");
	return 0;
}

/* The caller gives up while it rings: CANCEL ends it for the browser, 487. */
static int in_caller_cancels(void)
{
	struct pcall *pc;

	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 487 ");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 487 local;");
	return 0;
}

/* ------------------------------------------------------------ teardown orders */

/* With [calls] reattach_grace = 0, the WebSocket closes while the call
 * rings, and another while it is up: CANCEL, then BYE, reach the peer;
 * nobody is told (nobody is left). The grace: test_call_reattach.c. */
static int conn_gone(void)
{
	struct pcall *pc;
	size_t sink_len;

	fx.peer_auto_ring = true;
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ended 487 remote-cancel;"));
	TEST_ASSERT(wait_idle(WAIT_MS));
	TEST_ASSERT(strlen(fx.sink) == sink_len);

	/* mid-call */
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	sink_len = strlen(fx.sink);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	TEST_ASSERT(wait_idle(WAIT_MS));
	TEST_ASSERT(strlen(fx.sink) == sink_len);
	return 0;
}

/* An incoming call ringing on two WebSockets: one closing leaves it ringing
 * on the other; the last closing answers the caller 480. */
static int conn_gone_incoming(void)
{
	char msg[256];
	struct pcall *pc;

	fx.n_alice = 2;
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	tnd_calls_conn_gone(fx.calls, fx.alice);
	spin(100);
	TEST_ASSERT(!pc->ended);
	/* the closed one can no longer act on it */
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == ENOENT);
	tnd_calls_conn_gone(fx.calls, fx.alice2);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "180;ended 480 rejected;"));
	return 0;
}

/* The SIP peer hangs up an answered call from the browser: `ended` 200. */
static int out_remote_bye(void)
{
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 answered 200 OK;1 ended 200 BYE;"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 local;"));
	return 0;
}

/* The registry freed with calls in every state: an answered call from the
 * browser (BYE), one still ringing at the peer (CANCEL) and one from SIP
 * ringing in the browser (480); nothing is left. */
static int calls_free_live(void)
{
	struct pcall *out1, *out2, *in;
	size_t sink_len;

	out1 = start_call();
	TEST_ASSERT(out1);
	TEST_ASSERT(peer_answer(out1) == 0);
	TEST_ASSERT(wait_for(out1->log, "ack;", WAIT_MS));
	fx.peer_auto_ring = true;
	out2 = start_call();
	TEST_ASSERT(out2);
	in = peer_invite("alice");
	TEST_ASSERT(in);
	TEST_ASSERT(wait_for(in->log, "180;", WAIT_MS));
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);

	tnd_calls_free(fx.calls);
	fx.calls = NULL;
	TEST_ASSERT(wait_for(out1->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(out2->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(in->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(out1->log, "invite bob;ack;ended 200 remote-bye;"));
	TEST_ASSERT(!strcmp(out2->log, "invite bob;ended 487 remote-cancel;"));
	TEST_ASSERT(!strcmp(in->log, "180;ended 480 rejected;"));
	/* call.h: "Hangs up every call without further events" */
	if (strlen(fx.sink) != sink_len)
		printf("# after tnd_calls_free the sink heard: %s\n", fx.sink + sink_len);
	TEST_ASSERT(strlen(fx.sink) == sink_len);
	return 0;
}

/* ------------------------------------------------------------ media */

static uint16_t sdp_port(const char *sdp)
{
	const char *m = strstr(sdp, "m=audio ");

	return m ? (uint16_t)atoi(m + 8) : 0;
}

/* [media] timeout = 1: an answered call stays up while the SIP peer sends
 * RTP, and ends 408 "no media" with BYE to the peer once it stops. */
static int media_timeout(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	uint8_t rtp[172] = { 0x80, 0 };
	struct pcall *pc;
	int64_t stop;

	pc = start_call();
	TEST_ASSERT(pc);
	to.sin_port = htons(sdp_port(pc->sdp));
	TEST_ASSERT(to.sin_port != 0);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	/* 2.5 timeouts of RTP from the peer's SDP address: the call lives */
	stop = g_get_monotonic_time() + 2500000;
	for (uint16_t seq = 1; g_get_monotonic_time() < stop; seq++) {
		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		tnd_rtp_set_ssrc(rtp, 0x5eed);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		spin(20);
	}
	TEST_ASSERT(!strstr(fx.sink, "ended") && !pc->ended);
	/* silence */
	TEST_ASSERT(wait_for(fx.sink, "ended", 3000));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 answered 200 OK;1 ended 408 no media from the "
				 "SIP side for 1 s;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* The media up end to end with [media] timeout = 1: a real pc as the
 * browser gets ICE and DTLS-SRTP up with the bridge, PCMU crosses both
 * ways (the SIP peer's socket hears the browser, the browser's pc the SIP
 * peer); when the browser falls silent while the SIP side still talks, the
 * call ends 408 "no media from the browser" with BYE to the peer. */
static int media_up_browser_silent(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	char offer[2 * LOGLEN], to_uri[128], msg[256];
	struct tnd_call_params p = { .to = to_uri, .sdp = offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned n_pc = fx.n_pc;
	uint8_t rtp[172] = { 0x80, 0 }, rx[2048];
	int at_peer = 0, bad_at_peer = 0;
	struct pcall *pc;
	int64_t stop;
	int err;

	TEST_ASSERT(tnd_test_browser_up() == 0);
	tnd_test_browser_offer(offer, sizeof(offer));
	snprintf(to_uri, sizeof(to_uri), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.peer_auto_ring = true;
	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == 0);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS) && fx.done_err == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS) && fx.n_pc == n_pc + 1);
	pc = &fx.pc[n_pc];
	TEST_ASSERT(tnd_test_browser_remote(fx.answer, fx.gw_cands));
	TEST_ASSERT(tnd_test_browser_wait_connected(WAIT_MS));
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	to.sin_port = htons(sdp_port(pc->sdp));

	/* 1.5 timeouts of both sides talking: each hears the other */
	stop = g_get_monotonic_time() + 1500000;
	for (uint16_t seq = 1; g_get_monotonic_time() < stop; seq++) {
		ssize_t n;

		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		tnd_rtp_set_ssrc(rtp, 0x5eed);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		TEST_ASSERT(tnd_test_browser_send(1));
		spin(20);
		while ((n = recv(fx.media_fd, rx, sizeof(rx), 0)) > 0) {
			if (tnd_demux_classify(rx, (size_t)n) != TND_DEMUX_RTP)
				continue;   /* our RTCP reports */
			at_peer++;
			bad_at_peer += n != 172 || tnd_rtp_pt(rx) != 0;
		}
	}
	TEST_ASSERT(!strstr(fx.sink, "ended") && !pc->ended);
	TEST_ASSERT(at_peer >= 20 && bad_at_peer == 0);
	TEST_ASSERT(tnd_test_browser_rtp(&err) >= 20 && err == 0);

	/* the browser falls silent; the SIP peer talks on */
	stop = g_get_monotonic_time() + 3000000;
	for (uint16_t seq = 2000; !strstr(fx.sink, "ended") &&
	     g_get_monotonic_time() < stop; seq++) {
		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		spin(20);
	}
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 408 no media from the browser for 1 s;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* ------------------------------------------------------------ port pool */

static char conf_ports[160];
static uint16_t port_lo;

static bool udp_free(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));

	if (fd >= 0)
		close(fd);
	return ok;
}

/* [media] port_min..port_max three ports: one call's RTP pair (even, odd)
 * and its ICE port fill it, so a second call finds no pair: the outgoing
 * request fails EBUSY before any INVITE, an incoming INVITE gets 503 and no
 * browser hears of it; ports come back when the call ends. */
static int ports_exhausted(void)
{
	char to[128], msg[256];
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	struct pcall *pc, *in;
	size_t sink_len;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(sdp_port(pc->sdp) == port_lo);
	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.done = false;
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg)) == 0);
	tnd_obj_put(r);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS));
	TEST_ASSERT(fx.done_err == EBUSY);
	TEST_ASSERT_STR_CONTAINS(fx.done_msg, "media set-up failed");
	TEST_ASSERT(fx.n_pc == 1);

	in = peer_invite("alice");
	TEST_ASSERT(in);
	TEST_ASSERT(wait_for(in->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(in->log, "ended 503 rejected;"));
	TEST_ASSERT(fx.n_incoming == 0 && strlen(fx.sink) == sink_len);

	/* the first call ends; its ports serve the next one */
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended 486", WAIT_MS));
	TEST_ASSERT(wait_idle(WAIT_MS));
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(sdp_port(pc->sdp) == port_lo);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink + sink_len, "ended 486", WAIT_MS));
	return 0;
}

static int test_ports_exhausted(void)
{
	for (int i = 0; i < 50; i++) {
		port_lo = (uint16_t)(40000 + 2 * g_random_int_range(0, 10000));
		if (udp_free(port_lo) && udp_free((uint16_t)(port_lo + 1)) &&
		    udp_free((uint16_t)(port_lo + 2)))
			break;
	}
	snprintf(conf_ports, sizeof(conf_ports), "[media]\nworkers = 1\nport_min = %u\n"
		 "port_max = %u\n", port_lo, port_lo + 2);
	return with_fx(ports_exhausted, conf_ports);
}

/* ------------------------------------------------------------ charsets */

/* A PBX's Latin-1 display name (review M9) reaches the browser as UTF-8,
 * never as bytes JSON cannot carry. */
static int in_latin1_display(void)
{
	struct pcall *pc;
	char msg[256];

	pc = peer_invite_as("alice", "Jos\xe9 M\xfcller");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	TEST_ASSERT(g_utf8_validate(fx.incoming_display, -1, NULL));
	TEST_ASSERT(!strcmp(fx.incoming_display, "Jos\xc3\xa9 M\xc3\xbcller"));
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_idle(WAIT_MS));
	return 0;
}

/* ------------------------------------------------------------ admission */

/* Keeps the worker's thread on the CPU for 0.6 s. */
static void busy(void *obj)
{
	struct timespec ts;
	int64_t end;

	(void)obj;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = ts.tv_sec * 1000000000LL + ts.tv_nsec + 600000000LL;
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	while (ts.tv_sec * 1000000000LL + ts.tv_nsec < end);
}

/* Waits until the worker's measured load is past 1 %: a real busy spell on
 * the real worker, measured by the pool's own clock. The pool's first
 * second only sets its baseline, so a spell may go unmeasured: try again. */
static bool worker_loaded(struct tnd_loop *w)
{
	for (int tries = 0; w && tries < 3; tries++) {
		if (tnd_loop_call(w, busy, NULL))
			return false;
		/* on a loaded machine the 0.6 s of CPU can take seconds */
		for (int64_t end = g_get_monotonic_time() + 8000000;
		     g_get_monotonic_time() < end;) {
			if (tnd_media_pool_load(fx.pool, 0) >= 1)
				return true;
			spin(2);
		}
	}
	return false;
}

/* [media] max_load: a worker past it takes no call. A call from the
 * browser is refused EBUSY (the API's 503) and one from SIP gets 503; once
 * the load is measured low again, calls are taken. */
static int admission_max_load(void)
{
	char to[128], msg[256];
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct tnd_loop *worker;
	struct req *r;
	struct pcall *pc;
	int err;

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	worker = tnd_media_pool_pick(fx.pool);   /* the pool's only worker */
	TEST_ASSERT(worker);
	tnd_media_pool_set_max_load(fx.pool, 1);
	TEST_ASSERT(worker_loaded(worker));
	r = tnd_obj_zalloc(sizeof(*r), NULL);
	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == EBUSY);
	TEST_ASSERT_STR_CONTAINS(msg, "max_load");
	TEST_ASSERT(!fx.done);

	TEST_ASSERT(worker_loaded(worker));
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "ended 503 rejected;"));
	TEST_ASSERT(!*fx.sink && fx.n_pc == 1);
	TEST_ASSERT(wait_idle(WAIT_MS));

	/* no limit: the same worker takes the call */
	tnd_media_pool_set_max_load(fx.pool, 0);
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended 486", WAIT_MS));
	return 0;
}

/* ------------------------------------------------------------ the table */


FX_TEST(out_answered_hangup, conf_default)
FX_TEST(in_latin1_display, conf_default)
FX_TEST(out_rejected_486, conf_default)
FX_TEST(out_metrics_busy, conf_default)
FX_TEST(out_by_name, conf_default)
FX_TEST(out_name_unresolvable, conf_default)
FX_TEST(out_cancel_ringing, conf_default)
FX_TEST(out_refused, conf_dialplan)
FX_TEST(in_reject, conf_default)
FX_TEST(in_unknown_user, conf_default)
FX_TEST(in_answer_forked_then_bye, conf_default)
FX_TEST(in_caller_cancels, conf_default)
/* the calls end with their WebSocket only without a reattach grace */
static const char conf_no_grace[] = "[media]\nworkers = 1\n[calls]\nreattach_grace = 0\n";
FX_TEST(conn_gone, conf_no_grace)
FX_TEST(conn_gone_incoming, conf_default)
FX_TEST(out_remote_bye, conf_default)
FX_TEST(calls_free_live, conf_default)
FX_TEST(media_timeout, conf_timeout)
FX_TEST(media_up_browser_silent, conf_timeout)
FX_TEST(admission_max_load, conf_default)

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_out_answered_hangup),
		TND_TEST(test_out_rejected_486),
		TND_TEST(test_out_metrics_busy),
		TND_TEST(test_out_by_name),
		TND_TEST(test_out_name_unresolvable),
		TND_TEST(test_out_cancel_ringing),
		TND_TEST(test_out_refused),
		TND_TEST(test_in_reject),
		TND_TEST(test_in_unknown_user),
		TND_TEST(test_in_answer_forked_then_bye),
		TND_TEST(test_in_caller_cancels),
		TND_TEST(test_conn_gone),
		TND_TEST(test_conn_gone_incoming),
		TND_TEST(test_out_remote_bye),
		TND_TEST(test_calls_free_live),
		TND_TEST(test_media_timeout),
		TND_TEST(test_media_up_browser_silent),
		TND_TEST(test_ports_exhausted),
		TND_TEST(test_admission_max_load),
		TND_TEST(test_in_latin1_display),
		TND_TEST(tnd_test_call_ring_timeout),
		TND_TEST(tnd_test_call_ring_cap_user),
		TND_TEST(tnd_test_call_ring_cap_total),
		TND_TEST(tnd_test_call_out_caps),
		TND_TEST(tnd_test_call_out_rate),
		TND_TEST(tnd_test_call_hangup_silent_peer),
		TND_TEST(tnd_test_call_in_pcma_ptime30_opus),
		TND_TEST(tnd_test_call_out_peer_answers_pcma),
		TND_TEST(tnd_test_call_out_peer_answers_g729),
		TND_TEST(tnd_test_call_drain_last_call),
		TND_TEST(tnd_test_call_drain_timeout),
		TND_TEST(tnd_test_call_drain_idle),
		TND_TEST(tnd_test_call_reg_refused),
		TND_TEST(tnd_test_call_sdes_out_mandatory),
		TND_TEST(tnd_test_call_sdes_in_mandatory_plain),
		TND_TEST(tnd_test_call_sdes_optional),
		TND_TEST(tnd_test_call_reg_detach_pending),
		TND_TEST(tnd_test_call_reg_bad_params),
		TND_TEST(tnd_test_call_reg_requests),
		TND_TEST(tnd_test_call_reg_message_as),
		TND_TEST(tnd_test_call_reg_observed),
		TND_TEST(tnd_test_call_reattach_same_pc),
		TND_TEST(tnd_test_call_reattach_grace_ends),
		TND_TEST(tnd_test_call_reattach_takeover),
		TND_TEST(tnd_test_call_reattach_new_offer),
		TND_TEST(tnd_test_call_reattach_logout),
		TND_TEST(tnd_test_call_reattach_incoming),
		TND_TEST(tnd_test_call_reattach_browser_silent),
		TND_TEST(tnd_test_call_dtmf_info),
		TND_TEST(tnd_test_call_dtmf_checks),
		TND_TEST(tnd_test_call_xfer),
		TND_TEST(tnd_test_call_hold_browser),
		TND_TEST(tnd_test_call_hold_peer),
		TND_TEST(tnd_test_call_reneg),
	};
	int rc;

	tnd_sip_init();
	if (tnd_webrtc_init()) {
		printf("Bail out! tnd_webrtc_init\n");
		return 1;
	}
	rc = tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	tnd_webrtc_deinit();
	tnd_sip_deinit();
	return rc;
}
