/* RFC 4733 telephone-event: the payload (section 2.3), the receiver rules
 * that make each digit begin and end exactly once (section 2.5.2) and the
 * sender's packet sequence (section 2.5.1).
 *
 * An event is named by its RTP timestamp (section 2.5.2.1): packets with the
 * current timestamp only lengthen it, a newer timestamp starts another event
 * (ending the current one if its E bit never came), and older ones are late
 * retransmissions or reordered packets of events already reported. Events
 * longer than the 16-bit duration continue in segments whose timestamp is the
 * old one plus the saturated duration, without the marker bit (sections
 * 2.5.1.3, 2.5.2.3). Sequence numbers only feed the counters.
 *
 * Media worker, per packet: no allocation, no lock, no logging (the counters
 * in struct tnd_dtmf_rx_stats say what was dropped). */
#include <errno.h>
#include <string.h>

#include "codecs/codecs.h"

/* A new segment of a long event starts where the old one saturated; we accept
 * a little less than 0xFFFF in case its last packets were lost. */
#define SEG_MAX 0xFFFFu
#define SEG_MIN 0xF000u
#define END_PACKETS 3
#define RX_TIMEOUT_MS 1000
/* Packets older than this (seconds of event clock) than the reference are
 * not "late" but a timestamp that went round: 64 s is far beyond any jitter,
 * and far below the 2^31 units at which serial comparison breaks. */
#define LATE_WINDOW_S 64

static const char digits[] = "0123456789*#ABCD";

int tnd_dtmf_digit_event(char digit)
{
	const char *p;

	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	if (!digit)
		return -1;
	p = strchr(digits, digit);
	return p ? (int)(p - digits) : -1;
}

char tnd_dtmf_event_digit(int event)
{
	return event >= 0 && event < 16 ? digits[event] : 0;
}

int tnd_dtmf_ev_parse(const uint8_t *p, size_t len, struct tnd_dtmf_ev *ev)
{
	if (!p || !ev)
		return EINVAL;
	if (len < TND_DTMF_EV_SIZE || len % TND_DTMF_EV_SIZE)
		return EBADMSG;
	ev->event = p[0];
	ev->end = (p[1] & 0x80) != 0;
	ev->reserved = (p[1] & 0x40) != 0;
	ev->volume = p[1] & 0x3f;
	ev->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

int tnd_dtmf_ev_write(uint8_t *p, size_t size, const struct tnd_dtmf_ev *ev)
{
	if (!p || !ev || size < TND_DTMF_EV_SIZE || ev->volume > 63)
		return EINVAL;
	p[0] = ev->event;
	/* R is reserved: "MUST be zero" on send (section 2.3) */
	p[1] = (uint8_t)((ev->end ? 0x80 : 0) | ev->volume);
	p[2] = (uint8_t)(ev->duration >> 8);
	p[3] = (uint8_t)ev->duration;
	return 0;
}

/* ---------------------------------------------------------------- receiver */

int tnd_dtmf_rx_init(struct tnd_dtmf_rx *rx, uint32_t clock_rate, tnd_dtmf_h *h, void *arg)
{
	if (!rx || !h || clock_rate < 1000 || clock_rate > 192000)
		return EINVAL;
	memset(rx, 0, sizeof(*rx));
	rx->h = h;
	rx->arg = arg;
	rx->clock_rate = clock_rate;
	rx->timeout = (uint32_t)((uint64_t)clock_rate * RX_TIMEOUT_MS / 1000);
	return 0;
}

static uint32_t units_ms(const struct tnd_dtmf_rx *rx, uint32_t units)
{
	return (uint32_t)((uint64_t)units * 1000 / rx->clock_rate);
}

static void report(struct tnd_dtmf_rx *rx, bool end)
{
	struct tnd_dtmf_digit d = {
		.digit = tnd_dtmf_event_digit(rx->event),
		.end = end,
		.volume = rx->volume,
		.start = rx->start_ts,
	};

	if (end) {
		d.duration = rx->base + rx->seg_dur;
		d.duration_ms = units_ms(rx, d.duration);
		rx->active = false;
		rx->have_last = true;
		rx->last_ts = rx->seg_ts;
	}
	rx->h(&d, rx->arg);
}

/* a is older than b by at most the late window */
static bool ts_older(const struct tnd_dtmf_rx *rx, uint32_t a, uint32_t b)
{
	uint32_t d = b - a;

	return d != 0 && d <= rx->clock_rate * LATE_WINDOW_S;
}

/* A newer timestamp for the active event's code: the next segment of a long
 * event (section 2.5.2.3), or a new press of the same key? A new press has
 * the marker bit, or at least a gap after the old one's reported end. */
static bool is_next_segment(const struct tnd_dtmf_rx *rx, const struct tnd_dtmf_ev *ev,
			    uint32_t ts, bool marker)
{
	uint32_t delta = ts - rx->seg_ts;

	return ev->event == rx->event && !marker && delta <= SEG_MAX && delta >= SEG_MIN &&
	       delta >= rx->seg_dur;
}

static void rx_block(struct tnd_dtmf_rx *rx, const struct tnd_dtmf_ev *ev, uint32_t ts,
		     bool marker)
{
	if (ev->event > 15) {
		rx->stats.ignored++;
		return;
	}
	if (rx->active) {
		if (ts == rx->seg_ts) {
			/* a second code on one timestamp: the first one wins */
			if (ev->event != rx->event) {
				rx->stats.late++;
				return;
			}
			if (ev->duration > rx->seg_dur)
				rx->seg_dur = ev->duration;
			if (ev->end)
				report(rx, true);
			return;
		}
		if (ts_older(rx, ts, rx->seg_ts)) {
			rx->stats.late++;
			return;
		}
		if (is_next_segment(rx, ev, ts, marker)) {
			rx->base += ts - rx->seg_ts;
			rx->seg_ts = ts;
			rx->seg_dur = ev->duration;
			if (ev->end)
				report(rx, true);
			return;
		}
		/* a newer event: the current one ended, its E bits lost */
		report(rx, true);
	} else if (rx->have_last && (ts == rx->last_ts || ts_older(rx, ts, rx->last_ts))) {
		rx->stats.late++;   /* the 2nd and 3rd end packet, or a retransmission */
		return;
	}
	/* a new event; with its first packets lost we learn of it late but its
	 * timestamp still says when it began (section 2.5.2.1) */
	rx->active = true;
	rx->event = ev->event;
	rx->volume = ev->volume;
	rx->start_ts = ts;
	rx->seg_ts = ts;
	rx->base = 0;
	rx->seg_dur = ev->duration;
	report(rx, false);
	if (ev->end)
		report(rx, true);
}

int tnd_dtmf_rx_packet(struct tnd_dtmf_rx *rx, const uint8_t *payload, size_t len,
		       uint32_t ts, uint16_t seq, bool marker)
{
	struct tnd_dtmf_ev ev;
	size_t n;
	int err;

	if (!rx || !payload)
		return EINVAL;
	rx->stats.packets++;
	err = tnd_dtmf_ev_parse(payload, len, &ev);
	if (err) {
		rx->stats.bad++;
		return err;
	}
	if (rx->have_seq && (int16_t)(seq - rx->max_seq) < 0) {
		rx->stats.reordered++;
	} else {
		rx->max_seq = seq;
		rx->have_seq = true;
	}
	/* Several events in one packet (section 2.5.1.5) are consecutive and
	 * contiguous: each begins where the one before it ended. Later blocks
	 * are new events, never segments, hence marker = true for them. */
	n = len / TND_DTMF_EV_SIZE;
	if (n > TND_DTMF_EV_MAX_BLOCKS)
		n = TND_DTMF_EV_MAX_BLOCKS;
	for (size_t i = 0; i < n; i++) {
		if (i)
			(void)tnd_dtmf_ev_parse(payload + i * TND_DTMF_EV_SIZE, TND_DTMF_EV_SIZE,
						&ev);
		rx_block(rx, &ev, ts, marker || i > 0);
		ts += ev.duration;
	}
	return 0;
}

void tnd_dtmf_rx_tick(struct tnd_dtmf_rx *rx, uint32_t now)
{
	if (!rx || !rx->active)
		return;
	if ((int32_t)(now - (rx->seg_ts + rx->seg_dur)) > (int32_t)rx->timeout) {
		rx->stats.timeouts++;
		report(rx, true);
	}
}

void tnd_dtmf_rx_reset(struct tnd_dtmf_rx *rx)
{
	if (!rx)
		return;
	if (rx->active)
		report(rx, true);
	rx->active = false;
	rx->have_last = false;
	rx->have_seq = false;
}

/* ------------------------------------------------------------------ sender */

int tnd_dtmf_tx_start(struct tnd_dtmf_tx *tx, char digit, uint32_t duration_ms,
		      uint8_t volume, uint32_t clock_rate, uint32_t ptime_ms,
		      uint32_t start_ts)
{
	int ev = tnd_dtmf_digit_event(digit);

	if (!tx || ev < 0 || volume > 63 || duration_ms < 1 || duration_ms > 600000 ||
	    clock_rate < 1000 || clock_rate > 192000 || ptime_ms < 10 || ptime_ms > 100)
		return EINVAL;
	memset(tx, 0, sizeof(*tx));
	tx->event = (uint8_t)ev;
	tx->volume = volume;
	tx->total = (uint32_t)((uint64_t)duration_ms * clock_rate / 1000);
	tx->ptime = (uint32_t)((uint64_t)ptime_ms * clock_rate / 1000);
	tx->ts = start_ts;
	tx->ends_left = END_PACKETS;
	tx->first = true;
	return 0;
}

static void tx_fill(const struct tnd_dtmf_tx *tx, struct tnd_dtmf_pkt *pkt, bool marker,
		    uint32_t at)
{
	struct tnd_dtmf_ev ev = {
		.event = tx->event,
		.end = tx->done == tx->total,
		.volume = tx->volume,
		.duration = (uint16_t)(tx->done - tx->seg_start),
	};

	(void)tnd_dtmf_ev_write(pkt->payload, sizeof(pkt->payload), &ev);
	pkt->ts = tx->ts + tx->seg_start;
	pkt->marker = marker;
	pkt->at = at;
}

bool tnd_dtmf_tx_next(struct tnd_dtmf_tx *tx, struct tnd_dtmf_pkt *pkt)
{
	uint32_t next;

	if (!tx || !pkt || !tx->ends_left)
		return false;
	if (tx->done == tx->total) {
		/* the end packet again, one packet interval apart (2.5.1.4) */
		uint32_t sent = END_PACKETS - tx->ends_left;

		tx->ends_left--;
		tx_fill(tx, pkt, false, tx->total + sent * tx->ptime);
		return true;
	}
	/* the last packet saturated its segment: the next one opens a new
	 * segment at the saturation point, without the marker (2.5.1.3) */
	if (tx->done - tx->seg_start == SEG_MAX)
		tx->seg_start = tx->done;
	next = tx->done + tx->ptime;
	if (next > tx->total)
		next = tx->total;
	if (next - tx->seg_start > SEG_MAX)
		next = tx->seg_start + SEG_MAX;
	tx->done = next;
	tx_fill(tx, pkt, tx->first, next);
	tx->first = false;
	if (tx->done == tx->total)
		tx->ends_left--;
	return true;
}
