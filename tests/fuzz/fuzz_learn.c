/* libFuzzer target: SIP-leg source learning (webrtc/learn.c) driven by a
 * script of events, each datagram classified and parsed as rtpsock.c does.
 *
 * Input: one configuration byte (bit 0 strict, bit 1 rtcp-mux, bits 2-4
 * probation, bits 5-7 scale the window and liveness), then events of
 * [op][time step in 16 ms units][...]. op bits 0-2 pick one of eight
 * addresses, bits 3-4 the kind: 0 a datagram on the RTP port, 1 on the RTCP
 * port ([length][bytes]), 2 the SDP's addresses (RTCP at port + 1), 3 the
 * signalling IP.
 *
 * Invariants checked after every event (abort() on a breach): strict mode
 * only ever sends to the SDP or signalling IP; RTCP goes to the RTP
 * destination's IP and is accepted only from it; an accepted packet's
 * source is its channel's destination; another IP is learned only within
 * the window; a live source is replaced only by the SDP address, or by the
 * SDP or signalling IP when it is on another IP; refused
 * packets change no destination; an identical SDP changes nothing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/learn_int.h"
#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_ADDR 8

/* SDP-ish host with a few ports, a signalling host, two strangers and an
 * IPv6 host (a family mismatch must compare unequal, not crash) */
static const struct {
	const char *ip;
	uint16_t port;
} addrs[N_ADDR] = {
	{ "10.0.0.1", 4000 }, { "10.0.0.1", 4001 }, { "10.0.0.1", 5000 },
	{ "10.0.0.9", 6000 }, { "192.0.2.66", 4000 }, { "192.0.2.66", 4001 },
	{ "198.51.100.7", 7000 }, { "2001:db8::1", 4000 },
};

static void make_addr(int i, uint16_t port_off, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addrs[i].ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)(addrs[i].port + port_off));
	} else if (inet_pton(AF_INET6, addrs[i].ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)(addrs[i].port + port_off));
	} else {
		abort();
	}
}

struct snap {
	bool set[2];
	struct sockaddr_storage dst[2];
};

static void snapshot(const struct tnd_learn *l, struct snap *s)
{
	for (int k = 0; k < 2; k++) {
		const struct sockaddr_storage *d = tnd_learn_dst(l, k);

		s->set[k] = d != NULL;
		if (d)
			s->dst[k] = *d;
	}
}

static bool same_snap(const struct snap *a, const struct snap *b)
{
	for (int k = 0; k < 2; k++)
		if (a->set[k] != b->set[k] ||
		    (a->set[k] && !tnd_webrtc_sa_equal(&a->dst[k], &b->dst[k])))
			return false;
	return true;
}

static void check_state(const struct tnd_learn *l)
{
	const struct sockaddr_storage *d0 = tnd_learn_dst(l, 0), *d1 = tnd_learn_dst(l, 1);

	if (l->strict && d0 && !tnd_learn_near(l, d0))
		abort();
	if (d1 && (!d0 || !tnd_webrtc_sa_ip_equal(d0, d1)))
		abort();
}

/* One datagram as rtpsock.c's handle() sees it, then the invariants. */
static void datagram(struct tnd_learn *l, bool rtcp_port, const struct sockaddr_storage *from,
		     const uint8_t *pkt, size_t n, int64_t now)
{
	uint8_t buf[256];
	struct tnd_rtp_hdr h;
	enum tnd_demux d = tnd_demux_classify(pkt, n);
	enum tnd_learn_verdict v;
	struct snap before, after;
	/* the first packet opens the window */
	bool alive = tnd_learn_alive(l, 0, now);
	bool dst_near = tnd_learn_dst(l, 0) && tnd_learn_near(l, tnd_learn_dst(l, 0));
	bool window = !l->started || tnd_learn_window_open(l, now);
	bool from_sdp = l->sdp_set && tnd_webrtc_sa_equal(from, &l->sdp[0]);
	bool rtcp;
	int k;

	memcpy(buf, pkt, n);
	if (d == TND_DEMUX_RTP && !rtcp_port && !tnd_rtp_parse(buf, n, &h))
		rtcp = false;
	else if (d == TND_DEMUX_RTCP && !tnd_rtcp_parse(buf, n, NULL, NULL))
		rtcp = true;
	else
		return;
	snapshot(l, &before);
	v = rtcp ? tnd_learn_rtcp(l, rtcp_port, from, now) :
		   tnd_learn_rtp(l, from, h.ssrc, h.seq, now);
	snapshot(l, &after);
	k = rtcp && rtcp_port && !l->mux ? 1 : 0;
	if ((v == TND_LEARN_FOREIGN || v == TND_LEARN_PROBATION) && !same_snap(&before, &after))
		abort();
	if (v == TND_LEARN_ACCEPT && !same_snap(&before, &after))
		abort();
	if (v == TND_LEARN_ACCEPT || v == TND_LEARN_MOVED) {
		if (rtcp && !tnd_webrtc_sa_ip_equal(from, tnd_learn_dst(l, 0)))
			abort();
		if ((!rtcp || k == 1) && v == TND_LEARN_MOVED &&
		    !tnd_webrtc_sa_equal(from, tnd_learn_dst(l, k)))
			abort();
		if (!rtcp && !tnd_webrtc_sa_equal(from, tnd_learn_dst(l, 0)))
			abort();
	}
	if (v == TND_LEARN_MOVED && rtcp && k == 0)
		abort();   /* RTCP never moves the RTP destination */
	if (v == TND_LEARN_MOVED && !rtcp && !from_sdp) {
		if (alive && (dst_near || !tnd_learn_near(l, from)))
			abort();
		if (!tnd_learn_near(l, from) && (l->strict || !window))
			abort();
	}
	if (v == TND_LEARN_PROBATION && (rtcp || l->probation < 2))
		abort();
	check_state(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_learn l;
	struct tnd_learn_conf conf;
	int64_t now = 1000000;   /* monotonic clocks do not start at 0 */
	size_t i = 1;

	if (!size)
		return 0;
	memset(&conf, 0, sizeof(conf));
	conf.strict = data[0] & 1;
	conf.mux = data[0] & 2;
	conf.probation = (data[0] >> 2) & 7;
	conf.window_ms = conf.alive_ms = (unsigned)(data[0] >> 5) * 700;
	tnd_learn_init(&l, &conf);
	while (i + 2 <= size) {
		uint8_t op = data[i], kind = (op >> 3) & 3;
		struct sockaddr_storage a, b;
		struct snap before, after;

		now += (int64_t)data[i + 1] * 16000;
		i += 2;
		make_addr(op & 7, 0, &a);
		switch (kind) {
		case 0:
		case 1: {
			size_t n = i < size ? data[i++] : 0;

			if (n > size - i)
				n = size - i;
			datagram(&l, kind == 1, &a, data + i, n, now);
			i += n;
			break;
		}
		case 2:
			make_addr(op & 7, 1, &b);
			snapshot(&l, &before);
			if (!tnd_learn_set_sdp(&l, &a, &b, now)) {
				snapshot(&l, &after);
				if (!same_snap(&before, &after))
					abort();
			} else if (!tnd_webrtc_sa_equal(tnd_learn_dst(&l, 0), &a)) {
				abort();
			}
			check_state(&l);
			break;
		default:
			tnd_learn_set_signal(&l, &a);
			check_state(&l);
			break;
		}
	}
	return 0;
}
