/* gateway/call transfer (issue 11 item 5) with the real user agents of the
 * test_call fixture: the `transfer` request's checks; a blind transfer the
 * peer refuses leaves the call answered with the peer's 403; a REFER from
 * the peer is carried out (202, NOTIFY 100 then 200 to the peer, a new
 * INVITE to the target, the old dialog BYEd, the browser told
 * `transferring` then `answered`); a REFER to a target the dial plan
 * forbids gets 403 and places no call; and one whose Refer-To carries
 * Replaces passes it on in the INVITE (the target's sip/ acts on it). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_xfer[] = "[media]\nworkers = 1\n[calls]\n"
	"allow = sip:bob@127.0.0.1:*,sip:carol@127.0.0.1:*\n";

/* The peer's side of its REFER: its outcome, into the dialog's log. */
static void peer_refer(void *arg, struct tnd_sipcall *sc, int status, const char *phrase,
		       bool final)
{
	struct pcall *pc = arg;
	size_t n = strlen(pc->log);

	(void)sc;
	snprintf(pc->log + n, sizeof(pc->log) - n, "refer %d %s%s;", status, phrase,
		 final ? " final" : "");
}

static const struct tnd_sipcall_xfer_handlers peer_x = { peer_refer, NULL };

static struct pcall *answered(void)
{
	struct pcall *pc = start_call();

	if (!pc || peer_answer(pc) || !wait_for(fx.sink, "answered", WAIT_MS) ||
	    !wait_for(pc->log, "ack;", WAIT_MS))
		return NULL;
	return pc;
}

static struct pcall *next_invite(unsigned before)
{
	for (int64_t end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	     fx.n_pc == before && g_get_monotonic_time() < end;)
		spin(2);
	return fx.n_pc > before ? &fx.pc[before] : NULL;
}

static int xfer_checks(void)
{
	char msg[256], to[96];
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	snprintf(to, sizeof(to), "sip:carol@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, to, NULL, msg,
				       sizeof(msg)) == EALREADY);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice2, fx.call_id, to, NULL, msg,
				       sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, NULL, NULL, msg,
				       sizeof(msg)) == EINVAL);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, to, "c0", msg,
				       sizeof(msg)) == EINVAL);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, NULL, "c0", msg,
				       sizeof(msg)) == ENOENT);
	TEST_ASSERT_STR_CONTAINS(msg, "params.replaces");
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, NULL, fx.call_id, msg,
				       sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id,
				       "sip:mallory@127.0.0.1:5060", NULL, msg,
				       sizeof(msg)) == EPERM);
	TEST_ASSERT_STR_CONTAINS(msg, "dial plan");
	TEST_ASSERT(!strstr(pc->log, "refer"));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* The peer takes no REFER (no `referred` handler): 403, the call stays. */
static int xfer_blind_refused(void)
{
	char msg[256], to[96];
	struct pcall *pc = answered();

	TEST_ASSERT(pc);
	snprintf(to, sizeof(to), "sip:carol@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, to, NULL, msg,
				       sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered 403", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 transferring 0 blind transfer;"
				 "1 answered 403 Forbidden;");
	/* still up, and a second try may go */
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, to, NULL, msg,
				       sizeof(msg)) == 0);
	TEST_ASSERT(tnd_calls_transfer(fx.calls, fx.alice, fx.call_id, to, NULL, msg,
				       sizeof(msg)) == EALREADY);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

static int xfer_in(void)
{
	char msg[256], to[96];
	struct pcall *pc = answered(), *pc2;

	TEST_ASSERT(pc);
	snprintf(to, sizeof(to), "sip:carol@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipcall_refer(pc->sc, to, NULL) == 0);
	pc2 = next_invite(1);
	TEST_ASSERT(pc2);
	TEST_ASSERT_STR_CONTAINS(pc2->log, "invite carol;");
	TEST_ASSERT(wait_for(fx.sink, "transferring", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_ringing(pc2->sc, NULL) == 0);
	TEST_ASSERT(wait_for(pc->log, "refer 180", WAIT_MS));
	TEST_ASSERT(peer_answer(pc2) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "refer 202 Accepted;refer 100 Trying;"
				 "refer 180 Ringing;refer 200 OK final;");
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 200 remote-bye");
	TEST_ASSERT(wait_for(fx.sink, "1 answered 200 OK;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 transferring 180 Ringing;1 answered 200 OK;");
	/* the browser's hangup now ends the new dialog */
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc2->log, "ended", WAIT_MS));
	return 0;
}

static int xfer_in_forbidden(void)
{
	char msg[256], to[96];
	struct pcall *pc = answered();

	TEST_ASSERT(pc);
	snprintf(to, sizeof(to), "sip:mallory@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipcall_refer(pc->sc, to, NULL) == 0);
	TEST_ASSERT(wait_for(pc->log, "final", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "refer 403 Forbidden final;");
	spin(100);
	TEST_ASSERT(fx.n_pc == 1);
	TEST_ASSERT(!strstr(fx.sink, "transferring"));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

/* Attended transfer where the browser is the transferee (RFC 5589 7): the
 * peer refers call 1 with a Refer-To carrying the Replaces of its dialog of
 * call 2, written for the gateway's end of it. To a target the dial plan
 * forbids: 403 and no INVITE. To carol (the peer itself): the gateway's
 * INVITE carries that Replaces, so the peer's sip/ takes it for a takeover
 * and, the tags being the gateway's view, answers 481 before any handler
 * runs (no new dialog at the peer); the referrer hears 481, the browser's
 * call is answered again with it. */
static int xfer_in_replaces(void)
{
	char msg[256], to[96], id1[32], id2[32];
	struct pcall *pc = answered(), *pc2;

	TEST_ASSERT(pc);
	snprintf(id1, sizeof(id1), "%s", fx.call_id);
	pc2 = answered();
	TEST_ASSERT(pc2 && fx.n_pc == 2);
	snprintf(id2, sizeof(id2), "%s", fx.call_id);
	snprintf(to, sizeof(to), "sip:mallory@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipcall_refer(pc->sc, to, pc2->sc) == 0);
	TEST_ASSERT(wait_for(pc->log, "final", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "refer 403 Forbidden final;");
	snprintf(to, sizeof(to), "sip:carol@127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipcall_refer(pc->sc, to, pc2->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "(attended)", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "refer 481", WAIT_MS));
	TEST_ASSERT(wait_for(fx.sink, "answered 481", WAIT_MS));
	TEST_ASSERT(fx.n_pc == 2 && !strstr(pc2->log, "ended"));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, id1, msg, sizeof(msg)) == 0);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, id2, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(pc2->log, "ended", WAIT_MS));
	return 0;
}

static int with_peer_x(int (*body)(void))
{
	/* the fixture's peer is made inside with_fx: hook it from the body */
	tnd_sipua_set_xfer(fx.peer, &peer_x);
	return body();
}

static int checks(void) { return with_peer_x(xfer_checks); }
static int refused(void) { return with_peer_x(xfer_blind_refused); }
static int in(void) { return with_peer_x(xfer_in); }
static int in_forbidden(void) { return with_peer_x(xfer_in_forbidden); }
static int in_replaces(void) { return with_peer_x(xfer_in_replaces); }

int tnd_test_call_xfer(void)
{
	int err = with_fx(checks, conf_xfer);

	if (!err)
		err = with_fx(refused, conf_xfer);
	if (!err)
		err = with_fx(in, conf_xfer);
	if (!err)
		err = with_fx(in_forbidden, conf_xfer);
	return err ? err : with_fx(in_replaces, conf_xfer);
}
