/* Private to sip/: the user agent and call structures, and the functions
 * ua.c, call.c, call_in.c, call_out.c and check.c share. Sofia's types
 * stay here and never reach sip.h. Signalling thread only.
 *
 * Lifetime (R3): a call's Sofia handle carries the call as hmagic and holds
 * one reference on it, taken when the handle is made or bound and dropped
 * by call_release() right after nua_handle_destroy(), which is the only
 * place a call handle is destroyed. Sofia delivers nothing for a destroyed
 * handle (nh_valid is cleared at once), so no event can reach a freed call. */
#ifndef TND_SIP_SIP_INT_H
#define TND_SIP_SIP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <gio/gio.h>
#include <glib.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>

#include "gateway/base/obj.h"
#include "sip/guard_int.h"
#include "sip/sipfrag_int.h"
#include "sip/sip.h"

struct tnd_siptcp;
struct tnd_sipreg;
struct tnd_sipauth_hdrs;

/* Credentials of a call or registration (auth.c). */
struct tnd_sipauth {
	char *user;                  /* owned; NULL = none */
	char *secret;                /* owned: password or "HA1+hex"; zeroed when freed */
	unsigned tries;              /* challenges answered since the last other response */
	/* SHA-256 challenges answered by us (digest.c): the nonce in use and
	 * its count, which must grow with each request (RFC 7616 3.4) */
	char nonce[256];
	unsigned nc;
};

struct tnd_sipua {
	su_root_t *root;             /* owned; OWNER: signal */
	GSource *source;             /* borrowed from root, attached to ctx */
	GMainContext *ctx;           /* borrowed: the signalling context */
	nua_t *nua;                  /* owned */
	char *from_host;             /* owned: host part of our From (IPv6 in []) */
	bool has_proxy;              /* outbound proxy configured (tel: allowed) */
	char *proxy;                 /* owned: that proxy's URI, or NULL */
	tnd_sipua_incoming_h *incoming;
	void *incoming_arg;
	struct tnd_sipcall *calls;   /* borrowed list: each held by its hmagic ref */
	unsigned n_calls;
	tnd_sipua_done_h *done;
	void *done_arg;
	GSource *stop_timer;         /* owned: bounds the wait for calls to end */
	bool stopping;               /* tnd_sipua_shutdown() called */
	bool nua_stopping;           /* nua_shutdown() sent */
	bool shut;                   /* nua_r_shutdown final arrived */
	struct tnd_sipguard *guard;  /* owned: trusted list, per-source limits */
	char *in_user;               /* owned: inbound digest user; NULL = none */
	char *in_password;           /* owned */
	unsigned char nonce_key[16]; /* random, signs our digest nonces */
	unsigned block_time;         /* seconds, for log lines */
	struct tnd_siptcp *tcp;      /* owned: TCP connection limits; NULL without TCP */
	unsigned dns_timeout_ms;     /* bound on a call's name lookup */
	struct tnd_sipreg *regs;     /* borrowed list: each held by its own ref (reg.c) */
	unsigned n_regs;
	/* message.c: incoming MESSAGE, and our MESSAGEs outside dialogs */
	tnd_sipua_message_h *message;
	void *message_arg;
	GList *msgs;                 /* owned list of refs to struct tnd_sipmsg */
	const struct tnd_sipcall_xfer_handlers *xfer;   /* borrowed, static (refer.c) */
	char *tls_dir;               /* owned: private directory of Sofia's TLS files, or NULL */
	int tls_port;                /* SIP over TLS port; 0 without TLS */
	int port;                    /* SIP over UDP/TCP port */
	bool udp;                    /* UDP enabled (else a Contact says transport=tcp) */
	GTlsDatabase *tls_db;        /* owned (GObject ref): [sip] tls_ca, with tls_verify
				      * (resolve.c checks TLS next hops); else NULL */
	GHashTable *authc;           /* owned: cached digest challenges by auth user
				      * (authcache.c), or NULL */
};

enum call_state {
	CS_RESOLVING,     /* out: looking up the next hop, no INVITE sent yet */
	CS_CALLING,       /* out: INVITE sent, no response yet */
	CS_PROCEEDING,    /* out: 1xx received */
	CS_RECEIVED,      /* in: INVITE received, not yet answered */
	CS_EARLY,         /* in: 18x sent */
	CS_ANSWERED,      /* in: 2xx sent, ACK awaited */
	CS_CONFIRMED,     /* dialog established (ACK sent or received) */
	CS_ENDING,        /* we sent CANCEL, BYE or a final error response */
	CS_ENDED,         /* ended reported, handle destroyed */
};

struct tnd_sipcall {
	struct tnd_obj obj;
	struct tnd_sipua *ua;        /* borrowed; NULL once released */
	nua_handle_t *nh;            /* owned (one user reference); NULL once destroyed */
	struct tnd_sipcall *next;    /* ua->calls list */
	struct tnd_sipcall *prev;
	const struct tnd_sipcall_handlers *h; /* borrowed; NULL = detached/none */
	void *arg;
	char *call_id;               /* owned */
	char *local_sdp;             /* owned: what we last sent, for re-INVITEs */
	char *remote_sdp;            /* owned: the peer's offer or answer */
	char *xhdr;                  /* owned: X- header lines for the INVITE */
	tagi_t *xtags;               /* owned: their tags, ended by a zero tag */
	struct tnd_sipres *res;      /* owned: the pending name lookup, or NULL */
	enum call_state state;       /* OWNER: signal */
	bool outgoing;
	bool established;            /* a 2xx was sent or received */
	bool invite_preempted;       /* our INVITE carried cached credentials */
	bool detached;               /* tnd_sipcall_detach() called */
	bool bye_on_ack;             /* hung up between our 2xx and its ACK */
	bool late_offer;             /* INVITE without SDP (RFC 3261 13.2.1): incoming,
				      * our 2xx offers and the ACK answers; outgoing,
				      * the peer's 2xx offers and our ACK answers */
	bool ack_due;                /* outgoing late offer: 2xx in, no ACK yet */
	/* outgoing, for an INVITE sent again with our SHA-256 answer on a new
	 * handle (tnd_sipcall_invite_again) */
	char *ruri, *from_hdr, *to_hdr;  /* owned: Request-URI, From, To */
	char *next_hop;                  /* owned: where the INVITE went, or NULL */
	bool why_set;                /* `why`, end_status and end_phrase decided */
	enum tnd_sipcall_end why;
	int end_status;
	char end_phrase[64];
	struct tnd_sipauth auth;     /* owned: an account's credentials, or none */
	char *route;                 /* owned: this call's outbound proxy, or NULL */
	/* message.c: our INFOs [0] and MESSAGEs [1] in this dialog awaiting
	 * their answers, oldest first (owned struct sipreq) */
	GQueue pending[2];
	/* refer.c */
	bool refer_out;              /* our REFER awaits its outcome */
	char *refer_event;           /* owned: Event of the peer's REFER we accepted
				      * ("refer;id=N"), until its final NOTIFY */
	char *contact;               /* owned: our Contact when Sofia's would be wrong
				      * (sip: over TLS, tls.c), or NULL */
	/* reinvite.c: offers inside the dialog */
	msg_t *re_req;               /* owned ref: the peer's offer awaiting our answer */
	char *re_offer;              /* owned: its SDP (NULL: offerless re-INVITE) */
	bool re_update;              /* ... it came in an UPDATE */
	bool re_offerless;           /* our 200 carried the offer: the ACK answers */
	bool re_out;                 /* our re-INVITE is out */
	char *re_sdp;                /* owned: its offer, kept for a 491 retry */
	GSource *re_timer;           /* owned: the 491 retry */
	unsigned re_tries;
	bool re_stale;               /* the peer's offer was answered while our
				      * retry waited: our SDP is out of date */
	bool re_abandon;             /* our refused re-INVITE is being ended
				      * (tnd_sipauth_abandon): its answer is no news */
	bool re_stuck;               /* ... and could not be: nua sends no re-INVITE
				      * of ours again in this dialog */
	/* replaces.c: To tags of the early dialogs of our INVITE (nua sets
	 * none on its leg without 100rel), newest at early_next - 1 */
	char early_tags[4][72];
	unsigned early_next;
	/* authcache.c: pre-emptive and SHA-256 credentials in the dialog */
	char *target;                /* owned: the peer's Contact URI, or NULL */
	char *rroute;                /* owned: our route set as a Route value (the
				      * 2xx's Record-Route reversed), or NULL:
				      * for a BYE sent again (message.c) */
	char *refer_to;              /* owned: our REFER's Refer-To, for a SHA-256 retry */
};

/* The methods nua takes (Allow, ua.c); a call's handle adds REFER and
 * NOTIFY (refer.c). One list, so that a method added for the UA is taken in
 * calls too (a handle's Allow replaces the UA's). */
#define TND_SIP_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, MESSAGE, UPDATE, PRACK"

/* ua.c */
/* ua->calls bookkeeping; call_link takes no reference (hmagic's is used). */
void tnd_sipua_link_call(struct tnd_sipua *ua, struct tnd_sipcall *call);
void tnd_sipua_unlink_call(struct tnd_sipua *ua, struct tnd_sipcall *call);

/* admit.c */
/* Source address of the request being delivered (valid in nua's callback). */
const struct sockaddr *tnd_sipua_source(nua_t *nua);
/* A new INVITE: 0 to take it, else the status to refuse it with (401 with
 * a WWW-Authenticate value in `challenge`, or 403). */
int tnd_sipua_admit_invite(struct tnd_sipua *ua, nua_t *nua, const sip_t *sip,
			   const char **phrase, char *challenge, size_t size);
/* nua_i_options: answers (200, or 403 over the rate) and destroys nh. */
void tnd_sipua_options(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh);
/* Answers a REGISTER (we are no registrar: 403) after the source check; an
 * untrusted source's REGISTER counts as a refusal towards its block. */
void tnd_sipua_register(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh);

/* ping.c: whether an hmagic is a ping, and its events */
bool tnd_sipping_is(const void *hmagic);
void tnd_sipping_event(struct tnd_sipping *p, nua_event_t event, int status);

/* tcp.c: SIP over TCP may not hold descriptors without bound. */
/* Finds the listening sockets nua bound to conf->port (with conf->tcp)
 * and conf->tls_port (with conf->tls: TLS runs over TCP, so the same
 * guards apply, and the caps count both together) and starts watching
 * them; ENOENT when there is none. Single owner. `guard` is borrowed (it must
 * outlive the watcher): its trusted sources have no per-source cap. */
int tnd_siptcp_alloc(struct tnd_siptcp **tp, GMainContext *ctx, const struct tnd_sip_conf *conf,
		     const struct tnd_sipguard *guard);
void tnd_siptcp_free(struct tnd_siptcp *t);

/* tls.c: Sofia's tport reads its TLS identity from a directory holding
 * agent.pem (certificate and key) and cafile.pem. */
/* Makes a private (0700) temporary directory with those two files from
 * the configured PEM files: 0 and *dirp (owned, free with
 * tnd_siptls_dir_free), or an errno (files unreadable: EINVAL). */
int tnd_siptls_dir_make(const struct tnd_sip_conf *conf, char **dirp);
/* Removes the directory and its files and frees the path. NULL-safe. */
void tnd_siptls_dir_free(char *dir);
/* With TLS on, Sofia's Contact in calls and registrations is always
 * sips:<tls address>, whatever the transport: wrong for a sip: URI (RFC
 * 5630 section 3.1.3; baresip cannot send its ACK to it). For an incoming
 * INVITE (`sip` set; its transport is its top Via's) or an outgoing
 * request whose first hop is `hop`: our Contact for that transport, with
 * `user` (NULL: none) (malloc'd), or NULL when Sofia's own is right (TLS
 * off, a sips: URI, or out of memory). */
char *tnd_siptls_contact(const struct tnd_sipua *ua, const char *user, const char *hop,
			 const sip_t *sip);
/* The CA database of conf->tls_ca (or the system's) for resolve.c's check
 * of TLS next hops: 0 and *dbp (a new GObject ref), or EINVAL. */
int tnd_siptls_db(const struct tnd_sip_conf *conf, GTlsDatabase **dbp);

/* call.c */
/* A zeroed call with one reference (the caller's), or NULL. */
struct tnd_sipcall *tnd_sipcall_new(struct tnd_sipua *ua, bool outgoing);
/* call_out.c: a late-offer 2xx still waits for our ACK: send it bare (a
 * BYE must not go before it, RFC 3261 13.2.2.4). */
void tnd_sipcall_ack_due(struct tnd_sipcall *call);
/* call_out.c: the initial INVITE again on a new handle (nua ends a call
 * whose 401/407 it could not answer itself), same Call-ID, with our SHA-256
 * credentials (auth.c) in Authorization, or Proxy-Authorization when
 * proxy. The old handle and its queued events go; ENOMEM. */
int tnd_sipcall_invite_again(struct tnd_sipcall *call, const char *hdr, bool proxy);
/* Sofia event for a handle whose hmagic is `call`. */
void tnd_sipcall_event(struct tnd_sipcall *call, nua_event_t event, int status,
		       const char *phrase, nua_handle_t *nh, const sip_t *sip, tagi_t tags[]);
/* Reports ended (once, unless detached), then destroys the handle and drops
 * the hmagic reference. */
void tnd_sipcall_finish(struct tnd_sipcall *call, int status, const char *phrase);
/* Records why the call ends unless already decided. */
void tnd_sipcall_set_why(struct tnd_sipcall *call, enum tnd_sipcall_end why, int status,
			 const char *phrase);
/* nua_bye with the call's pre-emptive credentials (authcache.c). */
void tnd_sipcall_bye(struct tnd_sipcall *call);
/* Hang up with `why` (LOCAL or SHUTDOWN); EALREADY when ending or ended. */
int tnd_sipcall_end(struct tnd_sipcall *call, enum tnd_sipcall_end why);
/* Copy of a message body as a string; NULL when there is none. *err set on
 * ENOMEM. */
char *tnd_sipcall_body(const sip_t *sip, int *err);

/* call_in.c */
/* A new incoming INVITE on a handle nua made (hmagic NULL). `refuse`: 0,
 * or the status admission chose (the handler is then not asked and nothing
 * is logged per request); `challenge` the WWW-Authenticate value of a 401. */
void tnd_sipcall_incoming(struct tnd_sipua *ua, nua_handle_t *nh, const sip_t *sip,
			  int refuse, const char *phrase, const char *challenge);
/* replaces.c: an INVITE's Replaces (RFC 3891 section 3), after admission.
 * 0 with *matchp NULL (no Replaces) or the live dialog it may take over
 * (confirmed, or an early one we placed); else the status to refuse it
 * with: 400 (malformed, or more than one), 481 (no such dialog, or an
 * early one we did not place), 486 (early-only, dialog confirmed), 603
 * (the dialog is ending). `self` is the new INVITE's call, never matched. */
/* replaces.c: a 1xx to our INVITE: its To tag names an early dialog that
 * a Replaces may name. */
void tnd_sipcall_note_early(struct tnd_sipcall *call, const sip_t *sip);
int tnd_sipcall_replaced(struct tnd_sipua *ua, const struct tnd_sipcall *self, const sip_t *sip,
			 struct tnd_sipcall **matchp, const char **phrase);
/* info.c: INFO in the dialog, received (answered from the owner's verdict)
 * and the response to ours. */
void tnd_sipcall_on_i_info(struct tnd_sipcall *call, int status, const char *phrase,
			   const sip_t *sip, tagi_t tags[]);
void tnd_sipcall_on_r_info(struct tnd_sipcall *call, int status, const char *phrase,
			   const sip_t *sip, tagi_t tags[]);

/* message.c */
#define TND_SIPREQ_INFO 0
#define TND_SIPREQ_MESSAGE 1
/* Sends an INFO or MESSAGE in the call's dialog (with pre-emptive
 * credentials when the call has a cached challenge) and queues the owner's
 * done for it (done NULL: a DTMF INFO nobody waits for). Takes a reference
 * on arg. */
void tnd_sipreq_send(struct tnd_sipcall *call, int which, const char *ctype, const char *body,
		     tnd_sipreq_done_h *done, void *arg);
/* A 401/407 to the oldest pending request of `which`: true when it was
 * answered (sent again with SHA-256 credentials, or by nua with MD5), false
 * when it cannot be (no credentials, refused: pop it with the status). */
bool tnd_sipreq_challenged(struct tnd_sipcall *call, int which, const sip_t *sip);
/* A final answer to the oldest of `which`: true when it was a 401/407,
 * answered or reported here (not answerable: reported with it, and nua's
 * waiting request ended, tnd_sipauth_drop). */
bool tnd_sipreq_unauthorized(struct tnd_sipcall *call, int which, int status,
			     const char *phrase, const sip_t *sip);
/* A final answer to the oldest: reports it and drops it. */
void tnd_sipreq_pop(struct tnd_sipcall *call, int which, int status, const char *phrase);
/* The dialog ends or the owner leaves: every pending done gets status 0. */
void tnd_sipreq_flush(struct tnd_sipcall *call, const char *phrase);
/* Whether a handle's hmagic is an out-of-dialog MESSAGE of ours. */
bool tnd_sipmsg_is(const void *hmagic);
/* Sofia event on such a handle. */
void tnd_sipmsg_event(void *msg, nua_event_t event, int status, const char *phrase,
		      const sip_t *sip);
/* nua_i_message outside any dialog: admits, answers and destroys nh. */
void tnd_sipua_i_message(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh, const sip_t *sip);
/* The call's BYE got a SHA-256 challenge (sip), which nua cannot answer:
 * it has ended the session, so the BYE goes again with `auth` as a request
 * of its own (same Call-ID, tags, route set and remote target, next CSeq)
 * on a handle of its own (kept in ua->msgs until its final answer, which
 * is only logged). An outgoing call with a remote target only: 0,
 * EINVAL, ENOMEM. */
int tnd_sipmsg_bye_again(struct tnd_sipcall *call, const sip_t *sip,
			 const struct tnd_sipauth_hdrs *auth);
/* Ends every pending out-of-dialog MESSAGE (done with status 0) and
 * destroys their handles (the UA is freed). */
void tnd_sipmsg_cut_all(struct tnd_sipua *ua);
/* In a call's dialog: a MESSAGE from the peer, and the answer to ours. */
void tnd_sipcall_on_i_message(struct tnd_sipcall *call, int status, const char *phrase,
			      const sip_t *sip, tagi_t tags[]);
void tnd_sipcall_on_r_message(struct tnd_sipcall *call, int status, const char *phrase,
			      const sip_t *sip, tagi_t tags[]);
/* "type/subtype" of the message in lower case, no parameters; "" without. */
void tnd_sip_content_type(const sip_t *sip, char *buf, size_t size);
/* refer.c: REFER sent and received, and the NOTIFYs of either. A call's
 * handle allows REFER and NOTIFY once the call is admitted (placed, or an
 * incoming INVITE past admission): set here. */
void tnd_sipcall_allow_refer(struct tnd_sipcall *call);
void tnd_sipcall_on_r_refer(struct tnd_sipcall *call, int status, const char *phrase,
			    const sip_t *sip, tagi_t tags[]);
void tnd_sipcall_on_i_refer(struct tnd_sipcall *call, int status, const char *phrase,
			    const sip_t *sip, tagi_t tags[]);
void tnd_sipcall_on_i_notify(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[]);
void tnd_sipcall_on_r_notify(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[]);
/* reinvite.c: a re-INVITE or UPDATE from the peer in an established call,
 * the ACK of one (true when it answered our offer in a 200 and was taken),
 * the final response to ours, and the state freed when the call ends. */
void tnd_sipcall_on_i_reinvite(struct tnd_sipcall *call, const sip_t *sip);
void tnd_sipcall_on_i_update(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[]);
bool tnd_sipcall_on_reinvite_ack(struct tnd_sipcall *call, const sip_t *sip);
void tnd_sipcall_on_r_reinvite(struct tnd_sipcall *call, int status, const char *phrase,
			       const sip_t *sip);
bool tnd_sipcall_reinvite_out(const struct tnd_sipcall *call);
/* Our re-INVITE challenged with SHA-256: the same offer again with auth;
 * 0, or EALREADY when there is none to send. */
int tnd_sipcall_reinvite_again(struct tnd_sipcall *call, const struct tnd_sipauth_hdrs *auth);
void tnd_sipcall_re_clear(struct tnd_sipcall *call);

/* auth.c */
/* Copies cred (NULL clears): 0, EINVAL, ENOMEM. */
int tnd_sipauth_set(struct tnd_sipauth *a, const struct tnd_sip_cred *cred);
void tnd_sipauth_clear(struct tnd_sipauth *a);
/* A 401/407 to a request on nh (`what` names it in logs): 0 when
 * nua_authenticate went out (the request is sent again, its answer comes
 * as the same event); ENOENT without credentials, ENOTSUP without an MD5
 * challenge, EACCES when we answered this round already and the nonce is
 * not stale (a wrong password). */
int tnd_sipauth_answer(struct tnd_sipauth *a, nua_handle_t *nh, const sip_t *sip,
		       const char *what);
/* A 401/407 with a SHA-256 challenge (RFC 8760), which Sofia cannot
 * answer: the credentials for `method` to `uri` (the request's
 * Request-URI) in hdr, for SIPTAG_AUTHORIZATION_STR or, when *proxy,
 * SIPTAG_PROXY_AUTHORIZATION_STR; the caller sends the request again with
 * it. Preferred over an MD5 challenge in the same response. 0; ENOTSUP
 * when there is no SHA-256 challenge we can answer (then try
 * tnd_sipauth_answer), ENOENT and EACCES as there. */
int tnd_sipauth_sha256(struct tnd_sipauth *a, const sip_t *sip, const char *method,
		       const char *uri, const char *what, char *hdr, size_t len, bool *proxy);
/* We give up on a request challenged with `sip` (a 401/407), already
 * reported: when nua keeps it waiting for credentials, ends it (nua then
 * reports it again with 904, which the caller ignores) and returns true. */
bool tnd_sipauth_drop(nua_handle_t *nh, const sip_t *sip);
/* The same for a re-INVITE whose MD5 credentials were refused (sip the
 * refusal), which nua keeps waiting at the head of the dialog's INVITE
 * queue (a later re-INVITE would wait behind it for ever), where 904
 * would make nua end the call: it is sent once more with placeholder
 * credentials and Proxy-Require: tandem-abandon, for the first proxy to
 * end it with 420. true when that went out; its final answer follows as
 * nua_r_invite (a 401/407 again: the challenger was the peer itself, or
 * a proxy that skips the Proxy-Require check, and the request still
 * waits). */
bool tnd_sipauth_abandon(struct tnd_sipauth *a, nua_handle_t *nh, const sip_t *sip);
/* A response other than 401/407: the next challenge starts a new round. */
static inline void tnd_sipauth_ok(struct tnd_sipauth *a)
{
	a->tries = 0;
}

/* authcache.c: pre-emptive digest. The credentials values of a request,
 * one per cached realm and class; TND_SIPAUTH_TAGS puts them on a nua
 * request. */
#define TND_SIPAUTH_MAX 4
struct tnd_sipauth_hdrs {
	char v[TND_SIPAUTH_MAX][1024];
	bool proxy[TND_SIPAUTH_MAX];   /* Proxy-Authorization, else Authorization */
	size_t n;
};
#define TND_SIPAUTH_TAG(h, i) \
	TAG_IF((h)->n > (i) && !(h)->proxy[i], SIPTAG_AUTHORIZATION_STR((h)->v[i])), \
	TAG_IF((h)->n > (i) && (h)->proxy[i], SIPTAG_PROXY_AUTHORIZATION_STR((h)->v[i]))
#define TND_SIPAUTH_TAGS(h) \
	TND_SIPAUTH_TAG(h, 0), TND_SIPAUTH_TAG(h, 1), TND_SIPAUTH_TAG(h, 2), \
	TND_SIPAUTH_TAG(h, 3)
/* Keeps the Digest challenges of a 401/407 to a request of the call (the
 * best of each header class, SHA-256 preferred) for its account and first
 * hop, one per class and realm, counting nc from 0 again for a new nonce. */
void tnd_sipauth_learn(struct tnd_sipcall *call, const sip_t *sip);
/* Drops them (the account's credentials were refused). */
void tnd_sipauth_forget(struct tnd_sipcall *call);
/* The same for a request outside any call (an out-of-dialog MESSAGE):
 * credentials `a`, first hop `scope` (its proxy, else the UA's, else its
 * Request-URI); a call of the same account and first hop shares the
 * entry. preempt: 0 with h filled, ENOENT when nothing is cached. */
void tnd_sipauth_learn_for(struct tnd_sipua *ua, const struct tnd_sipauth *a,
			   const char *scope, const sip_t *sip);
void tnd_sipauth_forget_for(struct tnd_sipua *ua, const struct tnd_sipauth *a,
			    const char *scope);
int tnd_sipauth_preempt(struct tnd_sipua *ua, const struct tnd_sipauth *a, const char *scope,
			const char *method, const char *uri, struct tnd_sipauth_hdrs *h);
void tnd_sipauth_cache_free(struct tnd_sipua *ua);
/* The call's pre-emptive credentials for a request of `method`, all ""
 * without credentials or a cached challenge. */
void tnd_sipcall_auth_hdrs(struct tnd_sipcall *call, const char *method,
			   struct tnd_sipauth_hdrs *h);
/* A SHA-256 answer to a challenge of an in-dialog request of `method` into
 * h (tnd_sipauth_sha256, Request-URI as tnd_sipcall_auth_hdrs): 0, or
 * ENOTSUP (no SHA-256 challenge: try MD5), ENOENT, EACCES. */
int tnd_sipcall_sha256_hdrs(struct tnd_sipcall *call, const sip_t *sip, const char *method,
			    const char *what, struct tnd_sipauth_hdrs *h);
/* Remembers the peer's Contact of a response or request as the dialog's
 * remote target (the Request-URI the credentials name). */
void tnd_sipcall_set_target(struct tnd_sipcall *call, const sip_t *sip);

/* reg.c */
/* The registration whose Contact user is `user` (registered, or
 * refreshing), or NULL. */
struct tnd_sipreg *tnd_sipreg_find(struct tnd_sipua *ua, const char *user);
/* tnd_sipreg_from_registrar: sip.h */
/* The owner's argument of the registration, NULL once detached. */
void *tnd_sipreg_owner_arg(const struct tnd_sipreg *reg);
/* The registration's credentials into `a` (cleared first; none when it
 * has none): a call its registrar delivers answers that proxy's challenges
 * to our BYE or re-INVITE with them. 0 or ENOMEM. */
int tnd_sipreg_copy_auth(const struct tnd_sipreg *reg, struct tnd_sipauth *a);
/* Whether a handle's hmagic is a registration (else it is a call). */
bool tnd_sipreg_is(const void *hmagic);
/* Sofia event on a registration's handle. */
void tnd_sipreg_event(struct tnd_sipreg *reg, nua_event_t event, int status,
		      const char *phrase, nua_handle_t *nh, const sip_t *sip, tagi_t tags[]);
/* Destroys every registration's handle, without callbacks (UA freed). */
void tnd_sipreg_cut_all(struct tnd_sipua *ua);

/* call_out.c */
/* Sends the INVITE of an outgoing call; `next_hop` ("sip:192.0.2.1:5060")
 * routes it there, NULL routes by the request URI or outbound proxy. */
void tnd_sipcall_send_invite(struct tnd_sipcall *call, const char *next_hop);

/* resolve.c: the next hop of an outgoing call, looked up off the signalling
 * thread (Sofia's own resolver runs on it and spins when no DNS server is
 * reachable). */
struct tnd_sipres;
/* 0 and *needed false when `target` (the outbound proxy, else the request
 * URI) names its host by IP literal: nothing to look up. Else starts the
 * lookup, bounded by ua->dns_timeout_ms, and sets call->res; the call moves
 * on from the loop: tnd_sipcall_send_invite() or tnd_sipcall_finish() with
 * 503 (no such host) or 504 (timeout). ENOMEM, EINVAL. */
int tnd_sipres_start(struct tnd_sipcall *call, const char *target, bool *needed);
/* The call is ending while its lookup runs: finish it from the loop, with
 * the reason already set. */
void tnd_sipres_abort(struct tnd_sipres *res);
/* Forgets the lookup without any callback (the call is finishing). */
void tnd_sipres_free(struct tnd_sipres *res);

/* check.c: syntax checks for what we put into SIP messages. 0 or EINVAL. */
int tnd_sipchk_uri(const char *uri, bool allow_tel);
int tnd_sipchk_user(const char *user);
int tnd_sipchk_display(const char *display);
int tnd_sipchk_header(const struct tnd_sip_header *hdr);
/* A peer's From or To URI: sip/sips/tel, a valid host, a user part
 * without space, control, '@', '<', '>' or '"'. 0 or EINVAL. */
int tnd_sipchk_peer_uri(const url_t *u);
/* `display` as a quoted-string into buf: 0 or ENOSPC. */
int tnd_sipchk_quote(char *buf, size_t size, const char *display);

#endif
