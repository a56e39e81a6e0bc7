/* gateway/call draining (issue 13 item 4, docs/operations.md): once
 * tnd_calls_drain_start has run, `call` gets EBUSY naming the drain and an
 * INVITE 503 (with Retry-After, checked end to end in
 * tests/integration/test_health.py), the call up carries on, and the
 * owner's drained callback runs once, from the loop, when it ends; or
 * after [calls] drain_timeout, which ends the call first. Same fixture as
 * test_call.c: real user agents on loopback, one media worker. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_drain[] = "[media]\nworkers = 1\n[calls]\ndrain_timeout = 1\n";
static const char conf_drain_long[] = "[media]\nworkers = 1\n[calls]\ndrain_timeout = 60\n";

static int answered_call(struct pcall **pcp)
{
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	*pcp = pc;
	return 0;
}

/* New calls both ways are refused, the call up is not; its end ends the
 * drain, once. */
static int drain_last_call(void)
{
	struct tnd_call_params p = { .to = "sip:x@127.0.0.1:9", .sdp = browser_offer,
				     .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	struct pcall *pc, *in;
	char msg[256] = "";
	int err;

	TEST_ASSERT(r);
	TEST_ASSERT(!answered_call(&pc));
	TEST_ASSERT(!tnd_calls_draining(fx.calls));
	TEST_ASSERT(tnd_calls_drain_start(fx.calls) == 0);
	TEST_ASSERT(tnd_calls_draining(fx.calls));
	TEST_ASSERT(tnd_calls_drain_start(fx.calls) == EALREADY);

	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == EBUSY);
	TEST_ASSERT_STR_CONTAINS(msg, "draining");
	in = peer_invite("alice");
	TEST_ASSERT(in);
	TEST_ASSERT(wait_for(in->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(in->log, "ended 503");
	TEST_ASSERT(fx.n_incoming == 0);

	spin(200);
	TEST_ASSERT(fx.drained == 0);
	TEST_ASSERT(!strstr(fx.sink, "ended"));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_flag(&fx.drained_flag, WAIT_MS));
	spin(100);
	TEST_ASSERT(fx.drained == 1);
	return 0;
}

/* The call outlives drain_timeout: it is ended for the browser and the
 * SIP peer (BYE), then the drain ends. */
static int drain_timeout(void)
{
	struct pcall *pc;
	gint64 t0;

	TEST_ASSERT(!answered_call(&pc));
	t0 = g_get_monotonic_time();
	TEST_ASSERT(tnd_calls_drain_start(fx.calls) == 0);
	TEST_ASSERT(wait_flag(&fx.drained_flag, 3 * WAIT_MS));
	printf("# drained after %.2f s\n", (double)(g_get_monotonic_time() - t0) / 1e6);
	TEST_ASSERT(g_get_monotonic_time() - t0 >= 1000000);
	TEST_ASSERT_STR_CONTAINS(fx.sink, "ended");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(fx.drained == 1);
	return 0;
}

/* No call up: the drain ends at once, from the loop (never inside
 * tnd_calls_drain_start). */
static int drain_idle(void)
{
	TEST_ASSERT(tnd_calls_drain_start(fx.calls) == 0);
	TEST_ASSERT(fx.drained == 0);
	TEST_ASSERT(wait_flag(&fx.drained_flag, WAIT_MS));
	TEST_ASSERT(fx.drained == 1);
	return 0;
}

int tnd_test_call_drain_last_call(void)
{
	return with_fx(drain_last_call, conf_drain_long);
}

int tnd_test_call_drain_timeout(void)
{
	return with_fx(drain_timeout, conf_drain);
}

int tnd_test_call_drain_idle(void)
{
	return with_fx(drain_idle, conf_drain);
}
