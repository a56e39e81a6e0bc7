/* A bridge's events to the signalling thread, and the ICE side of each
 * WebRTC leg until its `ready` went out. Worker thread, except event_run
 * on the signalling loop. An event is a small refcounted object carrying
 * its strings; they travel at call set-up and tear-down, never per packet.
 * After tnd_bridge_close() no event reaches the owner.
 *
 * Each WebRTC leg answers `ready` once its gathering is done, or after
 * READY_WAIT_MS with what it has (a slow STUN or TURN server; the rest
 * trickle). Leg A's events go to the owner's ready/candidate/state, leg
 * B's (when it is WebRTC too) to ready_b/candidate_b/state_b. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/media/bridge_int.h"

#define READY_WAIT_MS 500

enum ev_kind { EV_READY, EV_CANDIDATE, EV_STATE };

struct event {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	enum ev_kind kind;
	unsigned side;
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
	const struct tnd_bridge_events *ev = br->ev;
	const char *cand = e->cands ? e->cands[0] : NULL;

	if (br->closed_sig)
		return;
	switch (e->kind) {
	case EV_READY:
		if (!e->side)
			ev->ready(br->arg, e->err, e->ufrag, e->pwd,
				  (const char *const *)e->cands, e->complete, e->port);
		else if (ev->ready_b)
			ev->ready_b(br->arg, e->err, e->ufrag, e->pwd,
				    (const char *const *)e->cands, e->complete);
		break;
	case EV_CANDIDATE:
		if (!e->side && ev->candidate)
			ev->candidate(br->arg, cand);
		else if (e->side && ev->candidate_b)
			ev->candidate_b(br->arg, cand);
		break;
	case EV_STATE:
		if (!e->side)
			ev->state(br->arg, (enum tnd_bridge_state)e->state, e->err);
		else if (ev->state_b)
			ev->state_b(br->arg, (enum tnd_bridge_state)e->state, e->err);
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

static struct event *event_new(enum ev_kind kind, unsigned side)
{
	struct event *e = tnd_obj_zalloc(sizeof(*e), event_destroy);

	if (e) {
		e->kind = kind;
		e->side = side;
	}
	return e;
}

void tnd_bridge_post_state(struct tnd_bridge *br, unsigned side, int state, int err)
{
	struct event *e = event_new(EV_STATE, side);

	if (!e)
		return;
	e->state = state;
	e->err = err;
	post(br, e);
}

void tnd_bridge_post_port(struct tnd_bridge *br, int err, uint16_t port)
{
	struct event *e = event_new(EV_READY, 0);

	if (!e)
		return;
	e->err = err;
	e->ufrag = g_strdup("");
	e->pwd = g_strdup("");
	e->cands = g_new0(char *, 1);
	e->complete = true;
	e->port = port;
	post(br, e);
}

void tnd_bridge_send_ready(struct tnd_bridge *br, unsigned side, int err)
{
	struct leg_setup *set = &br->set[side];
	struct tnd_pc *pc = tnd_leg_pc(&br->leg[side]);
	struct event *e;
	char ufrag[257] = "", pwd[257] = "";

	if (set->ready_sent)
		return;
	set->ready_sent = true;
	tnd_timer_stop(tnd_loop_poller(br->worker), &set->timer);
	e = event_new(EV_READY, side);
	if (!e)
		return;
	if (!err && pc)
		err = tnd_pc_local_ice(pc, ufrag, sizeof(ufrag), pwd, sizeof(pwd));
	e->err = err;
	e->ufrag = g_strdup(ufrag);
	e->pwd = g_strdup(pwd);
	e->cands = g_new0(char *, set->n_cands + 1);
	for (unsigned i = 0; i < set->n_cands; i++)
		e->cands[i] = g_strdup(set->cands[i]);
	e->complete = set->gathered;
	e->port = br->b_webrtc ? 0 : br->leg[1].port;
	post(br, e);
}

static void ready_timeout(struct tnd_timer *t, int64_t now_us)
{
	struct leg_setup *set = (struct leg_setup *)((char *)t -
						     offsetof(struct leg_setup, timer));

	(void)now_us;
	tnd_bridge_send_ready(set->br, set->side, 0);
}

void tnd_bridge_setup_start(struct tnd_bridge *br, unsigned side)
{
	struct leg_setup *set = &br->set[side];

	set->br = br;
	set->side = (uint8_t)side;
	tnd_timer_start(tnd_loop_poller(br->worker), &set->timer, READY_WAIT_MS, ready_timeout);
}

void tnd_bridge_setup_reset(struct tnd_bridge *br, unsigned side)
{
	struct leg_setup *set = &br->set[side];

	tnd_timer_stop(tnd_loop_poller(br->worker), &set->timer);
	for (unsigned i = 0; i < set->n_cands; i++)
		g_free(set->cands[i]);
	set->n_cands = 0;
	set->ready_sent = false;
	set->gathered = false;
}

/* ------------------------------------------------------------ pc handlers */

/* A WebRTC leg's handlers get the leg (leg.c); the bridge is its owner. */
void tnd_bridge_on_candidate(void *arg, const char *cand)
{
	struct tnd_leg *leg = arg;
	struct tnd_bridge *br = leg->br;
	struct leg_setup *set;
	struct event *e;

	if (!br || br->closed)
		return;
	set = &br->set[leg->side];
	if (!cand)
		set->gathered = true;
	if (!set->ready_sent) {
		if (!cand) {
			tnd_bridge_send_ready(br, leg->side, 0);
			return;
		}
		if (set->n_cands < BRIDGE_MAX_CANDS) {
			set->cands[set->n_cands++] = g_strdup(cand);
			return;
		}
		/* no room left: answer with what we have, the rest trickle
		 * instead of being lost (review L10) */
		tnd_bridge_send_ready(br, leg->side, 0);
	}
	e = event_new(EV_CANDIDATE, leg->side);
	if (!e)
		return;
	if (cand) {
		e->cands = g_new0(char *, 2);
		e->cands[0] = g_strdup(cand);
	}
	post(br, e);
}

void tnd_bridge_on_pc_state(void *arg, enum tnd_pc_state state)
{
	struct tnd_leg *leg = arg;
	struct tnd_bridge *br = leg->br;

	if (!br || br->closed || state == TND_PC_NEW)
		return;
	tnd_bridge_post_state(br, leg->side,
			      state == TND_PC_CONNECTED ? TND_BRIDGE_CONNECTED :
			      state == TND_PC_CLOSED ? TND_BRIDGE_CLOSED : TND_BRIDGE_FAILED,
			      tnd_pc_error(leg->obj));
}
