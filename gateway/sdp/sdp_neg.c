/* Offer/answer pieces both legs share (RFC 3264 5 and 6): checking the
 * gateway's local parameters, picking a codec from an offer, payload type
 * assignment for our offers, rejected sections, directions; and
 * tnd_sdp_negotiated, which reads what an offer and its answer agreed on.
 * The WebRTC builders are in sdp_jsep.c, the SIP ones in sdp_sip.c.
 * Pure functions; any thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

void tnd_sdp_neg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

int tnd_sdp_neg_find_audio(const struct tnd_sdp *offer, const struct tnd_sdp_local *l,
			   tnd_sdp_usable_h *usable, void *pick, unsigned *take, char *err,
			   size_t errlen)
{
	char why[320] = "the offer has no audio m= line";
	bool have_why = false;

	for (unsigned i = 0; i < offer->n_media; i++) {
		const struct tnd_sdp_media *om = offer->media[i];
		char reason[sizeof(why)];

		if (om->type != TND_SDP_MEDIA_AUDIO || !om->rtp)
			continue;
		if (!usable(om, i, l, pick, reason, sizeof(reason))) {
			*take = i;
			return 0;
		}
		/* the first audio section's reason is the one to report */
		if (!have_why) {
			memcpy(why, reason, sizeof(why));
			have_why = true;
		}
	}
	tnd_sdp_neg_fail(err, errlen, "%s", why);
	return ENOTSUP;
}

int tnd_sdp_neg_answer(struct tnd_sdp **ansp, const struct tnd_sdp *offer,
		       const struct tnd_sdp_local *l, bool webrtc, tnd_sdp_usable_h *usable,
		       tnd_sdp_accept_h *accept, void *pick, unsigned *take, char *err,
		       size_t errlen)
{
	struct tnd_sdp *ans = NULL;
	int e = tnd_sdp_neg_check_local(l, webrtc, err, errlen);

	if (!e)
		e = tnd_sdp_neg_find_audio(offer, l, usable, pick, take, err, errlen);
	if (!e)
		e = tnd_sdp_neg_session(&ans, l);
	for (unsigned i = 0; i < offer->n_media && !e; i++)
		e = i == *take ? accept(ans, offer->media[i], pick, l) :
			tnd_sdp_neg_reject(ans, offer->media[i], webrtc);
	if (e)
		tnd_sdp_free(ans);
	else
		*ansp = ans;
	return e;
}

/* A string we write into a line: no CR/LF, and no blank where the line
 * separates fields with them. */
static bool line_safe(const char *s, bool blanks_ok)
{
	return s && *s && !strpbrk(s, blanks_ok ? "\r\n" : " \t\r\n");
}

static bool opt_safe(const char *s, bool blanks_ok)
{
	return !s || line_safe(s, blanks_ok);
}

static bool list_safe(const char *const *list, size_t n, bool blanks_ok)
{
	size_t i;

	if (n && !list)
		return false;
	for (i = 0; i < n; i++)
		if (!line_safe(list[i], blanks_ok))
			return false;
	return true;
}

static int check_codecs(const struct tnd_sdp_local *l, char *err, size_t errlen)
{
	size_t i;
	bool any = false;

	if (!l->codecs || !l->n_codecs) {
		tnd_sdp_neg_fail(err, errlen, "local: no codecs");
		return EINVAL;
	}
	for (i = 0; i < l->n_codecs; i++) {
		const struct tnd_sdp_codec_pref *c = &l->codecs[i];

		if (!line_safe(c->name, false) || strchr(c->name, '/') || !c->clock ||
		    !opt_safe(c->fmtp, true)) {
			tnd_sdp_neg_fail(err, errlen, "local: codec %zu needs a name and a clock",
					 i);
			return EINVAL;
		}
		any |= !tnd_sdp_eq(c->name, strlen(c->name), "telephone-event");
	}
	if (!any) {
		tnd_sdp_neg_fail(err, errlen, "local: no codec but telephone-event");
		return EINVAL;
	}
	return 0;
}

static int check_webrtc(const struct tnd_sdp_local *l, char *err, size_t errlen)
{
	const char *sp, *why;
	size_t i;

	if (!l->ice_ufrag || !tnd_sdp_ice_chars_ok(l->ice_ufrag, strlen(l->ice_ufrag), 4) ||
	    !l->ice_pwd || !tnd_sdp_ice_chars_ok(l->ice_pwd, strlen(l->ice_pwd), 22)) {
		tnd_sdp_neg_fail(err, errlen, "local: ICE ufrag and pwd must be 4 and 22 to 256 "
				 "ice-chars");
		return EINVAL;
	}
	sp = l->fingerprint ? strchr(l->fingerprint, ' ') : NULL;
	why = !sp ? "fingerprint needs <hash> <digest>" :
	      tnd_sdp_check_fingerprint(l->fingerprint, (size_t)(sp - l->fingerprint), sp + 1,
					strlen(sp + 1));
	if (why) {
		tnd_sdp_neg_fail(err, errlen, "local: %s", why);
		return EINVAL;
	}
	if (l->n_cands && !l->cands)
		return EINVAL;
	for (i = 0; i < l->n_cands; i++) {
		why = l->cands[i] ? tnd_sdp_check_candidate(l->cands[i], strlen(l->cands[i])) :
				    "is NULL";
		if (why || strpbrk(l->cands[i], "\r\n")) {
			tnd_sdp_neg_fail(err, errlen, "local: candidate %zu: %s", i,
					 why ? why : "holds a line break");
			return EINVAL;
		}
	}
	if (!opt_safe(l->cname, false) || !opt_safe(l->msid_stream, false) ||
	    !opt_safe(l->msid_track, false)) {
		tnd_sdp_neg_fail(err, errlen, "local: cname and msid must be tokens");
		return EINVAL;
	}
	return 0;
}

int tnd_sdp_neg_check_local(const struct tnd_sdp_local *l, bool webrtc, char *err,
			    size_t errlen)
{
	size_t i;
	int e;

	if (!opt_safe(l->user, false) || !opt_safe(l->addr, false) ||
	    (l->addrtype && strcmp(l->addrtype, "IP4") && strcmp(l->addrtype, "IP6"))) {
		tnd_sdp_neg_fail(err, errlen, "local: user, addrtype or addr is not usable");
		return EINVAL;
	}
	if (!list_safe(l->fb, l->n_fb, true) || !list_safe(l->extmaps, l->n_extmaps, false) ||
	    !list_safe(l->crypto, l->n_crypto, true)) {
		tnd_sdp_neg_fail(err, errlen, "local: an rtcp-fb, extmap or crypto entry is empty "
				 "or holds a line break");
		return EINVAL;
	}
	for (i = 0; i < l->n_crypto; i++) {
		const char *why = tnd_sdp_check_crypto(l->crypto[i], strlen(l->crypto[i]));

		if (why) {
			tnd_sdp_neg_fail(err, errlen, "local: crypto %zu: %s", i, why);
			return EINVAL;
		}
	}
	e = check_codecs(l, err, errlen);
	if (!e && webrtc)
		e = check_webrtc(l, err, errlen);
	return e;
}

int tnd_sdp_neg_conn(struct tnd_sdp *sdp, struct tnd_sdp_conn *conn,
		     const struct tnd_sdp_local *l)
{
	int err = tnd_sdp_set(sdp, &conn->addrtype, l->addrtype ? l->addrtype : "IP4");

	if (!err)
		err = tnd_sdp_set(sdp, &conn->addr, l->addr ? l->addr : "0.0.0.0");
	return err;
}

int tnd_sdp_neg_session(struct tnd_sdp **sdpp, const struct tnd_sdp_local *l)
{
	struct tnd_sdp *sdp;
	char id[24];
	int err;

	err = tnd_sdp_alloc(&sdp);
	if (err)
		return err;
	snprintf(id, sizeof(id), "%" PRIu64, l->sess_id);
	sdp->sess_version = l->sess_version;
	err = tnd_sdp_set(sdp, &sdp->user, l->user ? l->user : "-");
	if (!err)
		err = tnd_sdp_set(sdp, &sdp->sess_id, id);
	if (!err)
		err = tnd_sdp_neg_conn(sdp, &sdp->origin, l);
	if (err)
		tnd_sdp_free(sdp);
	else
		*sdpp = sdp;
	return err;
}

static bool pref_matches(const struct tnd_sdp_codec_pref *p, const struct tnd_sdp_codec *c)
{
	return c->name && tnd_sdp_eq(c->name, strlen(c->name), p->name) &&
	       c->clock == p->clock && (!p->channels || c->channels == p->channels);
}

static bool pref_is_dtmf(const struct tnd_sdp_codec_pref *p)
{
	return tnd_sdp_eq(p->name, strlen(p->name), "telephone-event");
}

/* "opus/48000/2 PCMU/8000 ..." for messages, cut to fit. */
static void codec_names(char *buf, size_t cap, const struct tnd_sdp_media *m,
			const struct tnd_sdp_local *l)
{
	size_t len = 0, i, n = m ? m->n_codecs : l->n_codecs;

	buf[0] = '\0';
	for (i = 0; i < n && len + 1 < cap; i++) {
		const char *name = m ? m->codecs[i].name : l->codecs[i].name;
		uint32_t clock = m ? m->codecs[i].clock : l->codecs[i].clock;
		unsigned ch = m ? m->codecs[i].channels : l->codecs[i].channels;
		int w;

		if (m && !name)
			w = snprintf(buf + len, cap - len, "%s%u", len ? " " : "", m->codecs[i].pt);
		else
			w = snprintf(buf + len, cap - len, ch > 1 ? "%s%s/%" PRIu32 "/%u" :
				     "%s%s/%" PRIu32, len ? " " : "", name, clock, ch);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (len + 1 >= cap && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
}

void tnd_sdp_neg_pick_dtmf(const struct tnd_sdp_media *om, const struct tnd_sdp_local *l,
			   struct tnd_sdp_pick *pick, bool any_clock)
{
	for (size_t i = 0; i < l->n_codecs && !pick->dtmf; i++) {
		if (!pref_is_dtmf(&l->codecs[i]) ||
		    (!any_clock && l->codecs[i].clock != pick->codec->clock))
			continue;
		for (size_t j = 0; j < om->n_codecs; j++) {
			if (pref_matches(&l->codecs[i], &om->codecs[j])) {
				pick->dtmf = &om->codecs[j];
				pick->dtmf_pref = &l->codecs[i];
				break;
			}
		}
	}
}

int tnd_sdp_neg_pick(const struct tnd_sdp_media *om, const struct tnd_sdp_local *l,
		     struct tnd_sdp_pick *pick, char *why, size_t whylen)
{
	char ours[160], theirs[160];
	size_t i, j;

	memset(pick, 0, sizeof(*pick));
	/* the offerer's preference decides when we can serve all of ours */
	for (j = 0; l->offer_order && j < om->n_codecs && !pick->codec; j++) {
		for (i = 0; i < l->n_codecs; i++) {
			if (!pref_is_dtmf(&l->codecs[i]) &&
			    pref_matches(&l->codecs[i], &om->codecs[j])) {
				pick->codec = &om->codecs[j];
				pick->pref = &l->codecs[i];
				break;
			}
		}
	}
	/* else ours: it says which codec spares a transcode */
	for (i = 0; i < l->n_codecs && !pick->codec; i++) {
		if (pref_is_dtmf(&l->codecs[i]))
			continue;
		for (j = 0; j < om->n_codecs; j++) {
			if (pref_matches(&l->codecs[i], &om->codecs[j])) {
				pick->codec = &om->codecs[j];
				pick->pref = &l->codecs[i];
				break;
			}
		}
	}
	if (!pick->codec) {
		codec_names(theirs, sizeof(theirs), om, l);
		codec_names(ours, sizeof(ours), NULL, l);
		tnd_sdp_neg_fail(why, whylen, "no common audio codec: offer has %s; we take %s",
				 theirs, ours);
		return ENOTSUP;
	}
	/* RFC 4733 2.5.1: events at the clock of the audio they go with */
	tnd_sdp_neg_pick_dtmf(om, l, pick, false);
	return 0;
}

static bool listed(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tnd_sdp_eq(s, strlen(s), list[i]))
			return true;
	return false;
}

static int add_answer_codec(struct tnd_sdp *ans, struct tnd_sdp_media *am,
			    const struct tnd_sdp_codec *oc, const struct tnd_sdp_codec_pref *pref,
			    const struct tnd_sdp_local *l)
{
	struct tnd_sdp_codec *c;
	unsigned i;
	int err;

	err = tnd_sdp_media_add_codec(ans, am, oc->pt, oc->name, oc->clock, oc->channels,
				      pref->fmtp ? pref->fmtp : oc->fmtp, &c);
	for (i = 0; i < oc->n_fb && !err; i++)
		if (listed(l->fb, l->n_fb, oc->fb[i]) && c->n_fb < TND_SDP_MAX_FB)
			err = tnd_sdp_set(ans, &c->fb[c->n_fb++], oc->fb[i]);
	return err;
}

int tnd_sdp_neg_add_pick(struct tnd_sdp *ans, struct tnd_sdp_media *am,
			 const struct tnd_sdp_pick *pick, const struct tnd_sdp_local *l)
{
	int err = add_answer_codec(ans, am, pick->codec, pick->pref, l);

	if (!err && pick->dtmf)
		err = add_answer_codec(ans, am, pick->dtmf, pick->dtmf_pref, l);
	return err;
}

/* A dynamic payload type for our offer of p, which has no static one and
 * did not pick its own (sdp.h, struct tnd_sdp_codec_pref); -1 if all the
 * dynamic types are taken. */
static int offer_pt(const struct tnd_sdp_codec_pref *p, const bool used[128])
{
	size_t n = strlen(p->name);
	int pt;

	/* the numbers browsers use, so a pass-through call keeps its PTs */
	if (tnd_sdp_eq(p->name, n, "opus") && !used[111])
		return 111;
	if (tnd_sdp_eq(p->name, n, "telephone-event") && p->clock == 8000 && !used[101])
		return 101;
	if (tnd_sdp_eq(p->name, n, "telephone-event") && p->clock == 48000 && !used[110])
		return 110;
	for (pt = 96; pt <= 127; pt++)
		if (!used[pt])
			return pt;
	return -1;
}

int tnd_sdp_neg_add_offer_codecs(struct tnd_sdp *sdp, struct tnd_sdp_media *m,
				 const struct tnd_sdp_local *l)
{
	bool used[128] = { false };
	size_t i, j;
	int err = 0;

	/* explicit and static types first, so an automatic pick never takes
	 * a number a later codec asked for */
	for (i = 0; i < l->n_codecs; i++) {
		const struct tnd_sdp_codec_pref *p = &l->codecs[i];
		int st = tnd_sdp_static_pt_of(p->name, p->clock, p->channels);

		if (st >= 0)
			used[st] = true;
		else if (p->pt >= 96 && p->pt <= 127)
			used[p->pt] = true;
	}
	for (i = 0; i < l->n_codecs && !err; i++) {
		const struct tnd_sdp_codec_pref *p = &l->codecs[i];
		struct tnd_sdp_codec *c;
		bool dtmf = pref_is_dtmf(p);
		int pt = tnd_sdp_static_pt_of(p->name, p->clock, p->channels);

		if (pt < 0 && p->pt >= 96 && p->pt <= 127)
			pt = p->pt;
		else if (pt < 0)
			pt = offer_pt(p, used);
		if (pt < 0 || tnd_sdp_media_codec_by_pt(m, (uint8_t)pt))
			continue;   /* listed twice, or no dynamic type left */
		used[pt] = true;
		err = tnd_sdp_media_add_codec(sdp, m, (uint8_t)pt, p->name, p->clock, p->channels,
					      p->fmtp ? p->fmtp : dtmf ? "0-16" : NULL, &c);
		for (j = 0; j < l->n_fb && !err && !dtmf && c->n_fb < TND_SDP_MAX_FB; j++)
			err = tnd_sdp_set(sdp, &c->fb[c->n_fb++], l->fb[j]);
	}
	return err;
}

int tnd_sdp_neg_add_extmaps(struct tnd_sdp *ans, struct tnd_sdp_media *am,
			    const struct tnd_sdp_media *om, const struct tnd_sdp_local *l)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < om->n_extmaps && !err; i++) {
		const struct tnd_sdp_extmap *ox = &om->extmaps[i];
		struct tnd_sdp_extmap *x;

		if (!listed(l->extmaps, l->n_extmaps, ox->uri) ||
		    am->n_extmaps >= TND_SDP_MAX_EXTMAPS)
			continue;
		x = &am->extmaps[am->n_extmaps++];
		x->id = ox->id;
		err = tnd_sdp_set(ans, &x->uri, ox->uri);
	}
	return err;
}

int tnd_sdp_neg_reject(struct tnd_sdp *ans, const struct tnd_sdp_media *om, bool conn)
{
	struct tnd_sdp_media *am;
	int err;

	err = tnd_sdp_media_add(ans, &am, om->type_name, 0, om->proto);
	if (err)
		return err;
	am->dir = TND_SDP_INACTIVE;
	/* RFC 3264 6: the line still lists a format; any offered one will do */
	if (am->rtp && om->n_codecs)
		err = tnd_sdp_media_add_codec(ans, am, om->codecs[0].pt, NULL, 0, 0, NULL, NULL);
	else if (!am->rtp && om->n_fmts)
		err = tnd_sdp_set(ans, &am->fmts[am->n_fmts++], om->fmts[0]);
	if (!err)
		err = tnd_sdp_set(ans, &am->mid, om->mid);
	if (!err && conn) {
		err = tnd_sdp_set(ans, &am->conn.addrtype, "IP4");
		if (!err)
			err = tnd_sdp_set(ans, &am->conn.addr, "0.0.0.0");
	}
	return err;
}

enum tnd_sdp_dir tnd_sdp_neg_dir(enum tnd_sdp_dir offered, enum tnd_sdp_dir want)
{
	bool peer_sends = offered == TND_SDP_SENDRECV || offered == TND_SDP_SENDONLY;
	bool peer_recvs = offered == TND_SDP_SENDRECV || offered == TND_SDP_RECVONLY;
	bool send = peer_recvs && (want == TND_SDP_SENDRECV || want == TND_SDP_SENDONLY);
	bool recv = peer_sends && (want == TND_SDP_SENDRECV || want == TND_SDP_RECVONLY);

	if (send && recv)
		return TND_SDP_SENDRECV;
	if (send)
		return TND_SDP_SENDONLY;
	return recv ? TND_SDP_RECVONLY : TND_SDP_INACTIVE;
}

/* ------------------------------------------------- reading an agreement */

/* The offer's codec the answer's one answers: same PT, else same name and
 * clock (RFC 3264 6.1 only says SHOULD keep the number). */
static const struct tnd_sdp_codec *offered(const struct tnd_sdp_media *om,
					   const struct tnd_sdp_codec *ac)
{
	const struct tnd_sdp_codec *oc = tnd_sdp_media_codec_by_pt(om, ac->pt);
	unsigned i;

	if (oc && oc->name && ac->name && tnd_sdp_eq(oc->name, strlen(oc->name), ac->name) &&
	    oc->clock == ac->clock)
		return oc;
	for (i = 0; i < om->n_codecs; i++) {
		oc = &om->codecs[i];
		if (oc->name && ac->name && tnd_sdp_eq(oc->name, strlen(oc->name), ac->name) &&
		    oc->clock == ac->clock && oc->channels == ac->channels)
			return oc;
	}
	return NULL;
}

static const char *crypto_with_tag(const struct tnd_sdp_media *m, const char *line)
{
	size_t tag = strcspn(line, " \t");
	unsigned i;

	for (i = 0; i < m->n_crypto; i++)
		if (!strncmp(m->crypto[i], line, tag) &&
		    (m->crypto[i][tag] == ' ' || m->crypto[i][tag] == '\t'))
			return m->crypto[i];
	return NULL;
}

/* Fills neg from section i; 0, or EPROTO with the reason. */
static int read_section(struct tnd_sdp_neg *neg, const struct tnd_sdp_media *om,
			const struct tnd_sdp_media *am, unsigned i, char *err, size_t errlen)
{
	unsigned j;

	neg->index = i;
	neg->offer_m = om;
	neg->answer_m = am;
	for (j = 0; j < am->n_codecs && !neg->codec; j++)
		if (!tnd_sdp_is_aux(&am->codecs[j]))
			neg->codec = &am->codecs[j];
	if (!neg->codec) {
		tnd_sdp_neg_fail(err, errlen, "m= line %u: the answer keeps no audio codec", i + 1);
		return EPROTO;
	}
	if (!offered(om, neg->codec)) {
		tnd_sdp_neg_fail(err, errlen, "m= line %u: the answer's %s/%" PRIu32
				 " was not offered", i + 1, neg->codec->name, neg->codec->clock);
		return EPROTO;
	}
	for (j = 0; j < am->n_codecs && !neg->dtmf; j++)
		if (tnd_sdp_is_dtmf(&am->codecs[j]) && am->codecs[j].clock == neg->codec->clock &&
		    offered(om, &am->codecs[j]))
			neg->dtmf = &am->codecs[j];
	neg->dir = am->dir;
	neg->rtcp_mux = om->rtcp_mux && am->rtcp_mux;
	if (am->fp.alg) {
		/* RFC 4145 4: no a=setup means active */
		if (am->setup == TND_SDP_SETUP_ACTPASS || am->setup == TND_SDP_SETUP_HOLDCONN) {
			tnd_sdp_neg_fail(err, errlen, "m= line %u: an answer's a=setup must be "
					 "active or passive", i + 1);
			return EPROTO;
		}
		neg->answerer_dtls_client = am->setup != TND_SDP_SETUP_PASSIVE;
	}
	if (am->n_crypto) {
		neg->answer_crypto = am->crypto[0];
		neg->offer_crypto = crypto_with_tag(om, am->crypto[0]);
		if (!neg->offer_crypto) {
			tnd_sdp_neg_fail(err, errlen, "m= line %u: the answer's crypto tag was not "
					 "offered", i + 1);
			return EPROTO;
		}
	} else if (om->n_crypto && am->proto && strstr(am->proto, "SAVP") && !am->fp.alg) {
		tnd_sdp_neg_fail(err, errlen, "m= line %u: SDES offered and the answer has no "
				 "a=crypto", i + 1);
		return EPROTO;
	}
	return 0;
}

int tnd_sdp_negotiated(struct tnd_sdp_neg *neg, const struct tnd_sdp *offer,
		       const struct tnd_sdp *answer, char *err, size_t errlen)
{
	unsigned i;

	if (!neg || !offer || !answer)
		return EINVAL;
	if (offer->n_media != answer->n_media) {
		tnd_sdp_neg_fail(err, errlen, "the answer has %u m= lines, the offer %u",
				 answer->n_media, offer->n_media);
		return EPROTO;
	}
	for (i = 0; i < answer->n_media; i++) {
		const struct tnd_sdp_media *om = offer->media[i], *am = answer->media[i];

		if (om->type != am->type) {
			tnd_sdp_neg_fail(err, errlen, "m= line %u: the answer's media type differs",
					 i + 1);
			return EPROTO;
		}
		if (am->type == TND_SDP_MEDIA_AUDIO && am->rtp && (am->port || am->bundle_only)) {
			struct tnd_sdp_neg n = { 0 };
			int e = read_section(&n, om, am, i, err, errlen);

			if (!e)
				*neg = n;
			return e;
		}
	}
	tnd_sdp_neg_fail(err, errlen, "the answer accepts no audio m= line");
	return ENOTSUP;
}
