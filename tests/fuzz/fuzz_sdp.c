/* libFuzzer target: gateway/sdp whole. Every input that parses must write;
 * the text must parse again and write the same text (write is a fixed
 * point of parse and write); a deep copy must write it too. Then both
 * answer helpers run on it as an offer: they may only refuse with ENOTSUP,
 * and an answer they make must write, parse back, and read back through
 * tnd_sdp_negotiated as agreeing with the offer. A broken property aborts,
 * which libFuzzer reports as a crash. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tnd_sdp_codec_pref prefs[] = {
	{ "PCMU", 8000, 1, 0, NULL },
	{ "opus", 48000, 2, 111, "minptime=10;useinbandfec=1" },
	{ "PCMA", 8000, 1, 0, NULL },
	{ "G722", 8000, 1, 0, NULL },
	{ "telephone-event", 8000, 1, 101, NULL },
	{ "telephone-event", 48000, 1, 110, NULL },
};
static const char *const cands[] = { "candidate:1 1 udp 2130706431 203.0.113.5 40000 typ host" };
static const char *const fb[] = { "transport-cc", "nack" };
static const char *const ext[] = { "urn:ietf:params:rtp-hdrext:ssrc-audio-level" };
static const char *const crypto[] = {
	"1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj",
};

static const struct tnd_sdp_local webrtc = {
	.sess_id = 1, .sess_version = 1, .addr = "203.0.113.5", .port = 40000,
	.codecs = prefs, .n_codecs = sizeof(prefs) / sizeof(prefs[0]),
	.ice_ufrag = "gWz9", .ice_pwd = "tandemtandemtandemtand1", .trickle = true,
	.cands = cands, .n_cands = 1, .cands_done = true,
	.fingerprint = "sha-256 4E:A5:EE:68:FE:A0:55:86:10:68:90:DE:D5:73:38:20:BB:77:D9:19:"
		       "CD:A2:7B:C4:B8:13:9B:7C:D3:3B:88:89",
	.fb = fb, .n_fb = 2, .extmaps = ext, .n_extmaps = 1, .rtcp_rsize = true,
	.ssrc = 287454020, .cname = "tandem", .msid_stream = "tandem", .msid_track = "a0",
};

static const struct tnd_sdp_local sip = {
	.sess_id = 2, .sess_version = 1, .addr = "198.51.100.2", .port = 5004,
	.rtcp_port = 5005, .rtcp_mux = true, .ptime = 20,
	.codecs = prefs, .n_codecs = sizeof(prefs) / sizeof(prefs[0]),
	.crypto = crypto, .n_crypto = 1,
};

/* a transcoding gateway's SIP side: the offerer's order and ptime */
static const struct tnd_sdp_local sip_xc = {
	.sess_id = 3, .sess_version = 1, .addr = "198.51.100.2", .port = 5006,
	.rtcp_port = 5007, .ptime = 20, .offer_order = true, .keep_ptime = true,
	.codecs = prefs, .n_codecs = sizeof(prefs) / sizeof(prefs[0]),
};

static void must(bool ok, const char *what, const char *detail)
{
	if (!ok) {
		fprintf(stderr, "fuzz_sdp: %s%s%s\n", what, detail ? ": " : "",
			detail ? detail : "");
		abort();
	}
}

/* Writes sdp, parses the text back into *backp, returns the text. */
static char *write_and_parse(const struct tnd_sdp *sdp, struct tnd_sdp **backp)
{
	char err[256] = "", *text = NULL;
	size_t len = 0;

	must(tnd_sdp_write_alloc(sdp, &text, &len) == 0, "write failed", NULL);
	must(strlen(text) == len, "written length", NULL);
	must(tnd_sdp_parse(backp, text, len, err, sizeof(err)) == 0, "written text does not parse",
	     err);
	return text;
}

static void answer(const struct tnd_sdp *offer, const struct tnd_sdp_local *local,
		   int (*fn)(struct tnd_sdp **, const struct tnd_sdp *,
			     const struct tnd_sdp_local *, char *, size_t))
{
	struct tnd_sdp *ans = NULL, *back = NULL;
	struct tnd_sdp_neg neg;
	char err[256] = "", *text;
	int e = fn(&ans, offer, local, err, sizeof(err));

	if (e) {
		must(e == ENOTSUP && err[0], "answer refused without ENOTSUP and a reason", err);
		return;
	}
	text = write_and_parse(ans, &back);
	e = tnd_sdp_negotiated(&neg, offer, back, err, sizeof(err));
	must(e == 0, "our answer does not fit the offer", err);
	must(neg.codec == &neg.answer_m->codecs[0], "negotiated codec is not our first", NULL);
	free(text);
	tnd_sdp_free(ans);
	tnd_sdp_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_sdp *sdp = NULL, *back = NULL, *copy = NULL, *again = NULL;
	struct tnd_sdp_neg neg;
	char err[256];
	char *t1, *t2, *t3;
	uint8_t digest[64];
	size_t n;
	unsigned i;

	if (tnd_sdp_parse(&sdp, (const char *)data, size, err, sizeof(err)))
		return 0;
	t1 = write_and_parse(sdp, &back);
	t2 = write_and_parse(back, &again);
	must(!strcmp(t1, t2), "write is not a fixed point of parse and write", NULL);
	must(tnd_sdp_dup(&copy, sdp) == 0, "dup failed", NULL);
	tnd_sdp_free(again);
	t3 = write_and_parse(copy, &again);
	must(!strcmp(t1, t3), "the deep copy writes other text", NULL);

	for (i = 0; i < sdp->n_media; i++) {
		const struct tnd_sdp_media *m = sdp->media[i];

		if (m->fp.alg)
			tnd_sdp_fingerprint_decode(&m->fp, digest, sizeof(digest), &n);
		if (m->mid)
			must(tnd_sdp_find_mid(sdp, m->mid) == m, "find_mid", m->mid);
		tnd_sdp_media_find_codec(m, "opus", 48000);
		tnd_sdp_media_conn(sdp, m);
		/* the fmtp keys the transcoder reads (gateway/call/call_codec.c) */
		for (unsigned j = 0; j < m->n_codecs; j++) {
			static const char *const keys[] = { "useinbandfec", "maxplaybackrate",
							    "annexb", "mode", "stereo" };
			char v[8];

			for (unsigned k = 0; k < 5; k++)
				if (tnd_sdp_fmtp_get(m->codecs[j].fmtp, keys[k], v, sizeof(v)))
					must(strlen(v) < sizeof(v), "fmtp value overran", keys[k]);
		}
	}
	answer(sdp, &webrtc, tnd_sdp_answer_webrtc);
	answer(sdp, &sip, tnd_sdp_answer_sip);
	answer(sdp, &sip_xc, tnd_sdp_answer_sip);
	/* the input read as an answer to itself: any result, no finding */
	tnd_sdp_negotiated(&neg, sdp, back, err, sizeof(err));

	free(t1);
	free(t2);
	free(t3);
	tnd_sdp_free(sdp);
	tnd_sdp_free(back);
	tnd_sdp_free(copy);
	tnd_sdp_free(again);
	return 0;
}
