/* The SIP leg's offer and answer (RFC 3264): plain RTP/AVP, or RTP/SAVP
 * keyed by SDES (RFC 4568 5.1: the answer takes one offered crypto line,
 * keeps its tag and gives our key), or RTP/AVP carrying a=crypto
 * ("best-effort" SDES: used when both sides have a line, plain otherwise).
 * One audio section is accepted; the others are answered rejected in place. SIP phones expect c= at session
 * level, so that is where ours goes. Pure functions; any thread. */
#include <errno.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

static bool sip_proto(const char *proto, bool *srtp)
{
	size_t n = proto ? strlen(proto) : 0;

	*srtp = tnd_sdp_eq(proto, n, "RTP/SAVP") || tnd_sdp_eq(proto, n, "RTP/SAVPF");
	return *srtp || tnd_sdp_eq(proto, n, "RTP/AVP") || tnd_sdp_eq(proto, n, "RTP/AVPF");
}

/* The first offered crypto line (the offerer's preference) that parses as
 * usable, has no MKI (we would have to send it in every packet) and whose
 * suite we list, and our line for it; false if none. */
static bool pick_crypto(const struct tnd_sdp_media *om, const struct tnd_sdp_local *l,
			const char **theirs, const char **ours)
{
	struct tnd_sdp_crypto tc, oc;
	bool found = false;

	for (unsigned i = 0; i < om->n_crypto && !found; i++) {
		if (tnd_sdp_crypto_parse(&tc, om->crypto[i], strlen(om->crypto[i])) ||
		    tc.mki_len)
			continue;
		for (size_t j = 0; j < l->n_crypto && !found; j++) {
			if (tnd_sdp_crypto_parse(&oc, l->crypto[j], strlen(l->crypto[j])) ||
			    oc.suite != tc.suite)
				continue;
			*theirs = om->crypto[i];
			*ours = l->crypto[j];
			found = true;
		}
	}
	memset(&tc, 0, sizeof(tc));
	memset(&oc, 0, sizeof(oc));
	return found;
}

struct sip_pick {
	struct tnd_sdp_pick codecs;
	const char *their_crypto;      /* borrowed from the offer, or NULL */
	const char *our_crypto;        /* borrowed from the local */
};

static int usable(const struct tnd_sdp_media *om, unsigned i, const struct tnd_sdp_local *l,
		  void *arg, char *why, size_t whylen)
{
	struct sip_pick *pick = arg;
	bool srtp;

	memset(pick, 0, sizeof(*pick));
	if (!om->port)
		tnd_sdp_neg_fail(why, whylen, "audio m= line %u is rejected in the offer", i + 1);
	else if (!sip_proto(om->proto, &srtp))
		tnd_sdp_neg_fail(why, whylen, "audio m= line %u is %s; we take RTP/AVP and "
				 "RTP/SAVP", i + 1, om->proto);
	else if (srtp && !pick_crypto(om, l, &pick->their_crypto, &pick->our_crypto))
		tnd_sdp_neg_fail(why, whylen, l->n_crypto ? "audio m= line %u wants SDES-SRTP "
				 "with suites we lack" : "audio m= line %u wants SDES-SRTP and we "
				 "have no keys", i + 1);
	/* RTP/AVP with a=crypto: best-effort SDES, taken when a line fits */
	else if (!srtp && !(l->n_crypto && pick_crypto(om, l, &pick->their_crypto,
						      &pick->our_crypto)) && l->crypto_required)
		tnd_sdp_neg_fail(why, whylen, "audio m= line %u offers no SDES-SRTP we take, "
				 "and we require it", i + 1);
	else if (!tnd_sdp_neg_pick(om, l, &pick->codecs, why, whylen)) {
		/* a phone keeps telephone-event/8000 beside Opus: taken at any
		 * clock we list, the bridge maps it (issue 10 item 5) */
		tnd_sdp_neg_pick_dtmf(om, l, &pick->codecs, true);
		return 0;
	}
	return ENOTSUP;
}

static int accept_audio(struct tnd_sdp *ans, const struct tnd_sdp_media *om,
			const void *choice, const struct tnd_sdp_local *l)
{
	const struct sip_pick *pick = choice;
	struct tnd_sdp_media *am;
	int err;

	err = tnd_sdp_media_add(ans, &am, om->type_name, l->port, om->proto);
	if (err)
		return err;
	err = tnd_sdp_set(ans, &am->mid, om->mid);
	am->dir = tnd_sdp_neg_dir(om->dir, l->dir);
	am->rtcp_mux = om->rtcp_mux && l->rtcp_mux;
	/* RFC 5761 5.1.3: with rtcp-mux RTCP shares the RTP port */
	am->rtcp_port = am->rtcp_mux ? 0 : l->rtcp_port;
	am->ptime = l->keep_ptime && om->ptime ? om->ptime : l->ptime;
	if (!err)
		err = tnd_sdp_neg_add_pick(ans, am, &pick->codecs, l);
	if (!err && pick->their_crypto) {
		size_t tag = strcspn(pick->their_crypto, " \t");
		const char *ours = pick->our_crypto + strcspn(pick->our_crypto, " \t");

		am->n_crypto = 1;
		err = tnd_sdp_setf(ans, &am->crypto[0], "%.*s%s", (int)tag, pick->their_crypto,
				   ours);
	}
	return err;
}

int tnd_sdp_answer_sip(struct tnd_sdp **answerp, const struct tnd_sdp *offer,
		       const struct tnd_sdp_local *l, char *err, size_t errlen)
{
	struct tnd_sdp *ans = NULL;
	struct sip_pick pick;
	unsigned take = 0;
	int e;

	if (!answerp || !offer || !l)
		return EINVAL;
	e = tnd_sdp_neg_answer(&ans, offer, l, false, usable, accept_audio, &pick, &take, err,
			       errlen);
	if (e)
		return e;
	e = tnd_sdp_neg_conn(ans, &ans->conn, l);
	if (e)
		tnd_sdp_free(ans);
	else
		*answerp = ans;
	return e;
}

int tnd_sdp_offer_sip(struct tnd_sdp **offerp, const struct tnd_sdp_local *l)
{
	struct tnd_sdp *sdp = NULL;
	struct tnd_sdp_media *m;
	size_t i;
	int e;

	if (!offerp || !l)
		return EINVAL;
	e = tnd_sdp_neg_check_local(l, false, NULL, 0);
	if (e)
		return e;
	e = tnd_sdp_neg_session(&sdp, l);
	if (!e)
		e = tnd_sdp_neg_conn(sdp, &sdp->conn, l);
	if (!e)
		e = tnd_sdp_media_add(sdp, &m, "audio", l->port,
				      l->n_crypto && !l->crypto_avp ? "RTP/SAVP" : "RTP/AVP");
	if (e)
		goto out;
	e = tnd_sdp_neg_add_offer_codecs(sdp, m, l);
	m->ptime = l->ptime;
	m->dir = l->dir;
	m->rtcp_port = l->rtcp_port;
	m->rtcp_mux = l->rtcp_mux;
	for (i = 0; i < l->n_crypto && i < TND_SDP_MAX_CRYPTO && !e; i++)
		e = tnd_sdp_set(sdp, &m->crypto[m->n_crypto++], l->crypto[i]);
 out:
	if (e)
		tnd_sdp_free(sdp);
	else
		*offerp = sdp;
	return e;
}
