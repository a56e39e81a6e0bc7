/* Pre-emptive digest (issue 11 item 10): the last Digest challenge each
 * account (its authentication user) got, per header class, so that its
 * later requests, the next calls' first INVITE included, carry credentials
 * computed from it (same realm and nonce, nc counted up, a fresh cnonce per
 * request: RFC 7616 3.4, RFC 8760) and a server that lets a nonce be
 * reused within its lifetime (Kamailio's default) takes them without a
 * 401/407 round trip. A stale or unknown nonce is simply challenged again:
 * the answer (auth.c) refreshes the entry. A nonce never goes to a server
 * that did not send it: the proxy checks only credentials for its own realm
 * and challenges otherwise. SHA-256 is preferred when a response offers
 * both; a stored MD5 A1 ("HA1+hex") serves MD5 challenges only.
 * Signalling thread; the table is the UA's (ua->authc). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/digest_int.h"
#include "sip/sip_int.h"

/* accounts with a cached challenge; beyond it the table starts again (a
 * lost entry costs one round trip, never a failure) */
#define MAX_ENTRIES 4096

/* One challenge we answered, by header class and realm: a request may pass
 * a proxy and a registrar, or one proxy asking for another realm in
 * dialogs, and each checks only its own realm's credentials. */
struct slot {
	struct tnd_digest_chal chal;
	bool used;
	bool proxy;                       /* Proxy-Authenticate */
	unsigned nc;                      /* requests sent with chal.nonce */
	unsigned stamp;                   /* when learnt: the oldest goes first */
};

struct entry {
	struct slot s[TND_SIPAUTH_MAX];
	unsigned clock;
};

static void entry_free(gpointer p)
{
	struct entry *e = p;

	explicit_bzero(e, sizeof(*e));
	g_free(e);
}

/* The best challenge of one header class we could answer: SHA-256 before
 * MD5; none for an A1 hash with SHA-256 only. */
static bool pick(const sip_www_authenticate_t *list, bool ha1, struct tnd_digest_chal *out)
{
	bool found = false;

	for (const sip_www_authenticate_t *au = list; au; au = au->au_next) {
		struct tnd_digest_chal c;
		size_t n = 0;

		if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") || !au->au_params)
			continue;
		while (au->au_params[n])
			n++;
		if (tnd_digest_parse(&c, au->au_params, n))
			continue;
		if (c.alg == TND_DIGEST_SHA256 && ha1)
			continue;
		if (!found || c.alg == TND_DIGEST_SHA256) {
			*out = c;
			found = true;
		}
	}
	return found;
}

static void keep(struct entry *e, const struct tnd_digest_chal *c, bool proxy)
{
	struct slot *s = NULL;

	for (size_t i = 0; i < TND_SIPAUTH_MAX && !s; i++)
		if (e->s[i].used && e->s[i].proxy == proxy && !strcmp(e->s[i].chal.realm, c->realm))
			s = &e->s[i];
	for (size_t i = 0; i < TND_SIPAUTH_MAX && !s; i++)
		if (!e->s[i].used)
			s = &e->s[i];
	if (!s) {
		s = &e->s[0];
		for (size_t i = 1; i < TND_SIPAUTH_MAX; i++)
			if (e->s[i].stamp < s->stamp)
				s = &e->s[i];
		s->used = false;
	}
	/* the answer to this challenge (nua's MD5, or our SHA-256) sends the
	 * new nonce with nc 1: a pre-emptive reuse must go on from 2, or a
	 * server counting nonces (RFC 7616 3.4.5: nc only goes up) refuses it */
	if (!s->used || strcmp(c->nonce, s->chal.nonce) || c->alg != s->chal.alg)
		s->nc = 1;
	s->chal = *c;
	s->used = true;
	s->proxy = proxy;
	s->stamp = ++e->clock;
}

/* The cache key: the account's user and where its requests go first
 * (`scope`: the proxy of its call or MESSAGE, else the UA's, else the
 * callee itself), so credentials go only to the server whose challenge
 * they answer: a digest response is material for guessing the password
 * offline. Calls and out-of-dialog MESSAGEs of one account share it.
 * g_free it; NULL without credentials. */
static char *key_for(const struct tnd_sipauth *a, const char *scope)
{
	if (!a->user || !a->secret || !scope)
		return NULL;
	return g_strdup_printf("%s\n%s", a->user, scope);
}

static const char *scope_of(const struct tnd_sipcall *call)
{
	const struct tnd_sipua *ua = call->ua;

	return call->route ? call->route : ua && ua->proxy ? ua->proxy : call->ruri;
}

void tnd_sipauth_learn_for(struct tnd_sipua *ua, const struct tnd_sipauth *a,
			   const char *scope, const sip_t *sip)
{
	const sip_www_authenticate_t *lists[2];
	struct entry *e;
	char *key;
	bool ha1;

	if (!ua || !sip || !(key = key_for(a, scope)))
		return;
	lists[0] = sip->sip_www_authenticate;
	lists[1] = sip->sip_proxy_authenticate;
	if (!lists[0] && !lists[1]) {
		g_free(key);
		return;
	}
	if (!ua->authc)
		ua->authc = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
	e = g_hash_table_lookup(ua->authc, key);
	if (!e) {
		if (g_hash_table_size(ua->authc) >= MAX_ENTRIES)
			g_hash_table_remove_all(ua->authc);
		e = g_new0(struct entry, 1);
		g_hash_table_insert(ua->authc, key, e);   /* takes key */
	} else {
		g_free(key);
	}
	ha1 = !strncmp(a->secret, "HA1+", 4);
	for (int i = 0; i < 2; i++) {
		struct tnd_digest_chal c;

		if (lists[i] && pick(lists[i], ha1, &c))
			keep(e, &c, i == 1);
	}
}

void tnd_sipauth_learn(struct tnd_sipcall *call, const sip_t *sip)
{
	tnd_sipauth_learn_for(call->ua, &call->auth, scope_of(call), sip);
}

void tnd_sipauth_forget_for(struct tnd_sipua *ua, const struct tnd_sipauth *a,
			    const char *scope)
{
	char *key;

	if (!ua || !ua->authc || !(key = key_for(a, scope)))
		return;
	g_hash_table_remove(ua->authc, key);
	g_free(key);
}

void tnd_sipauth_forget(struct tnd_sipcall *call)
{
	tnd_sipauth_forget_for(call->ua, &call->auth, scope_of(call));
}

void tnd_sipauth_cache_free(struct tnd_sipua *ua)
{
	if (ua->authc)
		g_hash_table_destroy(ua->authc);
	ua->authc = NULL;
}

int tnd_sipauth_preempt(struct tnd_sipua *ua, const struct tnd_sipauth *a, const char *scope,
			const char *method, const char *uri, struct tnd_sipauth_hdrs *h)
{
	struct entry *e;
	char *key;

	memset(h->proxy, 0, sizeof(h->proxy));
	h->n = 0;
	if (!ua || !ua->authc || !uri || !(key = key_for(a, scope)))
		return ENOENT;
	e = g_hash_table_lookup(ua->authc, key);
	g_free(key);
	if (!e)
		return ENOENT;
	for (size_t i = 0; i < TND_SIPAUTH_MAX; i++) {
		struct slot *s = &e->s[i];

		if (!s->used || tnd_digest_credentials(h->v[h->n], sizeof(h->v[0]), &s->chal,
						       a->user, a->secret, method, uri, ++s->nc))
			continue;
		h->proxy[h->n++] = s->proxy;
	}
	return h->n ? 0 : ENOENT;
}

void tnd_sipcall_auth_hdrs(struct tnd_sipcall *call, const char *method,
			   struct tnd_sipauth_hdrs *h)
{
	/* the Request-URI: in the dialog, the peer's Contact (RFC 3261
	 * 12.2.1.1, no Route set pre-loaded with a strict router here) */
	const char *uri = call->established && call->target ? call->target : call->ruri;

	if (tnd_sipauth_preempt(call->ua, &call->auth, scope_of(call), method, uri, h) == 0)
		TND_LOG_DEBUG(TND_LOG_SIP, "call %s: %s with pre-emptive credentials",
			      call->call_id ? call->call_id : "-", method);
}

int tnd_sipcall_sha256_hdrs(struct tnd_sipcall *call, const sip_t *sip, const char *method,
			    const char *what, struct tnd_sipauth_hdrs *h)
{
	const char *uri = call->established && call->target ? call->target : call->ruri;
	bool proxy;
	int err;

	memset(h->proxy, 0, sizeof(h->proxy));
	h->n = 0;
	if (!uri)
		return ENOENT;
	err = tnd_sipauth_sha256(&call->auth, sip, method, uri, what, h->v[0], sizeof(h->v[0]),
				 &proxy);
	if (!err) {
		h->proxy[0] = proxy;
		h->n = 1;
	}
	if (err == EACCES)
		tnd_sipauth_forget(call);
	return err;
}

/* RFC 3261 12.1.2: a UAC's route set is its 2xx's Record-Route, reversed
 * (at most 16 entries; more, or one too long, and none is kept) */
static void keep_route_set(struct tnd_sipcall *call, const sip_t *sip)
{
	const sip_record_route_t *v[16], *rr;
	GString *s;
	size_t n = 0;

	for (rr = sip->sip_record_route; rr && n < 16; rr = rr->r_next)
		v[n++] = rr;
	if (rr || !n)
		return;
	s = g_string_new(NULL);
	while (n-- > 0) {
		char buf[512];

		if (url_e(buf, (isize_t)sizeof(buf), v[n]->r_url) < 0 ||
		    strlen(buf) >= sizeof(buf) - 1) {
			g_string_free(s, TRUE);
			return;
		}
		g_string_append_printf(s, "%s<%s>", s->len ? ", " : "", buf);
	}
	free(call->rroute);
	call->rroute = strdup(s->str);
	g_string_free(s, TRUE);
}

void tnd_sipcall_set_target(struct tnd_sipcall *call, const sip_t *sip)
{
	char buf[512];

	if (!call->auth.user || !sip || !sip->sip_contact)
		return;
	if (call->outgoing)
		keep_route_set(call, sip);
	if (url_e(buf, (isize_t)sizeof(buf), sip->sip_contact->m_url) < 0 ||
	    strlen(buf) >= sizeof(buf) - 1)
		return;
	free(call->target);
	call->target = strdup(buf);
}
