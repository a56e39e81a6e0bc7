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

struct sockaddr;

#define CALL_MAX_RING 16     /* WebSockets alerted for one incoming call */
#define CALL_MSG 256
#define CALL_MAX_PREFS 12    /* SIP-side codecs offered, with telephone-event */

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
	/* call_reg.c */
	GHashTable *regs;                    /* owned: "user\naccount" -> owned call_reg */
	/* call_obs.c: ended calls waiting for their worker's media figures */
	GPtrArray *ending;                   /* owned: refs to struct call_snap */
	/* call_codec.c: the SIP leg's codecs, from [media] sip_codecs; the
	 * strings are the codec table's (static) */
	struct tnd_sdp_codec_pref sip_prefs[CALL_MAX_PREFS];
	size_t n_sip_prefs;
	/* call_trunk.c: trunk up/down from OPTIONS pings */
	GHashTable *trunks;                  /* owned: trunk name -> owned trunk_state */
	/* call_trunk_reg.c: registrations of trunks with register = true */
	GHashTable *trunk_regs;              /* owned: trunk name -> owned trunk_reg */
};

/* The codecs the bridge relays between the legs (tnd_call_route), kept so
 * a new WebRTC leg can be routed to the SIP leg's payload types after the
 * parsed SDPs are gone. */
struct call_route {
	char codec[32];                      /* "" until routed */
	uint32_t clock;
	uint8_t channels;
	uint8_t sip_pt;
	bool dtmf;                           /* telephone-event relayed too */
	uint32_t dtmf_clock;
	uint8_t dtmf_sip_pt;
	uint8_t webrtc_pt;                   /* the browser leg's, when transcoded */
	/* the browser leg's telephone-event, for a re-route once its SDPs are
	 * gone (call_hold.c) or a new SIP leg (call_xfer.c) */
	uint8_t webrtc_te_pt;
	uint32_t webrtc_te_clock;            /* 0: none */
};

/* call_sdes.c: SDES-SRTP (RFC 4568) of the SIP leg. Kept with the call so
 * a re-INVITE or refresh offers the same keys (the SRTP session on the
 * socket is installed once and stays). OWNER: signal */
#define CALL_SDES_MAX 4                  /* suites: one a=crypto line each */
struct call_sdes {
	int policy;                          /* enum tnd_sip_srtp for this call */
	char lines[CALL_SDES_MAX][TND_SDP_CRYPTO_LINE_MAX];  /* ours, key inside */
	const char *ptrs[CALL_SDES_MAX];     /* into lines, for tnd_sdp_local */
	unsigned n;
	bool installed;                      /* keys are on the bridge's SIP leg */
	char suite[32];                      /* the one agreed, "" for plain RTP */
};

enum call_dir {
	CALL_OUT,        /* browser to SIP */
	CALL_IN,         /* SIP to browser */
};

/* Who ended a call, for CDRs: the first to act wins (call_obs.c). */
enum call_by {
	CALL_BY_NONE,
	CALL_BY_BROWSER,
	CALL_BY_SIP,
	CALL_BY_GATEWAY,
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
	char *account;                       /* owned: [accounts] name to call as, or NULL */
	char **hdr_names, **hdr_values;      /* owned strv */
	uint16_t rtp_port;
	/* [calls] limits: what this call is counted against (call_limit.c) */
	char *use_user;                      /* owned: caller (out) or callee (in), or NULL */
	void *use_conn;                      /* borrowed key: the caller's WebSocket (out) */
	bool counted_ring;                   /* in: counted as ringing */
	bool counted_out;                    /* out: counted against use_user */
	GSource *ring_timer;                 /* owned: [calls] ring_timeout (in) */
	uint64_t sess_id;
	uint64_t sess_version;
	/* call_reattach.c: the call outlives its WebSocket for [calls]
	 * reattach_grace; the user it is counted against (use_user) may bind
	 * it to a new one, with the same pc or a new WebRTC leg */
	char state[12];                      /* the last call.state told */
	bool detached;                       /* no owner: its WebSocket went */
	GSource *grace_timer;                /* owned, while detached */
	GSource *lost_timer;                 /* owned: browser media lost, socket still up */
	bool lost_closed;                    /* ... by DTLS close (else failure) */
	bool reattaching;                    /* the next `ready` is a new WebRTC leg's */
	struct tnd_sdp *reattach_offer;      /* owned: the reloaded page's offer */
	struct call_route route;             /* what the bridge relays, once routed */
	/* call_test.c: a call to `echo` or `tone` has no SIP leg */
	bool is_test;
	enum tnd_testpeer_kind test_kind;
	struct tnd_testpeer *test;           /* ref, once answered */
	/* call_obs.c: lifecycle facts for CDRs, events and admin requests */
	int64_t start_us, ringing_us, answer_us;   /* real time; 0: not yet */
	enum call_by by;
	bool told_created;
	char *sip_call_id;                   /* owned: kept past the SIP leg */
	char *user;                          /* owned: caller (out) or callee (in) */
	char codec_webrtc[40], codec_sip[40];
	char leg_codec[2][16];               /* browser's, SIP's codec, for `stats` */
	bool transcoded;
	/* call_dtmf.c, set when the media is routed */
	int dtmf_mode;                       /* enum tnd_dtmf_mode, resolved (never auto) */
	bool webrtc_te;                      /* the browser leg has telephone-event */
	char info_q[65];                     /* digits still to send as INFO */
	unsigned info_pos, info_ms, info_gap;
	GSource *info_timer;                 /* owned: the next INFO */
	int64_t metrics_start_us;            /* call_metrics.c: monotonic, at start */
	/* call_xfer.c: a transfer under way */
	int xfer;                            /* enum call_xfer (call_xfer.c); 0 none */
	char xfer_with[32];                  /* attended: the other call's id */
	struct tnd_sipcall *xfer_sip;        /* ref: the referred party's leg, ringing */
	struct tnd_sdp *xfer_offer;          /* owned: our offer on it */
	char *xfer_to;                       /* owned: the REFER's target */
	/* call_trunk.c: a call routed by the dial plan */
	char *trunk;                         /* owned: [trunks] name, or NULL */
	/* the trunk's codecs (tnd_call_trunk_prefs), which the SIP side's
	 * offers and answers use instead of [media] sip_codecs; 0 for none */
	struct tnd_sdp_codec_pref trunk_prefs[CALL_MAX_PREFS];
	size_t n_trunk_prefs;
	char *trunk_ruri;                    /* owned: sip:+E164@trunk, or NULL */
	/* call_hold.c */
	bool held_local;                     /* the browser holds the call */
	bool held_remote;                    /* the SIP peer holds it */
	bool hold_pending;                   /* our re-INVITE is out */
	bool hold_want;                      /* ... and asks held_local to become this */
	char *hold_offer;                    /* owned: our last re-offer's SDP */
	/* call_moh.c: each leg's codec as joined (codec NULL: none to encode)
	 * and the hold music playing toward leg A (0) and B (1) */
	struct tnd_bridge_codec moh_codec[2];
	bool moh_on[2];
	struct call_sdes sdes;               /* call_sdes.c */
	/* call_early.c: a browser's early answer (`progress`) to a call from
	 * SIP: 183 with our SDP now, the same SDP in the 200 on `answer` */
	bool early;                          /* taken by `progress` */
	bool early_then_answer;              /* `answer` came before the 183 left */
	char *early_sip_sdp;                 /* owned (g_): our 183's SDP, once sent */
	char *early_webrtc_sdp;              /* owned (g_): the browser's progress answer */
	bool late_offer;                     /* in: the INVITE had no SDP; our 200
					      * offers (sip_offer is ours), the ACK
					      * answers */
	struct call_reneg *reneg;            /* owned: call_reneg.c, once the
					      * browser leg is negotiated */
};

/* call_trunk.c */
void tnd_call_trunks_init(struct tnd_calls *calls);
void tnd_call_trunks_free(struct tnd_calls *calls);
/* After a reload: pings follow the new [trunks]. */
void tnd_call_trunks_conf(struct tnd_calls *calls);
/* Routes a `call` to a dial string or tel: URI by [dialplan] for `user`:
 * sets call->trunk and call->trunk_ruri. 0; EPERM (no rule lets the user
 * call it), EBUSY (every trunk of every matching rule is down), EINVAL (not
 * a number), with why in msg. */
int tnd_call_trunk_route(struct tnd_call *call, const char *user, char *msg, size_t msglen);
/* EPERM with why in msg when `to` is a sip: URI straight at a trunk
 * (tnd_policy_check_trunk_bypass): a trunk is reached by dialling a number
 * the dial plan lets the user call there. Else 0. */
int tnd_call_trunk_bypass(struct tnd_calls *calls, const char *to, char *msg, size_t msglen);
/* The INVITE's request URI, credentials and codecs for a call through a
 * trunk; EACCES when the trunk left the configuration. */
int tnd_call_trunk_params(struct tnd_call *call, struct tnd_sipcall_params *p,
			  struct tnd_sip_cred *cred);
/* The SIP offer's codecs for the call's trunk: its codecs list first-to-last
 * among those we serve, then telephone-event; 0 when the call has no trunk
 * or the list names none we serve (then [media] sip_codecs applies). */
/* A call that came in from trunk t (its source, or its registration):
 * remembered as the call's trunk, whose codecs and SRTP policy then apply
 * to the SIP side as they do for calls out through it. 0 or ENOMEM. */
int tnd_call_trunk_in_media(struct tnd_call *call, const struct tnd_trunk *t);
size_t tnd_call_trunk_prefs(const struct tnd_call *call,
			    struct tnd_sdp_codec_pref out[CALL_MAX_PREFS]);
/* An INVITE from a trunk's source: the DID target for the Request-URI, or
 * NULL when the source is no trunk's. *err: ENOENT for an unknown DID; *tp
 * the trunk when there is a target. */
const char *tnd_call_trunk_inbound(struct tnd_calls *calls, const struct sockaddr *sa,
				   const char *ruri_user, int *err, const struct tnd_trunk **tp);
/* The user trunk t's DID `number` rings (an account's first user), or NULL
 * with *err ENOENT. */
const char *tnd_call_trunk_did_user(struct tnd_calls *calls, const struct tnd_trunk *t,
				    const char *number, int *err);

/* call_trunk_reg.c: registrations of [trunks] with register = true. conf
 * starts, keeps or replaces them after start-up and each reload (a trunk
 * whose registration settings are unchanged keeps its binding). free
 * detaches them: a live binding is un-registered unless SIP stops. */
void tnd_call_trunk_regs_conf(struct tnd_calls *calls);
void tnd_call_trunk_regs_free(struct tnd_calls *calls);
/* An INVITE to a registered Contact (info->reg_arg set): *is_trunk tells
 * whether that registration is a trunk's. If so, the Request-URI is our
 * Contact, so the DID is the To user (as providers deliver it); the target
 * user is returned, or NULL with *err: EPERM when the source is neither
 * the registrar nor in the trunk's `from` list, ENOENT for an unknown DID;
 * *tp the trunk when there is a target. */
const char *tnd_call_trunk_reg_inbound(struct tnd_calls *calls,
				       const struct tnd_sipcall_info *info, bool *is_trunk,
				       int *err, const struct tnd_trunk **tp);
/* Whether an INVITE's or MESSAGE's reg_arg is a trunk's registration (not
 * a user's: tnd_call_reg_user must not read it). */
bool tnd_call_trunk_reg_is(const struct tnd_calls *calls, const void *reg_arg);
/* Registration state of trunk `name` for admin.trunks, or false when it
 * does not register. */
bool tnd_call_trunk_reg_state(const struct tnd_calls *calls, const char *name,
			      const char **state, int *code, unsigned *expires);
void tnd_call_trunk_regs_metrics(const struct tnd_calls *calls, GString *out);
/* tandem_trunk_up{trunk=...} for /metrics. */
void tnd_call_trunks_metrics(const struct tnd_calls *calls, GString *out);

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
/* Points the bridge's SIP leg at the peer's media and routes the codecs
 * agreed on both legs. 0, or an errno with msg. */
int tnd_call_route(struct tnd_call *call, const struct tnd_sdp *sip_offer,
		   const struct tnd_sdp *sip_answer, const struct tnd_sdp_neg *webrtc,
		   char *msg, size_t msglen);
/* Writes an SDP to a new string (g_free). */
char *tnd_call_sdp_text(const struct tnd_sdp *sdp);
struct tnd_call *tnd_call_find(struct tnd_calls *calls, const char *id);

/* call_sdes.c: SDES-SRTP of the SIP leg. */
/* Sets the call's SDES policy (enum tnd_sip_srtp: [media] sip_srtp by
 * default, a trunk's when the call uses one) and, unless off, makes a new
 * key for each suite of [media] sip_srtp_suites (OpenSSL RAND_bytes).
 * Called again, it replaces policy and keys and forgets what was
 * installed: do so before the first offer (a trunk's policy), or after
 * tnd_bridge_swap_sip_leg gave the SIP leg a new socket, whose new
 * transport address wants new keys (RFC 4568 7.1.4), before the offer
 * that carries it. 0, EINVAL or EIO (no randomness). */
int tnd_call_sdes_init(struct tnd_call *call, int policy);
/* Puts our crypto lines and the policy's flags into a SIP tnd_sdp_local. */
void tnd_call_sdes_local(const struct tnd_call *call, struct tnd_sdp_local *l);
/* After an offer/answer on the SIP leg: installs the agreed keys on the
 * bridge's SIP leg (before its remote is set, so nothing leaves in clear),
 * or checks that plain RTP is allowed. ENOTSUP (mandatory, no SDES), EPROTO
 * (a crypto line that does not parse) or a bridge errno, with msg. */
int tnd_call_sdes_route(struct tnd_call *call, const struct tnd_sdp_neg *sn, char *msg,
			size_t msglen);
/* Wipes the keys (call destructor). */
void tnd_call_sdes_clear(struct tnd_call *call);

/* call_limit.c: [calls] limits (protocol.md). */
int tnd_call_limits_init(struct tnd_calls *calls);
void tnd_call_limits_free(struct tnd_calls *calls);
/* May `conn` (logged in as `user`, or NULL) place a call now? Takes one
 * attempt from the rate bucket. 0, or EAGAIN with msg naming the limit. */
int tnd_call_limit_out(struct tnd_calls *calls, void *conn, const char *user, char *msg,
		       size_t msglen);
/* Counts a new browser call against conn and user until it ends. */
void tnd_call_count_out(struct tnd_call *call, void *conn, const char *user);
/* The call's WebSocket changes (reattach) or goes (NULL, detached): its
 * max_per_connection count moves; the user's stays. */
void tnd_call_count_conn(struct tnd_call *call, void *conn);
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

/* call_reg.c */
int tnd_call_regs_init(struct tnd_calls *calls);
/* Un-registers every registration (shutdown) and frees them. */
void tnd_call_regs_free(struct tnd_calls *calls);
/* The user whose registration an INVITE's reg_arg names, or NULL. */
const char *tnd_call_reg_user(struct tnd_calls *calls, void *reg_arg);
/* A WebSocket closed: registrations of users left without one start their
 * grace time. */
void tnd_call_regs_conn_gone(struct tnd_calls *calls, void *conn);
/* Fills the SIP identity of an outgoing call placed as `account` (the
 * strings stay valid while conf and ubuf do). 0, or ENOENT / EACCES with
 * msg. */
int tnd_call_reg_identity(struct tnd_calls *calls, const char *account, const char *user,
			  struct tnd_sipcall_params *sp, struct tnd_sip_cred *cred,
			  char *ubuf, size_t ulen, char *msg, size_t msglen);
/* call_early.c */
/* `answer` after `progress` on the call's owner: 200 with the 183's SDP
 * (or, before the 183 left, right after it). sdp NULL or the progress
 * answer itself; another one gets EINVAL. */
int tnd_call_early_answer(struct tnd_call *call, const char *sdp, char *msg, size_t msglen);
/* The SIP-side socket of a `progress` is up: sends the 183 with `sip_sdp`
 * (taken, g_), tells the owner `early`, and answers at once when `answer`
 * already came. 0 or an errno. */
int tnd_call_early_sent(struct tnd_call *call, char *sip_sdp);

/* A call from SIP without an SDP offer: the browser is offered the SIP
 * side's first configured codec and Opus (want[4]; how many). */
size_t tnd_call_late_webrtc_prefs(const struct tnd_call *call, struct tnd_sdp_codec_pref *want);
/* The browser answered a late-offer call and the SIP-side socket is up:
 * 200 with our SIP offer (every [media] sip_codecs codec). 0 or an errno
 * with why. */
int tnd_call_late_200(struct tnd_call *call, char *why, size_t whylen);
/* The ACK of a late-offer call came: its answer routes the media and the
 * call is answered, or the call ends 488 without a usable one. */
void tnd_call_late_ack(struct tnd_call *call);

/* A call to SIP sent without SDP ([sip] late_offer) got its 2xx with the
 * peer's offer `sdp`: our answer goes in the ACK and the media is routed
 * (transcoded when the peer's codec is not the browser's), or the call
 * ends 488 (ACK, then BYE). */
void tnd_call_late_answered(struct tnd_call *call, int status, const char *phrase,
			    const char *sdp);

/* call_reattach.c */
/* The owner's WebSocket is gone: keeps the call for [calls] reattach_grace
 * when it can be reattached (answered or in progress, with a user); false
 * when the caller must end it as before. */
bool tnd_call_detach(struct tnd_call *call);
/* Stops the grace timer and the media-lost hold-off (the call ends, is
 * detached or reattached). */
void tnd_call_grace_stop(struct tnd_call *call);
/* A bridge state event that a detached call (or one getting a new WebRTC
 * leg) survives: the browser's leg failing, closing or going silent. A call
 * that could be detached and whose browser leg closes or fails while its
 * socket is up waits a moment first: a reloading page closes its pc and its
 * socket together, in either order. True when the caller should ignore
 * the event. */
bool tnd_call_media_grace(struct tnd_call *call, enum tnd_bridge_state state);
/* The new WebRTC leg's `ready` (call->reattaching): answers the pending
 * reattach request. */
void tnd_call_reattach_ready(struct tnd_call *call, int err, const char *ufrag,
			     const char *pwd, const char *const *cands, bool complete);
/* call_test.c: the built-in test destinations. The kind `to` names when
 * conf enables them, else -1. */
int tnd_call_test_kind(const struct tnd_conf *conf, const char *to);
/* Instead of the INVITE: a test peer answers our SIP offer and the bridge
 * is routed to it; `answered` follows from the loop. 0, or an errno with
 * msg. */
int tnd_call_test_answer(struct tnd_call *call, const struct tnd_sdp_neg *wn, char *msg,
			 size_t msglen);
/* call_obs.c: lifecycle hooks (call.h, struct tnd_call_observer). */
/* Tells the observer `ev` (created, ringing once, answered), stamping its
 * time. */
void tnd_call_emit(struct tnd_call *call, enum tnd_call_event ev);
/* Records who ends the call, unless someone already did. */
void tnd_call_by(struct tnd_call *call, enum call_by by);
/* The call is ending (tnd_call_end, before the bridge closes): `ended`
 * goes to the observer once the worker has handed over the media figures. */
void tnd_call_emit_ended(struct tnd_call *call, int code, const char *reason);
/* Records the codecs both legs agreed on. */
void tnd_call_set_codecs(struct tnd_call *call, const char *webrtc, unsigned wclock,
			 const char *sip, unsigned sclock);
void tnd_call_obs_init(struct tnd_calls *calls);
/* Reports the calls still waiting for figures without them, then forgets. */
void tnd_call_obs_free(struct tnd_calls *calls);
/* call_moh.c: hold music ([media] hold_music) after a hold exchange was
 * applied: toward the SIP peer while the browser holds and the peer
 * receives (to_sip), toward the browser while the peer holds it
 * (to_browser); started, moved to a new codec or stopped as needed. */
void tnd_call_moh_update(struct tnd_call *call, bool to_sip, bool to_browser);
/* Remembers a leg's codec for the music (tnd_call_join). */
void tnd_call_moh_codec(struct tnd_call *call, unsigned side, const struct tnd_bridge_codec *c);

/* call_codec.c: the SIP leg's codec list from the configuration (at
 * start-up); the browser offer's codecs for a call from SIP whose SIP side
 * agreed on `sip` (that codec when browsers have it, Opus, telephone-event;
 * returns the count); joins the codecs the legs agreed on, pass-through or
 * transcoded. sip_ptime: the ms we send on the SIP leg (0: 20). */
void tnd_call_codecs_init(struct tnd_calls *calls);
/* One codec and its telephone-event as answer preferences (the reattach
 * and test-destination answers); fmtp: copy the codec's fmtp too. */
size_t tnd_call_prefs(struct tnd_sdp_codec_pref want[2], const struct tnd_sdp_codec *codec,
		      const struct tnd_sdp_codec *dtmf, bool fmtp);
size_t tnd_call_webrtc_offer_prefs(struct tnd_sdp_codec_pref want[4],
				   const struct tnd_sdp_codec *sip, const struct tnd_sdp_codec *dtmf);
int tnd_call_join(struct tnd_call *call, const struct tnd_sdp_neg *webrtc,
		  const struct tnd_sdp_codec *sip, const struct tnd_sdp_codec *sip_dtmf,
		  unsigned sip_ptime, char *msg, size_t msglen);
/* call_dtmf.c */
/* Sets the bridge's DTMF for the negotiated legs, pass-through or
 * transcoded (call->transcoded, set by tnd_call_join first): `rm` is the
 * SIP peer's media section, `sip_codec` the SIP leg's audio codec. 0 or an
 * errno. */
int tnd_call_dtmf_route(struct tnd_call *call, const struct tnd_sdp_neg *webrtc,
			const struct tnd_sdp_media *rm, const struct tnd_sdp_codec *sip_codec);
/* The bridge's dtmf event (tnd_bridge_events.dtmf, arg: the call). */
void tnd_call_on_dtmf(void *arg, unsigned side, char digit, unsigned duration_ms,
		      enum tnd_bridge_dtmf_src src);
/* The SIP leg's INFO handler (tnd_sipcall_handlers.info, arg: the call). */
int tnd_call_on_info(void *arg, struct tnd_sipcall *sip, const char *ctype, const char *body,
		     size_t len);
/* Stops a pending INFO string (the call ends). */
void tnd_call_dtmf_stop(struct tnd_call *call);
/* call_metrics.c: /metrics' hooks in the call's life (gateway/base/stats.h):
 * started (an attempt), answered (set-up time), ended (the outcome's SIP
 * status class; before the phase becomes CALL_ENDED). */
void tnd_call_metrics_start(struct tnd_call *call);
void tnd_call_metrics_answered(struct tnd_call *call);
void tnd_call_metrics_end(struct tnd_call *call, int code);

/* call_xfer.c: transfer (REFER both ways) */
/* Hands sip/ the REFER callbacks (at tnd_calls_alloc). */
void tnd_call_xfer_init(struct tnd_calls *calls);
/* The call ends (or is freed): a referred party's leg still ringing is
 * dropped and the referrer told 487. Idempotent. */
void tnd_call_xfer_stop(struct tnd_call *call);
/* call_replace.c: an INVITE whose Replaces names `info->replaces` (RFC
 * 3891): it takes over that call's SIP leg, or is refused with a status
 * (the old call unchanged). The incoming handler's result: 0 when it
 * answered or refused the INVITE itself. */
int tnd_call_replace(struct tnd_calls *calls, struct tnd_sipcall *sip,
		     const struct tnd_sipcall_info *info);
/* call_hold.c: the SIP leg's offers inside the dialog (sip.h handlers,
 * arg: the call), and the call's hold state freed. */
int tnd_call_on_reoffer(void *arg, struct tnd_sipcall *sip, const char *sdp, bool update);
void tnd_call_on_reack(void *arg, struct tnd_sipcall *sip, const char *sdp);
void tnd_call_on_reanswered(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			    const char *sdp);
void tnd_call_hold_free(struct tnd_call *call);

/* call_reneg.c: the browser's `renegotiate` (a new offer on the same pc) */
/* The browser leg was negotiated (set-up or reattach): keeps our SDP text
 * on it (offer or answer), our DTLS role and the browser's ICE and DTLS
 * identity, which a later offer must keep. Idempotent; errors only log. */
void tnd_call_reneg_keep(struct tnd_call *call, const struct tnd_sdp *ours,
			 const struct tnd_sdp_media *browser_m, bool dtls_client);
/* Our re-INVITE of a renegotiation was answered (from
 * tnd_call_on_reanswered): true when it was one, and it is handled. */
bool tnd_call_reneg_answered(struct tnd_call *call, int status, const char *phrase,
			     const char *sdp);
/* The call ends: a pending renegotiation fails with `reason`. */
void tnd_call_reneg_stop(struct tnd_call *call, const char *reason);
/* Frees what tnd_call_reneg_keep kept (destructor). */
void tnd_call_reneg_free(struct tnd_call *call);

/* call_in.c */
int tnd_call_incoming(void *arg, struct tnd_sipcall *sip, const struct tnd_sipcall_info *info);
/* call_msg.c: a SIP MESSAGE (the UA's handler, arg the registry), and an
 * INFO that is not DTMF (from tnd_call_on_info): 0 or the errno sip/
 * answers with. */
int tnd_call_message_in(void *arg, const struct tnd_sipmsg_in *m);
int tnd_call_info_in(struct tnd_call *call, const char *ctype, const char *body, size_t len);

#endif
