/* Which codecs each leg is offered, and how the bridge joins what the legs
 * agreed on (issue 10 item 2). The SIP leg is offered every codec that
 * pass-through or transcoding can serve, in [media] sip_codecs order, plus
 * telephone-event; answering a SIP offer takes the offerer's first codec we
 * serve at its ptime. The browser leg gets Opus or a codec it shares with
 * the SIP leg. When both legs agreed on one codec the bridge relays packets
 * (pass-through); otherwise it transcodes, with Opus options from [media]
 * and the peer's fmtp (RFC 7587 useinbandfec, usedtx, maxplaybackrate;
 * RFC 4856 annexb for G.729). Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

void tnd_call_codecs_init(struct tnd_calls *calls)
{
	const struct tnd_conf *conf = calls->env.conf;
	char **names = g_strsplit(conf->media_sip_codecs ? conf->media_sip_codecs : "PCMU", ",", 0);
	bool opus = false;
	size_t n = 0;

	for (char **p = names; *p && n < CALL_MAX_PREFS - 2; p++) {
		const struct tnd_codec *c = tnd_codec_find(g_strstrip(*p), 0, 0);

		if (!c)
			continue;   /* a row not built yet (iLBC): offered once it is */
		calls->sip_prefs[n++] = (struct tnd_sdp_codec_pref){
			c->name, c->clock, (uint8_t)c->sdp_channels, c->pt >= 0 ? (uint8_t)c->pt : 0,
			c->id == TND_CODEC_G729 ? "annexb=no" :
			c->id == TND_CODEC_OPUS ? "useinbandfec=1" :
			c->id == TND_CODEC_ILBC ? "mode=20" : NULL,
		};
		opus |= c->id == TND_CODEC_OPUS;
	}
	g_strfreev(names);
	calls->sip_prefs[n++] = (struct tnd_sdp_codec_pref){ "telephone-event", 8000, 1, 101, NULL };
	if (opus)
		calls->sip_prefs[n++] = (struct tnd_sdp_codec_pref){ "telephone-event", 48000, 1,
								     110, NULL };
	calls->n_sip_prefs = n;
}

size_t tnd_call_prefs(struct tnd_sdp_codec_pref want[2], const struct tnd_sdp_codec *codec,
		      const struct tnd_sdp_codec *dtmf, bool fmtp)
{
	size_t n = 0;

	want[n++] = (struct tnd_sdp_codec_pref){ codec->name, codec->clock, codec->channels,
		codec->pt, fmtp ? codec->fmtp : NULL };
	if (dtmf)
		want[n++] = (struct tnd_sdp_codec_pref){ "telephone-event", dtmf->clock, 1,
			dtmf->pt, fmtp ? dtmf->fmtp : NULL };
	return n;
}

size_t tnd_call_webrtc_offer_prefs(struct tnd_sdp_codec_pref want[4],
				   const struct tnd_sdp_codec *sip, const struct tnd_sdp_codec *dtmf)
{
	const struct tnd_codec *c = tnd_codec_find(sip->name, sip->clock, 0);
	size_t n = 0;

	/* browsers have PCMU, PCMA, G.722 and Opus: a shared one spares the
	 * transcode; Opus is always there to fall back on */
	if (c && c->id != TND_CODEC_G729 && c->id != TND_CODEC_ILBC)
		want[n++] = (struct tnd_sdp_codec_pref){ sip->name, sip->clock, sip->channels,
							 sip->pt, NULL };
	if (!c || c->id != TND_CODEC_OPUS)
		want[n++] = (struct tnd_sdp_codec_pref){ "opus", 48000, 2, 111,
							 "minptime=10;useinbandfec=1" };
	(void)dtmf;
	want[n++] = (struct tnd_sdp_codec_pref){ "telephone-event", 8000, 1, 101, NULL };
	want[n++] = (struct tnd_sdp_codec_pref){ "telephone-event", 48000, 1, 110, NULL };
	return n;
}

/* One leg's codec for the transcoder: the row, PT, the ptime we send and
 * the encoder's options from [media] and the peer's fmtp. */
static int leg_codec(const struct tnd_conf *conf, const struct tnd_sdp_codec *sc,
		     unsigned ptime, struct tnd_bridge_codec *bc)
{
	const struct tnd_codec *c = tnd_codec_find(sc->name, sc->clock, 0);
	struct tnd_codec_params *p = &bc->params;
	char v[32];

	if (!c)
		return ENOTSUP;
	memset(bc, 0, sizeof(*bc));
	bc->codec = c;
	bc->pt = sc->pt;
	bc->ptime = ptime && tnd_codec_ptime_ok(c, p, ptime) ? ptime : 20;
	if (!tnd_codec_ptime_ok(c, p, bc->ptime))
		bc->ptime = tnd_codec_frame_ms(c, p);
	if (c->id == TND_CODEC_OPUS) {
		p->complexity = conf->media_opus_complexity;
		p->complexity_set = true;
		p->bitrate = conf->media_opus_bitrate && conf->media_opus_bitrate < 6000 ? 6000 :
			     (unsigned)conf->media_opus_bitrate;
		p->fec = conf->media_opus_fec && tnd_sdp_fmtp_get(sc->fmtp, "useinbandfec", v, sizeof(v)) &&
			 !strcmp(v, "1");
		p->dtx = conf->media_opus_dtx;
		if (tnd_sdp_fmtp_get(sc->fmtp, "maxplaybackrate", v, sizeof(v)))
			p->maxplaybackrate = (unsigned)strtoul(v, NULL, 10);
		/* stereo=1 only says the receiver takes stereo: mono is always valid */
	} else if (c->id == TND_CODEC_G729) {
		/* Annex B only when the peer said yes: SID frames confuse some */
		p->annexb = tnd_sdp_fmtp_get(sc->fmtp, "annexb", v, sizeof(v)) && !g_ascii_strcasecmp(v, "yes");
	} else if (c->id == TND_CODEC_ILBC) {
		/* RFC 3952 5: no mode parameter means 30 ms */
		p->mode_ms = tnd_sdp_fmtp_get(sc->fmtp, "mode", v, sizeof(v)) &&
			     !strcmp(v, "20") ? 20 : 30;
		if (!tnd_codec_ptime_ok(c, p, bc->ptime))
			bc->ptime = tnd_codec_frame_ms(c, p);
	}
	return 0;
}

int tnd_call_join(struct tnd_call *call, const struct tnd_sdp_neg *webrtc,
		  const struct tnd_sdp_codec *sip, const struct tnd_sdp_codec *sip_dtmf,
		  unsigned sip_ptime, char *msg, size_t msglen)
{
	const struct tnd_conf *conf = call->calls->env.conf;
	const struct tnd_sdp_codec *wc = webrtc->codec;
	struct tnd_bridge_codec a, b;
	int err;

	(void)sip_dtmf;   /* telephone-event is the DTMF handler's either way */

	snprintf(call->leg_codec[0], sizeof(call->leg_codec[0]), "%s", wc->name);
	snprintf(call->leg_codec[1], sizeof(call->leg_codec[1]), "%s", sip->name);
	/* hold music encodes in each leg's codec, relayed call or not */
	err = leg_codec(conf, wc, 20, &a);
	tnd_call_moh_codec(call, 0, err ? NULL : &a);
	err = leg_codec(conf, sip, sip_ptime, &b);
	tnd_call_moh_codec(call, 1, err ? NULL : &b);
	if (!strcasecmp(wc->name, sip->name) && wc->clock == sip->clock) {
		/* one codec on both legs: relay packets, payload types mapped */
		struct tnd_bridge_pt pts[2];
		unsigned n = 0;

		pts[n++] = (struct tnd_bridge_pt){ wc->pt, sip->pt, wc->clock };
		/* telephone-event is not routed: the DTMF handler (dtmf_media.c,
		 * tnd_call_dtmf_route) re-times it between the clocks */
		call->transcoded = false;
		return tnd_bridge_route(call->br, pts, n);
	}
	err = leg_codec(conf, wc, 20, &a);
	if (!err)
		err = leg_codec(conf, sip, sip_ptime, &b);
	if (err) {
		snprintf(msg, msglen, "no transcoder for %s/%u <-> %s/%u", wc->name, wc->clock,
			 sip->name, sip->clock);
		return ENOTSUP;
	}
	/* telephone-event: the DTMF handler's here too (tnd_call_dtmf_route) */
	err = tnd_bridge_transcode(call->br, &a, &b, NULL, 0);
	if (err)
		snprintf(msg, msglen, "transcoder %s/%u <-> %s/%u ptime %u: %s", wc->name,
			 wc->clock, sip->name, sip->clock, b.ptime, strerror(err));
	else
		TND_LOG_INFO(TND_LOG_MEDIA, "call %s: transcoding %s <-> %s (ptime %u)", call->id,
			     wc->name, sip->name, b.ptime);
	call->transcoded = !err;
	return err;
}
