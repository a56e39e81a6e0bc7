/* Music on hold (issue 11 item 4): the file of [media] hold_music, decoded
 * once at start-up into two shared read-only buffers (mono, 8 and 16 kHz),
 * and per call and direction a small player: a position into the buffer
 * for the output leg's codec, that codec's encoder, and a timer on the
 * bridge's worker that encodes one packet per ptime.
 *
 * The player writes into the direction's output stream (stream.h) as the
 * DTMF pacer does: sequence number last + 1, timestamp moved on by the
 * wall time since the last packet sent when a run of music starts (marker
 * set) and by one ptime per packet within it; then the stream forgets its
 * input (tnd_mdir_input_reset), so whatever is relayed next continues at
 * last + 1 again. SSRC and SRTP index thus stay continuous across music
 * start and stop. It plays only while the input is dropped (the bridge's
 * mute) or quiet for TND_MOH_QUIET_MS: a held party's peer that sends media
 * of its own is relayed instead, as without music.
 *
 * Threads: load and player set-up on the signalling thread (every buffer
 * and the encoder made there); from the command on, the player is the
 * worker's, which frees it when replaced, stopped or the bridge closes. No
 * allocation, lock or unbounded log per packet (R7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/base/obj.h"
#include "gateway/base/poll.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/xcode.h"

#define MOH_MAX_FRAME (16 * 120)       /* samples: 120 ms at 16 kHz */
#define MOH_MAX_PAYLOAD 1200
#define MOH_STALL_US 200000            /* a stalled worker: restart the schedule */
#define MOH_FILE_MAX (128u << 20)      /* bytes: 600 s of 48 kHz stereo fit */

struct tnd_moh {
	struct tnd_obj obj;
	int16_t *pcm8, *pcm16;             /* owned: mono at 8 and 16 kHz */
	size_t n8, n16;
	unsigned ms;
};

struct tnd_moh_play {
	struct tnd_moh *moh;               /* ref */
	const int16_t *pcm;                /* borrowed from moh: the encoder's rate */
	size_t n, pos;
	struct tnd_codec_enc *enc;         /* owned */
	const struct tnd_codec *codec;     /* borrowed table row */
	uint8_t pt;
	unsigned ptime_ms;
	size_t frame_n;                    /* samples a packet */
	uint32_t ts_step;                  /* its RTP timestamp units */
	/* OWNER: worker, once installed */
	struct tnd_bridge *br;             /* borrowed: it owns the player */
	unsigned dir;
	struct tnd_timer timer;
	int64_t next_us;
	bool sending;                      /* the last tick sent music */
	uint64_t packets;
	int16_t wrap[MOH_MAX_FRAME];       /* a frame across the loop's end */
};

/* ------------------------------------------------------------ the file */

static void moh_destroy(void *data)
{
	struct tnd_moh *m = data;

	free(m->pcm8);
	free(m->pcm16);
}

/* The whole file, mixed to mono, resampled to `rate` into a new buffer. */
static int resample_all(const struct tnd_wav *w, const int16_t *mono, unsigned rate,
			int16_t **outp, size_t *np)
{
	struct tnd_resampler *rs = NULL;
	size_t cap = (size_t)((uint64_t)w->frames * rate / w->rate) + 1024, n = 0;
	int16_t *out = malloc(cap * sizeof(*out));
	int err = out ? 0 : ENOMEM;

	if (!err && rate == w->rate) {
		memcpy(out, mono, w->frames * sizeof(*out));
		n = w->frames;
	} else if (!err) {
		err = tnd_resampler_alloc(&rs, w->rate, rate, 1, 8);
		/* in pieces: speexdsp takes 32-bit counts, and ENOSPC is per call */
		for (size_t i = 0; !err && i < w->frames; i += 4800) {
			size_t take = w->frames - i < 4800 ? w->frames - i : 4800, got = 0;

			err = tnd_resampler_process(rs, mono + i, take, out + n, cap - n, &got);
			n += got;
		}
		tnd_resampler_free(rs);
	}
	if (err) {
		free(out);
		return err;
	}
	*outp = out;
	*np = n;
	return 0;
}

int tnd_moh_load(struct tnd_moh **mp, const char *path, char *why, size_t whylen)
{
	struct tnd_moh *m = NULL;
	struct tnd_wav w;
	GError *gerr = NULL;
	int16_t *mono = NULL;
	gchar *buf = NULL;
	gsize len = 0;
	char msg[160];
	int err;

	if (!mp || !path || !why || !whylen)
		return EINVAL;
	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		snprintf(why, whylen, "%s: %s", path, gerr->message);
		g_error_free(gerr);
		return ENOENT;
	}
	if (len > MOH_FILE_MAX) {
		snprintf(why, whylen, "%s: larger than %u MiB", path, MOH_FILE_MAX >> 20);
		err = EFBIG;
		goto out;
	}
	err = tnd_wav_parse((const uint8_t *)buf, len, &w, msg, sizeof(msg));
	if (err) {
		snprintf(why, whylen, "%s: %s", path, msg);
		goto out;
	}
	if (w.frames > (size_t)w.rate * TND_MOH_MAX_SECONDS) {
		snprintf(why, whylen, "%s: longer than %u s", path, TND_MOH_MAX_SECONDS);
		err = EFBIG;
		goto out;
	}
	if (w.frames * 1000 < (size_t)w.rate * TND_MOH_MIN_MS) {
		snprintf(why, whylen, "%s: shorter than %u ms", path, TND_MOH_MIN_MS);
		err = ERANGE;
		goto out;
	}
	mono = malloc(w.frames * sizeof(*mono));
	m = tnd_obj_zalloc(sizeof(*m), moh_destroy);
	err = mono && m ? 0 : ENOMEM;
	for (size_t i = 0; !err && i < w.frames; i++) {
		int32_t l = tnd_wav_sample(&w, i, 0);

		mono[i] = (int16_t)(w.channels == 1 ? l : (l + tnd_wav_sample(&w, i, 1)) / 2);
	}
	if (!err)
		err = resample_all(&w, mono, 8000, &m->pcm8, &m->n8);
	if (!err)
		err = resample_all(&w, mono, 16000, &m->pcm16, &m->n16);
	if (err) {
		snprintf(why, whylen, "%s: %s", path, strerror(err));
		goto out;
	}
	m->ms = (unsigned)((uint64_t)w.frames * 1000 / w.rate);
	TND_LOG_INFO(TND_LOG_MEDIA, "hold music %s: %u ms, %u Hz, %u channel%s", path, m->ms,
		     w.rate, w.channels, w.channels > 1 ? "s" : "");
 out:
	free(mono);
	g_free(buf);
	if (err)
		tnd_obj_put(m);
	else
		*mp = m;
	return err;
}

unsigned tnd_moh_ms(const struct tnd_moh *m)
{
	return m ? m->ms : 0;
}

/* ------------------------------------------------------------ the player */

static void play_free(struct tnd_moh_play *pl)
{
	if (!pl)
		return;
	if (pl->br)
		tnd_timer_stop(tnd_loop_poller(pl->br->worker), &pl->timer);
	tnd_codec_enc_free(pl->enc);
	tnd_obj_put(pl->moh);
	free(pl);
}

/* The next ptime of music from the loop, and the position moved on. */
static const int16_t *next_frame(struct tnd_moh_play *pl)
{
	const int16_t *f;
	size_t first;

	if (pl->pos + pl->frame_n <= pl->n) {
		f = pl->pcm + pl->pos;
		pl->pos += pl->frame_n;
		if (pl->pos == pl->n)
			pl->pos = 0;
		return f;
	}
	/* across the end: the file's tail, then its start (n >= 100 ms > a frame) */
	first = pl->n - pl->pos;
	memcpy(pl->wrap, pl->pcm + pl->pos, first * sizeof(pl->wrap[0]));
	memcpy(pl->wrap + first, pl->pcm, (pl->frame_n - first) * sizeof(pl->wrap[0]));
	pl->pos = pl->frame_n - first;
	return pl->wrap;
}

/* Whether the music is to play now: the input is dropped (hold) or quiet. */
static bool input_quiet(const struct tnd_bridge *br, unsigned dir, int64_t now_us)
{
	const struct tnd_mdir *d = &br->dir[dir];

	return br->mute[dir] || !d->rx.last_us ||
	       now_us - d->rx.last_us > (int64_t)TND_MOH_QUIET_MS * 1000;
}

/* One packet of music into the direction's output stream (file comment). */
static void send_frame(struct tnd_moh_play *pl, int64_t now_us)
{
	struct tnd_bridge *br = pl->br;
	struct tnd_mdir *d = &br->dir[pl->dir];
	uint8_t *pkt = tnd_poller_tx_buf(tnd_loop_poller(br->worker));
	uint16_t seq = (uint16_t)(d->tx.last_seq + 1);
	uint32_t ts = d->tx.last_ts;
	size_t plen = 0;
	bool start = !pl->sending;
	int err;

	err = tnd_codec_encode(pl->enc, next_frame(pl), pl->frame_n, pkt + TND_RTP_HDR_LEN,
			       MOH_MAX_PAYLOAD, &plen);
	if (err || !plen)
		return;   /* DTX: its time passes unsent; a failed frame the same */
	if (start) {
		uint32_t adv = 0;

		/* a new run: the timestamp follows the wall time since the last
		 * packet, as a source switch does (stream.c) */
		if (d->tx.sent && now_us > d->tx.last_us)
			adv = (uint32_t)((uint64_t)(now_us - d->tx.last_us) *
					 pl->codec->clock / 1000000);
		ts += adv ? adv : 1;
		/* what is relayed after the music continues after it */
		tnd_mdir_input_reset(d);
	} else {
		ts += pl->ts_step;
	}
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)(pl->pt | (start ? 0x80 : 0));
	tnd_rtp_set_seq(pkt, seq);
	tnd_rtp_set_ts(pkt, ts);
	tnd_rtp_set_ssrc(pkt, d->out_ssrc);
	d->tx.last_seq = seq;
	d->tx.last_ts = ts;
	d->tx.last_us = now_us;
	d->tx.sent = d->tx.sent_since_report = true;
	d->tx.packets++;
	d->tx.octets += plen;
	pl->sending = true;
	pl->packets++;
	if (br->xc[pl->dir])   /* the transcoder stays quiet behind the music */
		tnd_xdir_moh(br->xc[pl->dir], now_us);
	err = d->out->ops->send_rtp(d->out->obj, pkt, TND_RTP_HDR_LEN + plen, TND_POLL_BUF_SIZE);
	if (err) {
		d->st.send_err++;
		TND_LOG_RL(TND_LOG_MEDIA, DEBUG, "hold music on %s leg: %s", d->out->ops->kind,
			   strerror(err));
	}
}

static void on_tick(struct tnd_timer *t, int64_t now_us)
{
	struct tnd_moh_play *pl = (struct tnd_moh_play *)(void *)((char *)t -
								offsetof(struct tnd_moh_play,
									 timer));
	struct tnd_bridge *br = pl->br;
	struct tnd_mdir *d = &br->dir[pl->dir];

	if (br->closed)
		return;
	/* due times from the schedule, not from now: no drift of our own */
	pl->next_us += (int64_t)pl->ptime_ms * 1000;
	if (pl->next_us < now_us - MOH_STALL_US)
		pl->next_us = now_us + (int64_t)pl->ptime_ms * 1000;
	tnd_timer_start_at(tnd_loop_poller(br->worker), &pl->timer, pl->next_us, on_tick);
	if (!input_quiet(br, pl->dir, now_us) || !d->out->ops || !d->out->ops->up(d->out->obj)) {
		pl->sending = false;
		return;
	}
	send_frame(pl, now_us);
}

/* Signalling thread: the player for leg `side`'s codec. */
static int play_alloc(struct tnd_moh_play **plp, struct tnd_moh *moh,
		      const struct tnd_bridge_codec *c)
{
	struct tnd_codec_params p = c->params;
	struct tnd_moh_play *pl;
	unsigned rate;
	int err;

	if (!c->codec || !c->codec->ops)
		return ENOTSUP;
	rate = c->codec->id == TND_CODEC_OPUS ? 16000 : c->codec->native_rate;
	if (rate != 8000 && rate != 16000)
		return ENOTSUP;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return ENOMEM;
	pl->moh = tnd_obj_get(moh);
	pl->codec = c->codec;
	pl->pt = c->pt & 0x7f;
	pl->pcm = rate == 8000 ? moh->pcm8 : moh->pcm16;
	pl->n = rate == 8000 ? moh->n8 : moh->n16;
	p.rate = rate;
	p.channels = 1;
	p.dtx = false;   /* music is never silence to suppress */
	pl->ptime_ms = c->ptime ? c->ptime : 20;
	if (!tnd_codec_ptime_ok(c->codec, &p, pl->ptime_ms))
		pl->ptime_ms = tnd_codec_frame_ms(c->codec, &p);
	pl->frame_n = (size_t)rate * pl->ptime_ms / 1000;
	pl->ts_step = tnd_codec_ts_units(c->codec, pl->ptime_ms);
	err = pl->frame_n && pl->frame_n <= MOH_MAX_FRAME && pl->frame_n < pl->n ? 0 : EINVAL;
	if (!err)
		err = tnd_codec_enc_alloc(&pl->enc, c->codec, &p);
	if (err) {
		play_free(pl);
		return err;
	}
	*plp = pl;
	return 0;
}

/* ------------------------------------------------------------ command */

struct moh_cmd {
	struct tnd_obj obj;
	struct tnd_bridge *br;             /* ref */
	unsigned dir;
	struct tnd_moh_play *pl;           /* owned until installed; NULL: stop */
};

static void cmd_destroy(void *data)
{
	struct moh_cmd *c = data;

	play_free(c->pl);
	tnd_obj_put(c->br);
}

/* Worker: the direction's player replaced (or stopped). */
static void cmd_run(void *data)
{
	struct moh_cmd *c = data;
	struct tnd_bridge *br = c->br;
	struct tnd_moh_play *old = br->moh[c->dir];
	struct tnd_poller *p = tnd_loop_poller(br->worker);

	if (br->closed)
		return;
	br->moh[c->dir] = c->pl;
	if (old) {
		TND_LOG_DEBUG(TND_LOG_MEDIA, "hold music toward leg %u: %llu packets", !c->dir,
			      (unsigned long long)old->packets);
		play_free(old);
	}
	if (!c->pl)
		return;
	c->pl->br = br;
	c->pl->dir = c->dir;
	c->pl->next_us = tnd_poller_now_us(p);
	tnd_timer_start_at(p, &c->pl->timer, c->pl->next_us, on_tick);
	c->pl = NULL;
}

int tnd_bridge_hold_music(struct tnd_bridge *br, unsigned side, struct tnd_moh *moh,
			  const struct tnd_bridge_codec *c)
{
	struct moh_cmd *cmd;
	int err;

	if (!br || side > 1 || (moh && !c))
		return EINVAL;
	cmd = tnd_obj_zalloc(sizeof(*cmd), cmd_destroy);
	if (!cmd)
		return ENOMEM;
	cmd->dir = !side;   /* dir[i] leaves on leg !i */
	if (moh) {
		err = play_alloc(&cmd->pl, moh, c);
		if (err) {
			tnd_obj_put(cmd);
			return err;
		}
	}
	cmd->br = tnd_obj_get(br);
	err = tnd_loop_call(br->worker, cmd_run, cmd);
	tnd_obj_put(cmd);
	return err;
}

void tnd_moh_bridge_free(struct tnd_bridge *br)
{
	for (unsigned i = 0; i < 2; i++) {
		play_free(br->moh[i]);
		br->moh[i] = NULL;
	}
}
