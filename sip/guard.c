/* Admission of inbound SIP requests by source address (review H4): a
 * trusted list (trunks, PBXes, the proxy) that passes freely, and for every
 * other source a token bucket plus a refusal counter that blocks a source
 * for a while once it keeps failing (scanners, INVITE floods, password
 * guessing). Signalling thread only.
 *
 * The source table is one fixed array, hashed with a per-process random
 * seed (so a sender cannot aim collisions) and probed linearly over a
 * short window; nothing is allocated per request (R7). When the window is
 * full the least recently seen entry that is not blocked is reused, so a
 * flood from many addresses costs old entries, never memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <glib.h>

#include "sip/guard_int.h"

#define PROBE 16
#define MAX_PREFIXES 64
#define TOKEN 1000                  /* a request costs 1000 milli-tokens */

struct prefix {
	uint8_t addr[16];               /* IPv4 as ::ffff:a.b.c.d */
	unsigned bits;                  /* of the 128 */
};

struct slot {
	uint8_t addr[16];
	bool used;
	int64_t seen_ms;
	int64_t tokens;                 /* milli-tokens */
	int64_t window_ms;              /* start of the refusal window */
	unsigned refusals;
	int64_t blocked_until;
};

struct tnd_sipguard {
	struct prefix trusted[MAX_PREFIXES];
	unsigned n_trusted;
	unsigned rate, burst, block_after, block_ms;
	uint32_t seed;
	unsigned tracked;
	struct slot slots[TND_SIPGUARD_SLOTS]; /* owned, with the guard */
};

/* `sa` as 16 bytes, IPv4 mapped; false for other families */
static bool key_of(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool prefix_match(const struct prefix *p, const uint8_t a[16])
{
	unsigned full = p->bits / 8, rest = p->bits % 8;

	if (memcmp(p->addr, a, full))
		return false;
	return !rest || ((p->addr[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* "1.2.3.4", "1.2.3.0/24", "::1", "fd00::/8" */
static int parse_prefix(const char *s, struct prefix *p)
{
	char buf[64], *slash, *end;
	struct in_addr v4;
	bool v4_len = false;
	long bits;

	if (strlen(s) >= sizeof(buf))
		return EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		p->addr[10] = p->addr[11] = 0xff;
		memcpy(p->addr + 12, &v4, 4);
		bits = 32;
		v4_len = true;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		bits = 128;
	} else {
		return EINVAL;
	}
	if (slash) {
		long max = bits;

		bits = strtol(slash, &end, 10);
		if (!*slash || *end || bits < 0 || bits > max)
			return EINVAL;
	}
	/* an IPv4 prefix counts within the mapped form's last 32 bits */
	p->bits = (unsigned)(v4_len ? bits + 96 : bits);
	return 0;
}

static int parse_list(const char *list, struct prefix *out, unsigned *n)
{
	char **parts;
	int err = 0;

	*n = 0;
	if (!list || !*list)
		return 0;
	parts = g_strsplit(list, ",", 0);
	for (char **p = parts; *p && !err; p++) {
		const char *s = g_strstrip(*p);

		if (!*s)
			continue;
		if (*n == MAX_PREFIXES)
			err = EINVAL;
		else
			err = parse_prefix(s, &out[(*n)++]);
	}
	g_strfreev(parts);
	return err;
}

int tnd_sipguard_check_list(const char *trusted)
{
	struct prefix tmp[MAX_PREFIXES];
	unsigned n;

	return parse_list(trusted, tmp, &n);
}

int tnd_sipguard_alloc(struct tnd_sipguard **gp, const struct tnd_sipguard_conf *conf)
{
	struct tnd_sipguard *g;
	int err;

	if (!gp || !conf)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	if (conf->trusted && *conf->trusted)
		err = parse_list(conf->trusted, g->trusted, &g->n_trusted);
	else if (conf->listen_loopback)
		err = parse_list("127.0.0.0/8, ::1", g->trusted, &g->n_trusted);
	else
		err = 0;
	if (err) {
		free(g);
		return err;
	}
	g->rate = conf->rate;
	g->burst = conf->burst ? conf->burst : (conf->rate > 0 ? 2 * conf->rate : 1);
	g->block_after = conf->block_after;
	g->block_ms = conf->block_ms;
	g->seed = g_random_int();
	*gp = g;
	return 0;
}

void tnd_sipguard_free(struct tnd_sipguard *g)
{
	free(g);
}

bool tnd_sipguard_trusted(const struct tnd_sipguard *g, const struct sockaddr *sa)
{
	uint8_t a[16];

	if (!g || !key_of(sa, a))
		return false;
	for (unsigned i = 0; i < g->n_trusted; i++)
		if (prefix_match(&g->trusted[i], a))
			return true;
	return false;
}

static uint32_t hash(const struct tnd_sipguard *g, const uint8_t a[16])
{
	uint32_t h = 2166136261u ^ g->seed;    /* FNV-1a, seeded */

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* The slot of `a`, made (or taken over) when missing; NULL when its whole
 * probe window holds blocked sources (the newcomer is then refused too:
 * unblocking someone to make room would reward the flood). */
static struct slot *slot_of(struct tnd_sipguard *g, const uint8_t a[16], int64_t now)
{
	uint32_t h = hash(g, a);
	struct slot *free_s = NULL, *old = NULL, *victim;

	for (unsigned i = 0; i < PROBE; i++) {
		struct slot *s = &g->slots[(h + i) % TND_SIPGUARD_SLOTS];

		if (s->used && !memcmp(s->addr, a, 16))
			return s;
		if (!s->used) {
			if (!free_s)
				free_s = s;
		} else if (s->blocked_until <= now && (!old || s->seen_ms < old->seen_ms)) {
			old = s;
		}
	}
	victim = free_s ? free_s : old;
	if (!victim)                    /* every probe holds a blocked source */
		return NULL;
	if (!victim->used)
		g->tracked++;
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->addr, a, 16);
	victim->used = true;
	victim->seen_ms = now;
	victim->window_ms = now;
	victim->tokens = (int64_t)g->burst * TOKEN;
	return victim;
}

static bool count_refusal(struct tnd_sipguard *g, struct slot *s, int64_t now)
{
	if (!g->block_after || s->blocked_until > now)
		return false;
	if (now - s->window_ms > (int64_t)g->block_ms) {
		s->window_ms = now;
		s->refusals = 0;
	}
	if (++s->refusals < g->block_after)
		return false;
	s->refusals = 0;
	s->window_ms = now;
	s->blocked_until = now + g->block_ms;
	return true;
}

enum tnd_sipguard_verdict tnd_sipguard_check(struct tnd_sipguard *g, const struct sockaddr *sa,
					     int64_t now_ms)
{
	uint8_t a[16];
	struct slot *s;
	int64_t cap;

	if (!g || !key_of(sa, a))
		return TND_SIPGUARD_BLOCKED;
	if (tnd_sipguard_trusted(g, sa))
		return TND_SIPGUARD_TRUSTED;
	s = slot_of(g, a, now_ms);
	if (!s)
		return TND_SIPGUARD_LIMITED;
	if (s->blocked_until > now_ms) {
		s->seen_ms = now_ms;
		return TND_SIPGUARD_BLOCKED;
	}
	if (g->rate) {
		cap = (int64_t)g->burst * TOKEN;
		if (now_ms > s->seen_ms)
			s->tokens += (now_ms - s->seen_ms) * (int64_t)g->rate;
		if (s->tokens > cap)
			s->tokens = cap;
	}
	s->seen_ms = now_ms;
	if (!g->rate)
		return TND_SIPGUARD_ADMIT;
	if (s->tokens < TOKEN) {
		count_refusal(g, s, now_ms);
		return TND_SIPGUARD_LIMITED;
	}
	s->tokens -= TOKEN;
	return TND_SIPGUARD_ADMIT;
}

bool tnd_sipguard_refused(struct tnd_sipguard *g, const struct sockaddr *sa, int64_t now_ms)
{
	uint8_t a[16];
	struct slot *s;

	if (!g || !key_of(sa, a) || tnd_sipguard_trusted(g, sa))
		return false;
	s = slot_of(g, a, now_ms);
	return s && count_refusal(g, s, now_ms);
}

unsigned tnd_sipguard_blocked(const struct tnd_sipguard *g, int64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; g && i < TND_SIPGUARD_SLOTS; i++)
		n += g->slots[i].used && g->slots[i].blocked_until > now_ms;
	return n;
}

unsigned tnd_sipguard_tracked(const struct tnd_sipguard *g)
{
	return g ? g->tracked : 0;
}

const char *tnd_sipguard_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *src = NULL;

	if (sa && sa->sa_family == AF_INET)
		src = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!src || !inet_ntop(sa->sa_family, src, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}
