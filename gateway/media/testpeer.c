/* Built-in test destinations (issue 12 item 4): a stand-in for the far end
 * of a call's SIP leg, so a newcomer has something to call. It is a plain
 * RTP socket on the media address that the call's bridge sends to like any
 * SIP phone, which keeps the bridge, its streams and the browser leg
 * exactly as in a real call:
 * - echo sends back every RTP packet 200 ms after it came, under its own
 *   SSRC, sequence numbers and timestamps (RFC 3550 section 5.1: a new
 *   source numbers its own packets);
 * - tone sends 1 kHz for 5 s, then ring-back (440 + 480 Hz, 2 s on, 4 s
 *   off, as ITU-T E.180 lists for North America), encoded through codecs/
 *   in the call's codec at 20 ms a packet;
 * - dtmf reads back the digits it gets as RFC 4733 telephone-events: each
 *   digit, once, plays back 100 ms later as its in-band tone pair (ITU-T
 *   Q.23 frequencies, encoded in the call's codec, silence between) and as
 *   RFC 4733 events of the same 100 ms on the audio's clock and SSRC, so
 *   the caller both hears it and gets it as a digit.
 * Threads: made on the signalling thread (socket bound, encoder made at
 * negotiation); from then on its socket source and 10 ms clock run on one
 * media worker, which owns every field marked OWNER: worker. The signalling
 * thread only asks it to stop (tnd_testpeer_close), through that worker's
 * queue, so no callback can run on freed memory. No allocation per packet. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "webrtc/webrtc.h"

#define ECHO_DELAY_US 200000
#define ECHO_SLOTS 64          /* 200 ms of 5 ms packets, or 1.28 s of 20 ms ones */
#define PKT_MAX 1500
#define TONE_FRAME_MS 20
#define TONE_FIRST_MS 5000     /* 1 kHz, then ring-back */
#define CLOCK_MS 10
#define CATCH_UP_MAX 10        /* frames sent at once after a stalled worker */
#define DIGIT_FRAMES 5         /* 100 ms of tone a digit read back */
#define GAP_FRAMES 5           /* 100 ms of silence after it */
#define DIGITS_MAX 32          /* digits queued; more are dropped */

struct slot {
	gint64 due_us;
	size_t len;
	uint8_t buf[PKT_MAX];
};

struct tnd_testpeer {
	struct tnd_obj obj;
	enum tnd_testpeer_kind kind;
	struct tnd_loop *worker;          /* borrowed: where the sources run */
	int fd;                           /* owned */
	GSource *io, *clock;              /* owned; OWNER: worker */
	struct sockaddr_storage peer;     /* the bridge's SIP-leg socket */
	socklen_t peer_len;
	uint32_t ssrc;                    /* OWNER: worker, with the rest */
	uint16_t seq;
	uint32_t ts;
	/* echo */
	struct slot *ring;                /* owned: ECHO_SLOTS */
	unsigned head, count;
	bool ts_set;
	uint32_t in_ts0, out_ts0;
	/* tone */
	struct tnd_codec_enc *enc;        /* owned */
	uint8_t pt;
	unsigned rate;                    /* the encoder's PCM rate */
	uint32_t ts_step;                 /* RTP units per frame */
	gint64 start_us;
	uint64_t frames;
	double ph1, ph2;                  /* oscillator phases, radians */
	/* dtmf */
	int te_pt;                        /* telephone-event PT, or -1 */
	uint32_t te_clock;
	int te_pt_set;                    /* OWNER: signalling; staged by set_te */
	uint32_t te_clock_set;
	struct tnd_dtmf_rx rx;
	char digits[DIGITS_MAX];          /* ring of digits to read back */
	unsigned d_head, d_count;
	char playing;                     /* the digit on the air, or 0 */
	unsigned play_frames;             /* frames of it (tone, then gap) sent */
	struct tnd_dtmf_tx tx;
	bool tx_on;
};

static void testpeer_destroy(void *data)
{
	struct tnd_testpeer *tp = data;

	/* tnd_testpeer_close ran on the worker first, unless start never did */
	if (tp->io) {
		g_source_destroy(tp->io);
		g_source_unref(tp->io);
	}
	if (tp->clock) {
		g_source_destroy(tp->clock);
		g_source_unref(tp->clock);
	}
	if (tp->fd >= 0)
		close(tp->fd);
	tnd_codec_enc_free(tp->enc);
	free(tp->ring);
}

static void send_rtp(struct tnd_testpeer *tp, uint8_t *pkt, size_t len)
{
	if (sendto(tp->fd, pkt, len, 0, (struct sockaddr *)&tp->peer, tp->peer_len) < 0)
		TND_LOG_RL(TND_LOG_MEDIA, DEBUG, "test destination: send: %s", strerror(errno));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Worker: the receiver saw a digit begin: it is queued to be read back
 * (once, however many packets and end packets it came in). */
static void on_digit(const struct tnd_dtmf_digit *d, void *arg)
{
	struct tnd_testpeer *tp = arg;

	if (d->end || tp->d_count == DIGITS_MAX)
		return;
	tp->digits[(tp->d_head + tp->d_count) % DIGITS_MAX] = d->digit;
	tp->d_count++;
}

/* Worker: an RTP packet for the dtmf destination; telephone-events go to
 * the receiver, audio is dropped. Bad headers are dropped too. */
static void dtmf_packet(struct tnd_testpeer *tp, const uint8_t *p, size_t len)
{
	struct tnd_rtp_hdr h;

	if (tp->te_pt < 0 || tnd_rtp_parse(p, len, &h) || h.pt != tp->te_pt)
		return;
	(void)tnd_dtmf_rx_packet(&tp->rx, p + h.payload_off, h.payload_len, h.ts, h.seq,
				 h.marker);
}

/* Worker: one packet from the bridge. RTCP (PT 72-76 with the marker bit
 * folded in, RFC 5761 section 4) and anything not RTP version 2 is read
 * and dropped; echo keeps RTP for its delay line. */
static void on_packet(struct tnd_testpeer *tp, const uint8_t *p, size_t len, gint64 now)
{
	struct slot *s;
	uint8_t pt = p[1] & 0x7f;

	if (len < 12 || (p[0] >> 6) != 2 || (pt >= 72 && pt <= 76))
		return;
	if (tp->kind == TND_TESTPEER_DTMF) {
		dtmf_packet(tp, p, len);
		return;
	}
	if (tp->kind != TND_TESTPEER_ECHO)
		return;
	if (tp->count == ECHO_SLOTS) {
		/* full: the oldest goes, as a late packet would */
		tp->head = (tp->head + 1) % ECHO_SLOTS;
		tp->count--;
	}
	s = &tp->ring[(tp->head + tp->count) % ECHO_SLOTS];
	memcpy(s->buf, p, len);
	s->len = len;
	s->due_us = now + ECHO_DELAY_US;
	tp->count++;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct tnd_testpeer *tp = data;
	uint8_t buf[PKT_MAX];
	gint64 now = g_get_monotonic_time();

	(void)cond;
	for (int i = 0; i < 64; i++) {   /* bounded: the clock must run too */
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		on_packet(tp, buf, (size_t)n, now);
	}
	return G_SOURCE_CONTINUE;
}

/* Worker: the echo's due packets, renumbered as our own stream; the
 * timestamps keep the sender's spacing from our own base. */
static void echo_due(struct tnd_testpeer *tp, gint64 now)
{
	while (tp->count && tp->ring[tp->head].due_us <= now) {
		struct slot *s = &tp->ring[tp->head];
		uint32_t in_ts = get32(s->buf + 4);

		if (!tp->ts_set) {
			tp->in_ts0 = in_ts;
			tp->out_ts0 = tp->ts;
			tp->ts_set = true;
		}
		s->buf[2] = (uint8_t)(tp->seq >> 8);
		s->buf[3] = (uint8_t)tp->seq;
		tp->seq++;
		put32(s->buf + 4, tp->out_ts0 + (in_ts - tp->in_ts0));
		put32(s->buf + 8, tp->ssrc);
		send_rtp(tp, s->buf, s->len);
		tp->head = (tp->head + 1) % ECHO_SLOTS;
		tp->count--;
	}
}

/* The tone's samples for one frame starting at ms into the call. */
static void tone_fill(struct tnd_testpeer *tp, int16_t *pcm, size_t n, uint64_t ms)
{
	bool first = ms < TONE_FIRST_MS;
	bool ring_on = !first && (ms - TONE_FIRST_MS) % 6000 < 2000;
	double w1 = 2 * M_PI * (first ? 1000.0 : 440.0) / tp->rate;
	double w2 = 2 * M_PI * 480.0 / tp->rate;

	for (size_t i = 0; i < n; i++) {
		double v = first ? 0.5 * sin(tp->ph1) :
			   ring_on ? 0.25 * sin(tp->ph1) + 0.25 * sin(tp->ph2) : 0.0;

		pcm[i] = (int16_t)lrint(v * 32767.0);
		tp->ph1 = fmod(tp->ph1 + w1, 2 * M_PI);
		tp->ph2 = fmod(tp->ph2 + w2, 2 * M_PI);
	}
}

/* ITU-T Q.23: a digit's row (low) and column (high) frequencies. */
static bool dtmf_freqs(char digit, double *lo, double *hi)
{
	static const char keys[] = "123A456B789C*0#D";
	static const double rows[] = { 697, 770, 852, 941 }, cols[] = { 1209, 1336, 1477, 1633 };
	const char *k = digit ? strchr(keys, digit) : NULL;

	if (!k)
		return false;
	*lo = rows[(k - keys) / 4];
	*hi = cols[(k - keys) % 4];
	return true;
}

/* The dtmf destination's frame: the digit on the air (each tone at -7 dBFS
 * or so), or silence; the next queued digit starts when the last one's gap
 * is over, with its RFC 4733 events. */
static void dtmf_fill(struct tnd_testpeer *tp, int16_t *pcm, size_t n)
{
	double lo, hi;

	if (!tp->playing && tp->d_count) {
		tp->playing = tp->digits[tp->d_head];
		tp->d_head = (tp->d_head + 1) % DIGITS_MAX;
		tp->d_count--;
		tp->play_frames = 0;
		tp->tx_on = tp->te_pt >= 0 &&
			    !tnd_dtmf_tx_start(&tp->tx, tp->playing, DIGIT_FRAMES * TONE_FRAME_MS, 10,
					       tp->te_clock, TONE_FRAME_MS, tp->ts);
	}
	if (!tp->playing || tp->play_frames >= DIGIT_FRAMES || !dtmf_freqs(tp->playing, &lo, &hi)) {
		memset(pcm, 0, n * sizeof(*pcm));
	} else {
		double w1 = 2 * M_PI * lo / tp->rate, w2 = 2 * M_PI * hi / tp->rate;

		for (size_t i = 0; i < n; i++) {
			pcm[i] = (int16_t)lrint((0.22 * sin(tp->ph1) + 0.22 * sin(tp->ph2)) * 32767.0);
			tp->ph1 = fmod(tp->ph1 + w1, 2 * M_PI);
			tp->ph2 = fmod(tp->ph2 + w2, 2 * M_PI);
		}
	}
	if (tp->playing && ++tp->play_frames >= DIGIT_FRAMES + GAP_FRAMES)
		tp->playing = 0;
}

static void put_header(struct tnd_testpeer *tp, uint8_t *pkt, uint8_t pt, bool marker,
		       uint32_t ts)
{
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	pkt[2] = (uint8_t)(tp->seq >> 8);
	pkt[3] = (uint8_t)tp->seq;
	put32(pkt + 4, ts);
	put32(pkt + 8, tp->ssrc);
	tp->seq++;
}

/* The dtmf destination's telephone-event packet of this frame, if any. */
static void dtmf_event(struct tnd_testpeer *tp)
{
	uint8_t pkt[12 + TND_DTMF_EV_SIZE];
	struct tnd_dtmf_pkt ev;

	if (!tp->tx_on)
		return;
	if (!tnd_dtmf_tx_next(&tp->tx, &ev)) {
		tp->tx_on = false;
		return;
	}
	put_header(tp, pkt, (uint8_t)tp->te_pt, ev.marker, ev.ts);
	memcpy(pkt + 12, ev.payload, TND_DTMF_EV_SIZE);
	send_rtp(tp, pkt, sizeof(pkt));
}

static void tone_frame(struct tnd_testpeer *tp)
{
	int16_t pcm[TND_CODEC_MAX_SAMPLES];
	uint8_t pkt[12 + TND_CODEC_MAX_PAYLOAD];
	size_t n = tp->rate * TONE_FRAME_MS / 1000, len = 0;
	int err;

	if (tp->kind == TND_TESTPEER_DTMF)
		dtmf_fill(tp, pcm, n);
	else
		tone_fill(tp, pcm, n, tp->frames * TONE_FRAME_MS);
	err = tnd_codec_encode(tp->enc, pcm, n, pkt + 12, TND_CODEC_MAX_PAYLOAD, &len);
	if (!err && len) {
		put_header(tp, pkt, tp->pt, tp->frames == 0, tp->ts);   /* marker: talkspurt */
		send_rtp(tp, pkt, 12 + len);
	}
	if (tp->kind == TND_TESTPEER_DTMF)
		dtmf_event(tp);
	tp->ts += tp->ts_step;
	tp->frames++;
}

static gboolean on_clock(gpointer data)
{
	struct tnd_testpeer *tp = data;
	gint64 now = g_get_monotonic_time();

	if (tp->kind == TND_TESTPEER_ECHO) {
		echo_due(tp, now);
		return G_SOURCE_CONTINUE;
	}
	/* paced by the clock, not by the timer's ticks, which slip under load */
	for (int i = 0; i < CATCH_UP_MAX &&
	     (gint64)(tp->frames * TONE_FRAME_MS * 1000) <= now - tp->start_us; i++)
		tone_frame(tp);
	if ((gint64)(tp->frames * TONE_FRAME_MS * 1000) <= now - tp->start_us)
		tp->frames = (uint64_t)((now - tp->start_us) / (TONE_FRAME_MS * 1000));
	return G_SOURCE_CONTINUE;
}

/* Worker: the sources start on the context that will run them. */
static void start_on_worker(void *obj)
{
	struct tnd_testpeer *tp = obj;
	GMainContext *ctx = tnd_loop_context(tp->worker);

	if (tp->fd < 0 || tp->io)
		return;
	tp->start_us = g_get_monotonic_time();
	tp->io = g_unix_fd_source_new(tp->fd, G_IO_IN);
	g_source_set_callback(tp->io, (GSourceFunc)(void (*)(void))on_readable, tp, NULL);
	g_source_attach(tp->io, ctx);
	tp->clock = g_timeout_source_new(CLOCK_MS);
	g_source_set_callback(tp->clock, on_clock, tp, NULL);
	g_source_attach(tp->clock, ctx);
}

static void stop_on_worker(void *obj)
{
	struct tnd_testpeer *tp = obj;

	if (tp->io) {
		g_source_destroy(tp->io);
		g_source_unref(tp->io);
		tp->io = NULL;
	}
	if (tp->clock) {
		g_source_destroy(tp->clock);
		g_source_unref(tp->clock);
		tp->clock = NULL;
	}
}

/* A socket on addr, any port, and the bridge's address to send to. */
static int open_socket(struct tnd_testpeer *tp, const char *addr, uint16_t peer_port,
		       uint16_t *portp)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	bool v6 = strchr(addr, ':') != NULL;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
			return EINVAL;
		sl = sizeof(*in6);
	} else {
		in4->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &in4->sin_addr) != 1)
			return EINVAL;
		sl = sizeof(*in4);
	}
	tp->peer = ss;
	tp->peer_len = sl;
	if (v6)
		((struct sockaddr_in6 *)&tp->peer)->sin6_port = htons(peer_port);
	else
		((struct sockaddr_in *)&tp->peer)->sin_port = htons(peer_port);
	tp->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (tp->fd < 0)
		return errno;
	if (bind(tp->fd, (struct sockaddr *)&ss, sl) || getsockname(tp->fd, (struct sockaddr *)&ss, &sl))
		return errno;
	*portp = ntohs(v6 ? in6->sin6_port : in4->sin_port);
	return 0;
}

static int make_encoder(struct tnd_testpeer *tp, const char *codec, uint32_t clock)
{
	const struct tnd_codec *c = tnd_codec_find(codec, clock, 0);
	struct tnd_codec_params p;
	int err;

	if (!c)
		return ENOTSUP;
	memset(&p, 0, sizeof(p));
	err = tnd_codec_enc_alloc(&tp->enc, c, &p);
	if (err)
		return err;
	tp->rate = tnd_codec_enc_rate(tp->enc);
	tp->ts_step = tnd_codec_ts_units(c, TONE_FRAME_MS);
	return 0;
}

/* Worker: telephone-event from now on (set_te's values, staged). */
static void te_on_worker(void *obj)
{
	struct tnd_testpeer *tp = obj;

	tp->te_pt = tp->te_pt_set;
	tp->te_clock = tp->te_clock_set;
	tnd_dtmf_rx_reset(&tp->rx);
}

int tnd_testpeer_set_te(struct tnd_testpeer *tp, uint8_t te_pt, uint32_t te_clock)
{
	int err;

	if (!tp || te_pt > 127 || tp->te_pt_set >= 0)
		return EINVAL;
	/* the receiver is set up here, before the worker can look at it */
	err = tnd_dtmf_rx_init(&tp->rx, te_clock, on_digit, tp);
	if (err)
		return err;
	tp->te_pt_set = te_pt;
	tp->te_clock_set = te_clock;
	return tnd_loop_call(tp->worker, te_on_worker, tp);
}

int tnd_testpeer_alloc(struct tnd_testpeer **tpp, struct tnd_loop *worker,
		       enum tnd_testpeer_kind kind, const char *addr, uint16_t peer_port,
		       const char *codec, uint32_t clock, uint8_t pt, uint16_t *portp)
{
	struct tnd_testpeer *tp;
	int err;

	if (!tpp || !worker || !addr || !peer_port || !portp ||
	    (kind != TND_TESTPEER_ECHO && !codec))
		return EINVAL;
	tp = tnd_obj_zalloc(sizeof(*tp), testpeer_destroy);
	if (!tp)
		return ENOMEM;
	tp->fd = -1;
	tp->kind = kind;
	tp->worker = worker;
	tp->pt = pt & 0x7f;
	tp->ssrc = g_random_int();
	tp->seq = (uint16_t)g_random_int();
	tp->ts = g_random_int();
	tp->te_pt = tp->te_pt_set = -1;
	if (kind == TND_TESTPEER_ECHO)
		err = (tp->ring = calloc(ECHO_SLOTS, sizeof(*tp->ring))) ? 0 : ENOMEM;
	else
		err = make_encoder(tp, codec, clock);
	if (!err)
		err = open_socket(tp, addr, peer_port, portp);
	if (!err)
		err = tnd_loop_call(worker, start_on_worker, tp);
	if (err)
		tnd_obj_put(tp);
	else
		*tpp = tp;
	return err;
}

void tnd_testpeer_close(struct tnd_testpeer *tp)
{
	if (tp)
		(void)tnd_loop_call(tp->worker, stop_on_worker, tp);
}
