/* The transcoding media handler (issue 10 items 2-4): one direction of a
 * call whose legs share no codec. Packets from the input leg go into a
 * jitter buffer (codecs/ jb); a millisecond timer on the worker, one input
 * frame apart, takes one frame out, decodes it (or conceals a lost one:
 * Opus in-band FEC from the next packet, else Opus/G.711 PLC, else the
 * generic spandsp PLC for G.722), resamples where the rates differ, queues
 * the PCM in a framer and encodes every whole output packet (ptime
 * conversion) into our own RTP stream: our SSRC, sequence numbers and
 * timestamps, advanced in the output codec's clock (G.722: 8000, RFC 3551
 * 4.5.2). Opus runs at the narrowband leg's rate on both sides (8 or
 * 16 kHz), so an Opus <-> G.711 call never resamples.
 *
 * Clock drift: the timer is ours, so the output runs at our clock; the jitter
 * buffer shrinks its delay when the sender runs fast and conceals when it
 * runs slow, and the framer is drained every tick, so no queue grows.
 *
 * DTMF (dtmf_media.h): every packet goes to the DTMF handler first, which
 * takes telephone-event; decoded PCM from leg B feeds its in-band detector
 * and PCM toward leg B its tone generator, and each packet we send may
 * become an RFC 4733 event packet. Worker thread; no allocation after
 * tnd_xdir_alloc (R7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/base/poll.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"
#include "gateway/media/xcode.h"

/* Sizes (R7: all set up front; docs/benchmarks.md "Transcoding" counts the
 * heap per call). Transcoding PCM runs at 8 or 16 kHz only: Opus decodes and
 * encodes at the other leg's rate, and two legs with Opus are relayed. */
#define XC_MAX_RATE 16000
#define XC_MAX_IN (XC_MAX_RATE / 1000 * 120)   /* one packet of up to 120 ms */
#define XC_FRAMER (XC_MAX_IN * 2)              /* framer capacity, samples */
#define XC_JB_FRAMES 32                        /* 320 ms at 10 ms ptime > max delay */
#define XC_JB_SLOT 640                         /* G.711/G.722 80 ms; G.729 640 ms */
#define XC_JB_SLOT_OPUS 1276                   /* RFC 6716 3.4 R2: one frame's most */
#define XC_MAX_PAYLOAD 1200
#define XC_STALL_US 200000                     /* a worker stall: restart the tick */
#define XC_CONCEAL_EMPTY 3                     /* empty ticks concealed before silence */
#define XC_MOH_US 150000                       /* hold music sent this recently: quiet */

struct tnd_xdir {
	struct tnd_bridge *br;             /* borrowed: set by attach, worker */
	struct tnd_mdir *d;                /* borrowed: &br->dir[dir] */
	const struct tnd_codec *in_c, *out_c;   /* borrowed table rows */
	uint8_t in_pt, out_pt;
	struct tnd_codec_dec *dec;         /* owned */
	struct tnd_codec_enc *enc;         /* owned */
	struct tnd_resampler *rs;          /* owned; NULL: one rate */
	struct tnd_plc *plc;               /* owned; G.722 in (no codec PLC) */
	struct tnd_framer *fr;             /* owned */
	struct tnd_jb *jb;                 /* owned */
	unsigned dec_rate, enc_rate;
	size_t out_n;                      /* samples per output packet */
	uint32_t out_step;                 /* its RTP timestamp units */
	uint32_t tick_us;                  /* one input frame */
	uint32_t skip_ts;                  /* output time not sent (EMPTY, DTX) */
	bool mark;                         /* next packet starts a talk spurt */
	bool running;
	bool playing;                      /* frames flow: an empty tick is concealed */
	unsigned empty_run;                /* empty ticks concealed in a row */
	unsigned ahead;                    /* of those, losses the buffer has not
					    * reported yet (MISSING follows) */
	struct tnd_timer timer;
	int64_t next_us;
	int64_t moh_us;                    /* hold music's last packet here (moh.c); 0 none */
	uint32_t dtmf_pos;                 /* 8 kHz samples decoded, for the detector */
	int16_t dtmf8[XC_MAX_IN / 2];      /* DTMF's 8 kHz view of 16 kHz PCM */
	struct tnd_bridge_dir_stats st;
	int16_t pcm[XC_MAX_IN];
	int16_t rsout[XC_MAX_IN * 2 + 64];     /* 8 -> 16 kHz, and the carry */
	int16_t enc_in[XC_MAX_IN];
};

/* ------------------------------------------------------------ set-up */

/* Rates: Opus decodes or encodes at the other leg's rate; the rest at
 * their own. */
static unsigned pcm_rate(const struct tnd_codec *c, const struct tnd_codec *other)
{
	if (c->id == TND_CODEC_OPUS)
		return other->id == TND_CODEC_OPUS ? 48000 : other->native_rate;
	return c->native_rate;
}

void tnd_xdir_free(struct tnd_xdir *x)
{
	if (!x)
		return;
	tnd_xdir_detach(x);
	tnd_codec_dec_free(x->dec);
	tnd_codec_enc_free(x->enc);
	tnd_resampler_free(x->rs);
	tnd_plc_free(x->plc);
	tnd_framer_free(x->fr);
	tnd_jb_free(x->jb);
	free(x);
}

int tnd_xdir_alloc(struct tnd_xdir **xp, const struct tnd_bridge_codec *in,
		   const struct tnd_bridge_codec *out)
{
	struct tnd_codec_params dp, ep;
	struct tnd_jb_conf jc = { 0 };
	struct tnd_xdir *x;
	unsigned ptime;
	int err;

	if (!xp || !in || !out || !in->codec || !out->codec || !in->codec->ops ||
	    !out->codec->ops)
		return EINVAL;
	ptime = out->ptime ? out->ptime : 20;
	if (!tnd_codec_ptime_ok(out->codec, &out->params, ptime))
		return EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	x->in_c = in->codec;
	x->out_c = out->codec;
	x->in_pt = in->pt;
	x->out_pt = out->pt;
	x->dec_rate = pcm_rate(in->codec, out->codec);
	x->enc_rate = pcm_rate(out->codec, in->codec);
	x->out_n = (size_t)x->enc_rate * ptime / 1000;
	if (x->dec_rate > XC_MAX_RATE || x->enc_rate > XC_MAX_RATE || x->out_n > XC_MAX_IN) {
		free(x);
		return EINVAL;   /* Opus on both legs: relayed, never transcoded */
	}
	x->out_step = tnd_codec_ts_units(out->codec, ptime);
	x->tick_us = 1000 * (in->ptime ? in->ptime : 20);
	x->mark = true;
	dp = in->params;
	dp.rate = x->dec_rate;
	dp.channels = 1;
	ep = out->params;
	ep.rate = x->enc_rate;
	ep.channels = 1;
	jc.clock_rate = in->codec->clock;
	jc.capacity = XC_JB_FRAMES;
	jc.max_payload = in->codec->id == TND_CODEC_OPUS ? XC_JB_SLOT_OPUS : XC_JB_SLOT;
	err = tnd_codec_dec_alloc(&x->dec, in->codec, &dp);
	if (!err)
		err = tnd_codec_enc_alloc(&x->enc, out->codec, &ep);
	if (!err && x->dec_rate != x->enc_rate)
		err = tnd_resampler_alloc(&x->rs, x->dec_rate, x->enc_rate, 1, -1);
	if (!err && !in->codec->has_plc)
		err = tnd_plc_alloc(&x->plc, x->dec_rate);
	if (!err)
		err = tnd_framer_alloc(&x->fr, XC_FRAMER, 1);
	if (!err)
		err = tnd_jb_alloc(&x->jb, &jc);
	if (err) {
		tnd_xdir_free(x);
		return err;
	}
	*xp = x;
	return 0;
}

/* ------------------------------------------------------------ output */

static void send_payload(struct tnd_xdir *x, uint8_t *buf, size_t plen, int64_t now_us)
{
	struct tnd_mdir *d = x->d;
	uint16_t seq = (uint16_t)(d->tx.last_seq + 1);
	uint32_t ts = d->tx.last_ts + x->out_step + x->skip_ts;
	int err;

	buf[0] = 0x80;
	buf[1] = (uint8_t)(x->out_pt | (x->mark ? 0x80 : 0));
	tnd_rtp_set_seq(buf, seq);
	tnd_rtp_set_ts(buf, ts);
	tnd_rtp_set_ssrc(buf, d->out_ssrc);
	x->mark = false;
	x->skip_ts = 0;
	plen += TND_RTP_HDR_LEN;
	if (d->dtmf)   /* a queued digit replaces this packet with its event */
		plen = tnd_mdtmf_out(d, buf, plen, x->out_c->clock);
	plen -= TND_RTP_HDR_LEN;
	d->tx.last_seq = seq;
	d->tx.last_ts = ts;
	d->tx.last_us = now_us;
	d->tx.sent = true;
	d->tx.sent_since_report = true;
	d->tx.packets++;
	d->tx.octets += plen;
	err = d->out->ops->send_rtp(d->out->obj, buf, TND_RTP_HDR_LEN + plen, TND_POLL_BUF_SIZE);
	if (err) {
		d->st.send_err++;
		TND_LOG_RL(TND_LOG_MEDIA, DEBUG, "send on %s leg: %s", d->out->ops->kind,
			   strerror(err));
	}
}

/* DTMF runs at 8 kHz. 16 kHz PCM (G.722) is halved for the detector (pairs
 * averaged: a low-pass enough for tones below 2 kHz) and generated tones are
 * doubled back (linear interpolation). */
static void dtmf_pcm_in(struct tnd_xdir *x, int16_t *pcm, size_t n)
{
	size_t h = n / 2;

	if (x->dec_rate == 16000 && h <= sizeof(x->dtmf8) / sizeof(x->dtmf8[0])) {
		for (size_t i = 0; i < h; i++)
			x->dtmf8[i] = (int16_t)(((int32_t)pcm[2 * i] + pcm[2 * i + 1]) / 2);
		tnd_mdtmf_pcm_in(x->d, x->dtmf8, h, 8000, x->dtmf_pos);
		x->dtmf_pos += (uint32_t)h;
	} else {
		tnd_mdtmf_pcm_in(x->d, pcm, n, x->dec_rate, x->dtmf_pos);
		x->dtmf_pos += (uint32_t)n;
	}
	tnd_mdtmf_pcm_mute(x->d, pcm, n);
}

static void dtmf_pcm_out(struct tnd_xdir *x, int16_t *pcm, size_t n)
{
	size_t h = n / 2;

	if (x->enc_rate != 16000) {
		(void)tnd_mdtmf_pcm_out(x->d, pcm, n, x->enc_rate);
		return;
	}
	if (h > sizeof(x->dtmf8) / sizeof(x->dtmf8[0]))
		return;
	memset(x->dtmf8, 0, h * sizeof(x->dtmf8[0]));
	if (!tnd_mdtmf_pcm_out(x->d, x->dtmf8, h, 8000))
		return;
	for (size_t i = 0; i < h; i++) {
		int32_t a = x->dtmf8[i], b = i + 1 < h ? x->dtmf8[i + 1] : a;

		pcm[2 * i] = (int16_t)a;
		pcm[2 * i + 1] = (int16_t)((a + b) / 2);
	}
}

static bool moh_playing(const struct tnd_xdir *x, int64_t now_us)
{
	return x->moh_us && now_us - x->moh_us < XC_MOH_US;
}

/* Encodes every whole output packet the framer holds. */
static void drain_framer(struct tnd_xdir *x, int64_t now_us)
{
	uint8_t *buf = tnd_poller_tx_buf(tnd_loop_poller(x->br->worker));
	bool up = x->d->out->ops && x->d->out->ops->up(x->d->out->obj) &&
		  !moh_playing(x, now_us);
	size_t plen;
	int err;

	while (tnd_framer_pop(x->fr, x->enc_in, x->out_n) == 0) {
		if (!up) {
			/* not numbered: the stream starts without a gap */
			x->d->st.drop_not_ready++;
			continue;
		}
		if (x->d->dtmf)   /* in-band digits toward leg B replace the voice */
			dtmf_pcm_out(x, x->enc_in, x->out_n);
		err = tnd_codec_encode(x->enc, x->enc_in, x->out_n, buf + TND_RTP_HDR_LEN,
				       XC_MAX_PAYLOAD, &plen);
		if (err) {
			x->st.enc_errors++;
			TND_LOG_RL(TND_LOG_MEDIA, WARN, "%s encoder: %s", x->out_c->name,
				   strerror(err));
			plen = 0;
		}
		if (!plen) {
			/* DTX or a failed frame: its time passes unsent */
			x->skip_ts += x->out_step;
			x->mark = true;
			continue;
		}
		send_payload(x, buf, plen, now_us);
	}
}

/* Resamples n decoded samples into the framer. */
static void push_pcm(struct tnd_xdir *x, int16_t *pcm, size_t n)
{
	size_t m = n;
	int err;

	if (x->rs) {
		err = tnd_resampler_process(x->rs, pcm, n, x->rsout,
					    sizeof(x->rsout) / sizeof(x->rsout[0]), &m);
		if (err)
			return;
		pcm = x->rsout;
	}
	if (tnd_framer_push(x->fr, pcm, m)) {
		/* cannot happen while every tick drains it; recover anyway */
		tnd_framer_reset(x->fr);
		tnd_framer_push(x->fr, pcm, m);
	}
}

/* ------------------------------------------------------------ the tick */

/* One lost frame: FEC from the next packet, the codec's PLC, or ours. */
static size_t conceal(struct tnd_xdir *x)
{
	size_t n = (size_t)x->dec_rate * x->tick_us / 1000000;
	struct tnd_jb_frame next;

	if (n > XC_MAX_IN)
		n = XC_MAX_IN;
	x->st.concealed++;
	if (x->in_c->has_fec && tnd_jb_peek(x->jb, &next) &&
	    tnd_codec_decode_fec(x->dec, next.data, next.len, x->pcm, n) == 0) {
		x->st.fec++;
		return n;
	}
	if (x->in_c->has_plc && tnd_codec_conceal(x->dec, x->pcm, n) == 0)
		return n;
	if (x->plc) {
		tnd_plc_fill(x->plc, x->pcm, n);
		return n;
	}
	memset(x->pcm, 0, n * sizeof(x->pcm[0]));
	return n;
}

static size_t decode(struct tnd_xdir *x, const struct tnd_jb_frame *f)
{
	size_t n = 0;

	if (tnd_codec_decode(x->dec, f->data, f->len, x->pcm, XC_MAX_IN, &n) || !n) {
		x->st.dec_errors++;
		return conceal(x);
	}
	x->st.frames++;
	if (x->plc)
		tnd_plc_rx(x->plc, x->pcm, n);
	/* the tick follows the sender's frame length (20, 30, 60 ms ...) */
	if (f->samples && x->in_c->clock) {
		uint64_t us = (uint64_t)f->samples * 1000000 / x->in_c->clock;

		if (us >= 10000 && us <= 120000)
			x->tick_us = (uint32_t)us;
	}
	return n;
}

static void tick(struct tnd_xdir *x, int64_t now_us)
{
	struct tnd_jb_frame f;
	size_t n;

	switch (tnd_jb_get(x->jb, now_us, &f)) {
	case TND_JB_FRAME:
		x->empty_run = 0;
		x->ahead = 0;
		n = decode(x, &f);
		break;
	case TND_JB_MISSING:
		x->empty_run = 0;
		if (x->ahead) {
			/* this loss was concealed at an empty tick already: the
			 * output pauses a tick rather than play it twice */
			x->ahead--;
			return;
		}
		n = conceal(x);
		break;
	default:
		x->st.empty++;
		if (tnd_jb_peek(x->jb, &f)) {
			/* a frame is held, not yet due: the buffer grows its delay
			 * by a tick. Nothing is missing: the output pauses and
			 * continues with that frame, its timestamps unbroken */
			return;
		}
		if (x->playing && x->empty_run < XC_CONCEAL_EMPTY) {
			/* mid-stream, most often a packet whose loss the buffer
			 * cannot know yet (the next one is not here): conceal it,
			 * so a loss never leaves a silent gap */
			x->empty_run++;
			x->ahead++;
			n = conceal(x);
			break;
		}
		/* nothing to play (filling, DTX): time passes on the output too,
		 * so the receiver sees the gap in its timestamps */
		x->playing = false;
		x->ahead = 0;
		if (x->d->tx.sent && !moh_playing(x, now_us)) {   /* the music's time is its own */
			x->skip_ts += tnd_codec_ts_units(x->out_c, x->tick_us / 1000);
			x->mark = true;
		}
		return;
	}
	if (n && x->empty_run == 0)
		x->playing = true;
	/* leg B's tones are detected, and muted toward the browser while
	 * they last (the digit reaches it once, as its event) */
	if (x->d->dtmf)
		dtmf_pcm_in(x, x->pcm, n);
	push_pcm(x, x->pcm, n);
	drain_framer(x, now_us);
}

static void on_timer(struct tnd_timer *t, int64_t now_us)
{
	struct tnd_xdir *x = (struct tnd_xdir *)((char *)t - offsetof(struct tnd_xdir, timer));

	if (!x->running || x->br->closed)
		return;
	tick(x, now_us);
	/* due times from the schedule, not from now: no drift of our own */
	x->next_us += x->tick_us;
	if (x->next_us < now_us - XC_STALL_US)
		x->next_us = now_us + x->tick_us;
	tnd_timer_start_at(tnd_loop_poller(x->br->worker), &x->timer, x->next_us, on_timer);
}

/* ------------------------------------------------------------ input */

static void xcode_in(struct tnd_mdir *d, uint8_t *pkt, size_t len, size_t cap, int64_t now_us)
{
	struct tnd_bridge *br = d->out->br;
	struct tnd_xdir *x = br->xc[d - br->dir];
	struct tnd_rtp_hdr h;
	struct tnd_jb_pkt jp;

	(void)cap;
	if (!x || tnd_rtp_parse(pkt, len, &h)) {
		d->st.drop_pt++;
		return;
	}
	/* telephone-event goes to the DTMF handler (dtmf_media.c): relayed
	 * in our numbering, or posted as a digit, exactly once */
	if (d->dtmf && tnd_mdtmf_in(d, pkt, len, now_us))
		return;
	if (h.pt != x->in_pt) {
		d->st.drop_pt++;
		return;
	}
	tnd_mdir_account(d, pkt, len, x->in_c->clock, now_us);
	jp = (struct tnd_jb_pkt){
		.payload = pkt + h.payload_off, .len = h.payload_len, .seq = h.seq, .ts = h.ts,
		.ssrc = h.ssrc, .marker = h.marker,
	};
	tnd_jb_put(x->jb, &jp, now_us);
	if (!x->running) {
		x->running = true;
		x->next_us = now_us + x->tick_us;
		tnd_timer_start_at(tnd_loop_poller(br->worker), &x->timer, x->next_us, on_timer);
	}
}

tnd_mdir_h *const tnd_bridge_fwd_xcode = xcode_in;

/* ------------------------------------------------------------ bridge side */

void tnd_xdir_attach(struct tnd_xdir *x, struct tnd_bridge *br, unsigned dir)
{
	/* the map's one entry: the audio, at the output clock SR reports in */
	struct tnd_mdir_pt pt = { x->in_pt, x->out_pt, x->out_c->clock };

	x->br = br;
	x->d = &br->dir[dir];
	tnd_mdir_set_pts(x->d, &pt, 1);
	x->d->handler = tnd_bridge_fwd_xcode;
}

void tnd_xdir_detach(struct tnd_xdir *x)
{
	if (x->br && x->running)
		tnd_timer_stop(tnd_loop_poller(x->br->worker), &x->timer);
	x->running = false;
}

void tnd_xdir_moh(struct tnd_xdir *x, int64_t now_us)
{
	x->moh_us = now_us;
	x->skip_ts = 0;
	x->mark = true;
}

void tnd_xdir_input_reset(struct tnd_xdir *x)
{
	tnd_jb_reset(x->jb);
}

void tnd_xdir_stats(const struct tnd_xdir *x, struct tnd_bridge_dir_stats *st)
{
	struct tnd_jb_stats js;

	*st = x->st;
	tnd_jb_stats(x->jb, &js);
	st->jb_delay_ms = js.delay_us / 1000;
	st->jb_lost = js.lost;
	st->jb_late = js.late;
}

const struct tnd_codec *tnd_xdir_in_codec(const struct tnd_xdir *x)
{
	return x->in_c;
}

const struct tnd_codec *tnd_xdir_out_codec(const struct tnd_xdir *x)
{
	return x->out_c;
}
