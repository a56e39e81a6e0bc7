/* SDP writer: the model of sdp.h as CRLF text in RFC 8866 5 order (v o s c
 * b t a, then per m= section m c b a). Attributes we model come first in a
 * fixed order, then the ones kept as written, then candidates, so that
 * parse(write(x)) gives x back and write is a fixed point of parse+write
 * (the fuzzer checks it). Pure function; any thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

struct out {
	char *buf;
	size_t cap;
	size_t len;      /* what the whole text needs, even past cap */
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (o->len < o->cap)
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	else
		n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static const char *or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

static const char *setup_name(enum tnd_sdp_setup s)
{
	switch (s) {
	case TND_SDP_SETUP_ACTPASS:
		return "actpass";
	case TND_SDP_SETUP_ACTIVE:
		return "active";
	case TND_SDP_SETUP_PASSIVE:
		return "passive";
	case TND_SDP_SETUP_HOLDCONN:
		return "holdconn";
	case TND_SDP_SETUP_NONE:
	default:
		return NULL;
	}
}

static void put_list(struct out *o, const char *prefix, const char *const *list, unsigned n,
		     unsigned cap)
{
	unsigned i;

	for (i = 0; i < n && i < cap; i++)
		if (list[i])
			put(o, "%s%s\r\n", prefix, list[i]);
}

static void put_transport(struct out *o, const struct tnd_sdp_ice *ice,
			  const struct tnd_sdp_fingerprint *fp, enum tnd_sdp_setup setup)
{
	if (ice->ufrag)
		put(o, "a=ice-ufrag:%s\r\n", ice->ufrag);
	if (ice->pwd)
		put(o, "a=ice-pwd:%s\r\n", ice->pwd);
	if (ice->options)
		put(o, "a=ice-options:%s\r\n", ice->options);
	if (fp->alg && fp->value)
		put(o, "a=fingerprint:%s %s\r\n", fp->alg, fp->value);
	if (setup_name(setup))
		put(o, "a=setup:%s\r\n", setup_name(setup));
}

static void put_codecs(struct out *o, const struct tnd_sdp_media *m)
{
	unsigned i;

	for (i = 0; i < m->n_codecs && i < TND_SDP_MAX_CODECS; i++) {
		const struct tnd_sdp_codec *c = &m->codecs[i];
		unsigned j;

		if (c->name && c->clock) {
			put(o, "a=rtpmap:%u %s/%" PRIu32, c->pt, c->name, c->clock);
			if (c->channels > 1)
				put(o, "/%u", c->channels);
			put(o, "\r\n");
		}
		for (j = 0; j < c->n_fb && j < TND_SDP_MAX_FB; j++)
			if (c->fb[j])
				put(o, "a=rtcp-fb:%u %s\r\n", c->pt, c->fb[j]);
		if (c->fmtp && *c->fmtp)
			put(o, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
	}
}

static int put_media(struct out *o, const struct tnd_sdp_media *m)
{
	unsigned i;

	if (m->rtp ? !m->n_codecs : !m->n_fmts)
		return EINVAL;   /* RFC 8866 5.14: an m= line lists a format */
	put(o, "m=%s %u", or(m->type_name, "audio"), m->port);
	if (m->n_ports)
		put(o, "/%u", m->n_ports);
	put(o, " %s", or(m->proto, "RTP/AVP"));
	if (m->rtp)
		for (i = 0; i < m->n_codecs && i < TND_SDP_MAX_CODECS; i++)
			put(o, " %u", m->codecs[i].pt);
	else
		for (i = 0; i < m->n_fmts && i < TND_SDP_MAX_FMTS; i++)
			put(o, " %s", or(m->fmts[i], "0"));
	put(o, "\r\n");
	if (m->conn.addr)
		put(o, "c=IN %s %s\r\n", or(m->conn.addrtype, "IP4"), m->conn.addr);
	put_list(o, "b=", m->bw, m->n_bw, TND_SDP_MAX_BW);
	if (m->rtcp_port) {
		put(o, "a=rtcp:%u", m->rtcp_port);
		if (m->rtcp_conn.addr)
			put(o, " IN %s %s", or(m->rtcp_conn.addrtype, "IP4"), m->rtcp_conn.addr);
		put(o, "\r\n");
	}
	put_transport(o, &m->ice, &m->fp, m->setup);
	if (m->mid)
		put(o, "a=mid:%s\r\n", m->mid);
	for (i = 0; i < m->n_extmaps && i < TND_SDP_MAX_EXTMAPS; i++) {
		const struct tnd_sdp_extmap *x = &m->extmaps[i];

		if (!x->uri)
			continue;
		put(o, "a=extmap:%u", x->id);
		if (x->has_dir)
			put(o, "/%s", tnd_sdp_dir_name(x->dir));
		put(o, " %s%s%s\r\n", x->uri, x->attrs ? " " : "", x->attrs ? x->attrs : "");
	}
	put(o, "a=%s\r\n", tnd_sdp_dir_name(m->dir));
	if (m->msid)
		put(o, "a=msid:%s\r\n", m->msid);
	if (m->rtcp_mux)
		put(o, "a=rtcp-mux\r\n");
	if (m->rtcp_rsize)
		put(o, "a=rtcp-rsize\r\n");
	if (m->bundle_only)
		put(o, "a=bundle-only\r\n");
	put_codecs(o, m);
	if (m->ptime)
		put(o, "a=ptime:%u\r\n", m->ptime);
	if (m->maxptime)
		put(o, "a=maxptime:%u\r\n", m->maxptime);
	put_list(o, "a=crypto:", m->crypto, m->n_crypto, TND_SDP_MAX_CRYPTO);
	for (i = 0; i < m->n_ssrcs && i < TND_SDP_MAX_SSRCS; i++) {
		const struct tnd_sdp_ssrc *s = &m->ssrcs[i];

		if (s->cname)
			put(o, "a=ssrc:%" PRIu32 " cname:%s\r\n", s->ssrc, s->cname);
		if (s->msid)
			put(o, "a=ssrc:%" PRIu32 " msid:%s\r\n", s->ssrc, s->msid);
	}
	put_list(o, "a=", m->attrs, m->n_attrs, TND_SDP_MAX_ATTRS);
	/* candidates last, as browsers write them and as trickle ICE appends */
	put_list(o, "a=", m->cands, m->n_cands, TND_SDP_MAX_CANDS);
	if (m->end_of_cands)
		put(o, "a=end-of-candidates\r\n");
	return 0;
}

static int put_sdp(struct out *o, const struct tnd_sdp *sdp)
{
	unsigned i;
	int err;

	put(o, "v=0\r\n");
	put(o, "o=%s %s %" PRIu64 " IN %s %s\r\n", or(sdp->user, "-"), or(sdp->sess_id, "0"),
	    sdp->sess_version, or(sdp->origin.addrtype, "IP4"), or(sdp->origin.addr, "0.0.0.0"));
	put(o, "s=%s\r\n", or(sdp->name, "-"));
	if (sdp->conn.addr)
		put(o, "c=IN %s %s\r\n", or(sdp->conn.addrtype, "IP4"), sdp->conn.addr);
	put_list(o, "b=", sdp->bw, sdp->n_bw, TND_SDP_MAX_BW);
	put(o, "t=%" PRIu64 " %" PRIu64 "\r\n", sdp->t_start, sdp->t_stop);
	if (sdp->ice_lite)
		put(o, "a=ice-lite\r\n");
	put_transport(o, &sdp->ice, &sdp->fp, sdp->setup);
	if (sdp->bundle) {
		put(o, "a=group:BUNDLE");
		for (i = 0; i < sdp->n_bundle && i < TND_SDP_MAX_MEDIA; i++)
			put(o, " %s", or(sdp->bundle_mids[i], "0"));
		put(o, "\r\n");
	}
	if (sdp->msid_semantic)
		put(o, "a=msid-semantic: %s\r\n", sdp->msid_semantic);
	put_list(o, "a=", sdp->attrs, sdp->n_attrs, TND_SDP_MAX_ATTRS);
	for (i = 0; i < sdp->n_media && i < TND_SDP_MAX_MEDIA; i++) {
		err = put_media(o, sdp->media[i]);
		if (err)
			return err;
	}
	return 0;
}

int tnd_sdp_write(const struct tnd_sdp *sdp, char *buf, size_t cap, size_t *lenp)
{
	struct out o = { buf, buf ? cap : 0, 0 };
	int err;

	if (!sdp)
		return EINVAL;
	err = put_sdp(&o, sdp);
	if (err)
		return err;
	if (lenp)
		*lenp = o.len;
	return o.len < o.cap ? 0 : ENOSPC;
}

int tnd_sdp_write_alloc(const struct tnd_sdp *sdp, char **textp, size_t *lenp)
{
	size_t len = 0;
	char *text;
	int err;

	if (!sdp || !textp)
		return EINVAL;
	err = tnd_sdp_write(sdp, NULL, 0, &len);
	if (err != ENOSPC)
		return err ? err : EINVAL;
	text = malloc(len + 1);
	if (!text)
		return ENOMEM;
	err = tnd_sdp_write(sdp, text, len + 1, &len);
	if (err) {
		free(text);
		return err;
	}
	*textp = text;
	if (lenp)
		*lenp = len;
	return 0;
}
