/* Login tokens and lock-out of failing addresses: see policy.h.
 *
 * Tokens are 256-bit random strings; only their SHA-256 is kept, so a memory
 * dump does not hand out live logins. Both tables are pruned lazily and
 * capped, so a flood of addresses or logins cannot grow memory without
 * bound. Signalling thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

#define TABLE_CAP 100000

struct token {
	char *user;
	gint64 expires_us;     /* monotonic */
};

struct failures {
	unsigned count;
	gint64 since_us;       /* first failure of the current window */
};

struct tnd_policy {
	const struct tnd_conf *conf;   /* borrowed */
	GHashTable *tokens;            /* owned: sha256 hex -> struct token */
	GHashTable *fails;             /* owned: address -> struct failures */
};

static void token_free(gpointer data)
{
	struct token *t = data;

	g_free(t->user);
	g_free(t);
}

int tnd_policy_alloc(struct tnd_policy **pp, const struct tnd_conf *conf)
{
	struct tnd_policy *p;

	if (!pp || !conf)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->conf = conf;
	p->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, token_free);
	p->fails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	*pp = p;
	return 0;
}

void tnd_policy_free(struct tnd_policy *p)
{
	if (!p)
		return;
	g_hash_table_destroy(p->tokens);
	g_hash_table_destroy(p->fails);
	free(p);
}

void tnd_policy_set_conf(struct tnd_policy *p, const struct tnd_conf *conf)
{
	p->conf = conf;
}

static gboolean fail_expired(gpointer key, gpointer value, gpointer data)
{
	const struct failures *f = value;
	const gint64 *cutoff = data;

	(void)key;
	return f->since_us < *cutoff;
}

int tnd_policy_check_login(struct tnd_policy *p, const char *addr)
{
	struct failures *f = g_hash_table_lookup(p->fails, addr);
	gint64 now = g_get_monotonic_time();

	if (!f)
		return 0;
	if (now - f->since_us > (gint64)p->conf->login_lockout * G_USEC_PER_SEC) {
		g_hash_table_remove(p->fails, addr);
		return 0;
	}
	return f->count >= (unsigned)p->conf->login_max_failures ? EAGAIN : 0;
}

void tnd_policy_login_result(struct tnd_policy *p, const char *addr, bool ok)
{
	gint64 now = g_get_monotonic_time();
	struct failures *f;

	if (ok) {
		g_hash_table_remove(p->fails, addr);
		return;
	}
	f = g_hash_table_lookup(p->fails, addr);
	if (f && now - f->since_us > (gint64)p->conf->login_lockout * G_USEC_PER_SEC) {
		f->count = 0;
		f->since_us = now;
	}
	if (!f) {
		if (g_hash_table_size(p->fails) >= TABLE_CAP) {
			gint64 cutoff = now - (gint64)p->conf->login_lockout * G_USEC_PER_SEC;

			g_hash_table_foreach_remove(p->fails, fail_expired, &cutoff);
			if (g_hash_table_size(p->fails) >= TABLE_CAP)
				return;   /* under a flood, forget newcomers, not the locked */
		}
		f = g_new0(struct failures, 1);
		f->since_us = now;
		g_hash_table_insert(p->fails, g_strdup(addr), f);
	}
	f->count++;
	if (f->count == (unsigned)p->conf->login_max_failures)
		TND_LOG_WARN(TND_LOG_POLICY, "address %s locked out for %d s after %u failed logins",
			     addr, p->conf->login_lockout, f->count);
}

static gboolean token_expired(gpointer key, gpointer value, gpointer data)
{
	const struct token *t = value;
	const gint64 *now = data;

	(void)key;
	return t->expires_us <= *now;
}

int tnd_policy_token_issue(struct tnd_policy *p, const char *user, char *out, size_t outlen,
			   int *expires)
{
	unsigned char raw[32];
	struct token *t;
	gint64 now = g_get_monotonic_time();
	gchar *b64, *digest;

	if (!p || !user || !out || outlen < 64 || !expires)
		return EINVAL;
	if (g_hash_table_size(p->tokens) >= TABLE_CAP) {
		g_hash_table_foreach_remove(p->tokens, token_expired, &now);
		if (g_hash_table_size(p->tokens) >= TABLE_CAP)
			return EAGAIN;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return EIO;
	b64 = g_base64_encode(raw, sizeof(raw));
	/* URL-safe alphabet, no padding: tokens end up in URLs and headers */
	for (char *c = b64; *c; c++) {
		if (*c == '+')
			*c = '-';
		else if (*c == '/')
			*c = '_';
		else if (*c == '=')
			*c = '\0';
	}
	snprintf(out, outlen, "%s", b64);
	g_free(b64);
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, out, -1);
	t = g_new0(struct token, 1);
	t->user = g_strdup(user);
	t->expires_us = now + (gint64)p->conf->token_lifetime * G_USEC_PER_SEC;
	g_hash_table_replace(p->tokens, digest, t);
	*expires = p->conf->token_lifetime;
	return 0;
}

int tnd_policy_token_check(struct tnd_policy *p, const char *user, const char *token,
			   int *expires)
{
	gint64 now = g_get_monotonic_time();
	struct token *t;
	gchar *digest;
	int e = EACCES;

	if (!p || !user || !token || !expires)
		return EINVAL;
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
	t = g_hash_table_lookup(p->tokens, digest);
	if (!t || strcmp(t->user, user)) {
		e = EACCES;
	} else if (t->expires_us <= now) {
		g_hash_table_remove(p->tokens, digest);
	} else if (p->conf->auth_mode == TND_AUTH_USERS && !tnd_conf_user_find(p->conf, user)) {
		/* removed from [users] by a reload: the token dies with the account */
		g_hash_table_remove(p->tokens, digest);
	} else {
		*expires = (int)((t->expires_us - now) / G_USEC_PER_SEC);
		e = 0;
	}
	g_free(digest);
	return e;
}

/* Glob match where * and ? never cross URI structure: they match no '@',
 * ';', '?', ':', '<', '>', '"' or space. So "sip:*@pbx.example" cannot be met
 * by "sip:x@evil.example;p=@pbx.example" or a second '@'. Bounded
 * backtracking: patterns and URIs are short, and each '*' restarts only
 * from its own last try. */
static bool structural(char c)
{
	return c == '@' || c == ';' || c == '?' || c == ':' || c == '<' || c == '>' ||
	       c == '"' || c == ' ';
}

static bool glob_uri(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == *s || (*pat == '?' && !structural(*s))) {
			pat++;
			s++;
		} else if (star && !structural(*mark)) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

int tnd_policy_check_call(const struct tnd_conf *conf, const char *to)
{
	char **pats;
	int e = EPERM;

	if (!conf || !to)
		return EINVAL;
	pats = g_strsplit(conf->calls_allow, ",", 0);
	for (char **p = pats; *p && e; p++) {
		const char *pat = g_strstrip(*p);

		/* "*" alone is the documented "anything" (the default) */
		if (!strcmp(pat, "*") || (*pat && glob_uri(pat, to)))
			e = 0;
	}
	g_strfreev(pats);
	return e;
}
