/* The WebRTC leg's offer and answer, as JSEP (RFC 8829 5.2, 5.3) has
 * browsers expect them: one audio section carrying ICE (RFC 8839), DTLS-SRTP
 * (RFC 5763, 8842), rtcp-mux (RFC 5761) and BUNDLE (RFC 8843); every other
 * offered section answered rejected in place. The gateway takes audio
 * only: video and data channels go to the SIP side nowhere. Pure
 * functions; any thread. */
#include <errno.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

static bool is_savpf(const char *proto)
{
	return proto && (tnd_sdp_eq(proto, strlen(proto), "UDP/TLS/RTP/SAVPF") ||
			 tnd_sdp_eq(proto, strlen(proto), "TCP/TLS/RTP/SAVPF"));
}

/* 0 when we can take om, else ENOTSUP with the reason. */
static int usable(const struct tnd_sdp_media *om, unsigned i, const struct tnd_sdp_local *l,
		  void *arg, char *why, size_t whylen)
{
	struct tnd_sdp_pick *pick = arg;

	if (!om->port && !om->bundle_only)
		tnd_sdp_neg_fail(why, whylen, "audio m= line %u is rejected in the offer", i + 1);
	else if (!is_savpf(om->proto))
		tnd_sdp_neg_fail(why, whylen, "audio m= line %u is %s, not UDP/TLS/RTP/SAVPF",
				 i + 1, om->proto);
	else if (!om->ice.ufrag || !om->ice.pwd)
		tnd_sdp_neg_fail(why, whylen, "the offer has no ICE credentials");
	else if (!om->fp.alg)
		tnd_sdp_neg_fail(why, whylen, "the offer has no DTLS fingerprint");
	else if (om->setup == TND_SDP_SETUP_HOLDCONN)
		tnd_sdp_neg_fail(why, whylen, "the offer says a=setup:holdconn");
	else
		return tnd_sdp_neg_pick(om, l, pick, why, whylen);
	return ENOTSUP;
}

/* ICE, DTLS and candidates of our side. */
static int set_transport(struct tnd_sdp *sdp, struct tnd_sdp_media *m,
			 const struct tnd_sdp_local *l, enum tnd_sdp_setup setup)
{
	const char *sp = strchr(l->fingerprint, ' ');   /* checked: there is one */
	size_t i;
	int err;

	err = tnd_sdp_set(sdp, &m->ice.ufrag, l->ice_ufrag);
	if (!err)
		err = tnd_sdp_set(sdp, &m->ice.pwd, l->ice_pwd);
	if (!err && l->trickle)
		err = tnd_sdp_set(sdp, &m->ice.options, "trickle");
	if (!err)
		err = tnd_sdp_setf(sdp, &m->fp.alg, "%.*s", (int)(sp - l->fingerprint),
				   l->fingerprint);
	if (!err)
		err = tnd_sdp_set(sdp, &m->fp.value, sp + 1);
	m->setup = setup;
	for (i = 0; i < l->n_cands && !err; i++) {
		if (m->n_cands >= TND_SDP_MAX_CANDS) {
			m->n_dropped++;
			continue;
		}
		err = tnd_sdp_set(sdp, &m->cands[m->n_cands++], l->cands[i]);
	}
	m->end_of_cands = l->cands_done;
	return err;
}

/* Our send stream: a=msid (RFC 8830) and a=ssrc cname (RFC 5576). */
static int set_stream(struct tnd_sdp *sdp, struct tnd_sdp_media *m,
		      const struct tnd_sdp_local *l)
{
	struct tnd_sdp_ssrc *s = &m->ssrcs[0];
	int err = 0;

	if (l->msid_stream && l->msid_track)
		err = tnd_sdp_setf(sdp, &m->msid, "%s %s", l->msid_stream, l->msid_track);
	if (err || !l->ssrc)
		return err;
	m->n_ssrcs = 1;
	s->ssrc = l->ssrc;
	err = tnd_sdp_set(sdp, &s->cname, l->cname ? l->cname : "tandem");
	if (!err && m->msid)
		err = tnd_sdp_set(sdp, &s->msid, m->msid);
	return err;
}

static int accept_audio(struct tnd_sdp *ans, const struct tnd_sdp_media *om,
			const void *choice, const struct tnd_sdp_local *l)
{
	const struct tnd_sdp_pick *pick = choice;
	struct tnd_sdp_media *am;
	int err;

	err = tnd_sdp_media_add(ans, &am, om->type_name, l->port ? l->port : 9, om->proto);
	if (err)
		return err;
	err = tnd_sdp_neg_conn(ans, &am->conn, l);
	if (!err)
		err = tnd_sdp_set(ans, &am->mid, om->mid);
	/* RFC 5763 5: the answerer takes a role; RFC 4145 4: none means active */
	if (!err)
		err = set_transport(ans, am, l, om->setup == TND_SDP_SETUP_ACTIVE ||
				    om->setup == TND_SDP_SETUP_NONE ? TND_SDP_SETUP_PASSIVE :
				    TND_SDP_SETUP_ACTIVE);
	if (!err)
		err = tnd_sdp_neg_add_extmaps(ans, am, om, l);
	am->dir = tnd_sdp_neg_dir(om->dir, l->dir);
	am->rtcp_mux = om->rtcp_mux;
	am->rtcp_rsize = om->rtcp_rsize && l->rtcp_rsize;
	am->ptime = l->ptime;
	if (!err)
		err = tnd_sdp_neg_add_pick(ans, am, pick, l);
	if (!err)
		err = set_stream(ans, am, l);
	return err;
}

int tnd_sdp_answer_webrtc(struct tnd_sdp **answerp, const struct tnd_sdp *offer,
			  const struct tnd_sdp_local *l, char *err, size_t errlen)
{
	struct tnd_sdp *ans = NULL;
	struct tnd_sdp_pick pick;
	unsigned i, take = 0;
	int e;

	if (!answerp || !offer || !l)
		return EINVAL;
	e = tnd_sdp_neg_answer(&ans, offer, l, true, usable, accept_audio, &pick, &take, err,
			       errlen);
	if (e)
		return e;
	ans->ice_lite = l->ice_lite;
	/* RFC 8843 7.3: the group holds what we accept of what was bundled */
	for (i = 0; i < offer->n_bundle && offer->media[take]->mid; i++) {
		if (!strcmp(offer->bundle_mids[i], offer->media[take]->mid)) {
			ans->bundle = true;
			ans->n_bundle = 1;
			e = tnd_sdp_set(ans, &ans->bundle_mids[0], offer->media[take]->mid);
			break;
		}
	}
	if (!e && l->msid_stream)
		e = tnd_sdp_setf(ans, &ans->msid_semantic, "WMS %s", l->msid_stream);
	if (e)
		tnd_sdp_free(ans);
	else
		*answerp = ans;
	return e;
}

int tnd_sdp_offer_webrtc(struct tnd_sdp **offerp, const struct tnd_sdp_local *l)
{
	struct tnd_sdp *sdp = NULL;
	struct tnd_sdp_media *m;
	size_t i;
	int e;

	if (!offerp || !l)
		return EINVAL;
	e = tnd_sdp_neg_check_local(l, true, NULL, 0);
	if (e)
		return e;
	e = tnd_sdp_neg_session(&sdp, l);
	if (e)
		return e;
	sdp->ice_lite = l->ice_lite;
	sdp->bundle = true;
	sdp->n_bundle = 1;
	e = tnd_sdp_set(sdp, &sdp->bundle_mids[0], "0");
	if (!e)
		e = l->msid_stream ? tnd_sdp_setf(sdp, &sdp->msid_semantic, "WMS %s",
						  l->msid_stream) :
			tnd_sdp_set(sdp, &sdp->msid_semantic, "WMS");
	if (!e)
		e = tnd_sdp_media_add(sdp, &m, "audio", l->port ? l->port : 9,
				      "UDP/TLS/RTP/SAVPF");
	if (e)
		goto out;
	e = tnd_sdp_neg_conn(sdp, &m->conn, l);
	if (!e)
		e = tnd_sdp_set(sdp, &m->mid, "0");
	if (!e)
		e = set_transport(sdp, m, l, TND_SDP_SETUP_ACTPASS);
	/* one-byte header extensions (RFC 8285 4.2) hold ids 1-14 */
	for (i = 0; i < l->n_extmaps && i < 14 && !e; i++) {
		m->extmaps[i].id = (uint16_t)(i + 1);
		e = tnd_sdp_set(sdp, &m->extmaps[i].uri, l->extmaps[i]);
		m->n_extmaps++;
	}
	m->dir = l->dir;
	m->rtcp_mux = true;
	m->rtcp_rsize = l->rtcp_rsize;
	m->ptime = l->ptime;
	if (!e)
		e = tnd_sdp_neg_add_offer_codecs(sdp, m, l);
	if (!e)
		e = set_stream(sdp, m, l);
 out:
	if (e)
		tnd_sdp_free(sdp);
	else
		*offerp = sdp;
	return e;
}
