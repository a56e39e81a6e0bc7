/* The bridge object, shared by bridge.c (life cycle, commands, events) and
 * fwd.c (the per-packet path). */
#ifndef TND_GATEWAY_MEDIA_BRIDGE_INT_H
#define TND_GATEWAY_MEDIA_BRIDGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "webrtc/webrtc.h"

#define BRIDGE_MAX_CANDS 16

struct fwd_stats {
	uint64_t to_sip, to_webrtc;          /* RTP relayed */
	uint64_t rtcp_to_sip, rtcp_to_webrtc;
	uint64_t drop_pt;                    /* payload type not negotiated */
	uint64_t drop_not_ready;             /* a leg not up yet */
	uint64_t send_err;
};

struct tnd_bridge {
	struct tnd_obj obj;
	struct tnd_loop *worker;                 /* borrowed: pinned for life */
	struct tnd_loop *signal;                 /* borrowed */
	uint32_t webrtc_ssrc, sip_ssrc;          /* immutable after alloc */

	/* OWNER: signal */
	const struct tnd_bridge_events *ev;
	void *arg;
	bool closed_sig;

	/* copied configuration, read on the worker at set-up */
	char **ice_addrs;                        /* owned strv */
	char *rtp_addr, *stun, *turn, *turn_user, *turn_pass;
	uint16_t port_min, port_max;
	bool controlling;
	bool turn_only;

	/* OWNER: worker */
	struct tnd_pc *pc;                       /* ref */
	struct tnd_rtpsock *sock;                /* ref */
	bool closed;
	bool ready_sent;
	bool gathered;
	char *cands[BRIDGE_MAX_CANDS + 1];       /* owned, gathered before ready */
	unsigned n_cands;
	GSource *ready_timer;                    /* owned, on the worker's context */
	int16_t to_sip[128], to_webrtc[128];     /* payload type maps; -1 drops */
	uint32_t browser_ssrc, sip_peer_ssrc;    /* learned from their RTP */
	struct fwd_stats st;
};

/* fwd.c: the handlers the legs call for each packet (worker). */
void tnd_bridge_from_webrtc_rtp(void *arg, uint8_t *pkt, size_t len);
void tnd_bridge_from_webrtc_rtcp(void *arg, uint8_t *pkt, size_t len);
void tnd_bridge_from_sip_rtp(void *arg, uint8_t *pkt, size_t len);
void tnd_bridge_from_sip_rtcp(void *arg, uint8_t *pkt, size_t len);

#endif
