/* SRTP and SRTCP with libsrtp2 (RFC 3711, RFC 7714 for AES-GCM).
 *
 * One inbound and one outbound session per pc, each with a wildcard SSRC
 * (ssrc_any_inbound / ssrc_any_outbound) so that the peer's and our own SSRC
 * changes need no new policy; replay window 1024 (RFC 3711 3.3.2 asks for at
 * least 64; video bursts reorder more). Repeated transmissions are refused
 * (allow_repeat_tx 0): protecting an index twice with another payload reuses
 * AES-CM keystream or a GCM nonce (review C1), so the bridge owns its output
 * sequence numbers and a true retransmission resends the protected bytes.
 * libsrtp2 makes a stream per new SSRC once, on the first authenticated
 * packet, so the inbound SSRCs are capped (TND_SRTP_MAX_IN_SSRC, review L3);
 * otherwise nothing is allocated per packet. Worker thread only, apart from
 * the global init. Keys arrive by DTLS (browser legs) or SDES (SIP legs):
 * see the seam described in webrtc_int.h; the suite table below serves
 * both. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include "gateway/base/log.h"
#include "webrtc/webrtc_int.h"

/* Single owner: the pc. OWNER: worker */
struct tnd_srtp {
	srtp_t in;       /* owned */
	srtp_t out;      /* owned */
	size_t rtp_trailer, rtcp_trailer;
	uint32_t in_ssrc[TND_SRTP_MAX_IN_SSRC];   /* remote SSRCs libsrtp2 has a stream for */
	unsigned n_in_ssrc;
	uint64_t in_ssrc_refused;
};

static void srtp_log(srtp_log_level_t level, const char *msg, void *data)
{
	(void)data;
	switch (level) {
	case srtp_log_level_error:
		TND_LOG_ERR(TND_LOG_LIB, "libsrtp2: %s", msg);
		break;
	case srtp_log_level_warning:
		TND_LOG_WARN(TND_LOG_LIB, "libsrtp2: %s", msg);
		break;
	default:
		TND_LOG_DEBUG(TND_LOG_LIB, "libsrtp2: %s", msg);
		break;
	}
}

int tnd_srtp_global_init(void)
{
	if (srtp_init() != srtp_err_status_ok)
		return EPROTO;
	srtp_install_log_handler(srtp_log, NULL);
	return 0;
}

void tnd_srtp_global_deinit(void)
{
	srtp_install_log_handler(NULL, NULL);
	srtp_shutdown();
}

/* Every transform either keying path may install: SRTP and SRTCP tag
 * bytes, key and salt lengths (RFC 3711 5, RFC 4568 6.2, RFC 7714 12). */
static const struct suite {
	enum tnd_srtp_profile profile;
	const char *name;
	uint8_t key_len, salt_len, rtp_tag, rtcp_tag;
} suites[] = {
	{ TND_SRTP_AES128_CM_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, 10 },
	/* RFC 4568 6.2.2 / libsrtp2: the 32-bit tag is for SRTP only */
	{ TND_SRTP_AES128_CM_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, 10 },
	{ TND_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 16, 12, 16, 16 },
	{ TND_SRTP_AEAD_AES_256_GCM, "AEAD_AES_256_GCM", 32, 12, 16, 16 },
};

static const struct suite *suite_of(enum tnd_srtp_profile p)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].profile == p)
			return &suites[i];
	return NULL;
}

const char *tnd_srtp_profile_name(enum tnd_srtp_profile p)
{
	const struct suite *su = suite_of(p);

	return su ? su->name : "";
}

int tnd_srtp_keys_sdes(struct tnd_srtp_keys *k, const char *suite, const uint8_t *tx,
		       size_t tx_len, const uint8_t *rx, size_t rx_len)
{
	const struct suite *su = NULL;

	if (!k || !suite || !tx || !rx)
		return EINVAL;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (!strcmp(suites[i].name, suite))
			su = &suites[i];
	if (!su || tx_len != (size_t)su->key_len + su->salt_len || rx_len != tx_len)
		return EINVAL;
	memset(k, 0, sizeof(*k));
	k->profile = su->profile;
	k->key_len = su->key_len;
	k->salt_len = su->salt_len;
	memcpy(k->tx, tx, tx_len);
	memcpy(k->rx, rx, rx_len);
	return 0;
}

static void set_policy(srtp_policy_t *p, enum tnd_srtp_profile profile)
{
	switch (profile) {
	case TND_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	case TND_SRTP_AEAD_AES_256_GCM:
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp);
		break;
	case TND_SRTP_AES128_CM_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case TND_SRTP_AES128_CM_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	}
}

static int session(srtp_t *out, const struct tnd_srtp_keys *k, const uint8_t *key, bool inbound)
{
	uint8_t master[TND_SRTP_MAX_KEY_SALT];
	srtp_policy_t p;
	srtp_err_status_t e;

	memset(&p, 0, sizeof(p));
	set_policy(&p, k->profile);
	/* libsrtp2 wants key || salt in one buffer it does not keep */
	memcpy(master, key, k->key_len + k->salt_len);
	p.key = master;
	p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
	p.window_size = 1024;
	p.allow_repeat_tx = 0;
	p.next = NULL;
	e = srtp_create(out, &p);
	/* not memset: a store before the end of scope may be optimised away */
	OPENSSL_cleanse(master, sizeof(master));
	if (e != srtp_err_status_ok) {
		*out = NULL;
		TND_LOG_WARN(TND_LOG_WEBRTC, "srtp_create: error %d", (int)e);
		return e == srtp_err_status_alloc_fail ? ENOMEM : EPROTO;
	}
	return 0;
}

int tnd_srtp_alloc(struct tnd_srtp **sp, const struct tnd_srtp_keys *keys)
{
	const struct suite *su = keys ? suite_of(keys->profile) : NULL;
	struct tnd_srtp *s;
	int err;

	if (!sp || !su || keys->key_len != su->key_len || keys->salt_len != su->salt_len)
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	/* tag, plus the SRTCP index word (RFC 3711 3.4) */
	s->rtp_trailer = su->rtp_tag;
	s->rtcp_trailer = (size_t)su->rtcp_tag + 4;
	err = session(&s->in, keys, keys->rx, true);
	if (!err)
		err = session(&s->out, keys, keys->tx, false);
	if (err) {
		tnd_srtp_free(s);
		return err;
	}
	*sp = s;
	return 0;
}

void tnd_srtp_free(struct tnd_srtp *s)
{
	if (!s)
		return;
	if (s->in)
		srtp_dealloc(s->in);
	if (s->out)
		srtp_dealloc(s->out);
	free(s);
}

int tnd_srtp_protect(struct tnd_srtp *s, uint8_t *pkt, size_t *len, size_t cap, bool rtcp)
{
	size_t trailer = rtcp ? s->rtcp_trailer : s->rtp_trailer;
	srtp_err_status_t e;
	int n;

	if (*len > INT_MAX / 2 || cap < *len || cap - *len < trailer)
		return ENOSPC;
	n = (int)*len;
	e = rtcp ? srtp_protect_rtcp(s->out, pkt, &n) : srtp_protect(s->out, pkt, &n);
	if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old)
		return EALREADY;
	if (e != srtp_err_status_ok || n < 0 || (size_t)n > cap)
		return EPROTO;
	*len = (size_t)n;
	return 0;
}

static bool in_ssrc_known(const struct tnd_srtp *s, uint32_t ssrc)
{
	for (unsigned i = 0; i < s->n_in_ssrc; i++)
		if (s->in_ssrc[i] == ssrc)
			return true;
	return false;
}

int tnd_srtp_unprotect(struct tnd_srtp *s, uint8_t *pkt, size_t *len, bool rtcp)
{
	srtp_err_status_t e;
	uint32_t ssrc;
	bool known;
	int n;

	/* the SSRC is in clear: RTCP's sender at 4, RTP's at 8 (RFC 3711 3.1, 3.4) */
	if (*len > INT_MAX / 2 || *len < (rtcp ? 8u : (size_t)TND_RTP_HDR_LEN))
		return EBADMSG;
	ssrc = tnd_rtp_rd32(pkt + (rtcp ? 4 : 8));
	known = in_ssrc_known(s, ssrc);
	if (!known && s->n_in_ssrc == TND_SRTP_MAX_IN_SSRC) {
		s->in_ssrc_refused++;
		return ENOSPC;
	}
	n = (int)*len;
	e = rtcp ? srtp_unprotect_rtcp(s->in, pkt, &n) : srtp_unprotect(s->in, pkt, &n);
	if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old)
		return EALREADY;
	if (e != srtp_err_status_ok || n < 0)
		return EBADMSG;
	/* only authenticated packets take a slot: forgeries cannot fill it */
	if (!known)
		s->in_ssrc[s->n_in_ssrc++] = ssrc;
	*len = (size_t)n;
	return 0;
}

uint64_t tnd_srtp_ssrc_refused(const struct tnd_srtp *s)
{
	return s->in_ssrc_refused;
}
