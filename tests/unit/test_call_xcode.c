/* gateway/call codec choice with transcoding (issue 10 item 2): a SIP
 * offer with PCMA first at ptime 30 is answered PCMA at ptime 30 while the
 * browser takes Opus (the call is transcoded); a SIP peer answering a codec
 * the browser did not take (PCMA, G.729) no longer gets 488 but a
 * transcoded call. Same fixture as test_call.c: real user agents on
 * loopback, one media worker; the call's `stats` say what the bridge runs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_xcode[] = "[media]\nworkers = 1\n";

/* The browser takes Opus alone from the gateway's offer. */
static const char browser_answer_opus[] =
	L("v=0") L("o=- 77 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 111 110") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:brws") L("a=ice-pwd:browserpasswordbrowser12")
	L("a=fingerprint:sha-256 " FP) L("a=setup:active") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:111 opus/48000/2") L("a=fmtp:111 useinbandfec=1")
	L("a=rtpmap:110 telephone-event/48000");

static struct tnd_call_stats got;
static bool got_done;
static int got_err;

static void stats_done(void *req, int err, const struct tnd_call_stats *st)
{
	(void)req;
	got_err = err;
	if (st)
		got = *st;
	got_done = true;
}

/* The call's stats, read from its worker. */
static int read_stats(const char *call_id)
{
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	char msg[256];
	int err;

	got_done = false;
	err = tnd_calls_media_stats(fx.calls, fx.alice, call_id, stats_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == 0);
	TEST_ASSERT(wait_flag(&got_done, WAIT_MS));
	TEST_ASSERT(got_err == 0);
	return 0;
}

static int in_pcma_ptime30_opus(void)
{
	char msg[256];
	struct pcall *pc;

	fx.peer_fmts = "8 0 101";
	fx.peer_attrs = L("a=rtpmap:8 PCMA/8000") L("a=rtpmap:0 PCMU/8000")
			L("a=rtpmap:101 telephone-event/8000") L("a=ptime:30");
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	/* the browser may relay PCMA or take Opus */
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 8 111 101 110");
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer_opus, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	/* the offerer's first codec at its ptime, whatever the browser took */
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "RTP/AVP 8 101");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:8 PCMA/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=ptime:30");
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(!read_stats(fx.incoming_id));
	TEST_ASSERT(got.transcoded);
	TEST_ASSERT(!strcmp(got.leg[0].codec, "opus") && got.leg[0].transcoded);
	TEST_ASSERT(!strcmp(got.leg[1].codec, "PCMA") && got.leg[1].clock == 8000);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.incoming_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* The browser offered PCMU and Opus (we answer PCMU); the peer answers
 * `fmts` alone: the call is answered and transcoded. */
static int out_peer_answers(const char *fmts, const char *attrs, const char *codec)
{
	struct pcall *pc;
	char msg[256];

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT_STR_CONTAINS(fx.answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0 126");
	fx.peer_fmts = fmts;
	fx.peer_attrs = attrs;
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(!strstr(fx.sink, "ended"));
	TEST_ASSERT(!read_stats(fx.call_id));
	TEST_ASSERT(got.transcoded);
	TEST_ASSERT(!strcmp(got.leg[0].codec, "PCMU"));
	TEST_ASSERT(!strcmp(got.leg[1].codec, codec));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

static int out_peer_answers_pcma(void)
{
	return out_peer_answers("8 101", L("a=rtpmap:8 PCMA/8000")
				L("a=rtpmap:101 telephone-event/8000") L("a=ptime:20"), "PCMA");
}

static int out_peer_answers_g729(void)
{
	return out_peer_answers("18", L("a=rtpmap:18 G729/8000") L("a=fmtp:18 annexb=no")
				L("a=ptime:20"), "G729");
}

int tnd_test_call_in_pcma_ptime30_opus(void)
{
	return with_fx(in_pcma_ptime30_opus, conf_xcode);
}

int tnd_test_call_out_peer_answers_pcma(void)
{
	return with_fx(out_peer_answers_pcma, conf_xcode);
}

int tnd_test_call_out_peer_answers_g729(void)
{
	return with_fx(out_peer_answers_g729, conf_xcode);
}
