/* Trunks that register (issue 11 item 2): a [trunks] entry with register =
 * true keeps one binding at its registrar (the `registrar` key, else its
 * address) as sip:auth_user@host, through sip/'s tnd_sipreg like a user's
 * account (call_reg.c): nua refreshes it, sip/ answers digest challenges and
 * retries with back-off, and nua_shutdown() removes it when the gateway
 * stops. A reload keeps a binding whose settings did not change and
 * replaces (un-registers, registers again) one whose settings did.
 *
 * Calls through the registration: the provider sends its INVITE to the
 * Contact we registered (sip:tnd<hex>@us), with the dialled DID in To. Such
 * a call is the trunk's when it comes from the registrar's address (where
 * the 2xx came from) or from the trunk's `from` list, and then rings only
 * the DID's target, as an INVITE from the trunk's source would. Any other
 * source gets 403 even when [sip] trusted lets it in: a registered Contact
 * is not a way around the trunk's DID map.
 *
 * Keeping the flow open: over TCP, Sofia sends RFC 5626 CRLF pings every
 * [sip] keepalive seconds (TPTAG_KEEPALIVE, sip/ua.c). Its TLS transport has
 * no such timer (Sofia 1.12 tport_type_tls.c has no keep-alive hook, and a
 * CRLF written to the socket would bypass TLS), so a TLS trunk's flow gets
 * an OPTIONS to the registrar every keepalive seconds instead: nta sends it
 * on the open connection to that address, and any answer is traffic that
 * keeps the registrar (and NATs between) from closing the flow our Contact
 * is reached by. Signalling thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"

struct trunk_reg {
	struct tnd_calls *calls;     /* borrowed: owns the table */
	char *name;                  /* owned: the trunk's */
	char *id;                    /* owned: "trunk:NAME" for events */
	char *sig;                   /* owned: the settings it was made with */
	char *aor, *registrar;       /* owned */
	struct tnd_sipreg *sip;      /* ref */
	const char *state;           /* static */
	int code;                    /* last SIP status, 0 none yet */
	char *reason;                /* owned */
	unsigned expires, retry_in;
	int64_t changed_us;
	char *ka_uri;                /* owned: TLS flow keep-alive target, or NULL */
	GSource *ka;                 /* owned: its timer, with ka_uri */
	struct tnd_sipping *ping;    /* owned: the keep-alive in flight, or NULL */
};

static void treg_free(gpointer data)
{
	struct trunk_reg *r = data;

	if (r->ka) {
		g_source_destroy(r->ka);
		g_source_unref(r->ka);
	}
	tnd_sipping_cancel(r->ping);
	g_free(r->ka_uri);
	tnd_sipreg_detach(r->sip);   /* un-REGISTERs a live binding */
	tnd_obj_put(r->sip);
	if (r->sig)
		explicit_bzero(r->sig, strlen(r->sig));   /* holds the password */
	g_free(r->sig);
	g_free(r->name);
	g_free(r->id);
	g_free(r->aor);
	g_free(r->registrar);
	g_free(r->reason);
	g_free(r);
}

static void tell_observer(struct trunk_reg *r)
{
	const struct tnd_call_observer *o = r->calls->env.observer;
	struct tnd_reg_info in;

	if (!o || !o->registration)
		return;
	memset(&in, 0, sizeof(in));
	in.id = r->id;
	in.user = "";
	in.aor = r->aor;
	in.registrar = r->registrar;
	in.state = r->state;
	in.code = r->code;
	in.reason = r->reason ? r->reason : "";
	in.expires = r->expires;
	in.retry_in = r->retry_in;
	in.contact = tnd_sipreg_contact(r->sip);
	in.changed_us = r->changed_us;
	in.grace_left = -1;
	o->registration(r->calls->env.observer_arg, &in);
}

static void on_sipreg(void *arg, struct tnd_sipreg *sip, enum tnd_sipreg_state st, int code,
		      const char *reason, unsigned expires, unsigned retry_in)
{
	struct trunk_reg *r = arg;
	const char *state = tnd_sipreg_state_name(st);
	bool changed = strcmp(state, r->state) || code != r->code;

	(void)sip;
	r->state = state;
	r->code = code;
	g_free(r->reason);
	r->reason = g_strdup(reason);
	r->expires = st == TND_SIPREG_REGISTERED ? expires : 0;
	r->retry_in = st == TND_SIPREG_FAILED ? retry_in : 0;
	if (!changed)
		return;              /* a refresh */
	r->changed_us = g_get_real_time();
	if (st == TND_SIPREG_FAILED)
		TND_LOG_WARN(TND_LOG_SIP, "trunk %s: registration failed: %d %s (retry in %u s)",
			     r->name, code, reason, retry_in);
	else
		TND_LOG_NOTICE(TND_LOG_SIP, "trunk %s: %s (%d)", r->name, state, code);
	tell_observer(r);
}

static void on_ka_answer(void *arg, int status)
{
	struct trunk_reg *r = arg;

	r->ping = NULL;          /* sip/ frees it after this callback */
	TND_LOG_DEBUG(TND_LOG_SIP, "trunk %s: flow keep-alive answered %d", r->name, status);
}

static gboolean on_ka(gpointer data)
{
	struct trunk_reg *r = data;

	/* only a live binding has a flow worth keeping; one still out is
	 * left to finish (Timer F is shorter than any sane interval) */
	if (strcmp(r->state, "registered") || r->ping)
		return G_SOURCE_CONTINUE;
	if (tnd_sipping_send(&r->ping, r->calls->env.sip, r->ka_uri, on_ka_answer, r))
		r->ping = NULL;
	return G_SOURCE_CONTINUE;
}

/* TLS only (see the file comment): the registrar URI naming TLS. */
static void start_keepalive(struct trunk_reg *r, const struct tnd_trunk *t)
{
	unsigned every = (unsigned)r->calls->env.conf->sip_keepalive;
	bool sips = !strncmp(r->registrar, "sips:", 5);

	if (!every || (!sips && strcmp(t->transport, "tls") &&
		       !strstr(r->registrar, "transport=tls")))
		return;
	r->ka_uri = sips || strstr(r->registrar, "transport=") ? g_strdup(r->registrar) :
		    g_strdup_printf("%s;transport=tls", r->registrar);
	r->ka = g_timeout_source_new_seconds(every);
	g_source_set_callback(r->ka, on_ka, r, NULL);
	g_source_attach(r->ka, tnd_loop_context(r->calls->env.signal));
}

/* sip:auth_user@host[:port] of the registrar URI (params dropped). */
static char *make_aor(const char *registrar, const char *user)
{
	bool sips = !strncmp(registrar, "sips:", 5);
	const char *host = registrar + (sips ? 5 : 4);

	return g_strdup_printf("%s:%s@%.*s", sips ? "sips" : "sip", user,
			       (int)strcspn(host, ";?"), host);
}

static char *settings(const struct tnd_trunk *t, const char *registrar)
{
	return g_strdup_printf("%s\n%s\n%s\n%s\n%d", registrar, t->transport, t->auth_user,
			       t->password, t->expires);
}

static struct trunk_reg *start(struct tnd_calls *calls, const struct tnd_trunk *t,
			       const char *registrar, char *sig)
{
	struct tnd_sipreg_params sp = { 0 };
	struct tnd_sip_cred cred = { t->auth_user, t->password, NULL };
	struct trunk_reg *r = g_new0(struct trunk_reg, 1);
	int err;

	r->calls = calls;
	r->name = g_strdup(t->name);
	r->id = g_strdup_printf("trunk:%s", t->name);
	r->sig = sig;
	r->registrar = g_strdup(registrar);
	r->aor = make_aor(registrar, t->auth_user);
	r->state = "registering";
	r->changed_us = g_get_real_time();
	sp.aor = r->aor;
	sp.registrar = r->registrar;
	sp.transport = *t->transport ? t->transport : NULL;
	sp.cred = *t->password ? &cred : NULL;
	sp.expires = (unsigned)t->expires;
	sp.retry_max = (unsigned)calls->env.conf->sip_register_retry_max;
	err = tnd_sipreg_alloc(&r->sip, calls->env.sip, &sp, on_sipreg, r);
	if (err) {
		/* the check in dialplan.c lets through only what sip/ takes, so
		 * this is ENOMEM or a stopping UA: shown as failed, no retry */
		TND_LOG_ERR(TND_LOG_SIP, "trunk %s: cannot register %s at %s: %s", t->name,
			    r->aor, registrar, strerror(err));
		r->state = "failed";
		r->reason = g_strdup(strerror(err));
		return r;
	}
	TND_LOG_INFO(TND_LOG_SIP, "trunk %s: registering %s at %s (Contact %s)", t->name, r->aor,
		     registrar, tnd_sipreg_contact(r->sip));
	start_keepalive(r, t);
	return r;
}

void tnd_call_trunk_regs_conf(struct tnd_calls *calls)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;
	GHashTable *next = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, treg_free);

	if (!calls->trunk_regs)
		calls->trunk_regs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
							  treg_free);
	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		const struct tnd_trunk *t = &dp->trunks[i];
		const char *registrar = *t->registrar ? t->registrar : t->address;
		struct trunk_reg *r;
		char *sig;

		if (!t->reg)
			continue;
		sig = settings(t, registrar);
		r = g_hash_table_lookup(calls->trunk_regs, t->name);
		if (r && r->sip && !strcmp(r->sig, sig)) {
			explicit_bzero(sig, strlen(sig));
			g_free(sig);
			g_hash_table_steal(calls->trunk_regs, t->name);
		} else {
			r = start(calls, t, registrar, sig);
		}
		g_hash_table_insert(next, r->name, r);
	}
	/* what is left had its settings changed or left the file */
	g_hash_table_destroy(calls->trunk_regs);
	calls->trunk_regs = next;
}

void tnd_call_trunk_regs_free(struct tnd_calls *calls)
{
	if (calls->trunk_regs)
		g_hash_table_destroy(calls->trunk_regs);
	calls->trunk_regs = NULL;
}

static struct trunk_reg *by_arg(const struct tnd_calls *calls, const void *reg_arg)
{
	GHashTableIter it;
	gpointer v;

	if (!calls->trunk_regs || !reg_arg)
		return NULL;
	/* compared, never dereferenced first: reg_arg may be a user's call_reg */
	g_hash_table_iter_init(&it, calls->trunk_regs);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (v == reg_arg)
			return v;
	return NULL;
}

bool tnd_call_trunk_reg_is(const struct tnd_calls *calls, const void *reg_arg)
{
	return by_arg(calls, reg_arg) != NULL;
}

/* The user part of a sip:/sips:/tel: URI into buf ("" when none). */
static const char *uri_user(const char *uri, char *buf, size_t size)
{
	const char *s = uri ? strchr(uri, ':') : NULL;
	size_t n;

	buf[0] = '\0';
	if (!s)
		return buf;
	s++;
	n = strcspn(s, "@;?>");
	if (s[n] == '@' || !g_ascii_strncasecmp(uri, "tel:", 4))
		snprintf(buf, size, "%.*s", (int)n, s);
	return buf;
}

const char *tnd_call_trunk_reg_inbound(struct tnd_calls *calls,
				       const struct tnd_sipcall_info *info, bool *is_trunk,
				       int *err, const struct tnd_trunk **tp)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;
	struct trunk_reg *r = by_arg(calls, info->reg_arg);
	const struct tnd_trunk *t;
	char did[64];

	*err = 0;
	*is_trunk = r != NULL;
	*tp = NULL;
	if (!r)
		return NULL;
	t = tnd_dialplan_trunk(dp, r->name);
	if (!t || !(tnd_sipreg_from_registrar(r->sip, info->source) ||
		    (info->source && tnd_dialplan_trunk_by_source(dp, info->source) == t))) {
		TND_LOG_NOTICE(TND_LOG_SIP, "INVITE to trunk %s's Contact from a source that is "
			       "neither its registrar nor in its from list (403)", r->name);
		*err = EPERM;
		return NULL;
	}
	uri_user(info->to_uri, did, sizeof(did));
	*tp = t;
	return tnd_call_trunk_did_user(calls, t, did, err);
}

bool tnd_call_trunk_reg_state(const struct tnd_calls *calls, const char *name,
			      const char **state, int *code, unsigned *expires)
{
	const struct trunk_reg *r = calls->trunk_regs ?
				    g_hash_table_lookup(calls->trunk_regs, name) : NULL;

	if (!r)
		return false;
	*state = r->state;
	*code = r->code;
	*expires = r->expires;
	return true;
}

void tnd_call_trunk_regs_metrics(const struct tnd_calls *calls, GString *out)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;
	bool head = false;

	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		const char *state = NULL;
		unsigned expires;
		int code;

		if (!tnd_call_trunk_reg_state(calls, dp->trunks[i].name, &state, &code, &expires))
			continue;
		if (!head)
			g_string_append(out, "# HELP tandem_trunk_registered Whether a trunk with "
					"register = true holds a registration (1) or not (0).\n"
					"# TYPE tandem_trunk_registered gauge\n");
		head = true;
		g_string_append_printf(out, "tandem_trunk_registered{trunk=\"%s\"} %d\n",
				       dp->trunks[i].name, !strcmp(state, "registered"));
	}
}
