/* libFuzzer target: the jitter buffer (codecs/jb.c) driven by arbitrary
 * sequences of packets (sequence, timestamp, marker, SSRC, arrival time,
 * length) and frame ticks read from the input. Checks the invariants the
 * bridge relies on: a stored packet comes out at most once and unchanged,
 * timestamps never go backwards between resyncs, every put result is
 * counted where it says, and received = played + dropped + held. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLEN 300

struct rec {
	uint16_t seq;
	uint32_t ts;
	uint16_t len;
	bool out;                /* handed out already */
};

struct fz {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct fz *f, unsigned bytes)
{
	unsigned v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | (f->n ? *f->p : 0);
		if (f->n) {
			f->p++;
			f->n--;
		}
	}
	return v;
}

struct run {
	struct tnd_jb *jb;
	struct rec *recs;
	size_t nrec;
	uint64_t ok, dup, late, inval, frames, missing, resyncs;
	uint32_t last_ts;
	bool have_ts;
	uint8_t buf[MAXLEN];
};

/* The payload carries its record number, so what comes out can be traced. */
static void check_frame(struct run *r, const struct tnd_jb_frame *f, bool mark)
{
	uint32_t id;
	struct rec *rec;

	if (f->len < 4 || !f->data)
		abort();
	id = (uint32_t)f->data[0] << 24 | (uint32_t)f->data[1] << 16 |
	     (uint32_t)f->data[2] << 8 | f->data[3];
	if (id >= r->nrec)
		abort();
	rec = &r->recs[id];
	if (rec->out || f->len != rec->len || f->seq != rec->seq || f->ts != rec->ts)
		abort();
	for (size_t i = 4; i < f->len; i++)
		if (f->data[i] != (uint8_t)(id + i))
			abort();
	if (mark)
		rec->out = true;
}

static void do_put(struct run *r, struct fz *f, uint16_t *seq, uint32_t *ts, uint32_t *ssrc,
		   uint64_t now)
{
	unsigned op = take(f, 1), lenb = take(f, 1);
	struct tnd_jb_pkt pkt = { .payload = r->buf };
	uint64_t at = now;
	int err;

	if (op & 1)
		*seq = (uint16_t)take(f, 2);
	else
		*seq = (uint16_t)(*seq + (int8_t)take(f, 1));
	if (op & 2)
		*ts = take(f, 4);
	else
		*ts += (uint32_t)(int16_t)take(f, 2);
	if ((op & 0x1c) == 0x1c)
		*ssrc += 1;
	pkt.marker = op & 0x20;
	at = now - (op & 0x40 ? take(f, 1) * 1000ULL : 0);
	pkt.samples = op & 0x80 ? take(f, 1) * 8 : 0;
	pkt.len = lenb == 255 ? 0 : lenb < 4 ? 4 : lenb;
	if (lenb == 254)
		pkt.len = MAXLEN;  /* larger than the slots */
	pkt.seq = *seq;
	pkt.ts = *ts;
	pkt.ssrc = *ssrc;
	r->buf[0] = (uint8_t)(r->nrec >> 24);
	r->buf[1] = (uint8_t)(r->nrec >> 16);
	r->buf[2] = (uint8_t)(r->nrec >> 8);
	r->buf[3] = (uint8_t)r->nrec;
	for (size_t i = 4; i < pkt.len; i++)
		r->buf[i] = (uint8_t)(r->nrec + i);
	err = tnd_jb_put(r->jb, &pkt, at);
	switch (err) {
	case 0:
		r->recs[r->nrec] = (struct rec){ .seq = *seq, .ts = *ts, .len = (uint16_t)pkt.len };
		r->nrec++;
		r->ok++;
		break;
	case EALREADY:
		r->dup++;
		break;
	case ETIME:
		r->late++;
		break;
	case EMSGSIZE:
		r->inval++;
		break;
	default:
		abort();
	}
}

static void do_get(struct run *r, uint64_t now)
{
	struct tnd_jb_frame fr, pk;
	struct tnd_jb_stats st;
	enum tnd_jb_res res = tnd_jb_get(r->jb, now, &fr);

	tnd_jb_stats(r->jb, &st);
	if (st.resyncs != r->resyncs) {
		r->resyncs = st.resyncs;
		r->have_ts = false;
	}
	if (res == TND_JB_FRAME) {
		check_frame(r, &fr, true);
		if (r->have_ts && (int32_t)(fr.ts - r->last_ts) < 0)
			abort();
		r->last_ts = fr.ts;
		r->have_ts = true;
		r->frames++;
	} else if (res == TND_JB_MISSING) {
		r->missing++;
	} else if (res != TND_JB_EMPTY) {
		abort();
	}
	if (tnd_jb_peek(r->jb, &pk))
		check_frame(r, &pk, false);
}

static void check_counters(const struct run *r, unsigned capacity)
{
	struct tnd_jb_stats st;

	tnd_jb_stats(r->jb, &st);
	if (st.received != r->ok || st.duplicates != r->dup || st.late != r->late ||
	    st.invalid != r->inval || st.played != r->frames || st.concealed != r->missing ||
	    st.concealed > st.lost || st.shrinks > st.dropped || st.held > capacity ||
	    st.received != st.played + st.dropped + st.held ||
	    st.target_us < 10000 || st.target_us > 150000)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t rates[] = { 8000, 16000, 48000, 90000 };
	struct fz f = { data, size };
	struct run r = { 0 };
	struct tnd_jb_conf c;
	unsigned cfg = take(&f, 2);
	uint16_t seq = 0;
	uint32_t ts = 0, ssrc = 1;
	uint64_t now = (uint64_t)take(&f, 4) << 20;

	c = (struct tnd_jb_conf){
		.clock_rate = rates[cfg & 3], .capacity = 4 + (cfg >> 2 & 63),
		.max_payload = 64 + (cfg >> 8 & 0xff), .min_delay_ms = 10, .max_delay_ms = 150,
	};
	r.recs = calloc(size + 1, sizeof(*r.recs));
	if (!r.recs || tnd_jb_alloc(&r.jb, &c)) {
		free(r.recs);
		return 0;
	}
	while (f.n) {
		unsigned op = take(&f, 1);

		if (op < 0x80) {
			do_put(&r, &f, &seq, &ts, &ssrc, now);
		} else {
			/* a tick: time moves by 0-126 ms, or jumps */
			now += op == 0xff ? (uint64_t)take(&f, 4) << 10 : (op & 0x7f) * 1000ULL;
			do_get(&r, now);
		}
		check_counters(&r, c.capacity);
		if (r.nrec >= size)
			break;
	}
	if (!(size & 1))
		tnd_jb_reset(r.jb);
	tnd_jb_free(r.jb);
	free(r.recs);
	return 0;
}
