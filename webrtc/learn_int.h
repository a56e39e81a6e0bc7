/* Private to webrtc/ (rtpsock.c), its unit tests and tests/fuzz/fuzz_learn.c:
 * where a SIP leg's plain RTP may come from, and where ours goes.
 *
 * A pure state machine: no sockets, clocks, locks or allocation; the caller
 * passes the time in (monotonic microseconds) and reads the destinations
 * back. The rules are those of struct tnd_rtpsock in webrtc/webrtc.h. Channel
 * 0 is RTP (and RTCP with rtcp-mux), channel 1 the separate RTCP port. Single
 * owner: embedded in its tnd_rtpsock; OWNER: worker. */
#ifndef TND_WEBRTC_LEARN_INT_H
#define TND_WEBRTC_LEARN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Zero fields take the defaults documented at struct tnd_rtpsock_conf. */
struct tnd_learn_conf {
	bool strict;
	bool mux;                  /* RTCP shares the RTP port (RFC 5761) */
	unsigned probation;
	unsigned window_ms;
	unsigned alive_ms;
};

enum tnd_learn_verdict {
	TND_LEARN_ACCEPT,          /* from the destination: deliver */
	TND_LEARN_MOVED,           /* deliver; the channel's destination is now `from` */
	TND_LEARN_PROBATION,       /* a candidate source, not yet proven: drop */
	TND_LEARN_FOREIGN,         /* refused: drop */
};

/* A source on probation (RFC 3550 A.1): same address, one SSRC, sequence
 * numbers one apart. */
struct tnd_learn_probe {
	struct sockaddr_storage sa;
	uint32_t ssrc;
	uint16_t next_seq;
	unsigned n;                /* in-sequence packets so far; 0: slot free */
};

struct tnd_learn {
	bool strict, mux;
	unsigned probation;
	int64_t window_us, alive_us[2];
	bool sdp_set, sig_set;
	struct sockaddr_storage sdp[2];  /* the SDP's RTP and RTCP addresses */
	struct sockaddr_storage sig;     /* signalling source: its IP only counts */
	bool started;                    /* the learning window is running */
	int64_t start_us;
	bool dst_set[2];
	bool heard[2];                   /* a packet came from dst[k] */
	struct sockaddr_storage dst[2];  /* where we send */
	int64_t last_us[2];              /* last packet from dst[k] */
	/* [0] for other ports of the SDP or signalling IP, [1] for other IPs,
	 * so a stranger's packets cannot keep resetting a NAT port change */
	struct tnd_learn_probe probe[2];
};

void tnd_learn_init(struct tnd_learn *l, const struct tnd_learn_conf *conf);
/* The SDP's addresses (same family). Identical to the last ones: nothing
 * changes and false comes back (a 200 repeating the 183's SDP). Else
 * learning starts afresh for them, the window from now, and true. */
bool tnd_learn_set_sdp(struct tnd_learn *l, const struct sockaddr_storage *rtp,
		       const struct sockaddr_storage *rtcp, int64_t now_us);
/* The IP (port ignored) the SIP signalling came from. True when, in strict
 * mode, a source learned at the previous one lost its place (back to the
 * SDP's addresses); else nothing else changes. */
bool tnd_learn_set_signal(struct tnd_learn *l, const struct sockaddr_storage *ip);
/* A valid RTP packet from `from` on the RTP port. */
enum tnd_learn_verdict tnd_learn_rtp(struct tnd_learn *l, const struct sockaddr_storage *from,
				     uint32_t ssrc, uint16_t seq, int64_t now_us);
/* A valid RTCP compound from `from`, on the RTCP port or (rtcp_port false)
 * on the RTP port. Never moves channel 0. */
enum tnd_learn_verdict tnd_learn_rtcp(struct tnd_learn *l, bool rtcp_port,
				      const struct sockaddr_storage *from, int64_t now_us);
/* Where channel k sends, or NULL. With mux, channel 1 is channel 0. */
const struct sockaddr_storage *tnd_learn_dst(const struct tnd_learn *l, int k);
/* Channel k's destination was heard from within alive_ms (RTCP: 3 times
 * that, it reports only every ~5 s, RFC 3550 6.2). */
bool tnd_learn_alive(const struct tnd_learn *l, int k, int64_t now_us);
/* Channel k's destination is final enough to connect() to: heard from, and
 * (RTP) on the SDP or signalling IP or past the learning window. */
bool tnd_learn_settled(const struct tnd_learn *l, int k, int64_t now_us);
/* The learning window is open: a source on another IP may still be learned
 * (never in strict mode). */
bool tnd_learn_window_open(const struct tnd_learn *l, int64_t now_us);
/* The IP is the SDP's or the signalling source's. */
bool tnd_learn_near(const struct tnd_learn *l, const struct sockaddr_storage *sa);

/* Address helpers shared by rtpsock.c, direct.c and the tests: same family,
 * address and port; same family and address; the port; a new port. */
bool tnd_webrtc_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool tnd_webrtc_sa_ip_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
uint16_t tnd_webrtc_sa_port(const struct sockaddr_storage *ss);
void tnd_webrtc_sa_set_port(struct sockaddr_storage *ss, uint16_t port);

#endif
