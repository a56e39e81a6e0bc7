/* Calls: struct tnd_call pairs a browser's WebRTC leg (through the media
 * bridge) with a SIP dialog and runs the call's state machine, in both
 * directions. Signalling thread only.
 *
 * The API hands requests in with an opaque connection (a tnd_obj the call
 * keeps a reference to) and gets events back through a sink table it
 * implements, so no JSON crosses this boundary (jansson stays in api/).
 * Requests that need the media legs up first (`call`) answer through a
 * completion callback; the rest answer at once with an errno and a message
 * for the caller (style guide R5). */
#ifndef TND_GATEWAY_CALL_H
#define TND_GATEWAY_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct tnd_conf;
struct tnd_loop;
struct tnd_media_pool;
struct tnd_sipua;

/* What a call tells the WebSocket side. `conn` is the connection object the
 * API passed in; strings are borrowed for the call. */
struct tnd_call_sink {
	/* call.state: state is "trying", "ringing", "early", "answered" or
	 * "ended"; code 0 when no SIP status applies */
	void (*state)(void *conn, const char *call, const char *state, int code,
		      const char *reason);
	/* candidate notification; NULL candidate: completed */
	void (*candidate)(void *conn, const char *call, const char *cand);
	/* incoming notification (the gateway's offer for a call from SIP) */
	void (*incoming)(void *conn, const char *call, const char *from,
			 const char *from_display, const char *to, const char *sdp,
			 const char *const *hdr_names, const char *const *hdr_values,
			 size_t n_hdrs);
	/* registration notification: state "registered", "failed" or
	 * "unregistered"; expires granted (registered), retry_in seconds to
	 * the next attempt (failed) */
	void (*registration)(void *conn, const char *reg, const char *state, int code,
			     const char *reason, unsigned expires, unsigned retry_in);
	/* dtmf notification: a digit from the SIP side; source "rfc4733",
	 * "info" or "inband" */
	void (*dtmf)(void *conn, const char *call, char digit, unsigned duration_ms,
		     const char *source);
	/* info notification: an INFO from the SIP side that is not DTMF
	 * (call_msg.c); body is UTF-8 text */
	void (*info)(void *conn, const char *call, const char *content_type, const char *body);
	/* message notification: a SIP MESSAGE for the user; call NULL outside
	 * a dialog of the user's */
	void (*message)(void *conn, const char *from, const char *to, const char *body,
			const char *content_type, const char *call);
};

/* Finds the open connections of a logged-in user, for incoming calls:
 * writes up to max borrowed connection objects, returns how many. */
typedef size_t (tnd_call_lookup_h)(void *arg, const char *user, void **conns, size_t max);

/* ------------------------------------------------------------ lifecycle
 * What CDRs, call events and admin requests see of a call (call_obs.c,
 * docs/operations.md). Held and resumed come from call_hold.c,
 * transferred from call_xfer.c. */
enum tnd_call_event {
	TND_CALL_EV_CREATED,
	TND_CALL_EV_RINGING,
	TND_CALL_EV_ANSWERED,
	TND_CALL_EV_HELD,
	TND_CALL_EV_TRANSFERRED,
	TND_CALL_EV_ENDED,
	TND_CALL_EV_RESUMED,       /* after a hold (call_hold.c) */
};

/* One leg's media as its worker counted it (RFC 3550 A.3, A.8, 6.4.1). */
struct tnd_call_leg_fig {
	uint64_t packets_in, packets_out;
	uint64_t bytes_in;
	int64_t lost;              /* expected less received, of what we received */
	double jitter_ms;          /* interarrival jitter of what we received */
	int rtt_ms;                /* from the peer's receiver reports; -1 unknown */
};

/* A snapshot of a call. Strings are never NULL ("" when unknown) and are
 * borrowed for the callback that hands the snapshot over. */
struct tnd_call_info {
	const char *id;
	const char *sip_call_id;
	const char *user;          /* logged-in user: the caller (out), the callee (in) */
	const char *from, *to;
	const char *direction;     /* "outbound" (browser to SIP) or "inbound" */
	const char *trunk;         /* "" until trunks exist */
	const char *state;         /* "setup", "ringing", "answered", "ended" */
	int64_t start_us, ringing_us, answer_us, end_us;   /* real time; 0: not (yet) */
	const char *ended_by;      /* "browser", "sip" or "gateway"; "" while up */
	int code;                  /* final SIP status; 0 when none applied */
	const char *reason;
	const char *codec_webrtc;  /* "PCMU/8000"; "" before negotiation */
	const char *codec_sip;
	const char *media_mode;    /* "pass-through" or "transcoded" */
	bool has_media;            /* leg[] holds the worker's figures */
	struct tnd_call_leg_fig leg[2];   /* 0: the browser's leg, 1: the SIP leg */
};

/* A snapshot of a registration (call_reg.c). Strings are never NULL ("" when
 * unknown) and are borrowed for the callback that hands the snapshot over. */
struct tnd_reg_info {
	const char *id;            /* the account name, or the inline uri */
	const char *user;          /* the logged-in user it belongs to */
	const char *aor;           /* address of record */
	const char *registrar;     /* as configured; "" = the AOR's domain */
	const char *state;         /* "registering", "registered", "failed",
				    * "unregistered" */
	int code;                  /* last SIP status; 0 when none came yet */
	const char *reason;        /* its phrase ("" with code 0) */
	unsigned expires;          /* seconds granted by the last 2xx; 0 when not registered */
	unsigned retry_in;         /* failed: seconds to the next attempt */
	const char *contact;       /* our Contact's user part (sip:<contact>@...) */
	int64_t changed_us;        /* real time of the last state change */
	unsigned sockets;          /* the user's WebSockets open now */
	int grace_left;            /* with no socket: seconds until it is removed;
				    * -1 when not in its grace time */
};
typedef void (tnd_reg_info_h)(void *arg, const struct tnd_reg_info *info);

/* Lifecycle events, on the signalling thread, in order per call; `ended`
 * comes once, after the media worker has handed over the call's figures
 * (or, at shutdown, from tnd_calls_free without them). `registration`
 * (or NULL) reports a registration whose state or status code changed:
 * registered, failed or unregistered (a refresh that changes neither is
 * not reported); registrations still alive at tnd_calls_free are not. */
struct tnd_call_observer {
	void (*event)(void *arg, enum tnd_call_event ev, const struct tnd_call_info *info);
	void (*registration)(void *arg, const struct tnd_reg_info *info);
};

/* The drain is over: no call is left (signalling thread, from the loop). */
typedef void (tnd_calls_drained_h)(void *arg);

struct tnd_moh;   /* gateway/media: hold music */
struct tnd_calls_env {
	const struct tnd_conf *conf;         /* borrowed; swap with tnd_calls_set_conf */
	struct tnd_loop *signal;             /* borrowed */
	struct tnd_media_pool *media;        /* borrowed */
	struct tnd_sipua *sip;               /* borrowed */
	const struct tnd_call_sink *sink;    /* borrowed, static */
	tnd_call_lookup_h *lookup;
	void *lookup_arg;
	tnd_calls_drained_h *drained;        /* or NULL */
	void *drained_arg;
	const struct tnd_call_observer *observer;   /* borrowed, static; or NULL */
	void *observer_arg;
	struct tnd_moh *moh;                 /* borrowed: [media] hold_music; NULL silence */
};

/* The [trunks] entry an outgoing call was routed through by the dial plan
 * (gateway/policy/dialplan.h: its srtp policy, codecs...), or NULL for a
 * call to a sip: URI. Borrowed from the running configuration: valid until
 * the next reload, on the signalling thread. */
struct tnd_trunk;
struct tnd_call;
const struct tnd_trunk *tnd_trunk_for_call(const struct tnd_call *call);

/* A snapshot of a [trunks] entry for admin.trunks (call_trunk.c); strings
 * borrowed for the callback. */
struct tnd_trunk_info {
	const char *name;
	const char *address;
	const char *transport;   /* "" when the address says */
	const char *srtp;        /* "off", "optional", "mandatory" */
	bool up;                 /* false after two failed OPTIONS pings in a row */
	bool pinged;             /* options_ping is on */
	unsigned fails;          /* failed pings in a row */
	size_t dids;
	/* register = true: "registering", "registered", "failed" or
	 * "unregistered", the last SIP status (0 none yet) and the seconds
	 * granted; reg_state NULL when the trunk does not register */
	const char *reg_state;
	int reg_code;
	unsigned reg_expires;
};
typedef void (tnd_trunk_info_h)(void *arg, const struct tnd_trunk_info *info);
struct tnd_calls;
void tnd_calls_trunk_foreach(struct tnd_calls *calls, tnd_trunk_info_h *h, void *arg);

/* Single owner: tnd_calls_alloc / tnd_calls_free. The registry of calls. */
struct tnd_calls;

int tnd_calls_alloc(struct tnd_calls **callsp, const struct tnd_calls_env *env);
/* Hangs up every call without further events; then frees. */
void tnd_calls_free(struct tnd_calls *calls);
void tnd_calls_set_conf(struct tnd_calls *calls, const struct tnd_conf *conf);
/* Hangs up every call (SIGTERM); events still flow. */
void tnd_calls_hangup_all(struct tnd_calls *calls);

/* Starts a graceful drain (SIGUSR1, or an admin request): from now on
 * `call` gets EBUSY ("the gateway is draining") and an INVITE 503 with
 * Retry-After; calls up continue. When the last has ended, or [calls]
 * drain_timeout seconds on (the rest then ended as by
 * tnd_calls_hangup_all), env.drained runs once, from the loop. 0, EINVAL,
 * or EALREADY when a drain runs already. */
int tnd_calls_drain_start(struct tnd_calls *calls);
/* Whether a drain has started (for /readyz). */
bool tnd_calls_draining(const struct tnd_calls *calls);

/* Completion of a deferred request: err 0 with the call id and our SDP
 * answer, or an errno (mapped by the API's error table) with a message. */
typedef void (tnd_call_done_h)(void *req, int err, const char *msg, const char *call,
			       const char *sdp);

struct tnd_call_params {
	const char *to;             /* SIP URI, tel: URI or dial string */
	const char *sdp;            /* the browser's offer */
	const char *from_user;      /* the logged-in user, or NULL */
	const char *from_display;   /* or NULL */
	const char *const *hdr_names;   /* X- headers */
	const char *const *hdr_values;
	size_t n_hdrs;
	const char *account;        /* [accounts] name to call as (From, proxy,
				     * digest credentials), or NULL */
};

/* A call from the browser to SIP. On 0, done(req, ...) follows exactly once
 * (it may run before this returns); `req` is a tnd_obj the call holds a
 * reference to until then. Else an errno, with a message in msg, and done
 * is not called: EAGAIN past a [calls] limit (max_per_connection for conn,
 * max_per_user or rate for from_user; without a user the connection's own
 * rate counts), checked before anything else. */
int tnd_calls_start(struct tnd_calls *calls, void *conn, const struct tnd_call_params *p,
		    tnd_call_done_h *done, void *req, char *msg, size_t msglen);
/* The browser's answer to an `incoming` offer; after tnd_calls_progress
 * sdp may be NULL (else it must be the progress answer). */
int tnd_calls_answer(struct tnd_calls *calls, void *conn, const char *call, const char *sdp,
		     char *msg, size_t msglen);
/* Early media from the browser (`progress`): its answer to an `incoming`
 * offer, before `answer`. The call is this connection's from now on (the
 * others get `ended` "answered elsewhere"), the SIP caller gets 183 with
 * our SDP (reliable when it required 100rel) and media flows both ways;
 * the owner gets call.state `early`. A later tnd_calls_answer (sdp NULL or
 * the same) sends the 200. Errors as tnd_calls_answer. */
int tnd_calls_progress(struct tnd_calls *calls, void *conn, const char *call, const char *sdp,
		       char *msg, size_t msglen);
/* Refuses an incoming call with a SIP status (400-699). */
int tnd_calls_reject(struct tnd_calls *calls, void *conn, const char *call, int code,
		     char *msg, size_t msglen);
/* Ends the call for the browser at once (`ended` 487 before the answer,
 * 200 after, reason "hung up"; an incoming call still ringing is rejected
 * 486 instead); CANCEL or BYE goes out and the dialog is forgotten after
 * [calls] linger if the peer never finishes it. */
int tnd_calls_hangup(struct tnd_calls *calls, void *conn, const char *call, char *msg,
		     size_t msglen);
/* A trickled browser candidate ("candidate:..." or "a=candidate:..."), or
 * NULL for completed. */
int tnd_calls_candidate(struct tnd_calls *calls, void *conn, const char *call,
			const char *cand, char *msg, size_t msglen);
/* Sends digits (0-9 * # A-D, 1..64 of them) to the SIP side of an answered
 * call, each duration_ms long (40..2000) and gap_ms (0..2000) apart, the way
 * [calls] dtmf_mode picks for this call. ENOENT, EINVAL (digits or a range,
 * with msg naming the field), EALREADY before the call is answered,
 * EAGAIN when more than 64 digits would wait to go out as SIP INFO. */
int tnd_calls_dtmf(struct tnd_calls *calls, void *conn, const char *call, const char *digits,
		   unsigned duration_ms, unsigned gap_ms, char *msg, size_t msglen);
/* call_hold.c. `hold` true: puts an answered call on hold (a re-INVITE
 * with a=sendonly; the bridge relays nothing either way meanwhile), false:
 * resumes it (a=sendrecv). The browser leg is not renegotiated. Returns
 * once the re-INVITE is out; call.state `held` / `resumed` follows when the
 * peer accepts it (a refusal gives call.state with the last state and the
 * SIP status). ENOENT, EALREADY (not answered, already in that state, or
 * an offer under way on the SIP leg), ENOMEM. */
int tnd_calls_hold(struct tnd_calls *calls, void *conn, const char *call, bool hold, char *msg,
		   size_t msglen);
/* For other parts of gateway/call (transfer, renegotiation): sends a
 * re-INVITE with `sdp` (our complete new SIP offer: same o= id, version
 * + 1) on the call's answered SIP leg; the peer's answer is applied to the
 * bridge like a hold's (re-routed when address, port or codec changed).
 * 491 is retried inside sip/. EINVAL, EALREADY (not answered, or an offer
 * under way), EBUSY, ENOMEM. */
struct tnd_call;
int tnd_call_sip_reinvite(struct tnd_call *call, const char *sdp);
/* The connection is gone. Calls it rings on stop ringing there. Calls it
 * owns that have a user and are past set-up are kept, detached, for
 * [calls] reattach_grace seconds (0: they end at once, as do calls
 * without a user): the SIP side hears nothing, the browser leg's failure
 * or silence does not end them, and after the grace they end (BYE, or
 * CANCEL before the answer) with the reason "browser gone for N s". */
void tnd_calls_conn_gone(struct tnd_calls *calls, void *conn);
/* The connection logs out: calls it owns end as by tnd_calls_hangup
 * (reason "logged out", the owner is told), calls it rings on stop
 * ringing there. */
void tnd_calls_logout(struct tnd_calls *calls, void *conn);

/* One of a user's detached calls, for login's `calls` list. Borrowed. */
struct tnd_call_brief {
	const char *call;
	const char *state;     /* the last call.state: "trying", "ringing", "early",
				* "answered" */
	const char *peer;      /* the SIP side's URI */
	bool incoming;         /* from SIP */
};
typedef void (tnd_call_brief_h)(void *arg, const struct tnd_call_brief *info);
/* Calls h for each of `user`'s detached calls. */
void tnd_calls_detached(struct tnd_calls *calls, const char *user, tnd_call_brief_h *h,
			void *arg);
/* Binds the call to conn (logged in as `user`), the `reattach` method.
 * Without sdp the browser's pc survived: notifications resume on conn and
 * done(req, 0, NULL, call, NULL) runs before this returns. With sdp (a new
 * offer: the page was reloaded) the gateway makes a new WebRTC leg in the
 * call's bridge, the SIP leg untouched, and done gets the answer once the
 * leg is up. A call owned by another live connection of the same user is
 * taken over: that one gets `ended` with reason "taken over". On 0, done
 * follows exactly once; `req` is a tnd_obj held until then. Else an errno
 * with msg, and done is not called: ENOENT unknown call, EPERM another
 * user's (or a call without a user), EALREADY a call still being set up,
 * ringing, or getting a new leg, ENOTSUP (the caller answers 488) an offer
 * without the codec the SIP leg carries, EINVAL an offer that does not
 * parse. */
int tnd_calls_reattach(struct tnd_calls *calls, void *conn, const char *user, const char *call,
		       const char *sdp, tnd_call_done_h *done, void *req, char *msg,
		       size_t msglen);

/* `renegotiate` (protocol.md): a new offer from the browser's pc on an
 * answered call, keeping its ICE and DTLS. done follows with our answer
 * once the SIP side agreed (at once when nothing material changed), or
 * err: an errno, or the SIP status (>= 300) the peer refused with (msg
 * its reason phrase); the call stays as it was then. An immediate refusal returns EINVAL (SDP),
 * ENOENT, EALREADY (not answered, or an offer under way), ENOTSUP (ICE
 * restart, new DTLS, nothing usable) with msg. */
int tnd_calls_renegotiate(struct tnd_calls *calls, void *conn, const char *call,
			  const char *sdp, tnd_call_done_h *done, void *req, char *msg,
			  size_t msglen);

/* A `register` request: a configured account, or (with [sip]
 * register_inline) one given inline. Borrowed for the call. */
struct tnd_reg_params {
	const char *account;        /* [accounts] name, or NULL for inline */
	const char *uri;            /* inline: sip:user@domain */
	const char *auth_user, *password, *registrar, *proxy, *transport;
	const char *ha1;            /* inline: MD5(auth_user:realm:password), hex */
	int expires;                /* 0: the account's (inline: 3600) */
};

/* Registers an account for `user` (its logged-in name; NULL gets EACCES).
 * Registrations belong to the user, not the WebSocket: every socket of the
 * user gets the `registration` notifications and rings for INVITEs to the
 * registered Contact; after the user's last socket closes the registration
 * stays [sip] register_grace seconds. Registering an account that is
 * registered already for the user joins it. On 0, `id` holds the
 * registration's id (the account name, or the inline uri) and `state` its
 * state now ("registering", "registered", "failed"); notifications follow.
 * EACCES (not the user's account), ENOENT (no such account), EINVAL (bad
 * inline parameters, or inline not allowed: EPERM), EBUSY, ENOMEM. */
int tnd_calls_register(struct tnd_calls *calls, void *conn, const char *user,
		       const struct tnd_reg_params *p, char *id, size_t idlen,
		       const char **state, char *msg, size_t msglen);
/* Removes the user's registration `reg` (un-REGISTER); `registration`
 * unregistered follows to the user's sockets. ENOENT when there is none. */
int tnd_calls_unregister(struct tnd_calls *calls, void *conn, const char *user,
			 const char *reg, char *msg, size_t msglen);
/* Registrations alive (for stats and leak checks). */
unsigned long tnd_calls_registrations(const struct tnd_calls *calls);
/* Admin requests: a snapshot of every live registration (including those
 * in their grace time or being removed), in no order. */
void tnd_calls_reg_foreach(struct tnd_calls *calls, tnd_reg_info_h *h, void *arg);

/* ------------------------------------------------------------ INFO, MESSAGE
 * call_msg.c (issue 11 item 6). */

/* The SIP peer's final answer to an `info` or `message`: its status
 * (200-699), or 0 when none will come (the call ended, the gateway stops),
 * with phrase saying why. Runs once, from the loop; `req` is a tnd_obj held
 * until then. */
typedef void (tnd_call_sent_h)(void *req, int status, const char *phrase);

/* An INFO in the answered call's dialog, with any text content_type and
 * body (UTF-8, at most 8 KiB). On 0 done follows; else an errno with msg:
 * ENOENT no such call on conn, EALREADY not answered (or no SIP leg),
 * EINVAL a bad content_type or body. */
int tnd_calls_info(struct tnd_calls *calls, void *conn, const char *call,
		   const char *content_type, const char *body, tnd_call_sent_h *done, void *req,
		   char *msg, size_t msglen);

/* A `message`: `call` (in that call's dialog, as tnd_calls_info) or `to`
 * (outside any dialog, From the logged-in `user`, or with `account` as
 * that account of the user, as `call` takes it: its From, proxy and digest
 * credentials; ENOENT / EACCES as there, EINVAL with `call`). content_type
 * NULL is text/plain. `to` passes the dial plan as a call's would (EPERM). */
struct tnd_msg_params {
	const char *to;
	const char *call;
	const char *content_type;
	const char *body;
	const char *account;
};
int tnd_calls_message(struct tnd_calls *calls, void *conn, const char *user,
		      const struct tnd_msg_params *p, tnd_call_sent_h *done, void *req,
		      char *msg, size_t msglen);
/* The `transfer` method (call_xfer.c, protocol.md): REFER in the call's
 * dialog, blind to `to` (checked against the dial plan: EPERM) or attended
 * with `replaces`, another answered call of the same user, whose peer gets
 * the call with Replaces. 0 once the REFER is sent: call.state
 * `transferring` follows with each progress status, then `ended` with
 * reason "transferred" (both calls, attended) or `answered` again with the
 * failure's status. ENOENT (no such call), EINVAL (neither or both of to
 * and replaces; not a sip: URI), EALREADY (not answered, no SIP leg, or a
 * transfer under way), each with msg. */
int tnd_calls_transfer(struct tnd_calls *calls, void *conn, const char *call, const char *to,
		       const char *replaces, char *msg, size_t msglen);

/* One leg's media figures for `stats` with params.call (protocol.md). */
struct tnd_call_leg_stats {
	char codec[16];               /* "opus", "PCMU", ... */
	unsigned clock;
	bool transcoded;              /* what arrives on this leg is decoded */
	unsigned long long packets_in, packets_out;
	long lost;                    /* RFC 3550 cumulative, of what arrives */
	unsigned jitter_ms;           /* interarrival jitter of what arrives */
	int rtt_ms;                   /* from the peer's RTCP; -1 unknown */
	double remote_loss;           /* the peer's last report about ours, 0..1 */
	unsigned remote_jitter_ms;
	unsigned long long rtcp_in, rtcp_out;
	unsigned jb_delay_ms;         /* transcoded legs: jitter-buffer delay now */
	unsigned long long frames_decoded, concealed, fec_recovered;
};
struct tnd_call_stats {
	bool transcoded;
	struct tnd_call_leg_stats leg[2];   /* [0] the browser's, [1] the SIP side's */
};
/* `stats` done: st NULL with err set when the call's media was gone. */
typedef void (tnd_call_stats_h)(void *req, int err, const struct tnd_call_stats *st);
/* Reads a call's media figures from its worker; `done` runs once, later,
 * on the signalling thread, unless this returns an errno (ENOENT: no such
 * call on conn; EALREADY: its media is not set up yet). `req` is a tnd_obj
 * held until then. */
int tnd_calls_media_stats(struct tnd_calls *calls, void *conn, const char *call,
			  tnd_call_stats_h *done, void *req, char *msg, size_t msglen);

/* Live objects, for the `stats` method and the leak tests. */
struct tnd_calls_stats {
	unsigned long calls;          /* live now */
	unsigned long calls_total;
	unsigned long sip_dialogs;
	long bridges;
	long media_legs;
	long media_ports;
	long media_dropped;           /* garbage dropped by ended calls' media legs */
	unsigned long registrations;  /* live now, including those in their grace time */
};
void tnd_calls_stats(const struct tnd_calls *calls, struct tnd_calls_stats *st);

/* Admin requests (call_obs.c). A snapshot of every live call, in no order,
 * without media figures. */
typedef void (tnd_call_info_h)(void *arg, const struct tnd_call_info *info);
void tnd_calls_foreach(struct tnd_calls *calls, tnd_call_info_h *h, void *arg);
/* One call with its media figures: h(arg, info) runs once, from the loop
 * when the call's worker has answered (before this returns when the call
 * has no media yet); arg is a tnd_obj held until then. 0, or ENOENT or
 * ENOMEM with msg. */
int tnd_calls_query(struct tnd_calls *calls, const char *id, tnd_call_info_h *h, void *arg,
		    char *msg, size_t msglen);
/* Ends a call as the gateway: BYE once answered, CANCEL (487) while an
 * outgoing call rings, 480 to an incoming one; the browser gets `ended`
 * with `reason`. 0, or ENOENT with msg. */
int tnd_calls_kill(struct tnd_calls *calls, const char *id, const char *reason, char *msg,
		   size_t msglen);
/* /metrics gauges of the call layer (a tnd_api_metrics_h; arg is the
 * struct tnd_calls): live calls by direction and media mode, SIP
 * registrations, media workers' load and bridges, in Prometheus text
 * format. Signalling thread. */
void tnd_calls_metrics_write(void *arg, GString *out);

#endif
