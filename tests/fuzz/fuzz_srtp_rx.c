/* libFuzzer target: the browser leg's receive path after ICE, minus the
 * socket: RFC 7983 demux, SRTP/SRTCP unprotect (srtp.c over libsrtp2, both
 * profiles we negotiate), then the RTP or RTCP validator the packet path
 * runs on what decrypted. The first input byte picks the profile and the
 * mode:
 * - raw: the rest is a datagram from the network, unprotected as is (it
 *   must fail cleanly unless it is genuine, and never read or write past
 *   the buffer);
 * - round trip: the rest is a plaintext packet the peer protects; ours must
 *   then decrypt it to exactly those bytes, and the validators run on it,
 *   so the fuzzer reaches the parsers with authenticated input.
 * Fresh sessions per input, so replay windows never carry state between
 * inputs (a replayed corpus behaves the same every time). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keys(struct tnd_srtp_keys *k, enum tnd_srtp_profile p, bool peer)
{
	memset(k, 0, sizeof(*k));
	k->profile = p;
	k->key_len = 16;
	k->salt_len = p == TND_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	for (size_t i = 0; i < sizeof(k->tx); i++) {
		k->tx[i] = (uint8_t)(peer ? 0xa0 + i : 0x30 + i);
		k->rx[i] = (uint8_t)(peer ? 0x30 + i : 0xa0 + i);
	}
}

static void validate(uint8_t *pkt, size_t n, bool rtcp)
{
	struct tnd_rtp_hdr h;

	if (rtcp)
		(void)tnd_rtcp_parse(pkt, n, NULL, NULL);
	else if (!tnd_rtp_parse(pkt, n, &h) && h.payload_off + h.payload_len + h.pad_len != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct tnd_srtp *ours = NULL, *peer = NULL;
	struct tnd_srtp_keys k;
	enum tnd_srtp_profile prof;
	enum tnd_demux kind;
	uint8_t *buf;
	size_t n, cap;
	bool rtcp;

	if (size < 2 || size > TND_PC_MAX_PACKET + 1)
		return 0;
	if (!ready) {
		if (tnd_srtp_global_init())
			abort();
		ready = true;
	}
	prof = data[0] & 1 ? TND_SRTP_AEAD_AES_128_GCM : TND_SRTP_AES128_CM_SHA1_80;
	keys(&k, prof, false);
	if (tnd_srtp_alloc(&ours, &k))
		abort();
	keys(&k, prof, true);
	if (tnd_srtp_alloc(&peer, &k))
		abort();
	n = size - 1;
	/* an exact-size buffer for raw input, so ASan sees any overrun; room
	 * for the tag when the peer protects */
	cap = data[0] & 2 ? n + TND_PC_SRTP_OVERHEAD : n;
	buf = malloc(cap);
	if (!buf)
		abort();
	memcpy(buf, data + 1, n);
	kind = tnd_demux_classify(buf, n);
	rtcp = kind == TND_DEMUX_RTCP;
	if (kind != TND_DEMUX_RTP && kind != TND_DEMUX_RTCP)
		goto out;
	if (data[0] & 2) {
		uint8_t *plain = malloc(n);
		size_t m = n;

		if (!plain)
			abort();
		memcpy(plain, buf, n);
		if (!tnd_srtp_protect(peer, buf, &m, cap, rtcp)) {
			if (m > cap || tnd_srtp_unprotect(ours, buf, &m, rtcp) || m != n ||
			    memcmp(buf, plain, n))
				abort();
			validate(buf, m, rtcp);
		}
		free(plain);
	} else if (!tnd_srtp_unprotect(ours, buf, &n, rtcp)) {
		validate(buf, n, rtcp);
	}
 out:
	free(buf);
	tnd_srtp_free(ours);
	tnd_srtp_free(peer);
	return 0;
}
