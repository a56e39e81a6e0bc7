/* Calls to the built-in test destinations `echo`, `tone` and `dtmf` (issue
 * 12 item 4; [calls] test_destinations). The browser's leg is set up exactly as for
 * a SIP call; only the far end differs: instead of an INVITE, a test peer
 * (gateway/media/testpeer.c) answers on the media address, with an SDP
 * answer we write for it as a phone would, so the bridge, the SDP code and
 * the browser see an ordinary call. The names are bare words or URIs in
 * the reserved .invalid domain (RFC 6761 section 6.4), which no real
 * destination can have. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

static const struct {
	const char *name;
	enum tnd_testpeer_kind kind;
} dests[] = {
	{ "echo", TND_TESTPEER_ECHO },
	{ "tone", TND_TESTPEER_TONE },
	{ "dtmf", TND_TESTPEER_DTMF },
};

int tnd_call_test_kind(const struct tnd_conf *conf, const char *to)
{
	bool uri;

	if (!conf || !to || !tnd_conf_test_destinations(conf))
		return -1;
	uri = !strncasecmp(to, "sip:", 4);
	if (uri)
		to += 4;
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		size_t n = strlen(dests[i].name);

		if (strncmp(to, dests[i].name, n))
			continue;
		/* "echo" or sip:echo@tandem.invalid; sip:echo is a host named
		 * echo, which the dial plan and DNS decide about */
		if ((!uri && !to[n]) || !strcasecmp(to + n, "@tandem.invalid"))
			return (int)dests[i].kind;
	}
	return -1;
}

/* From the loop, after the `call` result went out: the test peer answers
 * as a phone would, so the browser sees the usual states in order. */
static void answered_later(void *obj)
{
	struct tnd_call *call = obj;

	if (call->phase != CALL_PROGRESS)
		return;
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", 200, "OK");
}

/* The test peer sends and reads telephone-event as its answer says (the
 * SIP offer's payload type, not the browser's). */
static int set_te(struct tnd_call *call, const struct tnd_sdp *answer, char *msg, size_t msglen)
{
	struct tnd_sdp_neg sn;
	int err = tnd_sdp_negotiated(&sn, call->sip_offer, answer, msg, msglen);

	if (err || !sn.dtmf)
		return err;
	err = tnd_testpeer_set_te(call->test, sn.dtmf->pt, sn.dtmf->clock);
	if (err)
		snprintf(msg, msglen, "test destination: telephone-event: %s", strerror(err));
	return err;
}

int tnd_call_test_answer(struct tnd_call *call, const struct tnd_sdp_neg *wn, char *msg,
			 size_t msglen)
{
	const struct tnd_conf *conf = call->calls->env.conf;
	struct tnd_loop *worker = tnd_media_pool_pick(call->calls->env.media);
	struct tnd_sdp_codec_pref want[2];
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_local l;
	uint16_t port = 0;
	int err;

	if (!worker) {
		snprintf(msg, msglen, "the gateway is at capacity: every media worker is busy");
		return EBUSY;
	}
	err = tnd_testpeer_alloc(&call->test, worker, call->test_kind, conf->media_rtp_address,
				 call->rtp_port, wn->codec->name, wn->codec->clock, wn->codec->pt,
				 &port);
	if (err) {
		snprintf(msg, msglen, "test destination: %s", strerror(err));
		return err;
	}
	tnd_call_local(call, &l, false);
	l.port = port;
	l.rtcp_port = 0;   /* the test peer reads RTCP on its RTP port and drops it */
	l.codecs = want;
	l.n_codecs = tnd_call_prefs(want, wn->codec, wn->dtmf, false);
	err = tnd_sdp_answer_sip(&answer, call->sip_offer, &l, msg, msglen);
	if (!err)
		err = set_te(call, answer, msg, msglen);
	if (!err)
		err = tnd_call_route(call, call->sip_offer, answer, wn, msg, msglen);
	tnd_sdp_free(answer);
	if (!err)
		err = tnd_loop_call(call->calls->env.signal, answered_later, call);
	if (!err)
		TND_LOG_INFO(TND_LOG_MEDIA, "call %s: test destination %s on port %u", call->id,
			     dests[call->test_kind].name, port);
	return err;
}
