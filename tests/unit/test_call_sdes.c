/* gateway/call SDES-SRTP (call_sdes.c, issue 11 item 7): the policy from
 * [media] sip_srtp decides what our SIP offer carries and which SIP offers
 * and answers are taken. Same fixture as test_call.c: real user agents on
 * loopback, one media worker; the SIP peer's SDP is set per test. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_mandatory[] = "[media]\nworkers = 1\nsip_srtp = mandatory\n";
static const char conf_optional[] = "[media]\nworkers = 1\nsip_srtp = optional\n"
	"sip_srtp_suites = AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80\n";

#define PEER_CRYPTO(tag, suite, key) L("a=crypto:" tag " " suite " inline:" key)
#define KEY30 "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* mandatory: each call offers RTP/SAVP with a line per suite, in the
 * default order, with keys new for each call; a plain answer ends it. */
static int out_mandatory(void)
{
	char first[LOGLEN];
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "m=audio ");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, " RTP/SAVP ");
	TEST_ASSERT(count(pc->sdp, "a=crypto:") == 4);
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=crypto:4 AEAD_AES_256_GCM inline:");
	snprintf(first, sizeof(first), "%s", strstr(pc->sdp, "a=crypto:1"));
	TEST_ASSERT(peer_answer(pc) == 0);   /* RTP/AVP, no crypto */
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strstr(fx.sink, "answered"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));   /* BYE'd */

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(count(pc->sdp, "a=crypto:") == 4);
	/* 40 base64 characters of key after "a=crypto:1 <suite> inline:" */
	TEST_ASSERT(strncmp(strstr(pc->sdp, "a=crypto:1"), first, 75) != 0);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

int tnd_test_call_sdes_out_mandatory(void)
{
	return with_fx(out_mandatory, conf_mandatory);
}

/* mandatory: a plain SIP offer gets 488 and rings nobody. */
static int in_mandatory_plain(void)
{
	struct pcall *pc = peer_invite("alice");

	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "488", WAIT_MS));
	TEST_ASSERT(!strstr(fx.sink, "incoming"));
	return 0;
}

int tnd_test_call_sdes_in_mandatory_plain(void)
{
	return with_fx(in_mandatory_plain, conf_mandatory);
}

/* optional: our offer is RTP/AVP with the configured suites only; a SIP
 * offer in RTP/AVP with crypto lines is answered with our line under the
 * offerer's first tag we take, and a key of our own. */
static int optional_both_ways(void)
{
	struct pcall *pc;
	char msg[256];

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT_STR_CONTAINS(pc->sdp, " RTP/AVP ");
	TEST_ASSERT(count(pc->sdp, "a=crypto:") == 2);
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=crypto:1 AEAD_AES_128_GCM inline:");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:");
	TEST_ASSERT(peer_answer(pc) == 0);   /* plain: best effort, so fine */
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));

	fx.peer_fmts = "0";
	fx.peer_attrs = L("a=rtpmap:0 PCMU/8000")
		PEER_CRYPTO("5", "AES_256_CM_HMAC_SHA1_80", KEY30 KEY30)
		PEER_CRYPTO("6", "AES_CM_128_HMAC_SHA1_32", KEY30)
		PEER_CRYPTO("7", "AES_CM_128_HMAC_SHA1_80", KEY30);
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->sdp, " RTP/AVP 0");
	TEST_ASSERT(count(pc->sdp, "a=crypto:") == 1);
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:");
	TEST_ASSERT(!strstr(pc->sdp, KEY30));
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.incoming_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

int tnd_test_call_sdes_optional(void)
{
	return with_fx(optional_both_ways, conf_optional);
}
