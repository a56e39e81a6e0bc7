/* Registrations (sip/reg.c, gateway/call/call_reg.c; issue 11 item 1) on
 * the gateway/call fixture: the SIP peer is no registrar and refuses every
 * REGISTER with 403, which is enough to drive a binding through failure,
 * back-off, un-registration and detach, and to check that each path frees
 * everything (the fixture counts live objects). Digest, refresh and calls
 * through a real registrar are in tests/integration/test_register.py
 * (Kamailio). The observer's registration events and the admin snapshot
 * (tnd_calls_reg_foreach) are checked on the same refusing peer. */
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

struct sent {
	bool done;
	char from[128], body[64];
};

static void on_sent(void *req, int status, const char *phrase)
{
	(void)req;
	(void)phrase;
	fx.done = true;
	fx.done_err = status;
}

static int on_peer_message(void *arg, const struct tnd_sipmsg_in *m)
{
	struct sent *s = arg;

	s->done = true;
	snprintf(s->from, sizeof(s->from), "%s", m->from_uri);
	snprintf(s->body, sizeof(s->body), "%.*s", (int)m->len, m->body);
	return 0;
}

/* `message` with an account: the same rights check as `call` (unknown
 * 404, not the user's 401, none in a call's dialog), and one allowed goes
 * out From the account's uri (the peer reads it) and reports the peer's
 * 200. Challenges are answered against Kamailio in test_auth_dialog.py. */
static int reg_message_as(void)
{
	struct tnd_msg_params p = { .account = "b", .body = "as desk" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	struct sent s = { .done = false };
	char to[64], msg[256];

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	p.to = to;
	tnd_sipua_set_message(fx.peer, on_peer_message, &s);
	TEST_ASSERT(tnd_calls_message(fx.calls, fx.alice, "alice", &p, on_sent, r, msg,
				      sizeof(msg)) == ENOENT);
	p.account = "a";
	TEST_ASSERT(tnd_calls_message(fx.calls, fx.alice, "bob", &p, on_sent, r, msg,
				      sizeof(msg)) == EACCES);
	TEST_ASSERT_STR_CONTAINS(msg, "not one of your accounts");
	p.call = "c1";
	TEST_ASSERT(tnd_calls_message(fx.calls, fx.alice, "alice", &p, on_sent, r, msg,
				      sizeof(msg)) == EINVAL);
	p.call = NULL;
	fx.done = false;
	TEST_ASSERT(tnd_calls_message(fx.calls, fx.alice, "alice", &p, on_sent, r, msg,
				      sizeof(msg)) == 0);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS));
	TEST_ASSERT(fx.done_err == 200);
	TEST_ASSERT(s.done && !strcmp(s.body, "as desk"));
	TEST_ASSERT(!strcmp(s.from, "sip:alice@127.0.0.1"));
	TEST_ASSERT(tnd_sipua_messages(fx.gw) == 0);
	tnd_sipua_set_message(fx.peer, NULL, NULL);
	tnd_obj_put(r);
	return 0;
}

static const char conf_inline[] = "[media]\nworkers = 1\n[sip]\nregister_inline = true\n"
	"register_retry_max = 2\nregister_grace = 30\n";

struct seen {
	unsigned n;
	struct tnd_reg_info in;   /* the last one; strings copied below */
	char id[64], aor[64], registrar[64], state[16], reason[64], contact[32];
};

static void on_info(void *arg, const struct tnd_reg_info *in)
{
	struct seen *s = arg;

	s->n++;
	s->in = *in;
	snprintf(s->id, sizeof(s->id), "%s", in->id);
	snprintf(s->aor, sizeof(s->aor), "%s", in->aor);
	snprintf(s->registrar, sizeof(s->registrar), "%s", in->registrar);
	snprintf(s->state, sizeof(s->state), "%s", in->state);
	snprintf(s->reason, sizeof(s->reason), "%s", in->reason);
	snprintf(s->contact, sizeof(s->contact), "%s", in->contact);
}

/* The observer and admin view (issue 13): a refused registration is one
 * `failed 403` event however often it is retried; the snapshot names the
 * account, AOR, registrar, status and Contact and counts the user's
 * sockets, then the grace left once the last socket is gone; removing it
 * is an `unregistered` event and it leaves the list. */
static int reg_observed(void)
{
	struct tnd_reg_params p = { .uri = "sip:alice@127.0.0.1", .password = "pw" };
	const char *state = NULL;
	char id[64], msg[256], registrar[64];
	struct seen s;

	snprintf(registrar, sizeof(registrar), "sip:127.0.0.1:%u", fx.peer_port);
	p.registrar = registrar;
	memset(&s, 0, sizeof(s));
	tnd_calls_reg_foreach(fx.calls, on_info, &s);
	TEST_ASSERT(s.n == 0);
	TEST_ASSERT(tnd_calls_register(fx.calls, fx.alice, "alice", &p, id, sizeof(id), &state,
				       msg, sizeof(msg)) == 0);
	tnd_calls_reg_foreach(fx.calls, on_info, &s);
	TEST_ASSERT(s.n == 1 && !strcmp(s.state, "registering") && s.in.code == 0);
	TEST_ASSERT(!strcmp(s.reason, "") && s.in.changed_us > 0);
	TEST_ASSERT(wait_for(fx.regs, "sip:alice@127.0.0.1 failed 403 sockets=1;", WAIT_MS));
	/* retried after 1 s, then 2 s (register_retry_max = 2), same status: no event */
	spin(2500);
	TEST_ASSERT(!strcmp(fx.regs, "sip:alice@127.0.0.1 failed 403 sockets=1;"));

	memset(&s, 0, sizeof(s));
	tnd_calls_reg_foreach(fx.calls, on_info, &s);
	TEST_ASSERT(s.n == 1);
	TEST_ASSERT(!strcmp(s.id, "sip:alice@127.0.0.1") && !strcmp(s.in.user, "alice"));
	TEST_ASSERT(!strcmp(s.aor, "sip:alice@127.0.0.1") && !strcmp(s.registrar, registrar));
	TEST_ASSERT(!strcmp(s.state, "failed") && s.in.code == 403 && *s.reason);
	TEST_ASSERT(s.in.expires == 0 && s.in.retry_in == 2);
	TEST_ASSERT(!strncmp(s.contact, "tnd", 3) && strlen(s.contact) == 19);
	TEST_ASSERT(s.in.sockets == 1 && s.in.grace_left == -1);

	/* the user's last socket goes: the grace runs */
	fx.n_alice = 0;
	tnd_calls_conn_gone(fx.calls, fx.alice);
	memset(&s, 0, sizeof(s));
	tnd_calls_reg_foreach(fx.calls, on_info, &s);
	TEST_ASSERT(s.n == 1 && s.in.sockets == 0);
	TEST_ASSERT(s.in.grace_left >= 29 && s.in.grace_left <= 30);

	/* nothing bound: removed at once, with its event */
	TEST_ASSERT(tnd_calls_unregister(fx.calls, fx.alice, "alice", "sip:alice@127.0.0.1", msg,
					 sizeof(msg)) == 0);
	TEST_ASSERT(!strcmp(fx.regs, "sip:alice@127.0.0.1 failed 403 sockets=1;"
			    "sip:alice@127.0.0.1 unregistered 0 sockets=0;"));
	memset(&s, 0, sizeof(s));
	tnd_calls_reg_foreach(fx.calls, on_info, &s);
	TEST_ASSERT(s.n == 0);
	TEST_ASSERT(wait_regs(0, WAIT_MS));
	return 0;
}

int tnd_test_call_reg_observed(void)
{
	return with_fx(reg_observed, conf_inline);
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

int tnd_test_call_reg_message_as(void)
{
	return with_fx(reg_message_as, conf_reg);
}
