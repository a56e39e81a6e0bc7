/* Adaptive jitter buffer (issue 10 item 4; API and caller contract in
 * codecs/jb.h). Media worker only; no clocks, sockets or locks: arrival and
 * tick times are passed in, in microseconds.
 *
 * Design. Frames sit in a fixed ring indexed by extended sequence number and
 * leave in sequence order. Timing is a single quantity: the transit of a
 * packet (arrival minus its timestamp in us); `base` is the smallest transit
 * of the last 6-8 s (a windowed minimum, so sender/receiver clock drift moves
 * it), and a frame's play-out delay v = now - base - ts. The target delay is
 * the peak of recent (transit - base), which jumps up on a burst, holds
 * while the jitter keeps reaching it and then decays over about 10 s, clamped to [min, max]. At each tick the next frame plays
 * once v reaches the target; below it the tick stays empty (the delay grows
 * by a tick); far above it one frame is skipped now and then (the delay
 * shrinks slowly). Silence needs no special case: a talkspurt's first frame
 * plays when its own v reaches the target, so each silence re-centres the
 * delay. Losses are counted in sequence numbers, so a DTX gap (timestamps
 * jump, sequence does not) is never concealed, and a loss before silence is
 * concealed once per lost packet, not for the whole gap. Invariant:
 * received = played + dropped + held. */
#include <errno.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"

#define NBLK 4
#define BLK_US 2000000LL              /* windowed-minimum block: 4 x 2 s */
#define RESYNC_US 2000000LL           /* transit off by more than this: new timing */
#define BEHIND_MAX 512                /* sequence this far back: the sender restarted */
#define TS_SPAN_MAX (1LL << 40)       /* keeps ts-to-us products inside int64 */
#define SKIP_EVERY 8                  /* frames between two shrink skips */
#define PEAK_HOLD 250                 /* packets the peak holds before it decays (5 s at 50/s) */
#define PEAK_DECAY_SHIFT 9            /* then peak -= peak / 512 per packet (~10 s at 50/s) */

struct slot {
	int64_t seq;                  /* extended sequence number */
	int64_t ts;                   /* extended timestamp */
	uint64_t arrival;
	uint32_t len, samples;
	bool used, marker;
	uint8_t *data;                /* borrowed: this slot's part of the arena */
};

struct tnd_jb {
	struct tnd_obj obj;
	struct tnd_jb_conf conf;
	struct slot *slots;           /* borrowed: inside this allocation */
	unsigned held;
	bool synced, started, have_out;
	uint32_t ssrc;
	int64_t hi_seq, hi_ts;        /* highest sequence received and its timestamp */
	int64_t next_seq, play_ts;    /* play-out point: next sequence, its expected ts */
	int64_t ts_origin;            /* extended ts that maps to 0 us */
	int64_t last_out_ts;          /* last timestamp handed out (non-decreasing) */
	uint32_t dur;                 /* last known frame duration, clock ticks */
	uint64_t seen;                /* bit i: sequence next_seq - 1 - i was received */
	uint64_t blk_min[NBLK], blk_start, base;  /* transits (wrapping us) */
	unsigned nblk;
	uint64_t last_transit;
	int64_t jitter16;             /* RFC 3550 A.8 jitter, us x 16 */
	int64_t peak, min_us, max_us;
	unsigned peak_age;            /* packets since one came near the peak */
	unsigned since_skip;
	struct tnd_jb_stats st;
};

static void jb_destroy(void *data)
{
	(void)data;  /* one allocation: the slots and arena go with it */
}

int tnd_jb_alloc(struct tnd_jb **jbp, const struct tnd_jb_conf *conf)
{
	struct tnd_jb_conf c;
	struct tnd_jb *jb;
	uint8_t *arena;

	if (!jbp || !conf || !conf->clock_rate || conf->clock_rate > 384000)
		return EINVAL;
	c = *conf;
	c.capacity = c.capacity ? c.capacity : 64;
	c.max_payload = c.max_payload ? c.max_payload : 1500;
	c.min_delay_ms = c.min_delay_ms ? c.min_delay_ms : 20;
	c.max_delay_ms = c.max_delay_ms ? c.max_delay_ms : 200;
	if (c.capacity < 4 || c.capacity > 4096 || c.max_payload > 65536 ||
	    c.min_delay_ms > c.max_delay_ms || c.max_delay_ms > 10000)
		return EINVAL;

	jb = tnd_obj_zalloc(sizeof(*jb) + c.capacity * (sizeof(struct slot) + c.max_payload),
			    jb_destroy);
	if (!jb)
		return ENOMEM;
	jb->conf = c;
	jb->slots = (struct slot *)(jb + 1);
	arena = (uint8_t *)(jb->slots + c.capacity);
	for (unsigned i = 0; i < c.capacity; i++)
		jb->slots[i].data = arena + (size_t)i * c.max_payload;
	jb->min_us = (int64_t)c.min_delay_ms * 1000;
	jb->max_us = (int64_t)c.max_delay_ms * 1000;
	jb->dur = c.clock_rate / 50;
	*jbp = jb;
	return 0;
}

struct tnd_jb *tnd_jb_free(struct tnd_jb *jb)
{
	return tnd_obj_put(jb);
}

static struct slot *slot_of(const struct tnd_jb *jb, int64_t seq)
{
	return &jb->slots[(uint64_t)seq % jb->conf.capacity];
}

static int64_t ts_us(const struct tnd_jb *jb, int64_t ts)
{
	return (ts - jb->ts_origin) * 1000000 / (int64_t)jb->conf.clock_rate;
}

/* Play-out delay of timestamp ts if played at now (wrapping arithmetic:
 * times are the caller's and may be anything). */
static int64_t vdelay(const struct tnd_jb *jb, uint64_t now, int64_t ts)
{
	return (int64_t)(now - jb->base - (uint64_t)ts_us(jb, ts));
}

static int64_t target(const struct tnd_jb *jb)
{
	int64_t t = jb->peak;

	return t < jb->min_us ? jb->min_us : t > jb->max_us ? jb->max_us : t;
}

static void flush(struct tnd_jb *jb)
{
	for (unsigned i = 0; i < jb->conf.capacity && jb->held; i++) {
		if (jb->slots[i].used) {
			jb->slots[i].used = false;
			jb->held--;
			jb->st.dropped++;
		}
	}
}

/* Starts a new timeline at this packet: first packet, SSRC change, or a
 * jump in sequence or timing that no reordering explains. */
static void sync_to(struct tnd_jb *jb, const struct tnd_jb_pkt *pkt, uint64_t now)
{
	if (jb->synced)
		jb->st.resyncs++;
	flush(jb);
	jb->synced = true;
	jb->started = false;
	jb->have_out = false;
	jb->ssrc = pkt->ssrc;
	jb->hi_seq = jb->next_seq = (1LL << 32) + pkt->seq;
	jb->hi_ts = jb->play_ts = jb->ts_origin = (1LL << 40) + pkt->ts;
	jb->seen = 0;
	jb->nblk = 1;
	jb->blk_start = now;
	jb->base = jb->blk_min[0] = jb->last_transit = now;  /* ts_us(origin) = 0 */
}

void tnd_jb_reset(struct tnd_jb *jb)
{
	if (!jb)
		return;
	flush(jb);
	jb->synced = false;
}

/* Moves the play-out point n sequence numbers on; `got` says whether the
 * first of them was received (for telling duplicates from late packets). */
static void advance(struct tnd_jb *jb, int64_t n, bool got)
{
	jb->next_seq += n;
	jb->seen = n >= 64 ? 0 : jb->seen << n;
	if (got && n <= 64)
		jb->seen |= 1ULL << (n - 1);
}

static bool before(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

/* Windowed minimum of the transit: the fastest path of the last 6-8 s. */
static void update_base(struct tnd_jb *jb, uint64_t now, uint64_t transit)
{
	if (!before(now, jb->blk_start) && now - jb->blk_start >= (uint64_t)BLK_US) {
		uint64_t n = (now - jb->blk_start) / BLK_US;

		/* keep the newest old block even after a long silence */
		for (uint64_t k = 0; k < n && k < NBLK - 1; k++) {
			memmove(&jb->blk_min[1], &jb->blk_min[0],
				(NBLK - 1) * sizeof(jb->blk_min[0]));
			jb->blk_min[0] = transit;
			if (jb->nblk < NBLK)
				jb->nblk++;
		}
		jb->blk_start = now;
	}
	if (before(transit, jb->blk_min[0]))
		jb->blk_min[0] = transit;
	jb->base = jb->blk_min[0];
	for (unsigned i = 1; i < jb->nblk; i++)
		if (before(jb->blk_min[i], jb->base))
			jb->base = jb->blk_min[i];
}

/* RFC 3550 A.8 jitter, and the peak that sets the target delay. */
static void update_delay(struct tnd_jb *jb, uint64_t transit)
{
	int64_t d = (int64_t)(transit - jb->last_transit);
	int64_t rel = (int64_t)(transit - jb->base);

	jb->last_transit = transit;
	d = d < 0 ? -d : d;
	d = d > RESYNC_US ? RESYNC_US : d;
	jb->jitter16 += d - jb->jitter16 / 16;
	rel = rel > 2 * jb->max_us ? 2 * jb->max_us : rel;
	if (rel > jb->peak - (jb->peak >> 4)) {
		/* at or near the peak: grow at once on a burst, and hold the
		 * peak while the jitter keeps reaching it */
		jb->peak = rel > jb->peak ? rel : jb->peak;
		jb->peak_age = 0;
	} else if (++jb->peak_age > PEAK_HOLD) {
		jb->peak -= jb->peak >> PEAK_DECAY_SHIFT;
	}
}

/* Where the packet belongs: -1 stored-or-refused already decided by *err,
 * else 0 to store. Seq and ts are already extended. */
static int classify(struct tnd_jb *jb, int64_t seq, int64_t ts, bool marker)
{
	struct slot *s;

	if (seq < jb->next_seq) {
		int64_t back = jb->next_seq - 1 - seq;

		/* before play-out began, an earlier packet may still open the stream */
		if (!jb->started && jb->hi_seq - seq < (int64_t)jb->conf.capacity) {
			jb->seen = 0;
			jb->next_seq = seq;
			jb->play_ts = ts;
			return 0;
		}
		if (back < 64 && (jb->seen >> back & 1)) {
			jb->st.duplicates++;
			return EALREADY;
		}
		jb->st.late++;
		return ETIME;
	}
	s = slot_of(jb, seq);
	if (s->used) {
		jb->st.duplicates++;
		return EALREADY;
	}
	if (jb->started && !jb->held && marker) {
		/* talkspurt start after silence: play-out restarts here; whatever
		 * sequence numbers are missing before it are lost, not concealed */
		if (seq != jb->next_seq || ts != jb->play_ts)
			jb->st.resyncs++;
		jb->st.lost += (uint64_t)(seq - jb->next_seq);
		advance(jb, seq - jb->next_seq, false);
		jb->play_ts = ts;
	} else if (jb->started && !jb->held && ts < jb->play_ts) {
		/* play-out moved past its time while the buffer ran dry */
		jb->st.late++;
		jb->st.lost += (uint64_t)(seq - jb->next_seq);
		advance(jb, seq - jb->next_seq + 1, true);
		return ETIME;
	}
	return 0;
}

static bool needs_resync(struct tnd_jb *jb, const struct tnd_jb_pkt *pkt, int64_t seq,
			 int64_t ts)
{
	return pkt->ssrc != jb->ssrc || seq - jb->next_seq >= (int64_t)jb->conf.capacity ||
	       jb->next_seq - seq > BEHIND_MAX || ts - jb->ts_origin > TS_SPAN_MAX ||
	       jb->ts_origin - ts > TS_SPAN_MAX;
}

static bool timing_jump(const struct tnd_jb *jb, uint64_t transit, bool marker)
{
	int64_t rel = (int64_t)(transit - jb->base);

	if (rel > jb->max_us + RESYNC_US || rel < -RESYNC_US)
		return true;
	/* a talkspurt may move the timeline by less: it has silence to do it in */
	return marker && !jb->held && (rel > jb->max_us || rel < -jb->max_us);
}

static void store(struct tnd_jb *jb, const struct tnd_jb_pkt *pkt, int64_t seq, int64_t ts,
		  uint64_t now)
{
	struct slot *s = slot_of(jb, seq);

	memcpy(s->data, pkt->payload, pkt->len);
	s->seq = seq;
	s->ts = ts;
	s->arrival = now;
	s->len = (uint32_t)pkt->len;
	s->samples = pkt->samples;
	s->marker = pkt->marker;
	s->used = true;
	jb->held++;
	jb->st.received++;
	/* ptime from consecutive timestamps, for frames that did not say */
	if (pkt->samples && pkt->samples <= jb->conf.clock_rate / 8)
		jb->dur = pkt->samples;
	else if (seq == jb->hi_seq + 1 && ts > jb->hi_ts && ts - jb->hi_ts <= jb->conf.clock_rate / 8)
		jb->dur = (uint32_t)(ts - jb->hi_ts);
	if (seq > jb->hi_seq) {
		jb->hi_seq = seq;
		jb->hi_ts = ts;
	}
}

int tnd_jb_put(struct tnd_jb *jb, const struct tnd_jb_pkt *pkt, uint64_t now_us)
{
	int64_t seq, ts;
	uint64_t transit;
	int err;

	if (!jb || !pkt || (!pkt->payload && pkt->len))
		return EINVAL;
	if (!pkt->len || pkt->len > jb->conf.max_payload) {
		jb->st.invalid++;
		return EMSGSIZE;
	}
	if (!jb->synced)
		sync_to(jb, pkt, now_us);
	seq = jb->hi_seq + (int16_t)(uint16_t)(pkt->seq - (uint16_t)jb->hi_seq);
	ts = jb->hi_ts + (int32_t)(uint32_t)(pkt->ts - (uint32_t)jb->hi_ts);
	if (needs_resync(jb, pkt, seq, ts)) {
		sync_to(jb, pkt, now_us);
		seq = jb->hi_seq;
		ts = jb->hi_ts;
	}
	transit = now_us - (uint64_t)ts_us(jb, ts);
	update_base(jb, now_us, transit);
	if (timing_jump(jb, transit, pkt->marker)) {
		sync_to(jb, pkt, now_us);
		seq = jb->hi_seq;
		ts = jb->hi_ts;
		transit = now_us;
	}
	update_delay(jb, transit);
	err = classify(jb, seq, ts, pkt->marker);
	if (err)
		return err;
	store(jb, pkt, seq, ts, now_us);
	return 0;
}

static struct slot *first_held(const struct tnd_jb *jb)
{
	if (!jb->held)
		return NULL;
	for (int64_t s = jb->next_seq; s <= jb->hi_seq; s++) {
		struct slot *sl = slot_of(jb, s);

		if (sl->used && sl->seq == s)
			return sl;
	}
	return NULL;
}

static uint32_t duration(const struct tnd_jb *jb, const struct slot *s)
{
	const struct slot *n = slot_of(jb, s->seq + 1);

	if (s->samples)
		return s->samples;
	if (n->used && n->seq == s->seq + 1 && n->ts > s->ts &&
	    n->ts - s->ts <= jb->conf.clock_rate / 8)
		return (uint32_t)(n->ts - s->ts);
	return jb->dur;
}

static void to_frame(const struct tnd_jb *jb, const struct slot *s, struct tnd_jb_frame *f)
{
	f->data = s->data;
	f->len = s->len;
	f->seq = (uint16_t)s->seq;
	f->ts = (uint32_t)s->ts;
	f->samples = duration(jb, s);
	f->marker = s->marker;
}

static void release(struct tnd_jb *jb, struct slot *s)
{
	s->used = false;
	jb->held--;
	advance(jb, 1, true);
}

static enum tnd_jb_res play(struct tnd_jb *jb, struct slot *s, uint64_t now,
			    struct tnd_jb_frame *frame)
{
	int64_t v = vdelay(jb, now, s->ts);
	uint64_t hold = now - s->arrival;

	if (frame)
		to_frame(jb, s, frame);
	jb->play_ts = s->ts + duration(jb, s);
	jb->last_out_ts = s->ts;
	jb->have_out = true;
	release(jb, s);
	jb->st.played++;
	jb->since_skip++;
	jb->st.delay_us = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	jb->st.hold_us = hold > UINT32_MAX ? UINT32_MAX : (uint32_t)hold;
	return TND_JB_FRAME;
}

/* The frame at the play-out point is held: play it, wait, or skip it. */
static int at_frame(struct tnd_jb *jb, struct slot *s, uint64_t now,
		    struct tnd_jb_frame *frame)
{
	int64_t v = vdelay(jb, now, s->ts), t = target(jb);
	int64_t hyst = 2 * (int64_t)duration(jb, s) * 1000000 / jb->conf.clock_rate;
	struct slot *n = slot_of(jb, s->seq + 1);

	if (jb->have_out && s->ts - jb->last_out_ts >= (1LL << 31)) {
		/* a 32-bit timestamp can no longer show the order: a new timeline */
		jb->st.resyncs++;
		jb->have_out = false;
	}
	if (jb->have_out && s->ts < jb->last_out_ts) {
		/* timestamp went backwards within the stream: never hand it out */
		jb->st.dropped++;
		release(jb, s);
		return -1;
	}
	if (v < t) {
		if (s->ts <= jb->play_ts)
			jb->st.grows++;  /* not a silence gap: the delay grows a tick */
		return TND_JB_EMPTY;
	}
	if (v > t + hyst && jb->since_skip >= SKIP_EVERY && n->used && n->seq == s->seq + 1) {
		jb->st.dropped++;
		jb->st.shrinks++;
		jb->since_skip = 0;
		release(jb, s);
		return -1;
	}
	return (int)play(jb, s, now, frame);
}

enum tnd_jb_res tnd_jb_get(struct tnd_jb *jb, uint64_t now_us, struct tnd_jb_frame *frame)
{
	if (!jb || !jb->synced)
		return TND_JB_EMPTY;
	/* each pass either returns or removes a held frame: bounded by capacity */
	for (unsigned pass = 0; pass <= jb->conf.capacity; pass++) {
		struct slot *s = first_held(jb);
		int r;

		if (!s) {
			/* dry: time still passes, so a late packet is known as late */
			if (jb->started && vdelay(jb, now_us, jb->play_ts) >= target(jb))
				jb->play_ts += jb->dur;
			return TND_JB_EMPTY;
		}
		if (!jb->started) {
			if (vdelay(jb, now_us, s->ts) < target(jb))
				return TND_JB_EMPTY;
			jb->started = true;
		}
		if (s->seq > jb->next_seq) {
			if (jb->play_ts < s->ts) {
				if (vdelay(jb, now_us, jb->play_ts) < target(jb))
					return TND_JB_EMPTY;
				jb->st.lost++;
				jb->st.concealed++;
				jb->since_skip++;
				advance(jb, 1, false);
				jb->play_ts += jb->dur;
				return TND_JB_MISSING;
			}
			/* the gap's time is already used up: lost without concealment */
			jb->st.lost += (uint64_t)(s->seq - jb->next_seq);
			advance(jb, s->seq - jb->next_seq, false);
		}
		r = at_frame(jb, s, now_us, frame);
		if (r >= 0)
			return (enum tnd_jb_res)r;
	}
	return TND_JB_EMPTY;
}

bool tnd_jb_peek(const struct tnd_jb *jb, struct tnd_jb_frame *frame)
{
	const struct slot *s = jb && jb->synced ? first_held(jb) : NULL;

	if (!s)
		return false;
	if (frame)
		to_frame(jb, s, frame);
	return true;
}

void tnd_jb_stats(const struct tnd_jb *jb, struct tnd_jb_stats *st)
{
	if (!jb || !st)
		return;
	*st = jb->st;
	st->held = jb->held;
	st->target_us = (uint32_t)target(jb);
	st->jitter_us = (uint32_t)(jb->jitter16 / 16);
}
