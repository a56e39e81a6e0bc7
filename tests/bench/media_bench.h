/* media-bench: the media relay benchmark driver (docs/benchmarks.md, "Media
 * relay"). It plays both ends of every relayed call: the browser (a tnd_pc
 * doing ICE and DTLS-SRTP, RFC 8827) and the SIP phone (plain RTP/AVP PCMU
 * on a tnd_rtpsock), and in between the relay under test: ./tandem, set up
 * through its real signalling (WebSocket JSON-RPC `call`, then the INVITE to
 * the driver's own SIP user agent), or rtpengine, set up through its ng
 * control protocol. Each call sends 160-byte PCMU payloads at 50 packets/s
 * each way; the driver measures loss, one-way delay and RFC 3550 A.8
 * interarrival jitter per direction, for a ramp of call counts.
 *
 * The driver must stay cheaper per packet than the relay, or it saturates
 * first and the relay's ceiling is never seen. By default (--fast 1) the
 * calls' media bypass the gateway's per-socket machinery once a call is up
 * (mb_fast.c): the phones share one socket, read and written in batches
 * (recvmmsg, sendmmsg), the browsers' sockets are read from the driver's own
 * epoll set once per 1 ms tick, with kernel arrival stamps, and only one
 * browser packet in --decrypt-every is decrypted (the others are matched to
 * their send time by sequence number). --target loop replaces the relay by
 * an echo thread (mb_echo.c) to measure the driver's own ceiling.
 *
 * Threads: the main thread runs everything but SIP (libnice agents,
 * sockets, the pacing timer, the WebSocket and ng clients) on GLib's default
 * main context; the phones' SIP user agent has a thread of its own
 * (mb_phone.c says why), and the two meet only through tnd_loop_call(). The
 * driver, both threads, is pinned to one core by the runner; its own CPU
 * share is printed with every result, since a saturated driver would make
 * the relay look worse than it is. */
#ifndef TND_BENCH_MEDIA_BENCH_H
#define TND_BENCH_MEDIA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <jansson.h>

#include "gateway/base/loop.h"
#include "webrtc/webrtc.h"

#define TND_MB_PTIME_US 20000     /* 50 packets/s: one PCMU frame of 20 ms */
#define TND_MB_SLOTS 20           /* send phases, 1 ms apart inside the 20 ms */
#define TND_MB_PAYLOAD 160        /* 20 ms of 8 kHz PCMU */
#define TND_MB_PKT (TND_RTP_HDR_LEN + TND_MB_PAYLOAD)
#define TND_MB_MAX_CANDS 8
#define TND_MB_MAX_STEPS 16
#define TND_MB_HIST_US 10         /* histogram bucket width */
#define TND_MB_HIST_N 50000       /* buckets: 0 to 500 ms, then one overflow bucket */
#define TND_MB_RING 256           /* send times kept per stream: 5.12 s of packets */
/* payload: send time (8 bytes, CLOCK_MONOTONIC us), call index (4), the
 * driver's own sequence number (2) */
#define TND_MB_PL_SEQ 12
#define TND_MB_PL_MIN 14

enum tnd_mb_target {
	TND_MB_TANDEM,
	TND_MB_RTPENGINE,
	TND_MB_LOOP,      /* no relay: mb_echo.c's echo thread, the driver's own ceiling */
};

/* Direction of a stream, named after who sends it. */
enum tnd_mb_dir {
	TND_MB_B2P,      /* browser (SRTP) -> relay -> phone (RTP) */
	TND_MB_P2B,      /* phone (RTP) -> relay -> browser (SRTP) */
	TND_MB_NDIR,
};

enum tnd_mb_cstate {
	TND_MB_C_SETUP,   /* being set up */
	TND_MB_C_UP,      /* ICE+DTLS connected and the SIP leg answered: media flows */
	TND_MB_C_FAILED,  /* set-up failed or timed out */
	TND_MB_C_ENDED,   /* ended by the relay after it was up */
};

/* Latency or jitter samples in TND_MB_HIST_US buckets: fixed size, so that
 * recording a packet allocates nothing. */
struct tnd_mb_hist {
	uint64_t n;
	uint64_t max_us;
	uint32_t b[TND_MB_HIST_N + 1];
};

/* One direction of one call. The sender's fields are written when it sends,
 * the receiver's when the relayed packet comes back to the other end. */
struct tnd_mb_stream {
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint64_t sent_win;        /* sent with a send time inside the window */
	uint64_t recv_win;        /* received, of those */
	uint64_t recv_total;
	uint64_t bad;             /* arrived for another call, or too short */
	int64_t last_transit;     /* us; INT64_MIN before the first packet */
	double jitter;            /* us, RFC 3550 A.8 */
	double jitter_max;        /* us, highest inside the window */
	/* P2B only: send times by the driver's sequence number, so that a
	 * browser packet not decrypted still gives its one-way delay */
	int64_t ring_t[TND_MB_RING];
	uint16_t ring_seq[TND_MB_RING];
};

struct tnd_mb;
struct tnd_srtp;

struct tnd_mb_call {
	struct tnd_mb *mb;            /* borrowed */
	unsigned idx;
	enum tnd_mb_cstate state;
	struct tnd_pc *pc;            /* ref: the browser's side */
	struct tnd_rtpsock *sock;     /* ref: the phone's side */
	char *relay_id;               /* g_malloc'd: the gateway's call id */
	char *cands[TND_MB_MAX_CANDS];   /* g_malloc'd: our local candidates */
	unsigned n_cands;
	bool gathered, offered, pc_up, phone_up, cands_done;
	int64_t t_start, t_up;        /* g_get_monotonic_time() */
	int64_t t_offer, t_answer, t_invite;   /* offer sent, answer and INVITE in */
	struct tnd_mb_stream s[TND_MB_NDIR];
	/* --fast 1 (mb_fast.c) */
	int bfd;                      /* the browser's socket once taken (the pc's), or -1 */
	struct tnd_srtp *srtp;        /* borrowed: the pc's; owned for --target loop */
	bool taken;                   /* bfd is read by mb_fast.c, not by the pc */
	bool bconn;                   /* bfd connected to the relay: sends bypass the pc */
	bool prelay_set;
	struct sockaddr_in prelay;    /* where the phone sends: the relay's SIP-side port */
	char *ice_user;               /* owned: "our ufrag:", to answer the relay's checks */
	char *ice_pwd;                /* owned */
	uint32_t brx;                 /* browser packets read, for 1-in-N decryption */
	uint16_t seq_off;             /* the relay's P2B sequence minus ours */
	bool seq_off_known;
};

struct tnd_mb_opts {
	enum tnd_mb_target target;
	const char *label;            /* "tandem" or "rtpengine" in the output */
	int ws_port;                  /* Tandem's WebSocket */
	int sip_port;                 /* the driver's own SIP port (Tandem calls it) */
	int ng_port;                  /* rtpengine's ng control port */
	int peer_pid;                 /* the relay's process, for CPU and RSS */
	unsigned steps[TND_MB_MAX_STEPS];
	unsigned n_steps;
	unsigned concurrency;         /* set-ups in flight */
	double warm_s, measure_s;
	double max_loss_pct, max_jitter_ms, max_driver_cpu;
	double max_seconds;           /* whole run, set-ups included */
	double max_other_cpu;         /* others' share of both CPUs that voids a window */
	unsigned retries;             /* windows measured again when voided, per step */
	uint16_t pc_port_min, pc_port_max, rtp_port_min, rtp_port_max;
	bool glib_block;              /* leave GLib's per-dispatch poll updates on */
	bool setup_only;              /* stop after the first step's set-ups */
	bool fast;                    /* the batched media path (mb_fast.c) */
	unsigned decrypt_every;       /* browser packets: 1 in N decrypted (1: all) */
	unsigned past_steps;          /* steps run past the first one over a limit */
};

struct tnd_mb_ws;
struct tnd_mb_ng;

/* Results of one measuring window, summed over the calls that were up. */
struct tnd_mb_tally {
	uint64_t sent[TND_MB_NDIR], recv[TND_MB_NDIR];
	double worst_loss_pct[TND_MB_NDIR];
	unsigned worst_loss_call[TND_MB_NDIR];
	double worst_jitter_us[TND_MB_NDIR];
	unsigned worst_jitter_call[TND_MB_NDIR];
	double mean_jitter_us[TND_MB_NDIR];
	unsigned calls;
};

struct tnd_mb {
	struct tnd_mb_opts o;
	struct tnd_loop *loop;        /* owned: the default context, this thread */
	struct tnd_mb_ws *ws;         /* owned: the browsers' WebSocket (Tandem) */
	struct tnd_mb_ng *ng;         /* owned: rtpengine's control (rtpengine) */
	struct tnd_mb_call *calls;    /* owned: the largest step's worth */
	unsigned n_calls;             /* started */
	unsigned n_up, n_inflight, n_failed, n_dropped;
	guint scan_id;                /* sources up to this id were made recursive */
	GHashTable *by_id;            /* owned: the gateway's call id -> call (borrowed) */
	uint32_t *setup_us;           /* owned: set-up time of each call that came up */
	unsigned step;                /* index into o.steps */
	bool launching, stopping;
	int rc;
	int64_t t_run0;
	/* pacing: slot k sends for calls idx % TND_MB_SLOTS == k */
	int64_t due[TND_MB_SLOTS];
	/* the measuring window, in send time */
	bool window;
	int64_t win0, win1;
	struct tnd_mb_hist lat[TND_MB_NDIR], jit[TND_MB_NDIR], late;
	uint64_t send_err[TND_MB_NDIR];
	/* browser packets in the window, by how they were checked */
	uint64_t rx_decrypted;        /* decrypted, authenticated, payload checked */
	uint64_t rx_by_seq;           /* matched to their send time by sequence number */
	uint64_t rx_unmatched;        /* neither (no send time for that number) */
	uint64_t rx_auth_fail;        /* decryption failed */
	uint64_t rx_remap;            /* a decrypted sample moved the relay's seq offset */
	char why_failed[160];         /* the first set-up failure, for the log */
	struct sockaddr_in echo;      /* --target loop: the echo thread's socket */
};

/* ---- mb_call.c: one call's set-up (both relays) */

/* Starts call `c` (already zeroed but for mb and idx). 0 or an errno; the
 * call then ends in UP or FAILED through tnd_mb_call_settled(). */
int tnd_mb_call_start(struct tnd_mb_call *c);
/* Fails a call still in set-up (a time-out, an error from the relay). */
void tnd_mb_call_fail(struct tnd_mb_call *c, const char *why);
/* The relay ended a call: a notification, a SIP BYE, a DTLS close. */
void tnd_mb_call_lost(struct tnd_mb_call *c, const char *why);
/* Tandem's JSON-RPC answer to `call` (result or error) and notifications. */
void tnd_mb_call_rpc_result(struct tnd_mb_call *c, json_t *result, json_t *error);
void tnd_mb_call_notify(struct tnd_mb *mb, const char *method, json_t *params);
/* The phone's side of Tandem's calls, from mb_phone.c: the gateway's RTP
 * address (and when its INVITE came), then the ACK. */
void tnd_mb_call_phone_remote(struct tnd_mb_call *c, const char *ip, uint16_t port, int64_t t);
void tnd_mb_call_phone_up(struct tnd_mb_call *c);

/* ---- mb_phone.c: the phones' SIP user agent (Tandem), on its own thread */

/* Starts the thread and the user agent on o.sip_port; calls b0..b<max-1>. */
int tnd_mb_phone_start(struct tnd_mb *mb, unsigned max_calls);
/* Main thread: call idx's phone is RTP port `port`; before its offer leaves. */
void tnd_mb_phone_expect(unsigned idx, uint16_t port);
/* Main thread: ends call idx's dialog, if any. */
void tnd_mb_phone_hangup(unsigned idx);
/* Any thread: the phone's plain SDP (g_malloc'd), and the c= address and
 * m= port of a plain SDP (0 or EBADMSG). */
char *tnd_mb_phone_sdp(unsigned idx, uint16_t port);
int tnd_mb_plain_addr(const char *sdp, char *ip, size_t size, uint16_t *port);

/* ---- mb_loop.c: the driver's main loop kept cheap (unless --glib-block 1) */

/* Installs the poll function on the driver's context. 0 or an errno. */
int tnd_mb_loop_tune(struct tnd_mb *mb);
/* Makes every source attached since the last call recursive. */
void tnd_mb_sources_recurse(struct tnd_mb *mb);
/* Main loop iterations so far (polls). */
uint64_t tnd_mb_loop_iterations(void);

/* ---- media_bench.c: the ramp */

/* A call reached UP or FAILED: start the next set-ups, end the step. */
void tnd_mb_call_settled(struct tnd_mb_call *c);

/* ---- mb_media.c: pacing, sending, receiving, statistics */

int tnd_mb_media_start(struct tnd_mb *mb);
/* A new call's streams: SSRCs, first sequence numbers and timestamps. Its
 * packets flow from the first tick after it is UP. */
void tnd_mb_media_call_init(struct tnd_mb_call *c);
/* A relayed RTP packet in the clear arriving at the phone (B2P) or, decrypted,
 * at the browser (P2B), `now` its arrival time (us, monotonic). 0, or EBADMSG
 * for a packet that is not this call's (counted as bad). */
int tnd_mb_media_rx(struct tnd_mb_call *c, enum tnd_mb_dir d, const uint8_t *pkt, size_t len,
		    int64_t now);
/* A browser packet not decrypted: its send time from the relay's sequence
 * number, once a decrypted one gave the relay's offset. false if unknown. */
bool tnd_mb_media_rx_seq(struct tnd_mb_call *c, uint16_t relay_seq, int64_t now);
/* Opens the window [now, now + seconds); clears its counters. */
void tnd_mb_media_window(struct tnd_mb *mb, double seconds);
void tnd_mb_media_tally(struct tnd_mb *mb, struct tnd_mb_tally *t);
/* Nearest-rank percentile of a histogram, in microseconds. */
uint64_t tnd_mb_hist_pct(const struct tnd_mb_hist *h, double pct);

/* ---- mb_fast.c: the batched media path (--fast 1) and --target loop's calls */

/* The phones' shared socket (in --rtp-ports), the driver's epoll set and the
 * send batch for up to max_calls calls. 0 or an errno. */
int tnd_mb_fast_start(struct tnd_mb *mb, unsigned max_calls);
uint16_t tnd_mb_fast_phone_port(void);
/* Where call c's phone sends: the relay's address from its SDP. */
int tnd_mb_fast_phone_remote(struct tnd_mb_call *c, const char *ip, uint16_t port);
/* A call that is UP: once its pc reads its socket itself (direct), takes the
 * socket over. Cheap to call on every tick. */
void tnd_mb_fast_take(struct tnd_mb_call *c);
/* Sends the browser's packet (protected in place; cap as for tnd_pc_send_rtp)
 * and queues the phone's; 0 or an errno for each. */
int tnd_mb_fast_send_browser(struct tnd_mb_call *c, uint8_t *pkt, size_t len, size_t cap);
int tnd_mb_fast_queue_phone(struct tnd_mb_call *c, const uint8_t *pkt, size_t len);
/* Sends what was queued; returns the packets that failed. */
unsigned tnd_mb_fast_flush(struct tnd_mb *mb);
/* Reads whatever arrived on the phones' socket and the taken browser sockets. */
void tnd_mb_fast_poll(struct tnd_mb *mb);
/* Datagrams the kernel dropped on the phones' socket (its buffer full): the
 * driver's loss, not the relay's. */
uint64_t tnd_mb_fast_rx_drops(void);
/* --target loop: a call with no relay and no set-up: a plain socket with fixed
 * SRTP keys for the browser, the shared phone socket, both sending to the
 * echo at `echo`. 0 or an errno. */
int tnd_mb_fast_loop_call(struct tnd_mb_call *c, const struct sockaddr_in *echo);

/* ---- mb_echo.c: --target loop's stand-in for the relay */

/* A thread on CPU 0 with one socket that sends every datagram back to where
 * it came from, in batches (recvmmsg, sendmmsg): cheaper per packet than
 * any relay, so that the driver, not it, runs out first. 0 or an errno. */
int tnd_mb_echo_start(struct sockaddr_in *addr);
/* The echo thread's CPU seconds so far. */
double tnd_mb_echo_cpu_s(void);

/* ---- mb_ws.c: a minimal RFC 6455 client carrying JSON-RPC */

typedef void (tnd_mb_ws_msg_h)(void *arg, json_t *msg);
typedef void (tnd_mb_ws_gone_h)(void *arg, const char *why);

/* Connects to ws://127.0.0.1:port/ws (subprotocol tandem.v1) and completes
 * the handshake before it returns; messages then arrive on the default
 * main context. 0 or an errno (ECONNREFUSED while the gateway starts). */
int tnd_mb_ws_open(struct tnd_mb_ws **wsp, int port, tnd_mb_ws_msg_h *msgh,
		   tnd_mb_ws_gone_h *goneh, void *arg);
/* Sends one JSON-RPC request; `params` is stolen. 0 or an errno. */
int tnd_mb_ws_request(struct tnd_mb_ws *ws, json_int_t id, const char *method, json_t *params);
void tnd_mb_ws_close(struct tnd_mb_ws *ws);

/* ---- mb_ng.c: rtpengine's ng control protocol (bencode over UDP) */

/* The reply's SDP (NULL on error) and, on error, rtpengine's reason. */
typedef void (tnd_mb_ng_reply_h)(void *arg, const char *sdp, const char *error);

/* Opens the control socket and waits, up to timeout_ms, for a pong. */
int tnd_mb_ng_open(struct tnd_mb_ng **ngp, int port, int timeout_ms);
/* `offer` (to_tag NULL) or `answer`; the reply comes on the main context.
 * Requests are retransmitted every 500 ms, 10 times at most. */
int tnd_mb_ng_request(struct tnd_mb_ng *ng, const char *command, const char *call_id,
		      const char *from_tag, const char *to_tag, const char *sdp,
		      tnd_mb_ng_reply_h *h, void *arg);
void tnd_mb_ng_close(struct tnd_mb_ng *ng);

#endif
