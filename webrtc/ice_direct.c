/* ICE after libnice (RFC 8445 7.2-7.3, RFC 7675) on the one socket the pc
 * kept: the peer's checks, our consent checks, peer-reflexive addresses and
 * ICE restart. No sockets and no clock here (direct.c passes them in), so
 * tests and the fuzzer drive it with bytes, addresses and times.
 *
 * Invariants:
 * - Media goes only to the selected slot, and only while that address has
 *   answered one of our checks within the consent timeout (RFC 7675 5.1);
 *   each address keeps its own consent clock and a new one starts with none.
 * - An authentic request from an unknown address is answered and makes a
 *   peer-reflexive slot (RFC 8445 7.3.1.3), and we send a triggered check
 *   with a fresh CSPRNG transaction id to that exact address (7.3.1.4).
 *   Media moves there only after an authentic success from it to such a
 *   check, once per TND_ICD_SWITCH_GAP_US at most: controlled, when the
 *   peer nominated it (USE-CANDIDATE, 7.3.1.5) no later than our check
 *   succeeded; controlling, when the selected address fell silent while the
 *   peer kept checking from the new one, and our nominating check to it
 *   succeeded (8.1.1). A replayed request (a transaction id already seen
 *   from another address, or anything from a third address) therefore
 *   cannot move media: the replayer cannot answer our check.
 * - Requests are rate-limited before their HMAC (two token buckets), and
 *   the HMAC uses keys prepared once per credential (stun_auth.c).
 * Runs on the pc's worker; nothing here allocates after tnd_icd_init. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gateway/base/log.h"
#include "webrtc/webrtc_int.h"

#define MSG_MAX 600
#define TRIGGER_GAP_US 200000      /* checks to one address at most this often */
#define RETRY_WINDOW_US 2000000    /* unanswered new addresses re-checked while heard */
#define NO_SLOT 0xff

/* ------------------------------------------------------------ helpers */

static bool sa_equal(const struct tnd_icd_addr *a, const struct sockaddr_storage *sa)
{
	return a->len && tnd_webrtc_sa_equal(&a->sa, sa);
}

static bool consented(const struct tnd_icd *s, const struct tnd_icd_addr *a, int64_t now)
{
	return a->consent_us && now - a->consent_us <= s->timeout_us;
}

/* n bytes from the batch; RAND_bytes once per 96 bytes (8 checks) */
static bool rnd(struct tnd_icd *s, uint8_t *out, unsigned n)
{
	if (s->rnd_left < n) {
		if (RAND_bytes(s->rnd, (int)sizeof(s->rnd)) != 1)
			return false;
		s->rnd_left = sizeof(s->rnd);
	}
	memcpy(out, s->rnd + sizeof(s->rnd) - s->rnd_left, n);
	OPENSSL_cleanse(s->rnd + sizeof(s->rnd) - s->rnd_left, n);
	s->rnd_left -= n;
	return true;
}

/* RFC 7675 5.1: the interval +- 20 %, so that calls set up together do not
 * check together */
static int64_t next_check(struct tnd_icd *s, int64_t now)
{
	uint8_t r[2] = { 0, 0 };
	int64_t i = s->interval_us;

	rnd(s, r, 2);
	return now + i * 8 / 10 + i * 4 / 10 * (r[0] << 8 | r[1]) / 65536;
}

static bool ice_str_ok(const char *p, size_t min)
{
	size_t n = 0;

	if (!p)
		return false;
	for (; p[n]; n++)
		if (!((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
		      (p[n] >= '0' && p[n] <= '9') || p[n] == '+' || p[n] == '/'))
			return false;
	return n >= min && n <= TND_ICD_FRAG_MAX;
}

static void cred_set(struct tnd_icd_cred *c, const char *ufrag, const char *pwd)
{
	snprintf(c->ufrag, sizeof(c->ufrag), "%s", ufrag);
	tnd_stun_key_set(&c->key, pwd);
	c->set = true;
}

static void cred_clear(struct tnd_icd_cred *c)
{
	tnd_stun_key_clear(&c->key);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ checks */

static void send_check(struct tnd_icd *s, unsigned slot, bool nominate, int64_t now)
{
	/* the new sets once both sides gave theirs (RFC 8445 9: both change) */
	uint8_t gen = s->local[1].set && s->remote[1].set ? 1 : 0;
	struct tnd_icd_addr *a = &s->a[slot];
	struct tnd_icd_txn *t = &s->txn[s->txn_next];
	char user[2 * TND_ICD_FRAG_MAX + 2];
	struct tnd_stun_req req = {
		.user = user, .priority = s->priority, .controlling = s->controlling,
		.tiebreaker = s->tiebreaker, .use_candidate = nominate,
	};
	uint8_t msg[MSG_MAX];
	size_t n;

	a->check_us = now;
	/* RFC 5389 6 and RFC 7675 5.1: unguessable, it half-authenticates
	 * the answer; never a weaker fallback */
	if (!rnd(s, t->id, 12))
		return;
	snprintf(user, sizeof(user), "%s:%s", s->remote[gen].ufrag, s->local[gen].ufrag);
	n = tnd_stun_build_request(msg, sizeof(msg), t->id, &req, &s->remote[gen].key);
	if (!n || s->send(s->arg, msg, n, &a->sa, a->len))
		return;
	t->slot = (uint8_t)slot;
	t->gen = gen;
	t->nominate = nominate;
	t->live = true;
	s->txn_next = (s->txn_next + 1) % TND_ICD_TXNS;
	if (slot == s->sel)
		s->st->consent_sent++;
	else
		s->st->ice_triggered++;
}

static void do_switch(struct tnd_icd *s, unsigned slot, int64_t now)
{
	char was[64], to[64];

	tnd_webrtc_sa_str(&s->a[s->sel].sa, was, sizeof(was));
	tnd_webrtc_sa_str(&s->a[slot].sa, to, sizeof(to));
	TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "ICE: media moves to %s (was %s) after its check", to,
		   was);
	s->sel = slot;
	s->switch_us = now;
	s->next_us = next_check(s, now);
	s->st->ice_switches++;
}

/* The slot media should move to, or NO_SLOT. See the file's comment. */
static unsigned pick(const struct tnd_icd *s, int64_t now)
{
	const struct tnd_icd_addr *cur = &s->a[s->sel];
	int64_t quiet = now - (cur->consent_us > cur->heard_us ? cur->consent_us : cur->heard_us);
	unsigned best = NO_SLOT;

	for (unsigned i = 0; i < TND_ICD_SLOTS; i++) {
		const struct tnd_icd_addr *a = &s->a[i];

		if (i == s->sel || !a->len || !consented(s, a, now))
			continue;
		if (!s->controlling) {
			/* the peer's latest nomination, answered after it */
			if (a->nominated_us > cur->nominated_us && a->consent_us >= a->nominated_us &&
			    (best == NO_SLOT || a->nominated_us > s->a[best].nominated_us))
				best = i;
		} else if (quiet > 2 * s->interval_us && now - a->heard_us <= 2 * s->interval_us &&
			   a->heard_us > cur->heard_us &&
			   (best == NO_SLOT || a->heard_us > s->a[best].heard_us)) {
			best = i;
		}
	}
	return best;
}

static void maybe_switch(struct tnd_icd *s, int64_t now)
{
	unsigned i;

	if (s->switch_us && now - s->switch_us < TND_ICD_SWITCH_GAP_US)
		return;
	i = pick(s, now);
	if (i == NO_SLOT)
		return;
	if (!s->controlling)
		do_switch(s, i, now);
	else if (now - s->a[i].check_us >= TRIGGER_GAP_US)
		send_check(s, i, true, now);   /* moves when it is answered */
}

/* A restart's check with the new sets succeeded: the old ones go */
static void commit_restart(struct tnd_icd *s)
{
	cred_clear(&s->local[0]);
	cred_clear(&s->remote[0]);
	s->local[0] = s->local[1];
	s->remote[0] = s->remote[1];
	memset(&s->local[1], 0, sizeof(s->local[1]));
	memset(&s->remote[1], 0, sizeof(s->remote[1]));
	for (unsigned i = 0; i < TND_ICD_TXNS; i++) {
		s->txn[i].live = s->txn[i].live && s->txn[i].gen == 1;
		s->txn[i].gen = 0;
	}
	s->st->ice_restarts++;
	/* once per restart, not per packet */
	TND_LOG_INFO(TND_LOG_WEBRTC, "ICE restart done: old credentials dropped (%s)",
		     s->local[0].ufrag);
}

/* ------------------------------------------------------------ input */

/* Which local set the USERNAME ("our ufrag:their ufrag") names, or -1 */
static int local_gen(const struct tnd_icd *s, const struct tnd_stun_binding *b)
{
	for (int g = 0; g < 2; g++) {
		size_t n = strlen(s->local[g].ufrag);

		if (s->local[g].set && b->user && b->user_len > n + 1 &&
		    !memcmp(b->user, s->local[g].ufrag, n) && b->user[n] == ':')
			return g;
	}
	return -1;
}

static bool take_token(struct tnd_icd *s, int k, int64_t now)
{
	const int64_t cap = (int64_t)TND_ICD_REQ_BURST * 1000000;

	s->tokens[k] += (now - s->tokens_us[k]) * TND_ICD_REQ_RATE;
	s->tokens_us[k] = now;
	if (s->tokens[k] > cap)
		s->tokens[k] = cap;
	if (s->tokens[k] < 1000000)
		return false;
	s->tokens[k] -= 1000000;
	return true;
}

static unsigned find_slot(const struct tnd_icd *s, const struct sockaddr_storage *from)
{
	for (unsigned i = 0; i < TND_ICD_SLOTS; i++)
		if (sa_equal(&s->a[i], from))
			return i;
	return NO_SLOT;
}

/* A free slot, else the one least recently heard (never the selected) */
static unsigned new_slot(struct tnd_icd *s, const struct sockaddr_storage *from,
			 socklen_t from_len)
{
	unsigned v = NO_SLOT;

	for (unsigned i = 0; i < TND_ICD_SLOTS; i++) {
		if (i == s->sel)
			continue;
		if (!s->a[i].len) {
			v = i;
			break;
		}
		if (v == NO_SLOT || s->a[i].heard_us < s->a[v].heard_us)
			v = i;
	}
	for (unsigned i = 0; i < TND_ICD_SEEN; i++)
		if (s->seen[i].slot == v)
			s->seen[i].live = false;
	for (unsigned i = 0; i < TND_ICD_TXNS; i++)
		if (s->txn[i].slot == v)
			s->txn[i].live = false;
	memset(&s->a[v], 0, sizeof(s->a[v]));
	memcpy(&s->a[v].sa, from, from_len);
	s->a[v].len = from_len;
	return v;
}

/* The same transaction from another address: a copy, not a retransmission */
static bool replayed(const struct tnd_icd *s, const uint8_t *txid, unsigned slot)
{
	for (unsigned i = 0; i < TND_ICD_SEEN; i++)
		if (s->seen[i].live && !memcmp(s->seen[i].id, txid, 12))
			return s->seen[i].slot != slot;
	return false;
}

static void remember(struct tnd_icd *s, const uint8_t *txid, unsigned slot)
{
	struct tnd_icd_seen *e = &s->seen[s->seen_next];

	for (unsigned i = 0; i < TND_ICD_SEEN; i++)
		if (s->seen[i].live && !memcmp(s->seen[i].id, txid, 12))
			return;   /* a retransmission */
	memcpy(e->id, txid, 12);
	e->slot = (uint8_t)slot;
	e->live = true;
	s->seen_next = (s->seen_next + 1) % TND_ICD_SEEN;
}

static void request_in(struct tnd_icd *s, uint8_t *buf, size_t len,
		       const struct tnd_stun_binding *b, const struct sockaddr_storage *from,
		       socklen_t from_len, int64_t now)
{
	int g = local_gen(s, b);
	unsigned slot = find_slot(s, from);
	uint8_t msg[MSG_MAX];
	struct tnd_icd_addr *a;
	size_t n;

	/* RFC 8445 7.3: our ufrag first, our password the key. The cheap
	 * tests and the budget come before the HMAC anyone can ask for. */
	if (g < 0) {
		s->st->stun_refused++;
		return;
	}
	if (!take_token(s, slot == s->sel ? 0 : 1, now)) {
		s->st->stun_rate_limited++;
		return;
	}
	if (tnd_stun_verify(buf, len, b->integrity_off, &s->local[g].key)) {
		s->st->stun_refused++;
		TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "Binding request with wrong credentials (%zu bytes)",
			   len);
		return;
	}
	if (replayed(s, b->txid, slot)) {
		s->st->stun_replayed++;
		return;
	}
	n = tnd_stun_build_success(msg, sizeof(msg), b->txid, from, &s->local[g].key);
	if (n && !s->send(s->arg, msg, n, from, from_len))
		s->st->stun_answered++;
	if (slot == NO_SLOT)
		slot = new_slot(s, from, from_len);   /* 7.3.1.3: peer-reflexive */
	remember(s, b->txid, slot);
	a = &s->a[slot];
	a->heard_us = now;
	if (b->use_candidate && !s->controlling)
		a->nominated_us = now;
	if (slot == s->sel)
		return;
	/* 7.3.1.4: a triggered check to exactly where this came from */
	if (now - a->check_us >= TRIGGER_GAP_US)
		send_check(s, slot, false, now);
	maybe_switch(s, now);
}

static void success_in(struct tnd_icd *s, uint8_t *buf, size_t len,
		       const struct tnd_stun_binding *b, const struct sockaddr_storage *from,
		       int64_t now)
{
	struct tnd_icd_txn *t = NULL;
	struct tnd_icd_addr *a;

	for (unsigned i = 0; i < TND_ICD_TXNS && !t; i++)
		if (s->txn[i].live && !memcmp(s->txn[i].id, b->txid, 12))
			t = &s->txn[i];
	/* 7.2.5.2.1: from where the check went (symmetric), with their key */
	if (!t || !sa_equal(&s->a[t->slot], from) ||
	    tnd_stun_verify(buf, len, b->integrity_off, &s->remote[t->gen].key)) {
		s->st->drop_stun++;
		return;
	}
	t->live = false;
	a = &s->a[t->slot];
	a->consent_us = now;
	s->st->consent_ok++;
	if (t->gen == 1)
		commit_restart(s);
	if (t->nominate && t->slot != s->sel && s->controlling &&
	    (!s->switch_us || now - s->switch_us >= TND_ICD_SWITCH_GAP_US))
		do_switch(s, t->slot, now);
	else
		maybe_switch(s, now);
}

void tnd_icd_input(struct tnd_icd *s, uint8_t *buf, size_t len,
		   const struct sockaddr_storage *from, socklen_t from_len, int64_t now)
{
	struct tnd_stun_binding b;

	if (tnd_stun_parse_binding(buf, len, &b)) {
		s->st->drop_bad_stun++;
		return;
	}
	if (from_len == 0 || from_len > sizeof(*from)) {
		s->st->drop_stun++;
		return;
	}
	switch (b.type) {
	case TND_STUN_BINDING_REQUEST:
		request_in(s, buf, len, &b, from, from_len, now);
		break;
	case TND_STUN_BINDING_SUCCESS:
		success_in(s, buf, len, &b, from, now);
		break;
	default:
		/* indications (keepalives) and errors: nothing to do */
		s->st->drop_stun++;
		break;
	}
}

/* ------------------------------------------------------------ timer */

int tnd_icd_tick(struct tnd_icd *s, int64_t now)
{
	maybe_switch(s, now);
	if (now - s->a[s->sel].consent_us > s->timeout_us)
		return ETIMEDOUT;   /* RFC 7675 5.1: stop sending */
	if (now >= s->next_us) {
		send_check(s, s->sel, false, now);
		s->next_us = next_check(s, now);
	}
	for (unsigned i = 0; i < TND_ICD_SLOTS; i++) {
		struct tnd_icd_addr *a = &s->a[i];
		bool fresh = a->consent_us >= a->nominated_us && consented(s, a, now);

		if (i == s->sel || !a->len)
			continue;
		/* retries while the peer still checks from there, and consent
		 * kept fresh for a move; a replayer's address soon gets none */
		if ((!fresh && now - a->heard_us <= RETRY_WINDOW_US &&
		     now - a->check_us >= TRIGGER_GAP_US) ||
		    (fresh && now - a->heard_us <= s->timeout_us &&
		     now - a->check_us >= s->interval_us))
			send_check(s, i, false, now);
	}
	return 0;
}

/* ------------------------------------------------------------ set-up */

int tnd_icd_init(struct tnd_icd *s, const struct tnd_icd_conf *c, int64_t now)
{
	uint8_t tb[8];

	if (!s || !c || !c->send || !c->st || !c->remote || !c->remote_len ||
	    c->remote_len > sizeof(*c->remote) || !ice_str_ok(c->local_ufrag, 1) ||
	    !ice_str_ok(c->local_pwd, 1) || !ice_str_ok(c->remote_ufrag, 1) ||
	    !ice_str_ok(c->remote_pwd, 1) || c->interval_us <= 0 || c->timeout_us <= 0)
		return EINVAL;
	memset(s, 0, sizeof(*s));
	s->send = c->send;
	s->arg = c->arg;
	s->st = c->st;
	s->controlling = c->controlling;
	s->priority = c->priority;
	s->interval_us = c->interval_us;
	s->timeout_us = c->timeout_us;
	/* RFC 8445 16.1: the tie-breaker is a 64-bit random number */
	if (!rnd(s, tb, sizeof(tb)))
		return EIO;
	for (int i = 0; i < 8; i++)
		s->tiebreaker = s->tiebreaker << 8 | tb[i];
	cred_set(&s->local[0], c->local_ufrag, c->local_pwd);
	cred_set(&s->remote[0], c->remote_ufrag, c->remote_pwd);
	memcpy(&s->a[0].sa, c->remote, c->remote_len);
	s->a[0].len = c->remote_len;
	s->a[0].consent_us = s->a[0].heard_us = s->a[0].nominated_us = now;
	s->a[0].check_us = now;
	for (int k = 0; k < 2; k++) {
		s->tokens[k] = (int64_t)TND_ICD_REQ_BURST * 1000000;
		s->tokens_us[k] = now;
	}
	s->next_us = next_check(s, now);
	return 0;
}

void tnd_icd_clear(struct tnd_icd *s)
{
	for (int g = 0; g < 2; g++) {
		cred_clear(&s->local[g]);
		cred_clear(&s->remote[g]);
	}
	OPENSSL_cleanse(s->rnd, sizeof(s->rnd));
}

const struct sockaddr_storage *tnd_icd_remote(const struct tnd_icd *s, socklen_t *len)
{
	*len = s->a[s->sel].len;
	return &s->a[s->sel].sa;
}

/* ------------------------------------------------------------ restart */

/* n ice-chars (RFC 8445 15.4: ALPHA / DIGIT / "+" / "/"), six random bits
 * each: 64 divides 256, so the draw is unbiased */
static bool ice_chars(char *out, unsigned n)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[32];

	if (n >= sizeof(r) || RAND_bytes(r, (int)n) != 1)
		return false;
	for (unsigned i = 0; i < n; i++)
		out[i] = set[r[i] & 63];
	out[n] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return true;
}

int tnd_icd_local_restart(struct tnd_icd *s, char *ufrag, size_t ufrag_size, char *pwd,
			  size_t pwd_size)
{
	/* 15.4: at least 24 bits for the ufrag, 128 for the password */
	char u[9], p[25];

	if (!s || !ufrag || !pwd)
		return EINVAL;
	if (ufrag_size < sizeof(u) || pwd_size < sizeof(p))
		return ENOSPC;
	do {
		if (!ice_chars(u, sizeof(u) - 1) || !ice_chars(p, sizeof(p) - 1))
			return EIO;
	} while (!strcmp(u, s->local[0].ufrag));   /* the peer tells sets apart by it */
	cred_clear(&s->local[1]);
	cred_set(&s->local[1], u, p);
	memcpy(ufrag, u, sizeof(u));
	memcpy(pwd, p, sizeof(p));
	OPENSSL_cleanse(p, sizeof(p));
	return 0;
}

int tnd_icd_remote_restart(struct tnd_icd *s, const char *ufrag, const char *pwd)
{
	if (!s || !ice_str_ok(ufrag, 1) || !ice_str_ok(pwd, 1))
		return EINVAL;
	cred_clear(&s->remote[1]);
	cred_set(&s->remote[1], ufrag, pwd);
	return 0;
}
