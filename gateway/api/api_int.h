/* Private to gateway/api: the connection, request and method table shared by
 * the frame handler, the method groups and the WebSocket transport. */
#ifndef TND_GATEWAY_API_INT_H
#define TND_GATEWAY_API_INT_H

#include <stdbool.h>

#include <glib.h>
#include <jansson.h>

#include "gateway/api/api.h"
#include "gateway/base/obj.h"

/* JSON-RPC 2.0 section 5.1 codes */
#define TND_RPC_PARSE_ERROR      (-32700)
#define TND_RPC_INVALID_REQUEST  (-32600)
#define TND_RPC_METHOD_NOT_FOUND (-32601)
#define TND_RPC_INVALID_PARAMS   (-32602)
#define TND_RPC_INTERNAL_ERROR   (-32603)

/* Close after this many protocol errors in a row (protocol.md). */
#define TND_API_MAX_PROTO_ERRORS 10

struct tnd_api {
	const struct tnd_conf *conf;     /* borrowed */
	struct tnd_policy *policy;       /* borrowed */
	struct tnd_loop *loop;           /* borrowed */
	GList *conns;                    /* ref'd tnd_api_conn, open ones */
	GThreadPool *hashers;            /* owned: slow password checks */
	struct tnd_api_ws *ws;           /* owned, NULL when not listening */
	struct tnd_api_calls calls;      /* calls.calls NULL without call legs */
	struct tnd_api_stats stats;
	unsigned hash_jobs;              /* password checks queued or running */
	bool shutting_down;
	tnd_api_ready_h *ready;          /* /readyz; NULL: ready */
	void *ready_arg;
	tnd_api_metrics_h *metrics;      /* /metrics: the other layers' gauges, or NULL */
	void *metrics_arg;
	tnd_api_done_h *done;
	void *done_arg;
	guint done_timer;
	struct tnd_api_admin admin;      /* admin.reload; zeroed: not available */
	uint64_t event_seq;              /* last call event's number (events.c) */
};

struct tnd_api_conn {
	struct tnd_obj obj;
	struct tnd_api *api;             /* borrowed; NULL once detached */
	const struct tnd_api_transport *tp;
	void *tp_arg;
	char peer[64];
	char *user;                      /* owned: logged-in user, or NULL */
	unsigned proto_errors;           /* consecutive */
	bool closing;
	/* password logins: one at a time per connection, so a lock-out
	 * reached by the first ones applies to the rest (m_session.c) */
	GQueue logins;                   /* owned struct verify, waiting their turn */
	unsigned logins_pending;         /* queued here or on the hasher pool */
	bool hashing;                    /* one of them is on the pool */
	int gone;                        /* atomic: transport gone, skip the hash */
	/* request rate (token bucket, [websocket] rate and burst) */
	double bucket;
	gint64 bucket_us;
	unsigned limited_run;            /* refused, less those let through since */
	bool events;                     /* events.subscribe: gets `event` notifications */
};

/* Password logins one connection may have queued or running. */
#define TND_API_LOGINS_PER_CONN 4
/* ... and all connections from one address together. */
#define TND_API_LOGINS_PER_ADDR 8

/* One request; refcounted so a method may answer later (after a thread
 * or the SIP side has replied). */
struct tnd_api_req {
	struct tnd_obj obj;
	struct tnd_api_conn *conn;       /* ref */
	json_t *id;                      /* owned; NULL for a notification */
	const char *method;              /* static: the table's name */
	char msg[256];                   /* why the method failed */
	bool answered;
};

/* A method returns 0 when it answered or will answer, a negative JSON-RPC
 * code, or a positive errno that the error table maps (R5). Either way on
 * failure it first writes the reason with tnd_api_req_msg(). */
typedef int (tnd_api_method_h)(struct tnd_api_req *req, json_t *params);

struct tnd_api_method {
	const char *name;
	tnd_api_method_h *fn;
	bool needs_login;
};

/* Method groups, one per file. */
extern const struct tnd_api_method tnd_api_session_methods[];
extern const struct tnd_api_method tnd_api_call_methods[];
extern const struct tnd_api_method tnd_api_reg_methods[];
/* The sink's `registration` (m_reg.c). */
void tnd_api_sink_registration(void *conn, const char *reg, const char *state, int code,
			       const char *reason, unsigned expires, unsigned retry_in);
extern const struct tnd_api_method tnd_api_admin_methods[];

/* A call snapshot as JSON: the CDR's fields (cdr.c), also used by call
 * events and admin requests. New reference, or NULL. */
json_t *tnd_api_call_json(const struct tnd_call_info *info);
/* A registration snapshot as JSON (events.c), for admin.registrations and
 * registration events. New reference, or NULL. */
json_t *tnd_api_reg_json(const struct tnd_reg_info *info);
/* Real time `us` as ISO 8601 UTC with milliseconds ("...T16:31:43.123Z"),
 * or JSON null for 0. New reference. */
json_t *tnd_api_iso_time(int64_t us);

void tnd_api_req_msg(struct tnd_api_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* m_call.c: `stats` with params.call, a call's media figures. */
int tnd_api_call_stats(struct tnd_api_req *req, json_t *params);
/* Answers with a result (stolen). Only the first answer is sent. */
void tnd_api_reply(struct tnd_api_req *req, json_t *result);
/* Answers with an error: code <0 as is, >0 as an errno through the table. */
void tnd_api_reply_error(struct tnd_api_req *req, int code);
/* Answers with the SIP peer's refusal (status 300-699) as the error code,
 * data {sip_status, sip_reason}: `info` and `message` (m_call.c). */
void tnd_api_reply_sip(struct tnd_api_req *req, int status, const char *phrase);
/* Sends a notification (params stolen). */
void tnd_api_notify(struct tnd_api_conn *conn, const char *method, json_t *params);

/* Parameter helpers: 0, or TND_RPC_INVALID_PARAMS with req->msg set. */
int tnd_api_param_str(struct tnd_api_req *req, json_t *params, const char *key, bool required,
		      const char **out);
int tnd_api_params_only(struct tnd_api_req *req, json_t *params, const char *const *allowed);

/* Maps an errno to its protocol code (R5 table); <0 codes pass through. */
int tnd_api_error_code(int err);

/* Set the logged-in user of conn (copied); NULL logs out. */
int tnd_api_conn_set_user(struct tnd_api_conn *conn, const char *user);

/* Drops the password logins conn has waiting, unanswered (its socket went,
 * or the API is being freed). */
void tnd_api_logins_cancel(struct tnd_api_conn *conn);

/* The pool that runs slow password checks, made on first use with `job`. */
GThreadPool *tnd_api_hashers(struct tnd_api *api, GFunc job);

/* One message being reassembled from WebSocket fragments (ws_rules.c).
 * Zeroed to start; tnd_api_wsrx_reset frees the buffer. */
struct tnd_api_wsrx {
	unsigned char *buf;              /* owned */
	size_t len, cap;
	bool too_big, binary;
};
typedef void (tnd_api_wsrx_h)(void *arg, enum tnd_api_frame kind, const char *data,
			      size_t len);
/* Feeds one piece of a message (first/last: the first or last piece of the
 * message; binary: its opcode); calls h once per complete message, with
 * TND_API_FRAME_TOO_BIG past TND_API_MAX_FRAME. */
void tnd_api_wsrx_feed(struct tnd_api_wsrx *rx, bool first, bool last, bool binary,
		       const void *in, size_t len, tnd_api_wsrx_h *h, void *arg);
void tnd_api_wsrx_reset(struct tnd_api_wsrx *rx);
/* true when the comma-separated list (RFC 7230 section 7: optional
 * whitespace around items) holds tok, ignoring ASCII case if nocase. */
bool tnd_api_list_has(const char *list, const char *tok, bool nocase);
/* true when the Sec-WebSocket-Protocol value `list` names `name`. */
bool tnd_api_ws_offers(const char *list, const char *name);
/* true when a page from `origin` (NULL: no Origin header) may open the
 * WebSocket under conf ([websocket] origins, [auth] mode). */
bool tnd_api_ws_origin_ok(const struct tnd_conf *conf, const char *origin);
/* true when the IP literal addr is in list: "*" (anyone), or comma-separated
 * addresses and CIDR prefixes, v4 or v6 ([websocket] health_allow). */
bool tnd_api_ws_addr_allowed(const char *list, const char *addr);

/* The call events' webhook (webhook.c): a thread that POSTs JSON bodies
 * in order. Single owner. */
struct tnd_webhook;
struct tnd_webhook_stats {
	unsigned long posted;            /* answered 2xx */
	unsigned long dropped;           /* queue full: the oldest went */
	unsigned long failed;            /* given up after the retries */
	unsigned long retries;
	unsigned queued;
};
int tnd_webhook_alloc(struct tnd_webhook **whp);
/* url "" drops what comes; max >= 1 bodies wait; timeout per attempt. */
void tnd_webhook_set(struct tnd_webhook *wh, const char *url, unsigned max,
		     unsigned timeout_ms, unsigned retries);
/* Queues body (malloc'd; taken), dropping the oldest when full. */
void tnd_webhook_post(struct tnd_webhook *wh, char *body);
void tnd_webhook_get_stats(struct tnd_webhook *wh, struct tnd_webhook_stats *st);
/* Lets the queue drain for up to grace_ms, then stops the thread. */
void tnd_webhook_free(struct tnd_webhook *wh, unsigned grace_ms);
/* "http://host[:port]/path": host (IP literal without brackets, or a
 * name), port ("80" by default) and path ("/" when none). 0 or EINVAL. */
int tnd_webhook_parse_url(const char *url, char *host, size_t hostlen, char *port,
			  size_t portlen, const char **path);
/* The status of an HTTP/1.x response from its first bytes: 0 with
 * *status once the status line is complete, EAGAIN when more is needed,
 * EBADMSG when it is not one (RFC 9112 4). */
int tnd_webhook_status(const char *buf, size_t len, int *status);

/* WebSocket transport (ws.c). */
struct tnd_api_ws;
int tnd_api_ws_alloc(struct tnd_api_ws **wsp, struct tnd_api *api);
void tnd_api_ws_free(struct tnd_api_ws *ws);
void tnd_api_ws_stop_listening(struct tnd_api_ws *ws);

/* metrics_http.c: the whole GET /metrics answer (head and, unless
 * head_only, body) in a new GString. */
GString *tnd_api_metrics_response(struct tnd_api *api, bool head_only);

#endif
