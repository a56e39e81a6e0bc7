/* Hold, resume and every later offer on the SIP leg (issue 11 item 4).
 *
 * The browser's `hold` and `resume` become re-INVITEs offering our last SDP
 * with a=sendonly or a=sendrecv (same o= session id, version + 1, same
 * codecs, RFC 3264 8.4); the browser's leg is not renegotiated (no ICE
 * restart, no new DTLS). While the browser holds, the bridge relays
 * nothing either way: the SIP peer hears silence, or the hold music
 * (call_moh.c), as does the browser while the peer holds.
 *
 * The peer's offers (re-INVITE, UPDATE, RFC 3311) are answered here: one
 * that is a=sendonly, a=inactive or has c=0.0.0.0 holds the call (we answer
 * recvonly or inactive and stop sending), a later sendrecv one resumes it;
 * a new address, port or codec re-routes the bridge (pass-through <->
 * transcoding as needed); an offer that only bumps the o= version gets our
 * last answer again. An offerless re-INVITE gets our offer and its ACK the
 * answer. The browser's `renegotiate` (call_reneg.c) sends its re-INVITE
 * through tnd_call_sip_reinvite too, and takes its answer first in
 * tnd_call_on_reanswered. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"

/* The audio line of a SIP SDP: the first audio m= with a port. */
static const struct tnd_sdp_media *audio_of(const struct tnd_sdp *sdp)
{
	for (unsigned i = 0; sdp && i < sdp->n_media; i++)
		if (sdp->media[i]->type == TND_SDP_MEDIA_AUDIO && sdp->media[i]->port)
			return sdp->media[i];
	return NULL;
}

static int parse(const char *text, struct tnd_sdp **sdpp)
{
	char why[CALL_MSG];
	int err;

	if (!text)
		return ENOENT;
	err = tnd_sdp_parse(sdpp, text, strlen(text), why, sizeof(why));
	if (err)
		TND_LOG_NOTICE(TND_LOG_SIP, "SDP on the SIP leg: %s", why);
	return err;
}

/* Whether the peer's side of `m` (in its SDP) puts the call on hold: it
 * will not receive (sendonly, inactive, or the RFC 2543 c=0.0.0.0). */
static bool peer_no_recv(const struct tnd_sdp *sdp, const struct tnd_sdp_media *m)
{
	const struct tnd_sdp_conn *c = tnd_sdp_media_conn(sdp, m);

	if (m->dir == TND_SDP_SENDONLY || m->dir == TND_SDP_INACTIVE)
		return true;
	return c && c->addr && (!strcmp(c->addr, "0.0.0.0") || !strcmp(c->addr, "::"));
}

static bool peer_no_send(const struct tnd_sdp_media *m)
{
	return m->dir == TND_SDP_RECVONLY || m->dir == TND_SDP_INACTIVE;
}

/* Address, port and codec of two SDPs of the peer's: the same media? */
static bool same_media(const struct tnd_sdp *a, const struct tnd_sdp *b)
{
	const struct tnd_sdp_media *ma = audio_of(a), *mb = audio_of(b);
	const struct tnd_sdp_conn *ca, *cb;

	if (!ma || !mb || ma->port != mb->port || ma->dir != mb->dir ||
	    ma->n_codecs != mb->n_codecs)
		return false;
	ca = tnd_sdp_media_conn(a, ma);
	cb = tnd_sdp_media_conn(b, mb);
	if (!ca || !cb || !ca->addr || !cb->addr || strcmp(ca->addr, cb->addr))
		return false;
	for (unsigned i = 0; i < ma->n_codecs; i++) {
		const struct tnd_sdp_codec *x = &ma->codecs[i], *y = &mb->codecs[i];

		if (x->pt != y->pt || x->clock != y->clock || !x->name != !y->name ||
		    (x->name && strcasecmp(x->name, y->name)))
			return false;
	}
	return true;
}

/* The browser leg's negotiation as routed at answer time (its SDPs are
 * gone by now), for tnd_call_route. */
static void webrtc_neg(const struct tnd_call *call, struct tnd_sdp_neg *wn,
		       struct tnd_sdp_codec *codec, struct tnd_sdp_codec *te, char *name,
		       size_t namelen)
{
	memset(wn, 0, sizeof(*wn));
	memset(codec, 0, sizeof(*codec));
	memset(te, 0, sizeof(*te));
	/* a copy: tnd_call_route writes call->route.codec from it */
	snprintf(name, namelen, "%s", call->route.codec);
	codec->name = name;
	codec->clock = call->route.clock;
	codec->channels = call->route.channels;
	codec->pt = call->route.webrtc_pt;
	wn->codec = codec;
	if (call->route.webrtc_te_clock) {
		te->name = "telephone-event";
		te->clock = call->route.webrtc_te_clock;
		te->channels = 1;
		te->pt = call->route.webrtc_te_pt;
		wn->dtmf = te;
	}
}

/* Applies an agreed SIP exchange to the bridge: mutes for hold, and
 * re-routes when the peer's address, port or codec changed from `before`
 * (its previous SDP, NULL if unknown). */
static int apply(struct tnd_call *call, const struct tnd_sdp *offer, const struct tnd_sdp *answer,
		 bool we_offered, const struct tnd_sdp *before)
{
	const struct tnd_sdp *remote = we_offered ? answer : offer;
	const struct tnd_sdp_media *rm = audio_of(remote);
	struct tnd_sdp_codec wc, wte;
	struct tnd_sdp_neg sn, wn;
	char msg[CALL_MSG];
	bool no_recv, no_send;
	int err;

	if (!rm)
		return ENOTSUP;
	no_recv = peer_no_recv(remote, rm);
	no_send = peer_no_send(rm);
	if (!we_offered)
		call->held_remote = no_recv;
	err = tnd_sdp_negotiated(&sn, offer, answer, msg, sizeof(msg));
	if (err) {
		TND_LOG_WARN(TND_LOG_SIP, "call %s: SIP re-negotiation: %s", call->id, msg);
		return err;
	}
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: SIP exchange: peer %s%s, %s", call->id,
		      no_recv ? "does not receive" : "receives", no_send ? ", does not send" : "",
		      before && same_media(before, remote) ? "same media" : "media to check");
	if (!before || !same_media(before, remote) || sn.codec->pt != call->route.sip_pt) {
		const struct tnd_sdp_conn *c = tnd_sdp_media_conn(remote, rm);

		if (c && !tnd_sdp_conn_check(c, msg, sizeof(msg)) && *call->route.codec) {
			enum call_dir dir = call->dir;
			char name[sizeof(call->route.codec)];

			webrtc_neg(call, &wn, &wc, &wte, name, sizeof(name));
			/* tnd_call_route reads the peer's media from the answer
			 * when the call's direction says we offered: here the
			 * offerer is whoever offered this time */
			call->dir = we_offered ? CALL_OUT : CALL_IN;
			err = tnd_call_route(call, offer, answer, &wn, msg, sizeof(msg));
			call->dir = dir;
			if (err) {
				TND_LOG_WARN(TND_LOG_SIP, "call %s: cannot re-route: %s", call->id,
					     msg);
				return err;
			}
			TND_LOG_INFO(TND_LOG_MEDIA, "call %s: SIP media now %s:%u %s/%u%s",
				     call->id, c->addr, rm->port, sn.codec->name, sn.codec->clock,
				     call->transcoded ? " (transcoded)" : "");
		}
	}
	/* the browser's hold silences both ways; the peer's what it said */
	err = tnd_bridge_hold(call->br, call->held_local || no_recv,
			      call->held_local || no_send);
	/* ... and the held party hears the music, if any (call_moh.c) */
	if (!err)
		tnd_call_moh_update(call, call->held_local && !no_recv,
				    call->held_remote && !call->held_local);
	return err;
}

static void tell(struct tnd_call *call, bool held, int code, const char *reason)
{
	tnd_call_notify(call, held ? "held" : "resumed", code, reason);
	tnd_call_emit(call, held ? TND_CALL_EV_HELD : TND_CALL_EV_RESUMED);
}

/* Our next offer: the last SDP we sent, version + 1, with `dir`. */
static int next_offer(struct tnd_call *call, enum tnd_sdp_dir dir, char **textp)
{
	struct tnd_sdp *sdp = NULL;
	int err = parse(tnd_sipcall_local_sdp(call->sip), &sdp);

	if (err)
		return err;
	sdp->sess_version++;
	for (unsigned i = 0; i < sdp->n_media; i++)
		if (sdp->media[i]->port)
			sdp->media[i]->dir = dir;
	*textp = tnd_call_sdp_text(sdp);
	tnd_sdp_free(sdp);
	return *textp ? 0 : ENOMEM;
}

/* ------------------------------------------------------------ browser */

int tnd_calls_hold(struct tnd_calls *calls, void *conn, const char *id, bool hold, char *msg,
		   size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);
	char *offer = NULL;
	int err;

	if (!call || call->owner != conn) {
		snprintf(msg, msglen, "params.call: no call '%.64s' on this connection", id);
		return ENOENT;
	}
	if (call->phase != CALL_ANSWERED || !call->br || (!call->is_test && !call->sip)) {
		snprintf(msg, msglen, "params.call: the call is not answered");
		return EALREADY;
	}
	if (call->hold_pending) {
		snprintf(msg, msglen, "params.call: a hold or resume is under way");
		return EALREADY;
	}
	if (hold == call->held_local) {
		snprintf(msg, msglen, "params.call: the call is %s", hold ? "held already" :
			 "not held");
		return EALREADY;
	}
	if (call->is_test) {
		/* no SIP leg: the test peer is silenced as a SIP peer would be */
		call->held_local = hold;
		tell(call, hold, 0, hold ? "held" : "resumed");
		return tnd_bridge_hold(call->br, hold, hold);
	}
	err = next_offer(call, hold ? TND_SDP_SENDONLY : TND_SDP_SENDRECV, &offer);
	if (!err)
		err = tnd_sipcall_reinvite(call->sip, offer);
	if (!err) {
		call->hold_pending = true;
		call->hold_want = hold;
		g_free(call->hold_offer);
		call->hold_offer = offer;
		return 0;
	}
	g_free(offer);
	if (err == EBUSY || err == EALREADY) {
		snprintf(msg, msglen, "params.call: an offer is under way on the SIP leg");
		return EALREADY;
	}
	if (err == EPERM) {
		snprintf(msg, msglen, "params.call: the SIP peer refused our credentials for a "
			 "re-INVITE: no other can go in this call");
		return EPERM;
	}
	snprintf(msg, msglen, "cannot send the re-INVITE: %s", strerror(err));
	return err;
}

int tnd_call_sip_reinvite(struct tnd_call *call, const char *sdp)
{
	int err;

	if (!call || !sdp)
		return EINVAL;
	if (!call->sip || call->phase != CALL_ANSWERED || call->hold_pending)
		return EALREADY;
	err = tnd_sipcall_reinvite(call->sip, sdp);
	if (!err) {
		call->hold_pending = true;
		call->hold_want = call->held_local;
		g_free(call->hold_offer);
		call->hold_offer = g_strdup(sdp);
	}
	return err;
}

/* ------------------------------------------------------------ SIP events */

void tnd_call_on_reanswered(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			    const char *sdp)
{
	struct tnd_call *call = arg;
	struct tnd_sdp *offer = NULL, *answer = NULL;
	bool was = call->held_local;
	int err;

	(void)sip;
	if (tnd_call_reneg_answered(call, status, phrase, sdp))
		return;   /* the browser's renegotiation (call_reneg.c) */
	call->hold_pending = false;
	if (status >= 300 || !sdp) {
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: %s refused by the SIP peer: %d %s", call->id,
			       call->hold_want ? "hold" : "resume", status, phrase ? phrase : "");
		tnd_call_notify(call, call->held_local ? "held" : "answered", status,
				phrase ? phrase : "re-INVITE failed");
		return;
	}
	err = parse(call->hold_offer, &offer);
	if (!err)
		err = parse(sdp, &answer);
	call->held_local = call->hold_want;
	/* `before` NULL: the peer may move in its answer too */
	if (!err)
		err = apply(call, offer, answer, true, NULL);
	if (err)
		TND_LOG_WARN(TND_LOG_SIP, "call %s: the answer to our re-INVITE is unusable (%s)",
			     call->id, strerror(err));
	if (was != call->held_local)
		tell(call, call->held_local, status, phrase);
	tnd_sdp_free(offer);
	tnd_sdp_free(answer);
}

/* The peer's offer with an SDP: answer it (see the top of the file). */
static int answer_offer(struct tnd_call *call, struct tnd_sipcall *sip, const char *text)
{
	struct tnd_sdp *offer = NULL, *before = NULL, *last = NULL, *answer = NULL;
	const struct tnd_sdp_media *om;
	struct tnd_sdp_local l;
	char why[CALL_MSG], *out = NULL;
	bool was = call->held_remote;
	int err;

	err = parse(text, &offer);
	if (err)
		return err == ENOMEM ? ENOMEM : EINVAL;
	om = audio_of(offer);
	(void)parse(tnd_sipcall_remote_sdp(sip), &before);
	err = parse(tnd_sipcall_local_sdp(sip), &last);
	if (err || !om) {
		err = err ? err : ENOTSUP;
		goto out;
	}
	if (before && same_media(before, offer)) {
		/* only the o= version moved: a refresh, the same answer again */
		err = tnd_sipcall_reanswer(sip, 200, tnd_sipcall_local_sdp(sip));
		goto out;
	}
	tnd_call_local(call, &l, false);
	l.sess_version = last->sess_version + 1;
	l.port = tnd_bridge_port(call->br, 1);
	l.rtcp_port = (uint16_t)(l.port + 1);
	l.dir = call->held_local ? TND_SDP_SENDONLY : TND_SDP_SENDRECV;
	if (peer_no_recv(offer, om) && om->dir == TND_SDP_SENDRECV)
		/* c=0.0.0.0 (RFC 2543 hold): it sends, we must not */
		l.dir = call->held_local ? TND_SDP_INACTIVE : TND_SDP_RECVONLY;
	err = tnd_sdp_answer_sip(&answer, offer, &l, why, sizeof(why));
	if (err) {
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: SIP offer refused: %s", call->id, why);
		goto out;
	}
	err = apply(call, offer, answer, false, before);
	out = err ? NULL : tnd_call_sdp_text(answer);
	if (!err)
		err = out ? tnd_sipcall_reanswer(sip, 200, out) : ENOMEM;
	if (!err && was != call->held_remote)
		tell(call, call->held_remote, 0, call->held_remote ? "held by the SIP peer" :
		     "resumed by the SIP peer");
 out:
	g_free(out);
	tnd_sdp_free(offer);
	tnd_sdp_free(before);
	tnd_sdp_free(last);
	tnd_sdp_free(answer);
	return err;
}

int tnd_call_on_reoffer(void *arg, struct tnd_sipcall *sip, const char *sdp, bool update)
{
	struct tnd_call *call = arg;
	char *offer = NULL;
	int err;

	(void)update;
	/* an offer of ours still out never gets here (sip/ answers 491);
	 * during our wait after a 491 the peer's goes first (RFC 3261 14.1) */
	if (call->phase != CALL_ANSWERED || !call->br)
		return EBUSY;
	if (sdp)
		return answer_offer(call, sip, sdp);
	/* offerless re-INVITE (RFC 3261 14.2): our offer, the ACK answers */
	err = next_offer(call, call->held_local ? TND_SDP_SENDONLY : TND_SDP_SENDRECV, &offer);
	if (!err)
		err = tnd_sipcall_reanswer(sip, 200, offer);
	if (!err) {
		g_free(call->hold_offer);
		call->hold_offer = offer;
		return 0;
	}
	g_free(offer);
	return err;
}

void tnd_call_on_reack(void *arg, struct tnd_sipcall *sip, const char *sdp)
{
	struct tnd_call *call = arg;
	struct tnd_sdp *offer = NULL, *answer = NULL;
	bool was = call->held_remote;
	int err;

	(void)sip;
	if (!sdp || parse(call->hold_offer, &offer) || parse(sdp, &answer)) {
		tnd_sdp_free(offer);
		return;
	}
	/* the peer answered our offer: its direction says whether it holds */
	err = apply(call, offer, answer, true, NULL);
	call->held_remote = !err && peer_no_recv(answer, audio_of(answer));
	if (!err)   /* apply saw the old held_remote */
		tnd_call_moh_update(call, call->held_local && !call->held_remote,
				    call->held_remote && !call->held_local);
	if (!err && was != call->held_remote)
		tell(call, call->held_remote, 0, call->held_remote ? "held by the SIP peer" :
		     "resumed by the SIP peer");
	tnd_sdp_free(offer);
	tnd_sdp_free(answer);
}

void tnd_call_hold_free(struct tnd_call *call)
{
	g_free(call->hold_offer);
	call->hold_offer = NULL;
}
