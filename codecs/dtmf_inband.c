/* In-band DTMF with spandsp 0.0.6: detection (dtmf_rx, ITU-T Q.23/Q.24
 * limits: 40 ms minimum tone, +-1.5 % accepted, +-3.5 % rejected) and
 * generation (dtmf_tx) in 8 kHz 16-bit PCM.
 *
 * spandsp decides once per 102-sample block (DTMF_SAMPLES_PER_BLOCK in its
 * dtmf.c) and confirms a digit after two blocks agree. Its realtime callback
 * says neither where in our buffer that block ended nor when the tone began,
 * so we feed it in pieces that end on its block boundaries: every callback
 * then happens at a known sample position, and the tone began about two
 * blocks before it. Its tone generator reads its timing and level when a
 * digit starts, so we hand it one digit at a time from our own queue, each
 * with its own duration, gap and level.
 *
 * State is made when the call negotiates and used on its media worker only;
 * per frame nothing is allocated. spandsp builds static tables on first use:
 * tnd_dtmf_warmup() runs that in main(), before the workers. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"

#define BLOCK 102                /* spandsp's DTMF_SAMPLES_PER_BLOCK */
#define CONFIRM (2 * BLOCK)      /* a digit is reported this long after it began */

struct tnd_dtmf_det {
	struct tnd_obj obj;
	dtmf_rx_state_t *rx;     /* owned (spandsp) */
	tnd_dtmf_h *h;
	void *arg;
	uint32_t next_pos;       /* position of the next sample we expect */
	uint32_t cb_pos;         /* position just after the piece being fed */
	uint32_t phase;          /* samples fed, modulo BLOCK */
	uint32_t start;          /* current digit's estimated first sample */
	char digit;              /* current digit, 0 if none */
	uint8_t volume;
};

void tnd_dtmf_warmup(void)
{
	dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);

	if (rx)
		dtmf_rx_free(rx);
	if (tx)
		dtmf_tx_free(tx);
}

static void det_report_end(struct tnd_dtmf_det *det, uint32_t end)
{
	uint32_t duration = end - det->start;

	struct tnd_dtmf_digit d = {
		.digit = det->digit,
		.end = true,
		.volume = det->volume,
		.start = det->start,
		.duration = duration,
		.duration_ms = duration / 8,
	};

	det->digit = 0;
	det->h(&d, det->arg);
}

/* spandsp's realtime callback: code is the digit's ASCII value when one is
 * confirmed, 0 when it stops; level is the tone's power in dBm0. Its delay
 * (samples in the previous state) counts only the samples fed, so durations
 * come from our positions, which also count audio that was lost. */
static void on_tone(void *user_data, int code, int level, int delay)
{
	struct tnd_dtmf_det *det = user_data;
	struct tnd_dtmf_digit d = { 0 };

	(void)delay;
	if (det->digit) {
		/* Stopped: the tone left about one block before spandsp saw
		 * silence. Straight to another digit: it ended where the next
		 * began. */
		det_report_end(det, det->cb_pos - (code ? CONFIRM : BLOCK));
	}
	if (!code || tnd_dtmf_digit_event((char)code) < 0)
		return;
	det->digit = (char)code;
	det->start = det->cb_pos - CONFIRM;
	det->volume = (uint8_t)(level >= 0 ? 0 : level < -63 ? 63 : -level);
	d.digit = det->digit;
	d.volume = det->volume;
	d.start = det->start;
	det->h(&d, det->arg);
}

/* digits come through the realtime callback; this keeps spandsp from
 * buffering them as well */
static void on_digits(void *user_data, const char *digits, int len)
{
	(void)user_data;
	(void)digits;
	(void)len;
}

static void det_destroy(void *data)
{
	struct tnd_dtmf_det *det = data;

	if (det->rx)
		dtmf_rx_free(det->rx);
}

int tnd_dtmf_det_alloc(struct tnd_dtmf_det **detp, tnd_dtmf_h *h, void *arg)
{
	struct tnd_dtmf_det *det;

	if (!detp || !h)
		return EINVAL;
	det = tnd_obj_zalloc(sizeof(*det), det_destroy);
	if (!det)
		return ENOMEM;
	det->h = h;
	det->arg = arg;
	det->rx = dtmf_rx_init(NULL, on_digits, det);
	if (!det->rx) {
		tnd_obj_put(det);
		return ENOMEM;
	}
	dtmf_rx_set_realtime_callback(det->rx, on_tone, det);
	*detp = det;
	return 0;
}

void tnd_dtmf_det_free(struct tnd_dtmf_det *det)
{
	tnd_obj_put(det);
}

/* Feeds spandsp in pieces that end on its block boundaries (see top). */
static void det_feed(struct tnd_dtmf_det *det, const int16_t *pcm, size_t n)
{
	while (n) {
		size_t k = BLOCK - det->phase;

		if (k > n)
			k = n;
		det->cb_pos = det->next_pos + (uint32_t)k;
		dtmf_rx(det->rx, pcm, (int)k);
		det->phase = (uint32_t)((det->phase + k) % BLOCK);
		det->next_pos += (uint32_t)k;
		pcm += k;
		n -= k;
	}
}

void tnd_dtmf_det_process(struct tnd_dtmf_det *det, const int16_t *pcm, size_t n, uint32_t pos)
{
	if (!det || !pcm)
		return;
	/* Lost audio is skipped, not played as silence: silence would cut a
	 * tone with a lost frame into two digits. Positions stay the caller's. */
	det->next_pos = pos;
	det_feed(det, pcm, n);
}

/* --------------------------------------------------------------- generator */

struct gen_item {
	char digit;
	uint16_t on_ms;
	uint16_t off_ms;
	int8_t level;
};

struct tnd_dtmf_gen {
	struct tnd_obj obj;
	dtmf_tx_state_t *tx;     /* owned (spandsp) */
	struct gen_item q[TND_DTMF_GEN_QUEUE];
	unsigned head;
	unsigned count;
	bool playing;            /* spandsp holds a digit not yet fully written */
};

static void gen_destroy(void *data)
{
	struct tnd_dtmf_gen *gen = data;

	if (gen->tx)
		dtmf_tx_free(gen->tx);
}

int tnd_dtmf_gen_alloc(struct tnd_dtmf_gen **genp)
{
	struct tnd_dtmf_gen *gen;

	if (!genp)
		return EINVAL;
	gen = tnd_obj_zalloc(sizeof(*gen), gen_destroy);
	if (!gen)
		return ENOMEM;
	gen->tx = dtmf_tx_init(NULL);
	if (!gen->tx) {
		tnd_obj_put(gen);
		return ENOMEM;
	}
	*genp = gen;
	return 0;
}

void tnd_dtmf_gen_free(struct tnd_dtmf_gen *gen)
{
	tnd_obj_put(gen);
}

int tnd_dtmf_gen_put(struct tnd_dtmf_gen *gen, char digit, uint32_t on_ms, uint32_t off_ms,
		     int level)
{
	struct gen_item *it;
	int ev = tnd_dtmf_digit_event(digit);

	if (!gen || ev < 0 || on_ms < 10 || on_ms > 10000 || off_ms > 10000 || level > 0 ||
	    level < -50)
		return EINVAL;
	if (gen->count == TND_DTMF_GEN_QUEUE)
		return ENOBUFS;
	it = &gen->q[(gen->head + gen->count) % TND_DTMF_GEN_QUEUE];
	it->digit = tnd_dtmf_event_digit(ev);
	it->on_ms = (uint16_t)on_ms;
	it->off_ms = (uint16_t)off_ms;
	it->level = (int8_t)level;
	gen->count++;
	return 0;
}

size_t tnd_dtmf_gen_fill(struct tnd_dtmf_gen *gen, int16_t *out, size_t n)
{
	size_t done = 0;

	if (!gen || !out)
		return 0;
	while (done < n) {
		if (gen->playing) {
			size_t want = n - done;
			int got;

			if (want > INT32_MAX)
				want = INT32_MAX;
			got = dtmf_tx(gen->tx, out + done, (int)want);
			done += got > 0 ? (size_t)got : 0;
			if ((size_t)(got > 0 ? got : 0) < want)
				gen->playing = false;   /* tone and gap written */
			continue;
		}
		if (!gen->count)
			break;
		{
			const struct gen_item *it = &gen->q[gen->head];

			dtmf_tx_set_level(gen->tx, it->level, 0);
			dtmf_tx_set_timing(gen->tx, it->on_ms, it->off_ms);
			dtmf_tx_put(gen->tx, &it->digit, 1);
			gen->head = (gen->head + 1) % TND_DTMF_GEN_QUEUE;
			gen->count--;
			gen->playing = true;
		}
	}
	return done;
}

bool tnd_dtmf_gen_busy(const struct tnd_dtmf_gen *gen)
{
	return gen && (gen->playing || gen->count);
}
