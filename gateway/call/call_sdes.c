/* SDES-SRTP (RFC 4568) on the SIP leg: the call's policy, our keys and
 * installing the agreed ones on the bridge. The policy (enum tnd_sip_srtp)
 * is a per-call value handed in by whoever creates the call ([media]
 * sip_srtp by default, a trunk's setting when a trunk carries the call), so
 * nothing below reads the policy from the configuration; the suite list is
 * [media] sip_srtp_suites.
 *
 * Keys: a fresh key||salt from OpenSSL's RAND_bytes for each offered suite
 * (one key per crypto line, RFC 4568 6.1), made once per call. A re-INVITE
 * or session refresh offers the same lines again (RFC 4568 7.1.4 allows it
 * while the media stream continues), which keeps the SRTP session on the
 * socket and its rollover counters (issue 11 item 4). Which SDP side is
 * ours: the offer for calls we place, the answer for calls we take.
 *
 * Keys travel in the SDP: over UDP or TCP anyone on the path reads them,
 * so we warn unless the peer's URI is sips: (SIP over TLS). Signalling
 * thread. Keys are never logged. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

int tnd_call_sdes_init(struct tnd_call *call, int policy)
{
	const struct tnd_conf *conf;
	struct call_sdes *s;
	char **names = NULL;
	int err = 0;

	if (!call || policy < TND_SIP_SRTP_OFF || policy > TND_SIP_SRTP_MANDATORY)
		return EINVAL;
	conf = call->calls->env.conf;
	s = &call->sdes;
	tnd_call_sdes_clear(call);
	s->policy = policy;
	if (policy == TND_SIP_SRTP_OFF)
		return 0;
	names = g_strsplit(conf->media_sip_srtp_suites, ",", 0);
	for (char **p = names; *p && s->n < CALL_SDES_MAX && !err; p++) {
		const char *name = g_strstrip(*p);
		enum tnd_sdp_crypto_suite suite = tnd_sdp_crypto_suite_by_name(name, strlen(name));
		uint8_t key[TND_SDP_CRYPTO_MAX_KEY];
		size_t len = tnd_sdp_crypto_key_len(suite);

		if (!len)
			continue;   /* conf.c checked the list: cannot happen */
		if (RAND_bytes(key, (int)len) != 1)
			err = EIO;
		else
			err = tnd_sdp_crypto_write(s->lines[s->n], sizeof(s->lines[s->n]),
						   s->n + 1, suite, key, len);
		OPENSSL_cleanse(key, sizeof(key));
		if (!err) {
			s->ptrs[s->n] = s->lines[s->n];
			s->n++;
		}
	}
	g_strfreev(names);
	if (err)
		tnd_call_sdes_clear(call);
	return err;
}

void tnd_call_sdes_local(const struct tnd_call *call, struct tnd_sdp_local *l)
{
	const struct call_sdes *s = &call->sdes;

	/* echo, tone and dtmf run in-process on plain RTP (call_test.c) */
	if (s->policy == TND_SIP_SRTP_OFF || !s->n || call->is_test)
		return;
	l->crypto = s->ptrs;
	l->n_crypto = s->n;
	l->crypto_avp = s->policy == TND_SIP_SRTP_OPTIONAL;
	l->crypto_required = s->policy == TND_SIP_SRTP_MANDATORY;
}

/* Plain RTP agreed: fine unless the policy wants SRTP. */
static int route_plain(struct tnd_call *call, char *msg, size_t msglen)
{
	if (call->sdes.policy != TND_SIP_SRTP_MANDATORY)
		return 0;
	snprintf(msg, msglen, "SIP peer agreed to no SDES-SRTP, and [media] sip_srtp is "
		 "mandatory");
	return ENOTSUP;
}

int tnd_call_sdes_route(struct tnd_call *call, const struct tnd_sdp_neg *sn, char *msg,
			size_t msglen)
{
	struct call_sdes *s = &call->sdes;
	struct tnd_sdp_crypto ours, theirs;
	const char *ol, *tl, *peer;
	int err;

	if (call->is_test)
		return 0;
	if (!sn->answer_crypto || !sn->offer_crypto)
		return route_plain(call, msg, msglen);
	if (s->policy == TND_SIP_SRTP_OFF) {
		/* tnd_sdp_answer_sip never takes a line we did not offer */
		snprintf(msg, msglen, "SDES agreed while [media] sip_srtp is off");
		return EPROTO;
	}
	/* a 183 and its 200 carry the same answer: the keys went on once */
	if (s->installed)
		return 0;
	ol = call->dir == CALL_OUT ? sn->offer_crypto : sn->answer_crypto;
	tl = call->dir == CALL_OUT ? sn->answer_crypto : sn->offer_crypto;
	err = tnd_sdp_crypto_parse(&ours, ol, strlen(ol));
	if (!err)
		err = tnd_sdp_crypto_parse(&theirs, tl, strlen(tl));
	if (err || ours.suite != theirs.suite || theirs.mki_len) {
		snprintf(msg, msglen, "SIP peer's a=crypto line is not one we take "
			 "(suite, key or MKI)");
		err = EPROTO;
		goto out;
	}
	err = tnd_bridge_rtp_srtp(call->br, 1, tnd_sdp_crypto_suite_name(ours.suite), ours.key,
				  theirs.key, ours.key_len);
	if (err) {
		snprintf(msg, msglen, "SDES-SRTP keys not installed: %s", strerror(err));
		goto out;
	}
	s->installed = true;
	snprintf(s->suite, sizeof(s->suite), "%s", tnd_sdp_crypto_suite_name(ours.suite));
	peer = call->dir == CALL_OUT ? call->to : call->from_uri;
	if (!peer || g_ascii_strncasecmp(peer, "sips:", 5))
		TND_LOG_WARN(TND_LOG_SIP, "call %s: SDES-SRTP (%s) keys were exchanged in SDP "
			     "over a SIP transport that is not TLS: anyone on the path can read "
			     "them", call->id, s->suite);
	else
		TND_LOG_INFO(TND_LOG_SIP, "call %s: SDES-SRTP %s", call->id, s->suite);
 out:
	OPENSSL_cleanse(&ours, sizeof(ours));
	OPENSSL_cleanse(&theirs, sizeof(theirs));
	return err;
}

void tnd_call_sdes_clear(struct tnd_call *call)
{
	struct call_sdes *s = &call->sdes;

	OPENSSL_cleanse(s->lines, sizeof(s->lines));
	memset(s->ptrs, 0, sizeof(s->ptrs));
	s->n = 0;
	s->installed = false;
	s->suite[0] = '\0';
}
