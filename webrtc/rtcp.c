/* Compound RTCP: validation, walk and SSRC rewrite.
 *
 * RFC 3550 6.4 and A.2 (version 2 in every packet, lengths that add up to
 * the datagram, padding only in the last packet), RFC 4585 6.1 (feedback
 * header with sender and media source SSRC), RFC 5104 4.3.1 (FIR) and 4.2
 * (TMMBR/TMMBN), draft-alvestrand-rmcat-remb (REMB), RFC 3611 (XR). Reduced
 * size RTCP (RFC 5506) is accepted: the first packet need not be SR or RR.
 * The whole compound is validated before any callback runs, so a rewrite
 * never leaves a half-changed packet. Any thread, no allocation. */
#include <errno.h>
#include <string.h>

#include "webrtc/webrtc.h"

#define FB_NACK 1       /* RTPFB FMT: generic NACK, no SSRC in the FCI */
#define FB_TMMBR 3
#define FB_TMMBN 4
#define FB_FIR 4        /* PSFB FMT */
#define FB_AFB 15       /* PSFB FMT: application layer feedback (REMB) */

/* Walks the SDES chunks of `p` (content length n): each is an SSRC, items
 * up to a null item, then padding to 32 bits (RFC 3550 6.5). With `ssrc`
 * non-NULL every chunk's SSRC is set to it. 0 or EBADMSG. */
static int sdes_chunks(uint8_t *p, size_t n, unsigned sc, const uint32_t *ssrc)
{
	size_t off = 4;

	for (unsigned i = 0; i < sc; i++) {
		if (n - off < 4)
			return EBADMSG;
		if (ssrc)
			tnd_rtp_wr32(p + off, *ssrc);
		off += 4;
		for (;;) {
			if (off >= n)
				return EBADMSG;
			if (p[off] == 0)
				break;
			if (n - off < 2 || (size_t)p[off + 1] > n - off - 2)
				return EBADMSG;
			off += 2 + (size_t)p[off + 1];
		}
		/* the null item, then pad to the next 32-bit boundary */
		off = (off + 4) & ~(size_t)3;
		if (off > n)
			return EBADMSG;
	}
	return 0;
}

/* True when a PSFB AFB packet carries REMB: "REMB", count, 3 bytes of rate,
 * then `count` SSRCs. */
static bool is_remb(const uint8_t *p, size_t n, unsigned *count)
{
	if (n < 20 || memcmp(p + 12, "REMB", 4))
		return false;
	*count = p[16];
	return 20 + 4u * *count <= n;
}

/* Checks one packet's content (n bytes, padding excluded) for what its
 * count promises. 0 or EBADMSG. */
static int check_one(uint8_t *p, size_t n)
{
	unsigned count = p[0] & 0x1f;

	switch (p[1]) {
	case TND_RTCP_SR:
		return n >= 28 + 24u * count ? 0 : EBADMSG;
	case TND_RTCP_RR:
		return n >= 8 + 24u * count ? 0 : EBADMSG;
	case TND_RTCP_SDES:
		return sdes_chunks(p, n, count, NULL);
	case TND_RTCP_BYE:
		return n >= 4 + 4u * count ? 0 : EBADMSG;
	case TND_RTCP_APP:
		return n >= 12 ? 0 : EBADMSG;
	case TND_RTCP_RTPFB:
		if (n < 12)
			return EBADMSG;
		if ((count == FB_TMMBR || count == FB_TMMBN) && (n - 12) % 8)
			return EBADMSG;
		return 0;
	case TND_RTCP_PSFB:
		if (n < 12)
			return EBADMSG;
		if (count == FB_FIR && (n - 12) % 8)
			return EBADMSG;
		return 0;
	case TND_RTCP_XR:
		return n >= 8 ? 0 : EBADMSG;
	default:
		return 0;
	}
}

/* Validates the whole compound. 0 or EBADMSG. */
static int validate(uint8_t *buf, size_t len)
{
	size_t off = 0;

	if (!buf || len < 4 || (len & 3))
		return EBADMSG;
	while (off < len) {
		uint8_t *p = buf + off;
		size_t plen, n;

		if (len - off < 4 || (p[0] >> 6) != 2)
			return EBADMSG;
		plen = ((size_t)(p[2] << 8 | p[3]) + 1) * 4;
		if (plen > len - off)
			return EBADMSG;
		n = plen;
		if (p[0] & 0x20) {
			/* padding: last packet only, count >= 1, not into the header */
			if (off + plen != len || p[plen - 1] == 0 || p[plen - 1] > plen - 4)
				return EBADMSG;
			n -= p[plen - 1];
		}
		if (check_one(p, n))
			return EBADMSG;
		off += plen;
	}
	return 0;
}

int tnd_rtcp_parse(uint8_t *buf, size_t len, tnd_rtcp_pkt_h *h, void *arg)
{
	size_t off = 0;

	if (validate(buf, len))
		return EBADMSG;
	if (!h)
		return 0;
	while (off < len) {
		struct tnd_rtcp_pkt p;
		int r;

		p.pkt = buf + off;
		p.pt = p.pkt[1];
		p.count = p.pkt[0] & 0x1f;
		p.len = ((size_t)(p.pkt[2] << 8 | p.pkt[3]) + 1) * 4;
		p.ssrc = p.len >= 8 ? tnd_rtp_rd32(p.pkt + 4) : 0;
		r = h(arg, &p);
		if (r)
			return r;
		off += p.len;
	}
	return 0;
}

static void set_media(uint8_t *at, const struct tnd_rtcp_ssrc_map *m)
{
	/* RFC 4585 6.1: a zero media source means "not used" (PLI aside, REMB) */
	if (m->set_media && tnd_rtp_rd32(at))
		tnd_rtp_wr32(at, m->media);
}

static int rewrite_one(void *arg, const struct tnd_rtcp_pkt *p)
{
	const struct tnd_rtcp_ssrc_map *m = arg;
	uint8_t *b = p->pkt;
	size_t n = p->len;
	unsigned rem;

	if (b[0] & 0x20)
		n -= b[p->len - 1];
	switch (p->pt) {
	case TND_RTCP_SR:
	case TND_RTCP_RR: {
		size_t blocks = p->pt == TND_RTCP_SR ? 28 : 8;

		if (m->set_sender)
			tnd_rtp_wr32(b + 4, m->sender);
		for (unsigned i = 0; i < p->count; i++)
			if (m->set_media)
				tnd_rtp_wr32(b + blocks + 24u * i, m->media);
		break;
	}
	case TND_RTCP_SDES:
		if (m->set_sender)
			sdes_chunks(b, n, p->count, &m->sender);
		break;
	case TND_RTCP_BYE:
		for (unsigned i = 0; i < p->count; i++)
			if (m->set_sender)
				tnd_rtp_wr32(b + 4 + 4u * i, m->sender);
		break;
	case TND_RTCP_APP:
	case TND_RTCP_XR:
		/* XR report blocks may name SSRCs too (RFC 3611 4.5); they are
		 * left alone: audio legs do not negotiate XR */
		if (m->set_sender)
			tnd_rtp_wr32(b + 4, m->sender);
		break;
	case TND_RTCP_RTPFB:
	case TND_RTCP_PSFB:
		if (m->set_sender)
			tnd_rtp_wr32(b + 4, m->sender);
		set_media(b + 8, m);
		if ((p->pt == TND_RTCP_RTPFB && (p->count == FB_TMMBR || p->count == FB_TMMBN)) ||
		    (p->pt == TND_RTCP_PSFB && p->count == FB_FIR)) {
			for (size_t off = 12; off + 8 <= n; off += 8)
				set_media(b + off, m);
		} else if (p->pt == TND_RTCP_PSFB && p->count == FB_AFB && is_remb(b, n, &rem)) {
			for (unsigned i = 0; i < rem; i++)
				set_media(b + 20 + 4u * i, m);
		}
		break;
	default:
		break;
	}
	return 0;
}

int tnd_rtcp_rewrite_ssrc(uint8_t *buf, size_t len, const struct tnd_rtcp_ssrc_map *map)
{
	if (!map)
		return EINVAL;
	return tnd_rtcp_parse(buf, len, rewrite_one, (void *)map);
}
