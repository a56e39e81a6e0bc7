/* The SIP leg: Sofia-SIP's NUA on the signalling thread's GLib context.
 * SDP is an opaque string here; nothing in this module knows WebRTC or the
 * API. Sofia's tag lists stay inside this module (style guide, Traps).
 *
 * Threads: every function here, and every callback it makes, runs on the
 * signalling thread (the one running the GMainContext given to
 * tnd_sipua_alloc). Callbacks never run inside the API call that caused
 * them: Sofia queues its work, so a callback always comes from the loop. */
#ifndef TND_SIP_SIP_H
#define TND_SIP_SIP_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

struct sockaddr;

/* The SIP part of the configuration, filled by gateway/conf. */
struct tnd_sip_conf {
	const char *listen;     /* borrowed: IP literal */
	int port;
	bool udp;
	bool tcp;
	const char *user_agent; /* borrowed */

	/* Inbound access (review H4). Zero values: loopback trusted when
	 * listening on loopback, no rate limit, no blocking. */
	const char *trusted;    /* borrowed: addresses and CIDR prefixes, comma-separated;
				 * NULL or "" = loopback when `listen` is loopback, else none */
	const char *inbound_user;     /* borrowed: digest credentials an untrusted source
				       * must give for an INVITE; NULL/"" = untrusted get 403 */
	const char *inbound_password; /* borrowed */
	unsigned rate;          /* INVITEs + OPTIONS per second per untrusted source; 0 = any */
	unsigned block_after;   /* refused requests within block_time that block a source */
	unsigned block_time;    /* seconds */

	/* SIP over TCP (abuse probe: idle and half-closed connections). 0 = no
	 * limit. Half-closed connections are closed whatever these say. */
	unsigned tcp_idle;      /* seconds without a byte before a connection is closed */
	unsigned tcp_max;       /* accepted connections in total */
	unsigned tcp_max_per_source;
	/* Seconds an outgoing call may spend resolving a host name (SRV, then
	 * A/AAAA, in GLib's resolver threads, never on the signalling thread)
	 * before it ends with 504; 0 = 5. */
	int dns_timeout;

	/* SIP over TLS (sip/tls.c): sips: URIs and ;transport=tls. */
	bool tls;
	int tls_port;
	const char *tls_cert;   /* borrowed: PEM certificate file; needed with tls */
	const char *tls_key;    /* borrowed: PEM key file; needed with tls */
	const char *tls_ca;     /* borrowed: PEM CA file; NULL/"" = the system's bundle */
	bool tls_verify;        /* outgoing: refuse servers not signed by tls_ca */
	/* NAT: host or IP for Contact, Via and From; NULL/"" = listen */
	const char *external_address;
	unsigned keepalive;     /* seconds between CRLF pings on TCP connections; 0 off */
	/* RFC 4028 session timers (sip/reinvite.c): the Session-Expires we ask
	 * for and grant, 0 = none asked (a peer's is still honoured); the
	 * smallest we accept (a shorter one gets 422), at least 90. */
	unsigned session_expires;
	unsigned min_se;
};

/* Once per process, before any user agent and before workers start. */
void tnd_sip_init(void);
void tnd_sip_deinit(void);

/* Single owner: tnd_sipua_alloc / tnd_sipua_free. One per SIP profile. */
struct tnd_sipua;

/* Binds the configured transports; EADDRINUSE when it cannot. */
int tnd_sipua_alloc(struct tnd_sipua **uap, GMainContext *ctx, const struct tnd_sip_conf *conf);

/* Where our calls go and who they say they are from; call it after
 * tnd_sipua_alloc and before placing calls (an INVITE already sent keeps
 * its route). `outbound_proxy` ("sip:host:port"): every request we send
 * goes there first, request URI unchanged; NULL or "" = none, route by the
 * request URI (tel: URIs then fail). `public_host`: host part of our From
 * (sip:user@public_host); NULL or "" = the listen address. A setter rather
 * than conf fields because callers fill tnd_sip_conf field by field.
 * EINVAL (nothing changed) for a proxy that is not a sip:/sips: URI or a
 * host that is not a host name or IP literal; ENOMEM. */
int tnd_sipua_set_outbound(struct tnd_sipua *ua, const char *outbound_proxy,
			   const char *public_host);

typedef void (tnd_sipua_done_h)(void *arg);
/* Refuses new calls (503 in, EBUSY out), ends every live call (CANCEL, BYE,
 * or 503 for an unanswered incoming one) and waits for those to finish, at
 * most 3 s, then stops Sofia. Each call not detached gets its `ended`
 * (TND_SIPCALL_END_SHUTDOWN unless it had already ended for another reason)
 * before `done` runs on the loop. */
void tnd_sipua_shutdown(struct tnd_sipua *ua, tnd_sipua_done_h *done, void *arg);
/* After shutdown, or on a start-up error path (then calls still live are
 * cut without callbacks). NULL-safe. */
void tnd_sipua_free(struct tnd_sipua *ua);

/* Live INVITE dialogs: calls whose Sofia handle still exists, from
 * tnd_sipcall_invite() or an incoming INVITE until just after `ended`.
 * For the gateway's leak counter. */
unsigned tnd_sipua_calls(const struct tnd_sipua *ua);

/* ------------------------------------------------------------ calls */

/* One INVITE dialog, in either direction. Refcounted (tnd_obj first):
 * tnd_obj_get / tnd_obj_put. The UA holds its own reference while the
 * dialog lives, so an owner may drop its reference inside any callback.
 * An owner that is done with a call calls tnd_sipcall_detach() and then
 * drops its reference: after detach no callback fires (R3, janus#2188). */
struct tnd_sipcall;

/* Why a call ended; `status` and `phrase` of the ended callback add the SIP
 * detail. */
enum tnd_sipcall_end {
	TND_SIPCALL_END_LOCAL,          /* our hangup/reject/CANCEL finished (a 487
					 * after our CANCEL is LOCAL) */
	TND_SIPCALL_END_REJECTED,       /* the peer answered our INVITE 300-699 */
	TND_SIPCALL_END_REMOTE_BYE,     /* the peer sent BYE */
	TND_SIPCALL_END_REMOTE_CANCEL,  /* the caller cancelled an incoming call (487) */
	TND_SIPCALL_END_NETWORK,        /* no answer or transport failure: made locally
					 * (408 timeout, 503 unreachable), or no ACK
					 * for our 2xx */
	TND_SIPCALL_END_SHUTDOWN,       /* the user agent is stopping */
	TND_SIPCALL_END_ERROR,          /* anything else (Sofia's internal errors, 9xx) */
};

/* "local", "rejected", ...: for logs and the test driver. */
const char *tnd_sipcall_end_name(enum tnd_sipcall_end why);

/* A header passed through the gateway: only "X-" headers cross. */
struct tnd_sip_header {
	const char *name;   /* "X-Foo": "X-" then 1-64 token characters */
	const char *value;  /* up to 1,024 bytes, no CR, LF or other control */
};

#define TND_SIPCALL_MAX_HEADERS 16

/* 1xx to our INVITE: 180, 183... (nua keeps 100 Trying to itself). `sdp`
 * is the body when the response carries one (early media, usually 183),
 * else NULL. Responses of different forks all come here (one may ring, the
 * next bring early SDP). nua PRACKs a reliable one (RSeq, RFC 3262)
 * itself. None after tnd_sipcall_hangup(). */
typedef void (tnd_sipcall_progress_h)(void *arg, struct tnd_sipcall *call, int status,
				      const char *phrase, const char *sdp);
/* 2xx to our INVITE (the ACK is sent for us, except after a late offer:
 * tnd_sipcall_ack). `sdp` is the answer (the offer, after a late offer),
 * NULL if the peer sent none: the owner should then hang up. Only the first 2xx
 * is reported; Sofia ACKs a later 2xx from another fork and ends that
 * dialog with BYE by itself. Not after tnd_sipcall_hangup(). */
typedef void (tnd_sipcall_answered_h)(void *arg, struct tnd_sipcall *call, int status,
				      const char *phrase, const char *sdp);
/* The ACK for our 2xx to an incoming call arrived: the dialog is confirmed
 * (for a late offer, tnd_sipcall_remote_sdp() now holds its answer). */
typedef void (tnd_sipcall_ack_h)(void *arg, struct tnd_sipcall *call);
/* Exactly once per call that is not detached, last of its callbacks. */
typedef void (tnd_sipcall_ended_h)(void *arg, struct tnd_sipcall *call, int status,
				   const char *phrase, enum tnd_sipcall_end why);

/* An INFO arrived in the call's dialog (RFC 6086): its Content-Type
 * (type/subtype in lower case, no parameters; "" without one) and body
 * (not NUL-terminated, at most TND_SIP_TEXT_MAX bytes; longer ones get 413
 * first).
 * Return 0 to answer 200, ENOTSUP for 415 (a body type not taken), any
 * other errno (EBADMSG) for 400. Without the callback every INFO gets 415. */
typedef int (tnd_sipcall_info_h)(void *arg, struct tnd_sipcall *call, const char *ctype,
				 const char *body, size_t len);

/* An offer inside the established dialog (sip/reinvite.c): a re-INVITE or
 * (update true) an UPDATE that changes the session, with its SDP, or a
 * re-INVITE without a body (sdp NULL: answer with our offer; the ACK's
 * answer comes to `reack`). A byte-identical repeat of the peer's last SDP,
 * and an UPDATE without a body, are session refreshes answered by sip/ with
 * our last SDP, without a callback. The owner answers with
 * tnd_sipcall_reanswer(), inside the callback or later, and returns 0; or
 * returns an errno and sip/ refuses it, the dialog left as it was: ENOTSUP
 * 488, EBUSY or EALREADY 491, EINVAL 400, else 500. Without the callback a
 * changed offer gets 488. */
typedef int (tnd_sipcall_reoffer_h)(void *arg, struct tnd_sipcall *call, const char *sdp,
				    bool update);
/* The ACK of an offerless re-INVITE we answered with an offer: `sdp` is its
 * answer, NULL when the ACK had none. */
typedef void (tnd_sipcall_reack_h)(void *arg, struct tnd_sipcall *call, const char *sdp);
/* The final response to our tnd_sipcall_reinvite(): 2xx with the answer
 * (`sdp`, NULL if none came), or the failure (the dialog stays as it was,
 * unless the peer then ends it: `ended` follows). A 491 (glare) is retried
 * inside sip/ and reported only when it keeps coming, or when the peer's
 * own offer was answered while ours waited for its retry (then our offer
 * is out of date: 491 is reported instead of the retry, and the owner
 * may build a new one on the session as it now stands). */
typedef void (tnd_sipcall_reanswered_h)(void *arg, struct tnd_sipcall *call, int status,
					const char *phrase, const char *sdp);

/* Every pointer may be NULL but `ended`. Borrowed: the table must outlive
 * the call (a static const table). Strings passed to the callbacks are
 * borrowed for the duration of the callback. */
struct tnd_sipcall_handlers {
	tnd_sipcall_progress_h *progress;
	tnd_sipcall_answered_h *answered;
	tnd_sipcall_ack_h *ack;
	tnd_sipcall_ended_h *ended;
	tnd_sipcall_info_h *info;
	/* sip/reinvite.c */
	tnd_sipcall_reoffer_h *reoffer;
	tnd_sipcall_reack_h *reack;
	tnd_sipcall_reanswered_h *reanswered;
};

/* Digest credentials for requests we send (RFC 3261 22.2, RFC 2617 with
 * qop=auth). Sofia computes MD5 (and MD5-sess); Sofia-SIP 1.12 has no
 * SHA-256 (RFC 8760), so a SHA-256 challenge is answered by sip/ itself
 * (preferred over MD5; a password is needed, an MD5 ha1 cannot serve):
 * REGISTER is sent again on its handle, an initial INVITE on a new one with
 * the same Call-ID, a re-INVITE, REFER, MESSAGE or INFO in the dialog as a
 * new request. Pre-emptive: once an account (its user) was challenged,
 * its later requests (the next calls' INVITEs, every request in their
 * dialogs) carry credentials from the cached challenges, one per realm, nc
 * counted up, so a server that lets a nonce live answers without a
 * 401/407. nua ends the session at any final answer to a BYE, a SHA-256
 * challenge included: the BYE of a call we placed then goes again with
 * credentials as a request of its own (`ended` has reported the 401/407). */
struct tnd_sip_cred {
	const char *user;       /* authentication user name, no ':' or control */
	const char *password;   /* NULL when ha1 is given */
	const char *ha1;        /* NULL, or 32 hex digits: MD5(user:realm:password) */
};

/* 0 or EINVAL: the user has no ':' and exactly one of password and ha1 is
 * usable. */
int tnd_sip_cred_check(const struct tnd_sip_cred *cred);

/* Parameters of an outgoing call; all borrowed for the call of
 * tnd_sipcall_invite() only (they are copied). */
struct tnd_sipcall_params {
	/* Request-URI and To: "sip:", "sips:" or "tel:" URI, no headers part
	 * ("?..."), no spaces or <>"; tel: needs the outbound proxy */
	const char *to;
	const char *from_user;      /* From is sip:from_user@public_host; RFC 3261 user chars */
	const char *from_display;   /* NULL = none; up to 128 bytes, no control characters */
	const char *sdp;            /* the offer, sent unchanged as application/sdp;
				     * NULL with late_offer */
	/* An INVITE without SDP (RFC 3261 13.2.1): the peer offers in its
	 * 2xx, `answered` gets that offer, and the owner answers it with
	 * tnd_sipcall_ack() (the ACK waits for it; a hangup ACKs first). */
	bool late_offer;
	const struct tnd_sip_header *headers; /* X- headers only, at most 16 */
	size_t n_headers;
	/* An account's identity, or NULL for all three. from_uri replaces
	 * sip:from_user@public_host in From (from_user is then unused); route
	 * is this call's outbound proxy instead of the UA's; with cred a
	 * 401/407 to the INVITE, re-INVITE, BYE, REFER, MESSAGE or INFO is
	 * answered once with credentials (again after stale=true); without
	 * it, or refused again, the INVITE or BYE ends the call (`ended` with
	 * that status, TND_SIPCALL_END_REJECTED) and the others fail with it. */
	const char *from_uri;       /* sip: or sips: URI */
	const char *route;          /* sip: or sips: URI */
	const struct tnd_sip_cred *cred;
	/* A call placed for a peer's REFER (RFC 3515 2.4.2): its Referred-By
	 * (RFC 3892), a sip:/sips: URI, and the Replaces its Refer-To carried
	 * (RFC 3891: "call-id;to-tag=..;from-tag=.."), sent as headers of the
	 * INVITE; NULL for none. No control characters, under 512 bytes. */
	const char *referred_by;
	const char *replaces;
};

/* Places a call. On success *callp holds the owner's reference and the
 * INVITE is queued; events follow on the loop. EINVAL for any bad
 * parameter (nothing is sent), EBUSY when the UA is shutting down, ENOMEM. */
int tnd_sipcall_invite(struct tnd_sipcall **callp, struct tnd_sipua *ua,
		       const struct tnd_sipcall_params *p,
		       const struct tnd_sipcall_handlers *h, void *arg);

/* What an incoming INVITE said; every pointer borrowed for the duration of
 * the incoming handler. Before the handler runs, the UA checks the source
 * (tnd_sip_conf: trusted list, rate, block; an untrusted source gets 403,
 * or 401 when inbound_user is set, whoever it calls), then answers an
 * INVITE with a body other than application/sdp 415, one with Max-Forwards: 0 483 (the gateway may call out again:
 * a loop stops here), and every INVITE 503 once shutting down; nua answers
 * 420 to a Require: naming an extension we lack (100rel and timer we
 * have). */
struct tnd_sipcall_info {
	const char *ruri_user;     /* user part of the Request-URI, "" when none */
	const char *from_uri;
	const char *from_display;  /* NULL when none; quotes and escapes removed */
	const char *to_uri;
	const char *sdp;           /* the offer; NULL for an INVITE without one (a
				    * late offer: the SDP of our 2xx is the offer
				    * and its answer comes in the ACK:
				    * tnd_sipcall_remote_sdp in the `ack`
				    * callback) */
	const struct tnd_sip_header *headers; /* its X- headers, in order, at most 16 */
	size_t n_headers;
	/* The INVITE's Request-URI is the Contact of a live registration
	 * (tnd_sipreg_alloc): that registration's `arg`; else NULL. Such an
	 * INVITE passes admission when it comes from the address the
	 * registrar answered from, trusted or not. */
	void *reg_arg;
	/* Where the INVITE came from (IPv4 or IPv6), or NULL when unknown:
	 * the gateway tells trunks by it (their DIDs). */
	const struct sockaddr *source;
	/* RFC 3891: the INVITE's Replaces names this dialog of ours, which the
	 * new call is to take over (the owner answers the new call and ends
	 * this one, e.g. with tnd_sipcall_detach); borrowed; NULL without
	 * Replaces. Either confirmed, or an early one we placed. A Replaces
	 * that names no such dialog never reaches the handler: sip/ answers
	 * 481 (none, or an early dialog we did not place), 486 (early-only
	 * but confirmed), 603 (ending) or 400 (malformed). */
	struct tnd_sipcall *replaces;
};

/* Called for each new incoming INVITE with a borrowed call. To take it, the
 * handler calls tnd_sipcall_set_handlers(), keeps a reference
 * (tnd_obj_get) and returns 0; it then answers with tnd_sipcall_ringing /
 * _answer / _reject, now or later. To refuse it, it returns an errno and
 * the UA answers: ENOENT 404, EAGAIN or EBUSY 480 (user offline), EPERM or
 * EACCES 403, ENOTSUP 488, EINVAL 400, anything else 500. */
typedef int (tnd_sipua_incoming_h)(void *arg, struct tnd_sipcall *call,
				   const struct tnd_sipcall_info *info);

/* Without a handler (or h NULL) every incoming INVITE gets 480. */
void tnd_sipua_set_incoming(struct tnd_sipua *ua, tnd_sipua_incoming_h *h, void *arg);

/* Sets the event table of a call (the incoming handler uses it to take a
 * call). EINVAL without h or h->ended, EALREADY on a detached call. */
int tnd_sipcall_set_handlers(struct tnd_sipcall *call, const struct tnd_sipcall_handlers *h,
			     void *arg);

/* Incoming, unanswered: 180 Ringing, or 183 Session Progress carrying
 * `sdp` (early media) when it is not NULL. Reliable (RFC 3262: RSeq, nua
 * answers the PRACK) when the INVITE required 100rel, and a 183 also when
 * it only supported it; nua holds a reliable 18x until the one before is
 * PRACKed. May be repeated. EINVAL on an outgoing call, EALREADY once answered or ending. */
int tnd_sipcall_ringing(struct tnd_sipcall *call, const char *sdp);
/* Incoming, unanswered: 200 OK with `sdp` (also sent again to a later
 * re-INVITE that repeats the offer, a session refresh; one that changes
 * the session goes to the `reoffer` handler, 488 without one).
 * `ack` then `ended` follow. EINVAL on an outgoing call or without sdp,
 * EALREADY once answered or ending, ENOMEM. */
int tnd_sipcall_answer(struct tnd_sipcall *call, const char *sdp);
/* Incoming, unanswered: a final status 400-699 (not 401/407) with `phrase`
 * (NULL = the standard one; else up to 60 bytes, no control characters),
 * e.g. 486 Busy Here, 603 Decline. `ended` follows with
 * TND_SIPCALL_END_LOCAL and that status. EINVAL, EALREADY as above. */
int tnd_sipcall_reject(struct tnd_sipcall *call, int status, const char *phrase);
/* tnd_sipcall_reject with Retry-After: retry_after seconds (RFC 3261
 * section 20.33; 0: no header), e.g. 503 while the gateway drains. */
int tnd_sipcall_reject_retry(struct tnd_sipcall *call, int status, const char *phrase,
			     unsigned retry_after);
/* Ends the call in whatever state: CANCEL for an outgoing call without a
 * final response (Sofia holds it until some 1xx has come, RFC 3261 9.1; a
 * 2xx that crosses it is ACKed and BYEd, never reported), 480 for an
 * unanswered incoming call, BYE once answered (for an incoming call only
 * after the ACK for our 2xx, RFC 3261 section 15). `ended` follows, from
 * the loop, when that transaction is through: TND_SIPCALL_END_LOCAL with
 * its status (200 for the BYE, 487 after CANCEL, 480). EALREADY when
 * already ending or ended. */
int tnd_sipcall_hangup(struct tnd_sipcall *call);
/* Sends an INFO in the call's answered dialog with this
 * Content-Type and body (a NUL-terminated string of at most
 * TND_SIP_TEXT_MAX bytes): SIP INFO DTMF. Its response is only logged. EINVAL, or EALREADY before
 * the dialog exists or once it ends. */
int tnd_sipcall_info(struct tnd_sipcall *call, const char *ctype, const char *body);
/* sip/reinvite.c. Sends a re-INVITE with our new offer in the established
 * dialog (hold, resume, a codec change; RFC 3261 14.1); `reanswered`
 * follows. After a 491 it is sent again after the RFC 3261 14.1 delay
 * (2.1-4 s when we placed the call, else 0-2 s), at most 3 times. EINVAL,
 * EALREADY before the dialog is confirmed or once ending, EBUSY while
 * another offer of either side is open, EPERM after a re-INVITE refused
 * for its MD5 credentials that could not be ended (Sofia keeps it waiting
 * and sends no other: the challenger was the peer itself, or a proxy that
 * ignores Proxy-Require, auth.c), ENOMEM. */
int tnd_sipcall_reinvite(struct tnd_sipcall *call, const char *sdp);
/* Answers the peer's pending offer (`reoffer`): 2xx with our SDP (our
 * answer, or our offer to an offerless re-INVITE), or a failure 300-699
 * (sdp NULL) that leaves the session as it was. EINVAL, EALREADY when no
 * offer is pending, ENOMEM. */
int tnd_sipcall_reanswer(struct tnd_sipcall *call, int status, const char *sdp);
/* The SDP we last sent in the dialog and the peer's last (offer or
 * answer), as the session stands now; NULL before there is one (for an
 * incoming late offer, the peer's is the answer its ACK carried: NULL until
 * then, and when the ACK had none). Borrowed until the next exchange. */
const char *tnd_sipcall_local_sdp(const struct tnd_sipcall *call);
const char *tnd_sipcall_remote_sdp(const struct tnd_sipcall *call);
/* No callback fires after this returns; a live call is hung up as by
 * tnd_sipcall_hangup. Then drop the reference. NULL-safe, idempotent. */
void tnd_sipcall_detach(struct tnd_sipcall *call);
/* A late-offer call of ours (tnd_sipcall_params.late_offer) got its 2xx:
 * sends the ACK with `sdp` (our answer to the offer in the 2xx, NULL: an
 * ACK without one, before a hangup). EINVAL on another call, EALREADY
 * before the 2xx or once ACKed. */
int tnd_sipcall_ack(struct tnd_sipcall *call, const char *sdp);
/* Whether the dialog still has its Sofia handle (it has not ended). */
bool tnd_sipcall_is_live(const struct tnd_sipcall *call);
/* Ends the call now, without waiting for the peer (one that ignores our
 * CANCEL or BYE): destroys the handle, so Sofia forgets the dialog and the
 * UA's count drops; `ended` fires (408, TND_SIPCALL_END_NETWORK) unless
 * detached. For a hard cap after hangup. NULL-safe; no-op once ended. */
void tnd_sipcall_forget(struct tnd_sipcall *call);

/* ------------------------------------------------------------ INFO and MESSAGE
 * message.c (issue 11 item 6): INFO of any type and MESSAGE (RFC 3428) in
 * and out of dialog, with the peer's final answer reported. */

/* Bodies of INFO and MESSAGE that cross to the browser: at most this many
 * bytes (413 over it). */
#define TND_SIP_TEXT_MAX 8192

/* 0 when `ctype` is type/subtype (RFC 2045 tokens, optional ;parameters)
 * and the body is UTF-8 text (RFC 3629) without C0 controls but tab, CR
 * and LF; EBADMSG for a bad type (400), EMSGSIZE past TND_SIP_TEXT_MAX
 * (413), ENOTSUP for a body that is not such text (415), EINVAL without
 * ctype. Pure; any thread (text.c). */
int tnd_sip_text_check(const char *ctype, const char *body, size_t len);

/* The final answer to an INFO or MESSAGE we sent: its status (200-699;
 * 408 when nothing came), or 0 when the request could not finish (its
 * dialog ended, the UA stopped), `phrase` saying why; borrowed for the
 * call. Runs exactly once per request taken, from the loop; `arg` is a
 * tnd_obj the request holds a reference to until then. */
typedef void (tnd_sipreq_done_h)(void *arg, int status, const char *phrase);

/* INFO (RFC 6086) or MESSAGE (RFC 3428 section 4, in a dialog) in the
 * call's dialog with this Content-Type and body (NUL-terminated, checked
 * with tnd_sip_text_check); `done` follows. EINVAL (bad ctype or body:
 * nothing sent), EALREADY before the dialog is answered or once it ends,
 * ENOMEM. */
int tnd_sipcall_info_req(struct tnd_sipcall *call, const char *ctype, const char *body,
			 tnd_sipreq_done_h *done, void *arg);
int tnd_sipcall_message(struct tnd_sipcall *call, const char *ctype, const char *body,
			tnd_sipreq_done_h *done, void *arg);

/* A MESSAGE outside any dialog (RFC 3428): all borrowed for the call. */
struct tnd_sipmsg_params {
	const char *to;         /* Request-URI and To: as tnd_sipcall_params.to; without an
				 * outbound proxy its host must be an IP literal */
	const char *from_user;  /* From is sip:from_user@public_host */
	const char *ctype;
	const char *body;       /* NUL-terminated */
	/* An account's identity, or NULL for all three, as in
	 * tnd_sipcall_params: from_uri replaces From, route (host an IP
	 * literal) is the first hop instead of the UA's proxy, and with cred
	 * a 401/407 is answered once (again after stale=true; MD5 or
	 * SHA-256), and the account's cached challenge for that first hop
	 * (shared with its calls) gives credentials pre-emptively. */
	const char *from_uri;
	const char *route;
	const struct tnd_sip_cred *cred;
};
/* Sends it; `done` follows from the loop (a 401/407 whose credentials are
 * refused, or that has no answerable challenge, is its status). EINVAL (bad
 * parameter, or a host name with no outbound proxy: nothing sent), EBUSY
 * while the UA stops, ENOMEM. */
int tnd_sipua_message(struct tnd_sipua *ua, const struct tnd_sipmsg_params *p,
		      tnd_sipreq_done_h *done, void *arg);

/* An incoming MESSAGE, borrowed for the handler. Out of dialog it has
 * passed the same admission as an INVITE (trusted source, a registration's
 * registrar, or digest credentials; else 403 or 401 without the handler
 * being asked), and bodies over TND_SIP_TEXT_MAX got 413. */
struct tnd_sipmsg_in {
	const char *ruri_user;  /* user part of the Request-URI, "" when none */
	const char *from_uri, *to_uri;
	const char *ctype;      /* type/subtype in lower case, "" without one */
	const char *body;       /* not NUL-terminated */
	size_t len;
	void *reg_arg;          /* as tnd_sipcall_info.reg_arg */
	/* in a call's dialog: that call and its handlers' arg; else NULL */
	struct tnd_sipcall *call;
	void *call_arg;
};
/* 0 answers 200; ENOENT 404, EAGAIN 480 (not logged in), EPERM 403,
 * ENOTSUP 415, EMSGSIZE 413, EBADMSG or EINVAL 400, else 500. */
typedef int (tnd_sipua_message_h)(void *arg, const struct tnd_sipmsg_in *m);
/* Without a handler every MESSAGE gets 480 (in a dialog, 415). */
void tnd_sipua_set_message(struct tnd_sipua *ua, tnd_sipua_message_h *h, void *arg);
/* Outgoing MESSAGEs awaiting their answer, for leak checks. */
unsigned tnd_sipua_messages(const struct tnd_sipua *ua);

/* ------------------------------------------------------------ registrations */

/* One binding at a registrar (RFC 3261 section 10) for an account, kept
 * registered: nua refreshes it before it expires, a 401/407 is answered with
 * the account's credentials (again after stale=true), and after a failure or
 * a registrar outage it is tried again after 1, 2, 4 ... seconds, at most
 * retry_max. Our Contact is sip:tnd<16 hex>@<our address>, unique per
 * registration, so an INVITE to it names the registration (the info's
 * reg_arg). Refcounted (tnd_obj first); the UA holds its own reference while
 * the binding lives. Detach before dropping the owner's reference. */
struct tnd_sipreg;

enum tnd_sipreg_state {
	TND_SIPREG_REGISTERING,    /* first REGISTER on its way (never reported) */
	TND_SIPREG_REGISTERED,     /* a 2xx came: `expires` is what the registrar granted */
	TND_SIPREG_FAILED,         /* refused or unreachable: `retry_in` s to the next try */
	TND_SIPREG_UNREGISTERED,   /* tnd_sipreg_unregister() is through (any answer) */
};

/* "registering", "registered", "failed", "unregistered". */
const char *tnd_sipreg_state_name(enum tnd_sipreg_state st);

/* On every change, and on each refresh (state REGISTERED again). `reason`
 * is the SIP phrase, borrowed for the call. */
typedef void (tnd_sipreg_h)(void *arg, struct tnd_sipreg *reg, enum tnd_sipreg_state st,
			    int code, const char *reason, unsigned expires, unsigned retry_in);

/* All borrowed for tnd_sipreg_alloc() only (copied). */
struct tnd_sipreg_params {
	const char *aor;           /* sip:/sips: URI: To and From of the REGISTER */
	const char *registrar;     /* sip:/sips: Request-URI; NULL = the AOR's host part */
	const char *proxy;         /* outbound proxy sip:/sips: URI; NULL = the UA's */
	const char *transport;     /* "udp", "tcp", "tls" or NULL (as the URIs say); over
				    * tls our Contact is ;transport=tls at [sip] tls_port */
	const struct tnd_sip_cred *cred;   /* NULL: a challenge fails the registration */
	unsigned expires;          /* seconds asked for, 10..86400 */
	unsigned retry_max;        /* cap of the back-off, seconds; 0 = 300 */
};

/* Sends the first REGISTER; events follow from the loop. EINVAL for a bad
 * parameter (nothing sent), EBUSY while the UA stops, ENOMEM. */
int tnd_sipreg_alloc(struct tnd_sipreg **regp, struct tnd_sipua *ua,
		     const struct tnd_sipreg_params *p, tnd_sipreg_h *h, void *arg);
/* Removes the binding (REGISTER with Expires: 0) and stops retrying. 0: the
 * un-REGISTER went out and UNREGISTERED follows; EALREADY: nothing was
 * registered (retries stop; no callback). */
int tnd_sipreg_unregister(struct tnd_sipreg *reg);
/* No callback after this; a live binding is removed as by unregister. Then
 * drop the reference. NULL-safe, idempotent. */
void tnd_sipreg_detach(struct tnd_sipreg *reg);
/* Our Contact's user part, for logs and tests. */
const char *tnd_sipreg_contact(const struct tnd_sipreg *reg);
/* Whether `sa` is where the registration's registrar (or proxy) answered
 * from (over TCP/TLS any port of that address): its INVITEs to our Contact
 * pass admission (sip/admit.c). false while nothing is registered. */
bool tnd_sipreg_from_registrar(const struct tnd_sipreg *reg, const struct sockaddr *sa);
/* Bindings alive (registered, retrying or un-registering), for leak checks. */
unsigned tnd_sipua_regs(const struct tnd_sipua *ua);

/* ------------------------------------------------------------ transfer
 * sip/refer.c: REFER in a call's dialog (RFC 3515), Replaces (RFC 3891),
 * the transfer flows of RFC 5589. */

/* The outcome of a REFER we sent: `status` is the REFER's own refusal
 * (3xx-6xx, final), or a NOTIFY's sipfrag status line (100 Trying, 180,
 * then the referred call's final answer); 202 itself is reported too
 * (not final). `final` on the last report of this REFER: a final sipfrag,
 * or the subscription ended without one (487 "Transfer outcome unknown"). */
typedef void (tnd_sipcall_refer_h)(void *arg, struct tnd_sipcall *call, int status,
				   const char *phrase, bool final);
/* A REFER arrived in the confirmed dialog. `refer_to` is its target URI
 * (sip: or sips:, URI headers dropped), `referred_by` its Referred-By URI
 * or NULL (NULL too when it is no plain sip:/sips: URI), `replaces` the
 * Replaces header value its Refer-To carried (attended transfer, RFC 5589
 * 7: "call-id;to-tag=..;from-tag=..", parsed by Sofia and written back)
 * or NULL; all borrowed for the callback. The owner's INVITE to the target
 * carries the last two (tnd_sipcall_params). Return 0 to accept: 202, then
 * an initial NOTIFY 100 Trying; the owner reports the referred call with
 * tnd_sipcall_refer_notify() until a final status. Else an errno: EPERM
 * 403 (the dial plan forbids the target), EALREADY 491, EINVAL 400,
 * anything else 500. A Refer-To whose Replaces is malformed (two of them,
 * a bad escape or control character, a missing call-id or tag) gets 400
 * unasked, and every REFER 403 without a `referred` handler or on a
 * detached call. */
typedef int (tnd_sipcall_referred_h)(void *arg, struct tnd_sipcall *call,
				     const char *refer_to, const char *referred_by,
				     const char *replaces);
/* Borrowed, static; called with the call's `arg` (as its other handlers),
 * never for a detached call. */
struct tnd_sipcall_xfer_handlers {
	tnd_sipcall_refer_h *refer;
	tnd_sipcall_referred_h *referred;
};
/* Transfer callbacks for every call of the UA (NULL: REFER gets 403). */
void tnd_sipua_set_xfer(struct tnd_sipua *ua, const struct tnd_sipcall_xfer_handlers *x);
/* Sends REFER with Refer-To: <target> (a sip:/sips: URI, no headers part),
 * or, with `replaces` (another confirmed call of this UA: attended
 * transfer), <target?Replaces=call-id;to-tag;from-tag of that dialog>.
 * Progress comes to `refer`. EINVAL (bad target), EALREADY (dialog not
 * confirmed, or a REFER of ours still pending), ENOMEM. */
int tnd_sipcall_refer(struct tnd_sipcall *call, const char *target,
		      const struct tnd_sipcall *replaces);
/* After accepting a REFER: a NOTIFY with "SIP/2.0 <status> <phrase>"
 * (control characters dropped from phrase); a status >= 200 is the last
 * and ends the subscription. EINVAL, or EALREADY when no accepted REFER
 * awaits its outcome. */
int tnd_sipcall_refer_notify(struct tnd_sipcall *call, int status, const char *phrase);
/* ------------------------------------------------------------ OPTIONS pings */

/* One OPTIONS request out of dialog (a trunk's keep-alive, RFC 3261 11).
 * Single owner until it reports: the callback runs once with the final
 * status (408 when no answer came within Timer F, 503 when unreachable),
 * and the ping is freed right after it; tnd_sipping_cancel frees it
 * earlier, without the callback. */
struct tnd_sipping;
typedef void (tnd_sipping_h)(void *arg, int status);
/* uri: sip:/sips: URI, sent to as the request URI. EINVAL, EBUSY while
 * the UA stops, ENOMEM. */
int tnd_sipping_send(struct tnd_sipping **pingp, struct tnd_sipua *ua, const char *uri,
		     tnd_sipping_h *h, void *arg);
/* NULL-safe; only before the callback. */
void tnd_sipping_cancel(struct tnd_sipping *ping);

/* The Call-ID, for logs; valid while the reference is held. */
const char *tnd_sipcall_id(const struct tnd_sipcall *call);
bool tnd_sipcall_is_outgoing(const struct tnd_sipcall *call);

#endif
