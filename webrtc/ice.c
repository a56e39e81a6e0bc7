/* ICE for the pc: one libnice agent, one stream, one component (BUNDLE and
 * rtcp-mux, RFC 8843 and RFC 5761), full ICE (RFC 8445) with trickle (RFC
 * 8838) and consent freshness (RFC 7675).
 *
 * The agent is made on the worker's context, so its sockets, timers and
 * signals all run on the worker thread. Host candidates come from the
 * configured addresses through nice_agent_add_local_address, the only way
 * libnice offers loopback. Remote candidates pass cand.c's checks and the
 * deny-list before libnice parses them, at most TND_PC_MAX_REMOTE_CANDS a
 * pc; those that arrive before our gathering started or before the peer's
 * credentials are kept (prepended, reversed once) and applied then.
 * Candidate strings are copied out of libnice's memory at this edge.
 *
 * libnice's signals and receive callback can still fire after the owner
 * hung up (tnd_pc_close) and let go (tnd_pc_detach) while something else
 * keeps the pc alive, e.g. gathering held open by a STUN server that never
 * answers: each one returns at once when tnd_pc_gone() (review H3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "gateway/base/log.h"
#include "webrtc/cand_int.h"
#include "webrtc/webrtc_int.h"

#define COMPONENT 1
#define CAND_MAX 512

static void cand_free(gpointer c)
{
	nice_candidate_free(c);
}

/* "IP:port" or "[IPv6]:port" into ip (size >= 64) and port. 0 or EINVAL. */
static int split_hostport(const char *s, char *ip, size_t size, guint *port)
{
	const char *colon, *start = s, *end;
	char *e;
	unsigned long p;
	NiceAddress a;

	if (*s == '[') {
		start = s + 1;
		end = strchr(start, ']');
		if (!end || end[1] != ':')
			return EINVAL;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return EINVAL;
		end = colon;
	}
	if ((size_t)(end - start) >= size)
		return EINVAL;
	memcpy(ip, start, (size_t)(end - start));
	ip[end - start] = 0;
	p = strtoul(colon + 1, &e, 10);
	if (*e || !p || p > 65535 || !nice_address_set_from_string(&a, ip))
		return EINVAL;
	*port = (guint)p;
	return 0;
}

static void on_candidate(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	struct tnd_pc *pc = data;
	char buf[CAND_MAX];
	gchar *sdp;

	if (tnd_pc_gone(pc) || c->stream_id != pc->stream || c->component_id != COMPONENT ||
	    !pc->h.candidate)
		return;
	sdp = nice_agent_generate_local_candidate_sdp(agent, c);
	if (!sdp)
		return;
	/* into our memory, without libnice's "a=" */
	snprintf(buf, sizeof(buf), "%s", strncmp(sdp, "a=", 2) ? sdp : sdp + 2);
	g_free(sdp);
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "local %s", buf);
	tnd_pc_hold(pc);
	pc->h.candidate(pc->arg, buf);
	tnd_pc_unhold(pc);
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
	struct tnd_pc *pc = data;

	(void)agent;
	if (stream != pc->stream)
		return;
	pc->gathered = true;
	if (tnd_pc_gone(pc) || !pc->h.candidate)
		return;
	tnd_pc_hold(pc);
	pc->h.candidate(pc->arg, NULL);
	tnd_pc_unhold(pc);
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
	struct tnd_pc *pc = data;

	(void)agent;
	if (tnd_pc_gone(pc) || stream != pc->stream || comp != COMPONENT)
		return;
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "ICE %s", nice_component_state_to_string(state));
	if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY)
		tnd_pc_ice_up(pc);
	if (state == NICE_COMPONENT_STATE_READY) {
		pc->ice_ready = true;
		tnd_pc_direct_maybe(pc);
	}
	else if (state == NICE_COMPONENT_STATE_FAILED)
		tnd_pc_fail(pc, ETIMEDOUT);
}

static void on_pair(NiceAgent *agent, guint stream, guint comp, NiceCandidate *l,
		    NiceCandidate *r, gpointer data)
{
	char la[NICE_ADDRESS_STRING_LEN], ra[NICE_ADDRESS_STRING_LEN];

	(void)agent;
	(void)stream;
	(void)comp;
	(void)data;
	nice_address_to_string(&l->addr, la);
	nice_address_to_string(&r->addr, ra);
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "ICE pair %s:%u -> %s:%u", la,
		      nice_address_get_port(&l->addr), ra, nice_address_get_port(&r->addr));
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
		    gpointer data)
{
	(void)agent;
	(void)stream;
	(void)comp;
	/* after the end nothing the peer sends can matter */
	if (tnd_pc_gone(data))
		return;
	tnd_pc_input(data, (const uint8_t *)buf, len);
}

int tnd_pc_ice_create(struct tnd_pc *pc, const struct tnd_pc_conf *conf, bool controlling)
{
	char ip[64];
	guint port;

	pc->agent = nice_agent_new_full(pc->ctx, NICE_COMPATIBILITY_RFC5245,
					NICE_AGENT_OPTION_ICE_TRICKLE |
					NICE_AGENT_OPTION_CONSENT_FRESHNESS);
	if (!pc->agent)
		return ENOMEM;
	/* UDP only: TCP candidates would only add checks that lose to UDP;
	 * UPnP would stall gathering on a router query */
	g_object_set(pc->agent, "controlling-mode", controlling, "ice-tcp", FALSE, "upnp", FALSE,
		     NULL);
	if (conf->stun_server) {
		if (split_hostport(conf->stun_server, ip, sizeof(ip), &port))
			return EINVAL;
		g_object_set(pc->agent, "stun-server", ip, "stun-server-port", port, NULL);
	}
	pc->stream = nice_agent_add_stream(pc->agent, 1);
	if (!pc->stream)
		return ENOMEM;
	if (conf->port_min || conf->port_max) {
		if (conf->port_min > conf->port_max)
			return EINVAL;
		nice_agent_set_port_range(pc->agent, pc->stream, COMPONENT, conf->port_min,
					  conf->port_max);
	}
	if (conf->turn_server) {
		if (split_hostport(conf->turn_server, ip, sizeof(ip), &port) ||
		    !nice_agent_set_relay_info(pc->agent, pc->stream, COMPONENT, ip, port,
					       conf->turn_user ? conf->turn_user : "",
					       conf->turn_pass ? conf->turn_pass : "",
					       NICE_RELAY_TYPE_TURN_UDP))
			return EINVAL;
		pc->turn = true;
		if (conf->relay_only)
			g_object_set(pc->agent, "force-relay", TRUE, NULL);
	}
	for (size_t i = 0; i < conf->n_local_addrs; i++) {
		NiceAddress a;

		nice_address_init(&a);
		if (!conf->local_addrs[i] ||
		    !nice_address_set_from_string(&a, conf->local_addrs[i]) ||
		    !nice_agent_add_local_address(pc->agent, &a))
			return EINVAL;
	}
	g_signal_connect(pc->agent, "new-candidate-full", G_CALLBACK(on_candidate), pc);
	g_signal_connect(pc->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), pc);
	g_signal_connect(pc->agent, "component-state-changed", G_CALLBACK(on_state), pc);
	g_signal_connect(pc->agent, "new-selected-pair-full", G_CALLBACK(on_pair), pc);
	if (!nice_agent_attach_recv(pc->agent, pc->stream, COMPONENT, pc->ctx, on_recv, pc))
		return EIO;
	return 0;
}

void tnd_pc_ice_destroy(struct tnd_pc *pc)
{
	g_slist_free_full(pc->pending_cands, cand_free);
	pc->pending_cands = NULL;
	if (!pc->agent)
		return;
	/* libnice may still hold queued signals and a receive source for this
	 * pc: cut them before the memory goes */
	if (pc->stream)
		nice_agent_attach_recv(pc->agent, pc->stream, COMPONENT, pc->ctx, NULL, NULL);
	g_signal_handlers_disconnect_by_data(pc->agent, pc);
	/* a TURN allocation is released on the server (lifetime 0); the
	 * operation holds its own reference on the agent */
	if (pc->turn)
		nice_agent_close_async(pc->agent, NULL, NULL);
	g_object_unref(pc->agent);
	pc->agent = NULL;
}

/* Applies kept candidates once gathering runs and credentials are set. */
static int flush_remote(struct tnd_pc *pc)
{
	int n = 0;

	if (!pc->gathering || !pc->remote_set)
		return 0;
	if (pc->pending_cands) {
		/* kept newest first (tnd_pc_add_remote_candidate) */
		pc->pending_cands = g_slist_reverse(pc->pending_cands);
		n = nice_agent_set_remote_candidates(pc->agent, pc->stream, COMPONENT,
						     pc->pending_cands);
		g_slist_free_full(pc->pending_cands, cand_free);
		pc->pending_cands = NULL;
	}
	if (pc->eoc_in && !pc->eoc_applied) {
		pc->eoc_applied = true;
		nice_agent_peer_candidate_gathering_done(pc->agent, pc->stream);
	}
	return n < 0 ? EIO : 0;
}

int tnd_pc_local_ice(const struct tnd_pc *pc, char *ufrag, size_t ufrag_size, char *pwd,
		     size_t pwd_size)
{
	gchar *u = NULL, *p = NULL;
	int err = 0;

	if (!pc || !ufrag || !pwd)
		return EINVAL;
	if (!pc->agent)
		return EALREADY;
	if (!nice_agent_get_local_credentials(pc->agent, pc->stream, &u, &p))
		return EIO;
	if (strlen(u) >= ufrag_size || strlen(p) >= pwd_size)
		err = ENOSPC;
	else {
		memcpy(ufrag, u, strlen(u) + 1);
		memcpy(pwd, p, strlen(p) + 1);
	}
	g_free(u);
	g_free(p);
	return err;
}

int tnd_pc_gather(struct tnd_pc *pc)
{
	if (!pc)
		return EINVAL;
	if (pc->gathering || !pc->agent)
		return EALREADY;
	pc->gathering = true;
	tnd_pc_hold(pc);   /* candidates may be handed out from in here */
	if (!nice_agent_gather_candidates(pc->agent, pc->stream)) {
		tnd_pc_unhold(pc);
		return EIO;
	}
	flush_remote(pc);
	tnd_pc_unhold(pc);
	return 0;
}

int tnd_pc_ice_set_remote(struct tnd_pc *pc, const char *ufrag, const char *pwd)
{
	if (!nice_agent_set_remote_credentials(pc->agent, pc->stream, ufrag, pwd))
		return EINVAL;
	return flush_remote(pc);
}

/* libnice's reading of the address and port, as cand.c reads them */
static bool same_addr(const NiceCandidate *c, const struct tnd_cand_addr *a)
{
	struct sockaddr_storage ss;
	struct tnd_cand_addr n;

	memset(&ss, 0, sizeof(ss));
	memset(&n, 0, sizeof(n));
	nice_address_copy_to_sockaddr(&c->addr, (struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET) {
		n.family = 4;
		memcpy(n.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		const uint8_t *b = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;

		n.family = 6;
		memcpy(n.addr, b, 16);
		if (!memcmp(b, mapped, sizeof(mapped))) {
			n.family = 4;
			memset(n.addr, 0, 16);
			memcpy(n.addr, b + 12, 4);
		}
	}
	return n.family == a->family && !memcmp(n.addr, a->addr, 16) &&
	       nice_address_get_port(&c->addr) == a->port;
}

int tnd_pc_add_remote_candidate(struct tnd_pc *pc, const char *cand)
{
	char buf[CAND_MAX];
	struct tnd_cand_addr addr;
	NiceCandidate *c;
	int n, err;

	if (!pc)
		return EINVAL;
	if (pc->eoc_in)
		return EALREADY;
	/* ICE is over and libnice gone: a late candidate changes nothing */
	if (!pc->agent)
		return 0;
	if (!cand) {
		pc->eoc_in = true;
		return flush_remote(pc);
	}
	if (!strncmp(cand, "a=", 2))
		cand += 2;
	n = snprintf(buf, sizeof(buf), "a=%s", cand);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return EBADMSG;
	err = tnd_cand_check(buf + 2, &addr);
	if (err)
		return err;
	err = tnd_cand_allowed(pc->cand_deny, pc->n_cand_deny, &addr);
	if (err)
		return err;
	/* pending and applied alike: each one costs checks and memory */
	if (pc->n_remote_cands >= TND_PC_MAX_REMOTE_CANDS)
		return EBUSY;
	c = nice_agent_parse_remote_candidate_sdp(pc->agent, pc->stream, buf);
	if (!c)
		return EBADMSG;
	/* two parsers, one string: if libnice read another address than the
	 * one the deny-list judged, trust neither */
	if (!same_addr(c, &addr)) {
		nice_candidate_free(c);
		return EBADMSG;
	}
	if (c->component_id != COMPONENT || c->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
		nice_candidate_free(c);
		return ENOTSUP;
	}
	pc->n_remote_cands++;
	if (!pc->gathering || !pc->remote_set) {
		/* prepended, reversed once by flush_remote: appending would walk
		 * the list each time */
		pc->pending_cands = g_slist_prepend(pc->pending_cands, c);
		return 0;
	}
	{
		GSList one = { .data = c, .next = NULL };

		n = nice_agent_set_remote_candidates(pc->agent, pc->stream, COMPONENT, &one);
	}
	nice_candidate_free(c);
	return n < 0 ? EIO : 0;
}

int tnd_pc_ice_send(struct tnd_pc *pc, const uint8_t *buf, size_t len)
{
	gint n;

	if (pc->direct)
		return tnd_pc_direct_send(pc, buf, len);
	if (!pc->agent)
		return EIO;
	n = nice_agent_send(pc->agent, pc->stream, COMPONENT, (guint)len, (const gchar *)buf);
	return n == (gint)len ? 0 : EIO;
}
