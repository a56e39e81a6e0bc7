/* Media: the worker pool and the per-call bridge between the browser's
 * WebRTC leg (struct tnd_pc) and the SIP leg's RTP socket (struct
 * tnd_rtpsock). Style guide section 1: the bridge's packet state lives on
 * one media worker for the call's life; the signalling thread talks to it
 * only through queued commands (tnd_loop_call) and gets events back the same
 * way, on the signalling loop.
 *
 * Pass-through (this file's scope): both legs share the codec, so packets
 * are relayed without decoding: SRTP unprotect, payload type mapped, SSRC
 * rewritten to the one we announced, sequence and timestamp kept, send.
 * RTCP is relayed with SSRCs rewritten so each end sees reports about the
 * stream it knows. */
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
/* The worker for a new call: the one with the fewest live bridges. */
struct tnd_loop *tnd_media_pool_pick(struct tnd_media_pool *p);

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
};

enum tnd_bridge_state {
	TND_BRIDGE_CONNECTED,   /* DTLS-SRTP up with the browser */
	TND_BRIDGE_FAILED,      /* ICE or DTLS failed; err says why */
	TND_BRIDGE_CLOSED,      /* the browser closed DTLS */
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
};

/* Payload types of one codec on both legs. */
struct tnd_bridge_pt {
	uint8_t webrtc_pt;
	uint8_t sip_pt;
};

/* Refcounted (tnd_obj). Made on the signalling thread; its legs are made on
 * `worker` and events come back on `signal`. */
struct tnd_bridge;

int tnd_bridge_alloc(struct tnd_bridge **brp, struct tnd_loop *worker, struct tnd_loop *signal,
		     const struct tnd_bridge_conf *conf, const struct tnd_bridge_events *ev,
		     void *arg);

/* The SSRCs we send with on each leg (random, fixed for the call), for SDP. */
uint32_t tnd_bridge_webrtc_ssrc(const struct tnd_bridge *br);
uint32_t tnd_bridge_sip_ssrc(const struct tnd_bridge *br);

/* Commands; queued to the worker in call order, any time after alloc. */
int tnd_bridge_webrtc_remote(struct tnd_bridge *br, const char *ufrag, const char *pwd,
			     const char *fingerprint, bool dtls_active);
int tnd_bridge_webrtc_candidate(struct tnd_bridge *br, const char *cand_or_null);
int tnd_bridge_sip_remote(struct tnd_bridge *br, const char *ip, uint16_t port,
			  uint16_t rtcp_port);
/* The codecs relayed (audio and telephone-event); others are dropped. */
int tnd_bridge_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n);
/* Stops media and events; the legs are released on the worker. The caller
 * still drops its reference. */
void tnd_bridge_close(struct tnd_bridge *br);

/* Live objects, for the gateway's leak counters: bridges, and of those
 * whose legs still hold sockets. Any thread. */
struct tnd_media_counts {
	long bridges;
	long open_legs;     /* bridges whose pc and socket are not yet released */
	long ports;         /* UDP ports held by RTP sockets */
	long dropped;       /* packets dropped as garbage or unusable by closed calls'
			     * legs (bad STUN/DTLS/RTP/RTCP, SRTP failures, unknown
			     * payload types) */
};
void tnd_media_counts(struct tnd_media_counts *c);

#endif
