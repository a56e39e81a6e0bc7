/* libFuzzer target: SIP INFO DTMF bodies (application/dtmf-relay and
 * application/dtmf). The input is the body, exactly its length, so ASan
 * sees a read past it. A body that parses gives a digit and a duration in
 * range, and what we write from them parses back to the same. */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char digit = 0, d2 = 0, buf[64];
	uint32_t ms = 0, ms2 = 0;
	size_t len;

	if (tnd_dtmf_relay_parse(body, size, &digit, &ms) == 0) {
		if (tnd_dtmf_digit_event(digit) < 0 || ms < 1 || ms > TND_DTMF_INFO_MAX_MS)
			abort();
		if (tnd_dtmf_relay_write(buf, sizeof(buf), digit, ms, &len) ||
		    tnd_dtmf_relay_parse(buf, len, &d2, &ms2) || d2 != digit || ms2 != ms)
			abort();
	}
	if (tnd_dtmf_plain_parse(body, size, &digit) == 0) {
		if (tnd_dtmf_digit_event(digit) < 0)
			abort();
		if (tnd_dtmf_plain_write(buf, sizeof(buf), digit, &len) ||
		    tnd_dtmf_plain_parse(buf, len, &d2) || d2 != digit)
			abort();
	}
	return 0;
}
