/* SIP-leg RTP source learning (media-plane review H1, M2): the SDP address
 * is preferred and always accepted; another port of the SDP or signalling
 * IP (a NAT rebinding) is learned after RFC 3550 A.1 probation; another IP
 * only outside strict mode, after probation and within the learning window
 * at the start of the leg. Nothing moves while the current source is alive,
 * except towards the SDP address, or to the SDP or signalling IP away from
 * a source on another IP.
 * RTCP is accepted only from the RTP destination's IP, and the RTCP port is
 * learned at that IP alone, so RTCP never latches to a third party.
 *
 * Pure logic over caller memory, time passed in: the fuzz target links it
 * with nothing else. Worker thread (inside its tnd_rtpsock). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "webrtc/learn_int.h"
#include "webrtc/webrtc.h"

uint16_t tnd_webrtc_sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

void tnd_webrtc_sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

bool tnd_webrtc_sa_ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

bool tnd_webrtc_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return tnd_webrtc_sa_ip_equal(a, b) && tnd_webrtc_sa_port(a) == tnd_webrtc_sa_port(b);
}

void tnd_learn_init(struct tnd_learn *l, const struct tnd_learn_conf *conf)
{
	unsigned alive = conf->alive_ms ? conf->alive_ms : TND_RTPSOCK_ALIVE_MS;

	memset(l, 0, sizeof(*l));
	l->strict = conf->strict;
	l->mux = conf->mux;
	l->probation = conf->probation ? conf->probation : TND_RTPSOCK_PROBATION;
	l->window_us = (int64_t)(conf->window_ms ? conf->window_ms : TND_RTPSOCK_LEARN_WINDOW_MS) *
		       1000;
	l->alive_us[0] = (int64_t)alive * 1000;
	l->alive_us[1] = 3 * l->alive_us[0];
}

/* the window opens with the first SDP address or the first packet */
static void start(struct tnd_learn *l, int64_t now)
{
	if (!l->started) {
		l->started = true;
		l->start_us = now;
	}
}

bool tnd_learn_window_open(const struct tnd_learn *l, int64_t now)
{
	return l->started && now - l->start_us < l->window_us;
}

bool tnd_learn_near(const struct tnd_learn *l, const struct sockaddr_storage *sa)
{
	return (l->sdp_set && tnd_webrtc_sa_ip_equal(sa, &l->sdp[0])) ||
	       (l->sig_set && tnd_webrtc_sa_ip_equal(sa, &l->sig));
}

static int chan(const struct tnd_learn *l, int k)
{
	return l->mux || !k ? 0 : 1;
}

const struct sockaddr_storage *tnd_learn_dst(const struct tnd_learn *l, int k)
{
	k = chan(l, k);
	return l->dst_set[k] ? &l->dst[k] : NULL;
}

bool tnd_learn_alive(const struct tnd_learn *l, int k, int64_t now)
{
	k = chan(l, k);
	return l->heard[k] && now - l->last_us[k] < l->alive_us[k];
}

bool tnd_learn_settled(const struct tnd_learn *l, int k, int64_t now)
{
	k = chan(l, k);
	if (!l->dst_set[k] || !l->heard[k])
		return false;
	/* the RTCP port is only ever learned at the RTP source's IP */
	return k == 1 || tnd_learn_near(l, &l->dst[0]) || !tnd_learn_window_open(l, now);
}

/* RTCP goes to the RTP destination's IP: to a port learned from RTCP at that
 * IP, else the SDP's RTCP address when RTP goes to the SDP address, else the
 * RTP port + 1 (RFC 3550 11). */
static void rtcp_follow(struct tnd_learn *l)
{
	if (l->heard[1] && tnd_webrtc_sa_ip_equal(&l->dst[1], &l->dst[0]))
		return;
	if (l->sdp_set && tnd_webrtc_sa_equal(&l->dst[0], &l->sdp[0])) {
		l->dst[1] = l->sdp[1];
	} else {
		l->dst[1] = l->dst[0];
		tnd_webrtc_sa_set_port(&l->dst[1], (uint16_t)(tnd_webrtc_sa_port(&l->dst[0]) + 1));
	}
	l->dst_set[1] = true;
	l->heard[1] = false;
	l->last_us[1] = 0;
}

static void move_rtp(struct tnd_learn *l, const struct sockaddr_storage *from, int64_t now)
{
	l->dst[0] = *from;
	l->dst_set[0] = l->heard[0] = true;
	l->last_us[0] = now;
	memset(l->probe, 0, sizeof(l->probe));
	if (!l->mux)
		rtcp_follow(l);
}

/* RFC 3550 A.1: the source counts once `probation` packets in a row came
 * with one SSRC and consecutive sequence numbers. */
static bool probe(struct tnd_learn *l, bool near, const struct sockaddr_storage *from,
		  uint32_t ssrc, uint16_t seq)
{
	struct tnd_learn_probe *p = &l->probe[near ? 0 : 1];

	if (p->n && tnd_webrtc_sa_equal(&p->sa, from) && p->ssrc == ssrc && p->next_seq == seq) {
		p->n++;
	} else {
		p->sa = *from;
		p->ssrc = ssrc;
		p->n = 1;
	}
	p->next_seq = (uint16_t)(seq + 1);
	return p->n >= l->probation;
}

enum tnd_learn_verdict tnd_learn_rtp(struct tnd_learn *l, const struct sockaddr_storage *from,
				     uint32_t ssrc, uint16_t seq, int64_t now)
{
	bool near;

	start(l, now);
	if (l->dst_set[0] && tnd_webrtc_sa_equal(from, &l->dst[0])) {
		l->heard[0] = true;
		l->last_us[0] = now;
		return TND_LEARN_ACCEPT;
	}
	/* what signalling says wins, even over a live learned source */
	if (l->sdp_set && tnd_webrtc_sa_equal(from, &l->sdp[0])) {
		move_rtp(l, from, now);
		return TND_LEARN_MOVED;
	}
	near = tnd_learn_near(l, from);
	/* a live source keeps its place, except that the SDP or signalling
	 * IP outranks one learned elsewhere: a stranger who streamed first
	 * must not lock the real peer's NAT port out */
	if (tnd_learn_alive(l, 0, now) && (!near || tnd_learn_near(l, &l->dst[0])))
		return TND_LEARN_FOREIGN;
	if (!near && (l->strict || !tnd_learn_window_open(l, now)))
		return TND_LEARN_FOREIGN;
	if (!probe(l, near, from, ssrc, seq))
		return TND_LEARN_PROBATION;
	move_rtp(l, from, now);
	return TND_LEARN_MOVED;
}

enum tnd_learn_verdict tnd_learn_rtcp(struct tnd_learn *l, bool rtcp_port,
				      const struct sockaddr_storage *from, int64_t now)
{
	start(l, now);
	if (!l->dst_set[0] || !tnd_webrtc_sa_ip_equal(from, &l->dst[0]))
		return TND_LEARN_FOREIGN;
	if (!rtcp_port || l->mux) {
		/* on the RTP port: it proves the RTP source alive, moves nothing */
		if (tnd_webrtc_sa_equal(from, &l->dst[0])) {
			l->heard[0] = true;
			l->last_us[0] = now;
		}
		return TND_LEARN_ACCEPT;
	}
	if (l->dst_set[1] && tnd_webrtc_sa_equal(from, &l->dst[1])) {
		l->heard[1] = true;
		l->last_us[1] = now;
		return TND_LEARN_ACCEPT;
	}
	/* another port at the RTP source's IP. No probation: RTCP has no
	 * sequence number to check, comes every ~5 s, and its IP is already
	 * the proven RTP source's. */
	if (tnd_learn_alive(l, 1, now))
		return TND_LEARN_FOREIGN;
	l->dst[1] = *from;
	l->dst_set[1] = l->heard[1] = true;
	l->last_us[1] = now;
	return TND_LEARN_MOVED;
}

/* back to the SDP's addresses (none before an SDP), nothing heard */
static void to_sdp(struct tnd_learn *l)
{
	for (int k = 0; k < 2; k++) {
		l->dst[k] = l->sdp[k];
		l->dst_set[k] = l->sdp_set;
		l->heard[k] = false;
		l->last_us[k] = 0;
	}
	memset(l->probe, 0, sizeof(l->probe));
}

bool tnd_learn_set_sdp(struct tnd_learn *l, const struct sockaddr_storage *rtp,
		       const struct sockaddr_storage *rtcp, int64_t now)
{
	if (l->sdp_set && tnd_webrtc_sa_equal(rtp, &l->sdp[0]) &&
	    tnd_webrtc_sa_equal(rtcp, &l->sdp[1]))
		return false;
	l->sdp_set = true;
	l->sdp[0] = *rtp;
	l->sdp[1] = *rtcp;
	to_sdp(l);
	l->started = true;
	l->start_us = now;
	return true;
}

bool tnd_learn_set_signal(struct tnd_learn *l, const struct sockaddr_storage *ip)
{
	l->sig = *ip;
	l->sig_set = true;
	/* strict: a source learned at the old signalling IP is off limits now */
	if (l->strict && l->dst_set[0] && !tnd_learn_near(l, &l->dst[0])) {
		to_sdp(l);
		return true;
	}
	return false;
}
