/* A call's media bridge: life cycle, the commands the signalling thread
 * queues to the bridge's worker, and the events the worker posts back.
 * Threads: alloc, commands and event handlers on the signalling thread; leg
 * set-up, packets and release on the worker (the NiceAgent and sockets are
 * bound to the worker's context). A command or event is a small refcounted
 * object carrying its strings; they travel only at call set-up and tear-down,
 * never per packet. After tnd_bridge_close() no event reaches the owner. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/media_int.h"

/* How long set-up waits for gathering to finish before answering with the
 * candidates it has (the rest trickle). Host candidates take milliseconds;
 * this bounds a slow STUN or TURN server. */
#define READY_WAIT_MS 500

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
	long n = (long)(br->st.drop_pt);

	if (br->pc) {
		struct tnd_pc_stats ps;

		tnd_pc_stats(br->pc, &ps);
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
	if (br->sock) {
		struct tnd_rtpsock_stats ss;

		tnd_rtpsock_stats(br->sock, &ss);
		n += (long)(ss.drop_garbage + ss.drop_too_big);
		TND_LOG_DEBUG(TND_LOG_MEDIA, "sip leg: rtp in %llu out %llu, rtcp in %llu out %llu, "
			      "garbage %llu, latches %llu", (unsigned long long)ss.rtp_in,
			      (unsigned long long)ss.rtp_out, (unsigned long long)ss.rtcp_in,
			      (unsigned long long)ss.rtcp_out, (unsigned long long)ss.drop_garbage,
			      (unsigned long long)ss.latches);
	}
	atomic_fetch_add(&dropped_total, n);
}

/* ------------------------------------------------------------ events */

enum ev_kind { EV_READY, EV_CANDIDATE, EV_STATE };

struct event {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	enum ev_kind kind;
	int err;
	int state;
	bool complete;
	uint16_t port;
	char *ufrag, *pwd;
	char **cands;              /* owned strv; EV_CANDIDATE: one or none */
};

static void event_destroy(void *data)
{
	struct event *e = data;

	g_free(e->ufrag);
	g_free(e->pwd);
	g_strfreev(e->cands);
	tnd_obj_put(e->br);
}

static void event_run(void *data)
{
	struct event *e = data;
	struct tnd_bridge *br = e->br;

	if (br->closed_sig)
		return;
	switch (e->kind) {
	case EV_READY:
		br->ev->ready(br->arg, e->err, e->ufrag, e->pwd, (const char *const *)e->cands,
			      e->complete, e->port);
		break;
	case EV_CANDIDATE:
		if (br->ev->candidate)
			br->ev->candidate(br->arg, e->cands ? e->cands[0] : NULL);
		break;
	case EV_STATE:
		br->ev->state(br->arg, (enum tnd_bridge_state)e->state, e->err);
		break;
	}
}

/* Worker: posts an event to the signalling loop. */
static void post(struct tnd_bridge *br, struct event *e)
{
	e->br = tnd_obj_get(br);
	if (tnd_loop_call(br->signal, event_run, e))
		TND_LOG_ERR(TND_LOG_MEDIA, "cannot post a bridge event");
	tnd_obj_put(e);
}

static struct event *event_new(enum ev_kind kind)
{
	struct event *e = tnd_obj_zalloc(sizeof(*e), event_destroy);

	if (e)
		e->kind = kind;
	return e;
}

/* g_source_remove() would look in the global default context: the timer
 * lives on the worker's, so it is destroyed through its GSource. */
static void stop_timer(struct tnd_bridge *br)
{
	if (br->ready_timer) {
		g_source_destroy(br->ready_timer);
		g_source_unref(br->ready_timer);
		br->ready_timer = NULL;
	}
}

static void send_ready(struct tnd_bridge *br, int err)
{
	struct event *e;
	char ufrag[257] = "", pwd[257] = "";

	if (br->ready_sent)
		return;
	br->ready_sent = true;
	stop_timer(br);
	e = event_new(EV_READY);
	if (!e)
		return;
	if (!err && br->pc)
		err = tnd_pc_local_ice(br->pc, ufrag, sizeof(ufrag), pwd, sizeof(pwd));
	e->err = err;
	e->ufrag = g_strdup(ufrag);
	e->pwd = g_strdup(pwd);
	e->cands = g_new0(char *, br->n_cands + 1);
	for (unsigned i = 0; i < br->n_cands; i++)
		e->cands[i] = g_strdup(br->cands[i]);
	e->complete = br->gathered;
	e->port = br->sock ? tnd_rtpsock_port(br->sock) : 0;
	post(br, e);
}

static gboolean ready_timeout(gpointer data)
{
	struct tnd_bridge *br = data;

	send_ready(br, 0);
	return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------ leg handlers */

static void on_candidate(void *arg, const char *cand)
{
	struct tnd_bridge *br = arg;
	struct event *e;

	if (br->closed)
		return;
	if (!cand)
		br->gathered = true;
	if (!br->ready_sent) {
		if (cand && br->n_cands < BRIDGE_MAX_CANDS)
			br->cands[br->n_cands++] = g_strdup(cand);
		if (!cand)
			send_ready(br, 0);
		return;
	}
	e = event_new(EV_CANDIDATE);
	if (!e)
		return;
	if (cand) {
		e->cands = g_new0(char *, 2);
		e->cands[0] = g_strdup(cand);
	}
	post(br, e);
}

static void on_pc_state(void *arg, enum tnd_pc_state state)
{
	struct tnd_bridge *br = arg;
	struct event *e;

	if (br->closed || state == TND_PC_NEW)
		return;
	e = event_new(EV_STATE);
	if (!e)
		return;
	e->state = state == TND_PC_CONNECTED ? TND_BRIDGE_CONNECTED :
		   state == TND_PC_CLOSED ? TND_BRIDGE_CLOSED : TND_BRIDGE_FAILED;
	e->err = tnd_pc_error(br->pc);
	post(br, e);
}

/* ------------------------------------------------------------ commands */

enum cmd_kind { CMD_SETUP, CMD_REMOTE, CMD_CANDIDATE, CMD_SIP_REMOTE, CMD_ROUTE, CMD_CLOSE };

struct cmd {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	enum cmd_kind kind;
	char *a, *b, *c;           /* owned strings */
	int x, y, z;
	struct tnd_bridge_pt pts[16];
	unsigned n_pts;
};

static void cmd_destroy(void *data)
{
	struct cmd *c = data;

	g_free(c->a);
	g_free(c->b);
	g_free(c->c);
	tnd_obj_put(c->br);
}

static void release_legs(struct tnd_bridge *br)
{
	stop_timer(br);
	if (br->pc) {
		tnd_pc_close(br->pc);
		br->pc = tnd_obj_put(br->pc);
	}
	if (br->sock) {
		br->sock = tnd_obj_put(br->sock);
		atomic_fetch_sub(&live_ports, 1);
	}
	for (unsigned i = 0; i < br->n_cands; i++)
		g_free(br->cands[i]);
	br->n_cands = 0;
}

static void setup_legs(struct tnd_bridge *br)
{
	static const struct tnd_pc_handlers pch = {
		on_candidate, on_pc_state, tnd_bridge_from_webrtc_rtp, tnd_bridge_from_webrtc_rtcp,
	};
	static const struct tnd_rtpsock_handlers sh = {
		tnd_bridge_from_sip_rtp, tnd_bridge_from_sip_rtcp,
	};
	struct tnd_pc_conf pc = {
		.local_addrs = (const char *const *)br->ice_addrs,
		.n_local_addrs = g_strv_length(br->ice_addrs),
		.stun_server = br->stun, .turn_server = br->turn,
		.turn_user = br->turn_user, .turn_pass = br->turn_pass,
		.port_min = br->port_min, .port_max = br->port_max,
		.relay_only = br->turn_only,
	};
	struct tnd_rtpsock_conf sc = {
		.addr = br->rtp_addr, .port_min = br->port_min, .port_max = br->port_max,
		.rtcp_port = true,
	};
	int err;

	err = tnd_rtpsock_alloc(&br->sock, br->worker, &sc, &sh, br);
	if (!err) {
		atomic_fetch_add(&live_ports, 1);
		err = tnd_pc_alloc(&br->pc, br->worker, &pc, br->controlling, &pch, br);
	}
	if (!err) {
		br->ready_timer = g_timeout_source_new(READY_WAIT_MS);
		g_source_set_callback(br->ready_timer, ready_timeout, br, NULL);
		g_source_attach(br->ready_timer, tnd_loop_context(br->worker));
		err = tnd_pc_gather(br->pc);
	}
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "media set-up failed: %s", strerror(err));
		release_legs(br);
		send_ready(br, err);
	}
}

static void cmd_run(void *data)
{
	struct cmd *c = data;
	struct tnd_bridge *br = c->br;
	int err = 0;

	if (br->closed)
		return;
	switch (c->kind) {
	case CMD_SETUP:
		setup_legs(br);
		return;
	case CMD_REMOTE:
		if (br->pc)
			err = tnd_pc_set_remote(br->pc, c->a, c->b, c->c,
						c->x ? TND_DTLS_ACTIVE : TND_DTLS_PASSIVE);
		break;
	case CMD_CANDIDATE:
		if (br->pc)
			err = tnd_pc_add_remote_candidate(br->pc, c->a);
		break;
	case CMD_SIP_REMOTE:
		if (br->sock)
			err = tnd_rtpsock_set_remote(br->sock, c->a, (uint16_t)c->x,
						     (uint16_t)c->y);
		break;
	case CMD_ROUTE:
		for (int i = 0; i < 128; i++)
			br->to_sip[i] = br->to_webrtc[i] = -1;
		for (unsigned i = 0; i < c->n_pts; i++) {
			br->to_sip[c->pts[i].webrtc_pt & 0x7f] = c->pts[i].sip_pt;
			br->to_webrtc[c->pts[i].sip_pt & 0x7f] = c->pts[i].webrtc_pt;
		}
		break;
	case CMD_CLOSE:
		br->closed = true;
		count_drops(br);
		release_legs(br);
		atomic_fetch_sub(&live_legs, 1);
		tnd_media_worker_load(br->worker, -1);
		TND_LOG_DEBUG(TND_LOG_MEDIA, "bridge closed: rtp to sip %llu, to webrtc %llu, "
			      "rtcp to sip %llu, to webrtc %llu, "
			      "dropped pt %llu, not ready %llu, send errors %llu",
			      (unsigned long long)br->st.to_sip,
			      (unsigned long long)br->st.to_webrtc,
			      (unsigned long long)br->st.rtcp_to_sip,
			      (unsigned long long)br->st.rtcp_to_webrtc,
			      (unsigned long long)br->st.drop_pt,
			      (unsigned long long)br->st.drop_not_ready,
			      (unsigned long long)br->st.send_err);
		return;
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
	struct cmd *c;

	if (!br || !ufrag || !pwd || !fingerprint)
		return EINVAL;
	c = cmd_new(CMD_REMOTE);
	if (!c)
		return ENOMEM;
	c->a = g_strdup(ufrag);
	c->b = g_strdup(pwd);
	c->c = g_strdup(fingerprint);
	c->x = dtls_active;
	return queue(br, c);
}

int tnd_bridge_webrtc_candidate(struct tnd_bridge *br, const char *cand)
{
	struct cmd *c;

	if (!br)
		return EINVAL;
	c = cmd_new(CMD_CANDIDATE);
	if (!c)
		return ENOMEM;
	c->a = g_strdup(cand);
	return queue(br, c);
}

int tnd_bridge_sip_remote(struct tnd_bridge *br, const char *ip, uint16_t port,
			  uint16_t rtcp_port)
{
	struct cmd *c;

	if (!br || !ip || !port)
		return EINVAL;
	c = cmd_new(CMD_SIP_REMOTE);
	if (!c)
		return ENOMEM;
	c->a = g_strdup(ip);
	c->x = port;
	c->y = rtcp_port;
	return queue(br, c);
}

int tnd_bridge_route(struct tnd_bridge *br, const struct tnd_bridge_pt *pts, unsigned n)
{
	struct cmd *c;

	if (!br || (n && !pts) || n > 16)
		return EINVAL;
	c = cmd_new(CMD_ROUTE);
	if (!c)
		return ENOMEM;
	memcpy(c->pts, pts, n * sizeof(*pts));
	c->n_pts = n;
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

uint32_t tnd_bridge_webrtc_ssrc(const struct tnd_bridge *br)
{
	return br->webrtc_ssrc;
}

uint32_t tnd_bridge_sip_ssrc(const struct tnd_bridge *br)
{
	return br->sip_ssrc;
}

/* ------------------------------------------------------------ alloc */

static void bridge_destroy(void *data)
{
	struct tnd_bridge *br = data;

	/* legs were released on the worker by CMD_CLOSE; a bridge that was
	 * never closed cannot be destroyed, since queued commands hold it */
	g_strfreev(br->ice_addrs);
	g_free(br->rtp_addr);
	g_free(br->stun);
	g_free(br->turn);
	g_free(br->turn_user);
	g_free(br->turn_pass);
	atomic_fetch_sub(&live_bridges, 1);
}

static uint32_t random_ssrc(void)
{
	uint32_t v = 0;

	while (!v)
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			v = g_random_int();
	return v;
}

int tnd_bridge_alloc(struct tnd_bridge **brp, struct tnd_loop *worker, struct tnd_loop *signal,
		     const struct tnd_bridge_conf *conf, const struct tnd_bridge_events *ev,
		     void *arg)
{
	struct tnd_bridge *br;
	struct cmd *c;
	int err;

	if (!brp || !worker || !signal || !conf || !conf->rtp_addr || !ev || !ev->ready ||
	    !ev->state)
		return EINVAL;
	br = tnd_obj_zalloc(sizeof(*br), bridge_destroy);
	if (!br)
		return ENOMEM;
	atomic_fetch_add(&live_bridges, 1);
	br->worker = worker;
	br->signal = signal;
	br->ev = ev;
	br->arg = arg;
	br->ice_addrs = g_new0(char *, conf->n_ice_addrs + 1);
	for (unsigned i = 0; i < conf->n_ice_addrs; i++)
		br->ice_addrs[i] = g_strdup(conf->ice_addrs[i]);
	br->rtp_addr = g_strdup(conf->rtp_addr);
	br->stun = g_strdup(conf->stun_server);
	br->turn = g_strdup(conf->turn_server);
	br->turn_user = g_strdup(conf->turn_user);
	br->turn_pass = g_strdup(conf->turn_pass);
	br->port_min = conf->port_min;
	br->port_max = conf->port_max;
	br->controlling = conf->ice_controlling;
	br->turn_only = conf->turn_only;
	br->webrtc_ssrc = random_ssrc();
	br->sip_ssrc = random_ssrc();
	for (int i = 0; i < 128; i++)
		br->to_sip[i] = br->to_webrtc[i] = -1;

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
