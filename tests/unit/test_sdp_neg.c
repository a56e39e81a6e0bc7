/* gateway/sdp offer/answer: JSEP and SIP answers, our own offers, and what
 * tnd_sdp_negotiated reads back from an answer. Negotiation is tested in a
 * small language: an offer is a one-line spec turned into SDP through a
 * WebRTC or SIP template, and the answer is summarised in one line and
 * compared with the expected summary (or "ENOTSUP: <message>"). Whole
 * answers and offers are also compared line by line. The tests are listed
 * in main()'s table in test_sdp.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "gateway/sdp/sdp.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_sdp.h"

static char err[512];

#define FP_GW "sha-256 4E:A5:EE:68:FE:A0:55:86:10:68:90:DE:D5:73:38:20:BB:77:D9:19:CD:A2:" \
	"7B:C4:B8:13:9B:7C:D3:3B:88:89"

static const struct tnd_sdp_codec_pref prefs_pcmu[] = {
	{ "PCMU", 8000, 1, 0, NULL },
	{ "PCMA", 8000, 1, 0, NULL },
	{ "opus", 48000, 2, 111, "minptime=10;useinbandfec=1" },
	{ "telephone-event", 8000, 1, 101, NULL },
	{ "telephone-event", 48000, 1, 110, NULL },
};

static const struct tnd_sdp_codec_pref prefs_opus[] = {
	{ "opus", 48000, 2, 111, "minptime=10;useinbandfec=1" },
	{ "PCMU", 8000, 1, 0, NULL },
	{ "PCMA", 8000, 1, 0, NULL },
	{ "telephone-event", 48000, 1, 110, NULL },
	{ "telephone-event", 8000, 1, 101, NULL },
};

static const char *const gw_cands[] = {
	"candidate:1 1 udp 2130706431 203.0.113.5 40000 typ host",
};
static const char *const gw_fb[] = { "transport-cc", "nack" };
static const char *const gw_ext[] = { "urn:ietf:params:rtp-hdrext:ssrc-audio-level" };
static const char *const gw_crypto[] = {
	"1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj",
};
/* all four suites, as [media] sip_srtp_suites' default orders them */
static const char *const gw_crypto_all[] = {
	"1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj",
	"2 AES_CM_128_HMAC_SHA1_32 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj",
	"3 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==",
	"4 AEAD_AES_256_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis=",
};

/* The gateway's side of a leg, by name: pcmu, opus, hold (WebRTC legs);
 * sip, sip-srtp, sip-sdes-opt, sip-sdes-mand, sip-mux (SIP legs). */
static struct tnd_sdp_local local_for(const char *name)
{
	struct tnd_sdp_local l = {
		.sess_id = 7, .sess_version = 3, .codecs = prefs_pcmu,
		.n_codecs = sizeof(prefs_pcmu) / sizeof(prefs_pcmu[0]), .dir = TND_SDP_SENDRECV,
	};

	if (!strncmp(name, "sip", 3)) {
		l.addr = "198.51.100.2";
		l.port = 5004;
		l.rtcp_port = 5005;
		l.ptime = 20;
		if (!strcmp(name, "sip-srtp")) {
			l.crypto = gw_crypto;
			l.n_crypto = 1;
		}
		/* [media] sip_srtp = optional / mandatory, every suite */
		if (!strcmp(name, "sip-sdes-opt") || !strcmp(name, "sip-sdes-mand")) {
			l.crypto = gw_crypto_all;
			l.n_crypto = 4;
			l.crypto_avp = !strcmp(name, "sip-sdes-opt");
			l.crypto_required = !l.crypto_avp;
		}
		l.rtcp_mux = !strcmp(name, "sip-mux");
		/* a transcoding gateway: the offerer's codec order and ptime */
		l.offer_order = l.keep_ptime = !strcmp(name, "sip-xcode");
		return l;
	}
	l.addr = "203.0.113.5";
	l.port = 40000;
	l.ice_ufrag = "gWz9";
	l.ice_pwd = "tandemtandemtandemtand1";
	l.trickle = true;
	l.cands = gw_cands;
	l.n_cands = 1;
	l.cands_done = true;
	l.fingerprint = FP_GW;
	l.rtcp_rsize = true;
	l.fb = gw_fb;
	l.n_fb = 2;
	l.extmaps = gw_ext;
	l.n_extmaps = 1;
	l.ssrc = 287454020;
	l.cname = "tandem";
	l.msid_stream = "tandem";
	l.msid_track = "audio0";
	if (!strcmp(name, "opus"))
		l.codecs = prefs_opus;
	if (!strcmp(name, "hold"))
		l.dir = TND_SDP_SENDONLY;
	return l;
}

/* "<pt>:<value>" as "a=<attr>:<pt> <value>" */
static void append_attr(GString *t, const char *attr, const char *pt_value)
{
	gchar **v = g_strsplit(pt_value, ":", 2);

	if (v[0] && v[1])
		g_string_append_printf(t, "a=%s:%s %s\r\n", attr, v[0], v[1]);
	g_strfreev(v);
}

/* One section of an offer spec:
 * "<type> [<pt>:<name>/<clock>[/<ch>]]... [port=<n>] [proto=<p>] [dir=<d>]
 *  [setup=<s>] [fb=<pt>:<value>] [fmtp=<pt>:<params>] [ext=<id>:<uri>]
 *  [crypto=<line, ~ for blanks>] [-ice] [-fp] [-mux] [mux] [rsize] [bundle-only]" */
static void offer_section(GString *t, const char *spec, int k, bool webrtc)
{
	gchar *copy = g_strstrip(g_strdup(spec));
	gchar **tok = g_strsplit(copy, " ", -1), **p;
	GString *attrs = g_string_new(NULL), *fmts = g_string_new(NULL);
	const char *port = webrtc ? "9" : NULL, *proto = webrtc ? "UDP/TLS/RTP/SAVPF" : "RTP/AVP";
	const char *setup = "actpass";
	bool ice = webrtc, fp = webrtc, mux = webrtc;
	char sip_port[8];

	snprintf(sip_port, sizeof(sip_port), "%d", 4000 + 2 * k);
	if (!strcmp(tok[0], "application") && webrtc) {
		proto = "UDP/DTLS/SCTP";
		g_string_append(fmts, " webrtc-datachannel");
	}
	for (p = tok + 1; *p; p++) {
		char *v = strchr(*p, '=');

		if (!**p)
			continue;
		if (g_ascii_isdigit(**p) && strchr(*p, ':')) {
			*strchr(*p, ':') = ' ';
			g_string_append_printf(fmts, " %.*s", (int)strcspn(*p, " "), *p);
			g_string_append_printf(attrs, "a=rtpmap:%s\r\n", *p);
		} else if (!strncmp(*p, "port=", 5)) {
			port = v + 1;
		} else if (!strncmp(*p, "proto=", 6)) {
			proto = v + 1;
		} else if (!strncmp(*p, "dir=", 4)) {
			g_string_append_printf(attrs, "a=%s\r\n", v + 1);
		} else if (!strncmp(*p, "setup=", 6)) {
			setup = v + 1;
		} else if (!strncmp(*p, "fb=", 3)) {
			append_attr(attrs, "rtcp-fb", v + 1);
		} else if (!strncmp(*p, "fmtp=", 5)) {
			append_attr(attrs, "fmtp", v + 1);
		} else if (!strncmp(*p, "ext=", 4)) {
			append_attr(attrs, "extmap", v + 1);
		} else if (!strncmp(*p, "crypto=", 7)) {
			g_string_append_printf(attrs, "a=crypto:%s\r\n",
					       g_strdelimit(v + 1, "~", ' '));
		} else if (!strcmp(*p, "-ice") || !strcmp(*p, "-fp") || !strcmp(*p, "-mux")) {
			ice &= strcmp(*p, "-ice") != 0;
			fp &= strcmp(*p, "-fp") != 0;
			mux &= strcmp(*p, "-mux") != 0;
		} else if (!strcmp(*p, "mux")) {
			mux = true;
		} else if (!strcmp(*p, "rsize")) {
			g_string_append(attrs, "a=rtcp-rsize\r\n");
		} else {
			g_string_append_printf(attrs, "a=%s\r\n", *p);   /* bundle-only */
		}
	}
	g_string_append_printf(t, "m=%s %s %s%s\r\n", tok[0], port ? port : sip_port, proto,
			       fmts->str);
	if (webrtc)
		g_string_append(t, "c=IN IP4 0.0.0.0\r\n");
	if (ice)
		g_string_append(t, "a=ice-ufrag:Ow9+\r\na=ice-pwd:Gk2bA7sQm6hX1yTqzR0vN3pL\r\n"
				"a=ice-options:trickle\r\n");
	if (fp)
		g_string_append(t, "a=fingerprint:sha-256 " FP_CHROME "\r\n");
	if (webrtc)
		g_string_append_printf(t, "a=setup:%s\r\na=mid:%d\r\n", setup, k);
	if (mux)
		g_string_append(t, "a=rtcp-mux\r\n");
	g_string_append(t, attrs->str);
	g_string_free(attrs, TRUE);
	g_string_free(fmts, TRUE);
	g_strfreev(tok);
	g_free(copy);
}

/* An offer spec: "<webrtc|sip> [nobundle] | <section> | <section> ...".
 * WebRTC sections get ICE, a fingerprint, setup:actpass, mids 0, 1, ...,
 * rtcp-mux and one BUNDLE group; SIP ones a session c= and ports 4000 up. */
static struct tnd_sdp *offer_from(const char *spec)
{
	gchar **parts = g_strsplit(spec, "|", -1);
	GString *t = g_string_new(L("v=0") L("o=- 123 1 IN IP4 192.0.2.10") L("s=-"));
	bool webrtc = strstr(parts[0], "webrtc") != NULL;
	struct tnd_sdp *sdp;
	int k;

	if (!webrtc)
		g_string_append(t, L("c=IN IP4 192.0.2.10"));
	g_string_append(t, L("t=0 0"));
	if (webrtc && !strstr(parts[0], "nobundle")) {
		g_string_append(t, "a=group:BUNDLE");
		for (k = 0; parts[k + 1]; k++)
			g_string_append_printf(t, " %d", k);
		g_string_append(t, L(""));
	}
	for (k = 0; parts[k + 1]; k++)
		offer_section(t, parts[k + 1], k, webrtc);
	sdp = tnd_test_sdp_parse_ok(t->str);
	if (!sdp)
		printf("# offer text:\n%s", t->str);
	g_string_free(t, TRUE);
	g_strfreev(parts);
	return sdp;
}

static const char *setup_word(enum tnd_sdp_setup s)
{
	static const char *const words[] = { "", " actpass", " active", " passive", " holdconn" };

	return words[s];
}

/* One line per answer: "bundle=<mids> | <type> <port> <pt>:<name>/<clock>
 * [fmtp]{fb,...} ... <dir> <setup> mux rsize ptime= rtcp= ext=<ids>
 * cands=<n> eoc crypto=<tag>~<suite> ssrc=<n> mid=<mid> | ...". A rejected
 * section is just "<type> 0 mid=<mid>". */
static void summary(GString *o, const struct tnd_sdp *s)
{
	unsigned i, j, k;

	if (s->bundle) {
		g_string_append(o, "bundle=");
		for (i = 0; i < s->n_bundle; i++)
			g_string_append_printf(o, "%s%s", i ? "," : "", s->bundle_mids[i]);
		g_string_append(o, " | ");
	}
	for (i = 0; i < s->n_media; i++) {
		const struct tnd_sdp_media *m = s->media[i];

		g_string_append_printf(o, "%s%s %u", i ? " | " : "", m->type_name, m->port);
		if (!m->port && !m->bundle_only) {
			if (m->mid)
				g_string_append_printf(o, " mid=%s", m->mid);
			continue;
		}
		for (j = 0; j < m->n_codecs; j++) {
			const struct tnd_sdp_codec *c = &m->codecs[j];

			g_string_append_printf(o, " %u:%s/%u", c->pt, c->name, c->clock);
			if (c->channels > 1)
				g_string_append_printf(o, "/%u", c->channels);
			if (c->fmtp)
				g_string_append_printf(o, "[%s]", c->fmtp);
			for (k = 0; k < c->n_fb; k++)
				g_string_append_printf(o, "%s%s", k ? "," : "{", c->fb[k]);
			if (c->n_fb)
				g_string_append(o, "}");
		}
		g_string_append_printf(o, " %s%s", tnd_sdp_dir_name(m->dir), setup_word(m->setup));
		if (m->rtcp_mux)
			g_string_append(o, " mux");
		if (m->rtcp_rsize)
			g_string_append(o, " rsize");
		if (m->ptime)
			g_string_append_printf(o, " ptime=%u", m->ptime);
		if (m->rtcp_port)
			g_string_append_printf(o, " rtcp=%u", m->rtcp_port);
		for (j = 0; j < m->n_extmaps; j++)
			g_string_append_printf(o, "%s%u", j ? "," : " ext=", m->extmaps[j].id);
		if (m->n_cands)
			g_string_append_printf(o, " cands=%u", m->n_cands);
		if (m->end_of_cands)
			g_string_append(o, " eoc");
		for (j = 0; j < m->n_crypto; j++) {
			/* tag and suite; keys differ every run in real life */
			const char *suite = strchr(m->crypto[j], ' ') + 1;
			int n = (int)(strcspn(suite, " ") + (size_t)(suite - m->crypto[j]));

			g_string_append_printf(o, " crypto=%.*s", n, m->crypto[j]);
		}
		if (m->n_ssrcs)
			g_string_append_printf(o, " ssrc=%u", m->ssrcs[0].ssrc);
		if (m->mid)
			g_string_append_printf(o, " mid=%s", m->mid);
	}
}

struct oa_case {
	const char *name;
	const char *offer;
	const char *local;
	const char *answer;     /* summary, or "ENOTSUP: <message>" */
};

/* Runs one case; on success also checks that the answer writes, parses
 * back to the same summary and reads back through tnd_sdp_negotiated. */
static int run_oa(const struct oa_case *c,
		  int (*answer)(struct tnd_sdp **, const struct tnd_sdp *,
				const struct tnd_sdp_local *, char *, size_t))
{
	struct tnd_sdp *offer = offer_from(c->offer), *ans = NULL, *back = NULL;
	struct tnd_sdp_local l = local_for(c->local);
	struct tnd_sdp_neg neg;
	GString *got = g_string_new(NULL), *again = g_string_new(NULL);
	char *text = NULL;
	int e, r = 1;

	if (!offer)
		goto out;
	e = answer(&ans, offer, &l, err, sizeof(err));
	if (e)
		g_string_printf(got, "%s: %s", e == ENOTSUP ? "ENOTSUP" : strerror(e), err);
	else
		summary(got, ans);
	if (strcmp(got->str, c->answer)) {
		printf("# %s:\n#  got  %s\n#  want %s\n", c->name, got->str, c->answer);
		goto out;
	}
	r = 0;
	if (e)
		goto out;
	r = 1;
	if (tnd_sdp_write_alloc(ans, &text, NULL) || !(back = tnd_test_sdp_parse_ok(text)))
		goto out;
	summary(again, back);
	if (strcmp(again->str, got->str)) {
		printf("# %s: written and read back: %s\n", c->name, again->str);
		goto out;
	}
	if (tnd_sdp_negotiated(&neg, offer, back, err, sizeof(err)) ||
	    neg.codec != &neg.answer_m->codecs[0] ||
	    (neg.dtmf && strcmp(neg.dtmf->name, "telephone-event"))) {
		printf("# %s: negotiated: %s\n", c->name, err);
		goto out;
	}
	r = 0;
 out:
	tnd_sdp_free(offer);
	tnd_sdp_free(ans);
	tnd_sdp_free(back);
	free(text);
	g_string_free(got, TRUE);
	g_string_free(again, TRUE);
	return r;
}

#define CHROME_AUDIO "audio 111:opus/48000/2 63:red/48000/2 9:G722/8000 0:PCMU/8000 " \
	"8:PCMA/8000 13:CN/8000 110:telephone-event/48000 126:telephone-event/8000 " \
	"fb=111:transport-cc fmtp=111:minptime=10;useinbandfec=1 rsize " \
	"ext=1:urn:ietf:params:rtp-hdrext:ssrc-audio-level " \
	"ext=3:http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define GW " sendrecv active mux cands=1 eoc ssrc=287454020"
#define NO_COMMON "no common audio codec: offer has G722/8000 G729/8000; we take " \
	"PCMU/8000 PCMA/8000 opus/48000/2 telephone-event/8000 telephone-event/48000"

int test_answer_webrtc_cases(void)
{
	static const struct oa_case cases[] = {
		{ "Chromium audio, we prefer PCMU", "webrtc | " CHROME_AUDIO, "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 126:telephone-event/8000 sendrecv active mux "
		  "rsize ext=1 cands=1 eoc ssrc=287454020 mid=0" },
		{ "Chromium audio, we prefer opus", "webrtc | " CHROME_AUDIO, "opus",
		  "bundle=0 | audio 40000 "
		  "111:opus/48000/2[minptime=10;useinbandfec=1]{transport-cc} "
		  "110:telephone-event/48000 sendrecv active mux rsize ext=1 cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "video and data rejected in place", "webrtc | audio 0:PCMU/8000 | "
		  "video 96:VP8/90000 97:rtx/90000 | application", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000" GW " mid=0 | video 0 mid=1 | "
		  "application 0 mid=2" },
		{ "video first", "webrtc | video 96:VP8/90000 | audio 0:PCMU/8000", "pcmu",
		  "bundle=1 | video 0 mid=0 | audio 40000 0:PCMU/8000" GW " mid=1" },
		{ "Firefox's telephone-event fmtp kept",
		  "webrtc | audio 109:opus/48000/2 9:G722/8000 "
		  "0:PCMU/8000 8:PCMA/8000 101:telephone-event/8000 fmtp=101:0-15", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 101:telephone-event/8000[0-15]" GW " mid=0" },
		{ "the browser holds", "webrtc | audio 0:PCMU/8000 dir=sendonly", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 recvonly active mux cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "recvonly offer", "webrtc | audio 0:PCMU/8000 dir=recvonly", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 sendonly active mux cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "inactive offer", "webrtc | audio 0:PCMU/8000 dir=inactive", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 inactive active mux cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "we hold", "webrtc | audio 0:PCMU/8000", "hold",
		  "bundle=0 | audio 40000 0:PCMU/8000 sendonly active mux cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "offer setup:active makes us passive", "webrtc | audio 0:PCMU/8000 setup=active",
		  "pcmu", "bundle=0 | audio 40000 0:PCMU/8000 sendrecv passive mux cands=1 eoc "
		  "ssrc=287454020 mid=0" },
		{ "offer setup:passive makes us active", "webrtc | audio 0:PCMU/8000 setup=passive",
		  "pcmu", "bundle=0 | audio 40000 0:PCMU/8000" GW " mid=0" },
		{ "telephone-event at another clock is left out", "webrtc | audio 0:PCMU/8000 "
		  "110:telephone-event/48000", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000" GW " mid=0" },
		{ "mono opus is not our opus/48000/2", "webrtc | audio 111:opus/48000 0:PCMU/8000",
		  "opus", "bundle=0 | audio 40000 0:PCMU/8000" GW " mid=0" },
		{ "the second audio section is the usable one", "webrtc | audio 9:G722/8000 | "
		  "audio 8:PCMA/8000", "pcmu", "bundle=1 | audio 0 mid=0 | audio 40000 8:PCMA/8000"
		  GW " mid=1" },
		{ "no BUNDLE offered, none answered", "webrtc nobundle | audio 0:PCMU/8000", "pcmu",
		  "audio 40000 0:PCMU/8000" GW " mid=0" },
		{ "bundle-only audio is taken", "webrtc | video 96:VP8/90000 | audio 0:PCMU/8000 "
		  "port=0 bundle-only", "pcmu",
		  "bundle=1 | video 0 mid=0 | audio 40000 0:PCMU/8000" GW " mid=1" },
		{ "no rtcp-mux offered, none answered", "webrtc | audio 0:PCMU/8000 -mux", "pcmu",
		  "bundle=0 | audio 40000 0:PCMU/8000 sendrecv active cands=1 eoc ssrc=287454020 "
		  "mid=0" },
		{ "no common codec", "webrtc | audio 9:G722/8000 18:G729/8000", "pcmu",
		  "ENOTSUP: " NO_COMMON },
		{ "no fingerprint", "webrtc | audio 0:PCMU/8000 -fp", "pcmu",
		  "ENOTSUP: the offer has no DTLS fingerprint" },
		{ "no ICE credentials", "webrtc | audio 0:PCMU/8000 -ice", "pcmu",
		  "ENOTSUP: the offer has no ICE credentials" },
		{ "holdconn", "webrtc | audio 0:PCMU/8000 setup=holdconn", "pcmu",
		  "ENOTSUP: the offer says a=setup:holdconn" },
		{ "plain RTP on the browser side", "webrtc | audio 0:PCMU/8000 proto=RTP/AVP",
		  "pcmu",
		  "ENOTSUP: audio m= line 1 is RTP/AVP, not UDP/TLS/RTP/SAVPF" },
		{ "audio rejected by the offerer", "webrtc | audio 0:PCMU/8000 port=0", "pcmu",
		  "ENOTSUP: audio m= line 1 is rejected in the offer" },
		{ "no audio at all", "webrtc | video 96:VP8/90000 | application", "pcmu",
		  "ENOTSUP: the offer has no audio m= line" },
	};
	size_t i;
	int fails = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fails += run_oa(&cases[i], tnd_sdp_answer_webrtc);
	return fails;
}

#define AES80 "crypto=2~AES_CM_128_HMAC_SHA1_80~inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
#define AES256 "crypto=1~AES_256_CM_HMAC_SHA1_80~inline:" \
	"d2VyZSBhbGwgbWFkIGhlcmUuIEknbSBtYWQuIFlvdSdyZSBtYWQuIEhvdw=="

#define GCM128 "crypto=5~AEAD_AES_128_GCM~inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
#define GCM256 "crypto=6~AEAD_AES_256_GCM~inline:" \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="
#define GCM256SHORT "crypto=6~AEAD_AES_256_GCM~inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
/* (an MKI's '|' would split the offer spec; test_sdp_crypto.c has those) */
#define AES80KDR "crypto=7~AES_CM_128_HMAC_SHA1_80~" \
	"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR~KDR=4"
#define AES32CLEAR "crypto=8~AES_CM_128_HMAC_SHA1_32~" \
	"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR~UNENCRYPTED_SRTP"
#define AES32 "crypto=9~AES_CM_128_HMAC_SHA1_32~inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

int test_answer_sip_cases(void)
{
	static const struct oa_case cases[] = {
		{ "baresip offers opus first, we prefer PCMU", "sip | audio 96:opus/48000/2 "
		  "0:PCMU/8000 8:PCMA/8000 101:telephone-event/8000 fmtp=101:0-15", "sip",
		  "audio 5004 0:PCMU/8000 101:telephone-event/8000[0-15] sendrecv ptime=20 "
		  "rtcp=5005" },
		{ "the peer's payload types are kept", "sip | audio 8:PCMA/8000 "
		  "97:telephone-event/8000", "sip",
		  "audio 5004 8:PCMA/8000 97:telephone-event/8000 sendrecv ptime=20 rtcp=5005" },
		{ "opus at the peer's dynamic type", "sip | audio 98:opus/48000/2 9:G722/8000",
		  "sip",
		  "audio 5004 98:opus/48000/2[minptime=10;useinbandfec=1] sendrecv ptime=20 "
		  "rtcp=5005" },
		{ "telephone-event/8000 beside opus is taken (the bridge maps clocks)",
		  "sip | audio 98:opus/48000/2 101:telephone-event/8000", "sip",
		  "audio 5004 98:opus/48000/2[minptime=10;useinbandfec=1] "
		  "101:telephone-event/8000 sendrecv ptime=20 rtcp=5005" },
		{ "SDES: the suite we have, under its tag", "sip | audio 0:PCMU/8000 "
		  "proto=RTP/SAVP " AES256 " " AES80, "sip-srtp",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 "
		  "crypto=2 AES_CM_128_HMAC_SHA1_80" },
		{ "video rejected in place", "sip | audio 0:PCMU/8000 | video 31:H261/90000", "sip",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 | video 0" },
		{ "the peer holds", "sip | audio 0:PCMU/8000 dir=sendonly", "sip",
		  "audio 5004 0:PCMU/8000 recvonly ptime=20 rtcp=5005" },
		{ "the peer holds with inactive", "sip | audio 0:PCMU/8000 dir=inactive", "sip",
		  "audio 5004 0:PCMU/8000 inactive ptime=20 rtcp=5005" },
		{ "rtcp-mux taken", "sip | audio 0:PCMU/8000 mux", "sip-mux",
		  "audio 5004 0:PCMU/8000 sendrecv mux ptime=20" },
		{ "rtcp-mux declined", "sip | audio 0:PCMU/8000 mux", "sip",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005" },
		{ "no common codec", "sip | audio 9:G722/8000 18:G729/8000", "sip",
		  "ENOTSUP: " NO_COMMON },
		{ "best-effort SDES: RTP/AVP with a=crypto is answered with our line",
		  "sip | audio 0:PCMU/8000 " AES80, "sip-sdes-opt",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 "
		  "crypto=2 AES_CM_128_HMAC_SHA1_80" },
		{ "best-effort SDES with a suite we lack: plain RTP",
		  "sip | audio 0:PCMU/8000 " AES256, "sip-sdes-opt",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005" },
		{ "the offerer's first suite we have wins (RFC 4568 7.1.2)",
		  "sip | audio 0:PCMU/8000 proto=RTP/SAVP " AES256 " " GCM128 " " AES80,
		  "sip-sdes-mand",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 crypto=5 AEAD_AES_128_GCM" },
		{ "AEAD_AES_256_GCM taken", "sip | audio 0:PCMU/8000 proto=RTP/SAVP " GCM256,
		  "sip-sdes-mand",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 crypto=6 AEAD_AES_256_GCM" },
		{ "a line with a KDR or UNENCRYPTED_SRTP is passed over",
		  "sip | audio 0:PCMU/8000 proto=RTP/SAVP " AES80KDR " " AES32CLEAR " " AES32,
		  "sip-sdes-mand",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 "
		  "crypto=9 AES_CM_128_HMAC_SHA1_32" },
		{ "a key of the wrong length for its suite is passed over",
		  "sip | audio 0:PCMU/8000 proto=RTP/SAVP " GCM256SHORT, "sip-sdes-mand",
		  "ENOTSUP: audio m= line 1 wants SDES-SRTP with suites we lack" },
		{ "mandatory: a plain offer is refused", "sip | audio 0:PCMU/8000",
		  "sip-sdes-mand",
		  "ENOTSUP: audio m= line 1 offers no SDES-SRTP we take, and we require it" },
		{ "mandatory: RTP/AVP with a crypto line we take is fine",
		  "sip | audio 0:PCMU/8000 " AES32, "sip-sdes-mand",
		  "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005 "
		  "crypto=9 AES_CM_128_HMAC_SHA1_32" },
		{ "mandatory: RTP/AVP with only lines we lack is refused",
		  "sip | audio 0:PCMU/8000 " AES256, "sip-sdes-mand",
		  "ENOTSUP: audio m= line 1 offers no SDES-SRTP we take, and we require it" },
		{ "SDES and no keys of ours", "sip | audio 0:PCMU/8000 proto=RTP/SAVP " AES80,
		  "sip",
		  "ENOTSUP: audio m= line 1 wants SDES-SRTP and we have no keys" },
		{ "SDES with suites we lack", "sip | audio 0:PCMU/8000 proto=RTP/SAVP " AES256,
		  "sip-srtp", "ENOTSUP: audio m= line 1 wants SDES-SRTP with suites we lack" },
		{ "DTLS toward the SIP side", "sip | audio 0:PCMU/8000 proto=UDP/TLS/RTP/SAVPF",
		  "sip",
		  "ENOTSUP: audio m= line 1 is UDP/TLS/RTP/SAVPF; we take RTP/AVP and RTP/SAVP" },
		{ "audio rejected by the offerer", "sip | audio 0:PCMU/8000 port=0", "sip",
		  "ENOTSUP: audio m= line 1 is rejected in the offer" },
		{ "our order and ptime unless told", "sip | audio 8:PCMA/8000 0:PCMU/8000 "
		  "ptime:30", "sip", "audio 5004 0:PCMU/8000 sendrecv ptime=20 rtcp=5005" },
		{ "transcoding: the offerer's first codec at its ptime", "sip | audio 8:PCMA/8000 "
		  "0:PCMU/8000 101:telephone-event/8000 ptime:30", "sip-xcode",
		  "audio 5004 8:PCMA/8000 101:telephone-event/8000 sendrecv ptime=30 rtcp=5005" },
		{ "transcoding: codecs we lack are passed over", "sip | audio 9:G722/8000 "
		  "96:opus/48000/2 0:PCMU/8000", "sip-xcode",
		  "audio 5004 96:opus/48000/2[minptime=10;useinbandfec=1] sendrecv ptime=20 "
		  "rtcp=5005" },
		{ "transcoding: no ptime offered, ours", "sip | audio 8:PCMA/8000", "sip-xcode",
		  "audio 5004 8:PCMA/8000 sendrecv ptime=20 rtcp=5005" },
	};
	size_t i;
	int fails = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fails += run_oa(&cases[i], tnd_sdp_answer_sip);
	return fails;
}

static int expect_text(const struct tnd_sdp *s, const char *want)
{
	char *text = tnd_test_sdp_write_ok(s);
	int r = !text || strcmp(text, want);

	if (r)
		printf("# got:\n%s# want:\n%s", text ? text : "(none)\n", want);
	free(text);
	return r;
}

#define GW_TRANSPORT(setup) L("a=ice-ufrag:gWz9") L("a=ice-pwd:tandemtandemtandemtand1") \
	L("a=ice-options:trickle") L("a=fingerprint:" FP_GW) L("a=setup:" setup)
#define GW_STREAM L("a=ssrc:287454020 cname:tandem") L("a=ssrc:287454020 msid:tandem audio0") \
	L("a=candidate:1 1 udp 2130706431 203.0.113.5 40000 typ host") L("a=end-of-candidates")

/* The whole answer to Chromium's real offer, line by line. */
int test_answer_webrtc_text(void)
{
	struct tnd_sdp *offer = tnd_test_sdp_parse_ok(tnd_test_sdp_chrome_offer()), *ans = NULL;
	struct tnd_sdp_local l = local_for("pcmu");
	struct tnd_sdp_neg neg;

	TEST_ASSERT(offer);
	TEST_ASSERT(tnd_sdp_answer_webrtc(&ans, offer, &l, err, sizeof(err)) == 0);
	TEST_ASSERT(!expect_text(ans, L("v=0") L("o=- 7 3 IN IP4 203.0.113.5") L("s=-")
		L("t=0 0") L("a=group:BUNDLE 0") L("a=msid-semantic: WMS tandem")
		L("m=audio 40000 UDP/TLS/RTP/SAVPF 0 126") L("c=IN IP4 203.0.113.5")
		GW_TRANSPORT("active") L("a=mid:0")
		L("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level") L("a=sendrecv")
		L("a=msid:tandem audio0") L("a=rtcp-mux") L("a=rtcp-rsize")
		L("a=rtpmap:0 PCMU/8000")
		L("a=rtpmap:126 telephone-event/8000") GW_STREAM
		L("m=video 0 UDP/TLS/RTP/SAVPF 96") L("c=IN IP4 0.0.0.0") L("a=mid:1")
		L("a=inactive")
		L("m=application 0 UDP/DTLS/SCTP webrtc-datachannel") L("c=IN IP4 0.0.0.0")
		L("a=mid:2") L("a=inactive")));
	/* what the call layer reads: our side is the answerer and DTLS client */
	TEST_ASSERT(tnd_sdp_negotiated(&neg, offer, ans, err, sizeof(err)) == 0);
	TEST_ASSERT(neg.index == 0 && neg.codec->pt == 0 && !strcmp(neg.codec->name, "PCMU"));
	TEST_ASSERT(neg.dtmf && neg.dtmf->pt == 126 && neg.dtmf->clock == 8000);
	TEST_ASSERT(neg.rtcp_mux && neg.answerer_dtls_client && neg.dir == TND_SDP_SENDRECV);
	TEST_ASSERT(neg.offer_m == offer->media[0] && !strcmp(neg.offer_m->ice.ufrag, "Ow9+"));
	TEST_ASSERT(neg.offer_m->n_cands == 3 && !neg.offer_crypto);
	tnd_sdp_free(ans);
	tnd_sdp_free(offer);
	return 0;
}

int test_offer_sip(void)
{
	struct tnd_sdp_local l = local_for("sip");
	struct tnd_sdp *o = NULL;

	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	TEST_ASSERT(!expect_text(o, L("v=0") L("o=- 7 3 IN IP4 198.51.100.2") L("s=-")
		L("c=IN IP4 198.51.100.2") L("t=0 0") L("m=audio 5004 RTP/AVP 0 8 111 101 110")
		L("a=rtcp:5005") L("a=sendrecv") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:8 PCMA/8000")
		L("a=rtpmap:111 opus/48000/2") L("a=fmtp:111 minptime=10;useinbandfec=1")
		L("a=rtpmap:101 telephone-event/8000") L("a=fmtp:101 0-16")
		L("a=rtpmap:110 telephone-event/48000") L("a=fmtp:110 0-16") L("a=ptime:20")));
	tnd_sdp_free(o);

	/* payload types picked for us: static ones, then the browsers' numbers,
	 * then the first free dynamic one; a duplicate is left out */
	static const struct tnd_sdp_codec_pref autos[] = {
		{ "opus", 48000, 2, 0, NULL }, { "G722", 8000, 1, 0, NULL },
		{ "telephone-event", 8000, 1, 0, NULL }, { "iLBC", 8000, 1, 0, "mode=30" },
		{ "speex", 16000, 1, 97, NULL }, { "telephone-event", 48000, 1, 0, NULL },
		{ "G722", 8000, 1, 0, NULL },
	};
	l.codecs = autos;
	l.n_codecs = sizeof(autos) / sizeof(autos[0]);
	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	TEST_ASSERT(o->media[0]->n_codecs == 6 && o->media[0]->codecs[3].pt == 96);
	TEST_ASSERT(o->media[0]->codecs[0].pt == 111 && o->media[0]->codecs[1].pt == 9);
	TEST_ASSERT(o->media[0]->codecs[2].pt == 101 && o->media[0]->codecs[4].pt == 97);
	TEST_ASSERT(o->media[0]->codecs[5].pt == 110);
	tnd_sdp_free(o);

	l = local_for("sip-srtp");
	l.dir = TND_SDP_SENDONLY;
	l.rtcp_mux = true;
	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	TEST_ASSERT(!strcmp(o->media[0]->proto, "RTP/SAVP") && o->media[0]->n_crypto == 1);
	TEST_ASSERT(o->media[0]->dir == TND_SDP_SENDONLY && o->media[0]->rtcp_mux);
	tnd_sdp_free(o);

	/* [media] sip_srtp optional: RTP/AVP carrying every line, in order */
	l = local_for("sip-sdes-opt");
	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	TEST_ASSERT(!strcmp(o->media[0]->proto, "RTP/AVP") && o->media[0]->n_crypto == 4);
	TEST_ASSERT(!strcmp(o->media[0]->crypto[3], gw_crypto_all[3]));
	tnd_sdp_free(o);
	l = local_for("sip-sdes-mand");
	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	TEST_ASSERT(!strcmp(o->media[0]->proto, "RTP/SAVP") && o->media[0]->n_crypto == 4);
	tnd_sdp_free(o);
	return 0;
}

/* Our SIP offer, and what the far end's answer agreed on. */
int test_negotiated_sip(void)
{
	struct tnd_sdp_local l = local_for("sip-srtp");
	struct tnd_sdp *o = NULL, *a;
	struct tnd_sdp_neg neg;
	static const char answer[] =
		L("v=0") L("o=- 99 1 IN IP4 192.0.2.50") L("s=-") L("c=IN IP4 192.0.2.50")
		L("t=0 0") L("m=audio 30000 RTP/SAVP 8 101") L("a=rtpmap:8 PCMA/8000")
		L("a=rtpmap:101 telephone-event/8000")
		L("a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
		  "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");

	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	a = tnd_test_sdp_parse_ok(answer);
	TEST_ASSERT(a && tnd_sdp_negotiated(&neg, o, a, err, sizeof(err)) == 0);
	TEST_ASSERT(neg.codec->pt == 8 && neg.dtmf->pt == 101 && !neg.answerer_dtls_client);
	TEST_ASSERT(!strcmp(tnd_sdp_media_conn(a, neg.answer_m)->addr, "192.0.2.50"));
	TEST_ASSERT(neg.answer_m->port == 30000 && !strcmp(neg.offer_crypto, gw_crypto[0]));
	TEST_ASSERT(!strncmp(neg.answer_crypto, "1 AES_CM_128_HMAC_SHA1_80 inline:PS1u", 37));
	tnd_sdp_free(a);
	tnd_sdp_free(o);
	return 0;
}

/* Our offer to a browser, and Chromium's answer to it. */
int test_offer_webrtc(void)
{
	struct tnd_sdp_local l = local_for("opus");
	struct tnd_sdp *o = NULL, *a;
	struct tnd_sdp_neg neg;
	static const char answer[] =
		L("v=0") L("o=- 5551212 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0")
		L("a=group:BUNDLE 0") L("a=msid-semantic: WMS")
		L("m=audio 9 UDP/TLS/RTP/SAVPF 111 110") L("c=IN IP4 0.0.0.0")
		L("a=rtcp:9 IN IP4 0.0.0.0") L("a=ice-ufrag:Ow9+")
		L("a=ice-pwd:Gk2bA7sQm6hX1yTqzR0vN3pL") L("a=ice-options:trickle")
		L("a=fingerprint:sha-256 " FP_CHROME) L("a=setup:active") L("a=mid:0")
		L("a=sendrecv") L("a=rtcp-mux") L("a=rtpmap:111 opus/48000/2")
		L("a=rtcp-fb:111 transport-cc") L("a=fmtp:111 minptime=10;useinbandfec=1")
		L("a=rtpmap:110 telephone-event/48000");
	char *text;

	TEST_ASSERT(tnd_sdp_offer_webrtc(&o, &l) == 0);
	TEST_ASSERT(!expect_text(o, L("v=0") L("o=- 7 3 IN IP4 203.0.113.5") L("s=-")
		L("t=0 0") L("a=group:BUNDLE 0") L("a=msid-semantic: WMS tandem")
		L("m=audio 40000 UDP/TLS/RTP/SAVPF 111 0 8 110 101") L("c=IN IP4 203.0.113.5")
		GW_TRANSPORT("actpass") L("a=mid:0")
		L("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level") L("a=sendrecv")
		L("a=msid:tandem audio0") L("a=rtcp-mux") L("a=rtcp-rsize")
		L("a=rtpmap:111 opus/48000/2") L("a=rtcp-fb:111 transport-cc")
		L("a=rtcp-fb:111 nack")
		L("a=fmtp:111 minptime=10;useinbandfec=1") L("a=rtpmap:0 PCMU/8000")
		L("a=rtcp-fb:0 transport-cc") L("a=rtcp-fb:0 nack") L("a=rtpmap:8 PCMA/8000")
		L("a=rtcp-fb:8 transport-cc") L("a=rtcp-fb:8 nack")
		L("a=rtpmap:110 telephone-event/48000") L("a=fmtp:110 0-16")
		L("a=rtpmap:101 telephone-event/8000") L("a=fmtp:101 0-16") GW_STREAM));
	/* what we send parses, and the browser's answer reads back */
	TEST_ASSERT(tnd_sdp_write_alloc(o, &text, NULL) == 0);
	a = tnd_test_sdp_parse_ok(text);
	TEST_ASSERT(a && a->media[0]->setup == TND_SDP_SETUP_ACTPASS);
	tnd_sdp_free(a);
	free(text);
	a = tnd_test_sdp_parse_ok(answer);
	TEST_ASSERT(a);
	TEST_ASSERT(tnd_sdp_negotiated(&neg, o, a, err, sizeof(err)) == 0);
	TEST_ASSERT(neg.codec->pt == 111 && neg.codec->channels == 2 && neg.dtmf->pt == 110);
	TEST_ASSERT(neg.answerer_dtls_client && neg.rtcp_mux && neg.dir == TND_SDP_SENDRECV);
	TEST_ASSERT(!strcmp(neg.answer_m->ice.pwd, "Gk2bA7sQm6hX1yTqzR0vN3pL"));
	tnd_sdp_free(a);

	/* no candidates yet (trickle), no stream: port 9, 0.0.0.0, no ssrc */
	l.n_cands = 0;
	l.cands_done = false;
	l.addr = NULL;
	l.port = 0;
	l.ssrc = 0;
	l.msid_stream = NULL;
	tnd_sdp_free(o);
	TEST_ASSERT(tnd_sdp_offer_webrtc(&o, &l) == 0);
	TEST_ASSERT(o->media[0]->port == 9 && !strcmp(o->media[0]->conn.addr, "0.0.0.0"));
	TEST_ASSERT(!o->media[0]->n_cands && !o->media[0]->end_of_cands && !o->media[0]->n_ssrcs);
	TEST_ASSERT(!strcmp(o->msid_semantic, "WMS") && !o->media[0]->msid);
	tnd_sdp_free(o);
	return 0;
}

int test_negotiated_errors(void)
{
	static const struct {
		const char *answer_m;   /* the answer's m= section */
		int code;
		const char *msg;
	} cases[] = {
		{ L("m=audio 30000 RTP/AVP 8") L("m=video 0 RTP/AVP 31"), EPROTO,
		  "the answer has 2 m= lines, the offer 1" },
		{ L("m=video 30000 RTP/AVP 31"), EPROTO,
		  "m= line 1: the answer's media type differs" },
		{ L("m=audio 30000 RTP/AVP 9"), EPROTO,
		  "m= line 1: the answer's G722/8000 was not offered" },
		{ L("m=audio 30000 RTP/AVP 101") L("a=rtpmap:101 telephone-event/8000"), EPROTO,
		  "m= line 1: the answer keeps no audio codec" },
		{ L("m=audio 0 RTP/AVP 0"), ENOTSUP, "the answer accepts no audio m= line" },
		{ L("m=audio 30000 RTP/AVP 0") L("a=fingerprint:sha-256 " FP_CHROME)
		  L("a=setup:actpass"), EPROTO,
		  "m= line 1: an answer's a=setup must be active or passive" },
		{ L("m=audio 30000 RTP/SAVP 0")
		  L("a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:abcdefgh"),
		  EPROTO, "m= line 1: the answer's crypto tag was not offered" },
		{ L("m=audio 30000 RTP/SAVP 0"), EPROTO,
		  "m= line 1: SDES offered and the answer has no a=crypto" },
		/* a PT of its own for a codec we offered is fine (RFC 3264 6.1) */
		{ L("m=audio 30000 RTP/SAVP 96") L("a=rtpmap:96 opus/48000/2")
		  L("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcdefgh"), 0, "" },
	};
	struct tnd_sdp_local l = local_for("sip-srtp");
	struct tnd_sdp *o = NULL;
	size_t i;

	TEST_ASSERT(tnd_sdp_offer_sip(&o, &l) == 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = g_strconcat(L("v=0") L("o=- 1 1 IN IP4 192.0.2.50") L("s=-")
					 L("c=IN IP4 192.0.2.50") L("t=0 0"), cases[i].answer_m,
					 NULL);
		struct tnd_sdp *a = tnd_test_sdp_parse_ok(text);
		struct tnd_sdp_neg neg = { .index = 99 };
		int code;

		err[0] = '\0';
		code = a ? tnd_sdp_negotiated(&neg, o, a, err, sizeof(err)) : -1;
		g_free(text);
		tnd_sdp_free(a);
		if (code != cases[i].code || strcmp(err, cases[i].msg) ||
		    (code && neg.index != 99)) {
			printf("# case %zu: got %d '%s'\n", i, code, err);
			tnd_sdp_free(o);
			return 1;
		}
	}
	tnd_sdp_free(o);
	return 0;
}

int test_local_invalid(void)
{
	struct tnd_sdp *offer = tnd_test_sdp_parse_ok(tnd_test_sdp_chrome_offer()), *s = NULL;
	struct tnd_sdp_local l = local_for("pcmu");
	static const struct tnd_sdp_codec_pref only_dtmf[] = {
		{ "telephone-event", 8000, 1, 101, NULL },
	};
	static const char *const bad_crypto[] = { "1 AES_CM_128_HMAC_SHA1_80 nokey" };

	TEST_ASSERT(offer);
	l.ice_pwd = "short";
	TEST_ASSERT(tnd_sdp_answer_webrtc(&s, offer, &l, err, sizeof(err)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(err, "local: ICE ufrag and pwd");
	l = local_for("pcmu");
	l.fingerprint = "sha-256 AB:CD";
	TEST_ASSERT(tnd_sdp_answer_webrtc(&s, offer, &l, err, sizeof(err)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(err, "local: fingerprint length does not fit its hash");
	TEST_ASSERT(tnd_sdp_offer_webrtc(&s, &l) == EINVAL);
	l = local_for("pcmu");
	l.addr = "203.0.113.5\r\nm=video 1 RTP/AVP 0";
	TEST_ASSERT(tnd_sdp_answer_webrtc(&s, offer, &l, err, sizeof(err)) == EINVAL);
	l = local_for("sip");
	l.codecs = only_dtmf;
	l.n_codecs = 1;
	TEST_ASSERT(tnd_sdp_offer_sip(&s, &l) == EINVAL);
	l.n_codecs = 0;
	TEST_ASSERT(tnd_sdp_answer_sip(&s, offer, &l, err, sizeof(err)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(err, "local: no codecs");
	l = local_for("sip");
	l.crypto = bad_crypto;
	l.n_crypto = 1;
	TEST_ASSERT(tnd_sdp_offer_sip(&s, &l) == EINVAL);
	TEST_ASSERT(tnd_sdp_answer_sip(NULL, offer, &l, err, sizeof(err)) == EINVAL);
	TEST_ASSERT(tnd_sdp_answer_webrtc(&s, NULL, &l, err, sizeof(err)) == EINVAL);
	TEST_ASSERT(tnd_sdp_negotiated(NULL, offer, offer, err, sizeof(err)) == EINVAL);
	TEST_ASSERT(!s);
	tnd_sdp_free(offer);
	return 0;
}
