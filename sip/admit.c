/* Who may make the gateway ring a user (review H4, abuse probe rows "INVITE
 * flood", "sipvicious"). Every new INVITE and every OPTIONS passes here on
 * the signalling thread before anything else looks at it:
 * - a trusted source (sip/guard.c's list: trunks, PBXes, the proxy) passes;
 * - any other source is rate limited per address, and a source that keeps
 *   being refused is blocked for a while (its requests get a cheap 403);
 * - an untrusted INVITE then needs digest credentials (RFC 3261 22, RFC
 *   2617 with qop=auth, MD5) when [sip] inbound_user is set, else it gets
 *   403. The answer never depends on the user called, so nobody can learn
 *   who is logged in (the probe saw 180 vs 480).
 * Nonces are stateless: hex time + MD5(secret:time), valid NONCE_S seconds;
 * nonce counts are not tracked, so a captured response can be replayed
 * within that window (documented in the option's help). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include <sofia-sip/auth_digest.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_md5.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define REALM "tandem"
#define NONCE_S 300

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

const struct sockaddr *tnd_sipua_source(nua_t *nua)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;

	return ai ? ai->ai_addr : NULL;
}

static void nonce_make(const struct tnd_sipua *ua, long t, char out[41])
{
	su_md5_t md5;
	char hex[33];
	char ts[9];

	snprintf(ts, sizeof(ts), "%08lx", (unsigned long)t & 0xffffffffUL);
	su_md5_init(&md5);
	su_md5_update(&md5, ua->nonce_key, sizeof(ua->nonce_key));
	su_md5_strupdate(&md5, ts);
	su_md5_hexdigest(&md5, hex);
	memcpy(out, ts, 8);
	memcpy(out + 8, hex, 32);
	out[40] = '\0';
}

/* 0 fresh and ours, ESTALE ours but old, EINVAL not ours */
static int nonce_check(const struct tnd_sipua *ua, const char *nonce)
{
	char want[41], ts[9];
	long t, now = (long)(g_get_monotonic_time() / G_USEC_PER_SEC);
	char *end;

	if (!nonce || strlen(nonce) != 40)
		return EINVAL;
	memcpy(ts, nonce, 8);
	ts[8] = '\0';
	t = strtol(ts, &end, 16);
	if (*end)
		return EINVAL;
	nonce_make(ua, t, want);
	if (strcmp(want, nonce))
		return EINVAL;
	return (now & 0xffffffffL) - t > NONCE_S || (now & 0xffffffffL) < t ? ESTALE : 0;
}

/* 0 when an Authorization header of `sip` proves the inbound password;
 * ENOENT when there is none for our realm; ESTALE; EACCES. */
static int digest_verify(const struct tnd_sipua *ua, const sip_t *sip)
{
	const sip_authorization_t *au;
	int result = ENOENT;

	for (au = sip->sip_authorization; au; au = au->au_next) {
		su_home_t home[1] = { SU_HOME_INIT(home) };
		auth_response_t ar[1];
		auth_hexmd5_t ha1, resp;
		int err = EACCES;

		if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") || !au->au_params)
			continue;
		memset(ar, 0, sizeof(ar));
		ar->ar_size = sizeof(ar);
		if (auth_digest_response_get(home, ar, au->au_params) < 0 || !ar->ar_realm ||
		    strcmp(ar->ar_realm, REALM)) {
			su_home_deinit(home);
			continue;
		}
		if (ar->ar_username && ar->ar_response && ar->ar_uri &&
		    !(ar->ar_algorithm && !ar->ar_md5) && !ar->ar_auth_int) {
			err = nonce_check(ua, ar->ar_nonce);
			if (err == EINVAL)
				err = EACCES;
		}
		if (!err && !strcmp(ar->ar_username, ua->in_user)) {
			auth_digest_ha1(ha1, ua->in_user, REALM, ua->in_password);
			auth_digest_response(ar, resp, ha1, sip->sip_request->rq_method_name,
					     NULL, 0);
			err = strcasecmp(resp, ar->ar_response) ? EACCES : 0;
		} else if (!err) {
			err = EACCES;
		}
		su_home_deinit(home);
		if (!err || result == ENOENT || err == ESTALE)
			result = err;
		if (!err)
			break;
	}
	return result;
}

static void note_refusal(struct tnd_sipua *ua, const struct sockaddr *sa, const char *what,
			 int status)
{
	char addr[64];

	tnd_sipguard_addr_str(sa, addr, sizeof(addr));
	if (tnd_sipguard_refused(ua->guard, sa, now_ms()))
		TND_LOG_NOTICE(TND_LOG_SIP, "SIP source %s blocked for %u s after repeated "
			       "refusals (last: %s, %d)", addr, ua->block_time, what, status);
	else
		TND_LOG_RL(TND_LOG_SIP, INFO, "refused %s from untrusted %s: %d", what, addr,
			   status);
}

int tnd_sipua_admit_invite(struct tnd_sipua *ua, nua_t *nua, const sip_t *sip,
			   const char **phrase, char *challenge, size_t size)
{
	const struct sockaddr *sa = tnd_sipua_source(nua);
	struct tnd_sipreg *reg;
	char nonce[41];
	int err;

	*phrase = sip_403_Forbidden;
	challenge[0] = '\0';
	/* our registrar delivering a call to a Contact we registered: it is
	 * trusted for that Contact alone (no open relay: any other user, or
	 * another source, goes through the checks below) */
	reg = tnd_sipreg_find(ua, sip->sip_request->rq_url->url_user);
	if (reg && tnd_sipreg_from_registrar(reg, sa))
		return 0;
	switch (tnd_sipguard_check(ua->guard, sa, now_ms())) {
	case TND_SIPGUARD_TRUSTED:
		return 0;
	case TND_SIPGUARD_BLOCKED:
		return 403;             /* its block was logged when it began */
	case TND_SIPGUARD_LIMITED:
		note_refusal(ua, sa, "INVITE (rate)", 403);
		return 403;
	case TND_SIPGUARD_ADMIT:
		break;
	}
	if (!ua->in_user) {
		note_refusal(ua, sa, "INVITE", 403);
		return 403;
	}
	err = digest_verify(ua, sip);
	if (!err)
		return 0;
	if (err == EACCES)
		note_refusal(ua, sa, "INVITE (bad credentials)", 401);
	nonce_make(ua, (long)(g_get_monotonic_time() / G_USEC_PER_SEC), nonce);
	snprintf(challenge, size, "Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, "
		 "qop=\"auth\"%s", REALM, nonce, err == ESTALE ? ", stale=true" : "");
	*phrase = sip_401_Unauthorized;
	return 401;
}

void tnd_sipua_options(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh)
{
	const struct sockaddr *sa = tnd_sipua_source(nua);

	switch (tnd_sipguard_check(ua->guard, sa, now_ms())) {
	case TND_SIPGUARD_LIMITED:
		note_refusal(ua, sa, "OPTIONS (rate)", 403);
		/* fall through */
	case TND_SIPGUARD_BLOCKED:
		nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
		break;
	default:
		/* nua adds Allow, Accept and Supported; nothing about users */
		nua_respond(nh, ua->stopping ? 503 : 200, ua->stopping ?
			    sip_503_Service_unavailable : sip_200_OK, NUTAG_WITH_THIS(nua),
			    TAG_END());
		break;
	}
	nua_handle_destroy(nh);
}

void tnd_sipua_register(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh)
{
	const struct sockaddr *sa = tnd_sipua_source(nua);

	switch (tnd_sipguard_check(ua->guard, sa, now_ms())) {
	case TND_SIPGUARD_LIMITED:
		note_refusal(ua, sa, "REGISTER (rate)", 403);
		break;
	case TND_SIPGUARD_ADMIT:
		note_refusal(ua, sa, "REGISTER", 403);
		break;
	default:
		break;
	}
	nua_respond(nh, 403, "Registration is not offered here", NUTAG_WITH_THIS(nua),
		    TAG_END());
	nua_handle_destroy(nh);
}
