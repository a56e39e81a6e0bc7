/* DTMF in a call's media (issue 10 item 5): telephone-event (RFC 4733)
 * read on both legs, relayed re-timestamped into the other leg's stream
 * with its payload type and event clock mapped (48000 <-> 8000), or
 * generated there; in-band tones (spandsp via codecs/) detected in the SIP
 * leg's G.711 and generated into it. Digits are posted to the signalling
 * thread (the bridge's `dtmf` event), which decides where they go on.
 *
 * Worker thread, except the two commands' public halves. The per-packet
 * functions allocate nothing and lock nothing (R7): state, detector,
 * generator and G.711 codecs are made when the call negotiates; only a
 * finished digit allocates its small event to the signalling loop.
 *
 * Exactly once: a leg's events are read once (the receiver ends each event
 * once, retransmitted end packets are late); detection runs only on the
 * SIP leg's audio and pauses while our own tones go out on that leg, so an
 * echo of them is not taken for the peer's digit; the audio toward the
 * browser is muted while a detected tone lasts, and an audio packet that
 * carries a generated event is replaced, never mixed. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"

#define QUEUE 64               /* RFC 4733 digits waiting per direction */
#define VOLUME 10              /* -dBm0 of the events we make (RFC 4733 2.3.4) */
#define TONE_LEVEL (-10)       /* dBm0 of each tone we generate */
#define EV_PTIME_MS 20
#define RX_STALE_US 1000000    /* an event without news this long has ended */
#define MAX_PCM 1600           /* 200 ms at 8 kHz: a G.711 payload fits */
#define SILENT_US 45000        /* no audio out for this long: the timer paces events */

struct qdigit {
	char digit;
	uint16_t on_ms, off_ms;
};

struct tnd_mdtmf {
	struct tnd_bridge *br;     /* borrowed: owns this */
	struct tnd_mdir *d;        /* borrowed: the direction */
	struct tnd_mdtmf *other;   /* borrowed: the reverse direction */
	uint8_t side;              /* the leg packets come in on */
	/* telephone-event in and out */
	int in_pt, out_pt;
	uint32_t in_clock, out_clock;
	bool relay;
	bool xcode;                /* transcoded: PCM hooks, our own numbering */
	struct tnd_dtmf_rx rx;
	int64_t rx_last_us;
	bool map_have;
	uint32_t map_in_ts, map_out_ts;
	/* RFC 4733 generation toward the output leg */
	struct qdigit q[QUEUE];
	unsigned qh, qn;
	struct tnd_dtmf_tx tx;
	bool tx_on, gap_on;
	uint16_t gap_ms;
	uint32_t gap_end;
	struct tnd_timer pace;     /* events toward a leg whose other side is silent */
	/* in-band toward leg B (dir[0]): the tone replaces the audio */
	struct tnd_dtmf_gen *gen;              /* owned */
	struct tnd_codec_enc *enc;             /* owned */
	struct tnd_codec_dec *gdec;            /* owned */
	int out_audio_pt;
	/* in-band from leg B (dir[1]) */
	struct tnd_dtmf_det *det;              /* owned */
	struct tnd_codec_dec *ddec;            /* owned */
	int in_audio_pt;
	bool det_on;                           /* a detected tone lasts */
	uint8_t silence;                       /* a G.711 silence byte */
};

struct tnd_bdtmf {
	struct tnd_mdtmf dir[2];
};

/* ------------------------------------------------------------ events */

struct dtmf_ev {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	unsigned side;
	char digit;
	unsigned duration_ms;
	enum tnd_bridge_dtmf_src src;
};

static void ev_destroy(void *data)
{
	struct dtmf_ev *e = data;

	tnd_obj_put(e->br);
}

/* Signalling loop. */
static void ev_run(void *data)
{
	struct dtmf_ev *e = data;

	if (!e->br->closed_sig && e->br->ev->dtmf)
		e->br->ev->dtmf(e->br->arg, e->side, e->digit, e->duration_ms, e->src);
}

static void post_digit(struct tnd_mdtmf *m, char digit, uint32_t ms, enum tnd_bridge_dtmf_src src)
{
	/* one small object per finished digit, not per packet */
	struct dtmf_ev *e = tnd_obj_zalloc(sizeof(*e), ev_destroy);

	if (!e)
		return;
	e->br = tnd_obj_get(m->br);
	e->side = m->side;
	e->digit = digit;
	e->duration_ms = ms;
	e->src = src;
	if (tnd_loop_call(m->br->signal, ev_run, e))
		TND_LOG_RL(TND_LOG_MEDIA, WARN, "cannot post digit %c", digit);
	tnd_obj_put(e);
}

static void on_rx_digit(const struct tnd_dtmf_digit *dg, void *arg)
{
	struct tnd_mdtmf *m = arg;

	if (dg->end)
		post_digit(m, dg->digit, dg->duration_ms, TND_BRIDGE_DTMF_RFC4733);
}

static void on_det_digit(const struct tnd_dtmf_digit *dg, void *arg)
{
	struct tnd_mdtmf *m = arg;

	m->det_on = !dg->end;
	if (dg->end)
		post_digit(m, dg->digit, dg->duration_ms, TND_BRIDGE_DTMF_INBAND);
}

/* ------------------------------------------------------------ set-up */

static void dir_clear(struct tnd_mdtmf *m)
{
	if (m->br)
		tnd_timer_stop(tnd_loop_poller(m->br->worker), &m->pace);
	tnd_dtmf_gen_free(m->gen);
	tnd_dtmf_det_free(m->det);
	tnd_codec_enc_free(m->enc);
	tnd_codec_dec_free(m->gdec);
	tnd_codec_dec_free(m->ddec);
	memset(m, 0, sizeof(*m));
}

void tnd_mdtmf_free(struct tnd_bridge *br)
{
	if (!br || !br->dtmf)
		return;
	for (unsigned i = 0; i < 2; i++) {
		dir_clear(&br->dtmf->dir[i]);
		br->dir[i].dtmf = NULL;
	}
	g_free(br->dtmf);
	br->dtmf = NULL;
}

/* The in-band parts on leg B: G.711 both ways, tones out, detector in. */
static int setup_inband(struct tnd_bdtmf *b, const struct tnd_bridge_dtmf *c)
{
	const struct tnd_codec *codec = c->sip_audio ? tnd_codec_find(c->sip_audio, 8000, 1) : NULL;
	struct tnd_mdtmf *out = &b->dir[0], *in = &b->dir[1];
	struct tnd_codec_params p = { 0 };
	int err;

	if (c->transcoded) {
		/* the transcoder's PCM hooks: no codec of our own, and the
		 * packet-level paths stay off (no audio PT to match) */
		err = tnd_dtmf_gen_alloc(&out->gen);
		if (!err)
			err = tnd_dtmf_det_alloc(&in->det, on_det_digit, in);
		return err;
	}
	if (!codec || (codec->id != TND_CODEC_PCMU && codec->id != TND_CODEC_PCMA))
		return EINVAL;   /* pass-through tones: G.711 only (transcoding: PCM API) */
	err = tnd_dtmf_gen_alloc(&out->gen);
	if (!err)
		err = tnd_codec_enc_alloc(&out->enc, codec, &p);
	if (!err)
		err = tnd_codec_dec_alloc(&out->gdec, codec, &p);
	if (!err)
		err = tnd_dtmf_det_alloc(&in->det, on_det_digit, in);
	if (!err)
		err = tnd_codec_dec_alloc(&in->ddec, codec, &p);
	out->out_audio_pt = in->in_audio_pt = c->sip_audio_pt;
	in->silence = codec->id == TND_CODEC_PCMU ? 0xFF : 0xD5;
	return err;
}

int tnd_mdtmf_setup(struct tnd_bridge *br, const struct tnd_bridge_dtmf *c)
{
	struct tnd_bdtmf *b;
	int err = 0;

	tnd_mdtmf_free(br);
	b = g_try_new0(struct tnd_bdtmf, 1);
	if (!b)
		return ENOMEM;
	for (unsigned i = 0; i < 2; i++) {
		struct tnd_mdtmf *m = &b->dir[i];

		m->br = br;
		m->d = &br->dir[i];
		m->other = &b->dir[!i];
		m->side = (uint8_t)i;
		m->in_pt = i ? c->sip_pt : c->webrtc_pt;
		m->in_clock = i ? c->sip_clock : c->webrtc_clock;
		m->out_pt = i ? c->webrtc_pt : c->sip_pt;
		m->out_clock = i ? c->webrtc_clock : c->sip_clock;
		m->relay = (i ? c->relay_to_webrtc : c->relay_to_sip) && m->out_pt >= 0 &&
			   m->in_pt >= 0;
		m->out_audio_pt = m->in_audio_pt = -1;
		m->xcode = c->transcoded;
		if (m->in_pt >= 0 && !err)
			err = tnd_dtmf_rx_init(&m->rx, m->in_clock, on_rx_digit, m);
		if (m->out_pt >= 0 && (m->out_clock < 1000 || m->out_clock > 192000))
			err = EINVAL;
	}
	if (!err && c->sip_inband)
		err = setup_inband(b, c);
	br->dtmf = b;
	if (err) {
		tnd_mdtmf_free(br);
		return err;
	}
	br->dir[0].dtmf = &b->dir[0];
	br->dir[1].dtmf = &b->dir[1];
	return 0;
}

/* ------------------------------------------------------------ packets */

/* A telephone-event packet relayed: output numbering from the stream, its
 * timestamp moved to where the output stream is when the event begins,
 * durations moved to the output's event clock. */
static void relay_event(struct tnd_mdtmf *m, struct tnd_mdir *d, uint8_t *pkt, size_t len,
			const struct tnd_rtp_hdr *h, int64_t now_us)
{
	struct tnd_mdir_pt pt = { (uint8_t)m->in_pt, (uint8_t)m->out_pt, m->in_clock };
	uint32_t keep_ts = d->tx.last_ts;
	uint8_t *p = pkt + h->payload_off;
	int err;

	if (!m->map_have || h->ts != m->map_in_ts) {
		/* a new event (or segment): it starts at the output's present */
		m->map_have = true;
		m->map_in_ts = h->ts;
		m->map_out_ts = d->tx.last_ts;
	}
	if (m->xcode) {
		/* the transcoder numbers the stream: the event goes next */
		tnd_rtp_set_pt(pkt, (uint8_t)m->out_pt);
		tnd_rtp_set_ssrc(pkt, d->out_ssrc);
		tnd_rtp_set_seq(pkt, ++d->tx.last_seq);
		d->tx.packets++;
		d->tx.octets += h->payload_len;
	} else {
		tnd_mdir_rewrite(d, pkt, len, &pt, now_us);
	}
	/* the audio keeps the stream's position, not the event's start */
	d->tx.last_ts = keep_ts;
	tnd_rtp_set_ts(pkt, m->map_out_ts);
	if (m->in_clock != m->out_clock) {
		for (size_t off = 0; off + TND_DTMF_EV_SIZE <= h->payload_len;
		     off += TND_DTMF_EV_SIZE) {
			uint64_t dur = (uint64_t)((p[off + 2] << 8) | p[off + 3]) *
				       m->out_clock / m->in_clock;

			if (dur > 0xFFFF)
				dur = 0xFFFF;
			tnd_rtp_wr16(p + off + 2, (uint16_t)dur);
		}
	}
	err = d->out->ops->send_rtp(d->out->obj, pkt, len, TND_POLL_BUF_SIZE);
	if (err)
		d->st.send_err++;
}

/* Decoded G.711 from leg B into the detector, unless our own tones are
 * going out on that leg (their echo is not the peer's digit). */
static void detect(struct tnd_mdtmf *m, const uint8_t *pay, size_t n, uint32_t ts)
{
	int16_t pcm[MAX_PCM];
	size_t got = 0;

	if (n > MAX_PCM || tnd_codec_decode(m->ddec, pay, n, pcm, MAX_PCM, &got))
		return;
	tnd_mdtmf_pcm_in(m->d, pcm, got, 8000, ts);
}

bool tnd_mdtmf_in(struct tnd_mdir *d, uint8_t *pkt, size_t len, int64_t now_us)
{
	struct tnd_mdtmf *m = d->dtmf;
	uint8_t pt = tnd_rtp_pt(pkt);
	struct tnd_rtp_hdr h;

	if (!m)
		return false;
	if (m->in_pt < 0 || pt != m->in_pt) {
		if (m->rx.active && now_us - m->rx_last_us > RX_STALE_US)
			tnd_dtmf_rx_reset(&m->rx);   /* its end packets were all lost */
		if (m->det && pt == m->in_audio_pt && !tnd_rtp_parse(pkt, len, &h))
			detect(m, pkt + h.payload_off, h.payload_len, h.ts);
		return false;
	}
	if (tnd_rtp_parse(pkt, len, &h))
		return true;
	m->rx_last_us = now_us;
	tnd_mdir_account(d, pkt, len, 0, now_us);
	if (tnd_dtmf_rx_packet(&m->rx, pkt + h.payload_off, h.payload_len, h.ts, h.seq,
			       h.marker))
		return true;   /* counted by the receiver */
	if (m->relay && d->out->ops && d->out->ops->up(d->out->obj))
		relay_event(m, d, pkt, len, &h, now_us);
	return true;
}

static bool events_left(const struct tnd_mdtmf *m)
{
	return m->qn || m->tx_on || m->gap_on;
}

/* The next queued digit starts, or the one playing goes on: writes one
 * event packet over the audio packet. 0 when nothing is due. */
static size_t event_out(struct tnd_mdtmf *m, uint8_t *pkt, size_t len, uint32_t clock)
{
	uint32_t ts = tnd_rtp_ts(pkt);
	struct tnd_dtmf_pkt ep;
	struct tnd_rtp_hdr h;

	if (m->gap_on && (int32_t)(ts - m->gap_end) >= 0)
		m->gap_on = false;
	if (!m->tx_on && !m->gap_on && m->qn) {
		struct qdigit *q = &m->q[m->qh];

		m->qh = (m->qh + 1) % QUEUE;
		m->qn--;
		if (!tnd_dtmf_tx_start(&m->tx, q->digit, q->on_ms, VOLUME, m->out_clock,
				       EV_PTIME_MS, ts)) {
			m->tx_on = true;
			m->gap_ms = q->off_ms;
		}
	}
	if (!m->tx_on)
		return 0;
	if (!tnd_dtmf_tx_next(&m->tx, &ep)) {
		m->tx_on = false;
		m->gap_on = true;
		m->gap_end = ts + (uint32_t)((uint64_t)m->gap_ms * clock / 1000);
		return 0;
	}
	if (tnd_rtp_parse(pkt, len, &h) || h.payload_len < TND_DTMF_EV_SIZE)
		return 0;
	tnd_rtp_set_pt(pkt, (uint8_t)m->out_pt);
	tnd_rtp_set_marker(pkt, ep.marker);
	tnd_rtp_set_ts(pkt, ep.ts);
	pkt[0] &= (uint8_t)~0x20;   /* no padding any more */
	memcpy(pkt + h.payload_off, ep.payload, TND_DTMF_EV_SIZE);
	return h.payload_off + TND_DTMF_EV_SIZE;
}

/* The queued tones replace this G.711 packet's audio where they play. */
static void tone_out(struct tnd_mdtmf *m, uint8_t *pkt, size_t len)
{
	int16_t pcm[MAX_PCM];
	struct tnd_rtp_hdr h;
	size_t n = 0, outlen = 0;

	if (tnd_rtp_parse(pkt, len, &h) || h.payload_len > MAX_PCM ||
	    tnd_codec_decode(m->gdec, pkt + h.payload_off, h.payload_len, pcm, MAX_PCM, &n))
		return;
	if (!tnd_mdtmf_pcm_out(m->d, pcm, n, 8000))
		return;
	(void)tnd_codec_encode(m->enc, pcm, n, pkt + h.payload_off, h.payload_len, &outlen);
}

size_t tnd_mdtmf_out(struct tnd_mdir *d, uint8_t *pkt, size_t len, uint32_t clock)
{
	struct tnd_mdtmf *m = d->dtmf;
	struct tnd_rtp_hdr h;
	size_t n;

	if (!m)
		return len;
	if (m->out_pt >= 0 && events_left(m)) {
		n = event_out(m, pkt, len, clock);
		if (n)
			return n;
	}
	if (m->gen && tnd_rtp_pt(pkt) == m->out_audio_pt && tnd_dtmf_gen_busy(m->gen))
		tone_out(m, pkt, len);
	/* toward the browser while the SIP leg's tone lasts: silence, so the
	 * digit is heard once, as the event */
	if (m->det_on && !m->xcode && !tnd_rtp_parse(pkt, len, &h))
		memset(pkt + h.payload_off, m->silence, h.payload_len);
	return len;
}

/* Worker timer, every 20 ms while digits are to go out as events. Audio
 * packets carry them (tnd_mdtmf_out) while the other leg sends; when it has
 * sent nothing for SILENT_US (a phone with silence suppression, a PBX that
 * sends no RTP), this makes the event packets itself, one sequence number
 * after the last sent, and moves the stream's offset on by one so the next
 * packet from the other leg continues after it. */
static void on_pace(struct tnd_timer *t, int64_t now_us)
{
	struct tnd_mdtmf *m = (struct tnd_mdtmf *)(void *)((char *)t -
							   offsetof(struct tnd_mdtmf, pace));
	struct tnd_poller *p = tnd_loop_poller(m->br->worker);
	struct tnd_mdir *d = m->d;
	uint32_t clock = d->n_pt ? d->pt[0].clock : m->out_clock;
	uint16_t seq = (uint16_t)(d->tx.last_seq + 1);
	uint32_t ts = d->tx.last_ts;
	uint8_t *pkt;
	size_t len;

	if (!events_left(m))
		return;
	tnd_timer_start(p, &m->pace, EV_PTIME_MS, on_pace);
	if ((d->tx.sent && now_us - d->tx.last_us < SILENT_US) || !d->out->ops ||
	    !d->out->ops->up(d->out->obj))
		return;
	if (d->tx.sent)
		ts += (uint32_t)((uint64_t)(now_us - d->tx.last_us) * clock / 1000000);
	pkt = tnd_poller_tx_buf(p);
	memset(pkt, 0, TND_RTP_HDR_LEN + TND_DTMF_EV_SIZE);
	pkt[0] = 0x80;
	tnd_rtp_set_seq(pkt, seq);
	tnd_rtp_set_ts(pkt, ts);
	tnd_rtp_set_ssrc(pkt, d->out_ssrc);
	len = event_out(m, pkt, TND_RTP_HDR_LEN + TND_DTMF_EV_SIZE, clock);
	if (!len)
		return;   /* a gap: nothing to send */
	d->seq_off++;
	d->tx.last_seq = seq;
	d->tx.last_ts = ts;
	d->tx.last_us = now_us;
	d->tx.sent = d->tx.sent_since_report = true;
	d->tx.packets++;
	d->tx.octets += TND_DTMF_EV_SIZE;
	if (d->out->ops->send_rtp(d->out->obj, pkt, len, TND_POLL_BUF_SIZE))
		d->st.send_err++;
}

bool tnd_mdtmf_pcm_out(struct tnd_mdir *d, int16_t *pcm, size_t n, unsigned rate)
{
	struct tnd_mdtmf *m = d->dtmf;

	if (!m || !m->gen || rate != 8000 || !tnd_dtmf_gen_busy(m->gen))
		return false;
	return tnd_dtmf_gen_fill(m->gen, pcm, n) > 0;
}

void tnd_mdtmf_pcm_in(struct tnd_mdir *d, const int16_t *pcm, size_t n, unsigned rate,
		      uint32_t pos)
{
	struct tnd_mdtmf *m = d->dtmf;

	if (!m || !m->det || rate != 8000)
		return;
	if (m->other->gen && tnd_dtmf_gen_busy(m->other->gen))
		return;
	tnd_dtmf_det_process(m->det, pcm, n, pos);
}

bool tnd_mdtmf_pcm_mute(struct tnd_mdir *d, int16_t *pcm, size_t n)
{
	struct tnd_mdtmf *m = d->dtmf;

	if (!m || !m->det_on)
		return false;
	memset(pcm, 0, n * sizeof(*pcm));
	return true;
}

/* ------------------------------------------------------------ commands */

struct dtmf_cmd {
	struct tnd_obj obj;
	struct tnd_bridge *br;     /* ref */
	bool send;                 /* else set-up */
	struct tnd_bridge_dtmf conf;
	char audio[8];             /* conf.sip_audio's copy */
	unsigned side;
	char digits[QUEUE + 1];
	uint16_t on_ms, off_ms;
	bool inband;
};

static void cmd_destroy(void *data)
{
	struct dtmf_cmd *c = data;

	tnd_obj_put(c->br);
}

static void queue_digits(struct tnd_mdtmf *m, const struct dtmf_cmd *c)
{
	for (const char *p = c->digits; *p; p++) {
		if (c->inband) {
			if (tnd_dtmf_gen_put(m->gen, *p, c->on_ms, c->off_ms, TONE_LEVEL))
				TND_LOG_RL(TND_LOG_MEDIA, WARN, "in-band digit %c dropped", *p);
			continue;
		}
		if (m->qn == QUEUE) {
			TND_LOG_RL(TND_LOG_MEDIA, WARN, "DTMF queue full: digit %c dropped", *p);
			continue;
		}
		m->q[(m->qh + m->qn) % QUEUE] = (struct qdigit){ *p, c->on_ms, c->off_ms };
		m->qn++;
	}
}

/* Worker. */
static void cmd_run(void *data)
{
	struct dtmf_cmd *c = data;
	struct tnd_bridge *br = c->br;
	struct tnd_mdtmf *m;
	int err;

	if (br->closed)
		return;
	if (!c->send) {
		err = tnd_mdtmf_setup(br, &c->conf);
		if (err)
			TND_LOG_WARN(TND_LOG_MEDIA, "DTMF set-up failed: %s", strerror(err));
		return;
	}
	/* digits toward leg `side` leave in the direction that ends there */
	m = br->dtmf ? &br->dtmf->dir[!c->side] : NULL;
	if (!m || (c->inband ? !m->gen : m->out_pt < 0)) {
		TND_LOG_RL(TND_LOG_MEDIA, WARN, "no way to send DTMF toward leg %u", c->side);
		return;
	}
	queue_digits(m, c);
	if (!c->inband && !tnd_timer_armed(&m->pace))
		tnd_timer_start(tnd_loop_poller(br->worker), &m->pace, EV_PTIME_MS, on_pace);
	TND_LOG_DEBUG(TND_LOG_MEDIA, "DTMF %s toward leg %u: %u queued, pt %d", c->digits, c->side,
		      m->qn, m->out_pt);
}

static int cmd_queue(struct tnd_bridge *br, struct dtmf_cmd *c)
{
	int err;

	c->br = tnd_obj_get(br);
	err = tnd_loop_call(br->worker, cmd_run, c);
	tnd_obj_put(c);
	return err;
}

int tnd_bridge_dtmf(struct tnd_bridge *br, const struct tnd_bridge_dtmf *conf)
{
	struct dtmf_cmd *c;

	if (!br || !conf || (conf->sip_audio && strlen(conf->sip_audio) >= sizeof(c->audio)))
		return EINVAL;
	c = tnd_obj_zalloc(sizeof(*c), cmd_destroy);
	if (!c)
		return ENOMEM;
	c->conf = *conf;
	if (conf->sip_audio) {
		strcpy(c->audio, conf->sip_audio);
		c->conf.sip_audio = c->audio;
	}
	return cmd_queue(br, c);
}

int tnd_bridge_dtmf_send(struct tnd_bridge *br, unsigned side, const char *digits,
			 unsigned duration_ms, unsigned gap_ms, bool inband)
{
	struct dtmf_cmd *c;
	size_t n;

	if (!br || side > 1 || !digits || duration_ms < 40 || duration_ms > 2000 ||
	    gap_ms > 2000 || (inband && side != 1))
		return EINVAL;
	n = strlen(digits);
	if (!n || n > QUEUE)
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		if (tnd_dtmf_digit_event(digits[i]) < 0)
			return EINVAL;
	c = tnd_obj_zalloc(sizeof(*c), cmd_destroy);
	if (!c)
		return ENOMEM;
	c->send = true;
	c->side = side;
	memcpy(c->digits, digits, n + 1);
	c->on_ms = (uint16_t)duration_ms;
	c->off_ms = (uint16_t)gap_ms;
	c->inband = inband;
	return cmd_queue(br, c);
}
