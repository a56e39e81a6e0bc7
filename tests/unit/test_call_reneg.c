/* gateway/call renegotiate (issue 11 item 4) with the real user agents of
 * the test_call fixture: the browser's same offer again is answered at once
 * with the same ICE credentials and DTLS role and no re-INVITE; an ICE
 * restart, a new fingerprint or an a=setup forcing the other role gets
 * ENOTSUP; a=sendonly reaches the SIP peer as a re-INVITE offering
 * sendonly, and the answer (recvonly) comes with the peer's 200 and
 * call.state held; one at a time (EALREADY, and `hold` meanwhile); a codec
 * the call does not carry (PCMA only) is answered with it after a
 * re-INVITE; a call ending with a renegotiation pending fails it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static struct {
	bool done;
	int err;
	char msg[256], sdp[LOGLEN];
} rn;

static void reneg_done(void *r, int err, const char *msg, const char *call, const char *sdp)
{
	(void)r;
	(void)call;
	rn.done = true;
	rn.err = err;
	snprintf(rn.msg, sizeof(rn.msg), "%s", msg ? msg : "");
	snprintf(rn.sdp, sizeof(rn.sdp), "%s", sdp ? sdp : "");
}

/* browser_offer with `from` replaced by `to` (each once). */
static const char *variant(const char *from, const char *to)
{
	static char buf[2048];
	const char *at = strstr(browser_offer, from);

	if (!at)
		return NULL;
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - browser_offer), browser_offer, to,
		 at + strlen(from));
	return buf;
}

static int reneg(const char *sdp, char *msg, size_t msglen)
{
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	int err;

	memset(&rn, 0, sizeof(rn));
	err = tnd_calls_renegotiate(fx.calls, fx.alice, fx.call_id, sdp, reneg_done, r, msg,
				    msglen);
	tnd_obj_put(r);
	return err;
}

/* The value of an a=<name>: line of sdp, into out. */
static const char *attr(const char *sdp, const char *name, char *out, size_t len)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof(key), "a=%s:", name);
	at = strstr(sdp, key);
	if (!at)
		return "";
	at += strlen(key);
	snprintf(out, len, "%.*s", (int)strcspn(at, "\r\n"), at);
	return out;
}

/* rn.sdp and our first answer say the same, not nothing, for a=<name>. */
static bool same_attr(const char *name)
{
	char a[128], b[128];

	*a = *b = '\0';
	attr(rn.sdp, name, a, sizeof(a));
	attr(fx.answer, name, b, sizeof(b));
	return *a && !strcmp(a, b);
}

static int reneg_out(void)
{
	char msg[256];
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	TEST_ASSERT(reneg(browser_offer, msg, sizeof(msg)) == EALREADY);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	TEST_ASSERT(tnd_calls_renegotiate(fx.calls, fx.alice2, fx.call_id, browser_offer,
					  reneg_done, NULL, msg, sizeof(msg)) == ENOENT);
	/* nothing material: at once, the same transport, no re-INVITE */
	TEST_ASSERT(reneg(browser_offer, msg, sizeof(msg)) == 0);
	TEST_ASSERT(rn.done && rn.err == 0);
	TEST_ASSERT(same_attr("ice-ufrag"));
	TEST_ASSERT(same_attr("ice-pwd"));
	TEST_ASSERT(same_attr("fingerprint"));
	TEST_ASSERT_STR_CONTAINS(rn.sdp, "a=setup:active");
	TEST_ASSERT_STR_CONTAINS(rn.sdp, "a=sendrecv");
	TEST_ASSERT(!strstr(pc->log, "reoffer"));
	/* a new transport is refused */
	TEST_ASSERT(reneg(variant("ice-ufrag:Ow9+", "ice-ufrag:New1"), msg, sizeof(msg)) ==
		    ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(msg, "ICE restart");
	TEST_ASSERT(reneg(variant("sha-256 16:E5", "sha-256 17:E5"), msg, sizeof(msg)) ==
		    ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(msg, "fingerprint");
	/* we are the DTLS client of this leg: its setup:active asks for a new
	 * association */
	TEST_ASSERT(reneg(variant("setup:actpass", "setup:active"), msg, sizeof(msg)) ==
		    ENOTSUP);
	TEST_ASSERT(reneg("v=0\r\nnonsense\r\n", msg, sizeof(msg)) == EINVAL);
	TEST_ASSERT(!rn.done);
	/* a hold by direction: the answer waits for the peer's 200 */
	TEST_ASSERT(reneg(variant("a=sendrecv", "a=sendonly"), msg, sizeof(msg)) == 0);
	TEST_ASSERT(!rn.done);
	TEST_ASSERT(reneg(browser_offer, msg, sizeof(msg)) == EALREADY);
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, true, msg, sizeof(msg)) ==
		    EALREADY);
	memset(&rn, 0, sizeof(rn));
	TEST_ASSERT(wait_flag(&rn.done, WAIT_MS));
	TEST_ASSERT(rn.err == 0);
	TEST_ASSERT_STR_CONTAINS(rn.sdp, "a=recvonly");
	TEST_ASSERT_STR_CONTAINS(rn.sdp, "a=setup:active");
	TEST_ASSERT_STR_CONTAINS(pc->log, "ack;reoffer sendonly;");
	TEST_ASSERT(wait_for(fx.sink, "held", WAIT_MS));
	TEST_ASSERT(tnd_calls_hold(fx.calls, fx.alice, fx.call_id, true, msg, sizeof(msg)) ==
		    EALREADY);
	TEST_ASSERT_STR_CONTAINS(msg, "held already");
	/* PCMA only, resumed: re-INVITE, then the answer with PCMA */
	TEST_ASSERT(reneg(variant("111 0 8 126", "8 126"), msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_flag(&rn.done, WAIT_MS));
	TEST_ASSERT(rn.err == 0);
	TEST_ASSERT_STR_CONTAINS(rn.sdp, "a=rtpmap:8 PCMA/8000");
	TEST_ASSERT(!strstr(rn.sdp, "PCMU"));
	TEST_ASSERT_STR_CONTAINS(pc->log, "reoffer sendonly;reoffer sendrecv;");
	TEST_ASSERT(wait_for(fx.sink, "resumed", WAIT_MS));
	/* ending with one pending fails it */
	TEST_ASSERT(reneg(variant("a=sendrecv", "a=inactive"), msg, sizeof(msg)) == 0);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(rn.done && rn.err == EIO);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

int tnd_test_call_reneg(void)
{
	return with_fx(reneg_out, conf_default);
}
