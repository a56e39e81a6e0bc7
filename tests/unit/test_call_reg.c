/* Registrations (sip/reg.c, gateway/call/call_reg.c; issue 11 item 1) on
 * the gateway/call fixture: the SIP peer is no registrar and refuses every
 * REGISTER with 403, which is enough to drive a binding through failure,
 * back-off, un-registration and detach, and to check that each path frees
 * everything (the fixture counts live objects). Digest, refresh and calls
 * through a real registrar are in tests/integration/test_register.py
 * (Kamailio). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call_fx.h"

static const char conf_reg[] = "[media]\nworkers = 1\n[sip]\nregister_retry_max = 2\n"
	"[accounts]\na.uri = sip:alice@127.0.0.1\na.registrar = sip:127.0.0.1:9\n"
	"a.password = pw\na.users = alice\n";

struct rec {
	char log[LOGLEN];
	unsigned n;
};

static void on_reg(void *arg, struct tnd_sipreg *reg, enum tnd_sipreg_state st, int code,
		   const char *reason, unsigned expires, unsigned retry_in)
{
	struct rec *r = arg;
	size_t len = strlen(r->log);

	(void)reg;
	(void)reason;
	(void)expires;
	snprintf(r->log + len, sizeof(r->log) - len, "%s %d %u;", tnd_sipreg_state_name(st),
		 code, retry_in);
	r->n++;
}

static bool wait_regs(unsigned n, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (tnd_sipua_regs(fx.gw) != n && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	return tnd_sipua_regs(fx.gw) == n;
}

/* Refused (403): failed with the status and a retry time that doubles up
 * to the cap; unregister then has nothing bound (EALREADY, no callback). */
static int reg_refused_backoff(void)
{
	char registrar[64];
	struct tnd_sip_cred cred = { .user = "alice", .password = "pw" };
	struct tnd_sipreg_params p = { .aor = "sip:alice@127.0.0.1", .registrar = registrar,
				       .cred = &cred, .expires = 60, .retry_max = 2 };
	struct tnd_sipreg *reg = NULL;
	struct rec r = { "", 0 };

	snprintf(registrar, sizeof(registrar), "sip:127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == 0);
	TEST_ASSERT(!strncmp(tnd_sipreg_contact(reg), "tnd", 3));
	TEST_ASSERT(strlen(tnd_sipreg_contact(reg)) == 19);
	TEST_ASSERT(wait_for(r.log, "failed 403 1;", WAIT_MS));
	TEST_ASSERT(wait_for(r.log, "failed 403 2;", WAIT_MS));
	TEST_ASSERT(wait_for(r.log, "failed 403 1;failed 403 2;failed 403 2;", WAIT_MS));
	TEST_ASSERT(tnd_sipreg_unregister(reg) == EALREADY);
	TEST_ASSERT(tnd_sipua_regs(fx.gw) == 1);
	tnd_sipreg_detach(reg);
	tnd_sipreg_detach(reg);          /* idempotent */
	TEST_ASSERT(tnd_sipua_regs(fx.gw) == 0);
	tnd_obj_put(reg);
	spin(100);
	TEST_ASSERT(!strstr(r.log, "unregistered"));
	return 0;
}

/* Detached while its first REGISTER is out: the 403 ends the binding (no
 * retry, nothing left in the UA's list) and nobody is called. */
static int reg_detach_pending(void)
{
	char registrar[64];
	struct tnd_sipreg_params p = { .aor = "sip:alice@127.0.0.1", .registrar = registrar,
				       .expires = 60 };
	struct tnd_sipreg *reg = NULL;
	struct rec r = { "", 0 };

	snprintf(registrar, sizeof(registrar), "sip:127.0.0.1:%u", fx.peer_port);
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == 0);
	tnd_sipreg_detach(reg);
	tnd_obj_put(reg);
	TEST_ASSERT(wait_regs(0, WAIT_MS));
	spin(200);
	TEST_ASSERT(r.n == 0);
	return 0;
}

/* Bad parameters are refused before anything is sent. */
static int reg_bad_params(void)
{
	struct tnd_sip_cred colon = { .user = "al:ice", .password = "pw" };
	struct tnd_sip_cred both = { .user = "alice", .password = "pw",
				     .ha1 = "0123456789abcdef0123456789abcdef" };
	struct tnd_sip_cred shortha1 = { .user = "alice", .ha1 = "0123" };
	struct tnd_sipreg_params p = { .aor = "sip:alice@127.0.0.1", .expires = 60 };
	struct tnd_sipreg *reg = NULL;
	struct rec r = { "", 0 };

	p.aor = "sip:127.0.0.1";
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.aor = "sip:alice@127.0.0.1";
	p.expires = 5;
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.expires = 60;
	p.transport = "sctp";
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.transport = NULL;
	p.registrar = "http://x";
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.registrar = NULL;
	p.cred = &colon;
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.cred = &both;
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	p.cred = &shortha1;
	TEST_ASSERT(tnd_sipreg_alloc(&reg, fx.gw, &p, on_reg, &r) == EINVAL);
	TEST_ASSERT(tnd_sip_cred_check(&both) == EINVAL);
	TEST_ASSERT(tnd_sip_cred_check(&(struct tnd_sip_cred){ "a", NULL,
			"0123456789abcdef0123456789ABCDEF" }) == 0);
	TEST_ASSERT(!reg && r.n == 0 && tnd_sipua_regs(fx.gw) == 0);
	return 0;
}

/* The request layer: rights, unknown accounts, inline off, unregister. */
static int reg_requests(void)
{
	struct tnd_reg_params a = { .account = "a" };
	struct tnd_reg_params inl = { .uri = "sip:alice@127.0.0.1", .password = "pw" };
	struct tnd_calls_stats st;
	const char *state = NULL;
	char id[64], msg[256];

	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, NULL, &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == EACCES);
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "bob", &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == EACCES);
	TEST_ASSERT_STR_CONTAINS(msg, "not one of your accounts");
	a.account = "b";
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "alice", &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "alice", &inl, id, sizeof(id),
				       &state, msg, sizeof(msg)) == EPERM);
	TEST_ASSERT_STR_CONTAINS(msg, "register_inline");
	a.account = "a";
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "alice", &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == 0);
	TEST_ASSERT(!strcmp(id, "a") && !strcmp(state, "registering"));
	/* a second socket joins it */
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice2, "alice", &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == 0);
	tnd_calls_stats(fx.calls, &st);
	TEST_ASSERT(st.registrations == 1 && tnd_sipua_regs(fx.gw) == 1);
	TEST_ASSERT(tnd_calls_unregister(fx.calls, fx.alice, "bob", "a", msg,
					 sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_unregister(fx.calls, fx.alice, "alice", "a", msg,
					 sizeof(msg)) == 0);
	TEST_ASSERT(wait_regs(0, WAIT_MS));
	tnd_calls_stats(fx.calls, &st);
	TEST_ASSERT(st.registrations == 0);
	TEST_ASSERT(tnd_calls_unregister(fx.calls, fx.alice, "alice", "a", msg,
					 sizeof(msg)) == ENOENT);
	/* one left registered (failing, retrying) goes with the registry */
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "alice", &a, id, sizeof(id), &state,
				       msg, sizeof(msg)) == 0);
	return 0;
}

int tnd_test_call_reg_refused(void)
{
	return with_fx(reg_refused_backoff, conf_default);
}

int tnd_test_call_reg_detach_pending(void)
{
	return with_fx(reg_detach_pending, conf_default);
}

int tnd_test_call_reg_bad_params(void)
{
	return with_fx(reg_bad_params, conf_default);
}

int tnd_test_call_reg_requests(void)
{
	return with_fx(reg_requests, conf_reg);
}
