/* A call's media bridge: life cycle, the commands the signalling thread
 * queues to the bridge's worker, and the events the worker posts back.
 * Threads: alloc and commands on the signalling thread; leg set-up,
 * packets and release on the worker (the NiceAgent and sockets are bound to
 * the worker's context); events go back through bridge_ev.c. A command is a
 * small refcounted object carrying its strings; commands travel only at call
 * set-up and tear-down, never per packet.
 *
 * Lifetime: from set-up until CMD_CLOSE has released the legs, the worker
 * holds a reference of its own on the bridge (held_by_worker), because the
 * legs' handlers point into it; so no command failing to queue, and no
 * order of puts on the signalling thread, can leave a leg calling into a
 * freed bridge (review L6). */
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"
#include "gateway/media/media_int.h"
#include "gateway/media/xcode.h"


static atomic_long live_bridges, live_legs, live_ports, dropped_total;

void tnd_media_counts(struct tnd_media_counts *c)
{
	c->bridges = atomic_load(&live_bridges);
	c->open_legs = atomic_load(&live_legs);
	c->ports = atomic_load(&live_ports);
	c->dropped = atomic_load(&dropped_total);
}

/* Adds a closing call's drop counters to the process total: read once per
 * call, so the per-packet counters stay plain per-leg integers (R7). */
static void count_drops(struct tnd_bridge *br)
{
	long n = (long)(br->dir[0].st.drop_pt + br->dir[1].st.drop_pt);
	struct tnd_pc *pc = tnd_leg_pc(&br->leg[0]);
	struct tnd_rtpsock *sock = tnd_leg_sock(&br->leg[1]);

	if (pc) {
		struct tnd_pc_stats ps;

		tnd_pc_stats(pc, &ps);
		n += (long)(ps.srtp_err_in + ps.drop_stun + ps.drop_bad_stun + ps.drop_dtls +
			    ps.drop_bad_rtp + ps.drop_other + ps.drop_foreign + ps.stun_refused);
		TND_LOG_DEBUG(TND_LOG_MEDIA, "webrtc leg: rtp in %llu out %llu, srtp errors %llu, "
			      "socket %s, DTLS state %s, consent checks %llu answered %llu, "
			      "peer checks answered %llu refused %llu",
			      (unsigned long long)ps.rtp_in, (unsigned long long)ps.rtp_out,
			      (unsigned long long)ps.srtp_err_in,
			      ps.direct ? "ours" : "libnice's", ps.dtls_released ? "freed" : "kept",
			      (unsigned long long)ps.consent_sent,
			      (unsigned long long)ps.consent_ok,
			      (unsigned long long)ps.stun_answered,
			      (unsigned long long)ps.stun_refused);
	}
	if (sock) {
		struct tnd_rtpsock_stats ss;

		tnd_rtpsock_stats(sock, &ss);
		n += (long)(ss.drop_garbage + ss.drop_too_big);
		TND_LOG_DEBUG(TND_LOG_MEDIA, "sip leg: rtp in %llu out %llu, rtcp in %llu out %llu, "
			      "garbage %llu, latches %llu", (unsigned long long)ss.rtp_in,
			      (unsigned long long)ss.rtp_out, (unsigned long long)ss.rtcp_in,
			      (unsigned long long)ss.rtcp_out, (unsigned long long)ss.drop_garbage,
			      (unsigned long long)ss.latches);
	}
	atomic_fetch_add(&dropped_total, n);
}

/* The bridge's tick (100 ms): each leg's reports once a second is plenty
 * to check, staggered by the bridge's SSRC so bridges spread over ticks. */
static void on_tick(struct tnd_poll_tick *t, int64_t now_us)
{
	struct tnd_bridge *br = (struct tnd_bridge *)((char *)t - offsetof(struct tnd_bridge, tick));

	if (br->closed || (++br->tick_count + br->ssrc[0]) % 10)
		return;
	for (unsigned i = 0; i < 2; i++) {
		if (br->mute[i])   /* held: its silence is expected */
			br->leg[i].last_rx_us = now_us;
		if (!tnd_bridge_rtcp_tick(&br->leg[i], now_us))
			continue;
		TND_LOG_NOTICE(TND_LOG_MEDIA, "%s leg sent nothing for %u ms",
			       i ? "SIP" : "browser", br->timeout_ms);
		tnd_bridge_post_state(br, 0, i ? TND_BRIDGE_SIP_SILENT : TND_BRIDGE_WEBRTC_SILENT,
				      ETIMEDOUT);
		return;
	}
}

/* ------------------------------------------------------------ commands */

enum cmd_kind {
	CMD_SETUP, CMD_REMOTE, CMD_CANDIDATE, CMD_RTP_REMOTE, CMD_ROUTE, CMD_SWAP, CMD_SWAP_WEBRTC,
	CMD_SRTP, CMD_CLOSE, CMD_XCODE, CMD_STATS, CMD_HOLD
};

struct cmd {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	enum cmd_kind kind;
	char *ufrag, *pwd, *fp;    /* CMD_REMOTE; owned */
	char *str;                 /* candidate or IP; owned */
	bool active;               /* CMD_REMOTE: our DTLS role */
	unsigned side;             /* the leg: 0 A, 1 B */
	uint16_t port, rtcp_port;
	struct tnd_bridge_pt pts[TND_MDIR_MAX_PT];
	unsigned n_pts;
	uint8_t tx[48], rx[48];    /* CMD_SRTP: key||salt, wiped with the command */
	size_t key_len;
	struct tnd_xdir *xd[2];    /* CMD_XCODE: owned until installed */
	struct tnd_bridge_te te[TND_BRIDGE_MAX_TE];
	unsigned n_te;
	tnd_bridge_stats_h *sh;    /* CMD_STATS */
	void *sarg;                /* ref (a tnd_obj or NULL) */
	bool have_st;
	struct tnd_bridge_leg_stats st[2];
};

static void cmd_destroy(void *data)
{
	struct cmd *c = data;

	g_free(c->ufrag);
	if (c->pwd)
		memset(c->pwd, 0, strlen(c->pwd));
	g_free(c->pwd);
	g_free(c->fp);
	g_free(c->str);
	OPENSSL_cleanse(c->tx, sizeof(c->tx));
	OPENSSL_cleanse(c->rx, sizeof(c->rx));
	tnd_xdir_free(c->xd[0]);
	tnd_xdir_free(c->xd[1]);
	tnd_obj_put(c->sarg);
	tnd_obj_put(c->br);
}

/* UDP ports a leg holds, for the stats (abuse probe: a ringing call held
 * about 3 while the counter said 1): an RTP leg binds RTP and RTCP (port
 * + 1); libnice binds a host socket per ICE address (rtcp-mux: one
 * component), at least one when it picks the addresses itself. */
static long leg_ports(const struct tnd_bridge *br, unsigned side)
{
	long n;

	if (tnd_leg_sock(&br->leg[side]))
		return 2;
	if (!tnd_leg_pc(&br->leg[side]))
		return 0;
	n = g_strv_length(br->ice_addrs);
	return n ? n : 1;
}

static void release_leg(struct tnd_bridge *br, unsigned side)
{
	atomic_fetch_sub(&live_ports, leg_ports(br, side));
	tnd_leg_release(&br->leg[side]);
}

static void release_legs(struct tnd_bridge *br)
{
	tnd_poller_tick_del(tnd_loop_poller(br->worker), &br->tick);
	for (unsigned i = 0; i < 2; i++) {
		tnd_bridge_setup_reset(br, i);
		release_leg(br, i);
	}
}

static int make_rtp_leg(struct tnd_bridge *br, unsigned side)
{
	struct tnd_rtpsock_conf sc = {
		.addr = br->rtp_addr, .port_min = br->port_min, .port_max = br->port_max,
		.rtcp_port = true, .strict = br->strict_source,
		.rcvbuf = br->rcvbuf ? (unsigned)br->rcvbuf : 0,
		.srtp_required = side == 1 && br->sip_srtp_required,
	};
	int err = tnd_leg_rtp(&br->leg[side], br, &sc);

	if (!err)
		atomic_fetch_add(&live_ports, leg_ports(br, side));
	return err;
}

static void pc_conf(const struct tnd_bridge *br, struct tnd_pc_conf *pc)
{
	*pc = (struct tnd_pc_conf){
		.local_addrs = (const char *const *)br->ice_addrs,
		.n_local_addrs = g_strv_length(br->ice_addrs),
		.stun_server = br->stun, .turn_server = br->turn,
		.turn_user = br->turn_user, .turn_pass = br->turn_pass,
		.port_min = br->port_min, .port_max = br->port_max,
		.relay_only = br->turn_only,
		.cand_deny = (const char *const *)br->cand_deny,
		.n_cand_deny = g_strv_length(br->cand_deny),
		.rcvbuf = br->rcvbuf,
	};
}

/* Makes a leg's pc and starts gathering; its `ready` goes out when
 * gathering is done or after a bounded wait, whichever comes first. */
static int start_webrtc_leg(struct tnd_bridge *br, unsigned side)
{
	struct tnd_pc_conf pc;
	int err;

	pc_conf(br, &pc);
	err = tnd_leg_webrtc(&br->leg[side], br, &pc,
			     side ? br->b_controlling : br->controlling);
	if (err)
		return err;
	atomic_fetch_add(&live_ports, leg_ports(br, side));
	tnd_bridge_setup_start(br, side);
	return tnd_pc_gather(br->leg[side].obj);
}

static void setup_legs(struct tnd_bridge *br)
{
	int err;

	err = br->b_webrtc || br->b_later ? 0 : make_rtp_leg(br, 1);
	if (!err && br->a_rtp)
		err = make_rtp_leg(br, 0);
	if (!err) {
		/* the worker's own reference while legs point into the bridge */
		tnd_obj_get(br);
		br->held_by_worker = true;
		tnd_poller_tick_add(tnd_loop_poller(br->worker), &br->tick, on_tick);
	}
	if (!err && br->b_webrtc)
		err = start_webrtc_leg(br, 1);
	if (!err && !br->a_rtp) {
		err = start_webrtc_leg(br, 0);
	} else if (!err) {
		br->set[0].gathered = true;
		tnd_bridge_send_ready(br, 0, 0);
	}
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "media set-up failed: %s", strerror(err));
		release_legs(br);
		tnd_bridge_send_ready(br, 0, err);
		if (br->b_webrtc)
			tnd_bridge_send_ready(br, 1, err);
	}
}

/* Leg A replaced by a fresh pc (a browser that reloaded its page comes
 * back with a new RTCPeerConnection): new ICE credentials, candidates and
 * DTLS, while leg B and the SIP dialog are untouched. The stream toward
 * the browser keeps its SSRC and continues its numbering; the stream from
 * it takes the new pc's packets as a new source. A second `ready` carries
 * the new ICE side. */
static void swap_webrtc_leg(struct tnd_bridge *br)
{
	int err;

	if (br->a_rtp || !br->held_by_worker)
		return;
	tnd_bridge_setup_reset(br, 0);
	release_leg(br, 0);
	tnd_mdir_input_reset(&br->dir[0]);
	err = start_webrtc_leg(br, 0);
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "new browser leg failed: %s", strerror(err));
		release_leg(br, 0);
		tnd_bridge_send_ready(br, 0, err);
	}
}

static void set_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n)
{
	struct tnd_mdir_pt a2b[TND_MDIR_MAX_PT], b2a[TND_MDIR_MAX_PT];

	for (unsigned i = 0; i < n; i++) {
		a2b[i] = (struct tnd_mdir_pt){ pts[i].webrtc_pt, pts[i].sip_pt, pts[i].clock };
		b2a[i] = (struct tnd_mdir_pt){ pts[i].sip_pt, pts[i].webrtc_pt, pts[i].clock };
	}
	/* a re-INVITE that brings both legs to one codec (call_hold.c):
	 * the transcoders go, the handlers are fwd_pass again */
	if (br->xc[0] || br->xc[1])
		tnd_bridge_xc_release(br);
	tnd_mdir_set_pts(&br->dir[0], a2b, n);
	tnd_mdir_set_pts(&br->dir[1], b2a, n);
	/* the handler stays fwd_pass: a transcoding route sets its mode here */
	atomic_store_explicit(&br->mode, TND_MEDIA_PASSTHROUGH, memory_order_relaxed);
}

/* A new socket for leg B under the live call: the old one goes, the
 * stream toward A will see a new source and renumber it. */
static void swap_sip_leg(struct tnd_bridge *br)
{
	int err;

	if (br->b_webrtc || !br->held_by_worker)
		return;
	release_leg(br, 1);
	tnd_mdir_input_reset(&br->dir[1]);
	err = make_rtp_leg(br, 1);
	tnd_bridge_post_port(br, err, br->leg[1].port);
}

/* The peer of `side` moved to another address (a transfer, a re-INVITE to
 * another phone): what comes from there next is another source even when
 * it reuses the old one's SSRC and sequence range (two SIPp, a media server
 * replaying one file), so it is renumbered afresh instead of continuing, or
 * repeating, the old numbering, which SRTP toward the browser would refuse
 * as replays; the transcoder's jitter buffer resyncs the same way. */
static void new_source(struct tnd_bridge *br, unsigned side)
{
	tnd_mdir_input_reset(&br->dir[side]);
	if (br->xc[side])
		tnd_xdir_input_reset(br->xc[side]);
}

static void close_bridge(struct tnd_bridge *br)
{
	br->closed = true;
	tnd_mdtmf_free(br);   /* its codecs and detector are the worker's */
	tnd_moh_bridge_free(br);
	count_drops(br);
	tnd_bridge_xc_release(br);
	tnd_bridge_observe(br);
	release_legs(br);
	atomic_fetch_sub(&live_legs, 1);
	tnd_media_worker_load(br->worker, -1);
	TND_LOG_DEBUG(TND_LOG_MEDIA, "bridge closed: rtp to sip %llu, to webrtc %llu, "
		      "reports out %llu/%llu, dropped pt %llu/%llu, not ready %llu/%llu, "
		      "send errors %llu/%llu, source switches %llu/%llu",
		      (unsigned long long)br->dir[0].tx.packets,
		      (unsigned long long)br->dir[1].tx.packets,
		      (unsigned long long)br->leg[0].rtcp.reports_out,
		      (unsigned long long)br->leg[1].rtcp.reports_out,
		      (unsigned long long)br->dir[0].st.drop_pt,
		      (unsigned long long)br->dir[1].st.drop_pt,
		      (unsigned long long)br->dir[0].st.drop_not_ready,
		      (unsigned long long)br->dir[1].st.drop_not_ready,
		      (unsigned long long)br->dir[0].st.send_err,
		      (unsigned long long)br->dir[1].st.send_err,
		      (unsigned long long)br->dir[0].st.switches,
		      (unsigned long long)br->dir[1].st.switches);
	if (br->held_by_worker) {
		br->held_by_worker = false;
		tnd_obj_put(br);   /* the command still holds one */
	}
}

/* Signalling loop: the figures reach the caller. */
static void stats_done(void *data)
{
	struct cmd *c = data;

	c->sh(c->sarg, c->have_st ? c->st : NULL);
}

/* Worker: read the figures, then back to the signalling loop. */
static void stats_run(struct cmd *c)
{
	if (!c->br->closed) {
		tnd_bridge_stats_fill(c->br, c->st);
		c->have_st = true;
	}
	if (tnd_loop_call(c->br->signal, stats_done, c))
		TND_LOG_WARN(TND_LOG_MEDIA, "stats reply lost: out of memory");
}

static void cmd_run(void *data)
{
	struct cmd *c = data;
	struct tnd_bridge *br = c->br;
	struct tnd_pc *pc;
	struct tnd_rtpsock *sock;
	bool moved = false;
	int err = 0;

	if (c->kind == CMD_STATS) {
		stats_run(c);
		return;
	}
	if (br->closed)
		return;
	switch (c->kind) {
	case CMD_SETUP:
		setup_legs(br);
		return;
	case CMD_REMOTE:
		pc = tnd_leg_pc(&br->leg[c->side]);
		if (pc)
			err = tnd_pc_set_remote(pc, c->ufrag, c->pwd, c->fp,
						c->active ? TND_DTLS_ACTIVE : TND_DTLS_PASSIVE);
		break;
	case CMD_CANDIDATE:
		pc = tnd_leg_pc(&br->leg[c->side]);
		if (pc)
			err = tnd_pc_add_remote_candidate(pc, c->str);
		break;
	case CMD_RTP_REMOTE:
		sock = tnd_leg_sock(&br->leg[c->side]);
		if (sock && !(err = tnd_rtpsock_set_remote(sock, c->str, c->port, c->rtcp_port,
							   &moved)) && moved)
			new_source(br, c->side);
		break;
	case CMD_ROUTE:
		set_route(br, c->pts, c->n_pts);
		break;
	case CMD_SWAP:
		swap_sip_leg(br);
		break;
	case CMD_SWAP_WEBRTC:
		swap_webrtc_leg(br);
		break;
	case CMD_SRTP:
		sock = tnd_leg_sock(&br->leg[c->side]);
		err = sock ? tnd_rtpsock_set_srtp(sock, c->str, c->tx, c->key_len, c->rx,
						  c->key_len) : EINVAL;
		break;
	case CMD_XCODE:
		tnd_bridge_xc_install(br, c->xd);
		c->xd[0] = c->xd[1] = NULL;
		break;
	case CMD_CLOSE:
		close_bridge(br);
		return;
	case CMD_STATS:
		break;
	case CMD_HOLD:
		for (unsigned i = 0; i < 2; i++) {
			bool mute = c->side & (1u << i);

			/* unmuted: its silence clock starts now */
			if (br->mute[i] && !mute)
				br->leg[i].last_rx_us =
					tnd_poller_now_us(tnd_loop_poller(br->worker));
			br->mute[i] = mute;
		}
		break;
	}
	if (err)
		TND_LOG_NOTICE(TND_LOG_MEDIA, "bridge command %d: %s", c->kind, strerror(err));
}

static int queue(struct tnd_bridge *br, struct cmd *c)
{
	int err;

	c->br = tnd_obj_get(br);
	err = tnd_loop_call(br->worker, cmd_run, c);
	tnd_obj_put(c);
	return err;
}

static struct cmd *cmd_new(enum cmd_kind kind)
{
	struct cmd *c = tnd_obj_zalloc(sizeof(*c), cmd_destroy);

	if (c)
		c->kind = kind;
	return c;
}

int tnd_bridge_webrtc_remote(struct tnd_bridge *br, const char *ufrag, const char *pwd,
			     const char *fingerprint, bool dtls_active)
{
	return tnd_bridge_leg_remote(br, 0, ufrag, pwd, fingerprint, dtls_active);
}

int tnd_bridge_leg_remote(struct tnd_bridge *br, unsigned side, const char *ufrag,
			  const char *pwd, const char *fingerprint, bool dtls_active)
{
	struct cmd *c;

	if (!br || !ufrag || !pwd || !fingerprint || side > 1)
		return EINVAL;
	c = cmd_new(CMD_REMOTE);
	if (!c)
		return ENOMEM;
	c->side = side;
	c->ufrag = g_strdup(ufrag);
	c->pwd = g_strdup(pwd);
	c->fp = g_strdup(fingerprint);
	c->active = dtls_active;
	return queue(br, c);
}

int tnd_bridge_webrtc_candidate(struct tnd_bridge *br, const char *cand)
{
	return tnd_bridge_leg_candidate(br, 0, cand);
}

int tnd_bridge_leg_candidate(struct tnd_bridge *br, unsigned side, const char *cand)
{
	struct cmd *c;

	if (!br || side > 1)
		return EINVAL;
	c = cmd_new(CMD_CANDIDATE);
	if (!c)
		return ENOMEM;
	c->side = side;
	c->str = g_strdup(cand);
	return queue(br, c);
}

int tnd_bridge_rtp_remote(struct tnd_bridge *br, unsigned side, const char *ip, uint16_t port,
			  uint16_t rtcp_port)
{
	struct cmd *c;

	if (!br || !ip || !port || side > 1)
		return EINVAL;
	c = cmd_new(CMD_RTP_REMOTE);
	if (!c)
		return ENOMEM;
	c->str = g_strdup(ip);
	c->side = side;
	c->port = port;
	c->rtcp_port = rtcp_port;
	return queue(br, c);
}

int tnd_bridge_sip_remote(struct tnd_bridge *br, const char *ip, uint16_t port,
			  uint16_t rtcp_port)
{
	return tnd_bridge_rtp_remote(br, 1, ip, port, rtcp_port);
}

int tnd_bridge_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n)
{
	struct cmd *c;

	if (!br || (n && !pts) || n > TND_MDIR_MAX_PT)
		return EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!pts[i].clock || pts[i].webrtc_pt > 127 || pts[i].sip_pt > 127)
			return EINVAL;
	c = cmd_new(CMD_ROUTE);
	if (!c)
		return ENOMEM;
	memcpy(c->pts, pts, n * sizeof(*pts));
	c->n_pts = n;
	return queue(br, c);
}

int tnd_bridge_rtp_srtp(struct tnd_bridge *br, unsigned side, const char *suite,
			const uint8_t *tx, const uint8_t *rx, size_t key_len)
{
	struct cmd *c;

	if (!br || side > 1 || !suite || !tx || !rx || !key_len || key_len > 48)
		return EINVAL;
	c = cmd_new(CMD_SRTP);
	if (!c)
		return ENOMEM;
	c->side = side;
	c->str = g_strdup(suite);
	memcpy(c->tx, tx, key_len);
	memcpy(c->rx, rx, key_len);
	c->key_len = key_len;
	return queue(br, c);
}

int tnd_bridge_hold(struct tnd_bridge *br, bool mute_a, bool mute_b)
{
	struct cmd *c;

	if (!br)
		return EINVAL;
	c = cmd_new(CMD_HOLD);
	if (!c)
		return ENOMEM;
	c->side = (mute_a ? 1u : 0u) | (mute_b ? 2u : 0u);   /* mute bits */
	return queue(br, c);
}

int tnd_bridge_swap_sip_leg(struct tnd_bridge *br)
{
	struct cmd *c;

	if (!br)
		return EINVAL;
	c = cmd_new(CMD_SWAP);
	if (!c)
		return ENOMEM;
	return queue(br, c);
}

int tnd_bridge_swap_webrtc_leg(struct tnd_bridge *br)
{
	struct cmd *c;

	if (!br)
		return EINVAL;
	c = cmd_new(CMD_SWAP_WEBRTC);
	if (!c)
		return ENOMEM;
	return queue(br, c);
}

int tnd_bridge_transcode(struct tnd_bridge *br, const struct tnd_bridge_codec *a,
			 const struct tnd_bridge_codec *b, const struct tnd_bridge_te *te,
			 unsigned n_te)
{
	struct cmd *c;
	int err;

	if (!br || !a || !b || n_te > TND_BRIDGE_MAX_TE || (n_te && !te))
		return EINVAL;
	c = cmd_new(CMD_XCODE);
	if (!c)
		return ENOMEM;
	/* dir 0 decodes A and encodes B; dir 1 the reverse */
	err = tnd_xdir_alloc(&c->xd[0], a, b);
	if (!err)
		err = tnd_xdir_alloc(&c->xd[1], b, a);
	if (err) {
		tnd_obj_put(c);
		return err;
	}
	if (n_te)
		memcpy(c->te, te, n_te * sizeof(*te));
	c->n_te = n_te;
	return queue(br, c);
}

int tnd_bridge_stats(struct tnd_bridge *br, tnd_bridge_stats_h *h, void *arg)
{
	struct cmd *c;

	if (!br || !h)
		return EINVAL;
	c = cmd_new(CMD_STATS);
	if (!c)
		return ENOMEM;
	c->sh = h;
	c->sarg = tnd_obj_get(arg);
	return queue(br, c);
}

void tnd_bridge_close(struct tnd_bridge *br)
{
	struct cmd *c;

	if (!br || br->closed_sig)
		return;
	br->closed_sig = true;
	c = cmd_new(CMD_CLOSE);
	if (c)
		queue(br, c);
}

enum tnd_media_mode tnd_bridge_mode(const struct tnd_bridge *br)
{
	return (enum tnd_media_mode)atomic_load_explicit(&br->mode, memory_order_relaxed);
}

uint32_t tnd_bridge_webrtc_ssrc(const struct tnd_bridge *br)
{
	return br->ssrc[0];
}

uint16_t tnd_bridge_port(const struct tnd_bridge *br, unsigned side)
{
	return side < 2 ? br->leg[side].port : 0;
}

/* ------------------------------------------------------------ alloc */

static void bridge_destroy(void *data)
{
	struct tnd_bridge *br = data;

	/* the legs are gone: CMD_CLOSE released them, and until then the
	 * worker's own reference kept the bridge alive */
	g_strfreev(br->ice_addrs);
	g_strfreev(br->cand_deny);
	g_free(br->rtp_addr);
	g_free(br->stun);
	g_free(br->turn);
	g_free(br->turn_user);
	g_free(br->turn_pass);
	tnd_mdtmf_free(br);   /* never closed (set-up failed): nothing else runs */
	tnd_moh_bridge_free(br);
	atomic_fetch_sub(&live_bridges, 1);
}

static uint32_t random_u32(void)
{
	uint32_t v = 0;

	while (!v)
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			abort();   /* no CSPRNG: nothing secure can be done */
	return v;
}

static char **strv_copy(const char *const *v, unsigned n)
{
	char **out = g_new0(char *, n + 1);

	for (unsigned i = 0; i < n; i++)
		out[i] = g_strdup(v[i]);
	return out;
}

int tnd_bridge_alloc(struct tnd_bridge **brp, struct tnd_loop *worker, struct tnd_loop *signal,
		     const struct tnd_bridge_conf *conf, const struct tnd_bridge_events *ev,
		     void *arg)
{
	struct tnd_bridge *br;
	struct cmd *c;
	int err;

	if (!brp || !worker || !signal || !conf || !conf->rtp_addr || !ev || !ev->ready ||
	    !ev->state || (conf->b_webrtc && (!ev->ready_b || !ev->state_b)) ||
	    (conf->b_webrtc && conf->a_rtp))
		return EINVAL;
	br = tnd_obj_zalloc(sizeof(*br), bridge_destroy);
	if (!br)
		return ENOMEM;
	atomic_fetch_add(&live_bridges, 1);
	br->worker = worker;
	br->signal = signal;
	br->stats = tnd_stats_slab(1 + tnd_media_worker_slot(worker));
	br->ev = ev;
	br->arg = arg;
	br->ice_addrs = strv_copy(conf->ice_addrs, conf->n_ice_addrs);
	br->cand_deny = strv_copy(conf->cand_deny, conf->n_cand_deny);
	br->rtp_addr = g_strdup(conf->rtp_addr);
	br->stun = g_strdup(conf->stun_server);
	br->turn = g_strdup(conf->turn_server);
	br->turn_user = g_strdup(conf->turn_user);
	br->turn_pass = g_strdup(conf->turn_pass);
	br->port_min = conf->port_min;
	br->port_max = conf->port_max;
	br->controlling = conf->ice_controlling;
	br->turn_only = conf->turn_only;
	br->a_rtp = conf->a_rtp;
	br->b_webrtc = conf->b_webrtc;
	br->b_later = conf->b_later;
	br->b_controlling = conf->b_ice_controlling;
	br->strict_source = conf->strict_source;
	br->sip_srtp_required = conf->sip_srtp_required;
	br->timeout_ms = conf->timeout_ms;
	br->rcvbuf = conf->rcvbuf;
	for (unsigned i = 0; i < 2; i++) {
		br->ssrc[i] = random_u32();
		br->leg[i].side = (uint8_t)i;
		br->leg[i].br = br;
		br->dir[i].handler = tnd_bridge_fwd_pass;
		br->dir[i].out = &br->leg[!i];
	}
	/* dir[i] leaves on leg !i with our SSRC there; random first numbers
	 * (RFC 3550 5.1) */
	for (unsigned i = 0; i < 2; i++) {
		uint32_t r = random_u32();

		tnd_mdir_init(&br->dir[i], br->ssrc[!i], (uint16_t)r, random_u32());
	}

	c = cmd_new(CMD_SETUP);
	if (!c) {
		tnd_obj_put(br);
		return ENOMEM;
	}
	atomic_fetch_add(&live_legs, 1);
	tnd_media_worker_load(worker, 1);
	err = queue(br, c);
	if (err) {
		br->closed_sig = true;
		atomic_fetch_sub(&live_legs, 1);
		tnd_media_worker_load(worker, -1);
		tnd_obj_put(br);
		return err;
	}
	*brp = br;
	return 0;
}
