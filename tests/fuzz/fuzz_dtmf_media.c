/* libFuzzer target: a call's DTMF handling (gateway/media/dtmf_media.c)
 * behind the real pass-through handler, on whatever RTP the peers send.
 * The first byte picks the negotiation (telephone-event clocks on each
 * leg, relays, in-band on a PCMU or PCMA SIP leg); then records: a flags
 * byte (bit 0 the direction, bit 1 a digit string queued toward that
 * direction's output first, bit 2 in-band, bit 3 the marker, bit 4 the
 * payload also fed to the transcoder's PCM hooks; the first record's bit
 * 7 sets the call up as transcoded), a payload
 * type, a sequence step, a timestamp step (2 bytes), a length and that
 * many payload bytes. Whatever arrives, every packet that leaves must be
 * valid RTP no longer than what came in, and every digit reported must be
 * one of 0-9 * # A-D (a paced event packet, sent from a timer, is exactly
 * one event long). Fake legs, one loop: no sockets, no threads. */
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/loop.h"
#include "gateway/base/stats.h"
#include "gateway/base/obj.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"
#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t last_in;

static int fake_send(void *obj, uint8_t *pkt, size_t len, size_t cap)
{
	struct tnd_rtp_hdr h;

	(void)obj;
	if (len > last_in || len > cap || tnd_rtp_parse(pkt, len, &h))
		abort();
	return 0;
}

static bool fake_up(const void *obj)
{
	(void)obj;
	return true;
}

static const struct tnd_leg_ops ops = { "fake", fake_send, fake_send, fake_up, NULL };

static void on_dtmf(void *arg, unsigned side, char digit, unsigned ms,
		    enum tnd_bridge_dtmf_src src)
{
	(void)arg;
	(void)ms;
	if (side > 1 || tnd_dtmf_digit_event(digit) < 0 || src > TND_BRIDGE_DTMF_INBAND)
		abort();
}

static const struct tnd_bridge_events events = { .dtmf = on_dtmf };

/* Only timers run here: what leaves is the pacer's own RFC 4733 packet
 * (events sent while no media flows), built in the worker's buffer, not a
 * rewrite of the last packet in; how much wall time passed decides
 * whether it fires, so the bound must not depend on that packet. */
static void drain(void)
{
	size_t in = last_in;

	last_in = TND_RTP_HDR_LEN + TND_DTMF_EV_SIZE;
	while (g_main_context_iteration(NULL, FALSE))
		;
	last_in = in;
}

static struct tnd_bridge *make_bridge(struct tnd_loop *loop, uint8_t cfg, bool xcode)
{
	static const uint32_t clocks[4] = { 0, 8000, 48000, 16000 };
	const struct tnd_mdir_pt pcm = { (cfg & 0x80) ? 8 : 0, (cfg & 0x80) ? 8 : 0, 8000 };
	uint32_t wc = clocks[cfg & 3], sc = clocks[(cfg >> 2) & 3];
	struct tnd_bridge_dtmf d = {
		.webrtc_pt = wc ? 110 : -1, .webrtc_clock = wc,
		.sip_pt = sc ? 101 : -1, .sip_clock = sc,
		.relay_to_sip = cfg & 0x10, .relay_to_webrtc = cfg & 0x20,
		.sip_inband = cfg & 0x40, .sip_audio_pt = (cfg & 0x80) ? 8 : 0,
		.sip_audio = (cfg & 0x80) ? "PCMA" : "PCMU",
		.transcoded = xcode,
	};
	struct tnd_bridge *br = tnd_obj_zalloc(sizeof(*br), NULL);

	if (!br)
		abort();
	br->worker = br->signal = loop;
	br->ev = &events;
	br->stats = tnd_stats_slab(1);   /* fwd.c counts into the worker's slab */
	for (unsigned i = 0; i < 2; i++) {
		br->leg[i].br = br;
		br->leg[i].ops = &ops;
		br->leg[i].side = (uint8_t)i;
		br->dir[i].handler = tnd_bridge_fwd_pass;
		br->dir[i].out = &br->leg[!i];
		tnd_mdir_init(&br->dir[i], 0x100u + i, 1, 1);
		tnd_mdir_set_pts(&br->dir[i], &pcm, 1);
	}
	(void)tnd_bridge_dtmf(br, &d);
	drain();
	return br;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tnd_loop *loop;
	static uint8_t pkt[TND_POLL_BUF_SIZE];
	struct tnd_bridge *br;
	uint16_t seq[2] = { 1, 1 };
	uint32_t ts[2] = { 0, 0 };
	int64_t now = 1000000;
	size_t i = 1;

	if (!loop) {
		tnd_dtmf_warmup();
		if (tnd_loop_alloc(&loop, "fuzz", 0))
			abort();
	}
	if (size < 1)
		return 0;
	/* the first packet's flags bit 7: a transcoded set-up (PCM hooks) */
	br = make_bridge(loop, data[0], size > 1 && (data[1] & 0x80));
	while (i + 6 <= size) {
		uint8_t flags = data[i], pt = data[i + 1] & 0x7F;
		unsigned dir = flags & 1;
		size_t len = data[i + 5];

		seq[dir] = (uint16_t)(seq[dir] + data[i + 2]);
		ts[dir] += (uint32_t)(data[i + 3] << 8 | data[i + 4]);
		i += 6;
		if (len > size - i)
			len = size - i;
		if (flags & 2) {
			(void)tnd_bridge_dtmf_send(br, !dir, "1#A", 60, 20, flags & 4);
			drain();
		}
		memset(pkt, 0, TND_RTP_HDR_LEN);
		pkt[0] = 0x80;
		pkt[1] = (uint8_t)(pt | ((flags & 8) ? 0x80 : 0));
		tnd_rtp_set_seq(pkt, seq[dir]);
		tnd_rtp_set_ts(pkt, ts[dir]);
		tnd_rtp_set_ssrc(pkt, 0xabc);
		memcpy(pkt + TND_RTP_HDR_LEN, data + i, len);
		i += len;
		last_in = TND_RTP_HDR_LEN + len;
		/* the handler is only ever given valid RTP (leg.c parses first) */
		{
			struct tnd_rtp_hdr h;

			if (tnd_rtp_parse(pkt, last_in, &h))
				continue;
		}
		if (flags & 0x10) {
			/* the transcoder's hooks on the payload as 8 kHz PCM */
			int16_t pcm[TND_POLL_BUF_SIZE / 2];
			size_t n = len / 2;

			memcpy(pcm, data + i - len, n * 2);
			tnd_mdtmf_pcm_in(&br->dir[1], pcm, n, 8000, ts[dir]);
			(void)tnd_mdtmf_pcm_mute(&br->dir[1], pcm, n);
			(void)tnd_mdtmf_pcm_out(&br->dir[0], pcm, n, 8000);
		}
		br->dir[dir].handler(&br->dir[dir], pkt, last_in, sizeof(pkt), now);
		now += 20000;
	}
	drain();
	tnd_mdtmf_free(br);
	tnd_obj_put(br);
	return 0;
}
