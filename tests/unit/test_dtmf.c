/* codecs/ DTMF at signal level: RFC 4733 packet sequences (normal, end lost,
 * start lost, reordered, duplicated, long events past the 16-bit duration,
 * packed events) must give each digit exactly once with its duration; the
 * sender's packets must round-trip through the receiver; spandsp's detector
 * must find every digit of tones made by spandsp and by our own sine sums,
 * and nothing in a chord or noise; SIP INFO bodies parse and refuse junk. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"
#include "tests/unit/runner.h"

#define MAXREC 64

struct rec {
	int n;
	struct tnd_dtmf_digit d[MAXREC];
};

static void on_digit(const struct tnd_dtmf_digit *d, void *arg)
{
	struct rec *r = arg;

	if (r->n < MAXREC)
		r->d[r->n] = *d;
	r->n++;
}

/* The digits of a record as "5+5-" (begin, end) for compact asserts. */
static const char *rec_str(const struct rec *r)
{
	static char s[2 * MAXREC + 1];
	int k = 0;

	for (int i = 0; i < r->n && i < MAXREC; i++) {
		s[k++] = r->d[i].digit;
		s[k++] = r->d[i].end ? '-' : '+';
	}
	s[k] = 0;
	return s;
}

/* ------------------------------------------------------------ RFC 4733 */

struct pkt {
	uint8_t pl[4];
	uint32_t ts;
	uint16_t seq;
	bool marker;
};

/* The sender's packets for one digit, numbered from seq. */
static int make_pkts(struct pkt *p, int max, char digit, uint32_t ms, uint32_t rate,
		     uint32_t ts, uint16_t seq)
{
	struct tnd_dtmf_tx tx;
	struct tnd_dtmf_pkt tp;
	int n = 0;

	if (tnd_dtmf_tx_start(&tx, digit, ms, 10, rate, 20, ts))
		return -1;
	while (n < max && tnd_dtmf_tx_next(&tx, &tp)) {
		memcpy(p[n].pl, tp.payload, 4);
		p[n].ts = tp.ts;
		p[n].marker = tp.marker;
		p[n].seq = (uint16_t)(seq + n);
		n++;
	}
	return n;
}

static void feed(struct tnd_dtmf_rx *rx, const struct pkt *p)
{
	(void)tnd_dtmf_rx_packet(rx, p->pl, 4, p->ts, p->seq, p->marker);
}

static int test_ev_parse_write(void)
{
	struct tnd_dtmf_ev ev = { .event = 11, .end = true, .volume = 10, .duration = 0x1234 };
	uint8_t b[8];

	TEST_ASSERT(tnd_dtmf_ev_write(b, sizeof(b), &ev) == 0);
	TEST_ASSERT(b[0] == 11 && b[1] == 0x8a && b[2] == 0x12 && b[3] == 0x34);
	memset(&ev, 0xff, sizeof(ev));
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 4, &ev) == 0);
	TEST_ASSERT(ev.event == 11 && ev.end && !ev.reserved && ev.volume == 10 &&
		    ev.duration == 0x1234);
	/* R set by a sender: read, not refused, and never written back */
	b[1] = 0x40 | 5;
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 4, &ev) == 0 && ev.reserved && !ev.end &&
		    ev.volume == 5);
	TEST_ASSERT(tnd_dtmf_ev_write(b, 4, &ev) == 0 && b[1] == 5);
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 3, &ev) == EBADMSG);
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 5, &ev) == EBADMSG);
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 0, &ev) == EBADMSG);
	TEST_ASSERT(tnd_dtmf_ev_parse(b, 8, &ev) == 0);
	ev.volume = 64;
	TEST_ASSERT(tnd_dtmf_ev_write(b, 4, &ev) == EINVAL);
	TEST_ASSERT(tnd_dtmf_ev_write(b, 3, &ev) == EINVAL);
	for (int e = 0; e < 16; e++)
		TEST_ASSERT(tnd_dtmf_digit_event(tnd_dtmf_event_digit(e)) == e);
	TEST_ASSERT(tnd_dtmf_digit_event('b') == 13 && tnd_dtmf_digit_event('E') == -1 &&
		    tnd_dtmf_digit_event(0) == -1 && tnd_dtmf_event_digit(16) == 0);
	return 0;
}

static int test_tx_sequence(void)
{
	static const uint32_t rates[] = { 8000, 16000, 48000 };

	for (size_t r = 0; r < 3; r++) {
		struct tnd_dtmf_tx tx;
		struct tnd_dtmf_pkt p;
		struct tnd_dtmf_ev ev;
		uint32_t ptime = rates[r] / 50, total = rates[r] / 10, last_dur = 0, last_at = 0;
		int n = 0, ends = 0;

		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '#', 100, 10, rates[r], 20, 0xfffffff0u) == 0);
		while (tnd_dtmf_tx_next(&tx, &p)) {
			TEST_ASSERT(tnd_dtmf_ev_parse(p.payload, 4, &ev) == 0);
			TEST_ASSERT(ev.event == 11 && ev.volume == 10);
			TEST_ASSERT(p.ts == 0xfffffff0u);
			TEST_ASSERT(p.marker == (n == 0));
			TEST_ASSERT(ev.duration >= last_dur && p.at >= last_at);
			if (!ev.end)
				TEST_ASSERT(ev.duration == (uint32_t)(n + 1) * ptime);
			else
				TEST_ASSERT(ev.duration == total && p.at == total + ends++ * ptime);
			last_dur = ev.duration;
			last_at = p.at;
			n++;
		}
		/* 100 ms at 20 ms: 5 reports, the 5th the first of 3 ends */
		TEST_ASSERT(n == 7 && ends == 3);
		TEST_ASSERT(!tnd_dtmf_tx_next(&tx, &p));
	}
	{
		struct tnd_dtmf_tx tx;

		TEST_ASSERT(tnd_dtmf_tx_start(&tx, 'x', 100, 10, 8000, 20, 0) == EINVAL);
		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '1', 0, 10, 8000, 20, 0) == EINVAL);
		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '1', 100, 64, 8000, 20, 0) == EINVAL);
		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '1', 100, 10, 0, 20, 0) == EINVAL);
		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '1', 100, 10, 8000, 5, 0) == EINVAL);
	}
	return 0;
}

/* The sender's packets for every digit at every rate, in order, through
 * one receiver: each digit once, with its exact duration and timestamp. */
static int test_tx_rx_roundtrip(void)
{
	static const uint32_t rates[] = { 8000, 16000, 48000 };
	static const char digs[] = "0123456789*#ABCD";

	for (size_t r = 0; r < 3; r++) {
		struct tnd_dtmf_rx rx;
		struct rec rec = { 0 };
		struct pkt p[32];
		uint32_t ts = 1000;
		uint16_t seq = 65530;   /* wraps on the way */

		TEST_ASSERT(tnd_dtmf_rx_init(&rx, rates[r], on_digit, &rec) == 0);
		for (int i = 0; i < 16; i++) {
			uint32_t ms = 60 + 10 * (uint32_t)i;
			int n = make_pkts(p, 32, digs[i], ms, rates[r], ts, seq);

			TEST_ASSERT(n > 3);
			for (int k = 0; k < n; k++)
				feed(&rx, &p[k]);
			TEST_ASSERT(rec.n == 2 * (i + 1));
			TEST_ASSERT(rec.d[2 * i].digit == digs[i] && !rec.d[2 * i].end);
			TEST_ASSERT(rec.d[2 * i].start == ts && rec.d[2 * i].volume == 10);
			TEST_ASSERT(rec.d[2 * i + 1].end && rec.d[2 * i + 1].digit == digs[i]);
			TEST_ASSERT(rec.d[2 * i + 1].duration == ms * rates[r] / 1000);
			TEST_ASSERT(rec.d[2 * i + 1].duration_ms == ms);
			ts += ms * rates[r] / 1000 + rates[r] / 10;
			seq = (uint16_t)(seq + n);
		}
		TEST_ASSERT(rx.stats.late == 32 && rx.stats.reordered == 0 && rx.stats.bad == 0);
	}
	return 0;
}

static int test_rx_end_lost(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct pkt p[16], q[16];
	int n = make_pkts(p, 16, '7', 100, 8000, 5000, 1);
	int m = make_pkts(q, 16, '7', 100, 8000, 7000, (uint16_t)(1 + n));

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, on_digit, &rec) == 0);
	/* all three end packets of the first press lost: the second press (same
	 * key, marker) ends it with the last duration reported, 80 ms */
	for (int k = 0; k < n - 3; k++)
		feed(&rx, &p[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "7+") == 0);
	tnd_dtmf_rx_tick(&rx, 5000 + 640 + 7999);  /* not yet 1 s of silence */
	TEST_ASSERT(rec.n == 1);
	for (int k = 0; k < m - 3; k++)
		feed(&rx, &q[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "7+7-7+") == 0);
	TEST_ASSERT(rec.d[1].duration == 640 && rec.d[2].start == 7000);
	/* the second's ends lost too: time ends it, once */
	tnd_dtmf_rx_tick(&rx, 7000 + 640 + 8001);
	tnd_dtmf_rx_tick(&rx, 7000 + 640 + 9000);
	TEST_ASSERT(strcmp(rec_str(&rec), "7+7-7+7-") == 0);
	TEST_ASSERT(rec.d[3].duration == 640 && rx.stats.timeouts == 1);
	/* its end packets arrive after all: late, nothing new */
	for (int k = m - 3; k < m; k++)
		feed(&rx, &q[k]);
	TEST_ASSERT(rec.n == 4);
	return 0;
}

static int test_rx_start_lost(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct pkt p[16], q[16];
	int n = make_pkts(p, 16, '3', 120, 8000, 100, 1);
	int m = make_pkts(q, 16, 'D', 60, 8000, 3000, 50);

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, on_digit, &rec) == 0);
	/* the marker packet and the next update lost */
	for (int k = 2; k < n; k++)
		feed(&rx, &p[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "3+3-") == 0);
	TEST_ASSERT(rec.d[0].start == 100 && rec.d[1].duration == 960);
	/* only an end packet of the next digit arrives: begin and end at once */
	feed(&rx, &q[m - 1]);
	TEST_ASSERT(strcmp(rec_str(&rec), "3+3-D+D-") == 0);
	TEST_ASSERT(rec.d[2].start == 3000 && rec.d[3].duration == 480);
	return 0;
}

static int test_rx_reordered(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct pkt p[16], q[16];
	int n = make_pkts(p, 16, '9', 100, 16000, 0, 100);
	int m = make_pkts(q, 16, '1', 100, 16000, 4000, (uint16_t)(100 + n));

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 16000, on_digit, &rec) == 0);
	/* update 2 before update 1, the first end before the last update */
	feed(&rx, &p[1]);
	feed(&rx, &p[0]);
	feed(&rx, &p[2]);
	feed(&rx, &p[4]);
	feed(&rx, &p[3]);
	TEST_ASSERT(strcmp(rec_str(&rec), "9+9-") == 0);
	TEST_ASSERT(rec.d[0].start == 0 && rec.d[1].duration == 1600);
	/* the next digit overtakes the old end retransmissions */
	feed(&rx, &q[0]);
	feed(&rx, &p[5]);
	feed(&rx, &q[1]);
	feed(&rx, &p[6]);
	for (int k = 2; k < m; k++)
		feed(&rx, &q[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "9+9-1+1-") == 0);
	TEST_ASSERT(rec.d[3].duration == 1600 && rec.d[2].start == 4000);
	TEST_ASSERT(rx.stats.reordered == 4);
	return 0;
}

static int test_rx_duplicated(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct pkt p[16];
	int n = make_pkts(p, 16, '*', 200, 48000, 123456, 7);

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 48000, on_digit, &rec) == 0);
	for (int k = 0; k < n; k++) {
		feed(&rx, &p[k]);
		feed(&rx, &p[k]);
	}
	/* a retransmission of the whole sequence much later */
	for (int k = 0; k < n; k++)
		feed(&rx, &p[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "*+*-") == 0);
	TEST_ASSERT(rec.d[1].duration == 9600 && rec.d[1].duration_ms == 200);
	return 0;
}

/* RFC 4733 section 2.5.1.3 / 2.5.2.3: past 0xFFFF units the event goes on in
 * segments, each stamped where the last one saturated, without the marker. */
static int test_rx_long_event(void)
{
	static const struct { uint32_t rate, ms; } cases[] = {
		{ 48000, 3000 },    /* 144000 units: 3 segments */
		{ 8000, 10000 },    /* 80000 units: 2 segments */
		{ 16000, 4096 },    /* 65536 units: 1 unit past the first */
	};

	for (size_t c = 0; c < 3; c++) {
		struct tnd_dtmf_rx rx;
		struct rec rec = { 0 };
		struct tnd_dtmf_tx tx;
		struct tnd_dtmf_pkt tp;
		uint32_t total = cases[c].ms * (cases[c].rate / 1000);
		uint32_t start = 0xffff0000u;  /* the timestamp wraps too */
		int markers = 0, segs = 0;
		uint32_t last_ts = start;
		uint16_t seq = 0;

		TEST_ASSERT(tnd_dtmf_rx_init(&rx, cases[c].rate, on_digit, &rec) == 0);
		TEST_ASSERT(tnd_dtmf_tx_start(&tx, '0', cases[c].ms, 3, cases[c].rate, 50,
					      start) == 0);
		while (tnd_dtmf_tx_next(&tx, &tp)) {
			markers += tp.marker;
			if (tp.ts != last_ts) {
				TEST_ASSERT(tp.ts - last_ts == 0xFFFF);
				segs++;
				last_ts = tp.ts;
			}
			TEST_ASSERT(tnd_dtmf_rx_packet(&rx, tp.payload, 4, tp.ts, seq++,
						       tp.marker) == 0);
		}
		TEST_ASSERT(markers == 1 && segs == (int)((total - 1) / 0xFFFF));
		TEST_ASSERT(strcmp(rec_str(&rec), "0+0-") == 0);
		TEST_ASSERT(rec.d[0].start == start && rec.d[1].start == start);
		TEST_ASSERT(rec.d[1].duration == total && rec.d[1].duration_ms == cases[c].ms);
	}
	return 0;
}

/* A long event received with packets lost around the segment boundary. */
static int test_rx_long_event_loss(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct tnd_dtmf_tx tx;
	struct tnd_dtmf_pkt tp;
	uint16_t seq = 0;

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, on_digit, &rec) == 0);
	TEST_ASSERT(tnd_dtmf_tx_start(&tx, '#', 9000, 0, 8000, 20, 0) == 0);
	while (tnd_dtmf_tx_next(&tx, &tp)) {
		struct tnd_dtmf_ev ev;

		seq++;
		(void)tnd_dtmf_ev_parse(tp.payload, 4, &ev);
		/* the last 5 packets of the first segment and the first 2 of the
		 * second are lost */
		if ((tp.ts == 0 && ev.duration > 0xFFFF - 800) ||
		    (tp.ts == 0xFFFF && ev.duration <= 320))
			continue;
		(void)tnd_dtmf_rx_packet(&rx, tp.payload, 4, tp.ts, seq, tp.marker);
	}
	TEST_ASSERT(strcmp(rec_str(&rec), "#+#-") == 0);
	TEST_ASSERT(rec.d[1].duration == 72000);
	return 0;
}

/* Two presses of one key: two digits, even with the 2nd's marker lost. */
static int test_rx_same_key_twice(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	struct pkt p[16], q[16];
	int n = make_pkts(p, 16, '5', 100, 8000, 0, 1);
	int m = make_pkts(q, 16, '5', 100, 8000, 1600, (uint16_t)(1 + n));

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, on_digit, &rec) == 0);
	for (int k = 0; k < n - 3; k++)
		feed(&rx, &p[k]);
	for (int k = 1; k < m; k++)
		feed(&rx, &q[k]);
	TEST_ASSERT(strcmp(rec_str(&rec), "5+5-5+5-") == 0);
	TEST_ASSERT(rec.d[2].start == 1600 && rec.d[3].duration == 800);
	return 0;
}

static int test_rx_other_events(void)
{
	struct tnd_dtmf_rx rx;
	struct rec rec = { 0 };
	uint8_t flash[4] = { 16, 0x8a, 0, 160 }, odd[5] = { 1, 0x80, 0, 160, 0 };
	uint8_t packed[12] = { 1, 0x8a, 0, 80, 2, 0x8a, 0, 80, 3, 0x0a, 0, 40 };

	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, on_digit, &rec) == 0);
	TEST_ASSERT(tnd_dtmf_rx_packet(&rx, flash, 4, 10, 1, true) == 0);
	TEST_ASSERT(rec.n == 0 && rx.stats.ignored == 1);
	TEST_ASSERT(tnd_dtmf_rx_packet(&rx, odd, 5, 20, 2, true) == EBADMSG);
	TEST_ASSERT(tnd_dtmf_rx_packet(&rx, odd, 3, 20, 3, true) == EBADMSG);
	TEST_ASSERT(rec.n == 0 && rx.stats.bad == 2);
	/* section 2.5.1.5: "1" and "2" ended, "3" going on, back to back */
	TEST_ASSERT(tnd_dtmf_rx_packet(&rx, packed, 12, 1000, 4, true) == 0);
	TEST_ASSERT(strcmp(rec_str(&rec), "1+1-2+2-3+") == 0);
	TEST_ASSERT(rec.d[2].start == 1080 && rec.d[4].start == 1160);
	TEST_ASSERT(tnd_dtmf_rx_packet(&rx, packed, 12, 1000, 5, false) == 0);
	TEST_ASSERT(rec.n == 5);
	tnd_dtmf_rx_reset(&rx);
	TEST_ASSERT(strcmp(rec_str(&rec), "1+1-2+2-3+3-") == 0 && rec.d[5].duration == 40);
	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 0, on_digit, &rec) == EINVAL);
	TEST_ASSERT(tnd_dtmf_rx_init(&rx, 8000, NULL, &rec) == EINVAL);
	return 0;
}

/* ---------------------------------------------------------------- in-band */

#define RATE 8000
#define TONE_MS 100
#define GAP_MS 100

static const char all_digits[] = "0123456789*#ABCD";

/* Feeds a whole signal to a new detector in pieces of `chunk` samples. */
static int detect(const int16_t *pcm, size_t n, size_t chunk, uint32_t pos0, struct rec *rec)
{
	struct tnd_dtmf_det *det = NULL;
	int err = tnd_dtmf_det_alloc(&det, on_digit, rec);

	if (err)
		return err;
	for (size_t i = 0; i < n; i += chunk) {
		size_t k = n - i < chunk ? n - i : chunk;

		tnd_dtmf_det_process(det, pcm + i, k, pos0 + (uint32_t)i);
	}
	tnd_dtmf_det_free(det);
	return 0;
}

/* Checks that rec holds each of `digs` begun and ended in order, starting
 * at pos0 + i * (TONE_MS + GAP_MS) and lasting TONE_MS, within 16 ms, and
 * with a volume (-dBm0 of both tones together) within 4 dB of `vol`. */
static int check_sequence(const struct rec *rec, const char *digs, uint32_t pos0, int vol)
{
	size_t nd = strlen(digs);

	if (rec->n != (int)(2 * nd)) {
		printf("# detected %s\n", rec_str(rec));
		return 1;
	}
	for (size_t i = 0; i < nd; i++) {
		const struct tnd_dtmf_digit *b = &rec->d[2 * i], *e = &rec->d[2 * i + 1];
		int32_t want = (int32_t)(pos0 + i * (TONE_MS + GAP_MS) * 8);

		if (b->digit != digs[i] || b->end || e->digit != digs[i] || !e->end ||
		    abs((int32_t)b->start - want) > 128 || e->start != b->start ||
		    abs((int)e->duration_ms - TONE_MS) > 16 || abs(b->volume - vol) > 4) {
			printf("# digit %zu: %c start %u (want %d) %u ms vol %u\n", i, b->digit,
			       b->start, want, e->duration_ms, b->volume);
			return 1;
		}
	}
	return 0;
}

static int test_inband_spandsp_tones(void)
{
	struct tnd_dtmf_gen *gen = NULL;
	size_t n = (strlen(all_digits) * (TONE_MS + GAP_MS) + 200) * 8, got;
	int16_t *pcm = calloc(n, sizeof(*pcm));
	static const size_t chunks[] = { 160, 37, 102, 1000 };
	int rc = 1;

	TEST_ASSERT(pcm);
	if (tnd_dtmf_gen_alloc(&gen))
		goto out;
	for (const char *d = all_digits; *d; d++)
		if (tnd_dtmf_gen_put(gen, *d, TONE_MS, GAP_MS, -10))
			goto out;
	/* written in 20 ms frames, as the bridge will */
	got = 0;
	while (tnd_dtmf_gen_busy(gen) && got + 160 <= n)
		got += tnd_dtmf_gen_fill(gen, pcm + got, 160);
	if (got != strlen(all_digits) * (TONE_MS + GAP_MS) * 8 || tnd_dtmf_gen_busy(gen)) {
		printf("# generated %zu samples\n", got);
		goto out;
	}
	for (size_t c = 0; c < 4; c++) {
		struct rec rec = { 0 };

		if (detect(pcm, n, chunks[c], 4242, &rec) ||
		    check_sequence(&rec, all_digits, 4242, 7)) {
			printf("# chunk %zu\n", chunks[c]);
			goto out;
		}
	}
	rc = 0;
 out:
	tnd_dtmf_gen_free(gen);
	free(pcm);
	return rc;
}

static const double low_f[4] = { 697, 770, 852, 941 };
static const double high_f[4] = { 1209, 1336, 1477, 1633 };
static const char keypad[4][5] = { "123A", "456B", "789C", "*0#D" };

/* Our own generator, independent of spandsp: the sum of the two Q.23 sines
 * of each digit at `dbm0` dBm0 each (0 dBm0 is a sine of peak 32768 *
 * 10^(-3.14/20), the mu-law reference). */
static void sine_digits(int16_t *pcm, const char *digs, double dbm0, double detune)
{
	double amp = 32768.0 * pow(10.0, (dbm0 - 3.14) / 20.0);
	size_t at = 0;

	for (const char *d = digs; *d; d++) {
		double fl = 0, fh = 0;

		for (int r = 0; r < 4; r++)
			for (int c = 0; c < 4; c++)
				if (keypad[r][c] == *d) {
					fl = low_f[r] * detune;
					fh = high_f[c] * detune;
				}
		for (int i = 0; i < TONE_MS * 8; i++) {
			double t = (double)i / RATE;

			pcm[at + (size_t)i] = (int16_t)lrint(amp * (sin(2 * M_PI * fl * t) +
								    sin(2 * M_PI * fh * t)));
		}
		at += (TONE_MS + GAP_MS) * 8;
	}
}

/* A 20 ms frame lost inside every tone: each digit still once, its start
 * and duration on the caller's timeline. */
static int test_inband_gap(void)
{
	size_t n = (strlen(all_digits) * (TONE_MS + GAP_MS) + 200) * 8;
	int16_t *pcm = calloc(n, sizeof(*pcm));
	struct tnd_dtmf_det *det = NULL;
	struct rec rec = { 0 };
	int rc = 1, lost = 0;

	TEST_ASSERT(pcm);
	sine_digits(pcm, all_digits, -10, 1.0);
	if (tnd_dtmf_det_alloc(&det, on_digit, &rec))
		goto out;
	for (size_t i = 0; i + 160 <= n; i += 160) {
		/* the 3rd 20 ms frame of every tone never arrives */
		if ((i / 160) % 10 == 2) {
			lost++;
			continue;
		}
		tnd_dtmf_det_process(det, pcm + i, 160, 1000 + (uint32_t)i);
	}
	if (lost < 15 || check_sequence(&rec, all_digits, 1000, 7))
		goto out;
	rc = 0;
 out:
	tnd_dtmf_det_free(det);
	free(pcm);
	return rc;
}

static int test_inband_sine_tones(void)
{
	size_t n = (strlen(all_digits) * (TONE_MS + GAP_MS) + 200) * 8;
	int16_t *pcm = calloc(n, sizeof(*pcm));
	struct rec rec = { 0 };
	uint32_t seed = 1;
	int rc = 1;

	TEST_ASSERT(pcm);
	sine_digits(pcm, all_digits, -10, 1.0);
	if (detect(pcm, n, 160, 0xfffff000u, &rec) ||
	    check_sequence(&rec, all_digits, 0xfffff000u, 7))
		goto out;
	/* 1 % off frequency, 20 dB lower, with noise 20 dB below the tones:
	 * Q.24 says these still count */
	memset(pcm, 0, n * sizeof(*pcm));
	sine_digits(pcm, all_digits, -30, 1.01);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		pcm[i] = (int16_t)(pcm[i] + (int)((seed >> 16) % 201) - 100);
	}
	memset(&rec, 0, sizeof(rec));
	if (detect(pcm, n, 160, 0, &rec) || check_sequence(&rec, all_digits, 0, 27))
		goto out;
	/* 4 % off is no DTMF (Q.24 rejects beyond 3.5 %) */
	memset(pcm, 0, n * sizeof(*pcm));
	sine_digits(pcm, all_digits, -10, 1.04);
	memset(&rec, 0, sizeof(rec));
	if (detect(pcm, n, 160, 0, &rec) || rec.n != 0) {
		printf("# detected off-frequency: %s\n", rec_str(&rec));
		goto out;
	}
	rc = 0;
 out:
	free(pcm);
	return rc;
}

static int test_inband_rejects_chord_and_noise(void)
{
	size_t n = 5 * RATE;
	int16_t *pcm = calloc(n, sizeof(*pcm));
	struct rec rec = { 0 };
	uint32_t seed = 7;
	int rc = 1;

	TEST_ASSERT(pcm);
	/* A440 and its octave, loud, with a slow tremolo like a held note */
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE;
		double env = 0.6 + 0.4 * sin(2 * M_PI * 5 * t);

		pcm[i] = (int16_t)lrint(9000 * env * (sin(2 * M_PI * 440 * t) +
						      0.7 * sin(2 * M_PI * 880 * t)));
	}
	if (detect(pcm, n, 160, 0, &rec) || rec.n) {
		printf("# chord detected as %s\n", rec_str(&rec));
		goto out;
	}
	/* white noise at about -10 dBm0 */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		pcm[i] = (int16_t)((int32_t)(seed >> 16) - 32768) / 4;
	}
	if (detect(pcm, n, 160, 0, &rec) || rec.n) {
		printf("# noise detected as %s\n", rec_str(&rec));
		goto out;
	}
	rc = 0;
 out:
	free(pcm);
	return rc;
}

/* Per-digit timing and level, and silence between. */
static int test_inband_gen_timing(void)
{
	struct tnd_dtmf_gen *gen = NULL;
	int16_t buf[8000] = { 0 };
	size_t got;
	int first = -1, last = -1, peak = 0;

	TEST_ASSERT(tnd_dtmf_gen_alloc(&gen) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '5', 80, 40, -20) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, 'x', 80, 40, -20) == EINVAL);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '5', 5, 40, -20) == EINVAL);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '5', 80, 40, 3) == EINVAL);
	got = tnd_dtmf_gen_fill(gen, buf, 8000);
	TEST_ASSERT(got == 120 * 8);
	for (int i = 0; i < (int)got; i++) {
		if (buf[i] && first < 0)
			first = i;
		if (buf[i])
			last = i;
		if (abs(buf[i]) > peak)
			peak = abs(buf[i]);
	}
	/* tone over the first 80 ms, then silence; two -20 dBm0 sines peak
	 * near 2 * 32768 * 10^(-23.14/20) = 4547 */
	TEST_ASSERT(first >= 0 && first < 8 && last >= 80 * 8 - 8 && last < 80 * 8);
	TEST_ASSERT(peak > 3500 && peak < 5200);
	TEST_ASSERT(!tnd_dtmf_gen_busy(gen) && tnd_dtmf_gen_fill(gen, buf, 10) == 0);
	for (int i = 0; i < TND_DTMF_GEN_QUEUE; i++)
		TEST_ASSERT(tnd_dtmf_gen_put(gen, '1', 40, 0, -10) == 0);
	TEST_ASSERT(tnd_dtmf_gen_put(gen, '1', 40, 0, -10) == ENOBUFS);
	tnd_dtmf_gen_free(gen);
	return 0;
}

static int test_inband_enomem(void)
{
	struct tnd_dtmf_det *det = NULL;
	struct tnd_dtmf_gen *gen = NULL;
	struct rec rec = { 0 };

	tnd_dtmf_warmup();
	tnd_obj_fail_after(1);
	TEST_ASSERT(tnd_dtmf_det_alloc(&det, on_digit, &rec) == ENOMEM && !det);
	tnd_obj_fail_after(1);
	TEST_ASSERT(tnd_dtmf_gen_alloc(&gen) == ENOMEM && !gen);
	tnd_obj_fail_after(0);
	TEST_ASSERT(tnd_dtmf_det_alloc(&det, NULL, &rec) == EINVAL);
	tnd_dtmf_det_free(NULL);
	tnd_dtmf_gen_free(NULL);
	return 0;
}

/* ------------------------------------------------------------- SIP INFO */

/* Parses from an exact-size heap copy, so ASan sees any read past len. */
static int relay(const char *s, char *digit, uint32_t *ms)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	int err;

	if (!copy)
		return ENOMEM;
	memcpy(copy, s, n);
	err = tnd_dtmf_relay_parse(copy, n, digit, ms);
	free(copy);
	return err;
}

static int plain(const char *s, char *digit)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	int err;

	if (!copy)
		return ENOMEM;
	memcpy(copy, s, n);
	err = tnd_dtmf_plain_parse(copy, n, digit);
	free(copy);
	return err;
}

static int test_info_relay_valid(void)
{
	static const struct { const char *body; char digit; uint32_t ms; } ok[] = {
		{ "Signal=5\r\nDuration=160\r\n", '5', 160 },
		{ "signal=5\nduration=160\n", '5', 160 },
		{ "SIGNAL = #\r\nDURATION = 250", '#', 250 },
		{ "  Signal=  *  \r\n\r\n", '*', TND_DTMF_INFO_DEFAULT_MS },
		{ "Signal=d\r\nDuration=0\r\n", 'D', TND_DTMF_INFO_DEFAULT_MS },
		{ "Signal=11\r\nDuration=100", '#', 100 },
		{ "Duration=90\r\nVolume=10\r\nSignal=0", '0', 90 },
		{ "Signal=1\rDuration=70\r", '1', 70 },
		{ "Signal=\t9\t\r\nDuration=999999999\r\n", '9', TND_DTMF_INFO_MAX_MS },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char d = 0;
		uint32_t ms = 0;
		int err = relay(ok[i].body, &d, &ms);

		if (err || d != ok[i].digit || ms != ok[i].ms) {
			printf("# case %zu: err %d digit %c ms %u\n", i, err, d ? d : '?', ms);
			return 1;
		}
	}
	return 0;
}

static int test_info_relay_invalid(void)
{
	static const struct { const char *body; int err; } bad[] = {
		{ "", EBADMSG },
		{ "\r\n\r\n", EBADMSG },
		{ "Duration=160\r\n", EBADMSG },
		{ "Signal=\r\n", EBADMSG },
		{ "Signal=55\r\n", ENOTSUP },
		{ "Signal=16\r\nDuration=100", ENOTSUP },
		{ "Signal=E", EBADMSG },
		{ "Signal=5x", EBADMSG },
		{ "Signal=-1", EBADMSG },
		{ "Signal=5\r\nDuration=abc", EBADMSG },
		{ "Signal=5\r\nDuration=-5", EBADMSG },
		{ "Signal=5\r\nDuration=1234567890", EBADMSG },
		{ "Signal=5\r\nSignal=6", EBADMSG },
		{ "Signal=5\r\nDuration=1\r\nDuration=2", EBADMSG },
		{ "hello world", EBADMSG },
		{ "=5", EBADMSG },
		{ "Signal 5", EBADMSG },
		{ "Signal=5\x01", EBADMSG },
		{ "<xml>Signal=5</xml>", EBADMSG },
	};
	char d = 'z', nul[] = { 'S', 'i', 'g', 'n', 'a', 'l', '=', '5', '\0', '6' };
	uint32_t ms = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = relay(bad[i].body, &d, &ms);

		if (err != bad[i].err || d != 'z' || ms != 77) {
			printf("# case %zu (%s): err %d\n", i, bad[i].body, err);
			return 1;
		}
	}
	TEST_ASSERT(tnd_dtmf_relay_parse(nul, sizeof(nul), &d, &ms) == EBADMSG);
	/* the length bounds the read: the digit after it is not seen */
	TEST_ASSERT(tnd_dtmf_relay_parse("Signal=5\r\nDuration=16099", 22, &d, &ms) == 0 &&
		    d == '5' && ms == 160);
	TEST_ASSERT(tnd_dtmf_relay_parse("Signal=5", 7, &d, &ms) == EBADMSG);
	return 0;
}

static int test_info_plain(void)
{
	char d = 0;

	TEST_ASSERT(plain("5", &d) == 0 && d == '5');
	TEST_ASSERT(plain(" #\r\n", &d) == 0 && d == '#');
	TEST_ASSERT(plain("b\n", &d) == 0 && d == 'B');
	TEST_ASSERT(plain("10", &d) == 0 && d == '*');
	d = 'z';
	TEST_ASSERT(plain("", &d) == EBADMSG && d == 'z');
	TEST_ASSERT(plain(" \r\n", &d) == EBADMSG);
	TEST_ASSERT(plain("55", &d) == ENOTSUP);
	TEST_ASSERT(plain("5 6", &d) == EBADMSG);
	TEST_ASSERT(plain("x", &d) == EBADMSG);
	TEST_ASSERT(plain("Signal=5", &d) == EBADMSG);
	TEST_ASSERT(tnd_dtmf_plain_parse("56", 1, &d) == 0 && d == '5');
	TEST_ASSERT(d == '5');
	return 0;
}

static int test_info_write_roundtrip(void)
{
	char buf[64], d;
	size_t len = 0;
	uint32_t ms;

	for (const char *p = all_digits; *p; p++) {
		TEST_ASSERT(tnd_dtmf_relay_write(buf, sizeof(buf), *p, 160, &len) == 0);
		TEST_ASSERT(len == strlen(buf));
		TEST_ASSERT(tnd_dtmf_relay_parse(buf, len, &d, &ms) == 0 && d == *p && ms == 160);
		TEST_ASSERT(tnd_dtmf_plain_write(buf, sizeof(buf), *p, &len) == 0 && len == 3);
		TEST_ASSERT(tnd_dtmf_plain_parse(buf, len, &d) == 0 && d == *p);
	}
	TEST_ASSERT(tnd_dtmf_relay_write(buf, sizeof(buf), 'a', 80, &len) == 0);
	TEST_ASSERT(strcmp(buf, "Signal=A\r\nDuration=80\r\n") == 0);
	TEST_ASSERT(tnd_dtmf_relay_write(buf, 10, '1', 80, &len) == ENOSPC);
	TEST_ASSERT(tnd_dtmf_relay_write(buf, sizeof(buf), 'x', 80, &len) == EINVAL);
	TEST_ASSERT(tnd_dtmf_plain_write(buf, 3, '1', &len) == ENOSPC);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_ev_parse_write),
		TND_TEST(test_tx_sequence),
		TND_TEST(test_tx_rx_roundtrip),
		TND_TEST(test_rx_end_lost),
		TND_TEST(test_rx_start_lost),
		TND_TEST(test_rx_reordered),
		TND_TEST(test_rx_duplicated),
		TND_TEST(test_rx_long_event),
		TND_TEST(test_rx_long_event_loss),
		TND_TEST(test_rx_same_key_twice),
		TND_TEST(test_rx_other_events),
		TND_TEST(test_inband_spandsp_tones),
		TND_TEST(test_inband_sine_tones),
		TND_TEST(test_inband_gap),
		TND_TEST(test_inband_rejects_chord_and_noise),
		TND_TEST(test_inband_gen_timing),
		TND_TEST(test_inband_enomem),
		TND_TEST(test_info_relay_valid),
		TND_TEST(test_info_relay_invalid),
		TND_TEST(test_info_plain),
		TND_TEST(test_info_write_roundtrip),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
