/* Calls through trunks (issue 11 items 2, 6 and 8): the dial plan routes a
 * `call` to a dial string or tel: URI to a trunk (gateway/policy/
 * dialplan.h), an INVITE from a trunk's source reaches only the user or
 * account its DID names, and OPTIONS pings mark each trunk up or down.
 *
 * A trunk with options_ping = N is pinged every N seconds, the first at
 * start-up; a ping still unanswered when the next is due counts as failed,
 * as does a 408 or 5xx-6xx answer (any other answer proves the trunk
 * listens, RFC 3261 11.2). Two failures in a row mark it down, one answer
 * marks it up again. A call never goes to a down trunk: the rule's next
 * trunk is tried, then the next rule that matches, else 503. Trunks start
 * up, so a gateway that just started can place calls. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"
#include "gateway/policy/policy.h"

#define FAILS_DOWN 2

struct trunk_state {
	struct tnd_calls *calls;     /* borrowed: the registry owns this */
	char *name;                  /* owned */
	char *uri;                   /* owned: where the pings go */
	unsigned interval;           /* seconds; 0: not pinged */
	bool up;
	unsigned fails;              /* failed pings in a row */
	GSource *timer;              /* owned */
	struct tnd_sipping *ping;    /* owned: the ping in flight, or NULL */
};

static void state_free(gpointer data)
{
	struct trunk_state *ts = data;

	if (ts->timer) {
		g_source_destroy(ts->timer);
		g_source_unref(ts->timer);
	}
	tnd_sipping_cancel(ts->ping);
	g_free(ts->name);
	g_free(ts->uri);
	g_free(ts);
}

static void ping_result(struct trunk_state *ts, bool ok, int status)
{
	bool was = ts->up;

	if (ok) {
		ts->fails = 0;
		ts->up = true;
	} else if (++ts->fails >= FAILS_DOWN) {
		ts->up = false;
	}
	if (was != ts->up)
		TND_LOG_NOTICE(TND_LOG_SIP, "trunk %s is %s (OPTIONS: %d)", ts->name,
			       ts->up ? "up" : "down", status);
}

static void on_ping(void *arg, int status)
{
	struct trunk_state *ts = arg;

	ts->ping = NULL;   /* freed by sip/ after this callback */
	ping_result(ts, status < 500 && status != 408, status);
}

static gboolean on_timer(gpointer data)
{
	struct trunk_state *ts = data;
	int err;

	if (ts->ping) {
		/* no answer within one interval */
		tnd_sipping_cancel(ts->ping);
		ts->ping = NULL;
		ping_result(ts, false, 408);
	}
	err = tnd_sipping_send(&ts->ping, ts->calls->env.sip, ts->uri, on_ping, ts);
	if (err) {
		ts->ping = NULL;
		TND_LOG_RL(TND_LOG_SIP, WARN, "trunk %s: cannot ping %s: %s", ts->name, ts->uri,
			   strerror(err));
	}
	return G_SOURCE_CONTINUE;
}

void tnd_call_trunks_init(struct tnd_calls *calls)
{
	calls->trunks = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, state_free);
	tnd_call_trunks_conf(calls);
}

void tnd_call_trunks_free(struct tnd_calls *calls)
{
	tnd_call_trunk_regs_free(calls);
	if (calls->trunks)
		g_hash_table_destroy(calls->trunks);
	calls->trunks = NULL;
}

/* Keeps the state of a trunk whose ping target and interval are unchanged,
 * so a reload does not bring a dead trunk back up. */
void tnd_call_trunks_conf(struct tnd_calls *calls)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;
	GHashTable *next = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, state_free);

	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		const struct tnd_trunk *t = &dp->trunks[i];
		struct trunk_state *ts;
		gpointer key;

		if (!t->options_ping)
			continue;
		if (g_hash_table_lookup_extended(calls->trunks, t->name, &key, (gpointer *)&ts) &&
		    ts->interval == (unsigned)t->options_ping && !strcmp(ts->uri, t->address)) {
			g_hash_table_steal(calls->trunks, t->name);
			g_hash_table_insert(next, ts->name, ts);
			continue;
		}
		ts = g_new0(struct trunk_state, 1);
		ts->calls = calls;
		ts->name = g_strdup(t->name);
		ts->uri = g_strdup(t->address);
		ts->interval = (unsigned)t->options_ping;
		ts->up = true;
		ts->timer = g_timeout_source_new_seconds(ts->interval);
		g_source_set_callback(ts->timer, on_timer, ts, NULL);
		g_source_attach(ts->timer, tnd_loop_context(calls->env.signal));
		g_hash_table_insert(next, ts->name, ts);
		on_timer(ts);   /* the first ping now */
	}
	g_hash_table_destroy(calls->trunks);
	calls->trunks = next;
	tnd_call_trunk_regs_conf(calls);   /* register = true (call_trunk_reg.c) */
}

static bool trunk_up(const struct tnd_calls *calls, const char *name)
{
	const struct trunk_state *ts = g_hash_table_lookup(calls->trunks, name);

	return !ts || ts->up;
}

/* ------------------------------------------------------------ out */

int tnd_call_trunk_route(struct tnd_call *call, const char *user, char *msg, size_t msglen)
{
	const struct tnd_dialplan *dp = call->calls->env.conf->dialplan;
	const struct tnd_dialrule *r;
	char digits[40], number[64], uri[512];
	bool matched = false;
	size_t from = 0;

	if (tnd_dialplan_digits(call->to, digits, sizeof(digits))) {
		snprintf(msg, msglen, "params.to: not a SIP URI, tel: URI or dial string");
		return EINVAL;
	}
	while ((r = tnd_dialplan_next(dp, digits, user, &from))) {
		matched = true;
		if (tnd_dialrule_normalise(r, digits, number, sizeof(number)))
			continue;
		for (char **t = r->trunks; *t; t++) {
			const struct tnd_trunk *tr = tnd_dialplan_trunk(dp, *t);

			if (!tr || !trunk_up(call->calls, *t) ||
			    tnd_trunk_uri(tr, number, uri, sizeof(uri)))
				continue;
			g_free(call->trunk);
			g_free(call->trunk_ruri);
			call->trunk = g_strdup(*t);
			call->trunk_ruri = g_strdup(uri);
			TND_LOG_INFO(TND_LOG_SIP, "call %s: %s by rule %s through trunk %s as %s",
				     call->id, digits, r->name, *t, uri);
			return 0;
		}
	}
	if (matched) {
		snprintf(msg, msglen, "no trunk is up for %.40s", digits);
		return EBUSY;
	}
	snprintf(msg, msglen, "params.to: the number is not allowed by the dial plan");
	return EPERM;
}

int tnd_call_trunk_bypass(struct tnd_calls *calls, const char *to, char *msg, size_t msglen)
{
	const char *trunk = NULL;

	if (!tnd_policy_check_trunk_bypass(calls->env.conf, to, &trunk))
		return 0;
	snprintf(msg, msglen, "params.to: %.128s is the address of trunk %.64s, which is "
		 "reached only through the dial plan: dial the number", to, trunk);
	return EPERM;
}

int tnd_call_trunk_params(struct tnd_call *call, struct tnd_sipcall_params *p,
			  struct tnd_sip_cred *cred)
{
	const struct tnd_trunk *t;

	if (!call->trunk)
		return 0;
	t = tnd_dialplan_trunk(call->calls->env.conf->dialplan, call->trunk);
	if (!t)
		return EACCES;
	p->to = call->trunk_ruri;
	if (*t->auth_user) {
		*cred = (struct tnd_sip_cred){ t->auth_user, t->password, NULL };
		p->cred = cred;
	}
	return 0;
}

size_t tnd_call_trunk_prefs(const struct tnd_call *call,
			    struct tnd_sdp_codec_pref out[CALL_MAX_PREFS])
{
	const struct tnd_calls *calls = call->calls;
	const struct tnd_trunk *t;
	size_t n = 0, codecs;
	char **names;

	if (!call->trunk)
		return 0;
	t = tnd_dialplan_trunk(calls->env.conf->dialplan, call->trunk);
	if (!t || !*t->codecs)
		return 0;
	names = g_strsplit(t->codecs, ",", 0);
	for (char **p = names; *p && n < CALL_MAX_PREFS - 2; p++) {
		const char *want = g_strstrip(*p);

		for (size_t i = 0; i < calls->n_sip_prefs; i++)
			if (!strcasecmp(calls->sip_prefs[i].name, want) &&
			    strcasecmp(want, "telephone-event")) {
				out[n++] = calls->sip_prefs[i];
				break;
			}
	}
	g_strfreev(names);
	codecs = n;
	for (size_t i = 0; codecs && i < calls->n_sip_prefs && n < CALL_MAX_PREFS; i++)
		if (!strcasecmp(calls->sip_prefs[i].name, "telephone-event"))
			out[n++] = calls->sip_prefs[i];
	return codecs ? n : 0;
}

int tnd_call_trunk_in_media(struct tnd_call *call, const struct tnd_trunk *t)
{
	g_free(call->trunk);
	call->trunk = g_strdup(t->name);
	call->n_trunk_prefs = tnd_call_trunk_prefs(call, call->trunk_prefs);
	/* the trunk's SDES policy replaces [media] sip_srtp (new keys) */
	if (t->srtp_set)
		return tnd_call_sdes_init(call, t->srtp);
	return 0;
}

const struct tnd_trunk *tnd_trunk_for_call(const struct tnd_call *call)
{
	if (!call || !call->trunk)
		return NULL;
	return tnd_dialplan_trunk(call->calls->env.conf->dialplan, call->trunk);
}

/* ------------------------------------------------------------ in */

const char *tnd_call_trunk_inbound(struct tnd_calls *calls, const struct sockaddr *sa,
				   const char *ruri_user, int *err, const struct tnd_trunk **tp)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;
	const struct tnd_trunk *t = tnd_dialplan_trunk_by_source(dp, sa);

	*err = 0;
	*tp = t;
	if (!t)
		return NULL;
	return tnd_call_trunk_did_user(calls, t, ruri_user, err);
}

const char *tnd_call_trunk_did_user(struct tnd_calls *calls, const struct tnd_trunk *t,
				    const char *ruri_user, int *err)
{
	const struct tnd_conf_account *acc;
	const char *target;

	*err = 0;
	target = tnd_trunk_did(t, ruri_user);
	if (!target) {
		TND_LOG_INFO(TND_LOG_SIP, "INVITE from trunk %s to %s: no such DID (404)", t->name,
			     ruri_user);
		*err = ENOENT;
		return NULL;
	}
	/* an account rings its first user (the one the desk belongs to) */
	acc = tnd_conf_account_find(calls->env.conf, target);
	if (acc && !tnd_conf_user_find(calls->env.conf, target) && strcmp(acc->users, "*")) {
		static char first[65];   /* signalling thread only */

		snprintf(first, sizeof(first), "%.*s", (int)strcspn(acc->users, ", "), acc->users);
		return first;
	}
	return target;
}

/* ------------------------------------------------------------ admin, metrics */

void tnd_calls_trunk_foreach(struct tnd_calls *calls, tnd_trunk_info_h *h, void *arg)
{
	static const char *const srtp[] = { "off", "optional", "mandatory" };
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;

	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		const struct tnd_trunk *t = &dp->trunks[i];
		const struct trunk_state *ts = g_hash_table_lookup(calls->trunks, t->name);
		struct tnd_trunk_info info = {
			t->name, t->address, t->transport, srtp[tnd_trunk_srtp(t)],
			!ts || ts->up, ts != NULL, ts ? ts->fails : 0, t->n_dids,
			NULL, 0, 0,
		};

		tnd_call_trunk_reg_state(calls, t->name, &info.reg_state, &info.reg_code,
					 &info.reg_expires);
		h(arg, &info);
	}
}


void tnd_call_trunks_metrics(const struct tnd_calls *calls, GString *out)
{
	const struct tnd_dialplan *dp = calls->env.conf->dialplan;

	if (!dp || !dp->n_trunks)
		return;
	tnd_call_trunk_regs_metrics(calls, out);
	g_string_append(out, "# HELP tandem_trunk_up Whether a trunk answers its OPTIONS pings "
			"(1; also for trunks not pinged) or is down (0).\n"
			"# TYPE tandem_trunk_up gauge\n");
	for (size_t i = 0; i < dp->n_trunks; i++)
		g_string_append_printf(out, "tandem_trunk_up{trunk=\"%s\"} %d\n",
				       dp->trunks[i].name, trunk_up(calls, dp->trunks[i].name));
}
