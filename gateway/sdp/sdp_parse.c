/* SDP parser (RFC 8866 section 5 and 9), into the model of sdp.h.
 *
 * Strict where a mistake would misroute media or break security: line
 * structure, v=/o=/m=/c= syntax, ports, payload types and rtpmap, ICE
 * credentials and candidates (RFC 8839), fingerprints (RFC 8122), setup
 * (RFC 4145), crypto (RFC 4568), mids and the BUNDLE group (RFC 8843).
 * Tolerant where browsers and SIP phones are sloppy: LF or CRLF, blank
 * lines, trailing blanks, missing s= or t=, repeated directions (the last
 * wins), and any attribute we do not model or that names a payload type
 * the m= line does not list: those are kept as written in attrs[].
 * Reads only the `len` bytes given; never writes to them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

int tnd_sdp_fail(struct tnd_sdp_parser *p, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->errlen)
		return code;
	n = snprintf(p->err, p->errlen, "line %u: ", p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

bool tnd_sdp_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool tnd_sdp_field(struct tnd_sdp_cur *c, const char **f, size_t *n)
{
	while (c->p < c->end && tnd_sdp_blank(*c->p))
		c->p++;
	*f = c->p;
	while (c->p < c->end && !tnd_sdp_blank(*c->p))
		c->p++;
	*n = (size_t)(c->p - *f);
	return *n > 0;
}

size_t tnd_sdp_rest(struct tnd_sdp_cur *c, const char **f)
{
	while (c->p < c->end && tnd_sdp_blank(*c->p))
		c->p++;
	*f = c->p;
	return (size_t)(c->end - c->p);
}

bool tnd_sdp_more(struct tnd_sdp_cur *c)
{
	const char *f;

	return tnd_sdp_rest(c, &f) > 0;
}

bool tnd_sdp_number(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (!n || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || *v > (UINT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	return *v <= max;
}

int tnd_sdp_keep(struct tnd_sdp_parser *p, const char **slot, const char *s, size_t n)
{
	const char *copy = tnd_sdp_strndup(p->sdp, s, n);

	if (!copy)
		return ENOMEM;
	*slot = copy;
	return 0;
}

int tnd_sdp_keep_list(struct tnd_sdp_parser *p, const char **list, unsigned *count,
		      unsigned cap, const char *s, size_t n)
{
	if (*count >= cap) {
		if (p->m)
			p->m->n_dropped++;
		else
			p->sdp->n_dropped++;
		return 0;
	}
	return tnd_sdp_keep(p, &list[(*count)++], s, n);
}

bool tnd_sdp_token_ok(const char *s, size_t n)
{
	size_t i;

	/* RFC 8866 token-char minus the few we would never write back safely */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]", c))
			return false;
	}
	return n > 0;
}

/* ------------------------------------------------------------ lines */

static int parse_origin(struct tnd_sdp_parser *p, struct tnd_sdp_cur *c)
{
	const char *f[6];
	size_t n[6], i;
	uint64_t v;
	int err;

	if (p->seen_o)
		return tnd_sdp_fail(p, EBADMSG, "second o= line");
	if (p->m)
		return tnd_sdp_fail(p, EBADMSG, "o= belongs before the first m= line");
	for (i = 0; i < 6; i++)
		if (!tnd_sdp_field(c, &f[i], &n[i]))
			return tnd_sdp_fail(p, EBADMSG, "o= needs username, sess-id, sess-version, "
					    "nettype, addrtype and address");
	if (tnd_sdp_more(c))
		return tnd_sdp_fail(p, EBADMSG, "o= has more than six fields");
	if (!tnd_sdp_number(f[2], n[2], UINT64_MAX, &v))
		return tnd_sdp_fail(p, EBADMSG, "o= sess-version is not a 64-bit number");
	if (!tnd_sdp_eq(f[3], n[3], "IN"))
		return tnd_sdp_fail(p, EBADMSG, "o= nettype must be IN");
	if (!tnd_sdp_eq(f[4], n[4], "IP4") && !tnd_sdp_eq(f[4], n[4], "IP6"))
		return tnd_sdp_fail(p, EBADMSG, "o= addrtype must be IP4 or IP6");
	p->seen_o = true;
	p->sdp->sess_version = v;
	err = tnd_sdp_keep(p, &p->sdp->user, f[0], n[0]);
	if (!err)
		err = tnd_sdp_keep(p, &p->sdp->sess_id, f[1], n[1]);
	if (!err)
		err = tnd_sdp_keep(p, &p->sdp->origin.addrtype, f[4], n[4]);
	if (!err)
		err = tnd_sdp_keep(p, &p->sdp->origin.addr, f[5], n[5]);
	return err;
}

static int parse_conn(struct tnd_sdp_parser *p, struct tnd_sdp_cur *c)
{
	struct tnd_sdp_conn *conn = p->m ? &p->m->conn : &p->sdp->conn;
	const char *f[3];
	size_t n[3], i;
	int err;

	if (conn->addr)
		return tnd_sdp_fail(p, EBADMSG, "second c= line in this section");
	for (i = 0; i < 3; i++)
		if (!tnd_sdp_field(c, &f[i], &n[i]))
			return tnd_sdp_fail(p, EBADMSG, "c= needs nettype, addrtype and address");
	if (tnd_sdp_more(c))
		return tnd_sdp_fail(p, EBADMSG, "c= has more than three fields");
	if (!tnd_sdp_eq(f[0], n[0], "IN"))
		return tnd_sdp_fail(p, EBADMSG, "c= nettype must be IN");
	if (!tnd_sdp_eq(f[1], n[1], "IP4") && !tnd_sdp_eq(f[1], n[1], "IP6"))
		return tnd_sdp_fail(p, EBADMSG, "c= addrtype must be IP4 or IP6");
	err = tnd_sdp_keep(p, &conn->addrtype, f[1], n[1]);
	if (!err)
		err = tnd_sdp_keep(p, &conn->addr, f[2], n[2]);
	return err;
}

static int parse_time(struct tnd_sdp_parser *p, struct tnd_sdp_cur *c)
{
	const char *f[2];
	size_t n[2];

	if (p->m)
		return tnd_sdp_fail(p, EBADMSG, "t= belongs before the first m= line");
	if (!tnd_sdp_field(c, &f[0], &n[0]) || !tnd_sdp_field(c, &f[1], &n[1]) ||
	    tnd_sdp_more(c) || !tnd_sdp_number(f[0], n[0], UINT64_MAX, &p->sdp->t_start) ||
	    !tnd_sdp_number(f[1], n[1], UINT64_MAX, &p->sdp->t_stop))
		return tnd_sdp_fail(p, EBADMSG, "t= needs start and stop times");
	return 0;   /* a second t= (more times) replaces the first */
}

/* Checks the section just read, before the next m= or the end. */
static int finish_media(struct tnd_sdp_parser *p)
{
	struct tnd_sdp_media *m = p->m;

	if (!m)
		return 0;
	/* RFC 8866 5.7: every section needs a c=, its own or the session's;
	 * a rejected one has no media to address */
	if (!m->conn.addr && !p->sdp->conn.addr && m->port) {
		p->line = m->line;
		return tnd_sdp_fail(p, EBADMSG, "m= line has no c= and the session has none");
	}
	return 0;
}

static int parse_media(struct tnd_sdp_parser *p, struct tnd_sdp_cur *c)
{
	struct tnd_sdp_media *m;
	const char *f[3], *slash;
	size_t n[3], i;
	uint64_t port, count = 0;
	int err;

	if (!p->seen_o)
		return tnd_sdp_fail(p, EBADMSG, "m= before the o= line");
	err = finish_media(p);
	if (err)
		return err;
	for (i = 0; i < 3; i++)
		if (!tnd_sdp_field(c, &f[i], &n[i]))
			return tnd_sdp_fail(p, EBADMSG, "m= line needs port and proto");
	slash = memchr(f[1], '/', n[1]);
	if (!tnd_sdp_number(f[1], slash ? (size_t)(slash - f[1]) : n[1], 65535, &port))
		return tnd_sdp_fail(p, EBADMSG, "m= port is not 0-65535");
	if (slash &&
	    (!tnd_sdp_number(slash + 1, n[1] - (size_t)(slash - f[1]) - 1, 65535, &count) ||
	     !count))
		return tnd_sdp_fail(p, EBADMSG, "m= port count is not 1-65535");
	if (!tnd_sdp_token_ok(f[0], n[0]))
		return tnd_sdp_fail(p, EBADMSG, "m= media type is not a token");
	err = tnd_sdp_media_new(p->sdp, &m);
	if (err == ENOTSUP)
		return tnd_sdp_fail(p, ENOTSUP, "more than %d m= lines", TND_SDP_MAX_MEDIA);
	if (err)
		return err;
	p->m = m;
	m->line = p->line;
	m->type = tnd_sdp_mtype_of(f[0], n[0]);
	m->port = (uint16_t)port;
	m->n_ports = (uint16_t)count;
	m->rtp = tnd_sdp_proto_is_rtp(f[2], n[2]);
	memset(p->pt_idx, 0xff, sizeof(p->pt_idx));
	memset(p->rtpmap_seen, 0, sizeof(p->rtpmap_seen));
	memset(p->fmtp_seen, 0, sizeof(p->fmtp_seen));
	err = tnd_sdp_keep(p, &m->type_name, f[0], n[0]);
	if (!err)
		err = tnd_sdp_keep(p, &m->proto, f[2], n[2]);
	if (err)
		return err;
	/* c->p sits after proto: the formats follow */
	while (tnd_sdp_field(c, &f[0], &n[0])) {
		uint64_t pt;
		struct tnd_sdp_codec *codec;
		const struct tnd_sdp_static_pt *st;

		if (!m->rtp) {
			err = tnd_sdp_keep_list(p, m->fmts, &m->n_fmts, TND_SDP_MAX_FMTS, f[0],
						n[0]);
			if (err)
				return err;
			continue;
		}
		if (!tnd_sdp_number(f[0], n[0], 127, &pt))
			return tnd_sdp_fail(p, EBADMSG, "RTP payload type '%.*s' is not 0-127",
					    (int)(n[0] > 16 ? 16 : n[0]), f[0]);
		if (p->pt_idx[pt] >= 0)
			return tnd_sdp_fail(p, EBADMSG, "payload type %u listed twice",
					    (unsigned)pt);
		/* 128 distinct payload types fit: no cap to check */
		p->pt_idx[pt] = (int16_t)m->n_codecs;
		codec = &m->codecs[m->n_codecs++];
		codec->pt = (uint8_t)pt;
		codec->channels = 1;
		st = tnd_sdp_static_pt((unsigned)pt);
		if (st) {
			codec->name = st->name;   /* a literal: see tnd_sdp_alloc */
			codec->clock = st->clock;
			codec->channels = st->channels;
		}
	}
	if (!m->n_codecs && !m->n_fmts)
		return tnd_sdp_fail(p, EBADMSG, "m= line needs at least one format");
	return 0;
}

static int parse_line(struct tnd_sdp_parser *p, const char *s, size_t n)
{
	struct tnd_sdp_cur c;
	const char *f;
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' && s[i] != '\t')
			return tnd_sdp_fail(p, EBADMSG, "control character in the line");
	if (n < 2 || s[1] != '=' || s[0] < 'a' || s[0] > 'z')
		return tnd_sdp_fail(p, EBADMSG, "expected <letter>=<value>");
	c.p = s + 2;
	c.end = s + n;
	switch (s[0]) {
	case 'o':
		return parse_origin(p, &c);
	case 's':
		if (p->seen_s || p->m)
			return tnd_sdp_fail(p, EBADMSG,
					    "s= must come once, before the first m= line");
		p->seen_s = true;
		return tnd_sdp_keep(p, &p->sdp->name, s + 2, n - 2);
	case 'c':
		return parse_conn(p, &c);
	case 't':
		return parse_time(p, &c);
	case 'b':
		if (!tnd_sdp_rest(&c, &f) || !memchr(f, ':', (size_t)(c.end - f)))
			return tnd_sdp_fail(p, EBADMSG, "b= needs <bwtype>:<bandwidth>");
		if (p->m)
			return tnd_sdp_keep_list(p, p->m->bw, &p->m->n_bw, TND_SDP_MAX_BW, f,
						 (size_t)(c.end - f));
		return tnd_sdp_keep_list(p, p->sdp->bw, &p->sdp->n_bw, TND_SDP_MAX_BW, f,
					 (size_t)(c.end - f));
	case 'm':
		return parse_media(p, &c);
	case 'a':
		return tnd_sdp_parse_attr(p, s + 2, n - 2);
	case 'i': case 'u': case 'e': case 'p': case 'k':
		return 0;   /* titles, URIs, contacts and keys: nothing we use */
	case 'r': case 'z':
		if (p->m)
			return tnd_sdp_fail(p, EBADMSG, "%c= belongs before the first m= line",
					    s[0]);
		return 0;
	case 'v':
		return tnd_sdp_fail(p, EBADMSG, "second v= line");
	default:
		return tnd_sdp_fail(p, EBADMSG, "unknown line type %c=", s[0]);
	}
}

/* ------------------------------------------------------------ the whole */

/* After the last line: what needs every line seen (RFC 8866 5, 8843 7). */
static int finish(struct tnd_sdp_parser *p)
{
	struct tnd_sdp *sdp = p->sdp;
	unsigned i, j;
	int err;

	if (!p->seen_o)
		return tnd_sdp_fail(p, EBADMSG, "no o= line");
	if (!sdp->n_media)
		return tnd_sdp_fail(p, EBADMSG, "no m= line");
	err = finish_media(p);
	if (err)
		return err;
	for (i = 0; i < sdp->n_bundle; i++) {
		p->line = p->bundle_line;
		if (!tnd_sdp_find_mid(sdp, sdp->bundle_mids[i]))
			return tnd_sdp_fail(p, EBADMSG,
					    "a=group:BUNDLE names mid '%s' that no m= line has",
					    sdp->bundle_mids[i]);
		for (j = 0; j < i; j++)
			if (!strcmp(sdp->bundle_mids[i], sdp->bundle_mids[j]))
				return tnd_sdp_fail(p, EBADMSG,
						    "a=group:BUNDLE names mid '%s' twice",
						    sdp->bundle_mids[i]);
	}
	/* session-level values apply to sections that have none */
	for (i = 0; i < sdp->n_media; i++) {
		struct tnd_sdp_media *m = sdp->media[i];

		if (!m->ice.ufrag)
			m->ice.ufrag = sdp->ice.ufrag;
		if (!m->ice.pwd)
			m->ice.pwd = sdp->ice.pwd;
		if (!m->ice.options)
			m->ice.options = sdp->ice.options;
		if (!m->fp.alg) {
			m->fp.alg = sdp->fp.alg;
			m->fp.value = sdp->fp.value;
		}
		if (m->setup == TND_SDP_SETUP_NONE)
			m->setup = sdp->setup;
		if (!p->dir_set[i] && p->sess_dir_set)
			m->dir = p->sess_dir;
		if (p->sess_eoc)
			m->end_of_cands = true;
	}
	return 0;
}

static unsigned line_of(const char *text, const char *at)
{
	unsigned line = 1;

	for (; text < at; text++)
		line += *text == '\n';
	return line;
}

/* Splits the text into lines and feeds them to parse_line. */
static int parse_text(struct tnd_sdp_parser *p, const char *text, size_t len)
{
	const char *s = text, *end = text + len;
	bool first = true;
	int err;

	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *e = eol ? eol : end;
		const char *next = eol ? eol + 1 : end;

		p->line++;
		/* CRLF, and the trailing blanks some phones leave */
		while (e > s && (e[-1] == '\r' || tnd_sdp_blank(e[-1])))
			e--;
		if (e == s) {
			s = next;
			continue;
		}
		if (first) {
			if ((size_t)(e - s) != 3 || memcmp(s, "v=0", 3))
				return tnd_sdp_fail(p, EBADMSG, "SDP must start with v=0");
			first = false;
		} else {
			err = parse_line(p, s, (size_t)(e - s));
			if (err)
				return err;
		}
		s = next;
	}
	if (first) {
		p->line = p->line ? p->line : 1;
		return tnd_sdp_fail(p, EBADMSG, "SDP must start with v=0");
	}
	return finish(p);
}

int tnd_sdp_parse(struct tnd_sdp **sdpp, const char *text, size_t len, char *err,
		  size_t errlen)
{
	struct tnd_sdp_parser p = { .err = err, .errlen = err ? errlen : 0 };
	const char *bad;
	int e;

	if (!sdpp || (!text && len))
		return EINVAL;
	if (p.errlen)
		err[0] = '\0';
	if (len > TND_SDP_MAX_LEN) {
		p.line = 1;
		return tnd_sdp_fail(&p, ENOTSUP, "SDP of %zu bytes is longer than %d", len,
				    TND_SDP_MAX_LEN);
	}
	/* rejects NUL bytes too: nothing we write back may hold one */
	if (len && !g_utf8_validate(text, (gssize)len, &bad)) {
		p.line = line_of(text, bad);
		return tnd_sdp_fail(&p, EBADMSG, "%s", *bad ? "not valid UTF-8" : "NUL byte");
	}
	e = tnd_sdp_alloc(&p.sdp);
	if (e)
		return e;
	/* one chunk for every string a parse keeps: each is a piece of a line */
	e = tnd_sdp_reserve(p.sdp, len + 64);
	if (!e)
		e = parse_text(&p, text, len);
	if (e)
		tnd_sdp_free(p.sdp);
	else
		*sdpp = p.sdp;
	return e;
}
