/* libFuzzer target: tnd_dtls_end_input, the DTLS record walker that reads
 * untrusted datagrams once OpenSSL's state is gone (webrtc/dtls_end.c),
 * with fixed AES-128-GCM record keys.
 *
 * The first byte picks the mode. Mode 0: the rest is one datagram; the
 * walker must stay inside it and accept nothing but an alert-shaped record
 * of epoch 1 on its walk (the seeds hold real close_notify and fatal
 * alerts under these keys; the fuzzer cannot forge a tag). Mode 1:
 * the rest, followed by the peer's genuine close_notify, is one datagram:
 * when the rest is a well-formed run of records, the alert must be found;
 * and a copy with any one byte of the alert changed must not pass. */
#include <stdlib.h>
#include <string.h>

#include "webrtc/webrtc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_HDR 13
#define ALERT_LEN (REC_HDR + 8 + 2 + 16)

static struct tnd_dtls_end *ours;    /* reads what the peer sends */
static uint8_t alert[64];            /* the peer's close_notify */
static size_t alert_len;

static void setup(void)
{
	static const uint8_t k1[16] = "client write key", k2[16] = "server write key";
	static const uint8_t s1[4] = "csal", s2[4] = "ssal";
	struct tnd_dtls_end *peer = NULL;

	if (tnd_dtls_end_from_keys(16, k1, s1, k2, s2, &ours) ||
	    tnd_dtls_end_from_keys(16, k2, s2, k1, s1, &peer))
		abort();
	alert_len = tnd_dtls_end_close_notify(peer, alert, sizeof(alert));
	tnd_dtls_end_free(peer);
	if (alert_len != ALERT_LEN || tnd_dtls_end_input(ours, alert, alert_len))
		abort();
}

/* An alert-shaped record of epoch 1 (header, explicit nonce, two bytes,
 * tag) among the records from the start, up to the first that overruns. */
static bool alert_on_walk(const uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (n - off >= REC_HDR) {
		const uint8_t *h = buf + off;
		size_t rl = (size_t)(h[11] << 8 | h[12]);

		if (rl > n - off - REC_HDR)
			return false;
		if (h[0] == 21 && h[3] == 0 && h[4] == 1 && REC_HDR + rl == ALERT_LEN)
			return true;
		off += REC_HDR + rl;
	}
	return false;
}

/* Records (13-byte header, length) exactly covering buf[0..n). */
static bool well_formed(const uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (n - off >= REC_HDR) {
		size_t rl = (size_t)(buf[off + 11] << 8 | buf[off + 12]);

		if (rl > n - off - REC_HDR)
			return false;
		off += REC_HDR + rl;
	}
	return off == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size ? size - 1 : 0;
	uint8_t *buf;
	int err;

	if (!ours)
		setup();
	/* exact size: ASan sees a read past the datagram */
	buf = malloc(n + (size && (data[0] & 1) ? alert_len : 0) + 1);
	if (!buf)
		return 0;
	if (n)
		memcpy(buf, data + 1, n);
	if (!size || !(data[0] & 1)) {
		err = tnd_dtls_end_input(ours, buf, n);
		if ((!err && !alert_on_walk(buf, n)) || (err && n == alert_len &&
							   !memcmp(buf, alert, n)))
			abort();
	} else {
		memcpy(buf + n, alert, alert_len);
		if (well_formed(buf, n) && tnd_dtls_end_input(ours, buf, n + alert_len))
			abort();
		buf[n + data[0] % alert_len] ^= (uint8_t)(1 + (data[0] >> 1) % 255);
		if (!tnd_dtls_end_input(ours, buf + n, alert_len))
			abort();
	}
	free(buf);
	return 0;
}
