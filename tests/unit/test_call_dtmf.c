/* gateway/call DTMF (issue 10 item 5) with the real user agents of the
 * test_call fixture: with [calls] dtmf_mode = info the `dtmf` request
 * reaches the SIP peer as one INFO per digit (application/dtmf-relay, or
 * application/dtmf with dtmf_info = dtmf), in order and paced; the peer's
 * INFOs of both body types reach the browser's sink as `dtmf` notifications
 * with source info, and a body that is not DTMF gets no notification. The
 * request's checks: call, digits, durations, answered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_info[] = "[media]\nworkers = 1\n[calls]\ndtmf_mode = info\n";
static const char conf_info_plain[] =
	"[media]\nworkers = 1\n[calls]\ndtmf_mode = info\ndtmf_info = dtmf\n";

static struct pcall *answered(void)
{
	struct pcall *pc = start_call();

	if (!pc || peer_answer(pc) || !wait_for(fx.sink, "answered", WAIT_MS) ||
	    !wait_for(pc->log, "ack;", WAIT_MS))
		return NULL;
	return pc;
}

static int dtmf_info(void)
{
	char msg[256];
	struct pcall *pc = answered();

	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "5#", 100, 50, msg,
				   sizeof(msg)) == 0);
	/* queued behind the string still going out */
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "A", 100, 50, msg,
				   sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "Signal=A", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ack;"
				 "info application/dtmf-relay Signal=5||Duration=100||;"
				 "info application/dtmf-relay Signal=#||Duration=100||;"
				 "info application/dtmf-relay Signal=A||Duration=100||;");

	/* the peer's digits, both body types; a text body is refused */
	TEST_ASSERT(tnd_sipcall_info(pc->sc, "application/dtmf-relay",
				     "Signal=7\r\nDuration=200\r\n") == 0);
	TEST_ASSERT(wait_for(fx.sink, "dtmf 7", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_info(pc->sc, "text/plain", "hello") == 0);
	TEST_ASSERT(tnd_sipcall_info(pc->sc, "application/dtmf-relay", "Signal=x\r\n") == 0);
	TEST_ASSERT(tnd_sipcall_info(pc->sc, "application/dtmf", "*") == 0);
	TEST_ASSERT(wait_for(fx.sink, "dtmf *", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 answered 200 OK;1 dtmf 7 200 info;1 dtmf * 250 info;");
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

static int dtmf_info_plain(void)
{
	char msg[256];
	struct pcall *pc = answered();

	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "09", 40, 0, msg,
				   sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "info application/dtmf 9", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ack;info application/dtmf 0||;"
				 "info application/dtmf 9||;");
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

static int dtmf_checks(void)
{
	char msg[256];
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	/* not answered yet */
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "1", 100, 60, msg,
				   sizeof(msg)) == EALREADY);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice2, fx.call_id, "1", 100, 60, msg,
				   sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, "c0", "1", 100, 60, msg,
				   sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "12E", 100, 60, msg,
				   sizeof(msg)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(msg, "params.digits: 'E'");
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "", 100, 60, msg,
				   sizeof(msg)) == EINVAL);
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "1", 39, 60, msg,
				   sizeof(msg)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(msg, "duration_ms");
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "1", 100, 2001, msg,
				   sizeof(msg)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(msg, "gap_ms");
	/* auto with a peer that has telephone-event: RFC 4733 on the bridge */
	TEST_ASSERT(tnd_calls_dtmf(fx.calls, fx.alice, fx.call_id, "123", 100, 60, msg,
				   sizeof(msg)) == 0);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	return 0;
}

int tnd_test_call_dtmf_info(void)
{
	int err = with_fx(dtmf_info, conf_info);

	return err ? err : with_fx(dtmf_info_plain, conf_info_plain);
}

int tnd_test_call_dtmf_checks(void)
{
	return with_fx(dtmf_checks, conf_default);
}
