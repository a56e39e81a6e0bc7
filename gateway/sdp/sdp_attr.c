/* SDP attributes (a= lines) we model, one handler each, dispatched by a
 * table: RFC 8866 6, RFC 3264 5.1 (directions), RFC 8839 5 (ICE), RFC 8840
 * (end-of-candidates), RFC 8122 and 4145 (fingerprint, setup), RFC 5761
 * and 5506 (rtcp-mux, rtcp-rsize), RFC 8843 (mid, BUNDLE), RFC 8285
 * (extmap), RFC 5576 and 8830 (ssrc, msid), RFC 4568 (crypto). A handler
 * either fills the model, fails (EBADMSG naming the line), or answers
 * TND_SDP_KEEP_RAW to keep the line as written. Part of the parser. */
#include <errno.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

static struct tnd_sdp_ice *cur_ice(struct tnd_sdp_parser *p)
{
	return p->m ? &p->m->ice : &p->sdp->ice;
}

static int attr_mid(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	unsigned i;

	if (p->m->mid)
		return tnd_sdp_fail(p, EBADMSG, "second a=mid in this section");
	if (!tnd_sdp_token_ok(v, n))
		return tnd_sdp_fail(p, EBADMSG, "a=mid needs a token");
	for (i = 0; i + 1 < p->sdp->n_media; i++) {
		const char *mid = p->sdp->media[i]->mid;

		if (mid && strlen(mid) == n && !memcmp(mid, v, n))
			return tnd_sdp_fail(p, EBADMSG, "mid '%.*s' repeats", (int)n, v);
	}
	return tnd_sdp_keep(p, &p->m->mid, v, n);
}

static int attr_rtcp(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_cur c = { v, v + n };
	const char *f[4];
	size_t fn[4];
	uint64_t port;
	int err = 0;

	if (p->m->rtcp_port)
		return tnd_sdp_fail(p, EBADMSG, "second a=rtcp in this section");
	if (!tnd_sdp_field(&c, &f[0], &fn[0]) || !tnd_sdp_number(f[0], fn[0], 65535, &port) ||
	    !port)
		return tnd_sdp_fail(p, EBADMSG, "a=rtcp port is not 1-65535");
	if (tnd_sdp_field(&c, &f[1], &fn[1])) {
		if (!tnd_sdp_field(&c, &f[2], &fn[2]) || !tnd_sdp_field(&c, &f[3], &fn[3]) ||
		    tnd_sdp_more(&c) || !tnd_sdp_eq(f[1], fn[1], "IN") ||
		    (!tnd_sdp_eq(f[2], fn[2], "IP4") && !tnd_sdp_eq(f[2], fn[2], "IP6")))
			return tnd_sdp_fail(p, EBADMSG,
					    "a=rtcp address must be IN IP4|IP6 <address>");
		err = tnd_sdp_keep(p, &p->m->rtcp_conn.addrtype, f[2], fn[2]);
		if (!err)
			err = tnd_sdp_keep(p, &p->m->rtcp_conn.addr, f[3], fn[3]);
	}
	p->m->rtcp_port = (uint16_t)port;
	return err;
}

static int attr_ice_ufrag(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_ice *ice = cur_ice(p);

	if (ice->ufrag)
		return tnd_sdp_fail(p, EBADMSG, "second a=ice-ufrag in this section");
	if (!tnd_sdp_ice_chars_ok(v, n, 4))
		return tnd_sdp_fail(p, EBADMSG, "a=ice-ufrag must be 4-256 ice-chars");
	return tnd_sdp_keep(p, &ice->ufrag, v, n);
}

static int attr_ice_pwd(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_ice *ice = cur_ice(p);

	if (ice->pwd)
		return tnd_sdp_fail(p, EBADMSG, "second a=ice-pwd in this section");
	if (!tnd_sdp_ice_chars_ok(v, n, 22))
		return tnd_sdp_fail(p, EBADMSG, "a=ice-pwd must be 22-256 ice-chars");
	return tnd_sdp_keep(p, &ice->pwd, v, n);
}

static int attr_ice_options(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_ice *ice = cur_ice(p);

	if (ice->options || !n)
		return TND_SDP_KEEP_RAW;
	return tnd_sdp_keep(p, &ice->options, v, n);
}

static int attr_fingerprint(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_fingerprint *fp = p->m ? &p->m->fp : &p->sdp->fp;
	struct tnd_sdp_cur c = { v, v + n };
	const char *f[2], *why;
	size_t fn[2];
	int err;

	if (!tnd_sdp_field(&c, &f[0], &fn[0]) || !tnd_sdp_field(&c, &f[1], &fn[1]) ||
	    tnd_sdp_more(&c))
		return tnd_sdp_fail(p, EBADMSG, "a=fingerprint needs a hash name and a digest");
	why = tnd_sdp_check_fingerprint(f[0], fn[0], f[1], fn[1]);
	if (why)
		return tnd_sdp_fail(p, EBADMSG, "%s", why);
	/* RFC 8122 5: more than one may come, one per hash; the first is ours
	 * to use and the others are kept as written */
	if (fp->alg)
		return TND_SDP_KEEP_RAW;
	err = tnd_sdp_keep(p, &fp->alg, f[0], fn[0]);
	if (!err)
		err = tnd_sdp_keep(p, &fp->value, f[1], fn[1]);
	return err;
}

static int attr_setup(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	enum tnd_sdp_setup *setup = p->m ? &p->m->setup : &p->sdp->setup;

	if (*setup != TND_SDP_SETUP_NONE)
		return tnd_sdp_fail(p, EBADMSG, "second a=setup in this section");
	if (tnd_sdp_eq(v, n, "actpass"))
		*setup = TND_SDP_SETUP_ACTPASS;
	else if (tnd_sdp_eq(v, n, "active"))
		*setup = TND_SDP_SETUP_ACTIVE;
	else if (tnd_sdp_eq(v, n, "passive"))
		*setup = TND_SDP_SETUP_PASSIVE;
	else if (tnd_sdp_eq(v, n, "holdconn"))
		*setup = TND_SDP_SETUP_HOLDCONN;
	else
		return tnd_sdp_fail(p, EBADMSG,
				    "a=setup must be actpass, active, passive or holdconn");
	return 0;
}

static int attr_candidate(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	/* v is the whole attribute: the name is part of what we keep */
	const char *why = tnd_sdp_check_candidate(v, n);

	if (why)
		return tnd_sdp_fail(p, EBADMSG, "%s", why);
	return tnd_sdp_keep_list(p, p->m->cands, &p->m->n_cands, TND_SDP_MAX_CANDS, v, n);
}

static bool parse_dir(const char *s, size_t n, enum tnd_sdp_dir *dir)
{
	static const enum tnd_sdp_dir all[] = { TND_SDP_SENDRECV, TND_SDP_SENDONLY,
						TND_SDP_RECVONLY, TND_SDP_INACTIVE };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (tnd_sdp_eq(s, n, tnd_sdp_dir_name(all[i]))) {
			*dir = all[i];
			return true;
		}
	}
	return false;
}

static int attr_extmap(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_media *m = p->m;
	struct tnd_sdp_extmap *x;
	struct tnd_sdp_cur c = { v, v + n };
	const char *f, *uri, *slash, *attrs;
	size_t fn, urin, an;
	uint64_t id;
	enum tnd_sdp_dir dir = TND_SDP_SENDRECV;
	unsigned i;
	int err;

	if (!tnd_sdp_field(&c, &f, &fn))
		return tnd_sdp_fail(p, EBADMSG, "a=extmap needs an id and a URI");
	slash = memchr(f, '/', fn);
	/* RFC 8285 5 and 7: 1-14 one-byte, 1-255 two-byte, 4096-4351 offers */
	if (!tnd_sdp_number(f, slash ? (size_t)(slash - f) : fn, 4351, &id) || !id)
		return tnd_sdp_fail(p, EBADMSG, "a=extmap id is not 1-4351");
	if (slash && !parse_dir(slash + 1, fn - (size_t)(slash - f) - 1, &dir))
		return tnd_sdp_fail(p, EBADMSG, "a=extmap direction is not a direction");
	if (!tnd_sdp_field(&c, &uri, &urin))
		return tnd_sdp_fail(p, EBADMSG, "a=extmap needs an id and a URI");
	an = tnd_sdp_rest(&c, &attrs);
	for (i = 0; i < m->n_extmaps; i++)
		if (m->extmaps[i].id == id)
			return tnd_sdp_fail(p, EBADMSG, "a=extmap id %u repeats", (unsigned)id);
	if (m->n_extmaps >= TND_SDP_MAX_EXTMAPS) {
		m->n_dropped++;
		return 0;
	}
	x = &m->extmaps[m->n_extmaps];
	x->id = (uint16_t)id;
	x->has_dir = slash != NULL;
	x->dir = dir;
	err = tnd_sdp_keep(p, &x->uri, uri, urin);
	if (!err && an)
		err = tnd_sdp_keep(p, &x->attrs, attrs, an);
	if (!err)
		m->n_extmaps++;
	return err;
}

static int attr_dir(struct tnd_sdp_parser *p, const char *name, size_t n)
{
	enum tnd_sdp_dir dir = TND_SDP_SENDRECV;

	if (!parse_dir(name, n, &dir))
		return TND_SDP_KEEP_RAW;
	if (p->m) {
		p->m->dir = dir;
		p->dir_set[p->sdp->n_media - 1] = true;
	} else {
		p->sess_dir = dir;
		p->sess_dir_set = true;
	}
	return 0;
}

static int attr_msid(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	/* RFC 8830: a track may be in several streams; the first is ours */
	if (p->m->msid || !n)
		return TND_SDP_KEEP_RAW;
	return tnd_sdp_keep(p, &p->m->msid, v, n);
}

/* The codec a payload type field names, NULL if the m= line lists none. */
static struct tnd_sdp_codec *codec_of(struct tnd_sdp_parser *p, const char *f, size_t n,
				      uint64_t *pt)
{
	if (!tnd_sdp_number(f, n, 127, pt) || p->pt_idx[*pt] < 0)
		return NULL;
	return &p->m->codecs[p->pt_idx[*pt]];
}

static int attr_rtpmap(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_cur c = { v, v + n };
	struct tnd_sdp_codec *codec;
	const char *f, *enc, *s1, *s2 = NULL, *end;
	size_t fn, en;
	uint64_t pt, clock, ch = 1;

	if (!p->m->rtp)
		return TND_SDP_KEEP_RAW;
	if (!tnd_sdp_field(&c, &f, &fn) || !tnd_sdp_number(f, fn, 127, &pt))
		return tnd_sdp_fail(p, EBADMSG, "a=rtpmap payload type is not 0-127");
	if (!tnd_sdp_field(&c, &enc, &en) || tnd_sdp_more(&c))
		return tnd_sdp_fail(p, EBADMSG, "a=rtpmap needs <encoding>/<clock rate>");
	end = enc + en;
	s1 = memchr(enc, '/', en);
	if (s1)
		s2 = memchr(s1 + 1, '/', (size_t)(end - s1 - 1));
	if (!s1 || s1 == enc)
		return tnd_sdp_fail(p, EBADMSG, "a=rtpmap needs <encoding>/<clock rate>");
	if (!tnd_sdp_number(s1 + 1, (size_t)((s2 ? s2 : end) - s1 - 1), UINT32_MAX, &clock) ||
	    !clock)
		return tnd_sdp_fail(p, EBADMSG, "a=rtpmap clock rate is not 1-4294967295");
	if (s2 && (!tnd_sdp_number(s2 + 1, (size_t)(end - s2 - 1), 255, &ch) || !ch))
		return tnd_sdp_fail(p, EBADMSG, "a=rtpmap channels is not 1-255");
	codec = codec_of(p, f, fn, &pt);
	if (!codec)
		return TND_SDP_KEEP_RAW;   /* names a type the m= line does not list */
	if (p->rtpmap_seen[pt])
		return tnd_sdp_fail(p, EBADMSG, "second a=rtpmap for payload type %u",
				    (unsigned)pt);
	p->rtpmap_seen[pt] = true;
	codec->clock = (uint32_t)clock;
	codec->channels = (uint8_t)ch;
	return tnd_sdp_keep(p, &codec->name, enc, (size_t)(s1 - enc));
}

static int attr_fmtp(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_cur c = { v, v + n };
	struct tnd_sdp_codec *codec;
	const char *f, *params;
	size_t fn, pn;
	uint64_t pt;

	if (!p->m->rtp || !tnd_sdp_field(&c, &f, &fn))
		return TND_SDP_KEEP_RAW;
	codec = codec_of(p, f, fn, &pt);
	if (!codec || p->fmtp_seen[pt])
		return TND_SDP_KEEP_RAW;
	pn = tnd_sdp_rest(&c, &params);
	if (!pn)
		return TND_SDP_KEEP_RAW;   /* an empty one must not hide a later one */
	p->fmtp_seen[pt] = true;
	return tnd_sdp_keep(p, &codec->fmtp, params, pn);
}

static int attr_rtcp_fb(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_cur c = { v, v + n };
	struct tnd_sdp_codec *codec;
	const char *f, *val;
	size_t fn, vn;
	uint64_t pt;

	/* "*" (every type) stays as written, so does anything odd */
	if (!p->m->rtp || !tnd_sdp_field(&c, &f, &fn))
		return TND_SDP_KEEP_RAW;
	codec = codec_of(p, f, fn, &pt);
	vn = tnd_sdp_rest(&c, &val);
	if (!codec || !vn)
		return TND_SDP_KEEP_RAW;
	return tnd_sdp_keep_list(p, codec->fb, &codec->n_fb, TND_SDP_MAX_FB, val, vn);
}

static int attr_ptime(struct tnd_sdp_parser *p, const char *name, size_t nn, const char *v,
		      size_t n)
{
	uint64_t ms;
	bool max = tnd_sdp_eq(name, nn, "maxptime");

	if (!tnd_sdp_number(v, n, 60000, &ms) || !ms)
		return tnd_sdp_fail(p, EBADMSG, "a=%s is not 1-60000 ms",
				    max ? "maxptime" : "ptime");
	if (max)
		p->m->maxptime = (unsigned)ms;
	else
		p->m->ptime = (unsigned)ms;
	return 0;
}

static int attr_crypto(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	const char *why = tnd_sdp_check_crypto(v, n);

	if (why)
		return tnd_sdp_fail(p, EBADMSG, "%s", why);
	return tnd_sdp_keep_list(p, p->m->crypto, &p->m->n_crypto, TND_SDP_MAX_CRYPTO, v, n);
}

static int attr_ssrc(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp_media *m = p->m;
	struct tnd_sdp_ssrc *s = NULL;
	struct tnd_sdp_cur c = { v, v + n };
	const char *f, *a, *colon, *val;
	size_t fn, an, vn;
	uint64_t id;
	bool cname;
	unsigned i;

	if (!tnd_sdp_field(&c, &f, &fn) || !tnd_sdp_number(f, fn, UINT32_MAX, &id))
		return tnd_sdp_fail(p, EBADMSG, "a=ssrc id is not a 32-bit number");
	an = tnd_sdp_rest(&c, &a);
	colon = memchr(a, ':', an);
	if (!an || !colon)
		return TND_SDP_KEEP_RAW;
	cname = tnd_sdp_eq(a, (size_t)(colon - a), "cname");
	if (!cname && !tnd_sdp_eq(a, (size_t)(colon - a), "msid"))
		return TND_SDP_KEEP_RAW;   /* mslabel, label, ... */
	val = colon + 1;
	vn = an - (size_t)(val - a);
	if (!vn)
		return TND_SDP_KEEP_RAW;
	for (i = 0; i < m->n_ssrcs; i++)
		if (m->ssrcs[i].ssrc == id)
			s = &m->ssrcs[i];
	if (!s) {
		if (m->n_ssrcs >= TND_SDP_MAX_SSRCS) {
			m->n_dropped++;
			return 0;
		}
		s = &m->ssrcs[m->n_ssrcs++];
		s->ssrc = (uint32_t)id;
	}
	if (cname ? s->cname != NULL : s->msid != NULL)
		return TND_SDP_KEEP_RAW;
	return tnd_sdp_keep(p, cname ? &s->cname : &s->msid, val, vn);
}

static int attr_group(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	struct tnd_sdp *sdp = p->sdp;
	struct tnd_sdp_cur c = { v, v + n };
	const char *f;
	size_t fn;
	int err;

	/* LS, FID, a second BUNDLE: kept as written */
	if (sdp->bundle || !tnd_sdp_field(&c, &f, &fn) || !tnd_sdp_eq(f, fn, "BUNDLE"))
		return TND_SDP_KEEP_RAW;
	sdp->bundle = true;
	p->bundle_line = p->line;
	while (tnd_sdp_field(&c, &f, &fn)) {
		if (sdp->n_bundle >= TND_SDP_MAX_MEDIA)
			return tnd_sdp_fail(p, EBADMSG,
					    "a=group:BUNDLE names more mids than m= lines");
		err = tnd_sdp_keep(p, &sdp->bundle_mids[sdp->n_bundle++], f, fn);
		if (err)
			return err;
	}
	return 0;
}

static int attr_msid_semantic(struct tnd_sdp_parser *p, const char *v, size_t n)
{
	/* Chromium writes "a=msid-semantic: WMS" */
	if (p->sdp->msid_semantic || !n)
		return TND_SDP_KEEP_RAW;
	return tnd_sdp_keep(p, &p->sdp->msid_semantic, v, n);
}

/* Attributes without a value; the table says where each may stand. */
static int attr_flag(struct tnd_sdp_parser *p, const char *name, size_t nn, const char *v, size_t n)
{
	(void)v;
	(void)n;
	if (tnd_sdp_eq(name, nn, "ice-lite"))
		p->sdp->ice_lite = true;
	else if (tnd_sdp_eq(name, nn, "end-of-candidates") && !p->m)
		p->sess_eoc = true;   /* RFC 8840 8.2: applies to every section */
	else if (tnd_sdp_eq(name, nn, "end-of-candidates"))
		p->m->end_of_cands = true;
	else if (tnd_sdp_eq(name, nn, "rtcp-mux"))
		p->m->rtcp_mux = true;
	else if (tnd_sdp_eq(name, nn, "rtcp-rsize"))
		p->m->rtcp_rsize = true;
	else if (tnd_sdp_eq(name, nn, "bundle-only"))
		p->m->bundle_only = true;
	else
		return attr_dir(p, name, nn);
	return 0;
}

enum where { SESSION = 1, MEDIA = 2, BOTH = 3 };

/* One row per attribute we model. VALUE handlers get the value (a colon is
 * required), WHOLE ones "name:value" as written; FLAG (value ignored) and
 * NAMED ones get the name too. */
enum kind { VALUE, FLAG, NAMED, WHOLE };

struct attr_row {
	const char *name;
	enum where where;
	enum kind kind;
	int (*value)(struct tnd_sdp_parser *p, const char *v, size_t n);
	int (*named)(struct tnd_sdp_parser *p, const char *name, size_t nn, const char *v,
		     size_t n);
};

static const struct attr_row attrs[] = {
	{ "group", SESSION, VALUE, attr_group, NULL },
	{ "msid-semantic", SESSION, VALUE, attr_msid_semantic, NULL },
	{ "ice-lite", SESSION, FLAG, NULL, attr_flag },
	{ "ice-ufrag", BOTH, VALUE, attr_ice_ufrag, NULL },
	{ "ice-pwd", BOTH, VALUE, attr_ice_pwd, NULL },
	{ "ice-options", BOTH, VALUE, attr_ice_options, NULL },
	{ "fingerprint", BOTH, VALUE, attr_fingerprint, NULL },
	{ "setup", BOTH, VALUE, attr_setup, NULL },
	{ "end-of-candidates", BOTH, FLAG, NULL, attr_flag },
	{ "sendrecv", BOTH, FLAG, NULL, attr_flag },
	{ "sendonly", BOTH, FLAG, NULL, attr_flag },
	{ "recvonly", BOTH, FLAG, NULL, attr_flag },
	{ "inactive", BOTH, FLAG, NULL, attr_flag },
	{ "mid", MEDIA, VALUE, attr_mid, NULL },
	{ "rtcp", MEDIA, VALUE, attr_rtcp, NULL },
	{ "candidate", MEDIA, WHOLE, attr_candidate, NULL },
	{ "extmap", MEDIA, VALUE, attr_extmap, NULL },
	{ "msid", MEDIA, VALUE, attr_msid, NULL },
	{ "rtcp-mux", MEDIA, FLAG, NULL, attr_flag },
	{ "rtcp-rsize", MEDIA, FLAG, NULL, attr_flag },
	{ "bundle-only", MEDIA, FLAG, NULL, attr_flag },
	{ "rtpmap", MEDIA, VALUE, attr_rtpmap, NULL },
	{ "fmtp", MEDIA, VALUE, attr_fmtp, NULL },
	{ "rtcp-fb", MEDIA, VALUE, attr_rtcp_fb, NULL },
	{ "ptime", MEDIA, NAMED, NULL, attr_ptime },
	{ "maxptime", MEDIA, NAMED, NULL, attr_ptime },
	{ "crypto", MEDIA, VALUE, attr_crypto, NULL },
	{ "ssrc", MEDIA, VALUE, attr_ssrc, NULL },
};

int tnd_sdp_parse_attr(struct tnd_sdp_parser *p, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t nn = colon ? (size_t)(colon - s) : n, vn = 0, i;
	int r = TND_SDP_KEEP_RAW;

	if (!nn)
		return tnd_sdp_fail(p, EBADMSG, "a= line needs an attribute name");
	v = colon ? colon + 1 : s + n;
	if (colon) {
		vn = n - nn - 1;
		/* "a=msid-semantic: WMS": blanks after the colon are not value */
		while (vn && tnd_sdp_blank(*v)) {
			v++;
			vn--;
		}
	}
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const struct attr_row *a = &attrs[i];

		if (!tnd_sdp_eq(s, nn, a->name))
			continue;
		if (!(a->where & (p->m ? MEDIA : SESSION)))
			break;
		if (a->kind != FLAG && !colon)
			return tnd_sdp_fail(p, EBADMSG, "a=%s needs a value", a->name);
		if (a->kind == WHOLE)
			r = a->value(p, s, n);
		else if (a->kind == VALUE)
			r = a->value(p, v, vn);
		else
			r = a->named(p, s, nn, v, vn);
		break;
	}
	if (r != TND_SDP_KEEP_RAW)
		return r;
	if (p->m)
		return tnd_sdp_keep_list(p, p->m->attrs, &p->m->n_attrs, TND_SDP_MAX_ATTRS, s, n);
	return tnd_sdp_keep_list(p, p->sdp->attrs, &p->sdp->n_attrs, TND_SDP_MAX_ATTRS, s, n);
}

