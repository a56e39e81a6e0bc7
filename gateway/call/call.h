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
};

/* Finds the open connections of a logged-in user, for incoming calls:
 * writes up to max borrowed connection objects, returns how many. */
typedef size_t (tnd_call_lookup_h)(void *arg, const char *user, void **conns, size_t max);

/* The drain is over: no call is left (signalling thread, from the loop). */
typedef void (tnd_calls_drained_h)(void *arg);

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
};

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
};

/* A call from the browser to SIP. On 0, done(req, ...) follows exactly once
 * (it may run before this returns); `req` is a tnd_obj the call holds a
 * reference to until then. Else an errno, with a message in msg, and done
 * is not called: EAGAIN past a [calls] limit (max_per_connection for conn,
 * max_per_user or rate for from_user; without a user the connection's own
 * rate counts), checked before anything else. */
int tnd_calls_start(struct tnd_calls *calls, void *conn, const struct tnd_call_params *p,
		    tnd_call_done_h *done, void *req, char *msg, size_t msglen);
/* The browser's answer to an `incoming` offer. */
int tnd_calls_answer(struct tnd_calls *calls, void *conn, const char *call, const char *sdp,
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
/* The connection is gone: its calls end (ringing ones only for it). */
void tnd_calls_conn_gone(struct tnd_calls *calls, void *conn);

/* Live objects, for the `stats` method and the leak tests. */
struct tnd_calls_stats {
	unsigned long calls;          /* live now */
	unsigned long calls_total;
	unsigned long sip_dialogs;
	long bridges;
	long media_legs;
	long media_ports;
	long media_dropped;           /* garbage dropped by ended calls' media legs */
};
void tnd_calls_stats(const struct tnd_calls *calls, struct tnd_calls_stats *st);

/* /metrics gauges of the call layer (a tnd_api_metrics_h; arg is the
 * struct tnd_calls): live calls by direction and media mode, SIP
 * registrations, media workers' load and bridges, in Prometheus text
 * format. Signalling thread. */
void tnd_calls_metrics_write(void *arg, GString *out);

#endif
