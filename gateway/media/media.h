/* Media: the worker pool and the per-call bridge between the browser's
 * WebRTC leg (struct tnd_pc) and the SIP leg's RTP socket (struct
 * tnd_rtpsock). Style guide section 1: the bridge's packet state lives on
 * one media worker for the call's life; the signalling thread talks to it
 * only through queued commands (tnd_loop_call) and gets events back the same
 * way, on the signalling loop.
 *
 * A bridge has two legs, A (the browser's side: a WebRTC pc, or plain RTP)
 * and B (the SIP side: plain RTP), and one stream per direction that owns
 * its output SSRC, sequence and timestamp (stream.h), so each leg sees one
 * continuous stream whatever changes on the other. Pass-through for now:
 * both legs share the codec, packets are relayed without decoding. Each
 * leg's RTCP is terminated: we send our own SR/RR from what we sent and
 * received (rtcp_term.c). A leg silent for the configured time ends the
 * call (TND_BRIDGE_SIP_SILENT, TND_BRIDGE_WEBRTC_SILENT). */
#ifndef TND_GATEWAY_MEDIA_H
#define TND_GATEWAY_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/base/loop.h"

/* ------------------------------------------------------------ worker pool */

/* Single owner: tnd_media_pool_alloc / tnd_media_pool_free. */
struct tnd_media_pool;

/* Starts n worker threads (1..64). 0, EINVAL, ENOMEM or EAGAIN. */
int tnd_media_pool_alloc(struct tnd_media_pool **pp, unsigned n);
/* Stops and joins the workers; every bridge must be gone. */
void tnd_media_pool_free(struct tnd_media_pool *p);
/* Admission control: a worker whose measured CPU load is at or above
 * max_load_pct (1..100; 0: no limit) takes no new call. */
void tnd_media_pool_set_max_load(struct tnd_media_pool *p, unsigned max_load_pct);
/* The worker for a new call: the one with the fewest live bridges among
 * those under the load limit; NULL when every worker is past it (the call
 * is refused with 503, rtpengine's max-load). */
struct tnd_loop *tnd_media_pool_pick(struct tnd_media_pool *p);
/* A worker's CPU load over the last second, percent (0..100+). */
unsigned tnd_media_pool_load(const struct tnd_media_pool *p, unsigned i);

/* ------------------------------------------------------------ bridge */

struct tnd_bridge_conf {
	const char *const *ice_addrs;   /* host candidates (IP literals) */
	unsigned n_ice_addrs;
	const char *rtp_addr;           /* the SIP leg's local address */
	uint16_t port_min, port_max;
	const char *stun_server;        /* "IP:port" or NULL */
	const char *turn_server, *turn_user, *turn_pass;
	bool turn_only;                 /* relayed candidates only */
	bool ice_controlling;           /* we offered to the browser */
	/* remote ICE candidates in these prefixes ("10.0.0.0/8", "::1/128")
	 * are refused: the gateway never sends checks there (review M1) */
	const char *const *cand_deny;
	unsigned n_cand_deny;
	bool a_rtp;                     /* leg A is a plain RTP socket too */
	/* leg B is a WebRTC pc too (browser to browser, SIP over WebSocket):
	 * its events go to ready_b/candidate_b/state_b, its remote side is
	 * given with tnd_bridge_leg_remote/_candidate(side 1) */
	bool b_webrtc;
	bool b_ice_controlling;
	/* leg B's RTP socket is made only by tnd_bridge_swap_sip_leg (a call
	 * from SIP needs no port before it is answered: a ringing call holds
	 * the browser's ICE socket alone); `ready` then says rtp_port 0 */
	bool b_later;
	bool strict_source;             /* SIP-side RTP only from the SDP address */
	unsigned timeout_ms;            /* a leg silent this long ends the call; 0 never */
	int rcvbuf;                     /* media sockets' SO_RCVBUF, bytes; 0 system's */
};

enum tnd_bridge_state {
	TND_BRIDGE_CONNECTED,   /* DTLS-SRTP up with the browser */
	TND_BRIDGE_FAILED,      /* ICE or DTLS failed; err says why */
	TND_BRIDGE_CLOSED,      /* the browser closed DTLS */
	TND_BRIDGE_SIP_SILENT,  /* no RTP or RTCP from the SIP leg for timeout_ms */
	TND_BRIDGE_WEBRTC_SILENT,   /* nor from the browser's */
};

/* Events, on the signalling loop. Borrowed strings. */
struct tnd_bridge_events {
	/* Once: the legs are up locally. `cands` are the candidates gathered
	 * so far (NULL-terminated); `complete` when gathering is finished.
	 * err != 0 means set-up failed and nothing else will come. */
	void (*ready)(void *arg, int err, const char *ufrag, const char *pwd,
		      const char *const *cands, bool complete, uint16_t rtp_port);
	/* Candidates gathered after ready; NULL once complete. */
	void (*candidate)(void *arg, const char *cand);
	void (*state)(void *arg, enum tnd_bridge_state state, int err);
	/* Leg B's, when it is WebRTC (conf.b_webrtc; then required). */
	void (*ready_b)(void *arg, int err, const char *ufrag, const char *pwd,
			const char *const *cands, bool complete);
	void (*candidate_b)(void *arg, const char *cand);
	void (*state_b)(void *arg, enum tnd_bridge_state state, int err);
};

/* Payload types of one codec on both legs. */
struct tnd_bridge_pt {
	uint8_t webrtc_pt;
	uint8_t sip_pt;
	uint32_t clock;      /* RTP clock rate, Hz */
};

/* Refcounted (tnd_obj). Made on the signalling thread; its legs are made on
 * `worker` and events come back on `signal`. */
struct tnd_bridge;

int tnd_bridge_alloc(struct tnd_bridge **brp, struct tnd_loop *worker, struct tnd_loop *signal,
		     const struct tnd_bridge_conf *conf, const struct tnd_bridge_events *ev,
		     void *arg);

/* The SSRC we send with toward the browser (random, fixed for the call),
 * for its SDP. */
uint32_t tnd_bridge_webrtc_ssrc(const struct tnd_bridge *br);
/* Local RTP port of leg A (0) or B (1); valid once `ready` was delivered. */
uint16_t tnd_bridge_port(const struct tnd_bridge *br, unsigned side);

/* Commands; queued to the worker in call order, any time after alloc. */
int tnd_bridge_webrtc_remote(struct tnd_bridge *br, const char *ufrag, const char *pwd,
			     const char *fingerprint, bool dtls_active);
int tnd_bridge_webrtc_candidate(struct tnd_bridge *br, const char *cand_or_null);
/* The same for either WebRTC leg (side 1 needs conf.b_webrtc). */
int tnd_bridge_leg_remote(struct tnd_bridge *br, unsigned side, const char *ufrag,
			  const char *pwd, const char *fingerprint, bool dtls_active);
int tnd_bridge_leg_candidate(struct tnd_bridge *br, unsigned side, const char *cand_or_null);
int tnd_bridge_sip_remote(struct tnd_bridge *br, const char *ip, uint16_t port,
			  uint16_t rtcp_port);
/* The same for either plain RTP leg (side 0 needs conf.a_rtp). */
int tnd_bridge_rtp_remote(struct tnd_bridge *br, unsigned side, const char *ip, uint16_t port,
			  uint16_t rtcp_port);
/* SDES-SRTP (RFC 4568) on a plain RTP leg (toward a PBX or trunk that
 * negotiated a=crypto): suite "AES_CM_128_HMAC_SHA1_80" or
 * "AEAD_AES_128_GCM", our and the peer's inline key||salt of key_len bytes
 * each (30 or 28). The WebRTC leg is untouched: WebRTC <-> SDES-SRTP. */
int tnd_bridge_rtp_srtp(struct tnd_bridge *br, unsigned side, const char *suite,
			const uint8_t *tx, const uint8_t *rx, size_t key_len);
/* Replaces leg B's RTP socket under the live call (a transfer to a party
 * that needs a new port): leg A and both streams carry on, the stream
 * toward A renumbers the new source seamlessly. The new port comes back in
 * a second `ready` event (ufrag/pwd empty). */
int tnd_bridge_swap_sip_leg(struct tnd_bridge *br);
/* Replaces leg A's pc under the live call (the browser reloaded its page
 * and comes back with a new RTCPeerConnection): the SIP leg and both
 * streams carry on, the browser hears the stream continue. A second
 * `ready` event carries the new pc's ICE credentials and candidates, then
 * tnd_bridge_webrtc_remote() and _candidate() go to the new pc as at
 * set-up. */
int tnd_bridge_swap_webrtc_leg(struct tnd_bridge *br);
/* The codecs relayed (audio and telephone-event); others are dropped. */
int tnd_bridge_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n);
/* How the bridge carries media, for /metrics: pass-through (the legs share
 * the codec) or transcoded (decoded and encoded again). */
enum tnd_media_mode {
	TND_MEDIA_PASSTHROUGH,
	TND_MEDIA_TRANSCODED,
};
/* The mode the bridge's handler runs in now. Any thread. */
enum tnd_media_mode tnd_bridge_mode(const struct tnd_bridge *br);
/* Workers in the pool, and live bridges on worker i. Any thread. */
unsigned tnd_media_pool_size(const struct tnd_media_pool *p);
long tnd_media_pool_bridges(const struct tnd_media_pool *p, unsigned i);
/* Stops media and events; the legs are released on the worker. The caller
 * still drops its reference. */
void tnd_bridge_close(struct tnd_bridge *br);

/* Live objects, for the gateway's leak counters: bridges, and of those
 * whose legs still hold sockets. Any thread. */
struct tnd_media_counts {
	long bridges;
	long open_legs;     /* bridges whose pc and socket are not yet released */
	long ports;         /* UDP ports held: RTP + RTCP of plain RTP legs, ICE
			     * host sockets of WebRTC legs */
	long dropped;       /* packets dropped as garbage or unusable by closed calls'
			     * legs (bad STUN/DTLS/RTP/RTCP, SRTP failures, unknown
			     * payload types) */
};
void tnd_media_counts(struct tnd_media_counts *c);

#endif
