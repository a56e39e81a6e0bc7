/* The SDP model: allocation, string storage, deep copy, look-ups and the
 * checks the parser and builders share (RFC 8866, RFC 3551 static payload
 * types, RFC 8122 fingerprints, RFC 8839 ICE syntax, RFC 4568 crypto).
 * Pure functions; any thread. Strings are never freed one by one: they live
 * in the SDP's chunks until tnd_sdp_free. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

#define CHUNK_MIN 1024

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool tnd_sdp_eq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit[i] || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return lit[n] == '\0';
}

static struct tnd_sdp_chunk *chunk_new(size_t cap)
{
	struct tnd_sdp_chunk *c;

	if (cap < CHUNK_MIN)
		cap = CHUNK_MIN;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->next = NULL;
	c->used = 0;
	c->cap = cap;
	return c;
}

int tnd_sdp_reserve(struct tnd_sdp *sdp, size_t n)
{
	struct tnd_sdp_chunk *c = sdp->chunks;

	if (c && c->cap - c->used >= n)
		return 0;
	c = chunk_new(n);
	if (!c)
		return ENOMEM;
	/* the newest chunk is first: it is the one with room */
	c->next = sdp->chunks;
	sdp->chunks = c;
	return 0;
}

const char *tnd_sdp_strndup(struct tnd_sdp *sdp, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || tnd_sdp_reserve(sdp, n + 1))
		return NULL;
	p = sdp->chunks->data + sdp->chunks->used;
	memcpy(p, s, n);
	p[n] = '\0';
	sdp->chunks->used += n + 1;
	return p;
}

int tnd_sdp_set(struct tnd_sdp *sdp, const char **slot, const char *s)
{
	const char *copy;

	if (!sdp || !slot)
		return EINVAL;
	if (!s) {
		*slot = NULL;
		return 0;
	}
	if (strpbrk(s, "\r\n"))
		return EINVAL;
	copy = tnd_sdp_strndup(sdp, s, strlen(s));
	if (!copy)
		return ENOMEM;
	*slot = copy;
	return 0;
}

int tnd_sdp_setf(struct tnd_sdp *sdp, const char **slot, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || tnd_sdp_reserve(sdp, (size_t)n + 1))
		return ENOMEM;
	p = sdp->chunks->data + sdp->chunks->used;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sdp->chunks->used += (size_t)n + 1;
	*slot = p;
	return 0;
}

void tnd_sdp_free(struct tnd_sdp *sdp)
{
	struct tnd_sdp_chunk *c, *next;
	unsigned i;

	if (!sdp)
		return;
	for (i = 0; i < sdp->n_media; i++)
		free(sdp->media[i]);
	for (c = sdp->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(sdp);
}

int tnd_sdp_alloc(struct tnd_sdp **sdpp)
{
	struct tnd_sdp *sdp;

	if (!sdpp)
		return EINVAL;
	sdp = calloc(1, sizeof(*sdp));
	if (!sdp)
		return ENOMEM;
	/* literals need no copy: string fields are never freed one by one */
	sdp->user = "-";
	sdp->sess_id = "0";
	sdp->origin.addrtype = "IP4";
	sdp->origin.addr = "0.0.0.0";
	sdp->name = "-";
	*sdpp = sdp;
	return 0;
}

int tnd_sdp_media_new(struct tnd_sdp *sdp, struct tnd_sdp_media **mp)
{
	struct tnd_sdp_media *m;

	if (sdp->n_media >= TND_SDP_MAX_MEDIA)
		return ENOTSUP;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	sdp->media[sdp->n_media++] = m;
	*mp = m;
	return 0;
}

enum tnd_sdp_mtype tnd_sdp_mtype_of(const char *s, size_t n)
{
	if (tnd_sdp_eq(s, n, "audio"))
		return TND_SDP_MEDIA_AUDIO;
	if (tnd_sdp_eq(s, n, "video"))
		return TND_SDP_MEDIA_VIDEO;
	if (tnd_sdp_eq(s, n, "application"))
		return TND_SDP_MEDIA_APPLICATION;
	return TND_SDP_MEDIA_OTHER;
}

bool tnd_sdp_proto_is_rtp(const char *s, size_t n)
{
	size_t i;

	/* RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, TCP/RTP/AVP: "RTP/" starts
	 * the protocol or follows a slash */
	for (i = 0; i + 4 <= n; i++)
		if ((i == 0 || s[i - 1] == '/') && tnd_sdp_eq(s + i, 4, "RTP/"))
			return true;
	return false;
}

int tnd_sdp_media_add(struct tnd_sdp *sdp, struct tnd_sdp_media **mp, const char *type,
		      uint16_t port, const char *proto)
{
	struct tnd_sdp_media *m = NULL;
	int err;

	if (!sdp || !mp || !type || !proto || !*type || !*proto || strpbrk(type, " \t\r\n") ||
	    strpbrk(proto, " \t\r\n"))
		return EINVAL;
	err = tnd_sdp_media_new(sdp, &m);
	if (err)
		return err;
	m->type = tnd_sdp_mtype_of(type, strlen(type));
	m->port = port;
	m->rtp = tnd_sdp_proto_is_rtp(proto, strlen(proto));
	err = tnd_sdp_set(sdp, &m->type_name, type);
	if (!err)
		err = tnd_sdp_set(sdp, &m->proto, proto);
	if (err) {
		/* the section is the last one: take it back */
		sdp->n_media--;
		free(m);
		return err;
	}
	*mp = m;
	return 0;
}

int tnd_sdp_media_add_codec(struct tnd_sdp *sdp, struct tnd_sdp_media *m, uint8_t pt,
			    const char *name, uint32_t clock, uint8_t channels, const char *fmtp,
			    struct tnd_sdp_codec **cp)
{
	struct tnd_sdp_codec *c;
	int err;

	if (!sdp || !m || !m->rtp || pt > 127 || m->n_codecs >= TND_SDP_MAX_CODECS ||
	    (name && strpbrk(name, " /\t\r\n")))
		return EINVAL;
	if (tnd_sdp_media_codec_by_pt(m, pt))
		return EEXIST;
	c = &m->codecs[m->n_codecs];
	memset(c, 0, sizeof(*c));
	c->pt = pt;
	c->clock = clock;
	c->channels = channels ? channels : 1;
	err = tnd_sdp_set(sdp, &c->name, name);
	if (!err)
		err = tnd_sdp_set(sdp, &c->fmtp, fmtp && *fmtp ? fmtp : NULL);
	if (err)
		return err;
	m->n_codecs++;
	if (cp)
		*cp = c;
	return 0;
}

/* ------------------------------------------------------------ deep copy */

static int copy_str(struct tnd_sdp *dst, const char **slot)
{
	const char *s = *slot;

	if (!s)
		return 0;
	s = tnd_sdp_strndup(dst, s, strlen(s));
	if (!s)
		return ENOMEM;
	*slot = s;
	return 0;
}

static int copy_list(struct tnd_sdp *dst, const char **list, unsigned n)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < n && !err; i++)
		err = copy_str(dst, &list[i]);
	return err;
}

/* Re-points every string field of a copied section into dst's storage.
 * A field added to struct tnd_sdp_media must be added here too. */
static int copy_media_strings(struct tnd_sdp *dst, struct tnd_sdp_media *m)
{
	unsigned i;
	int err;

	err = copy_str(dst, &m->type_name) || copy_str(dst, &m->proto) ||
	      copy_str(dst, &m->mid) || copy_str(dst, &m->conn.addrtype) ||
	      copy_str(dst, &m->conn.addr) || copy_str(dst, &m->rtcp_conn.addrtype) ||
	      copy_str(dst, &m->rtcp_conn.addr) || copy_str(dst, &m->ice.ufrag) ||
	      copy_str(dst, &m->ice.pwd) || copy_str(dst, &m->ice.options) ||
	      copy_str(dst, &m->fp.alg) || copy_str(dst, &m->fp.value) ||
	      copy_str(dst, &m->msid) || copy_list(dst, m->fmts, m->n_fmts) ||
	      copy_list(dst, m->bw, m->n_bw) || copy_list(dst, m->cands, m->n_cands) ||
	      copy_list(dst, m->crypto, m->n_crypto) || copy_list(dst, m->attrs, m->n_attrs);
	for (i = 0; i < m->n_codecs && !err; i++) {
		struct tnd_sdp_codec *c = &m->codecs[i];

		err = copy_str(dst, &c->name) || copy_str(dst, &c->fmtp) ||
		      copy_list(dst, c->fb, c->n_fb);
	}
	for (i = 0; i < m->n_extmaps && !err; i++)
		err = copy_str(dst, &m->extmaps[i].uri) || copy_str(dst, &m->extmaps[i].attrs);
	for (i = 0; i < m->n_ssrcs && !err; i++)
		err = copy_str(dst, &m->ssrcs[i].cname) || copy_str(dst, &m->ssrcs[i].msid);
	return err ? ENOMEM : 0;
}

int tnd_sdp_dup(struct tnd_sdp **dstp, const struct tnd_sdp *src)
{
	struct tnd_sdp *dst;
	size_t total = 0;
	const struct tnd_sdp_chunk *c;
	unsigned i;
	int err;

	if (!dstp || !src)
		return EINVAL;
	dst = malloc(sizeof(*dst));
	if (!dst)
		return ENOMEM;
	memcpy(dst, src, sizeof(*dst));
	dst->chunks = NULL;
	dst->n_media = 0;
	for (c = src->chunks; c; c = c->next)
		total += c->used;
	err = tnd_sdp_reserve(dst, total);
	if (err)
		goto out;
	err = copy_str(dst, &dst->user) || copy_str(dst, &dst->sess_id) ||
	      copy_str(dst, &dst->origin.addrtype) || copy_str(dst, &dst->origin.addr) ||
	      copy_str(dst, &dst->name) || copy_str(dst, &dst->conn.addrtype) ||
	      copy_str(dst, &dst->conn.addr) || copy_str(dst, &dst->ice.ufrag) ||
	      copy_str(dst, &dst->ice.pwd) || copy_str(dst, &dst->ice.options) ||
	      copy_str(dst, &dst->fp.alg) || copy_str(dst, &dst->fp.value) ||
	      copy_str(dst, &dst->msid_semantic) || copy_list(dst, dst->bw, dst->n_bw) ||
	      copy_list(dst, dst->bundle_mids, dst->n_bundle) ||
	      copy_list(dst, dst->attrs, dst->n_attrs) ? ENOMEM : 0;
	for (i = 0; i < src->n_media && !err; i++) {
		struct tnd_sdp_media *m = malloc(sizeof(*m));

		if (!m) {
			err = ENOMEM;
			break;
		}
		memcpy(m, src->media[i], sizeof(*m));
		dst->media[dst->n_media++] = m;
		err = copy_media_strings(dst, m);
	}
 out:
	if (err)
		tnd_sdp_free(dst);
	else
		*dstp = dst;
	return err;
}

/* ------------------------------------------------------------- look-ups */

const struct tnd_sdp_codec *tnd_sdp_media_find_codec(const struct tnd_sdp_media *m,
						     const char *name, uint32_t clock)
{
	unsigned i;

	if (!m || !name)
		return NULL;
	for (i = 0; i < m->n_codecs && i < TND_SDP_MAX_CODECS; i++) {
		const struct tnd_sdp_codec *c = &m->codecs[i];

		if (c->name && tnd_sdp_eq(c->name, strlen(c->name), name) &&
		    (!clock || c->clock == clock))
			return c;
	}
	return NULL;
}

const struct tnd_sdp_codec *tnd_sdp_media_codec_by_pt(const struct tnd_sdp_media *m, uint8_t pt)
{
	unsigned i;

	if (!m)
		return NULL;
	for (i = 0; i < m->n_codecs && i < TND_SDP_MAX_CODECS; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

const struct tnd_sdp_media *tnd_sdp_find_mid(const struct tnd_sdp *sdp, const char *mid)
{
	unsigned i;

	if (!sdp || !mid)
		return NULL;
	for (i = 0; i < sdp->n_media; i++)
		if (sdp->media[i]->mid && !strcmp(sdp->media[i]->mid, mid))
			return sdp->media[i];
	return NULL;
}

const struct tnd_sdp_conn *tnd_sdp_media_conn(const struct tnd_sdp *sdp,
					      const struct tnd_sdp_media *m)
{
	if (m && m->conn.addr)
		return &m->conn;
	if (sdp && sdp->conn.addr)
		return &sdp->conn;
	return NULL;
}

int tnd_sdp_conn_check(const struct tnd_sdp_conn *c, char *msg, size_t msglen)
{
	static const unsigned char zero[16];
	unsigned char a[16];
	bool v6;

	if (!c || !c->addr) {
		snprintf(msg, msglen, "SDP has no media address (c=)");
		return ENOTSUP;
	}
	v6 = c->addrtype && !strcmp(c->addrtype, "IP6");
	if (strchr(c->addr, '/')) {
		/* RFC 8866 5.7: only multicast addresses carry a TTL or count */
		snprintf(msg, msglen, "c= %s is a multicast address", c->addr);
		return ENOTSUP;
	}
	/* a host name would need a lookup: SIP peers send IP literals */
	if (inet_pton(v6 ? AF_INET6 : AF_INET, c->addr, a) != 1) {
		snprintf(msg, msglen, "c= %s is not an %s address", c->addr, v6 ? "IPv6" : "IPv4");
		return ENOTSUP;
	}
	if (v6 ? a[0] == 0xff : a[0] >= 224) {
		snprintf(msg, msglen, "c= %s is a multicast or reserved address", c->addr);
		return ENOTSUP;
	}
	/* RFC 3264 8.4 makes 0.0.0.0 a hold; a new call cannot start there */
	if (!memcmp(a, zero, v6 ? 16 : 4)) {
		snprintf(msg, msglen, "c= %s names no host", c->addr);
		return ENOTSUP;
	}
	return 0;
}

bool tnd_sdp_has_option(const char *options, const char *opt)
{
	const char *p = options;

	if (!options || !opt || !*opt)
		return false;
	while (*p) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n && tnd_sdp_eq(p, n, opt))
			return true;
		p += n;
	}
	return false;
}

enum tnd_sdp_dir tnd_sdp_dir_reverse(enum tnd_sdp_dir dir)
{
	switch (dir) {
	case TND_SDP_SENDONLY:
		return TND_SDP_RECVONLY;
	case TND_SDP_RECVONLY:
		return TND_SDP_SENDONLY;
	case TND_SDP_INACTIVE:
		return TND_SDP_INACTIVE;
	case TND_SDP_SENDRECV:
	default:
		return TND_SDP_SENDRECV;
	}
}

const char *tnd_sdp_dir_name(enum tnd_sdp_dir dir)
{
	switch (dir) {
	case TND_SDP_SENDONLY:
		return "sendonly";
	case TND_SDP_RECVONLY:
		return "recvonly";
	case TND_SDP_INACTIVE:
		return "inactive";
	case TND_SDP_SENDRECV:
	default:
		return "sendrecv";
	}
}

/* ------------------------------------------------- static payload types */

/* RFC 3551 table 4 and 5, the types still met in the field */
static const struct tnd_sdp_static_pt static_pts[35] = {
	[0] = { "PCMU", 8000, 1 },
	[3] = { "GSM", 8000, 1 },
	[4] = { "G723", 8000, 1 },
	[5] = { "DVI4", 8000, 1 },
	[6] = { "DVI4", 16000, 1 },
	[7] = { "LPC", 8000, 1 },
	[8] = { "PCMA", 8000, 1 },
	[9] = { "G722", 8000, 1 },     /* 8000 by RFC 3551's historical error */
	[10] = { "L16", 44100, 2 },
	[11] = { "L16", 44100, 1 },
	[12] = { "QCELP", 8000, 1 },
	[13] = { "CN", 8000, 1 },
	[14] = { "MPA", 90000, 1 },
	[15] = { "G728", 8000, 1 },
	[16] = { "DVI4", 11025, 1 },
	[17] = { "DVI4", 22050, 1 },
	[18] = { "G729", 8000, 1 },
	[25] = { "CelB", 90000, 1 },
	[26] = { "JPEG", 90000, 1 },
	[28] = { "nv", 90000, 1 },
	[31] = { "H261", 90000, 1 },
	[32] = { "MPV", 90000, 1 },
	[33] = { "MP2T", 90000, 1 },
	[34] = { "H263", 90000, 1 },
};

const struct tnd_sdp_static_pt *tnd_sdp_static_pt(unsigned pt)
{
	if (pt >= sizeof(static_pts) / sizeof(static_pts[0]) || !static_pts[pt].name)
		return NULL;
	return &static_pts[pt];
}

int tnd_sdp_static_pt_of(const char *name, uint32_t clock, uint8_t channels)
{
	unsigned pt;

	if (!name)
		return -1;
	for (pt = 0; pt < sizeof(static_pts) / sizeof(static_pts[0]); pt++) {
		const struct tnd_sdp_static_pt *s = &static_pts[pt];

		if (s->name && tnd_sdp_eq(name, strlen(name), s->name) && s->clock == clock &&
		    s->channels == (channels ? channels : 1))
			return (int)pt;
	}
	return -1;
}

bool tnd_sdp_is_dtmf(const struct tnd_sdp_codec *c)
{
	return c->name && tnd_sdp_eq(c->name, strlen(c->name), "telephone-event");
}

bool tnd_sdp_is_aux(const struct tnd_sdp_codec *c)
{
	static const char *const aux[] = { "telephone-event", "CN", "red", "rtx", "ulpfec",
					   "flexfec-03", "flexfec" };
	size_t i;

	if (!c->name)
		return true;   /* unknown: never pick it */
	for (i = 0; i < sizeof(aux) / sizeof(aux[0]); i++)
		if (tnd_sdp_eq(c->name, strlen(c->name), aux[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------- checks */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Digest bytes of "AB:CD:..." into out (may be NULL to count); -1 when the
 * text is not colon-separated hex pairs. */
static long hex_pairs(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t i;
	long count = 0;

	if (n < 2 || (n + 1) % 3)
		return -1;
	for (i = 0; i < n; i += 3) {
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0 || (i + 2 < n && s[i + 2] != ':'))
			return -1;
		if (out && (size_t)count < cap)
			out[count] = (uint8_t)(hi << 4 | lo);
		count++;
	}
	return count;
}

const char *tnd_sdp_check_fingerprint(const char *alg, size_t alg_len, const char *hex,
				      size_t hex_len)
{
	static const struct { const char *name; long len; } hashes[] = {
		{ "sha-1", 20 }, { "sha-224", 28 }, { "sha-256", 32 }, { "sha-384", 48 },
		{ "sha-512", 64 }, { "md5", 16 }, { "md2", 16 },
	};
	long got = hex_pairs(hex, hex_len, NULL, 0);
	size_t i, j;

	if (!alg_len)
		return "fingerprint needs a hash name";
	for (j = 0; j < alg_len; j++) {
		char c = alg[j];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return "fingerprint hash name is not a token";
	}
	if (got < 0)
		return "fingerprint is not colon-separated hex pairs";
	for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (tnd_sdp_eq(alg, alg_len, hashes[i].name) && got != hashes[i].len)
			return "fingerprint length does not fit its hash";
	return NULL;
}

int tnd_sdp_fingerprint_decode(const struct tnd_sdp_fingerprint *fp, uint8_t *out, size_t cap,
			       size_t *lenp)
{
	long n;

	if (!fp || !fp->value || !out || !lenp)
		return EINVAL;
	n = hex_pairs(fp->value, strlen(fp->value), NULL, 0);
	if (n < 0)
		return EBADMSG;
	if ((size_t)n > cap)
		return ENOSPC;
	hex_pairs(fp->value, strlen(fp->value), out, cap);
	*lenp = (size_t)n;
	return 0;
}

bool tnd_sdp_ice_chars_ok(const char *s, size_t n, size_t min)
{
	size_t i;

	if (n < min || n > 256)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return true;
}

/* Splits the next space-separated field off [*p, end). */
static bool field(const char **p, const char *end, const char **f, size_t *fn)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*f = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*fn = (size_t)(s - *f);
	*p = s;
	return *fn > 0;
}

/* Decimal digits only, at most max_digits of them (so no overflow below 19);
 * the text need not be NUL-terminated. */
static bool digits(const char *s, size_t n, size_t max_digits, unsigned long long *v)
{
	size_t i;

	*v = 0;
	if (!n || n > max_digits)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

const char *tnd_sdp_check_candidate(const char *s, size_t n)
{
	const char *p, *end = s + n, *f[8];
	size_t fn[8], i;
	unsigned long long v;

	if (n < 10 || !tnd_sdp_eq(s, 10, "candidate:"))
		return "candidate must start with candidate:";
	p = s + 10;
	for (i = 0; i < 8; i++)
		if (!field(&p, end, &f[i], &fn[i]))
			return "candidate needs foundation, component, transport, priority, "
			       "address, port and typ";
	/* RFC 8839 5.1: component-id 1-256, priority 1*10DIGIT, port */
	if (!digits(f[1], fn[1], 3, &v) || v < 1 || v > 256)
		return "candidate component is not 1-256";
	if (!digits(f[3], fn[3], 10, &v))
		return "candidate priority is not a number";
	if (!digits(f[5], fn[5], 5, &v) || v > 65535)
		return "candidate port is not 0-65535";
	if (!tnd_sdp_eq(f[6], fn[6], "typ"))
		return "candidate has no typ";
	return NULL;
}

const char *tnd_sdp_check_crypto(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *f;
	size_t fn;
	unsigned long long v;

	if (!field(&p, end, &f, &fn) || !digits(f, fn, 9, &v))
		return "crypto tag is not 1-9 digits";
	if (!field(&p, end, &f, &fn))
		return "crypto needs a suite";
	if (!field(&p, end, &f, &fn) || fn < 8 || !tnd_sdp_eq(f, 7, "inline:"))
		return "crypto key must be inline:";
	return NULL;
}

bool tnd_sdp_fmtp_get(const char *fmtp, const char *key, char *val, size_t cap)
{
	size_t kn = key ? strlen(key) : 0;
	const char *p = fmtp;

	if (!fmtp || !kn || !val || !cap)
		return false;
	while (*p) {
		p += strspn(p, " \t;");
		/* strncasecmp stops at p's end: only then is p + kn inside it */
		const char *eq = strncasecmp(p, key, kn) ? NULL : p + kn + strspn(p + kn, " \t");

		if (eq && *eq == '=') {
			const char *v = eq + 1;
			size_t vn;

			v += strspn(v, " \t");
			vn = strcspn(v, ";");
			while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
				vn--;
			if (vn >= cap)
				vn = cap - 1;
			memcpy(val, v, vn);
			val[vn] = '\0';
			return true;
		}
		p += strcspn(p, ";");
	}
	return false;
}
