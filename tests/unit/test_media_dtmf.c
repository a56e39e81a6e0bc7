/* gateway/media/dtmf_media.c at signal level, without sockets: a bridge
 * whose two legs are fakes that keep what is sent on them, its worker and
 * signalling loop both the test thread's. Packets go through the real
 * pass-through handler (fwd.c), so the hooks are tested where they sit.
 * Asserts on the packets that leave (payload types, timestamps, durations
 * in the target clock, sequence numbers one apart), on the tones decoded
 * from them (spandsp's detector via codecs/), and on the digits reported:
 * each once, in order. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"
#include "gateway/media/media.h"
#include "tests/unit/runner.h"
#include "webrtc/webrtc.h"

#define MAX_SENT 400

struct sent {
	uint8_t pkt[MAX_SENT][200];
	size_t len[MAX_SENT];
	unsigned n;
};

static struct sent sent[2];          /* per leg */
static char digits[32];              /* reported: digit, then r(fc4733) i(nfo) (in)b(and),
				      * upper case from leg A */
static unsigned n_digits;
static unsigned last_ms;

static int fake_send(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	struct sent *s = obj;

	(void)cap;
	if (s->n < MAX_SENT && len <= sizeof(s->pkt[0])) {
		memcpy(s->pkt[s->n], pkt, len);
		s->len[s->n++] = len;
	}
	return 0;
}

static bool fake_up(const void *obj)
{
	(void)obj;
	return true;
}

static const struct tnd_leg_ops fake_ops = { "fake", fake_send, fake_send, fake_up, NULL };

static void ev_dtmf(void *arg, unsigned side, char digit, unsigned ms,
		    enum tnd_bridge_dtmf_src src)
{
	(void)arg;
	if (n_digits + 3 < sizeof(digits)) {
		digits[n_digits++] = digit;
		digits[n_digits++] = (char)("rib"[src] - (side ? 0 : 32));
		digits[n_digits] = '\0';
	}
	last_ms = ms;
}

static const struct tnd_bridge_events events = { .dtmf = ev_dtmf };

/* The test's own detector on what left toward SIP. */
static void det_digit(const struct tnd_dtmf_digit *dg, void *arg)
{
	(void)arg;
	if (dg->end && n_digits + 3 < sizeof(digits)) {
		digits[n_digits++] = dg->digit;
		digits[n_digits++] = 't';
		digits[n_digits] = '\0';
	}
}

struct fx {
	struct tnd_loop *loop;
	struct tnd_bridge *br;
};

static void spin(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
}

/* A bridge with PCMU on both legs, and `d` as its DTMF. */
static int fx_up(struct fx *f, const struct tnd_bridge_dtmf *d)
{
	const struct tnd_mdir_pt pcmu = { 0, 0, 8000 };

	memset(sent, 0, sizeof(sent));
	digits[0] = '\0';
	n_digits = 0;
	if (tnd_loop_alloc(&f->loop, "signal", 0))
		return 1;
	f->br = tnd_obj_zalloc(sizeof(*f->br), NULL);
	if (!f->br)
		return 1;
	f->br->worker = f->br->signal = f->loop;
	f->br->ev = &events;
	f->br->stats = tnd_stats_slab(1);   /* fwd.c counts into the worker's slab */
	for (unsigned i = 0; i < 2; i++) {
		f->br->leg[i].br = f->br;
		f->br->leg[i].ops = &fake_ops;
		f->br->leg[i].obj = &sent[i];
		f->br->leg[i].side = (uint8_t)i;
		f->br->dir[i].handler = tnd_bridge_fwd_pass;
		f->br->dir[i].out = &f->br->leg[!i];
		tnd_mdir_init(&f->br->dir[i], 0x1000u + i, (uint16_t)(100 * i + 7), 90000u * i);
		tnd_mdir_set_pts(&f->br->dir[i], &pcmu, 1);
	}
	if (tnd_bridge_dtmf(f->br, d))
		return 1;
	spin(5);
	return f->br->dtmf ? 0 : 1;
}

static void fx_down(struct fx *f)
{
	tnd_mdtmf_free(f->br);
	spin(5);
	f->br = tnd_obj_put(f->br);
	tnd_loop_free(f->loop);
}

/* One packet into direction `dir` (arriving on leg dir). */
static void in(struct fx *f, unsigned dir, uint8_t pt, uint16_t seq, uint32_t ts, bool marker,
	       const uint8_t *payload, size_t plen, int64_t now)
{
	uint8_t pkt[TND_POLL_BUF_SIZE];

	memset(pkt, 0, 12);
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	tnd_rtp_set_seq(pkt, seq);
	tnd_rtp_set_ts(pkt, ts);
	tnd_rtp_set_ssrc(pkt, 0xabc0u + dir);
	memcpy(pkt + 12, payload, plen);
	f->br->dir[dir].handler(&f->br->dir[dir], pkt, 12 + plen, sizeof(pkt), now);
}

static void silence(uint8_t *p)
{
	memset(p, 0xFF, 160);
}

/* telephone-event/48000 from the browser (PT 110) to /8000 on SIP (PT 101):
 * one event's packets keep one timestamp, which is the SIP stream's
 * position when the event began; durations are divided by 6; the digit is
 * reported once although its end packet came three times. */
static int test_relay_48k_to_8k(void)
{
	const struct tnd_bridge_dtmf d = { .webrtc_pt = 110, .webrtc_clock = 48000, .sip_pt = 101,
		.sip_clock = 8000, .relay_to_sip = true, .relay_to_webrtc = true,
		.sip_audio_pt = 0, .sip_audio = "PCMU" };
	uint8_t audio[160], ev[4] = { 5, 10, 0, 0 };
	uint32_t out_ts, audio_ts;
	struct fx f;
	uint16_t seq = 500;
	int64_t now = 1000000;

	TEST_ASSERT(fx_up(&f, &d) == 0);
	silence(audio);
	for (int i = 0; i < 10; i++, now += 20000)
		in(&f, 0, 0, seq++, 48000u + (uint32_t)i * 160, false, audio, 160, now);
	TEST_ASSERT(sent[1].n == 10);
	audio_ts = tnd_rtp_ts(sent[1].pkt[9]);
	for (int i = 1; i <= 8; i++, now += 20000) {
		uint16_t dur = (uint16_t)(i * 960);

		ev[1] = (uint8_t)(10 | (i >= 6 ? 0x80 : 0));
		ev[2] = (uint8_t)(dur >> 8);
		ev[3] = (uint8_t)dur;
		if (i >= 6)
			ev[2] = (uint8_t)(5760 >> 8), ev[3] = (uint8_t)5760;   /* ends: 120 ms */
		in(&f, 0, 110, seq++, 777777, i == 1, ev, 4, now);
	}
	TEST_ASSERT(sent[1].n == 18);
	out_ts = tnd_rtp_ts(sent[1].pkt[10]);
	TEST_ASSERT(out_ts == audio_ts);
	for (unsigned i = 10; i < 18; i++) {
		const uint8_t *p = sent[1].pkt[i];
		unsigned dur = (unsigned)(p[14] << 8 | p[15]);

		TEST_ASSERT(tnd_rtp_pt(p) == 101 && sent[1].len[i] == 16);
		TEST_ASSERT(tnd_rtp_ts(p) == out_ts);
		TEST_ASSERT(tnd_rtp_seq(p) == (uint16_t)(tnd_rtp_seq(sent[1].pkt[i - 1]) + 1));
		TEST_ASSERT(p[12] == 5);
		TEST_ASSERT(dur == (i < 15 ? (i - 9) * 160 : 960));
	}
	TEST_ASSERT(tnd_rtp_marker(sent[1].pkt[10]) && !tnd_rtp_marker(sent[1].pkt[11]));
	/* audio goes on at its own position */
	in(&f, 0, 0, seq++, 48000u + 18 * 160, false, audio, 160, now);
	TEST_ASSERT(tnd_rtp_ts(sent[1].pkt[18]) == audio_ts + 9 * 160);
	spin(5);
	TEST_ASSERT(!strcmp(digits, "5R"));
	TEST_ASSERT(last_ms == 120);
	fx_down(&f);
	return 0;
}

/* Digits sent toward the browser (RFC 4733 at 48000) replace the audio
 * packets going there one for one: seq stays one apart, each digit's
 * packets keep its first timestamp, its duration grows 960 per packet and
 * ends with three E packets; then a gap of audio; then the next digit. */
static int test_generate_events(void)
{
	const struct tnd_bridge_dtmf d = { .webrtc_pt = 110, .webrtc_clock = 48000, .sip_pt = 101,
		.sip_clock = 8000, .relay_to_webrtc = true, .sip_audio_pt = 0,
		.sip_audio = "PCMU" };
	uint8_t audio[160];
	char got[8] = "";
	unsigned ng = 0, ev_pkts = 0, ends = 0;
	struct fx f;
	int64_t now = 1000000;

	TEST_ASSERT(fx_up(&f, &d) == 0);
	silence(audio);
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 0, "4#", 100, 60, false) == 0);
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 0, "x", 100, 60, false) == EINVAL);
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 0, "1", 10, 60, false) == EINVAL);
	spin(5);
	for (int i = 0; i < 40; i++, now += 20000)
		in(&f, 1, 0, (uint16_t)(9000 + i), (uint32_t)i * 160, false, audio, 160, now);
	TEST_ASSERT(sent[0].n == 40);
	for (unsigned i = 0; i < 40; i++) {
		const uint8_t *p = sent[0].pkt[i];
		uint16_t prev = i ? tnd_rtp_seq(sent[0].pkt[i - 1]) : 0;

		if (i)
			TEST_ASSERT(tnd_rtp_seq(p) == (uint16_t)(prev + 1));
		if (tnd_rtp_pt(p) != 110)
			continue;
		ev_pkts++;
		if (tnd_rtp_marker(p) && ng < sizeof(got) - 1)
			got[ng++] = tnd_dtmf_event_digit(p[12]);
		if (p[13] & 0x80)
			ends++;
		TEST_ASSERT((unsigned)(p[14] << 8 | p[15]) % 960 == 0);
	}
	/* 100 ms = 5 packets, the 5th the first end, then 2 more ends, each */
	TEST_ASSERT(!strcmp(got, "4#"));
	TEST_ASSERT(ev_pkts == 14 && ends == 6);
	fx_down(&f);
	return 0;
}

/* Toward the browser while the SIP leg sends nothing (a PBX that sends no
 * RTP, silence suppression): the worker's timer makes the event packets,
 * 20 ms apart, numbered on from the stream, and the SIP leg's first packet
 * afterwards continues one after them. */
static int test_generate_silent(void)
{
	const struct tnd_bridge_dtmf d = { .webrtc_pt = 126, .webrtc_clock = 8000, .sip_pt = -1,
		.relay_to_webrtc = true, .sip_audio_pt = 0, .sip_audio = "PCMU" };
	uint8_t audio[160];
	struct fx f;
	unsigned n;

	TEST_ASSERT(fx_up(&f, &d) == 0);
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 0, "6", 100, 60, false) == 0);
	/* paced by real time: a loaded machine gets 3 s, then 200 ms for extras */
	for (int i = 0; i < 300 && sent[0].n < 7; i++)
		spin(10);
	spin(200);
	n = sent[0].n;
	TEST_ASSERT(n == 7);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = sent[0].pkt[i];

		TEST_ASSERT(tnd_rtp_pt(p) == 126 && sent[0].len[i] == 16 && p[12] == 6);
		TEST_ASSERT(tnd_rtp_ts(p) == tnd_rtp_ts(sent[0].pkt[0]));
		TEST_ASSERT(tnd_rtp_marker(p) == (i == 0));
		TEST_ASSERT(!!(p[13] & 0x80) == (i >= 4));
		if (i)
			TEST_ASSERT(tnd_rtp_seq(p) ==
				    (uint16_t)(tnd_rtp_seq(sent[0].pkt[i - 1]) + 1));
	}
	silence(audio);
	in(&f, 1, 0, 333, 1234, false, audio, 160, g_get_monotonic_time());
	TEST_ASSERT(sent[0].n == n + 1);
	TEST_ASSERT(tnd_rtp_seq(sent[0].pkt[n]) == (uint16_t)(tnd_rtp_seq(sent[0].pkt[n - 1]) + 1));
	fx_down(&f);
	return 0;
}

/* In-band both ways on a PCMU SIP leg: tones made for "3*" replace the
 * audio toward SIP, and spandsp's detector finds exactly "3*" in what left;
 * tones arriving from SIP are reported once each, source in-band, and the
 * audio toward the browser is silence while a tone lasts. */
static int test_inband(void)
{
	const struct tnd_bridge_dtmf d = { .webrtc_pt = -1, .sip_pt = -1, .sip_inband = true,
		.sip_audio_pt = 0, .sip_audio = "PCMU" };
	const struct tnd_codec *pcmu = tnd_codec_get(TND_CODEC_PCMU);
	struct tnd_codec_params prm = { 0 };
	struct tnd_codec_enc *enc = NULL;
	struct tnd_codec_dec *dec = NULL;
	struct tnd_dtmf_gen *gen = NULL;
	struct tnd_dtmf_det *det = NULL;
	int16_t pcm[160];
	uint8_t audio[160];
	size_t n, outlen;
	unsigned muted = 0;
	struct fx f;
	int64_t now = 1000000;

	TEST_ASSERT(fx_up(&f, &d) == 0);
	TEST_ASSERT(tnd_codec_enc_alloc(&enc, pcmu, &prm) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&dec, pcmu, &prm) == 0);
	/* toward SIP */
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 1, "3*", 100, 80, true) == 0);
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 0, "3", 100, 80, true) == EINVAL);
	spin(5);
	silence(audio);
	for (int i = 0; i < 30; i++, now += 20000)
		in(&f, 0, 0, (uint16_t)(100 + i), (uint32_t)i * 160, false, audio, 160, now);
	TEST_ASSERT(sent[1].n == 30);
	TEST_ASSERT(tnd_dtmf_det_alloc(&det, det_digit, NULL) == 0);
	for (unsigned i = 0; i < 30; i++) {
		TEST_ASSERT(tnd_rtp_pt(sent[1].pkt[i]) == 0 && sent[1].len[i] == 172);
		TEST_ASSERT(tnd_codec_decode(dec, sent[1].pkt[i] + 12, 160, pcm, 160, &n) == 0);
		tnd_dtmf_det_process(det, pcm, n, i * 160);
	}
	TEST_ASSERT(!strcmp(digits, "3t*t"));
	digits[0] = '\0';
	n_digits = 0;
	/* from SIP: "7", "7" again after a gap, "D" */
	TEST_ASSERT(tnd_dtmf_gen_alloc(&gen) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '7', 120, 100, -10) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '7', 120, 100, -10) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, 'D', 120, 200, -10) == 0);
	for (int i = 0; i < 45; i++, now += 20000) {
		memset(pcm, 0, sizeof(pcm));
		tnd_dtmf_gen_fill(gen, pcm, 160);
		TEST_ASSERT(tnd_codec_encode(enc, pcm, 160, audio, sizeof(audio), &outlen) == 0);
		in(&f, 1, 0, (uint16_t)(7000 + i), 4000u + (uint32_t)i * 160, false, audio, 160,
		   now);
		if (sent[0].n && sent[0].pkt[sent[0].n - 1][12] == 0xFF &&
		    sent[0].pkt[sent[0].n - 1][170] == 0xFF && audio[0] != 0xFF)
			muted++;
	}
	spin(5);
	TEST_ASSERT(!strcmp(digits, "7b7bDb"));
	TEST_ASSERT(last_ms >= 100 && last_ms <= 140);
	TEST_ASSERT(muted >= 9);   /* 3 tones of 6 packets, less detection time */
	tnd_dtmf_gen_free(gen);
	tnd_dtmf_det_free(det);
	tnd_codec_enc_free(enc);
	tnd_codec_dec_free(dec);
	fx_down(&f);
	return 0;
}

/* A transcoding path's PCM hooks: tones into 8 kHz frames only, detection
 * of 8 kHz only. */
static int test_pcm_hooks(void)
{
	const struct tnd_bridge_dtmf d = { .webrtc_pt = -1, .sip_pt = -1, .sip_inband = true,
		.sip_audio_pt = 8, .sip_audio = "PCMA" };
	int16_t pcm[320] = { 0 };
	struct fx f;

	TEST_ASSERT(fx_up(&f, &d) == 0);
	TEST_ASSERT(!tnd_mdtmf_pcm_out(&f.br->dir[0], pcm, 160, 8000));   /* nothing queued */
	TEST_ASSERT(tnd_bridge_dtmf_send(f.br, 1, "9", 60, 0, true) == 0);
	spin(5);
	TEST_ASSERT(!tnd_mdtmf_pcm_out(&f.br->dir[0], pcm, 320, 16000));
	TEST_ASSERT(tnd_mdtmf_pcm_out(&f.br->dir[0], pcm, 160, 8000));
	TEST_ASSERT(pcm[10] != 0 || pcm[11] != 0);
	tnd_mdtmf_pcm_in(&f.br->dir[1], pcm, 160, 16000, 0);   /* ignored */
	fx_down(&f);
	/* a SIP codec we cannot make tones in: no DTMF state at all */
	{
		const struct tnd_bridge_dtmf bad = { .webrtc_pt = -1, .sip_pt = -1,
			.sip_inband = true, .sip_audio_pt = 111, .sip_audio = "opus" };

		TEST_ASSERT(fx_up(&f, &bad) == 1);
		fx_down(&f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_relay_48k_to_8k),
		TND_TEST(test_generate_events),
		TND_TEST(test_generate_silent),
		TND_TEST(test_inband),
		TND_TEST(test_pcm_hooks),
	};

	tnd_dtmf_warmup();
	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
