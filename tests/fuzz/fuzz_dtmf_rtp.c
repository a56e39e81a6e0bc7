/* libFuzzer target: RFC 4733 payloads through the receiver. The input is a
 * clock-rate byte, then packets: flags (bit 0 marker, bit 1 a tick after
 * it, bit 2 the timestamp steps back, bits 3-7 how far the tick looks
 * ahead), a timestamp step (2 bytes), a sequence step (1 byte), a payload
 * length (1 byte) and the payload. Whatever arrives, every digit
 * must begin before it ends, end exactly once, and be one of 0-9 * # A-D;
 * a payload that parses must write back to the same bytes (R aside). */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	bool active;
	char digit;
	uint32_t start;
	uint32_t rate;
};

static void on_digit(const struct tnd_dtmf_digit *d, void *arg)
{
	struct state *st = arg;

	if (tnd_dtmf_digit_event(d->digit) < 0)
		abort();
	if (!d->end) {
		if (st->active)
			abort();
		st->active = true;
		st->digit = d->digit;
		st->start = d->start;
		return;
	}
	if (!st->active || d->digit != st->digit || d->start != st->start ||
	    d->duration_ms != (uint32_t)((uint64_t)d->duration * 1000 / st->rate))
		abort();
	st->active = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t rates[4] = { 8000, 16000, 48000, 1000 };
	struct state st = { 0 };
	struct tnd_dtmf_rx rx;
	uint32_t ts = 0;
	uint16_t seq = 0;
	size_t i = 1;

	if (size < 1)
		return 0;
	st.rate = rates[data[0] & 3];
	if (tnd_dtmf_rx_init(&rx, st.rate, on_digit, &st))
		abort();
	while (i + 5 <= size) {
		uint8_t flags = data[i];
		uint32_t step = (uint32_t)(data[i + 1] << 8 | data[i + 2]);
		size_t len = data[i + 4];
		struct tnd_dtmf_ev ev;
		uint8_t back[4];

		ts = flags & 4 ? ts - step : ts + step;
		seq = (uint16_t)(seq + data[i + 3]);
		i += 5;
		if (len > size - i)
			len = size - i;
		if (tnd_dtmf_ev_parse(data + i, len, &ev) == 0) {
			if (tnd_dtmf_ev_write(back, sizeof(back), &ev) ||
			    back[0] != data[i] || back[1] != (data[i + 1] & 0xbf) ||
			    back[2] != data[i + 2] || back[3] != data[i + 3])
				abort();
		}
		(void)tnd_dtmf_rx_packet(&rx, data + i, len, ts, seq, flags & 1);
		if (flags & 2)
			tnd_dtmf_rx_tick(&rx, ts + (uint32_t)(flags >> 3) * st.rate / 8);
		i += len;
	}
	tnd_dtmf_rx_reset(&rx);
	if (st.active)
		abort();
	return 0;
}
