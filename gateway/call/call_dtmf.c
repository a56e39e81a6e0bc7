/* DTMF between the legs of a call (issue 10 item 5): which way digits go,
 * decided per call when the media is routed, and the signalling-side ends
 * of each way. Signalling thread.
 *
 * Toward SIP ([calls] dtmf_mode, resolved here, never left at auto):
 * rfc4733 relays the browser's events (and sends the `dtmf` request's) as
 * telephone-event on the SIP leg; info sends one SIP INFO per digit, the
 * next only after duration + gap; inband makes tones in the audio (G.711
 * in pass-through; any 8 kHz codec when transcoded, on the PCM).
 * From SIP, every way is taken: telephone-event (relayed to the browser by
 * the bridge when its leg has it), INFO and in-band tones (turned into
 * RFC 4733 toward the browser here). Each digit from SIP becomes one
 * `dtmf` notification, whatever the browser's answer said. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codecs/codecs.h"
#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

#define INFO_BODY 64
#define TE_GAP_MS 60      /* after a digit relayed to the browser as RFC 4733 */

static const char *const src_names[] = {
	[TND_BRIDGE_DTMF_RFC4733] = "rfc4733",
	[TND_BRIDGE_DTMF_INFO] = "info",
	[TND_BRIDGE_DTMF_INBAND] = "inband",
};

static bool is_g711(const struct tnd_sdp_codec *c)
{
	return c && c->name && (!strcasecmp(c->name, "PCMU") || !strcasecmp(c->name, "PCMA"));
}

/* Tones can be made and heard in the SIP leg's audio: G.711 in
 * pass-through (the handler's own codec), any narrowband or wideband codec
 * when transcoding (the transcoder's PCM, 16 kHz halved for DTMF). */
static bool inband_ok(const struct tnd_call *call, const struct tnd_sdp_codec *c)
{
	if (!call->transcoded)
		return is_g711(c);
	return c && c->name && strcasecmp(c->name, "opus");
}

/* The peer's telephone-event, at the audio's clock if it has one there. */
static const struct tnd_sdp_codec *sip_te(const struct tnd_sdp_media *rm, uint32_t clock)
{
	const struct tnd_sdp_codec *any = NULL;

	for (unsigned i = 0; i < rm->n_codecs; i++) {
		const struct tnd_sdp_codec *c = &rm->codecs[i];

		if (!c->name || strcasecmp(c->name, "telephone-event"))
			continue;
		if (c->clock == clock)
			return c;
		if (!any)
			any = c;
	}
	return any;
}

int tnd_call_dtmf_route(struct tnd_call *call, const struct tnd_sdp_neg *webrtc,
			const struct tnd_sdp_media *rm, const struct tnd_sdp_codec *sip_codec)
{
	const struct tnd_sdp_codec *ste = sip_te(rm, sip_codec->clock);
	const struct tnd_conf *conf = call->calls ? call->calls->env.conf : NULL;
	int mode = conf ? conf->calls_dtmf_mode : TND_DTMF_AUTO;
	bool g711 = is_g711(sip_codec);
	bool inband = inband_ok(call, sip_codec);
	struct tnd_bridge_dtmf d = {
		.webrtc_pt = webrtc->dtmf ? webrtc->dtmf->pt : -1,
		.webrtc_clock = webrtc->dtmf ? webrtc->dtmf->clock : 0,
		.sip_pt = ste ? ste->pt : -1,
		.sip_clock = ste ? ste->clock : 0,
		.sip_audio_pt = sip_codec->pt,
		.sip_audio = g711 ? sip_codec->name : NULL,
		.transcoded = call->transcoded,
	};

	if (mode == TND_DTMF_AUTO)
		mode = ste ? TND_DTMF_RFC4733 : TND_DTMF_INBAND;
	/* a way the negotiation left closed falls back to one that is open */
	if (mode == TND_DTMF_RFC4733 && !ste)
		mode = TND_DTMF_INBAND;
	if (mode == TND_DTMF_INBAND && !inband)
		mode = TND_DTMF_INFO;
	call->dtmf_mode = mode;
	call->webrtc_te = webrtc->dtmf != NULL;
	d.relay_to_sip = mode == TND_DTMF_RFC4733;
	d.relay_to_webrtc = call->webrtc_te;
	/* tones are listened for on a leg without telephone-event */
	d.sip_inband = inband && (mode == TND_DTMF_INBAND || !ste);
	TND_LOG_DEBUG(TND_LOG_MEDIA, "call %s: DTMF to SIP %s, browser %s telephone-event%s",
		      call->id, mode == TND_DTMF_RFC4733 ? "rfc4733" :
		      mode == TND_DTMF_INFO ? "info" : "inband", call->webrtc_te ? "has" : "has no",
		      d.sip_inband ? ", in-band detection on" : "");
	return tnd_bridge_dtmf(call->br, &d);
}

/* ------------------------------------------------------------ SIP INFO out */

static int send_info(struct tnd_call *call, char digit, unsigned ms)
{
	const struct tnd_conf *conf = call->calls ? call->calls->env.conf : NULL;
	bool plain = conf && conf->calls_dtmf_info == TND_DTMF_INFO_PLAIN;
	char body[INFO_BODY];
	size_t len;
	int err;

	if (!call->sip)
		return EALREADY;
	err = plain ? tnd_dtmf_plain_write(body, sizeof(body), digit, &len) :
	      tnd_dtmf_relay_write(body, sizeof(body), digit, ms, &len);
	if (!err)
		err = tnd_sipcall_info(call->sip, plain ? "application/dtmf" :
				       "application/dtmf-relay", body);
	return err;
}

void tnd_call_dtmf_stop(struct tnd_call *call)
{
	if (call->info_timer) {
		g_source_destroy(call->info_timer);
		g_source_unref(call->info_timer);
		call->info_timer = NULL;
	}
	call->info_q[0] = '\0';
	call->info_pos = 0;
}

static gboolean info_next(gpointer data)
{
	struct tnd_call *call = data;
	char digit = call->info_q[call->info_pos];
	int err;

	g_source_unref(call->info_timer);
	call->info_timer = NULL;
	if (!digit || call->phase == CALL_ENDED) {
		tnd_call_dtmf_stop(call);
		return G_SOURCE_REMOVE;
	}
	call->info_pos++;
	err = send_info(call, digit, call->info_ms);
	if (err) {
		TND_LOG_WARN(TND_LOG_SIP, "call %s: INFO for digit %c: %s", call->id, digit,
			     strerror(err));
		tnd_call_dtmf_stop(call);
		return G_SOURCE_REMOVE;
	}
	/* RFC 6086 allows one INFO at a time; the digit's own length and the
	 * gap keep the far end's view of the string as the browser asked */
	call->info_timer = g_timeout_source_new(call->info_ms + call->info_gap);
	g_source_set_callback(call->info_timer, info_next, call, NULL);
	g_source_attach(call->info_timer, NULL);
	return G_SOURCE_REMOVE;
}

static int info_start(struct tnd_call *call, const char *digits, unsigned ms, unsigned gap)
{
	if (call->info_timer) {
		/* a string still going out: these follow it, at its pace */
		size_t have = strlen(call->info_q);

		if (have + strlen(digits) >= sizeof(call->info_q))
			return EAGAIN;
		memcpy(call->info_q + have, digits, strlen(digits) + 1);
		return 0;
	}
	snprintf(call->info_q, sizeof(call->info_q), "%s", digits);
	call->info_pos = 0;
	call->info_ms = ms;
	call->info_gap = gap;
	/* the timer holds no reference: ending the call stops it first */
	call->info_timer = g_idle_source_new();
	g_source_set_callback(call->info_timer, info_next, call, NULL);
	g_source_attach(call->info_timer, NULL);
	return 0;
}

/* ------------------------------------------------------------ digits out */

/* One digit or string toward the SIP side, the call's way. */
static int to_sip(struct tnd_call *call, const char *digits, unsigned ms, unsigned gap)
{
	switch (call->dtmf_mode) {
	case TND_DTMF_INFO:
		return info_start(call, digits, ms, gap);
	case TND_DTMF_INBAND:
		return tnd_bridge_dtmf_send(call->br, 1, digits, ms, gap, true);
	default:
		return tnd_bridge_dtmf_send(call->br, 1, digits, ms, gap, false);
	}
}

static unsigned clamp_ms(unsigned ms)
{
	return ms < 40 ? 40 : ms > 2000 ? 2000 : ms;
}

/* A digit from the SIP side: the browser is told, and hears it as RFC
 * 4733 when its leg has telephone-event and the bridge did not relay it. */
static void from_sip(struct tnd_call *call, char digit, unsigned ms,
		     enum tnd_bridge_dtmf_src src)
{
	const struct tnd_call_sink *sink = call->calls ? call->calls->env.sink : NULL;
	char one[2] = { digit, '\0' };

	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: digit %c from SIP (%s, %u ms)", call->id, digit,
		     src_names[src], ms);
	if (src != TND_BRIDGE_DTMF_RFC4733 && call->webrtc_te && call->br)
		(void)tnd_bridge_dtmf_send(call->br, 0, one, clamp_ms(ms), TE_GAP_MS, false);
	if (call->owner && sink && sink->dtmf)
		sink->dtmf(call->owner, call->id, digit, ms, src_names[src]);
}

void tnd_call_on_dtmf(void *arg, unsigned side, char digit, unsigned duration_ms,
		      enum tnd_bridge_dtmf_src src)
{
	struct tnd_call *call = arg;
	char one[2] = { digit, '\0' };
	int err;

	if (call->phase == CALL_ENDED)
		return;
	if (side) {
		from_sip(call, digit, duration_ms, src);
		return;
	}
	/* the browser's RFC 4733: relayed by the bridge in rfc4733 mode */
	if (call->dtmf_mode == TND_DTMF_RFC4733 || !call->sip_media_set)
		return;
	err = to_sip(call, one, clamp_ms(duration_ms), TE_GAP_MS);
	if (err)
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s: browser digit %c not sent on: %s", call->id,
			     digit, strerror(err));
}

int tnd_call_on_info(void *arg, struct tnd_sipcall *sip, const char *ctype, const char *body,
		     size_t len)
{
	struct tnd_call *call = arg;
	uint32_t ms = TND_DTMF_INFO_DEFAULT_MS;
	char digit = 0;
	int err;

	(void)sip;
	if (!strcmp(ctype, "application/dtmf-relay"))
		err = tnd_dtmf_relay_parse(body, len, &digit, &ms);
	else if (!strcmp(ctype, "application/dtmf"))
		err = tnd_dtmf_plain_parse(body, len, &digit);
	else
		return tnd_call_info_in(call, ctype, body, len);   /* call_msg.c */
	if (err == ENOTSUP)
		return 0;   /* a well-formed event we do not relay (flash): taken, dropped */
	if (err)
		return EBADMSG;
	if (call->phase != CALL_ENDED)
		from_sip(call, digit, ms, TND_BRIDGE_DTMF_INFO);
	return 0;
}

/* ------------------------------------------------------------ request */

int tnd_calls_dtmf(struct tnd_calls *calls, void *conn, const char *id, const char *digits,
		   unsigned duration_ms, unsigned gap_ms, char *msg, size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);
	size_t n = digits ? strlen(digits) : 0;
	int err;

	if (!call || call->owner != conn) {
		snprintf(msg, msglen, "params.call: no call '%.64s' on this connection", id);
		return ENOENT;
	}
	if (!n || n > 64) {
		snprintf(msg, msglen, "params.digits: 1 to 64 of 0-9 * # A-D");
		return EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (tnd_dtmf_digit_event(digits[i]) < 0) {
			snprintf(msg, msglen, "params.digits: '%c' is not a DTMF digit "
				 "(0-9 * # A-D)", digits[i]);
			return EINVAL;
		}
	}
	if (duration_ms < 40 || duration_ms > 2000) {
		snprintf(msg, msglen, "params.duration_ms: 40 to 2000");
		return EINVAL;
	}
	if (gap_ms > 2000) {
		snprintf(msg, msglen, "params.gap_ms: 0 to 2000");
		return EINVAL;
	}
	if (call->phase != CALL_ANSWERED || !call->sip_media_set || !call->br) {
		snprintf(msg, msglen, "params.call: DTMF needs an answered call");
		return EALREADY;
	}
	err = to_sip(call, digits, duration_ms, gap_ms);
	if (err == EAGAIN)
		snprintf(msg, msglen, "params.digits: more than 64 digits would wait for SIP INFO");
	else if (err)
		snprintf(msg, msglen, "params.digits: cannot send: %s", strerror(err));
	return err;
}
