/* ICE after libnice (RFC 8445 with RFC 7675 consent), on the pair libnice
 * selected.
 *
 * libnice costs a worker a GSource, a cancellable and two 64 KiB buffers per
 * call, and its receive path runs through GLib's poll of every descriptor
 * (docs/benchmarks.md). Once its work is over - checks done, a pair
 * nominated, DTLS finished - what is left of ICE is small: answer the peer's
 * Binding requests, ask for consent every few seconds, and notice when the
 * peer moves to another of our pairs. So the pc dups the selected pair's
 * socket (nice_agent_get_selected_socket documents this hand-over), frees
 * the agent, and reads the socket from the worker's epoll set into the
 * worker's buffer, decrypting in place. What ICE still has to do on it
 * (checks, consent per address, following a peer that moves, restarts) is
 * ice_direct.c's; this file owns the socket, the timer and the media.
 *
 * A relayed pair keeps libnice: its packets are TURN-framed and its
 * allocation needs refreshing. So does a pc whose agent has no socket to
 * give (libnice found no selected pair). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <netinet/in.h>
#include <openssl/crypto.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "webrtc/webrtc_int.h"

#define COMPONENT 1

struct tnd_pc_direct {
	struct tnd_poll_reg reg;        /* first: the handler finds us from it */
	struct tnd_pc *pc;              /* borrowed: owns us */
	struct tnd_poller *poller;      /* borrowed: the worker's */
	int fd;                         /* owned (our dup) */
	struct tnd_icd icd;             /* checks, consent, moves, restart (ice_direct.c) */
	struct tnd_poll_tick tick;
};

static int send_to(void *arg, const uint8_t *buf, size_t len, const struct sockaddr_storage *to,
		   socklen_t to_len)
{
	struct tnd_pc_direct *d = arg;

	for (;;) {
		if (sendto(d->fd, buf, len, 0, (const struct sockaddr *)to, to_len) >= 0)
			return 0;
		if (errno != EINTR)
			return errno;
	}
}

int tnd_pc_direct_send(struct tnd_pc *pc, const uint8_t *buf, size_t len)
{
	struct tnd_pc_direct *d = pc->direct;
	socklen_t to_len;
	const struct sockaddr_storage *to = tnd_icd_remote(&d->icd, &to_len);

	/* the tick fails the pc within TND_POLL_TICK_MS of the selected
	 * address's consent running out, so no per-packet clock here */
	return send_to(d, buf, len, to, to_len) ? EIO : 0;
}

/* ------------------------------------------------------------ consent */

static void on_tick(struct tnd_poll_tick *t, int64_t now)
{
	struct tnd_pc_direct *d = (struct tnd_pc_direct *)((char *)t -
							   offsetof(struct tnd_pc_direct, tick));
	struct tnd_pc *pc = d->pc;

	if (pc->state != TND_PC_CONNECTED)
		return;
	if (tnd_icd_tick(&d->icd, now) == ETIMEDOUT) {
		/* RFC 7675 5.1: stop sending; the owner ends the call */
		TND_LOG_WARN(TND_LOG_WEBRTC, "ICE consent lost: no answer to our checks for %lld ms",
			     (long long)pc->consent_timeout_us / 1000);
		tnd_poller_tick_del(d->poller, &d->tick);
		tnd_pc_hold(pc);
		tnd_pc_fail(pc, ETIMEDOUT);
		tnd_pc_unhold(pc);
	}
}

/* ------------------------------------------------------------ receive */

static void on_readable(struct tnd_poll_reg *reg, uint32_t events)
{
	struct tnd_pc_direct *d = (struct tnd_pc_direct *)reg;
	struct tnd_pc *pc = d->pc;
	uint8_t *rx = tnd_poller_rx_buf(d->poller);
	struct sockaddr_storage from;
	socklen_t from_len = sizeof(from);
	enum tnd_demux kind;
	ssize_t n;

	(void)events;
	/* no reference per datagram (review L11): the owner's last one goes
	 * through tnd_pc_release(), deferred past this batch, and every state
	 * change holds the pc across its handler (notify) */
	n = tnd_sock_recv_one(d->fd, rx, &from, &from_len);
	kind = n > 0 ? tnd_demux_classify(rx, (size_t)n) : TND_DEMUX_DROP;
	if (n < 0) {
		/* nothing to read: a spurious wake-up or ICMP errors only */
	} else if (n > TND_PC_MAX_PACKET)
		pc->st.drop_bad_rtp++;
	else if (kind == TND_DEMUX_STUN)
		tnd_icd_input(&d->icd, rx, (size_t)n, &from, from_len, g_get_monotonic_time());
	/* as libnice did: only the selected pair's peer is heard */
	else if (!tnd_webrtc_sa_equal(&from, tnd_icd_remote(&d->icd, &(socklen_t){ 0 })))
		pc->st.drop_foreign++;
	else
		tnd_pc_input_nostun(pc, kind, rx, (size_t)n, true);
}

/* ------------------------------------------------------------ hand-over */

static void direct_free(struct tnd_pc_direct *d)
{
	if (!d)
		return;
	tnd_poller_tick_del(d->poller, &d->tick);
	tnd_poller_del(d->poller, &d->reg);
	if (d->fd >= 0)
		close(d->fd);
	tnd_icd_clear(&d->icd);
	g_free(d);
}

void tnd_pc_direct_free(struct tnd_pc *pc)
{
	direct_free(pc->direct);
	pc->direct = NULL;
}

/* 0, or ENOTSUP when the pair is relayed (libnice stays) */
static int take(struct tnd_pc *pc)
{
	struct tnd_pc_direct *d;
	NiceCandidate *l = NULL, *r = NULL;
	GSocket *gs;
	gchar *ufrag = NULL, *pwd = NULL;
	gboolean controlling = FALSE;
	struct sockaddr_storage remote = { 0 };
	struct tnd_icd_conf c = { 0 };
	int err = 0;

	if (!nice_agent_get_selected_pair(pc->agent, pc->stream, COMPONENT, &l, &r) ||
	    l->type == NICE_CANDIDATE_TYPE_RELAYED || l->transport != NICE_CANDIDATE_TRANSPORT_UDP)
		return ENOTSUP;
	gs = nice_agent_get_selected_socket(pc->agent, pc->stream, COMPONENT);
	if (!gs)
		return ENOTSUP;
	d = g_new0(struct tnd_pc_direct, 1);
	d->pc = pc;
	d->poller = tnd_loop_poller(pc->loop);
	d->reg.fd = -1;
	d->fd = fcntl(g_socket_get_fd(gs), F_DUPFD_CLOEXEC, 0);
	g_object_unref(gs);
	if (d->fd < 0) {
		err = errno;
		goto out;
	}
	nice_address_copy_to_sockaddr(&r->addr, (struct sockaddr *)&remote);
	/* what rtpsock.c sets on the SIP leg's sockets (review L8); the size
	 * also bounds how late a packet can be when the worker falls behind */
	err = tnd_sock_media_opts(d->fd, remote.ss_family, TND_RTPSOCK_DSCP_EF, pc->rcvbuf);
	if (err)
		TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "media socket options: %s", g_strerror(err));
	err = 0;
	if (!nice_agent_get_local_credentials(pc->agent, pc->stream, &ufrag, &pwd)) {
		err = EIO;
		goto out;
	}
	g_object_get(pc->agent, "controlling-mode", &controlling, NULL);
	c.local_ufrag = ufrag;
	c.local_pwd = pwd;
	c.remote_ufrag = pc->remote_ufrag;
	c.remote_pwd = pc->remote_pwd;
	c.remote = &remote;
	c.remote_len = remote.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						      sizeof(struct sockaddr_in);
	c.controlling = controlling;
	c.priority = l->priority;
	c.interval_us = pc->consent_interval_us;
	c.timeout_us = pc->consent_timeout_us;
	c.send = send_to;
	c.arg = d;
	c.st = &pc->st;
	err = tnd_icd_init(&d->icd, &c, g_get_monotonic_time());
	if (!err)
		err = tnd_poller_add(d->poller, &d->reg, d->fd, on_readable);
 out:
	if (pwd)
		OPENSSL_cleanse(pwd, strlen(pwd));
	g_free(ufrag);
	g_free(pwd);
	if (err) {
		direct_free(d);
		return err;
	}
	pc->direct = d;
	tnd_poller_tick_add(d->poller, &d->tick, on_tick);
	return 0;
}

static void take_over(struct tnd_pc *pc)
{
	char to[64];
	int err;

	if (pc->direct || !pc->agent || pc->state != TND_PC_CONNECTED)
		return;
	err = take(pc);
	if (err) {
		if (err != ENOTSUP)
			TND_LOG_WARN(TND_LOG_WEBRTC, "ICE socket hand-over failed: %s", g_strerror(err));
		return;
	}
	/* from here on libnice would only read packets meant for us */
	tnd_pc_ice_destroy(pc);
	pc->st.direct = true;
	/* a STUN or TURN server still unanswered would have kept gathering
	 * open; without the agent no candidate can come any more */
	if (!pc->gathered) {
		pc->gathered = true;
		if (pc->h.candidate) {
			tnd_pc_hold(pc);
			pc->h.candidate(pc->arg, NULL);
			tnd_pc_unhold(pc);
		}
	}
	tnd_webrtc_sa_str(tnd_icd_remote(&pc->direct->icd, &(socklen_t){ 0 }), to, sizeof(to));
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "ICE done: socket taken over from libnice, peer %s", to);
}

static void take_deferred(struct tnd_defer *d)
{
	struct tnd_pc *pc = (struct tnd_pc *)((char *)d - offsetof(struct tnd_pc, takeover));

	take_over(pc);
	tnd_pc_unhold(pc);
}

void tnd_pc_direct_maybe(struct tnd_pc *pc)
{
	if (pc->takeover_queued || !pc->ice_ready || pc->dtls_state != TND_PC_DTLS_DONE ||
	    !pc->agent)
		return;
	pc->takeover_queued = true;
	/* never inside libnice's or OpenSSL's callbacks (the agent goes), but
	 * right after this batch: at idle priority a busy worker starved it,
	 * and every call waiting on it kept libnice's memory and polling
	 * (review M6) */
	tnd_pc_hold(pc);
	tnd_defer_queue(tnd_loop_poller(pc->loop), &pc->takeover, take_deferred);
}

/* ------------------------------------------------------------ restart */

int tnd_pc_ice_restart(struct tnd_pc *pc, char *ufrag, size_t ufrag_size, char *pwd,
		       size_t pwd_size)
{
	if (!pc || !ufrag || !pwd)
		return EINVAL;
	/* libnice still runs ICE (or keeps a relayed pair): its own restart
	 * would have to re-run gathering and the hand-over, not done here */
	if (!pc->direct)
		return EALREADY;
	return tnd_icd_local_restart(&pc->direct->icd, ufrag, ufrag_size, pwd, pwd_size);
}

int tnd_pc_ice_remote_restart(struct tnd_pc *pc, const char *ufrag, const char *pwd)
{
	if (!pc || !ufrag || !pwd)
		return EINVAL;
	if (!pc->direct)
		return EALREADY;
	return tnd_icd_remote_restart(&pc->direct->icd, ufrag, pwd);
}
