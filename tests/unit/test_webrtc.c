/* webrtc/: RTP (RFC 3550 5.1), compound RTCP (RFC 3550 6.4, RFC 4585 6.1,
 * RFC 5104), STUN framing (RFC 5389, sample from RFC 5769 2.1), RFC 7983
 * demultiplexing, SSRC rewrite, SRTP round trips for both DTLS-SRTP
 * profiles, and fingerprints. The pc and rtpsock tests live in
 * test_webrtc_pc.c; this file holds the table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

/* ------------------------------------------------------------ RTP */

static size_t make_rtp(uint8_t *b, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
		       size_t payload)
{
	b[0] = 0x80;
	b[1] = pt;
	tnd_rtp_set_seq(b, seq);
	tnd_rtp_set_ts(b, ts);
	tnd_rtp_set_ssrc(b, ssrc);
	for (size_t i = 0; i < payload; i++)
		b[12 + i] = (uint8_t)(i * 7 + 1);
	return 12 + payload;
}

static int test_rtp_valid(void)
{
	uint8_t b[64];
	struct tnd_rtp_hdr h;
	size_t n = make_rtp(b, 0x80 | 96, 65535, 0xdeadbeef, 0x01020304, 20);

	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == 0);
	TEST_ASSERT(h.pt == 96 && h.marker && h.seq == 65535 && h.ts == 0xdeadbeef);
	TEST_ASSERT(h.ssrc == 0x01020304 && h.cc == 0 && !h.ext);
	TEST_ASSERT(h.hdr_len == 12 && h.payload_off == 12 && h.payload_len == 20 && !h.pad_len);
	/* a header alone is a valid (empty) packet */
	TEST_ASSERT(tnd_rtp_parse(b, 12, &h) == 0 && h.payload_len == 0);
	return 0;
}

static int test_rtp_csrc_ext_padding(void)
{
	uint8_t b[64];
	struct tnd_rtp_hdr h;
	size_t n;

	memset(b, 0, sizeof(b));
	make_rtp(b, 0, 1, 2, 3, 0);
	b[0] = 0x80 | 0x20 | 0x10 | 2;          /* P, X, CC=2 */
	tnd_rtp_wr32(b + 12, 0x11111111);       /* CSRCs */
	tnd_rtp_wr32(b + 16, 0x22222222);
	b[20] = 0xbe;                           /* one-byte header extension, 1 word */
	b[21] = 0xde;
	b[22] = 0;
	b[23] = 1;
	memcpy(b + 24, "\x10\xaa\0\0", 4);
	memcpy(b + 28, "payload!", 8);          /* 8 bytes of payload */
	b[36] = 0;
	b[37] = 0;
	b[38] = 0;
	b[39] = 4;                              /* 4 bytes of padding */
	n = 40;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == 0);
	TEST_ASSERT(h.cc == 2 && h.ext && h.ext_profile == 0xbede && h.ext_off == 24);
	TEST_ASSERT(h.ext_len == 4 && h.hdr_len == 28 && h.payload_off == 28);
	TEST_ASSERT(h.payload_len == 8 && h.pad_len == 4);
	/* padding covering the whole payload is still valid */
	b[39] = 12;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == 0 && h.payload_len == 0);
	return 0;
}

static int test_rtp_invalid(void)
{
	uint8_t b[64];
	struct tnd_rtp_hdr h, copy;
	size_t n = make_rtp(b, 0, 1, 2, 3, 8);

	memset(&h, 0x5a, sizeof(h));
	/* truncated */
	TEST_ASSERT(tnd_rtp_parse(b, 11, &h) == EBADMSG);
	TEST_ASSERT(tnd_rtp_parse(b, 0, &h) == EBADMSG);
	TEST_ASSERT(tnd_rtp_parse(NULL, 12, &h) == EBADMSG);
	/* bad version */
	b[0] = 0x40;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	b[0] = 0xc0;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	/* CSRC list beyond the packet: 15 CSRCs need 72 bytes */
	b[0] = 0x8f;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	/* 2 CSRCs fit exactly, then the extension header does not */
	b[0] = 0x92;
	TEST_ASSERT(tnd_rtp_parse(b, 20, &h) == EBADMSG);
	/* extension length beyond the packet */
	b[0] = 0x90;
	b[14] = 0;
	b[15] = 2;   /* 2 words, only 1 present */
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	b[14] = 0xff;
	b[15] = 0xff;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	/* padding larger than the payload, and a zero padding count */
	n = make_rtp(b, 0, 1, 2, 3, 8);
	b[0] = 0xa0;
	b[n - 1] = 9;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	b[n - 1] = 0;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	b[n - 1] = 200;
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == EBADMSG);
	/* padding bit on a bare header: the count would be header */
	TEST_ASSERT(tnd_rtp_parse(b, 12, &h) == EBADMSG);
	/* nothing written on failure, input untouched */
	memset(&copy, 0x5a, sizeof(copy));
	TEST_ASSERT(!memcmp(&h, &copy, sizeof(h)));
	return 0;
}

static int test_rtp_setters(void)
{
	uint8_t b[32];
	size_t n = make_rtp(b, 0x80 | 8, 10, 20, 30, 4);
	struct tnd_rtp_hdr h;

	tnd_rtp_set_ssrc(b, 0xcafebabe);
	tnd_rtp_set_seq(b, 0xfffe);
	tnd_rtp_set_ts(b, 0x80000001);
	tnd_rtp_set_pt(b, 0);
	TEST_ASSERT(tnd_rtp_parse(b, n, &h) == 0);
	TEST_ASSERT(h.ssrc == 0xcafebabe && h.seq == 0xfffe && h.ts == 0x80000001);
	TEST_ASSERT(h.pt == 0 && h.marker);   /* the marker survives a PT change */
	tnd_rtp_set_marker(b, false);
	tnd_rtp_set_pt(b, 127);
	TEST_ASSERT(tnd_rtp_pt(b) == 127 && !tnd_rtp_marker(b));
	TEST_ASSERT(b[12] == 1 && b[0] == 0x80);   /* nothing else moved */
	return 0;
}

/* ------------------------------------------------------------ demux */

static int test_demux(void)
{
	static const struct {
		uint8_t b0, b1;
		enum tnd_demux want;
	} cases[] = {
		{ 0, 1, TND_DEMUX_STUN }, { 3, 0, TND_DEMUX_STUN }, { 4, 0, TND_DEMUX_DROP },
		{ 16, 0, TND_DEMUX_DROP }, { 19, 0, TND_DEMUX_DROP }, { 20, 0, TND_DEMUX_DTLS },
		{ 22, 254, TND_DEMUX_DTLS }, { 63, 0, TND_DEMUX_DTLS }, { 64, 0, TND_DEMUX_DROP },
		{ 79, 0, TND_DEMUX_DROP }, { 127, 0, TND_DEMUX_DROP }, { 128, 0, TND_DEMUX_RTP },
		{ 0x80, 96, TND_DEMUX_RTP }, { 0x80, 0xe0, TND_DEMUX_RTP },
		{ 0x80, 191, TND_DEMUX_RTP }, { 0x80, 192, TND_DEMUX_RTCP },
		{ 0x81, 200, TND_DEMUX_RTCP }, { 0x8f, 206, TND_DEMUX_RTCP },
		{ 0x80, 223, TND_DEMUX_RTCP }, { 0x80, 224, TND_DEMUX_RTP },
		{ 191, 201, TND_DEMUX_RTCP }, { 192, 0, TND_DEMUX_DROP },
		{ 255, 0, TND_DEMUX_DROP },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[2] = { cases[i].b0, cases[i].b1 };

		if (tnd_demux_classify(b, 2) != cases[i].want) {
			printf("# case %zu (%u %u)\n", i, b[0], b[1]);
			return 1;
		}
	}
	TEST_ASSERT(tnd_demux_classify(NULL, 0) == TND_DEMUX_DROP);
	TEST_ASSERT(tnd_demux_classify((const uint8_t *)"\x80", 1) == TND_DEMUX_DROP);
	TEST_ASSERT(tnd_demux_classify((const uint8_t *)"\x01", 1) == TND_DEMUX_STUN);
	return 0;
}

/* ------------------------------------------------------------ RTCP */

/* SR with two report blocks, then SDES (CNAME "ab") and a BYE */
static size_t make_compound(uint8_t *b)
{
	size_t n = 0;

	memset(b, 0, 200);
	b[0] = 0x82;                       /* SR, RC=2: 7 + 12 words = 76 bytes */
	b[1] = TND_RTCP_SR;
	b[3] = 18;
	tnd_rtp_wr32(b + 4, 0xaaaa0001);
	tnd_rtp_wr32(b + 28, 0xbbbb0001);
	tnd_rtp_wr32(b + 52, 0xbbbb0002);
	n = 76;
	b[n] = 0x81;                       /* SDES, 1 chunk: SSRC, CNAME "ab", null, pad */
	b[n + 1] = TND_RTCP_SDES;
	b[n + 3] = 3;
	tnd_rtp_wr32(b + n + 4, 0xaaaa0001);
	b[n + 8] = 1;
	b[n + 9] = 2;
	b[n + 10] = 'a';
	b[n + 11] = 'b';
	n += 16;
	b[n] = 0x81;                       /* BYE with one SSRC */
	b[n + 1] = TND_RTCP_BYE;
	b[n + 3] = 1;
	tnd_rtp_wr32(b + n + 4, 0xaaaa0001);
	n += 8;
	return n;
}

struct walk_rec {
	int n;
	uint8_t pts[8];
	uint32_t ssrcs[8];
};

static int walk_cb(void *arg, const struct tnd_rtcp_pkt *p)
{
	struct walk_rec *w = arg;

	if (w->n < 8) {
		w->pts[w->n] = p->pt;
		w->ssrcs[w->n] = p->ssrc;
	}
	w->n++;
	return 0;
}

static int test_rtcp_compound(void)
{
	uint8_t b[200];
	size_t n = make_compound(b);
	struct walk_rec w = { 0 };

	TEST_ASSERT(tnd_rtcp_parse(b, n, walk_cb, &w) == 0);
	TEST_ASSERT(w.n == 3 && w.pts[0] == TND_RTCP_SR && w.pts[1] == TND_RTCP_SDES);
	TEST_ASSERT(w.pts[2] == TND_RTCP_BYE && w.ssrcs[0] == 0xaaaa0001);
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == 0);
	/* reduced-size RTCP (RFC 5506): a lone PLI */
	memset(b, 0, 12);
	b[0] = 0x81;
	b[1] = TND_RTCP_PSFB;
	b[3] = 2;
	TEST_ASSERT(tnd_rtcp_parse(b, 12, NULL, NULL) == 0);
	return 0;
}

static int test_rtcp_invalid(void)
{
	uint8_t b[200], copy[200];
	size_t n = make_compound(b);
	struct walk_rec w = { 0 };

	memcpy(copy, b, sizeof(b));
	/* truncated: the last packet's length reaches beyond */
	TEST_ASSERT(tnd_rtcp_parse(b, n - 4, walk_cb, &w) == EBADMSG && w.n == 0);
	TEST_ASSERT(tnd_rtcp_parse(b, 3, NULL, NULL) == EBADMSG);
	TEST_ASSERT(tnd_rtcp_parse(b, 0, NULL, NULL) == EBADMSG);
	TEST_ASSERT(tnd_rtcp_parse(b, n - 1, NULL, NULL) == EBADMSG);
	/* bad length in the middle of the compound */
	b[76 + 3] = 40;
	TEST_ASSERT(tnd_rtcp_parse(b, n, walk_cb, &w) == EBADMSG && w.n == 0);
	b[76 + 3] = 1;   /* too short: the rest does not start a packet */
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* bad version in the second packet */
	b[76] = 0x41;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* padding bit on a packet that is not the last */
	b[0] |= 0x20;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* SR announcing three report blocks in room for two */
	b[0] = 0x83;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* SDES item running past its packet */
	b[76 + 9] = 30;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* SDES chunk without its null item */
	b[76 + 3] = 2;
	b[88] = 0x81;
	b[89] = TND_RTCP_BYE;
	b[91] = 2;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* BYE announcing two SSRCs with room for one */
	b[92] = 0x82;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* padding on the last packet: count zero, then too large */
	b[92] |= 0x20;
	b[n - 1] = 0;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	b[n - 1] = 9;
	TEST_ASSERT(tnd_rtcp_parse(b, n, NULL, NULL) == EBADMSG);
	memcpy(b, copy, sizeof(b));
	/* feedback shorter than its two SSRCs */
	memset(b, 0, 12);
	b[0] = 0x81;
	b[1] = TND_RTCP_RTPFB;
	b[3] = 1;
	TEST_ASSERT(tnd_rtcp_parse(b, 8, NULL, NULL) == EBADMSG);
	return 0;
}

static int test_rtcp_rewrite(void)
{
	const struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = 0x5e5e5e5e, .set_media = true, .media = 0x3e3e3e3e,
	};
	uint8_t b[200], copy[200];
	size_t n = make_compound(b);

	TEST_ASSERT(tnd_rtcp_rewrite_ssrc(b, n, &map) == 0);
	TEST_ASSERT(tnd_rtp_rd32(b + 4) == 0x5e5e5e5e);      /* SR sender */
	TEST_ASSERT(tnd_rtp_rd32(b + 28) == 0x3e3e3e3e);     /* report blocks */
	TEST_ASSERT(tnd_rtp_rd32(b + 52) == 0x3e3e3e3e);
	TEST_ASSERT(tnd_rtp_rd32(b + 80) == 0x5e5e5e5e);     /* SDES chunk */
	TEST_ASSERT(b[84] == 1 && b[86] == 'a' && b[87] == 'b');
	TEST_ASSERT(tnd_rtp_rd32(b + 96) == 0x5e5e5e5e);     /* BYE */

	/* an invalid compound is left exactly as it was */
	n = make_compound(b);
	b[92 + 3] = 5;
	memcpy(copy, b, sizeof(b));
	TEST_ASSERT(tnd_rtcp_rewrite_ssrc(b, n, &map) == EBADMSG);
	TEST_ASSERT(!memcmp(b, copy, sizeof(b)));
	TEST_ASSERT(tnd_rtcp_rewrite_ssrc(b, n, NULL) == EINVAL);
	return 0;
}

static int test_rtcp_rewrite_feedback(void)
{
	const struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = 0x11, .set_media = true, .media = 0x22,
	};
	const struct tnd_rtcp_ssrc_map sender_only = { .set_sender = true, .sender = 0x77 };
	uint8_t b[128];
	size_t n = 0;

	memset(b, 0, sizeof(b));
	/* NACK: sender, media, one PID/BLP */
	b[0] = 0x81;
	b[1] = TND_RTCP_RTPFB;
	b[3] = 3;
	tnd_rtp_wr32(b + 4, 0xa);
	tnd_rtp_wr32(b + 8, 0xb);
	tnd_rtp_wr32(b + 12, 0x00050001);
	n = 16;
	/* PLI with a media source */
	b[n] = 0x81;
	b[n + 1] = TND_RTCP_PSFB;
	b[n + 3] = 2;
	tnd_rtp_wr32(b + n + 4, 0xa);
	tnd_rtp_wr32(b + n + 8, 0xb);
	n += 12;
	/* FIR: media source 0, one FCI entry naming the stream */
	b[n] = 0x84;
	b[n + 1] = TND_RTCP_PSFB;
	b[n + 3] = 4;
	tnd_rtp_wr32(b + n + 4, 0xa);
	tnd_rtp_wr32(b + n + 12, 0xb);
	b[n + 16] = 9;   /* FIR sequence number */
	n += 20;
	/* REMB: media 0, "REMB", 2 SSRCs */
	b[n] = 0x8f;
	b[n + 1] = TND_RTCP_PSFB;
	b[n + 3] = 6;
	tnd_rtp_wr32(b + n + 4, 0xa);
	memcpy(b + n + 12, "REMB", 4);
	b[n + 16] = 2;
	b[n + 17] = 0x12;
	tnd_rtp_wr32(b + n + 20, 0xb);
	tnd_rtp_wr32(b + n + 24, 0xc);
	n += 28;

	TEST_ASSERT(tnd_rtcp_rewrite_ssrc(b, n, &map) == 0);
	TEST_ASSERT(tnd_rtp_rd32(b + 4) == 0x11 && tnd_rtp_rd32(b + 8) == 0x22);
	TEST_ASSERT(tnd_rtp_rd32(b + 12) == 0x00050001);           /* NACK FCI untouched */
	TEST_ASSERT(tnd_rtp_rd32(b + 20) == 0x11 && tnd_rtp_rd32(b + 24) == 0x22);
	TEST_ASSERT(tnd_rtp_rd32(b + 32) == 0x11 && tnd_rtp_rd32(b + 36) == 0);  /* zero stays */
	TEST_ASSERT(tnd_rtp_rd32(b + 40) == 0x22 && b[44] == 9);
	TEST_ASSERT(tnd_rtp_rd32(b + 52) == 0x11 && tnd_rtp_rd32(b + 56) == 0);
	TEST_ASSERT(b[64] == 2 && b[65] == 0x12);
	TEST_ASSERT(tnd_rtp_rd32(b + 68) == 0x22 && tnd_rtp_rd32(b + 72) == 0x22);

	/* only the sender asked for: media SSRCs keep their value */
	TEST_ASSERT(tnd_rtcp_rewrite_ssrc(b, n, &sender_only) == 0);
	TEST_ASSERT(tnd_rtp_rd32(b + 4) == 0x77 && tnd_rtp_rd32(b + 8) == 0x22);

	/* a FIR whose FCI is not whole entries is malformed */
	b[28] = 0x84;
	b[31] = 3;
	TEST_ASSERT(tnd_rtcp_parse(b + 28, 16, NULL, NULL) == EBADMSG);
	return 0;
}

/* ------------------------------------------------------------ STUN */

/* RFC 5769 2.1: a Binding request with USERNAME, MESSAGE-INTEGRITY and
 * FINGERPRINT */
static const uint8_t stun_req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

static int test_stun_check(void)
{
	uint8_t b[sizeof(stun_req) + 8];
	size_t n = sizeof(stun_req);

	TEST_ASSERT(tnd_stun_check(stun_req, n) == 0);
	/* a bare header: a Binding indication with no attributes */
	memcpy(b, stun_req, 20);
	b[0] = 0x00;
	b[1] = 0x11;
	b[2] = b[3] = 0;
	TEST_ASSERT(tnd_stun_check(b, 20) == 0);

	/* truncated, length field off, length not a multiple of 4 */
	TEST_ASSERT(tnd_stun_check(stun_req, 19) == EBADMSG);
	TEST_ASSERT(tnd_stun_check(stun_req, n - 4) == EBADMSG);
	memcpy(b, stun_req, n);
	b[3] = 0x57;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* top bits, magic cookie */
	memcpy(b, stun_req, n);
	b[0] = 0x40;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* fuzz finding: a first byte of 4 has the top bits clear but is
	 * outside RFC 7983's STUN range, so demux never calls it STUN */
	memcpy(b, stun_req, 20);
	b[0] = 0x04;
	b[1] = 0x11;
	b[2] = b[3] = 0;
	TEST_ASSERT(tnd_stun_check(b, 20) == EBADMSG);
	memcpy(b, stun_req, n);
	b[4] = 0x22;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* an attribute length running past the end */
	memcpy(b, stun_req, n);
	b[23] = 0x70;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* FINGERPRINT's CRC wrong */
	memcpy(b, stun_req, n);
	b[n - 1] ^= 1;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* a payload bit flipped: the CRC no longer matches */
	memcpy(b, stun_req, n);
	b[30] ^= 0x20;
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* an attribute after FINGERPRINT */
	memcpy(b, stun_req, n);
	memcpy(b + n, "\x00\x24\x00\x04", 4);
	b[3] = 0x58 + 8;
	memset(b + n + 4, 0, 4);
	TEST_ASSERT(tnd_stun_check(b, n + 8) == EBADMSG);
	/* an attribute after MESSAGE-INTEGRITY other than FINGERPRINT */
	memcpy(b, stun_req, n);
	b[n - 8] = 0x00;
	b[n - 7] = 0x24;   /* FINGERPRINT turned into PRIORITY */
	TEST_ASSERT(tnd_stun_check(b, n) == EBADMSG);
	/* without FINGERPRINT, MESSAGE-INTEGRITY last is fine */
	memcpy(b, stun_req, n - 8);
	b[3] = 0x50;
	TEST_ASSERT(tnd_stun_check(b, n - 8) == 0);
	TEST_ASSERT(tnd_stun_check(NULL, 20) == EBADMSG);
	return 0;
}

/* ------------------------------------------------------------ fingerprints */

static int test_fingerprint(void)
{
	const char *ours = tnd_webrtc_fingerprint();
	struct tnd_fp fp;
	char buf[200];

	TEST_ASSERT(ours && !strncmp(ours, "sha-256 ", 8) && strlen(ours) == 8 + 32 * 3 - 1);
	TEST_ASSERT(tnd_webrtc_fp_parse(ours, &fp) == 0 && fp.len == 32);
	/* case-insensitive hash name and hex, surrounding blanks */
	snprintf(buf, sizeof(buf), "  SHA-256   %s \r\n", ours + 8);
	for (char *p = buf + 12; *p; p++)
		*p = (char)g_ascii_tolower(*p);
	TEST_ASSERT(tnd_webrtc_fp_parse(buf, &fp) == 0 && fp.len == 32);
	TEST_ASSERT(tnd_webrtc_fp_parse("sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
					"00:11:22:33", &fp) == 0 && fp.len == 20);
	/* wrong length for the hash, bad hex, unknown hash, missing parts */
	TEST_ASSERT(tnd_webrtc_fp_parse("sha-1 00:11", &fp) == EBADMSG);
	snprintf(buf, sizeof(buf), "%s:00", ours);
	TEST_ASSERT(tnd_webrtc_fp_parse(buf, &fp) == EBADMSG);
	snprintf(buf, sizeof(buf), "%s", ours);
	buf[9] = 'G';
	TEST_ASSERT(tnd_webrtc_fp_parse(buf, &fp) == EBADMSG);
	snprintf(buf, sizeof(buf), "md5 %s", ours + 8);
	TEST_ASSERT(tnd_webrtc_fp_parse(buf, &fp) == EBADMSG);
	snprintf(buf, sizeof(buf), "%s", ours);
	buf[10] = '-';
	TEST_ASSERT(tnd_webrtc_fp_parse(buf, &fp) == EBADMSG);
	TEST_ASSERT(tnd_webrtc_fp_parse("sha-256", &fp) == EBADMSG);
	TEST_ASSERT(tnd_webrtc_fp_parse("", &fp) == EBADMSG);
	TEST_ASSERT(tnd_webrtc_fp_parse(NULL, &fp) == EBADMSG);
	return 0;
}

/* ------------------------------------------------------------ SRTP */

static int srtp_round_trip(enum tnd_srtp_profile prof)
{
	struct tnd_srtp_keys ka, kb;
	struct tnd_srtp *a = NULL, *b = NULL;
	bool gcm = prof == TND_SRTP_AEAD_AES_128_GCM || prof == TND_SRTP_AEAD_AES_256_GCM;
	size_t salt = gcm ? 12 : 14;
	/* RFC 3711 / 4568 6.2.2 / 7714: the 32-bit tag is SRTP's only */
	size_t tag = gcm ? 16 : prof == TND_SRTP_AES128_CM_SHA1_32 ? 4 : 10;
	size_t rtcp_tag = gcm ? 16 : 10;
	uint8_t *pkt, ref[200], sent[200 + TND_PC_SRTP_OVERHEAD];
	size_t n, len, sent_len;
	int rc = 1;

	memset(&ka, 0, sizeof(ka));
	ka.profile = prof;
	ka.key_len = prof == TND_SRTP_AEAD_AES_256_GCM ? 32 : 16;
	ka.salt_len = salt;
	for (size_t i = 0; i < TND_SRTP_MAX_KEY_SALT; i++) {
		ka.tx[i] = (uint8_t)i;
		ka.rx[i] = (uint8_t)(100 + i);
	}
	kb = ka;
	memcpy(kb.tx, ka.rx, sizeof(kb.tx));
	memcpy(kb.rx, ka.tx, sizeof(kb.rx));
	if (tnd_srtp_alloc(&a, &ka) || tnd_srtp_alloc(&b, &kb))
		goto out;
	/* exactly the documented room after the packet: ASan sees any
	 * write past it */
	len = make_rtp(ref, 0, 7, 160, 0x1234, 160);
	pkt = malloc(len + TND_PC_SRTP_OVERHEAD);
	if (!pkt)
		goto out;
	memcpy(pkt, ref, len);
	n = len;
	if (tnd_srtp_protect(a, pkt, &n, len + TND_PC_SRTP_OVERHEAD, false) ||
	    n != len + tag || !memcmp(pkt + 12, ref + 12, 16))
		goto free_pkt;
	memcpy(sent, pkt, n);
	sent_len = n;
	if (tnd_srtp_unprotect(b, pkt, &n, false) || n != len || memcmp(pkt, ref, len))
		goto free_pkt;
	/* replayed: the same SRTP packet again is refused by the receiver (the
	 * sender refuses to protect an index twice: test_srtp_no_repeat_tx) */
	memcpy(pkt, sent, sent_len);
	n = sent_len;
	if (tnd_srtp_unprotect(b, pkt, &n, false) != EALREADY)
		goto free_pkt;
	/* tampered */
	memcpy(pkt, ref, len);
	tnd_rtp_set_seq(pkt, 8);
	n = len;
	if (tnd_srtp_protect(a, pkt, &n, len + TND_PC_SRTP_OVERHEAD, false))
		goto free_pkt;
	pkt[20] ^= 1;
	if (tnd_srtp_unprotect(b, pkt, &n, false) != EBADMSG)
		goto free_pkt;
	/* no room for the tag */
	n = len;
	if (tnd_srtp_protect(a, pkt, &n, len + tag - 1, false) != ENOSPC)
		goto free_pkt;
	/* SRTCP: a compound SR/SDES/BYE, other way round */
	n = make_compound(pkt);
	memcpy(ref, pkt, n);
	len = n;
	if (tnd_srtp_protect(b, pkt, &n, len + TND_PC_SRTP_OVERHEAD, true) ||
	    n != len + 4 + rtcp_tag ||
	    tnd_srtp_unprotect(a, pkt, &n, true) || n != len || memcmp(pkt, ref, len))
		goto free_pkt;
	rc = 0;
 free_pkt:
	free(pkt);
 out:
	tnd_srtp_free(a);
	tnd_srtp_free(b);
	return rc;
}

static int test_srtp_gcm(void)
{
	TEST_ASSERT(srtp_round_trip(TND_SRTP_AEAD_AES_128_GCM) == 0);
	return 0;
}

static int test_srtp_cm_sha1_80(void)
{
	struct tnd_srtp_keys k;
	struct tnd_srtp *s = NULL;

	TEST_ASSERT(srtp_round_trip(TND_SRTP_AES128_CM_SHA1_80) == 0);
	memset(&k, 0, sizeof(k));
	k.profile = TND_SRTP_AES128_CM_SHA1_80;
	k.key_len = 16;
	k.salt_len = 12;   /* GCM's salt with CM: refused */
	TEST_ASSERT(tnd_srtp_alloc(&s, &k) == EINVAL && !s);
	return 0;
}

/* The two suites only SDES brings (RFC 4568 6.2.2, RFC 7714 12). */
static int test_srtp_cm_sha1_32(void)
{
	TEST_ASSERT(srtp_round_trip(TND_SRTP_AES128_CM_SHA1_32) == 0);
	return 0;
}

static int test_srtp_gcm256(void)
{
	struct tnd_srtp_keys k;
	struct tnd_srtp *s = NULL;

	TEST_ASSERT(srtp_round_trip(TND_SRTP_AEAD_AES_256_GCM) == 0);
	memset(&k, 0, sizeof(k));
	k.profile = TND_SRTP_AEAD_AES_256_GCM;
	k.key_len = 16;    /* a 128-bit key for the 256-bit suite: refused */
	k.salt_len = 12;
	TEST_ASSERT(tnd_srtp_alloc(&s, &k) == EINVAL && !s);
	return 0;
}

/* The SDES path into the keys: suite names and lengths. */
static int test_srtp_keys_sdes(void)
{
	static const struct {
		const char *name;
		enum tnd_srtp_profile p;
		size_t key, salt;
	} v[] = {
		{ "AES_CM_128_HMAC_SHA1_80", TND_SRTP_AES128_CM_SHA1_80, 16, 14 },
		{ "AES_CM_128_HMAC_SHA1_32", TND_SRTP_AES128_CM_SHA1_32, 16, 14 },
		{ "AEAD_AES_128_GCM", TND_SRTP_AEAD_AES_128_GCM, 16, 12 },
		{ "AEAD_AES_256_GCM", TND_SRTP_AEAD_AES_256_GCM, 32, 12 },
	};
	uint8_t tx[TND_SRTP_MAX_KEY_SALT], rx[TND_SRTP_MAX_KEY_SALT];
	struct tnd_srtp_keys k;
	struct tnd_srtp *s = NULL;

	for (size_t i = 0; i < sizeof(tx); i++) {
		tx[i] = (uint8_t)i;
		rx[i] = (uint8_t)~i;
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = v[i].key + v[i].salt;

		TEST_ASSERT(tnd_srtp_keys_sdes(&k, v[i].name, tx, n, rx, n) == 0);
		TEST_ASSERT(k.profile == v[i].p && k.key_len == v[i].key);
		TEST_ASSERT(k.salt_len == v[i].salt);
		TEST_ASSERT(!memcmp(k.tx, tx, n) && !memcmp(k.rx, rx, n));
		TEST_ASSERT(!strcmp(tnd_srtp_profile_name(k.profile), v[i].name));
		TEST_ASSERT(tnd_srtp_alloc(&s, &k) == 0);
		tnd_srtp_free(s);
		s = NULL;
		TEST_ASSERT(tnd_srtp_keys_sdes(&k, v[i].name, tx, n - 1, rx, n - 1) == EINVAL);
		TEST_ASSERT(tnd_srtp_keys_sdes(&k, v[i].name, tx, n, rx, n - 1) == EINVAL);
	}
	TEST_ASSERT(tnd_srtp_keys_sdes(&k, "AES_256_CM_HMAC_SHA1_80", tx, 46, rx, 46) == EINVAL);
	TEST_ASSERT(tnd_srtp_keys_sdes(&k, "aead_aes_128_gcm", tx, 28, rx, 28) == EINVAL);
	return 0;
}

static const struct tnd_test tests[] = {
	TND_TEST(test_rtp_valid),
	TND_TEST(test_rtp_csrc_ext_padding),
	TND_TEST(test_rtp_invalid),
	TND_TEST(test_rtp_setters),
	TND_TEST(test_demux),
	TND_TEST(test_rtcp_compound),
	TND_TEST(test_rtcp_invalid),
	TND_TEST(test_rtcp_rewrite),
	TND_TEST(test_rtcp_rewrite_feedback),
	TND_TEST(test_stun_check),
	TND_TEST(test_fingerprint),
	TND_TEST(test_srtp_gcm),
	TND_TEST(test_srtp_cm_sha1_80),
	TND_TEST(test_srtp_cm_sha1_32),
	TND_TEST(test_srtp_gcm256),
	TND_TEST(test_srtp_keys_sdes),
	TND_TEST(test_pc_api_errors),
	TND_TEST(test_pc_alloc_enomem),
	TND_TEST(test_pc_detach_outlived_owner),
	TND_TEST(test_pc_forged_hello),
	TND_TEST(test_pc_candidate_limits),
	TND_TEST(test_pc_deny_still_connects),
	TND_TEST(test_dtls_suites),
	TND_TEST(test_dtls_no_renegotiation),
	TND_TEST(test_cand_prefix_parse),
	TND_TEST(test_cand_prefix_match),
	TND_TEST(test_cand_check),
	TND_TEST(test_cand_allowed),
	TND_TEST(test_pc_garbage_before_dtls),
	TND_TEST(test_pc_dtls_srtp),
	TND_TEST(test_pc_trickle_before_remote),
	TND_TEST(test_pc_wrong_fingerprint),
	TND_TEST(test_poll_delete_in_batch),
	TND_TEST(test_poll_ticks),
	TND_TEST(test_dtls_end_against_openssl),
	TND_TEST(test_pc_direct_consent),
	TND_TEST(test_pc_close_notify_before_media),
	TND_TEST(test_stun_request_accepted_by_libnice),
	TND_TEST(test_stun_libnice_check_verified),
	TND_TEST(test_stun_success_accepted_by_libnice),
	TND_TEST(test_learn_spray_before_peer),
	TND_TEST(test_learn_nat_port_change),
	TND_TEST(test_learn_signal_ip),
	TND_TEST(test_learn_alive_refuses),
	TND_TEST(test_learn_strict),
	TND_TEST(test_learn_same_sdp),
	TND_TEST(test_learn_rtcp),
	TND_TEST(test_rtpsock_no_hijack),
	TND_TEST(test_rtpsock_pause_then_attacker),
	TND_TEST(test_rtpsock_strict),
	TND_TEST(test_rtpsock_nat_port_change),
	TND_TEST(test_rtpsock_same_remote),
	TND_TEST(test_icd_replay_does_not_move),
	TND_TEST(test_icd_move_controlled),
	TND_TEST(test_icd_move_controlling),
	TND_TEST(test_icd_consent_per_address),
	TND_TEST(test_icd_rate_limit),
	TND_TEST(test_icd_no_allocation),
	TND_TEST(test_icd_csprng),
	TND_TEST(test_icd_restart),
	TND_TEST(test_pc_direct_replay),
	TND_TEST(test_pc_direct_restart),
	TND_TEST(test_rtpsock_garbage_and_rtcp),
	TND_TEST(test_rtpsock_srtp_required),
	TND_TEST(test_rtpsock_dscp),
	TND_TEST(test_srtp_no_repeat_tx),
	TND_TEST(test_srtp_ssrc_cap),
};

int main(int argc, char **argv)
{
	int rc;

	/* before OpenSSL's first allocation, or it refuses */
	tnd_test_crypto_count_install();
	/* TND_TEST_LOG=debug shows the module's lines on stderr */
	tnd_log_parse_levels(getenv("TND_TEST_LOG") ? getenv("TND_TEST_LOG") : "warn", false);
	if (tnd_webrtc_init()) {
		printf("Bail out! tnd_webrtc_init failed\n");
		return 1;
	}
	rc = tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	tnd_webrtc_deinit();
	return rc;
}
