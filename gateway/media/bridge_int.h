/* The bridge object and its legs, shared by bridge.c (life cycle, commands,
 * events), leg.c (the leg kinds), fwd.c (the per-packet path) and
 * rtcp_term.c (reports).
 *
 * A bridge joins two legs, A (index 0, the browser's side) and B (index 1,
 * the SIP side), and carries two streams: dir[0] from A to B and dir[1]
 * from B to A. A leg is any RTP transport behind struct tnd_leg_ops: a
 * WebRTC pc, a plain RTP socket, later SDES-SRTP. Nothing in the packet path
 * knows which kind it talks to, so a bridge pairs any two kinds, and a leg
 * can be replaced under a live call (reattach, transfer) while the other leg
 * and both output streams carry on (stream.h keeps the numbering). */
#ifndef TND_GATEWAY_MEDIA_BRIDGE_INT_H
#define TND_GATEWAY_MEDIA_BRIDGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "gateway/base/obj.h"
#include "gateway/base/poll.h"
#include "gateway/base/stats.h"
#include "gateway/media/media.h"
#include "gateway/media/stream.h"
#include "webrtc/webrtc.h"

#define BRIDGE_MAX_CANDS 32

struct tnd_bdtmf;
struct tnd_moh_play;

/* A leg kind. `obj` is the transport (a tnd_obj). */
struct tnd_leg_ops {
	const char *kind;
	/* Send one RTP packet / RTCP compound from a buffer of `cap` bytes,
	 * which the transport may change (SRTP in place). 0, ENOTCONN (not up
	 * yet) or an errno. */
	int (*send_rtp)(void *obj, uint8_t *pkt, size_t len, size_t cap);
	int (*send_rtcp)(void *obj, uint8_t *pkt, size_t len, size_t cap);
	/* True once media can flow both ways (the inactivity clock runs). */
	bool (*up)(const void *obj);
	/* Cuts every callback into the bridge, closes the transport and drops
	 * the bridge's reference (deferred past the batch when it is the last,
	 * so the packet path needs no reference of its own). */
	void (*release)(void *obj);
};

/* What RTCP termination keeps per leg (RFC 3550 6.4, A.8). */
struct leg_rtcp {
	uint32_t lsr;              /* middle 32 bits of the peer's last SR's NTP */
	int64_t lsr_us;            /* when it arrived */
	/* the peer's last report block about the stream we send it */
	uint8_t fraction;
	int32_t cumulative;
	uint32_t jitter;
	int32_t rtt_ms;            /* -1 until measured */
	uint64_t sr_in, rr_in, reports_out, fb_relayed;
	int64_t next_us;           /* our next report */
};

struct tnd_leg {
	const struct tnd_leg_ops *ops;   /* NULL: no leg */
	void *obj;                       /* ref, worker */
	struct tnd_bridge *br;           /* borrowed: the bridge holds its legs */
	uint8_t side;
	uint16_t port;                   /* local RTP port, for events */
	int64_t up_us;                   /* when it first came up; 0 before */
	int64_t last_rx_us;              /* last RTP or RTCP accepted */
	bool timed_out;
	struct leg_rtcp rtcp;
};

/* A WebRTC leg's ICE side until its `ready` went out (bridge_ev.c). */
struct leg_setup {
	struct tnd_bridge *br;                   /* borrowed: the bridge it is in */
	uint8_t side;
	bool ready_sent;
	bool gathered;
	char *cands[BRIDGE_MAX_CANDS + 1];       /* owned, gathered before ready */
	unsigned n_cands;
	struct tnd_timer timer;                  /* `ready` at the latest then */
};

struct tnd_bridge {
	struct tnd_obj obj;
	struct tnd_loop *worker;                 /* borrowed: pinned for life */
	struct tnd_loop *signal;                 /* borrowed */
	struct tnd_stats *stats;                 /* borrowed: the worker's slab (stats.h) */
	uint32_t ssrc[2];                        /* ours on leg A, B; immutable */
	/* enum tnd_media_mode: set on the worker when the handler is picked,
	 * read by /metrics on the signalling thread */
	_Atomic int mode;

	/* OWNER: signal */
	const struct tnd_bridge_events *ev;
	void *arg;
	bool closed_sig;

	/* copied configuration, read on the worker at set-up */
	char **ice_addrs;                        /* owned strv */
	char **cand_deny;                        /* owned strv */
	char *rtp_addr, *stun, *turn, *turn_user, *turn_pass;
	uint16_t port_min, port_max;
	bool controlling;
	bool turn_only;
	bool a_rtp;                              /* leg A is plain RTP too */
	bool b_webrtc;                           /* leg B is a WebRTC pc too */
	bool b_later;                            /* leg B's socket only on swap */
	bool b_controlling;                      /* leg B's ICE role */
	bool strict_source;
	bool sip_srtp_required;                  /* leg B: SDES mandatory */
	unsigned timeout_ms;                     /* media inactivity; 0: none */
	int rcvbuf;                              /* media sockets' SO_RCVBUF */

	/* OWNER: worker */
	struct tnd_leg leg[2];
	struct tnd_mdir dir[2];                  /* dir[i] leaves on leg[!i] */
	struct tnd_xdir *xc[2];                  /* owned: dir[i] transcoded, else NULL */
	bool closed;
	bool held_by_worker;                     /* the worker's reference, see bridge.c */
	struct leg_setup set[2];
	struct tnd_poll_tick tick;               /* reports and inactivity */
	struct tnd_bdtmf *dtmf;                  /* owned: DTMF state (dtmf_media.c), or NULL */
	unsigned tick_count;
	bool mute[2];                            /* hold: input of leg i dropped */
	struct tnd_moh_play *moh[2];             /* owned: hold music in dir[i] (moh.c) */
};

/* leg.c: make a leg of each kind on the worker; the handlers they install
 * call into fwd.c and rtcp_term.c. 0 or an errno. */
int tnd_leg_webrtc(struct tnd_leg *leg, struct tnd_bridge *br, const struct tnd_pc_conf *conf,
		   bool controlling);
int tnd_leg_rtp(struct tnd_leg *leg, struct tnd_bridge *br, const struct tnd_rtpsock_conf *conf);
/* Cuts and drops the leg's transport; the slot is empty afterwards. */
void tnd_leg_release(struct tnd_leg *leg);
/* The pc behind leg A, or NULL when leg A is not WebRTC. */
struct tnd_pc *tnd_leg_pc(const struct tnd_leg *leg);
struct tnd_rtpsock *tnd_leg_sock(const struct tnd_leg *leg);
bool tnd_leg_up(const struct tnd_leg *leg);

/* bridge_ev.c: a WebRTC leg's ICE and state handlers (arg: the leg), and
 * the events to the signalling thread (worker side). */
void tnd_bridge_on_candidate(void *arg, const char *cand);
void tnd_bridge_on_pc_state(void *arg, enum tnd_pc_state state);
/* `ready` for a leg, once: its ICE side (a WebRTC leg) or leg B's port. */
void tnd_bridge_send_ready(struct tnd_bridge *br, unsigned side, int err);
/* A second `ready` on leg A's callback with leg B's new port (SIP leg swap). */
void tnd_bridge_post_port(struct tnd_bridge *br, int err, uint16_t port);
void tnd_bridge_post_state(struct tnd_bridge *br, unsigned side, int state, int err);
/* Arms the leg's bounded wait for `ready`; resets its set-up state. */
void tnd_bridge_setup_start(struct tnd_bridge *br, unsigned side);
void tnd_bridge_setup_reset(struct tnd_bridge *br, unsigned side);

/* fwd.c: input from a leg (worker), and the pass-through handler. */
extern tnd_mdir_h *const tnd_bridge_fwd_pass;
void tnd_bridge_rtp_in(struct tnd_leg *in, uint8_t *pkt, size_t len);
/* xcode_br.c: installs a transcoded call's directions (taking ownership
 * of xd[]; a NULL slot goes back to pass-through), frees them at close,
 * and fills the `stats` figures. Worker. */
struct tnd_xdir;
void tnd_bridge_xc_install(struct tnd_bridge *br, struct tnd_xdir *xd[2]);
void tnd_bridge_xc_release(struct tnd_bridge *br);
void tnd_bridge_stats_fill(struct tnd_bridge *br, struct tnd_bridge_leg_stats st[2]);
/* media_stats.c: a closing bridge's per-call figures (loss, jitter, RTT,
 * MOS) and its legs' drops into the worker's slab. Worker thread. */
void tnd_bridge_observe(struct tnd_bridge *br);
/* moh.c: frees both directions' hold music players (bridge closing). Worker,
 * or any thread once nothing runs on the worker for the bridge. */
void tnd_moh_bridge_free(struct tnd_bridge *br);
/* rtcp_term.c */
void tnd_bridge_rtcp_in(struct tnd_leg *in, uint8_t *pkt, size_t len);
/* Sends leg's report if due and checks inactivity; returns true when the
 * leg has been silent past the bridge's timeout (once). */
bool tnd_bridge_rtcp_tick(struct tnd_leg *leg, int64_t now_us);
/* Builds the RTCP compound for a leg (SR or RR, SDES CNAME) into buf.
 * Returns its length, 0 when there is nothing to report. */
size_t tnd_bridge_rtcp_build(struct tnd_leg *leg, uint8_t *buf, size_t cap, int64_t now_us,
			     int64_t wall_us);

#endif
