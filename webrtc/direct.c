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
 * worker's buffer, decrypting in place.
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

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "webrtc/webrtc_int.h"

#define COMPONENT 1
#define RX_TRIES 4
#define MSG_MAX 600

struct tnd_pc_direct {
	struct tnd_poll_reg reg;        /* first: the handler finds us from it */
	struct tnd_pc *pc;              /* borrowed: owns us */
	struct tnd_poller *poller;      /* borrowed: the worker's */
	int fd;                         /* owned (our dup) */
	struct sockaddr_storage remote;
	socklen_t remote_len;
	char *user_out;                 /* owned: "their ufrag:our ufrag" */
	char *user_in;                  /* owned: "our ufrag:" */
	char *local_pwd;                /* owned */
	bool controlling;
	uint64_t tiebreaker;
	uint32_t priority;
	uint8_t txid[2][12];            /* the last two checks sent */
	int64_t consent_us;             /* last response to one of ours */
	int64_t next_us;                /* next check */
	struct tnd_poll_tick tick;
};

static int send_to(struct tnd_pc_direct *d, const uint8_t *buf, size_t len,
		   const struct sockaddr_storage *to, socklen_t to_len)
{
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

	return send_to(d, buf, len, &d->remote, d->remote_len) ? EIO : 0;
}

/* ------------------------------------------------------------ consent */

/* RFC 7675 5.1: the interval +- 20 %, so that calls set up together do not
 * check together */
static int64_t next_check(const struct tnd_pc *pc, int64_t now)
{
	int64_t i = pc->consent_interval_us;

	return now + i * 8 / 10 + (int64_t)g_random_double_range(0, (double)i * 4 / 10);
}

static void send_check(struct tnd_pc_direct *d, int64_t now)
{
	uint8_t msg[MSG_MAX];
	size_t n;

	memcpy(d->txid[1], d->txid[0], 12);
	for (int i = 0; i < 12; i += 4) {
		uint32_t r = g_random_int();

		memcpy(d->txid[0] + i, &r, 4);
	}
	n = tnd_stun_build_request(msg, sizeof(msg), d->txid[0], d->user_out, d->pc->remote_pwd,
				   d->priority, d->controlling, d->tiebreaker);
	if (n && !send_to(d, msg, n, &d->remote, d->remote_len))
		d->pc->st.consent_sent++;
	d->next_us = next_check(d->pc, now);
}

static void on_tick(struct tnd_poll_tick *t, int64_t now)
{
	struct tnd_pc_direct *d = (struct tnd_pc_direct *)((char *)t -
							   offsetof(struct tnd_pc_direct, tick));
	struct tnd_pc *pc = d->pc;

	if (pc->state != TND_PC_CONNECTED)
		return;
	if (now - d->consent_us > pc->consent_timeout_us) {
		/* 5.1: stop sending; the owner ends the call */
		TND_LOG_WARN(TND_LOG_WEBRTC, "ICE consent lost: no answer to our checks for %lld ms",
			     (long long)pc->consent_timeout_us / 1000);
		tnd_poller_tick_del(d->poller, &d->tick);
		tnd_pc_hold(pc);
		tnd_pc_fail(pc, ETIMEDOUT);
		tnd_pc_unhold(pc);
		return;
	}
	if (now >= d->next_us)
		send_check(d, now);
}

static void stun_in(struct tnd_pc_direct *d, uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from, socklen_t from_len)
{
	struct tnd_pc *pc = d->pc;
	struct tnd_stun_binding b;
	uint8_t msg[MSG_MAX];
	size_t n;

	if (tnd_stun_parse_binding(buf, len, &b)) {
		pc->st.drop_bad_stun++;
		return;
	}
	switch (b.type) {
	case TND_STUN_BINDING_REQUEST:
		/* RFC 8445 7.3: our ufrag first, their password's key ours */
		if (!b.user || b.user_len <= strlen(d->user_in) ||
		    memcmp(b.user, d->user_in, strlen(d->user_in)) ||
		    tnd_stun_verify(buf, len, b.integrity_off, d->local_pwd)) {
			pc->st.stun_refused++;
			TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "Binding request with wrong credentials (%zu bytes)", len);
			return;
		}
		n = tnd_stun_build_success(msg, sizeof(msg), b.txid, from, d->local_pwd);
		if (n && !send_to(d, msg, n, from, from_len))
			pc->st.stun_answered++;
		/* 7.3.1.5: the controlling agent nominated another pair of ours */
		if (!tnd_webrtc_sa_equal(from, &d->remote) && !d->controlling && b.use_candidate) {
			char was[64], to[64];

			tnd_webrtc_sa_str(&d->remote, was, sizeof(was));
			tnd_webrtc_sa_str(from, to, sizeof(to));
			TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "ICE: peer nominated %s (was %s)", to,
				   was);
			memcpy(&d->remote, from, from_len);
			d->remote_len = from_len;
		}
		break;
	case TND_STUN_BINDING_SUCCESS:
		if (!tnd_webrtc_sa_equal(from, &d->remote) ||
		    (memcmp(b.txid, d->txid[0], 12) && memcmp(b.txid, d->txid[1], 12)) ||
		    tnd_stun_verify(buf, len, b.integrity_off, pc->remote_pwd)) {
			pc->st.drop_stun++;
			return;
		}
		pc->st.consent_ok++;
		d->consent_us = g_get_monotonic_time();
		break;
	default:
		/* indications (keepalives) and errors: nothing to do */
		pc->st.drop_stun++;
		break;
	}
}

/* ------------------------------------------------------------ receive */

static void on_readable(struct tnd_poll_reg *reg, uint32_t events)
{
	struct tnd_pc_direct *d = (struct tnd_pc_direct *)reg;
	struct tnd_pc *pc = d->pc;
	uint8_t *rx = tnd_poller_rx_buf(d->poller);

	(void)events;
	tnd_pc_hold(pc);   /* a handler may drop the owner's reference */
	/* one datagram per wake-up: epoll is level-triggered and reports the
	 * socket again while more wait, and reading on to EAGAIN would cost a
	 * second system call for nearly every packet (at 50 packets a second a
	 * socket rarely holds two). RX_TRIES bounds errors queued by ICMP. */
	for (int i = 0; i < RX_TRIES && pc->direct == d; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(d->fd, rx, TND_POLL_BUF_SIZE, MSG_TRUNC,
				     (struct sockaddr *)&from, &from_len);
		enum tnd_demux kind;

		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				TND_LOG_RL(TND_LOG_WEBRTC, WARN, "recvfrom: %s", g_strerror(errno));
			break;
		}
		kind = tnd_demux_classify(rx, (size_t)n);
		if ((size_t)n > TND_PC_MAX_PACKET)
			pc->st.drop_bad_rtp++;
		else if (kind == TND_DEMUX_STUN)
			stun_in(d, rx, (size_t)n, &from, from_len);
		/* as libnice did: only the selected pair's peer is heard */
		else if (!tnd_webrtc_sa_equal(&from, &d->remote))
			pc->st.drop_foreign++;
		else
			tnd_pc_input_nostun(pc, kind, rx, (size_t)n, true);
		break;
	}
	tnd_pc_unhold(pc);
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
	g_free(d->user_out);
	g_free(d->user_in);
	g_free(d->local_pwd);
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
	nice_address_copy_to_sockaddr(&r->addr, (struct sockaddr *)&d->remote);
	d->remote_len = d->remote.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
							  sizeof(struct sockaddr_in);
	if (!nice_agent_get_local_credentials(pc->agent, pc->stream, &ufrag, &pwd)) {
		err = EIO;
		goto out;
	}
	g_object_get(pc->agent, "controlling-mode", &controlling, NULL);
	d->controlling = controlling;
	d->priority = l->priority;
	d->tiebreaker = (uint64_t)g_random_int() << 32 | g_random_int();
	d->user_out = g_strdup_printf("%s:%s", pc->remote_ufrag, ufrag);
	d->user_in = g_strdup_printf("%s:", ufrag);
	d->local_pwd = g_strdup(pwd);
	d->consent_us = g_get_monotonic_time();
	d->next_us = next_check(pc, d->consent_us);
	err = tnd_poller_add(d->poller, &d->reg, d->fd, on_readable);
 out:
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

static gboolean take_idle(gpointer data)
{
	struct tnd_pc *pc = data;
	char to[64];
	int err;

	if (pc->direct || !pc->agent || pc->state != TND_PC_CONNECTED)
		return G_SOURCE_REMOVE;
	err = take(pc);
	if (err) {
		if (err != ENOTSUP)
			TND_LOG_WARN(TND_LOG_WEBRTC, "ICE socket hand-over failed: %s", g_strerror(err));
		return G_SOURCE_REMOVE;
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
	tnd_webrtc_sa_str(&pc->direct->remote, to, sizeof(to));
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "ICE done: socket taken over from libnice, peer %s", to);
	return G_SOURCE_REMOVE;
}

static void take_release(gpointer data)
{
	tnd_webrtc_put_later(data, ((struct tnd_pc *)data)->ctx);
}

void tnd_pc_direct_maybe(struct tnd_pc *pc)
{
	GSource *s;

	if (pc->takeover_queued || !pc->ice_ready || pc->dtls_state != TND_PC_DTLS_DONE ||
	    !pc->agent)
		return;
	pc->takeover_queued = true;
	/* never inside libnice's or OpenSSL's callbacks: the agent goes */
	s = g_idle_source_new();
	tnd_pc_hold(pc);
	g_source_set_callback(s, take_idle, pc, take_release);
	g_source_attach(s, pc->ctx);
	g_source_unref(s);
}
