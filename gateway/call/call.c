/* The call registry and what both directions share: ids, ending a call,
 * notifications, media set-up and routing, and the requests that act on an
 * existing call (hangup, candidate). Signalling thread.
 *
 * A call is in the registry from its start until it ends; the registry holds
 * one reference, a pending request or SIP/bridge callbacks never outlive it
 * because ending detaches the SIP dialog and closes the bridge first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

/* Our codecs toward the browser, in preference order: G.711 first, because
 * the phones and trunks on the SIP side nearly all have it and a shared
 * codec spares the transcode; Opus (any SIP codec is transcoded to it),
 * then G.722. The SIP leg's list comes from [media] sip_codecs. */
static const struct tnd_sdp_codec_pref prefs[] = {
	{ "PCMU", 8000, 1, 0, NULL },
	{ "PCMA", 8000, 1, 8, NULL },
	{ "opus", 48000, 2, 111, NULL },
	{ "G722", 8000, 1, 9, NULL },
	{ "telephone-event", 8000, 1, 101, NULL },
	{ "telephone-event", 48000, 1, 110, NULL },
};

static void stop_ring(struct tnd_call *call)
{
	if (call->ring_timer) {
		g_source_destroy(call->ring_timer);
		g_source_unref(call->ring_timer);
		call->ring_timer = NULL;
	}
}

static void call_destroy(void *data)
{
	struct tnd_call *call = data;

	stop_ring(call);
	tnd_call_sdes_clear(call);
	tnd_call_grace_stop(call);
	tnd_call_dtmf_stop(call);
	tnd_call_xfer_stop(call);
	g_free(call->use_user);

	tnd_obj_put(call->owner);
	for (unsigned i = 0; i < call->n_ringing; i++)
		tnd_obj_put(call->ringing[i]);
	tnd_obj_put(call->sip);
	tnd_obj_put(call->br);
	tnd_obj_put(call->test);
	tnd_obj_put(call->req);
	tnd_sdp_free(call->webrtc_offer);
	tnd_sdp_free(call->webrtc_answer);
	tnd_sdp_free(call->sip_offer);
	tnd_call_hold_free(call);
	tnd_call_reneg_free(call);
	tnd_sdp_free(call->reattach_offer);
	g_free(call->to);
	g_free(call->early_sip_sdp);
	g_free(call->early_webrtc_sdp);
	g_free(call->from_user);
	g_free(call->from_display);
	g_free(call->account);
	g_free(call->from_uri);
	g_strfreev(call->hdr_names);
	g_strfreev(call->hdr_values);
	g_free(call->sip_call_id);
	g_free(call->user);
	g_free(call->trunk);
	g_free(call->trunk_ruri);
}

int tnd_call_new(struct tnd_call **callp, struct tnd_calls *calls, enum call_dir dir)
{
	struct tnd_calls_stats st;
	struct tnd_call *call;

	tnd_calls_stats(calls, &st);
	if (st.calls >= (unsigned long)calls->env.conf->max_calls)
		return EBUSY;
	call = tnd_obj_zalloc(sizeof(*call), call_destroy);
	if (!call)
		return ENOMEM;
	call->calls = calls;
	call->dir = dir;
	call->sess_id = g_get_real_time();
	call->start_us = (int64_t)call->sess_id;
	call->sess_version = 1;
	snprintf(call->id, sizeof(call->id), "c%lx%04x", ++calls->next_id,
		 g_random_int() & 0xffff);
	/* SDES keys: the default policy; a trunk's replaces it (call_sdes.c) */
	if (tnd_call_sdes_init(call, calls->env.conf->media_sip_srtp)) {
		tnd_obj_put(call);
		return EIO;
	}
	g_hash_table_insert(calls->by_id, call->id, tnd_obj_get(call));
	calls->total++;
	tnd_call_metrics_start(call);
	*callp = call;
	return 0;
}

void tnd_call_answered(struct tnd_call *call)
{
	tnd_call_metrics_answered(call);
	call->phase = CALL_ANSWERED;
	tnd_call_emit(call, TND_CALL_EV_ANSWERED);
	stop_ring(call);
	tnd_call_uncount_ring(call);
	/* negotiation is over: the parsed SDPs are ~14 KiB per m= line each
	 * (fixed arrays), dead weight for the rest of the call */
	tnd_sdp_free(call->webrtc_offer);
	tnd_sdp_free(call->webrtc_answer);
	tnd_sdp_free(call->sip_offer);
	call->webrtc_offer = NULL;
	call->webrtc_answer = NULL;
	call->sip_offer = NULL;
}

struct tnd_call *tnd_call_find(struct tnd_calls *calls, const char *id)
{
	return id ? g_hash_table_lookup(calls->by_id, id) : NULL;
}

void tnd_call_notify(struct tnd_call *call, const char *state, int code, const char *reason)
{
	const struct tnd_call_sink *sink = call->calls->env.sink;

	/* what a reattaching client is told the call is at */
	if (strcmp(state, "ended"))
		snprintf(call->state, sizeof(call->state), "%s", state);
	if (!strcmp(state, "ringing") || !strcmp(state, "early"))
		tnd_call_emit(call, TND_CALL_EV_RINGING);
	if (call->owner) {
		sink->state(call->owner, call->id, state, code, reason);
		return;
	}
	for (unsigned i = 0; i < call->n_ringing; i++)
		sink->state(call->ringing[i], call->id, state, code, reason);
}

void tnd_call_end(struct tnd_call *call, int code, const char *reason)
{
	struct tnd_calls *calls = call->calls;
	/* a call from SIP reaches the browsers with `incoming` only once its
	 * media is up: before that they have no call to end */
	bool told = call->dir == CALL_OUT || call->phase != CALL_SETUP;

	if (call->phase == CALL_ENDED)
		return;
	tnd_call_metrics_end(call, code);
	call->phase = CALL_ENDED;
	tnd_obj_get(call);
	stop_ring(call);
	tnd_call_sdes_clear(call);
	tnd_call_grace_stop(call);
	tnd_call_dtmf_stop(call);
	tnd_call_uncount(call);
	tnd_call_reneg_stop(call, reason);
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s ended: %d %s", call->id, code, reason);
	if (call->done) {
		tnd_call_done_h *done = call->done;

		call->done = NULL;
		done(call->req, code == 486 || code == 600 ? EBUSY : EIO, reason, NULL, NULL);
		call->req = tnd_obj_put(call->req);
	} else if (told) {
		tnd_call_notify(call, "ended", code, reason);
	}
	tnd_call_emit_ended(call, code, reason);   /* before the bridge closes */
	tnd_call_xfer_stop(call);
	if (call->sip) {
		/* CANCEL or BYE goes out; whatever the peer does, the dialog is
		 * gone within [calls] linger */
		tnd_sipcall_detach(call->sip);
		if (calls)
			tnd_call_linger(calls, call->sip);
		call->sip = tnd_obj_put(call->sip);
	}
	if (call->test) {
		tnd_testpeer_close(call->test);
		call->test = tnd_obj_put(call->test);
	}
	if (call->br) {
		tnd_bridge_close(call->br);
		call->br = tnd_obj_put(call->br);
	}
	if (calls && g_hash_table_remove(calls->by_id, call->id)) {
		tnd_obj_put(call);
		tnd_call_drain_check(calls);
	}
	call->calls = NULL;
	tnd_obj_put(call);
}

void tnd_call_media_silent(struct tnd_call *call, bool sip_side)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "no media from the %s for %d s",
		 sip_side ? "SIP side" : "browser", call->calls->env.conf->media_timeout);
	TND_LOG_NOTICE(TND_LOG_MEDIA, "call %s: %s", call->id, reason);
	/* ending detaches the SIP dialog, which sends BYE (or CANCEL) */
	tnd_call_end(call, 408, reason);
}

int tnd_call_media(struct tnd_call *call, bool ice_controlling,
		   const struct tnd_bridge_events *ev)
{
	const struct tnd_conf *conf = call->calls->env.conf;
	char **addrs = g_strsplit(conf->media_ice_addresses, ",", 16);
	struct tnd_bridge_conf bc = {
		.ice_addrs = (const char *const *)addrs,
		.n_ice_addrs = g_strv_length(addrs),
		.rtp_addr = conf->media_rtp_address,
		.port_min = (uint16_t)conf->media_port_min,
		.port_max = (uint16_t)conf->media_port_max,
		.stun_server = *conf->media_stun_server ? conf->media_stun_server : NULL,
		.turn_server = *conf->media_turn_server ? conf->media_turn_server : NULL,
		.turn_user = conf->media_turn_user,
		.turn_pass = conf->media_turn_password,
		.turn_only = conf->media_turn_only,
		.ice_controlling = ice_controlling,
		/* a call from SIP needs its SIP-side socket only once answered */
		.b_later = call->dir == CALL_IN,
		.strict_source = conf->media_strict_source,
		/* the call's SDES policy, set in tnd_call_new (call_sdes.c) */
		.sip_srtp_required = call->sdes.policy == TND_SIP_SRTP_MANDATORY && !call->is_test,
		.timeout_ms = (unsigned)conf->media_timeout * 1000u,
		.rcvbuf = conf->media_socket_buffer * 1024,
	};
	struct tnd_loop *worker = tnd_media_pool_pick(call->calls->env.media);
	char **deny = g_strsplit(conf->media_candidate_deny, ",", 64);
	int err;

	for (char **a = addrs; *a; a++)
		g_strstrip(*a);
	for (char **a = deny; *a; a++)
		g_strstrip(*a);
	bc.cand_deny = (const char *const *)deny;
	bc.n_cand_deny = *conf->media_candidate_deny ? g_strv_length(deny) : 0;
	/* every worker past [media] max_load: refuse rather than degrade the
	 * calls already up (the caller gets 503) */
	err = worker ? tnd_bridge_alloc(&call->br, worker, call->calls->env.signal, &bc, ev, call)
		     : EBUSY;
	if (!worker)
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s refused: every media worker is past "
			     "max_load (%d %%)", call->id, conf->media_max_load);
	g_strfreev(addrs);
	g_strfreev(deny);
	return err;
}

void tnd_call_local(const struct tnd_call *call, struct tnd_sdp_local *l, bool webrtc)
{
	const struct tnd_conf *conf = call->calls->env.conf;

	memset(l, 0, sizeof(*l));
	l->user = "tandem";
	l->sess_id = call->sess_id;
	l->sess_version = call->sess_version;
	/* behind NAT the SIP peer must send to [sip] external_address, while
	 * the sockets stay bound to rtp_address */
	l->addr = webrtc ? "0.0.0.0" : *conf->sip_external_address ? conf->sip_external_address :
		  conf->media_rtp_address;
	l->addrtype = strchr(l->addr, ':') ? "IP6" : "IP4";
	l->codecs = prefs;
	l->n_codecs = sizeof(prefs) / sizeof(prefs[0]);
	l->dir = TND_SDP_SENDRECV;
	if (webrtc) {
		l->port = 9;
		l->trickle = true;
		l->fingerprint = tnd_webrtc_fingerprint();
		l->rtcp_mux = true;
		l->rtcp_rsize = true;
		l->cname = "tandem";
		l->msid_stream = "tandem";
		l->msid_track = "audio";
	} else {
		l->codecs = call->n_trunk_prefs ? call->trunk_prefs : call->calls->sip_prefs;
		l->n_codecs = call->n_trunk_prefs ? call->n_trunk_prefs : call->calls->n_sip_prefs;
		l->offer_order = true;
		l->keep_ptime = true;
		l->port = call->rtp_port;
		l->rtcp_port = call->rtp_port ? (uint16_t)(call->rtp_port + 1) : 0;
		l->ptime = 20;
		tnd_call_sdes_local(call, l);
	}
}

void tnd_call_local_webrtc(const struct tnd_call *call, struct tnd_sdp_local *l,
			   const struct tnd_call_ice *ice)
{
	tnd_call_local(call, l, true);
	l->ice_ufrag = ice->ufrag;
	l->ice_pwd = ice->pwd;
	l->cands = ice->cands;
	l->n_cands = g_strv_length((char **)ice->cands);
	l->cands_done = ice->complete;
	l->ssrc = tnd_bridge_webrtc_ssrc(call->br);
}

char *tnd_call_sdp_text(const struct tnd_sdp *sdp)
{
	char *text = NULL;
	size_t len;

	if (tnd_sdp_write_alloc(sdp, &text, &len))
		return NULL;
	return text;
}

int tnd_call_route(struct tnd_call *call, const struct tnd_sdp *sip_offer,
		   const struct tnd_sdp *sip_answer, const struct tnd_sdp_neg *webrtc,
		   char *msg, size_t msglen)
{
	const struct tnd_sdp_conn *conn;
	const struct tnd_sdp *remote;
	const struct tnd_sdp_media *rm;
	struct tnd_sdp_neg sn;
	bool peer_offered;
	int err;

	err = tnd_sdp_negotiated(&sn, sip_offer, sip_answer, msg, msglen);
	if (err)
		return err;
	/* the peer's media address: theirs is the answer when we offered */
	/* the peer offered on a call from SIP, or on ours with a late offer */
	peer_offered = (call->dir == CALL_IN) != call->late_offer;
	remote = peer_offered ? sip_offer : sip_answer;
	rm = peer_offered ? sn.offer_m : sn.answer_m;
	conn = tnd_sdp_media_conn(remote, rm);
	if (!rm->port) {
		snprintf(msg, msglen, "SIP peer's SDP has no media port");
		return ENOTSUP;
	}
	err = tnd_sdp_conn_check(conn, msg, msglen);
	if (err)
		return err;
	/* the ptime we send: what the peer asked for in its SDP */
	err = tnd_call_join(call, webrtc, sn.codec, sn.dtmf, rm->ptime, msg, msglen);
	if (!err)
		err = tnd_call_dtmf_route(call, webrtc, rm, sn.codec);
	if (!err)
		err = tnd_call_sdes_route(call, &sn, msg, msglen);
	if (!err)
		err = tnd_bridge_sip_remote(call->br, conn->addr, rm->port, rm->rtcp_port);
	if (err)
		return err;
	call->sip_media_set = true;
	tnd_call_set_codecs(call, webrtc->codec->name, webrtc->codec->clock,
			    sn.codec->name, sn.codec->clock);
	/* a new WebRTC leg (reattach) is routed to the same SIP payload types */
	snprintf(call->route.codec, sizeof(call->route.codec), "%s", webrtc->codec->name);
	call->route.clock = webrtc->codec->clock;
	call->route.channels = webrtc->codec->channels;
	call->route.sip_pt = sn.codec->pt;
	call->route.webrtc_pt = webrtc->codec->pt;
	/* telephone-event is mapped by PT only when both legs run its clock */
	call->route.dtmf = webrtc->dtmf && sn.dtmf && webrtc->dtmf->clock == sn.dtmf->clock;
	if (call->route.dtmf) {
		call->route.dtmf_clock = webrtc->dtmf->clock;
		call->route.dtmf_sip_pt = sn.dtmf->pt;
	}
	/* call_hold.c and call_xfer.c re-route after the browser's SDPs are
	 * gone */
	call->route.webrtc_te_pt = webrtc->dtmf ? webrtc->dtmf->pt : 0;
	call->route.webrtc_te_clock = webrtc->dtmf ? webrtc->dtmf->clock : 0;
	return 0;
}

/* ------------------------------------------------------------ registry */

int tnd_calls_alloc(struct tnd_calls **callsp, const struct tnd_calls_env *env)
{
	struct tnd_calls *calls;

	if (!callsp || !env || !env->conf || !env->signal || !env->media || !env->sip ||
	    !env->sink || !env->lookup)
		return EINVAL;
	calls = calloc(1, sizeof(*calls));
	if (!calls)
		return ENOMEM;
	calls->env = *env;
	calls->by_id = g_hash_table_new(g_str_hash, g_str_equal);
	tnd_call_limits_init(calls);
	tnd_call_regs_init(calls);
	tnd_call_obs_init(calls);
	tnd_call_codecs_init(calls);
	tnd_call_xfer_init(calls);
	tnd_call_trunks_init(calls);
	tnd_sipua_set_incoming(env->sip, tnd_call_incoming, calls);
	tnd_sipua_set_message(env->sip, tnd_call_message_in, calls);   /* call_msg.c */
	*callsp = calls;
	return 0;
}

void tnd_calls_hangup_all(struct tnd_calls *calls)
{
	GList *all = g_hash_table_get_values(calls->by_id);

	for (GList *l = all; l; l = l->next)
		tnd_call_end(l->data, 0, "gateway shutting down");
	g_list_free(all);
}

void tnd_calls_free(struct tnd_calls *calls)
{
	GList *all;

	if (!calls)
		return;
	tnd_sipua_set_incoming(calls->env.sip, NULL, NULL);
	tnd_sipua_set_message(calls->env.sip, NULL, NULL);
	/* without further events (call.h): with nobody left to tell, ending
	 * notifies no one and answers no pending request */
	all = g_hash_table_get_values(calls->by_id);
	for (GList *l = all; l; l = l->next) {
		struct tnd_call *call = l->data;

		call->done = NULL;
		call->req = tnd_obj_put(call->req);
		call->owner = tnd_obj_put(call->owner);
		for (unsigned i = 0; i < call->n_ringing; i++)
			tnd_obj_put(call->ringing[i]);
		call->n_ringing = 0;
	}
	g_list_free(all);
	tnd_calls_hangup_all(calls);
	tnd_call_drain_free(calls);
	tnd_call_regs_free(calls);
	tnd_call_trunks_free(calls);
	tnd_call_obs_free(calls);
	tnd_call_limits_free(calls);
	g_hash_table_destroy(calls->by_id);
	free(calls);
}

void tnd_calls_set_conf(struct tnd_calls *calls, const struct tnd_conf *conf)
{
	calls->env.conf = conf;
	tnd_call_trunks_conf(calls);
}

void tnd_calls_stats(const struct tnd_calls *calls, struct tnd_calls_stats *st)
{
	struct tnd_media_counts mc;

	tnd_media_counts(&mc);
	st->calls = g_hash_table_size(calls->by_id);
	st->calls_total = calls->total;
	st->sip_dialogs = tnd_sipua_calls(calls->env.sip);
	st->bridges = mc.bridges;
	st->media_legs = mc.open_legs;
	st->media_ports = mc.ports;
	st->media_dropped = mc.dropped;
	st->registrations = tnd_calls_registrations(calls);
}

/* ------------------------------------------------------------ requests */

/* The call `id` as seen by `conn`: its owner, or one it is ringing on. */
static struct tnd_call *own_call(struct tnd_calls *calls, void *conn, const char *id,
				 char *msg, size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	if (call && call->owner == conn)
		return call;
	for (unsigned i = 0; call && !call->owner && i < call->n_ringing; i++)
		if (call->ringing[i] == conn)
			return call;
	snprintf(msg, msglen, "params.call: no call '%.64s' on this connection", id);
	return NULL;
}

int tnd_calls_hangup(struct tnd_calls *calls, void *conn, const char *id, char *msg,
		     size_t msglen)
{
	struct tnd_call *call = own_call(calls, conn, id, msg, msglen);

	if (!call)
		return ENOENT;
	tnd_call_by(call, CALL_BY_BROWSER);
	if (call->dir == CALL_IN && !call->owner)
		return tnd_calls_reject(calls, conn, id, 486, msg, msglen);
	/* the browser is done with the call now, whatever the SIP side does
	 * (abuse probe: a peer that ignores CANCEL kept browsers waiting):
	 * `ended` goes at once with the status our CANCEL (487) or BYE (200)
	 * asks for, and ending sends them and lets the dialog linger */
	tnd_call_end(call, call->phase == CALL_ANSWERED ? 200 :
		     call->phase == CALL_PROGRESS ? 487 : 0, "hung up");
	return 0;
}

/* A `stats` request in flight: what the bridge's answer needs. */
struct stats_req {
	struct tnd_obj obj;
	void *req;                       /* ref */
	tnd_call_stats_h *done;
	char codec[2][16];
	bool transcoded;
};

static void stats_req_destroy(void *data)
{
	struct stats_req *r = data;

	tnd_obj_put(r->req);
}

static void copy_leg(struct tnd_call_leg_stats *o, const struct tnd_bridge_leg_stats *m,
		     const char *codec)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->codec, sizeof(o->codec), "%s", *m->codec ? m->codec : codec);
	o->clock = m->clock;
	o->transcoded = m->transcoded;
	o->packets_in = m->packets_in;
	o->packets_out = m->packets_out;
	o->lost = m->lost;
	o->jitter_ms = m->jitter_ms;
	o->rtt_ms = m->rtt_ms;
	o->remote_loss = m->remote_fraction_lost / 256.0;
	o->remote_jitter_ms = m->remote_jitter_ms;
	o->rtcp_in = m->rtcp_in;
	o->rtcp_out = m->rtcp_out;
	o->jb_delay_ms = m->xc.jb_delay_ms;
	o->frames_decoded = m->xc.frames;
	o->concealed = m->xc.concealed;
	o->fec_recovered = m->xc.fec;
}

static void on_bridge_stats(void *arg, const struct tnd_bridge_leg_stats st[2])
{
	struct stats_req *r = arg;
	struct tnd_call_stats cs;

	if (!st) {
		r->done(r->req, ENOENT, NULL);
		return;
	}
	cs.transcoded = r->transcoded;
	for (unsigned i = 0; i < 2; i++)
		copy_leg(&cs.leg[i], &st[i], r->codec[i]);
	r->done(r->req, 0, &cs);
}

int tnd_calls_media_stats(struct tnd_calls *calls, void *conn, const char *id,
			  tnd_call_stats_h *done, void *req, char *msg, size_t msglen)
{
	struct tnd_call *call = own_call(calls, conn, id, msg, msglen);
	struct stats_req *r;
	int err;

	if (!call)
		return ENOENT;
	if (!call->br || !call->sip_media_set) {
		snprintf(msg, msglen, "call %s has no media yet", call->id);
		return EALREADY;
	}
	r = tnd_obj_zalloc(sizeof(*r), stats_req_destroy);
	if (!r)
		return ENOMEM;
	r->req = tnd_obj_get(req);
	r->done = done;
	r->transcoded = call->transcoded;
	memcpy(r->codec, call->leg_codec, sizeof(r->codec));
	err = tnd_bridge_stats(call->br, on_bridge_stats, r);
	tnd_obj_put(r);
	if (err)
		snprintf(msg, msglen, "out of memory");
	return err;
}

int tnd_calls_candidate(struct tnd_calls *calls, void *conn, const char *id, const char *cand,
			char *msg, size_t msglen)
{
	struct tnd_call *call = own_call(calls, conn, id, msg, msglen);

	if (!call)
		return ENOENT;
	if (cand && !strncmp(cand, "a=", 2))
		cand += 2;
	if (cand && strncmp(cand, "candidate:", 10)) {
		snprintf(msg, msglen, "params.candidate.candidate must start with candidate:");
		return EINVAL;
	}
	if (!call->br)
		return 0;
	return tnd_bridge_webrtc_candidate(call->br, cand);
}

void tnd_calls_conn_gone(struct tnd_calls *calls, void *conn)
{
	GList *all = g_hash_table_get_values(calls->by_id);

	for (GList *l = all; l; l = l->next) {
		struct tnd_call *call = l->data;

		if (call->owner == conn && call->phase != CALL_SETUP && tnd_call_detach(call))
			continue;   /* kept for [calls] reattach_grace */
		if (call->owner == conn) {
			tnd_call_by(call, CALL_BY_BROWSER);
			/* nobody is left to tell: end without notifying */
			call->owner = tnd_obj_put(call->owner);
			if (call->done) {
				call->done = NULL;
				call->req = tnd_obj_put(call->req);
			}
			tnd_call_end(call, 0, "WebSocket closed");
			continue;
		}
		for (unsigned i = 0; i < call->n_ringing; i++) {
			if (call->ringing[i] != conn)
				continue;
			tnd_obj_put(call->ringing[i]);
			call->ringing[i] = call->ringing[--call->n_ringing];
			if (!call->n_ringing && !call->owner)
				tnd_call_end(call, 480, "Temporarily Unavailable");
			break;
		}
	}
	g_list_free(all);
	tnd_call_limits_conn_gone(calls, conn);
	tnd_call_regs_conn_gone(calls, conn);
}
