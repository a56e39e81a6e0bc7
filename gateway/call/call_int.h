/* Private to gateway/call: the call object shared by the registry (call.c),
 * calls from the browser (call_out.c) and calls from SIP (call_in.c). */
#ifndef TND_GATEWAY_CALL_INT_H
#define TND_GATEWAY_CALL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "gateway/base/obj.h"
#include "gateway/call/call.h"
#include "gateway/media/media.h"
#include "gateway/sdp/sdp.h"
#include "sip/sip.h"
#include "webrtc/webrtc.h"

#define CALL_MAX_RING 16     /* WebSockets alerted for one incoming call */
#define CALL_MSG 256

struct tnd_calls {
	struct tnd_calls_env env;            /* borrowed pointers */
	GHashTable *by_id;                   /* owned: id -> ref'd struct tnd_call */
	unsigned long next_id;
	unsigned long total;
	/* call_limit.c: what each user and WebSocket holds, for [calls] limits */
	GHashTable *use_by_user;             /* owned: user (owned) -> owned call_use */
	GHashTable *use_by_conn;             /* owned: conn (borrowed key) -> owned call_use */
	unsigned prune_at;                   /* use_by_user size that triggers a sweep */
	unsigned ringing;                    /* incoming calls alerted, not yet answered */
	GPtrArray *lingering;                /* owned: owned struct call_linger */
	GSource *linger_timer;               /* owned: the sweep, while any linger */
	/* call_drain.c */
	bool draining;                       /* new calls are refused */
	bool drain_done;                     /* env.drained has run */
	GSource *drain_timer;                /* owned: [calls] drain_timeout */
	GSource *drain_idle;                 /* owned: reports the drain's end */
};

enum call_dir {
	CALL_OUT,        /* browser to SIP */
	CALL_IN,         /* SIP to browser */
};

enum call_phase {
	CALL_SETUP,      /* media legs being made */
	CALL_PROGRESS,   /* out: INVITE sent; in: browsers alerted */
	CALL_ANSWERED,
	CALL_ENDED,
};

struct tnd_call {
	struct tnd_obj obj;
	struct tnd_calls *calls;             /* borrowed; NULL once out of the registry */
	char id[32];
	enum call_dir dir;
	enum call_phase phase;
	void *owner;                         /* ref: the caller, or who answered */
	void *ringing[CALL_MAX_RING];        /* refs: connections alerted */
	unsigned n_ringing;
	struct tnd_sipcall *sip;             /* ref */
	struct tnd_bridge *br;               /* ref */
	struct tnd_sdp *webrtc_offer;        /* owned: browser's (out) or ours (in) */
	struct tnd_sdp *webrtc_answer;       /* owned */
	struct tnd_sdp *sip_offer;           /* owned: ours (out) or the peer's (in) */
	bool sip_media_set;
	tnd_call_done_h *done;               /* pending `call` request */
	void *req;                           /* ref, with done */
	char *to;                            /* owned strings */
	char *from_user, *from_display, *from_uri;
	char **hdr_names, **hdr_values;      /* owned strv */
	uint16_t rtp_port;
	/* [calls] limits: what this call is counted against (call_limit.c) */
	char *use_user;                      /* owned: caller (out) or callee (in), or NULL */
	void *use_conn;                      /* borrowed key: the caller's WebSocket (out) */
	bool counted_ring;                   /* in: counted as ringing */
	GSource *ring_timer;                 /* owned: [calls] ring_timeout (in) */
	uint64_t sess_id;
	uint64_t sess_version;
	int64_t metrics_start_us;            /* call_metrics.c: monotonic, at start */
};

/* call.c */
int tnd_call_new(struct tnd_call **callp, struct tnd_calls *calls, enum call_dir dir);
/* Ends the call once: tells the owner (and ringing connections) `ended`
 * with code and reason, closes the media, ends the SIP dialog if it lives,
 * fails a pending request, and leaves the registry. */
void tnd_call_end(struct tnd_call *call, int code, const char *reason);
/* The call is answered: marks it so and frees what only negotiation needed. */
void tnd_call_answered(struct tnd_call *call);
void tnd_call_notify(struct tnd_call *call, const char *state, int code, const char *reason);
/* A leg of the call's media went silent past [media] timeout: ends the
 * call, BYE to the SIP side and `ended` with the reason to the browser. */
void tnd_call_media_silent(struct tnd_call *call, bool sip_side);
/* Starts the media bridge for the call on the least loaded worker. A call
 * from SIP gets its SIP-side RTP socket only when answered (call_in.c). */
int tnd_call_media(struct tnd_call *call, bool ice_controlling,
		   const struct tnd_bridge_events *ev);
/* Our codec preferences, and a tnd_sdp_local for a leg. */
void tnd_call_local(const struct tnd_call *call, struct tnd_sdp_local *l, bool webrtc);
/* Our ICE side of a WebRTC leg, as the bridge's ready event gave it. */
struct tnd_call_ice {
	const char *ufrag, *pwd;
	const char *const *cands;    /* NULL-terminated */
	bool complete;
};
/* tnd_call_local for the WebRTC leg, with our ICE values and send SSRC. */
void tnd_call_local_webrtc(const struct tnd_call *call, struct tnd_sdp_local *l,
			   const struct tnd_call_ice *ice);
/* Pass-through: one leg is offered (or answered) exactly the codec the
 * other leg agreed on, at its payload types, plus telephone-event at its
 * clock. fmtp false leaves the fmtp to copy from the offer (answers).
 * Returns how many of want[] it filled. */
size_t tnd_call_prefs(struct tnd_sdp_codec_pref want[2], const struct tnd_sdp_codec *codec,
		      const struct tnd_sdp_codec *dtmf, bool fmtp);
/* Points the bridge's SIP leg at the peer's media and routes the codecs
 * agreed on both legs. 0, or an errno with msg. */
int tnd_call_route(struct tnd_call *call, const struct tnd_sdp *sip_offer,
		   const struct tnd_sdp *sip_answer, const struct tnd_sdp_neg *webrtc,
		   char *msg, size_t msglen);
/* Writes an SDP to a new string (g_free). */
char *tnd_call_sdp_text(const struct tnd_sdp *sdp);
struct tnd_call *tnd_call_find(struct tnd_calls *calls, const char *id);

/* call_limit.c: [calls] limits (protocol.md). */
int tnd_call_limits_init(struct tnd_calls *calls);
void tnd_call_limits_free(struct tnd_calls *calls);
/* May `conn` (logged in as `user`, or NULL) place a call now? Takes one
 * attempt from the rate bucket. 0, or EAGAIN with msg naming the limit. */
int tnd_call_limit_out(struct tnd_calls *calls, void *conn, const char *user, char *msg,
		       size_t msglen);
/* Counts a new browser call against conn and user until it ends. */
void tnd_call_count_out(struct tnd_call *call, void *conn, const char *user);
/* May another call ring for `user`? 0, or the SIP status to refuse with
 * (486 for the user's cap, 503 for the gateway's). */
int tnd_call_limit_in(struct tnd_calls *calls, const char *user);
/* Counts a new incoming call as ringing for `user` until answered or ended. */
void tnd_call_count_ring(struct tnd_call *call, const char *user);
/* The call is answered: it no longer rings. */
void tnd_call_uncount_ring(struct tnd_call *call);
/* The call ends: every count it holds goes. */
void tnd_call_uncount(struct tnd_call *call);
/* The WebSocket is gone (after its calls ended). */
void tnd_call_limits_conn_gone(struct tnd_calls *calls, void *conn);
/* A detached SIP dialog still finishing (CANCEL, BYE): forgotten after
 * [calls] linger seconds if the peer never finishes it. Takes a reference. */
void tnd_call_linger(struct tnd_calls *calls, struct tnd_sipcall *sip);
void tnd_call_linger_free(struct tnd_calls *calls);

/* call_drain.c: a call left the registry (or the drain began): when
 * draining and none is left, the owner is told from the loop. */
void tnd_call_drain_check(struct tnd_calls *calls);
void tnd_call_drain_free(struct tnd_calls *calls);

/* call_metrics.c: /metrics' hooks in the call's life (gateway/base/stats.h):
 * started (an attempt), answered (set-up time), ended (the outcome's SIP
 * status class; before the phase becomes CALL_ENDED). */
void tnd_call_metrics_start(struct tnd_call *call);
void tnd_call_metrics_answered(struct tnd_call *call);
void tnd_call_metrics_end(struct tnd_call *call, int code);

/* call_in.c */
int tnd_call_incoming(void *arg, struct tnd_sipcall *sip, const struct tnd_sipcall_info *info);

#endif
