/* Login tokens and lock-out of failing addresses: see policy.h.
 *
 * Tokens are 256-bit random strings; only their SHA-256 is kept, so a memory
 * dump does not hand out live logins. A token is good for one login (which
 * issues the next), and each user holds at most tokens_per_user of them, so
 * the table is bounded by the number of users, whatever clients do. The
 * failure table is pruned lazily and capped. Besides the per-address
 * lock-out, a gateway-wide failure count per minute pauses password logins
 * for a short while: many addresses together cannot guess faster than that,
 * and a legitimate user waits at most global_lockout seconds once the
 * guessing stops (docs/protocol.md). Signalling thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"
#include "gateway/policy/policy.h"

#define TABLE_CAP 100000
#define GLOBAL_WINDOW_US (60 * G_USEC_PER_SEC)

struct token {
	char *user;            /* owned */
	gint64 expires_us;     /* monotonic */
	GList *link;           /* borrowed: this token's digest in its user's queue */
};

struct failures {
	unsigned count;
	gint64 since_us;       /* first failure of the current window */
};

struct tnd_policy {
	const struct tnd_conf *conf;   /* borrowed */
	GHashTable *tokens;            /* owned: sha256 hex -> struct token */
	GHashTable *by_user;           /* owned: user -> GQueue of token digests, oldest
					* first (borrowed keys of tokens) */
	GHashTable *fails;             /* owned: address -> struct failures */
	unsigned global_fails;         /* in the window that began at global_since */
	gint64 global_since_us;
	gint64 global_pause_until_us;  /* password logins paused until then */
};

static void token_free(gpointer data)
{
	struct token *t = data;

	g_free(t->user);
	g_free(t);
}

static void queue_free(gpointer data)
{
	g_queue_free(data);
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
	p->by_user = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, queue_free);
	p->fails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	*pp = p;
	return 0;
}

void tnd_policy_free(struct tnd_policy *p)
{
	if (!p)
		return;
	g_hash_table_destroy(p->by_user);
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

int tnd_policy_check_login(struct tnd_policy *p, const char *addr, bool password)
{
	struct failures *f = g_hash_table_lookup(p->fails, addr);
	gint64 now = g_get_monotonic_time();

	if (password && now < p->global_pause_until_us)
		return EAGAIN;
	if (!f)
		return 0;
	if (now - f->since_us > (gint64)p->conf->login_lockout * G_USEC_PER_SEC) {
		g_hash_table_remove(p->fails, addr);
		return 0;
	}
	return f->count >= (unsigned)p->conf->login_max_failures ? EAGAIN : 0;
}

/* Counts one failure gateway-wide; past the limit, pauses password logins
 * and starts a new count, so the pause ends even while guessing goes on
 * (each further pause needs as many failures again). */
static void global_failure(struct tnd_policy *p, gint64 now)
{
	if (now - p->global_since_us > GLOBAL_WINDOW_US) {
		p->global_fails = 0;
		p->global_since_us = now;
	}
	if (++p->global_fails < (unsigned)p->conf->login_global_max_failures)
		return;
	p->global_pause_until_us = now + (gint64)p->conf->login_global_lockout * G_USEC_PER_SEC;
	p->global_fails = 0;
	p->global_since_us = now;
	TND_LOG_WARN(TND_LOG_POLICY, "%d failed logins within a minute from all addresses: "
		     "password logins pause for %d s", p->conf->login_global_max_failures,
		     p->conf->login_global_lockout);
}

void tnd_policy_login_result(struct tnd_policy *p, const char *addr, bool ok)
{
	gint64 now = g_get_monotonic_time();
	struct failures *f;

	if (ok) {
		g_hash_table_remove(p->fails, addr);
		return;
	}
	global_failure(p, now);
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

/* Takes t out of its user's queue; the caller then removes it from tokens. */
static void token_unlink(struct tnd_policy *p, struct token *t)
{
	GQueue *q = g_hash_table_lookup(p->by_user, t->user);

	if (!q)
		return;
	g_queue_delete_link(q, t->link);
	t->link = NULL;
	if (g_queue_is_empty(q))
		g_hash_table_remove(p->by_user, t->user);
}

static void token_drop(struct tnd_policy *p, const char *digest)
{
	struct token *t = g_hash_table_lookup(p->tokens, digest);

	if (!t)
		return;
	token_unlink(p, t);
	g_hash_table_remove(p->tokens, digest);
}

static void prune_expired(struct tnd_policy *p, gint64 now)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, p->tokens);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		struct token *t = value;

		if (t->expires_us <= now) {
			token_unlink(p, t);
			g_hash_table_iter_remove(&it);
		}
	}
}

/* Writes 32 random bytes as unpadded base64url (tokens end up in URLs). */
static int token_new(char *out, size_t outlen)
{
	unsigned char raw[32];
	gchar *b64;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return EIO;
	b64 = g_base64_encode(raw, sizeof(raw));
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
	return 0;
}

int tnd_policy_token_issue(struct tnd_policy *p, const char *user, char *out, size_t outlen,
			   int *expires)
{
	gint64 now = g_get_monotonic_time();
	struct token *t;
	GQueue *q;
	gchar *digest;
	int e;

	if (!p || !user || !out || outlen < 64 || !expires)
		return EINVAL;
	q = g_hash_table_lookup(p->by_user, user);
	while (q && g_queue_get_length(q) >= (unsigned)p->conf->tokens_per_user) {
		/* the oldest goes; drop may free q with the user's last token */
		bool last = g_queue_get_length(q) == 1;

		token_drop(p, g_queue_peek_head(q));
		if (last)
			q = NULL;
	}
	if (g_hash_table_size(p->tokens) >= TABLE_CAP) {
		prune_expired(p, now);
		if (g_hash_table_size(p->tokens) >= TABLE_CAP)
			return EAGAIN;
	}
	e = token_new(out, outlen);
	if (e)
		return e;
	if (!q) {
		q = g_queue_new();
		g_hash_table_insert(p->by_user, g_strdup(user), q);
	}
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, out, -1);
	t = g_new0(struct token, 1);
	t->user = g_strdup(user);
	t->expires_us = now + (gint64)p->conf->token_lifetime * G_USEC_PER_SEC;
	g_queue_push_tail(q, digest);
	t->link = g_queue_peek_tail_link(q);
	g_hash_table_insert(p->tokens, digest, t);
	*expires = p->conf->token_lifetime;
	return 0;
}

int tnd_policy_token_take(struct tnd_policy *p, const char *user, const char *token)
{
	gint64 now = g_get_monotonic_time();
	struct token *t;
	gchar *digest;
	int e = EACCES;

	if (!p || !user || !token)
		return EINVAL;
	digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
	t = g_hash_table_lookup(p->tokens, digest);
	/* another user's token is left alone: its owner may still redeem it */
	if (t && !strcmp(t->user, user)) {
		/* an account removed from [users] by a reload takes its tokens along */
		if (t->expires_us > now && (p->conf->auth_mode != TND_AUTH_USERS ||
					    tnd_conf_user_find(p->conf, user)))
			e = 0;
		token_drop(p, digest);
	}
	g_free(digest);
	return e;
}

unsigned tnd_policy_token_count(const struct tnd_policy *p)
{
	return g_hash_table_size(p->tokens);
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

int tnd_policy_check_trunk_bypass(const struct tnd_conf *conf, const char *to,
				  const char **trunk)
{
	const struct tnd_trunk *t = conf && to ? tnd_dialplan_trunk_by_uri(conf->dialplan, to) :
				    NULL;

	if (!t)
		return 0;
	if (trunk)
		*trunk = t->name;
	return EPERM;
}
