/* gateway/call hold and resume (issue 11 item 4) with the real user agents
 * of the test_call fixture: the browser's `hold` and `resume` reach the SIP
 * peer as re-INVITEs offering a=sendonly and a=sendrecv and give call.state
 * held / resumed with the peer's 200, on calls to and from SIP; the
 * request's checks (another
 * connection's call, not answered, held already, not held, one under way).
 * The peer's own re-INVITE with a=sendonly, then a=inactive, then sendrecv
 * gives held (once), then resumed, and is answered with the mirrored
 * direction; c=0.0.0.0 (RFC 2543) holds too. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static struct pcall *answered(void)
{
	struct pcall *pc = start_call();

	if (!pc || peer_answer(pc) || !wait_for(fx.sink, "answered", WAIT_MS) ||
	    !wait_for(pc->log, "ack;", WAIT_MS))
		return NULL;
	return pc;
}

static int hold_browser(void)
{
	char msg[256];
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, true, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice2, fx.call_id, true, msg, sizeof(msg)) ==
		    ENOENT);
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, false, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT_STR_CONTAINS(msg, "not held");
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, true, msg, sizeof(msg)) == 0);
	/* one at a time */
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, false, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT(wait_for(fx.sink, "held", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ack;reoffer sendonly;");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 answered 200 OK;1 held 200 OK;");
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, true, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT_STR_CONTAINS(msg, "held already");
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, false, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(fx.sink, "resumed", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "reoffer sendonly;reoffer sendrecv;");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 held 200 OK;1 resumed 200 OK;");
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* The peer's offer with `dir` and media address `addr`, o= version `v`. */
static int peer_reinvite_at(struct pcall *pc, const char *dir, const char *addr, unsigned v)
{
	char sdp[512];

	snprintf(sdp, sizeof(sdp), L("v=0") L("o=peer 1 %u IN IP4 127.0.0.1") L("s=-")
		 L("c=IN IP4 %s") L("t=0 0") L("m=audio %u RTP/AVP 0")
		 L("a=rtpmap:0 PCMU/8000") L("a=ptime:20") L("a=%s"), v, addr, fx.media_port,
		 dir);
	return tnd_sipcall_reinvite(pc->sc, sdp);
}

static int peer_reinvite(struct pcall *pc, const char *dir, unsigned v)
{
	return peer_reinvite_at(pc, dir, "127.0.0.1", v);
}

static int hold_peer(void)
{
	char msg[256];
	struct pcall *pc = answered();

	TEST_ASSERT(pc);
	TEST_ASSERT(peer_reinvite(pc, "sendonly", 2) == 0);
	TEST_ASSERT(wait_for(fx.sink, "held", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 held 0 held by the SIP peer;");
	/* still held: no second notification */
	spin(200);
	TEST_ASSERT(peer_reinvite(pc, "inactive", 3) == 0);
	spin(300);
	TEST_ASSERT(!strstr(strstr(fx.sink, "held by") + 1, "held by"));
	/* the browser cannot resume what the peer holds, but may hold too */
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, false, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT(peer_reinvite(pc, "sendrecv", 4) == 0);
	TEST_ASSERT(wait_for(fx.sink, "resumed", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 held 0 held by the SIP peer;"
				 "1 resumed 0 resumed by the SIP peer;");
	/* RFC 2543 hold: c=0.0.0.0, still sendrecv (once the last 200 is in) */
	spin(200);
	TEST_ASSERT(peer_reinvite_at(pc, "sendrecv", "0.0.0.0", 5) == 0);
	TEST_ASSERT(wait_for(strstr(fx.sink, "resumed by"), "held by", WAIT_MS));
	spin(200);
	TEST_ASSERT(peer_reinvite(pc, "sendrecv", 6) == 0);
	TEST_ASSERT(wait_for(strstr(strstr(fx.sink, "resumed by") + 1, "held by"), "resumed by",
			     WAIT_MS));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* A call from SIP: our re-INVITE offers the answer we gave, now sendonly. */
static int hold_incoming(void)
{
	char msg[256];
	struct pcall *pc = peer_invite("alice");

	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	spin(100);   /* our 2xx's ACK */
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.incoming_id, true, msg,
				   sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(fx.sink, "held", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "reoffer sendonly;");
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.incoming_id, false, msg,
				   sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(fx.sink, "resumed", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "reoffer sendonly;reoffer sendrecv;");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 held 200 OK;1 resumed 200 OK;");
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	return 0;
}

int tnd_test_call_hold_browser(void)
{
	int err = with_fx(hold_browser, conf_default);

	return err ? err : with_fx(hold_incoming, conf_default);
}

int tnd_test_call_hold_peer(void)
{
	return with_fx(hold_peer, conf_default);
}
