/* Registrations for browser users (`register`, `unregister`; issue 11 item
 * 1): an [accounts] entry, or an inline one when [sip] register_inline
 * allows, bound at its registrar through sip/'s tnd_sipreg. A registration
 * belongs to the user, not to one WebSocket: all the user's sockets get its
 * `registration` notifications and ring for calls to its Contact (call_in.c
 * asks tnd_call_reg_user), and it outlives the last socket by [sip]
 * register_grace seconds so a page reload keeps the agent in its queue.
 * Accounts are checked against the user's rights on every use. Changes of
 * state or status go to the observer (call events) and admin.registrations
 * lists them (tnd_calls_reg_foreach). Signalling thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

struct call_reg {
	struct tnd_calls *calls;     /* borrowed: owns the registry */
	char *key;                   /* owned: "user\naccount", the registry's key */
	char *user;                  /* owned */
	char *id;                    /* owned: account name, or the inline uri */
	struct tnd_sipreg *sip;      /* ref */
	char *aor;                   /* owned */
	char *registrar;             /* owned; "" = the AOR's domain */
	GSource *grace;              /* owned: running while no socket of user is open */
	int64_t grace_end;           /* monotonic time the grace runs out, with grace */
	const char *state;           /* static */
	int code;                    /* last SIP status, 0 none yet */
	char *reason;                /* owned; its phrase */
	unsigned expires, retry_in;  /* as the last report had them */
	int64_t changed_us;          /* real time of the last change */
	bool removing;               /* unregister asked: freed when it is through */
};

static void reg_free(gpointer data)
{
	struct call_reg *r = data;

	if (r->grace) {
		g_source_destroy(r->grace);
		g_source_unref(r->grace);
	}
	tnd_sipreg_detach(r->sip);
	tnd_obj_put(r->sip);
	free(r->key);
	free(r->user);
	free(r->id);
	free(r->aor);
	free(r->registrar);
	free(r->reason);
	free(r);
}

int tnd_call_regs_init(struct tnd_calls *calls)
{
	calls->regs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, reg_free);
	return 0;
}

void tnd_call_regs_free(struct tnd_calls *calls)
{
	if (calls->regs)
		g_hash_table_destroy(calls->regs);
	calls->regs = NULL;
}

unsigned long tnd_calls_registrations(const struct tnd_calls *calls)
{
	return calls && calls->regs ? g_hash_table_size(calls->regs) : 0;
}

const char *tnd_call_reg_user(struct tnd_calls *calls, void *reg_arg)
{
	struct call_reg *r = reg_arg;

	if (tnd_call_trunk_reg_is(calls, reg_arg))
		return NULL;         /* a trunk's (call_trunk_reg.c): not ours to read */
	return r && r->calls == calls ? r->user : NULL;
}

/* The user's open sockets, up to CALL_MAX_RING. */
static size_t user_conns(const struct call_reg *r)
{
	const struct tnd_calls_env *env = &r->calls->env;
	void *conns[CALL_MAX_RING];

	return env->lookup(env->lookup_arg, r->user, conns, CALL_MAX_RING);
}

static void fill_info(const struct call_reg *r, struct tnd_reg_info *in)
{
	memset(in, 0, sizeof(*in));
	in->id = r->id;
	in->user = r->user;
	in->aor = r->aor;
	in->registrar = r->registrar;
	in->state = r->state;
	in->code = r->code;
	in->reason = r->reason ? r->reason : "";
	in->expires = r->expires;
	in->retry_in = r->retry_in;
	in->contact = r->sip ? tnd_sipreg_contact(r->sip) : "";
	in->contact = in->contact ? in->contact : "";
	in->changed_us = r->changed_us;
	in->sockets = (unsigned)user_conns(r);
	in->grace_left = -1;
	if (r->grace) {
		int64_t left = r->grace_end - g_get_monotonic_time();

		/* rounded up: 0 only once it has run out */
		in->grace_left = left > 0 ? (int)((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) :
			0;
	}
}

/* Records a report of sip/ (or our own "unregistered"), and tells the
 * observer when the state or the status changed: a refresh is no event. */
static void note_change(struct call_reg *r, const char *state, int code, const char *reason,
			unsigned expires, unsigned retry_in)
{
	const struct tnd_call_observer *o = r->calls->env.observer;
	bool changed = strcmp(state, r->state) || code != r->code;
	struct tnd_reg_info info;
	char *why = strdup(reason ? reason : "");

	r->state = state;
	r->code = code;
	if (why) {   /* out of memory: the old phrase stays */
		free(r->reason);
		r->reason = why;
	}
	r->expires = expires;
	r->retry_in = retry_in;
	if (!changed)
		return;
	r->changed_us = g_get_real_time();
	if (!o || !o->registration)
		return;
	fill_info(r, &info);
	o->registration(r->calls->env.observer_arg, &info);
}

static void tell_user(struct call_reg *r, int code, const char *reason, unsigned expires,
		      unsigned retry_in)
{
	const struct tnd_calls_env *env = &r->calls->env;
	void *conns[CALL_MAX_RING];
	size_t n;

	if (!env->sink->registration)
		return;
	n = env->lookup(env->lookup_arg, r->user, conns, CALL_MAX_RING);
	for (size_t i = 0; i < n; i++)
		env->sink->registration(conns[i], r->id, r->state, code, reason, expires,
					retry_in);
}

static void on_sipreg(void *arg, struct tnd_sipreg *sip, enum tnd_sipreg_state st, int code,
		      const char *reason, unsigned expires, unsigned retry_in)
{
	struct call_reg *r = arg;

	(void)sip;
	note_change(r, tnd_sipreg_state_name(st), code, reason,
		    st == TND_SIPREG_REGISTERED ? expires : 0,
		    st == TND_SIPREG_FAILED ? retry_in : 0);
	tell_user(r, code, reason, expires, retry_in);
	if (st == TND_SIPREG_UNREGISTERED && r->removing)
		g_hash_table_remove(r->calls->regs, r->key);   /* frees r */
}

/* Starts removing r: un-REGISTER, or at once when nothing is bound. */
static void remove_reg(struct call_reg *r)
{
	r->removing = true;
	if (tnd_sipreg_unregister(r->sip) == EALREADY) {
		note_change(r, "unregistered", 0, "not registered", 0, 0);
		tell_user(r, 0, "not registered", 0, 0);
		g_hash_table_remove(r->calls->regs, r->key);
	}
}

static gboolean on_grace(gpointer data)
{
	struct call_reg *r = data;
	const struct tnd_calls_env *env = &r->calls->env;
	void *conns[1];

	g_source_unref(r->grace);
	r->grace = NULL;
	if (env->lookup(env->lookup_arg, r->user, conns, 1))
		return G_SOURCE_REMOVE;          /* the user is back */
	TND_LOG_INFO(TND_LOG_SIP, "registration %s of %s: no WebSocket left after the grace "
		     "time: removing", r->id, r->user);
	remove_reg(r);
	return G_SOURCE_REMOVE;
}

void tnd_call_regs_conn_gone(struct tnd_calls *calls, void *conn)
{
	const struct tnd_calls_env *env = &calls->env;
	GList *all = g_hash_table_get_values(calls->regs);

	for (GList *l = all; l; l = l->next) {
		struct call_reg *r = l->data;
		void *conns[CALL_MAX_RING];
		size_t n, left = 0;

		if (r->grace || r->removing)
			continue;
		n = env->lookup(env->lookup_arg, r->user, conns, CALL_MAX_RING);
		for (size_t i = 0; i < n; i++)
			left += conns[i] != conn;
		if (left)
			continue;
		/* even 0 s goes through the loop: we are inside the socket's
		 * teardown and must not free what it may still walk */
		r->grace = g_timeout_source_new_seconds((guint)env->conf->sip_register_grace);
		r->grace_end = g_get_monotonic_time() +
			(int64_t)env->conf->sip_register_grace * G_USEC_PER_SEC;
		g_source_set_callback(r->grace, on_grace, r, NULL);
		g_source_attach(r->grace, tnd_loop_context(env->signal));
	}
	g_list_free(all);
}

/* ------------------------------------------------------------ requests */

/* The user part of a sip: URI ("sip:alice@x" -> "alice") into buf. */
static const char *uri_user(const char *uri, char *buf, size_t size)
{
	const char *s = strchr(uri, ':'), *at = strchr(uri, '@');

	if (!s || !at || at < s)
		return "";
	snprintf(buf, size, "%.*s", (int)(at - s - 1), s + 1);
	return buf;
}

static int account_of(struct tnd_calls *calls, const char *name, const char *user,
		      const struct tnd_conf_account **accp, char *msg, size_t msglen)
{
	const struct tnd_conf_account *acc = tnd_conf_account_find(calls->env.conf, name);

	if (!acc) {
		snprintf(msg, msglen, "params.account: no account '%.64s'", name);
		return ENOENT;
	}
	if (!tnd_conf_account_allows(acc, user)) {
		snprintf(msg, msglen, "params.account: '%.64s' is not one of your accounts",
			 name);
		return EACCES;
	}
	*accp = acc;
	return 0;
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

/* The sip/ parameters of a registration request. */
static int reg_params(struct tnd_calls *calls, const char *user, const struct tnd_reg_params *p,
		      struct tnd_sipreg_params *sp, struct tnd_sip_cred *cred, char *ubuf,
		      size_t ulen, char *msg, size_t msglen)
{
	const struct tnd_conf_account *acc = NULL;
	const char *secret, *ha1 = NULL;
	int err;

	memset(sp, 0, sizeof(*sp));
	if (p->account) {
		err = account_of(calls, p->account, user, &acc, msg, msglen);
		if (err)
			return err;
		sp->aor = acc->uri;
		sp->registrar = nz(acc->registrar);
		sp->proxy = nz(acc->proxy);
		sp->transport = nz(acc->transport);
		sp->expires = (unsigned)(p->expires ? p->expires : acc->expires);
		cred->user = nz(acc->auth_user) ? acc->auth_user : uri_user(acc->uri, ubuf, ulen);
		secret = nz(acc->password);
		ha1 = nz(acc->ha1);
	} else {
		if (!calls->env.conf->sip_register_inline) {
			snprintf(msg, msglen, "params.account is required: inline registration "
				 "is off ([sip] register_inline)");
			return EPERM;
		}
		sp->aor = p->uri;
		sp->registrar = nz(p->registrar);
		sp->proxy = nz(p->proxy);
		sp->transport = nz(p->transport);
		sp->expires = (unsigned)(p->expires ? p->expires : 3600);
		cred->user = nz(p->auth_user) ? p->auth_user : uri_user(p->uri, ubuf, ulen);
		secret = nz(p->password);
		ha1 = nz(p->ha1);
	}
	sp->retry_max = (unsigned)calls->env.conf->sip_register_retry_max;
	cred->password = secret;
	cred->ha1 = ha1;
	sp->cred = secret || ha1 ? cred : NULL;
	return 0;
}

int tnd_calls_register(struct tnd_calls *calls, void *conn, const char *user,
		       const struct tnd_reg_params *p, char *id, size_t idlen,
		       const char **state, char *msg, size_t msglen)
{
	struct tnd_sipreg_params sp;
	struct tnd_sip_cred cred;
	struct call_reg *r;
	char ubuf[128], *key;
	int err;

	(void)conn;
	if (!user) {
		snprintf(msg, msglen, "log in first: registrations belong to a user");
		return EACCES;
	}
	if (!p->account && !p->uri) {
		snprintf(msg, msglen, "params.account (or params.uri) is required");
		return EINVAL;
	}
	err = reg_params(calls, user, p, &sp, &cred, ubuf, sizeof(ubuf), msg, msglen);
	if (err)
		return err;
	key = g_strdup_printf("%s\n%s", user, p->account ? p->account : p->uri);
	r = g_hash_table_lookup(calls->regs, key);
	if (r && !r->removing) {
		/* joining the user's registration: a reload, or a second tab */
		g_free(key);
		if (r->grace) {
			g_source_destroy(r->grace);
			g_source_unref(r->grace);
			r->grace = NULL;
		}
		snprintf(id, idlen, "%s", r->id);
		*state = r->state;
		return 0;
	}
	if (r) {
		g_free(key);
		snprintf(msg, msglen, "registration %.64s is being removed; try again", r->id);
		return EALREADY;
	}
	r = calloc(1, sizeof(*r));
	if (r) {
		r->calls = calls;
		r->key = strdup(key);
		r->user = strdup(user);
		r->id = strdup(p->account ? p->account : p->uri);
		r->aor = strdup(sp.aor ? sp.aor : "");
		r->registrar = strdup(sp.registrar ? sp.registrar : "");
		r->state = "registering";
		r->changed_us = g_get_real_time();
	}
	g_free(key);
	if (!r || !r->key || !r->user || !r->id || !r->aor || !r->registrar) {
		if (r)
			reg_free(r);
		snprintf(msg, msglen, "out of memory");
		return ENOMEM;
	}
	err = tnd_sipreg_alloc(&r->sip, calls->env.sip, &sp, on_sipreg, r);
	if (err) {
		snprintf(msg, msglen, err == EINVAL ? "params: not a usable account (uri, "
			 "registrar, proxy, transport, expires 10..86400 or credentials)" :
			 err == EBUSY ? "the gateway is stopping" : "cannot register: %s",
			 strerror(err));
		reg_free(r);
		return err;
	}
	g_hash_table_insert(calls->regs, r->key, r);
	TND_LOG_INFO(TND_LOG_SIP, "user %s registers %s (Contact %s)", user, r->id,
		     tnd_sipreg_contact(r->sip));
	snprintf(id, idlen, "%s", r->id);
	*state = r->state;
	return 0;
}

int tnd_calls_unregister(struct tnd_calls *calls, void *conn, const char *user,
			 const char *reg, char *msg, size_t msglen)
{
	struct call_reg *r;
	char *key;

	(void)conn;
	if (!user || !reg) {
		snprintf(msg, msglen, "params.registration: no such registration");
		return ENOENT;
	}
	key = g_strdup_printf("%s\n%s", user, reg);
	r = g_hash_table_lookup(calls->regs, key);
	g_free(key);
	if (!r || r->removing) {
		snprintf(msg, msglen, "params.registration: no registration '%.64s'", reg);
		return ENOENT;
	}
	remove_reg(r);
	return 0;
}

int tnd_call_reg_identity(struct tnd_calls *calls, const char *account, const char *user,
			  struct tnd_sipcall_params *sp, struct tnd_sip_cred *cred,
			  char *ubuf, size_t ulen, char *msg, size_t msglen)
{
	const struct tnd_conf_account *acc;
	int err = account_of(calls, account, user, &acc, msg, msglen);

	if (err)
		return err;
	sp->from_uri = acc->uri;
	sp->route = nz(acc->proxy);
	cred->user = nz(acc->auth_user) ? acc->auth_user : uri_user(acc->uri, ubuf, ulen);
	cred->password = nz(acc->password);
	cred->ha1 = nz(acc->ha1);
	sp->cred = cred->password || cred->ha1 ? cred : NULL;
	return 0;
}

void tnd_calls_reg_foreach(struct tnd_calls *calls, tnd_reg_info_h *h, void *arg)
{
	GHashTableIter it;
	gpointer v;

	if (!calls || !calls->regs || !h)
		return;
	g_hash_table_iter_init(&it, calls->regs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct tnd_reg_info info;

		fill_info(v, &info);
		h(arg, &info);
	}
}
