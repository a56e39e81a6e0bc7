/* Digest answers to the 401 and 407 challenges our own requests get
 * (INVITE, re-INVITE, BYE, REGISTER): RFC 3261 section 22.2, RFC 2617 with
 * qop=auth. Sofia's auth_client computes the response, counts nonces and
 * keeps the challenge for the next request on the handle; this file only
 * feeds it credentials ("Digest:REALM:USER:SECRET", one per challenge
 * realm; "HA1+Digest:REALM:USER:HA1+hex" for a stored A1 hash) and decides
 * when to stop: a request is answered once per
 * challenge round, again only when the server says stale=true (a nonce
 * that expired, not a wrong password). Sofia-SIP 1.12 knows MD5 and
 * MD5-sess; a SHA-256 challenge (RFC 8760) it cannot answer is answered
 * by us (tnd_sipauth_sha256, digest.c) with a header the caller puts on
 * the request it sends again, and preferred when a response offers both.
 * Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>

#include "gateway/base/log.h"
#include "sip/digest_int.h"
#include "sip/sip_int.h"

/* answers in a row before we give up even with stale=true: a server that
 * calls every nonce stale must not keep us in a loop */
#define MAX_TRIES 3
#define MAX_REALMS 4

static bool bad_chars(const char *s, bool colon)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (colon && *s == ':'))
			return true;
	return false;
}

int tnd_sip_cred_check(const struct tnd_sip_cred *cred)
{
	size_t i;

	if (!cred || !cred->user || !*cred->user || strlen(cred->user) > 128 ||
	    bad_chars(cred->user, true))
		return EINVAL;
	if (!cred->password == !cred->ha1)
		return EINVAL;
	if (cred->password && (strlen(cred->password) > 256 || bad_chars(cred->password, false)))
		return EINVAL;
	if (cred->ha1) {
		if (strlen(cred->ha1) != 32)
			return EINVAL;
		for (i = 0; i < 32; i++)
			if (!strchr("0123456789abcdefABCDEF", cred->ha1[i]))
				return EINVAL;
	}
	return 0;
}

int tnd_sipauth_set(struct tnd_sipauth *a, const struct tnd_sip_cred *cred)
{
	size_t n;

	tnd_sipauth_clear(a);
	if (!cred)
		return 0;
	if (tnd_sip_cred_check(cred))
		return EINVAL;
	a->user = strdup(cred->user);
	/* Sofia takes a precomputed A1 hash as the password "HA1+<hex>" */
	n = (cred->password ? strlen(cred->password) : 36) + 1;
	a->secret = malloc(n);
	if (!a->user || !a->secret) {
		tnd_sipauth_clear(a);
		return ENOMEM;
	}
	if (cred->password)
		memcpy(a->secret, cred->password, n);
	else
		snprintf(a->secret, n, "HA1+%s", cred->ha1);
	return 0;
}

void tnd_sipauth_clear(struct tnd_sipauth *a)
{
	free(a->user);
	if (a->secret) {
		explicit_bzero(a->secret, strlen(a->secret));
		free(a->secret);
	}
	a->user = a->secret = NULL;
	a->tries = 0;
	a->nonce[0] = '\0';
	a->nc = 0;
}

static bool usable(const sip_www_authenticate_t *au, bool *stale)
{
	const char *alg, *st;

	if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") || !au->au_params)
		return false;
	alg = msg_params_find(au->au_params, "algorithm=");
	if (alg && strcasecmp(alg, "MD5") && strcasecmp(alg, "\"MD5\"") &&
	    strcasecmp(alg, "MD5-sess") && strcasecmp(alg, "\"MD5-sess\""))
		return false;
	st = msg_params_find(au->au_params, "stale=");
	if (st && (!strcasecmp(st, "true") || !strcasecmp(st, "\"true\"")))
		*stale = true;
	return msg_params_find(au->au_params, "realm=") != NULL;
}

/* One "Digest:REALM:USER:SECRET" per usable challenge into creds; how many. */
static size_t collect(const struct tnd_sipauth *a, const sip_www_authenticate_t *list,
		      char **creds, size_t n, size_t max, bool *stale)
{
	for (const sip_www_authenticate_t *au = list; au && n < max; au = au->au_next) {
		const char *realm;

		if (!usable(au, stale))
			continue;
		realm = msg_params_find(au->au_params, "realm=");
		/* the realm stays quoted, as Sofia matches it; a precomputed A1
		 * hash is marked on the scheme and on the secret alike */
		creds[n] = g_strdup_printf("%sDigest:%s:%s:%s", strncmp(a->secret, "HA1+", 4) ?
					   "" : "HA1+", realm, a->user, a->secret);
		n++;
	}
	return n;
}

/* "Digest:REALM:-:-" per usable challenge of sip into ph; how many. */
static size_t placeholders(const sip_t *sip, char **ph)
{
	char anon_user[] = "-", anon_secret[] = "-";
	struct tnd_sipauth anon = { .user = anon_user, .secret = anon_secret };
	bool stale = false;
	size_t n = collect(&anon, sip->sip_www_authenticate, ph, 0, MAX_REALMS, &stale);

	return collect(&anon, sip->sip_proxy_authenticate, ph, n, MAX_REALMS, &stale);
}

static void creds_free(char **creds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		explicit_bzero(creds[i], strlen(creds[i]));
		g_free(creds[i]);
	}
}

int tnd_sipauth_answer(struct tnd_sipauth *a, nua_handle_t *nh, const sip_t *sip,
		       const char *what)
{
	char *creds[MAX_REALMS] = { NULL }, *ph[MAX_REALMS] = { NULL };
	bool stale = false;
	size_t n, i, nph;
	int err = 0;

	if (!a->user || !sip)
		return ENOENT;
	n = collect(a, sip->sip_www_authenticate, creds, 0, MAX_REALMS, &stale);
	n = collect(a, sip->sip_proxy_authenticate, creds, n, MAX_REALMS, &stale);
	if (!n) {
		TND_LOG_NOTICE(TND_LOG_SIP, "%s: challenged without an MD5 digest challenge we "
			       "can answer", what);
		return ENOTSUP;
	}
	if (a->tries >= MAX_TRIES || (a->tries && !stale)) {
		TND_LOG_NOTICE(TND_LOG_SIP, "%s: credentials of %s refused", what, a->user);
		err = EACCES;
		goto out;
	}
	a->tries++;
	TND_LOG_INFO(TND_LOG_SIP, "%s: answering the challenge as %s%s", what, a->user,
		     stale ? " (stale nonce)" : "");
	/* nua takes credentials equal to those it holds as no change (904,
	 * and the request ends), even after it dropped them on a refusal of
	 * another request of the handle: placeholders first make ours new */
	nph = placeholders(sip, ph);
	nua_authenticate(nh, TAG_IF(nph > 0, NUTAG_AUTH(ph[0])),
			 TAG_IF(nph > 1, NUTAG_AUTH(ph[1])), TAG_IF(nph > 2, NUTAG_AUTH(ph[2])),
			 TAG_IF(nph > 3, NUTAG_AUTH(ph[3])),
			 NUTAG_AUTH(creds[0]), TAG_IF(n > 1, NUTAG_AUTH(creds[1])),
			 TAG_IF(n > 2, NUTAG_AUTH(creds[2])), TAG_IF(n > 3, NUTAG_AUTH(creds[3])),
			 TAG_END());
	creds_free(ph, nph);
 out:
	for (i = 0; i < n; i++) {
		explicit_bzero(creds[i], strlen(creds[i]));
		g_free(creds[i]);
	}
	return err;
}

/* Whether nua keeps a request challenged with sip waiting for
 * nua_authenticate(): Sofia 1.12 gives up at once (no request waits) on a
 * Digest challenge it cannot parse, one naming another algorithm than MD5 */
static bool nua_waits(const sip_t *sip)
{
	const sip_www_authenticate_t *lists[2] = { sip->sip_www_authenticate,
						   sip->sip_proxy_authenticate };

	for (int i = 0; i < 2; i++)
		for (const sip_www_authenticate_t *au = lists[i]; au; au = au->au_next) {
			bool stale = false;

			if (au->au_scheme && !strcasecmp(au->au_scheme, "Digest") && au->au_params &&
			    msg_params_find(au->au_params, "realm=") && !usable(au, &stale))
				return false;
		}
	return true;
}

bool tnd_sipauth_drop(nua_handle_t *nh, const sip_t *sip)
{
	if (!nh || !sip || !nua_waits(sip))
		return false;
	/* nua keeps the request waiting for nua_authenticate() at the head of
	 * the dialog's queue, and sends nothing queued behind it (a BYE):
	 * credentials for a realm no challenge names make nua end it with 904 */
	nua_authenticate(nh, NUTAG_AUTH("Digest:\"tandem.invalid\":-:-"), TAG_END());
	return true;
}

bool tnd_sipauth_abandon(struct tnd_sipauth *a, nua_handle_t *nh, const sip_t *sip)
{
	char *creds[MAX_REALMS] = { NULL };
	size_t n;

	(void)a;
	if (!nh || !sip || !nua_waits(sip))
		return false;
	/* placeholder credentials for each realm challenged: nua takes the
	 * refused ones again as no change (904), and none needs the password */
	n = placeholders(sip, creds);
	if (!n)
		return false;
	/* nua can end a request waiting for credentials only by restarting
	 * it (904, "no matching credentials", makes it end the whole session
	 * after a re-INVITE). So restart it requiring an extension no proxy
	 * has: the first proxy must answer 420 before it checks credentials
	 * (RFC 3261 16.3, steps 5 and 6), which leaves the dialog as it was
	 * (RFC 5057 5.1; Max-Forwards: 0 would get 483, which ends it) */
	nua_authenticate(nh, NUTAG_AUTH(creds[0]), TAG_IF(n > 1, NUTAG_AUTH(creds[1])),
			 TAG_IF(n > 2, NUTAG_AUTH(creds[2])), TAG_IF(n > 3, NUTAG_AUTH(creds[3])),
			 SIPTAG_PROXY_REQUIRE_STR("tandem-abandon"), TAG_END());
	creds_free(creds, n);
	return true;
}

/* The first SHA-256 challenge of list that parses (digest.c checks every
 * value that will go back into our header). */
static bool find_sha256(const sip_www_authenticate_t *list, struct tnd_digest_chal *c)
{
	for (const sip_www_authenticate_t *au = list; au; au = au->au_next) {
		size_t n = 0;

		if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") || !au->au_params)
			continue;
		while (au->au_params[n])
			n++;
		if (!tnd_digest_parse(c, au->au_params, n) && c->alg == TND_DIGEST_SHA256)
			return true;
	}
	return false;
}

int tnd_sipauth_sha256(struct tnd_sipauth *a, const sip_t *sip, const char *method,
		       const char *uri, const char *what, char *hdr, size_t len, bool *proxy)
{
	struct tnd_digest_chal c;
	int err;

	if (!a->user || !sip)
		return ENOENT;
	*proxy = false;
	if (!find_sha256(sip->sip_www_authenticate, &c)) {
		if (!find_sha256(sip->sip_proxy_authenticate, &c))
			return ENOTSUP;
		*proxy = true;
	}
	/* a stored A1 is MD5(user:realm:password): no use for SHA-256 */
	if (!strncmp(a->secret, "HA1+", 4)) {
		TND_LOG_NOTICE(TND_LOG_SIP, "%s: SHA-256 challenge, but only an MD5 HA1 is "
			       "configured", what);
		return ENOTSUP;
	}
	if (a->tries >= MAX_TRIES || (a->tries && !c.stale)) {
		TND_LOG_NOTICE(TND_LOG_SIP, "%s: credentials of %s refused", what, a->user);
		return EACCES;
	}
	a->tries++;
	if (strcmp(c.nonce, a->nonce)) {
		snprintf(a->nonce, sizeof(a->nonce), "%s", c.nonce);
		a->nc = 0;
	}
	err = tnd_digest_credentials(hdr, len, &c, a->user, a->secret, method, uri, ++a->nc);
	if (!err)
		TND_LOG_INFO(TND_LOG_SIP, "%s: answering the SHA-256 challenge as %s%s", what,
			     a->user, c.stale ? " (stale nonce)" : "");
	return err;
}
