/* Digest challenges and responses computed by Tandem (digest_int.h):
 * RFC 7616 sections 3.3 (challenge), 3.4.1 (response), 3.4.2 (A1 and
 * -sess), 3.4.3 (A2 for qop=auth), with SHA-256 for SIP per RFC 8760.
 * Sofia-SIP 1.12 keeps doing MD5 itself (auth.c); this file is used for
 * the SHA-256 challenges it cannot answer. Hashing through GLib's
 * GChecksum. Values from the network are checked here before they reach a
 * header we write: no quote, backslash or control character passes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "sip/digest_int.h"

static int unquote(char *out, size_t outlen, const char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= outlen)
		return EBADMSG;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		/* a quoted-pair or quote inside would need escaping when we
		 * write it back: servers do not send them, so refuse */
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			return EBADMSG;
		out[i] = (char)ch;
	}
	out[n] = '\0';
	return 0;
}

/* qop-options: a quoted, comma-separated list (RFC 7616 3.3) */
static bool lists_auth(const char *v)
{
	char buf[64], *save = NULL;

	if (unquote(buf, sizeof(buf), v))
		return false;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
		if (!strcasecmp(t, "auth"))
			return true;
	return false;
}

static int set_alg(struct tnd_digest_chal *c, const char *v)
{
	char a[32];

	if (unquote(a, sizeof(a), v))
		return EBADMSG;
	if (!strcasecmp(a, "MD5") || !strcasecmp(a, "MD5-sess"))
		c->alg = TND_DIGEST_MD5;
	else if (!strcasecmp(a, "SHA-256") || !strcasecmp(a, "SHA-256-sess"))
		c->alg = TND_DIGEST_SHA256;
	else
		return ENOTSUP;
	c->sess = strlen(a) > 5 && !strcasecmp(a + strlen(a) - 5, "-sess");
	return 0;
}

int tnd_digest_parse(struct tnd_digest_chal *out, const char *const *params, size_t n)
{
	struct tnd_digest_chal c = { .alg = TND_DIGEST_MD5 };
	bool qop = false;
	int err = 0;

	if (!out || (n && !params))
		return EINVAL;
	for (size_t i = 0; i < n && !err; i++) {
		const char *p = params[i], *eq = p ? strchr(p, '=') : NULL;
		size_t klen;

		if (!eq)
			continue;               /* a bare token: nothing of ours */
		klen = (size_t)(eq - p);
		if (klen == 5 && !strncasecmp(p, "realm", 5))
			err = unquote(c.realm, sizeof(c.realm), eq + 1);
		else if (klen == 5 && !strncasecmp(p, "nonce", 5))
			err = unquote(c.nonce, sizeof(c.nonce), eq + 1);
		else if (klen == 6 && !strncasecmp(p, "opaque", 6))
			err = unquote(c.opaque, sizeof(c.opaque), eq + 1);
		else if (klen == 9 && !strncasecmp(p, "algorithm", 9))
			err = set_alg(&c, eq + 1);
		else if (klen == 3 && !strncasecmp(p, "qop", 3)) {
			qop = true;
			c.qop_auth = lists_auth(eq + 1);
		} else if (klen == 5 && !strncasecmp(p, "stale", 5))
			c.stale = !strcasecmp(eq + 1, "true") || !strcasecmp(eq + 1, "\"true\"");
	}
	if (err)
		return err;
	if (!*c.realm || !*c.nonce)
		return EBADMSG;
	if (qop && !c.qop_auth)
		return ENOTSUP;         /* auth-int only: we never hash bodies */
	*out = c;
	return 0;
}

const char *tnd_digest_alg_name(const struct tnd_digest_chal *c)
{
	if (c->alg == TND_DIGEST_SHA256)
		return c->sess ? "SHA-256-sess" : "SHA-256";
	return c->sess ? "MD5-sess" : "MD5";
}

/* H(a:b:c...) in lower-case hex into out (GChecksum's string) */
static void hash_join(char *out, size_t outlen, GChecksumType t, const char *const *parts)
{
	GChecksum *h = g_checksum_new(t);

	for (size_t i = 0; parts[i]; i++) {
		if (i)
			g_checksum_update(h, (const guchar *)":", 1);
		g_checksum_update(h, (const guchar *)parts[i], (gssize)strlen(parts[i]));
	}
	g_strlcpy(out, g_checksum_get_string(h), outlen);
	g_checksum_free(h);
}

static bool is_ha1(const char *p)
{
	if (strncmp(p, "HA1+", 4) || strlen(p) != 36)
		return false;
	for (size_t i = 4; i < 36; i++)
		if (!g_ascii_isxdigit(p[i]))
			return false;
	return true;
}

int tnd_digest_response(char *out, size_t outlen, const struct tnd_digest_chal *c,
			const char *user, const char *password, const char *method,
			const char *uri, const char *cnonce, unsigned nc)
{
	GChecksumType t;
	char ha1[65], ha2[65], ncs[9];

	if (!out || !c || !user || !password || !method || !uri ||
	    ((c->qop_auth || c->sess) && !cnonce))
		return EINVAL;
	t = c->alg == TND_DIGEST_SHA256 ? G_CHECKSUM_SHA256 : G_CHECKSUM_MD5;
	if (outlen < (size_t)g_checksum_type_get_length(t) * 2 + 1)
		return EINVAL;
	if (t == G_CHECKSUM_MD5 && is_ha1(password)) {
		/* a stored MD5(user:realm:password): hashes compare in lower case */
		for (size_t i = 0; i < 32; i++)
			ha1[i] = g_ascii_tolower(password[4 + i]);
		ha1[32] = '\0';
	} else {
		hash_join(ha1, sizeof(ha1), t, (const char *const[]){ user, c->realm, password,
								       NULL });
	}
	if (c->sess) {
		char base[65];

		memcpy(base, ha1, sizeof(base));
		hash_join(ha1, sizeof(ha1), t, (const char *const[]){ base, c->nonce, cnonce,
								       NULL });
	}
	hash_join(ha2, sizeof(ha2), t, (const char *const[]){ method, uri, NULL });
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	if (c->qop_auth)
		hash_join(out, outlen, t, (const char *const[]){ ha1, c->nonce, ncs, cnonce,
								 "auth", ha2, NULL });
	else
		hash_join(out, outlen, t, (const char *const[]){ ha1, c->nonce, ha2, NULL });
	return 0;
}

static bool clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

int tnd_digest_credentials(char *buf, size_t len, const struct tnd_digest_chal *c,
			   const char *user, const char *password, const char *method,
			   const char *uri, unsigned nc)
{
	char resp[65], cnonce[33], opaque[sizeof(c->opaque) + 12] = "", qop[32] = "";
	int n, err;

	if (!buf || !c || !user || !uri || !clean(user) || !clean(uri))
		return EINVAL;
	/* 128 random bits; RFC 7616 5.4: the client's nonce defeats chosen-
	 * plaintext use of our answers */
	for (size_t i = 0; i < 4; i++)
		snprintf(cnonce + 8 * i, 9, "%08x", g_random_int());
	err = tnd_digest_response(resp, sizeof(resp), c, user, password, method, uri, cnonce,
				  nc);
	if (err)
		return err;
	if (*c->opaque)
		snprintf(opaque, sizeof(opaque), ", opaque=\"%s\"", c->opaque);
	if (c->qop_auth)
		snprintf(qop, sizeof(qop), ", qop=auth, nc=%08x", nc);
	if (c->qop_auth || c->sess)
		n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
			     "uri=\"%s\", response=\"%s\", algorithm=%s, cnonce=\"%s\"%s%s",
			     user, c->realm, c->nonce, uri, resp, tnd_digest_alg_name(c),
			     cnonce, opaque, qop);
	else
		n = snprintf(buf, len, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
			     "uri=\"%s\", response=\"%s\", algorithm=%s%s", user, c->realm,
			     c->nonce, uri, resp, tnd_digest_alg_name(c), opaque);
	if (n < 0 || (size_t)n >= len)
		return ENOSPC;
	return 0;
}
