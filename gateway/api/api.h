/* The signalling front door: JSON-RPC 2.0 over WebSocket, subprotocol
 * tandem.v1 (docs/protocol.md). Signalling thread only.
 *
 * tnd_api owns the libwebsockets context, every connection and the method
 * table. The frame handling (tnd_api_conn_*) does not depend on
 * libwebsockets, so unit tests and the fuzzer drive it directly. */
#ifndef TND_GATEWAY_API_H
#define TND_GATEWAY_API_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "gateway/call/call.h"

struct tnd_conf;
struct tnd_loop;
struct tnd_policy;

/* Single owner: tnd_api_alloc / tnd_api_free. */
struct tnd_api;

/* conf and policy are borrowed; the loop carries the socket. With
 * `listen` false no socket is opened (tests, fuzzer). */
int tnd_api_alloc(struct tnd_api **apip, struct tnd_loop *loop, const struct tnd_conf *conf,
		  struct tnd_policy *policy, bool listen);
void tnd_api_free(struct tnd_api *api);
/* Swaps in a reloaded configuration (borrowed). */
void tnd_api_set_conf(struct tnd_api *api, const struct tnd_conf *conf);

/* Whether the gateway takes new calls, for GET /readyz: NULL when it does,
 * else a static one-line reason ("draining", ...). Signalling thread. */
typedef const char *(tnd_api_ready_h)(void *arg);
/* Sets the /readyz question (NULL h: ready unless shutting down). */
void tnd_api_set_ready(struct tnd_api *api, tnd_api_ready_h *h, void *arg);

/* GET /metrics (docs/operations.md): the API writes its own families and
 * the counters of gateway/base/stats.h, then this appends the gauges of
 * the layers it does not know (calls, media workers) in Prometheus text
 * format. Signalling thread. */
typedef void (tnd_api_metrics_h)(void *arg, GString *out);
void tnd_api_set_metrics(struct tnd_api *api, tnd_api_metrics_h *h, void *arg);

typedef void (tnd_api_done_h)(void *arg);
/* Closes every connection with 1001 and stops listening; calls done when the
 * last one has gone or after a second, whichever is first. */
void tnd_api_shutdown(struct tnd_api *api, tnd_api_done_h *done, void *arg);

/* The call layer as the call methods see it. Function pointers, so that
 * the API (and its unit tests and fuzzer) link without the call legs;
 * gateway/main.c fills it with the tnd_calls_* functions. */
struct tnd_api_calls {
	struct tnd_calls *calls;     /* borrowed */
	int (*start)(struct tnd_calls *calls, void *conn, const struct tnd_call_params *p,
		     tnd_call_done_h *done, void *req, char *msg, size_t msglen);
	int (*answer)(struct tnd_calls *calls, void *conn, const char *call, const char *sdp,
		      char *msg, size_t msglen);
	int (*reject)(struct tnd_calls *calls, void *conn, const char *call, int code,
		      char *msg, size_t msglen);
	int (*hangup)(struct tnd_calls *calls, void *conn, const char *call, char *msg,
		      size_t msglen);
	int (*candidate)(struct tnd_calls *calls, void *conn, const char *call,
			 const char *cand, char *msg, size_t msglen);
	void (*conn_gone)(struct tnd_calls *calls, void *conn);
	void (*stats)(const struct tnd_calls *calls, struct tnd_calls_stats *st);
	int (*reg)(struct tnd_calls *calls, void *conn, const char *user,
		   const struct tnd_reg_params *p, char *id, size_t idlen, const char **state,
		   char *msg, size_t msglen);
	int (*unreg)(struct tnd_calls *calls, void *conn, const char *user, const char *reg,
		     char *msg, size_t msglen);
	/* reattach (issue 12): NULL answers 503 / lists nothing / ends nothing */
	int (*reattach)(struct tnd_calls *calls, void *conn, const char *user, const char *call,
			const char *sdp, tnd_call_done_h *done, void *req, char *msg,
			size_t msglen);
	void (*detached)(struct tnd_calls *calls, const char *user, tnd_call_brief_h *h,
			 void *arg);
	void (*logout)(struct tnd_calls *calls, void *conn);
	/* admin requests (m_admin.c) */
	void (*foreach)(struct tnd_calls *calls, tnd_call_info_h *h, void *arg);
	int (*query)(struct tnd_calls *calls, const char *call, tnd_call_info_h *h, void *arg,
		     char *msg, size_t msglen);
	int (*kill)(struct tnd_calls *calls, const char *call, const char *reason, char *msg,
		    size_t msglen);
	int (*drain)(struct tnd_calls *calls);
	int (*media_stats)(struct tnd_calls *calls, void *conn, const char *call,
			   tnd_call_stats_h *done, void *req, char *msg, size_t msglen);
	int (*dtmf)(struct tnd_calls *calls, void *conn, const char *call, const char *digits,
		    unsigned duration_ms, unsigned gap_ms, char *msg, size_t msglen);
	/* admin.registrations; NULL: the list is empty */
	void (*reg_foreach)(struct tnd_calls *calls, tnd_reg_info_h *h, void *arg);
	/* info and message (issue 11 item 6); NULL answers 503 */
	int (*info)(struct tnd_calls *calls, void *conn, const char *call, const char *ctype,
		    const char *body, tnd_call_sent_h *done, void *req, char *msg, size_t msglen);
	int (*message)(struct tnd_calls *calls, void *conn, const char *user,
		       const struct tnd_msg_params *p, tnd_call_sent_h *done, void *req,
		       char *msg, size_t msglen);
	/* transfer (issue 11 item 5); NULL answers 503 */
	int (*transfer)(struct tnd_calls *calls, void *conn, const char *call, const char *to,
			const char *replaces, char *msg, size_t msglen);
	/* admin.trunks; NULL: the list is empty */
	void (*trunk_foreach)(struct tnd_calls *calls, tnd_trunk_info_h *h, void *arg);
	/* hold / resume (issue 11 item 4); NULL answers 503 */
	int (*hold)(struct tnd_calls *calls, void *conn, const char *call, bool hold, char *msg,
		    size_t msglen);
	/* progress (early media from the browser); NULL answers 503 */
	int (*progress)(struct tnd_calls *calls, void *conn, const char *call, const char *sdp,
			char *msg, size_t msglen);
	/* renegotiate (issue 11 item 4); NULL answers 503. done's err may be
	 * the SIP status (>= 300) the peer refused the re-INVITE with */
	int (*renegotiate)(struct tnd_calls *calls, void *conn, const char *call,
			   const char *sdp, tnd_call_done_h *done, void *req, char *msg,
			   size_t msglen);
};
/* Copies ops; NULL (the default) makes the call methods answer 503. */
void tnd_api_set_calls(struct tnd_api *api, const struct tnd_api_calls *ops);
/* What the call layer needs from the API: its sink table and a lookup of a
 * user's connections (arg is the tnd_api). */
extern const struct tnd_call_sink tnd_api_call_sink;
size_t tnd_api_lookup_user(void *arg, const char *user, void **conns, size_t max);

/* One client connection, whatever carries it. Refcounted (tnd_obj). */
struct tnd_api_conn;

struct tnd_api_transport {
	/* queue one text frame; text is borrowed for the call */
	void (*send)(void *arg, const char *text, size_t len);
	/* close with a WebSocket status code after queued frames */
	void (*close)(void *arg, int code, const char *reason);
};

int tnd_api_conn_alloc(struct tnd_api_conn **connp, struct tnd_api *api, const char *peer,
		       const struct tnd_api_transport *tp, void *arg);
/* The transport is gone: nothing more is sent; drops the caller's reference. */
void tnd_api_conn_detach(struct tnd_api_conn *conn);

/* Frame-level problems the transport found before the payload. */
enum tnd_api_frame {
	TND_API_FRAME_TEXT,
	TND_API_FRAME_BINARY,
	TND_API_FRAME_TOO_BIG,
};
#define TND_API_MAX_FRAME 65536
void tnd_api_conn_frame(struct tnd_api_conn *conn, enum tnd_api_frame kind, const char *data,
			size_t len);

/* Counters, for the `stats` method and tests. */
struct tnd_api_stats {
	unsigned long connections;       /* open now */
	unsigned long connections_total;
	unsigned long logged_in;         /* open now and logged in */
	unsigned long requests;
	unsigned long protocol_errors;
	unsigned long rate_limited;      /* requests refused for the request rate */
	unsigned long logins_refused;    /* logins answered 429: lock-out, queue full */
	unsigned long ws_refused;        /* handshakes and accepts refused */
};
void tnd_api_get_stats(const struct tnd_api *api, struct tnd_api_stats *st);

/* ------------------------------------------------------------ operations
 * Admin requests, CDRs and call events (docs/operations.md). */

/* What admin requests need from the program (gateway/main.c). */
struct tnd_api_admin {
	/* admin.reload: as SIGHUP; 0, or an errno with why in msg */
	int (*reload)(void *arg, char *msg, size_t msglen);
	void *arg;
};
/* Copies ops; without them admin.reload answers 503. */
void tnd_api_set_admin(struct tnd_api *api, const struct tnd_api_admin *ops);

/* CDRs (cdr.c): one JSON line per call, to [cdr] file and/or syslog,
 * written by a thread of its own from a bounded queue, so neither the
 * signalling thread nor a worker ever waits on a disk. Single owner. */
struct tnd_cdr;
/* Starts the writer when [cdr] file or syslog is set (the file is opened
 * now, so a bad path stops start-up). 0 or an errno with why in msg. */
int tnd_cdr_alloc(struct tnd_cdr **cdrp, const struct tnd_conf *conf, char *msg,
		  size_t msglen);
/* Reload: a new file or syslog setting, and the file reopened (rotation).
 * Lines queued meanwhile are kept. */
void tnd_cdr_set_conf(struct tnd_cdr *cdr, const struct tnd_conf *conf);
/* Queues the CDR of an ended call; never blocks. NULL cdr: nothing. */
void tnd_cdr_write(struct tnd_cdr *cdr, const struct tnd_call_info *info);
/* Writes every queued line, syncs the file and stops the writer. */
void tnd_cdr_free(struct tnd_cdr *cdr);
struct tnd_cdr_stats {
	unsigned long written;       /* lines written */
	unsigned long dropped;       /* lines refused: queue full */
	unsigned long errors;        /* lines that could not be written */
};
void tnd_cdr_get_stats(struct tnd_cdr *cdr, struct tnd_cdr_stats *st);
/* The CDR of `info` as one line of JSON ending in "\n" (free()), or NULL. */
char *tnd_cdr_line(const struct tnd_call_info *info);
/* ITU-T G.107 E-model, simplified: MOS-CQ estimate (1.0 to 4.5) for a
 * stream with one-way delay `delay_ms` and `loss_pct` packets lost, of the
 * codec `codec` ("PCMU/8000"; Ie and Bpl from G.113 Appendix I). */
double tnd_cdr_mos(double delay_ms, double loss_pct, const char *codec);

/* Call events (events.c): sequence-numbered JSON to [events] webhook and
 * to admin WebSockets that sent events.subscribe. Single owner; api is
 * borrowed and must outlive it. */
struct tnd_events;
int tnd_events_alloc(struct tnd_events **evp, struct tnd_api *api,
		     const struct tnd_conf *conf);
void tnd_events_set_conf(struct tnd_events *ev, const struct tnd_conf *conf);
/* One lifecycle event of a call; never blocks. NULL ev: nothing. */
void tnd_events_call(struct tnd_events *ev, enum tnd_call_event e,
		     const struct tnd_call_info *info);
/* A registration's change (registered, failed, unregistered) as the event
 * "registration.<state>", with the same sequence numbers as call events;
 * never blocks. NULL ev: nothing. */
void tnd_events_registration(struct tnd_events *ev, const struct tnd_reg_info *info);
/* Gives the webhook up to a second to send what is queued, then stops. */
void tnd_events_free(struct tnd_events *ev);
/* Counters, for metrics and tests. Signalling thread. */
struct tnd_events_stats {
	unsigned long seq;               /* events made so far */
	unsigned long posted;            /* accepted (2xx) by the webhook */
	unsigned long dropped;           /* the webhook's queue was full: oldest dropped */
	unsigned long failed;            /* given up after [events] retries */
	unsigned queued;                 /* waiting for the webhook now */
};
void tnd_events_get_stats(struct tnd_events *ev, struct tnd_events_stats *st);

#endif
