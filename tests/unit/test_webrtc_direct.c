/* ICE after libnice (webrtc/ice_direct.c) against a STUN speaker nobody
 * here wrote: libnice's STUN library plays the peer. It makes the peer's
 * checks (with its own HMAC), validates our answers and checks, and
 * answers them. Addresses and the clock are the test's, so moves, replays,
 * consent clocks, budgets and restarts are exact, not timed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define LUFRAG "Lufr"
#define LPWD "localpasswordlocalpassw"
#define RUFRAG "Rufr"
#define RPWD "remotepasswordremotepas"
#define SEC 1000000LL
#define NOUT 64

/* ------------------------------------------------------------ OpenSSL allocations */

static atomic_long crypto_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	atomic_fetch_add(&crypto_allocs, 1);
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	atomic_fetch_add(&crypto_allocs, 1);
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static bool crypto_counting;

void tnd_test_crypto_count_install(void)
{
	crypto_counting = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) == 1;
}

/* ------------------------------------------------------------ the world */

struct sent {
	uint8_t buf[600];
	size_t len;
	struct sockaddr_storage to;
};

struct world {
	struct tnd_icd icd;
	struct tnd_pc_stats st;
	int64_t now;
	bool controlling;            /* we are */
	StunAgent peer;              /* libnice's, the peer's side */
	const char *peer_user;       /* USERNAME of the peer's checks */
	const char *peer_key;        /* its key (our password) */
	const char *peer_pwd;        /* the peer's own password */
	struct sent out[NOUT];
	unsigned n_out;
};

static struct sockaddr_storage addr_a, addr_b, addr_c, addr_x;

static void mk_addr(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	v4->sin_family = AF_INET;
	v4->sin_port = htons(port);
	inet_pton(AF_INET, ip, &v4->sin_addr);
}

static int rec_send(void *arg, const uint8_t *buf, size_t len, const struct sockaddr_storage *to,
		    socklen_t to_len)
{
	struct world *w = arg;

	(void)to_len;
	if (w->n_out < NOUT && len <= sizeof(w->out[0].buf)) {
		memcpy(w->out[w->n_out].buf, buf, len);
		w->out[w->n_out].len = len;
		w->out[w->n_out].to = *to;
		w->n_out++;
	}
	return 0;
}

static const uint16_t known[] = {
	STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY, STUN_ATTRIBUTE_FINGERPRINT,
	STUN_ATTRIBUTE_PRIORITY, STUN_ATTRIBUTE_USE_CANDIDATE, STUN_ATTRIBUTE_ICE_CONTROLLED,
	STUN_ATTRIBUTE_ICE_CONTROLLING, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, 0,
};

static int world_init(struct world *w, bool controlling)
{
	struct tnd_icd_conf c = {
		.local_ufrag = LUFRAG, .local_pwd = LPWD, .remote_ufrag = RUFRAG,
		.remote_pwd = RPWD, .remote = &addr_a, .remote_len = sizeof(struct sockaddr_in),
		.controlling = controlling, .priority = 1234, .interval_us = 5 * SEC,
		.timeout_us = 30 * SEC, .send = rec_send,
	};

	mk_addr(&addr_a, "192.0.2.1", 1000);
	mk_addr(&addr_b, "192.0.2.1", 2000);    /* the peer after a NAT rebinding */
	mk_addr(&addr_c, "192.0.2.7", 3000);
	mk_addr(&addr_x, "198.51.100.9", 666);  /* a third party */
	memset(w, 0, sizeof(*w));
	w->controlling = controlling;
	w->now = 100 * SEC;
	w->peer_user = LUFRAG ":" RUFRAG;
	w->peer_key = LPWD;
	w->peer_pwd = RPWD;
	stun_agent_init(&w->peer, known, STUN_COMPATIBILITY_RFC5389,
			STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
	c.arg = w;
	c.st = &w->st;
	return tnd_icd_init(&w->icd, &c, w->now);
}

/* The peer's check (libnice builds and signs it) into buf; its length */
static size_t peer_check(struct world *w, uint8_t *buf, size_t cap, bool use_candidate)
{
	StunMessage msg;

	/* libnice remembers a bounded number of its requests; this test
	 * validates each answer right after its request */
	stun_agent_init(&w->peer, known, STUN_COMPATIBILITY_RFC5389,
			STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
	return stun_usage_ice_conncheck_create(&w->peer, &msg, buf, cap,
					       (const uint8_t *)w->peer_user, strlen(w->peer_user),
					       (const uint8_t *)w->peer_key, strlen(w->peer_key),
					       use_candidate, !w->controlling, 99, 7, NULL,
					       STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

static void feed(struct world *w, const uint8_t *msg, size_t len, const struct sockaddr_storage *from)
{
	uint8_t copy[600];

	memcpy(copy, msg, len);
	tnd_icd_input(&w->icd, copy, len, from, sizeof(struct sockaddr_in), w->now);
}

/* The peer checks from `from`; true when libnice accepts an answer we sent there */
static bool check_from(struct world *w, const struct sockaddr_storage *from, bool use_candidate)
{
	uint8_t req[600];
	size_t n = peer_check(w, req, sizeof(req), use_candidate);
	unsigned first = w->n_out;
	StunMessage msg;

	feed(w, req, n, from);
	for (unsigned i = first; i < w->n_out; i++)
		if (tnd_webrtc_sa_equal(&w->out[i].to, from) &&
		    stun_agent_validate(&w->peer, &msg, w->out[i].buf, w->out[i].len, tnd_test_stun_key,
					(void *)w->peer_key) == STUN_VALIDATION_SUCCESS &&
		    stun_message_get_class(&msg) == STUN_RESPONSE)
			return true;
	return false;
}

/* Our checks sent to `to` since the last call: libnice validates each and,
 * with `answer`, replies from `to`. Returns how many; *nominating counts
 * those with USE-CANDIDATE. Drops what was sent to `to` from the record. */
static int our_checks(struct world *w, const struct sockaddr_storage *to, bool answer,
		      int *nominating)
{
	unsigned n_out = w->n_out;
	struct sent out[NOUT];
	int n = 0;

	memcpy(out, w->out, sizeof(out));
	w->n_out = 0;
	for (unsigned i = 0; i < n_out; i++) {
		StunMessage req, resp;
		uint8_t buf[600];
		size_t len = sizeof(buf);
		bool control = !w->controlling;

		if (!tnd_webrtc_sa_equal(&out[i].to, to)) {
			w->out[w->n_out++] = out[i];
			continue;
		}
		if (out[i].buf[1] != 0x01 || out[i].buf[0] != 0x00)
			continue;   /* not a request */
		if (stun_agent_validate(&w->peer, &req, out[i].buf, out[i].len, tnd_test_stun_key,
					(void *)w->peer_pwd) != STUN_VALIDATION_SUCCESS)
			continue;
		n++;
		if (nominating && stun_message_has_attribute(&req, STUN_ATTRIBUTE_USE_CANDIDATE))
			(*nominating)++;
		if (answer &&
		    stun_usage_ice_conncheck_create_reply(&w->peer, &req, &resp, buf, &len, &addr_c,
							  sizeof(struct sockaddr_in), &control, 7,
							  STUN_USAGE_ICE_COMPATIBILITY_RFC5245) ==
			    STUN_USAGE_ICE_RETURN_SUCCESS)
			feed(w, buf, len, to);
	}
	return n;
}

static bool selected_is(struct world *w, const struct sockaddr_storage *sa)
{
	socklen_t len;

	return tnd_webrtc_sa_equal(tnd_icd_remote(&w->icd, &len), sa);
}

/* Ticks every 100 ms for `us`; returns the first non-zero result */
static int run(struct world *w, int64_t us)
{
	for (int64_t end = w->now + us; w->now < end;) {
		int err;

		w->now += 100000;
		err = tnd_icd_tick(&w->icd, w->now);
		if (err)
			return err;
	}
	return 0;
}

/* Ticks until one more datagram goes out (10 s at most); 0 or ETIMEDOUT */
static int until_sent(struct world *w)
{
	unsigned n = w->n_out;

	for (int i = 0; i < 100 && w->n_out == n; i++) {
		w->now += 100000;
		if (tnd_icd_tick(&w->icd, w->now))
			return ETIMEDOUT;
	}
	return w->n_out == n + 1 ? 0 : ETIMEDOUT;
}

/* ------------------------------------------------------------ tests */

/* H2: the browser's nominating check replayed from a third address, at
 * once (a transaction id already seen from the peer) and later (a fresh
 * one to the cache), never moves media; a forged answer cannot either. */
int test_icd_replay_does_not_move(void)
{
	struct world w;
	uint8_t nom[600], forged[600];
	size_t n, fn, rn = sizeof(forged);
	StunMessage req, resp;
	struct tnd_stun_key bad;
	bool control = true;

	TEST_ASSERT(world_init(&w, false) == 0);
	n = peer_check(&w, nom, sizeof(nom), true);
	feed(&w, nom, n, &addr_a);
	TEST_ASSERT(w.st.stun_answered == 1 && selected_is(&w, &addr_a));
	/* the copy from a third address: not even answered */
	w.n_out = 0;
	feed(&w, nom, n, &addr_x);
	TEST_ASSERT(w.st.stun_replayed == 1 && w.st.stun_answered == 1 && w.n_out == 0);
	/* the peer's retransmission from its own address is still answered */
	feed(&w, nom, n, &addr_a);
	TEST_ASSERT(w.st.stun_answered == 2);
	/* later, out of the cache: answered, checked, never moved */
	for (int i = 0; i < TND_ICD_SEEN; i++)
		TEST_ASSERT(check_from(&w, &addr_a, false));
	w.n_out = 0;
	feed(&w, nom, n, &addr_x);
	TEST_ASSERT(w.st.stun_answered == 3 + TND_ICD_SEEN && w.st.ice_triggered == 1);
	TEST_ASSERT(selected_is(&w, &addr_x) == false);
	/* the replayer answers our check without the peer's password */
	TEST_ASSERT(w.n_out == 2 && tnd_webrtc_sa_equal(&w.out[1].to, &addr_x));
	tnd_stun_key_set(&bad, LPWD);
	fn = tnd_stun_build_success(forged, sizeof(forged), w.out[1].buf + 8, &addr_x, &bad);
	feed(&w, forged, fn, &addr_x);
	TEST_ASSERT(w.st.drop_stun == 1 && w.st.consent_ok == 0);
	/* the peer's real answer to that check, from its own address: dropped
	 * (RFC 8445 7.2.5.2.1, the answer must come from where the check went) */
	TEST_ASSERT(stun_agent_validate(&w.peer, &req, w.out[1].buf, w.out[1].len, tnd_test_stun_key,
				      (void *)RPWD) == STUN_VALIDATION_SUCCESS);
	TEST_ASSERT(stun_usage_ice_conncheck_create_reply(&w.peer, &req, &resp, forged, &rn, &addr_x,
							sizeof(struct sockaddr_in), &control, 7,
							STUN_USAGE_ICE_COMPATIBILITY_RFC5245) ==
		    STUN_USAGE_ICE_RETURN_SUCCESS);
	feed(&w, forged, rn, &addr_a);
	TEST_ASSERT(w.st.drop_stun == 2 && w.st.consent_ok == 0);
	/* retries to the replayer stop within the retry window */
	TEST_ASSERT(run(&w, 10 * SEC) == 0);
	TEST_ASSERT(w.st.ice_triggered >= 2 && w.st.ice_triggered <= 2 + 2000000 / 200000);
	TEST_ASSERT(w.st.ice_switches == 0 && selected_is(&w, &addr_a));
	tnd_icd_clear(&w.icd);
	return 0;
}

/* H2/M4, controlled: the peer moves to B and nominates it. Media stays on A
 * until B answers our triggered check; then it moves, and only one move a
 * second. Without USE-CANDIDATE an answered address is not taken. */
int test_icd_move_controlled(void)
{
	struct world w;

	TEST_ASSERT(world_init(&w, false) == 0);
	TEST_ASSERT(check_from(&w, &addr_b, false));
	TEST_ASSERT(our_checks(&w, &addr_b, true, NULL) == 1);
	TEST_ASSERT(w.st.consent_ok == 1 && selected_is(&w, &addr_a));   /* not nominated */
	w.now += 300000;
	TEST_ASSERT(check_from(&w, &addr_b, true));
	TEST_ASSERT(selected_is(&w, &addr_a));       /* nominated, not yet checked since */
	TEST_ASSERT(our_checks(&w, &addr_b, true, NULL) == 1);
	TEST_ASSERT(selected_is(&w, &addr_b) && w.st.ice_switches == 1);
	/* straight on to C: checked and nominated, but within the second */
	w.now += 300000;
	TEST_ASSERT(check_from(&w, &addr_c, true));
	TEST_ASSERT(our_checks(&w, &addr_c, true, NULL) == 1);
	TEST_ASSERT(selected_is(&w, &addr_b));
	TEST_ASSERT(run(&w, SEC) == 0);
	TEST_ASSERT(selected_is(&w, &addr_c) && w.st.ice_switches == 2);
	tnd_icd_clear(&w.icd);
	return 0;
}

/* M4, controlling: the peer's NAT rebinds to B. While A still answers, B is
 * only kept checked; once A has been silent for two intervals and the peer
 * keeps checking from B, we nominate B (USE-CANDIDATE) and move when that
 * check is answered. */
int test_icd_move_controlling(void)
{
	struct world w;
	int nominating = 0;

	TEST_ASSERT(world_init(&w, true) == 0);
	TEST_ASSERT(check_from(&w, &addr_b, false));
	TEST_ASSERT(our_checks(&w, &addr_b, true, NULL) == 1);
	/* A alive: consent checks answered for 12 s, B checking too */
	for (int i = 0; i < 12; i++) {
		TEST_ASSERT(run(&w, SEC) == 0);
		our_checks(&w, &addr_a, true, NULL);
		TEST_ASSERT(check_from(&w, &addr_b, false));
		our_checks(&w, &addr_b, true, &nominating);
	}
	TEST_ASSERT(selected_is(&w, &addr_a) && nominating == 0);
	/* A goes silent; the peer checks from B once a second */
	for (int i = 0; i < 12 && !w.st.ice_switches; i++) {
		TEST_ASSERT(run(&w, SEC) == 0);
		our_checks(&w, &addr_a, false, NULL);
		TEST_ASSERT(check_from(&w, &addr_b, false));
		TEST_ASSERT(selected_is(&w, &addr_a) || nominating > 0);
		our_checks(&w, &addr_b, true, &nominating);
	}
	TEST_ASSERT(nominating >= 1 && w.st.ice_switches == 1 && selected_is(&w, &addr_b));
	tnd_icd_clear(&w.icd);
	return 0;
}

/* Consent gap: after a move the new address's own clock counts. A answering
 * late does not keep B's media going: 30 s after B's last answer, consent is
 * lost. */
int test_icd_consent_per_address(void)
{
	struct world w;
	int64_t moved;

	TEST_ASSERT(world_init(&w, false) == 0);
	/* one consent check to A in flight */
	TEST_ASSERT(run(&w, 6 * SEC) == 0 && w.st.consent_sent == 1);
	TEST_ASSERT(check_from(&w, &addr_b, true));
	TEST_ASSERT(our_checks(&w, &addr_b, true, NULL) == 1);
	TEST_ASSERT(selected_is(&w, &addr_b));
	moved = w.now;
	/* A's late answer to the check sent before the move: A's clock only */
	TEST_ASSERT(our_checks(&w, &addr_a, true, NULL) == 1 && w.st.consent_ok == 2);
	TEST_ASSERT(run(&w, 20 * SEC) == 0);
	our_checks(&w, &addr_b, false, NULL);   /* B silent from now */
	TEST_ASSERT(run(&w, 9 * SEC) == 0);
	TEST_ASSERT(run(&w, 2 * SEC) == ETIMEDOUT);
	TEST_ASSERT(w.now - moved > 30 * SEC && w.now - moved <= 31 * SEC);
	tnd_icd_clear(&w.icd);
	/* and a new address starts without consent: nominated, unanswered */
	TEST_ASSERT(world_init(&w, false) == 0);
	TEST_ASSERT(check_from(&w, &addr_b, true));
	TEST_ASSERT(run(&w, 5 * SEC) == 0 && selected_is(&w, &addr_a));
	tnd_icd_clear(&w.icd);
	return 0;
}

/* L4: a burst of 1000 authentic requests gets at most a bucket's worth of
 * answers (and HMACs); strangers have their own bucket, so they cannot
 * starve the selected address; tokens come back with time. */
int test_icd_rate_limit(void)
{
	struct world w;
	uint8_t req[600];
	size_t n;

	TEST_ASSERT(world_init(&w, false) == 0);
	n = peer_check(&w, req, sizeof(req), false);
	/* one captured check, 1000 times in one burst from a stranger */
	for (int i = 0; i < 1000; i++)
		feed(&w, req, n, &addr_x);
	TEST_ASSERT(w.st.stun_answered == TND_ICD_REQ_BURST);
	TEST_ASSERT(w.st.stun_rate_limited == 1000 - TND_ICD_REQ_BURST);
	/* the selected address still gets answers */
	TEST_ASSERT(check_from(&w, &addr_a, false));
	w.st.stun_answered = w.st.stun_rate_limited = 0;
	for (int i = 0; i < 1000; i++)
		check_from(&w, &addr_a, false);
	TEST_ASSERT(w.st.stun_answered == TND_ICD_REQ_BURST - 1);
	TEST_ASSERT(w.st.stun_rate_limited == 1000 - (TND_ICD_REQ_BURST - 1));
	w.now += SEC;
	w.st.stun_answered = 0;
	for (int i = 0; i < 1000; i++)
		check_from(&w, &addr_a, false);
	TEST_ASSERT(w.st.stun_answered == TND_ICD_REQ_RATE);
	tnd_icd_clear(&w.icd);
	return 0;
}

/* L4: checking and answering requests, and making and checking our own
 * checks, allocate nothing in OpenSSL (prepared keys, batched RAND_bytes). */
int test_icd_no_allocation(void)
{
	enum { N = 40 };
	static uint8_t reqs[N][600];
	size_t lens[N];
	struct world w;
	long before, after;

	TEST_ASSERT(crypto_counting);   /* tnd_test_crypto_count_install() in main() */
	TEST_ASSERT(world_init(&w, false) == 0);
	for (int i = 0; i < N; i++)
		lens[i] = peer_check(&w, reqs[i], sizeof(reqs[i]), false);
	/* warm-up: the first RAND_bytes of a thread sets up its generator */
	TEST_ASSERT(run(&w, 6 * SEC) == 0);
	w.n_out = 0;
	before = atomic_load(&crypto_allocs);
	for (int i = 0; i < N; i++) {
		feed(&w, reqs[i], lens[i], &addr_a);
		w.now += 1000;
		tnd_icd_tick(&w.icd, w.now);
	}
	for (int i = 0; i < 3; i++)
		TEST_ASSERT(run(&w, 6 * SEC) == 0);
	after = atomic_load(&crypto_allocs);
	printf("# %ld OpenSSL allocations for %llu answers, %llu checks\n", after - before,
	       (unsigned long long)w.st.stun_answered, (unsigned long long)w.st.consent_sent);
	TEST_ASSERT(w.st.stun_answered == N && w.st.consent_sent >= 3);
	TEST_ASSERT(after == before);
	/* the one-shot HMAC() the old code used would have shown */
	{
		uint8_t mac[20];
		unsigned ml = 0;

		HMAC(EVP_sha1(), LPWD, (int)strlen(LPWD), reqs[0], 20, mac, &ml);
		TEST_ASSERT(atomic_load(&crypto_allocs) > after);
	}
	tnd_icd_clear(&w.icd);
	return 0;
}

/* M3: transaction ids and the tie-breaker do not come from GLib's
 * generator: the same GLib seed gives different ones. */
int test_icd_csprng(void)
{
	struct world w1, w2;

	g_random_set_seed(42);
	TEST_ASSERT(world_init(&w1, false) == 0);
	TEST_ASSERT(until_sent(&w1) == 0);
	g_random_set_seed(42);
	TEST_ASSERT(world_init(&w2, false) == 0);
	TEST_ASSERT(until_sent(&w2) == 0);
	TEST_ASSERT(w1.icd.tiebreaker != w2.icd.tiebreaker);
	TEST_ASSERT(memcmp(w1.out[0].buf + 8, w2.out[0].buf + 8, 12) != 0);
	/* and consecutive ones differ */
	TEST_ASSERT(until_sent(&w1) == 0);
	TEST_ASSERT(memcmp(w1.out[0].buf + 8, w1.out[1].buf + 8, 12) != 0);
	tnd_icd_clear(&w1.icd);
	tnd_icd_clear(&w2.icd);
	return 0;
}

/* M4: an ICE restart after the hand-over. Both credential sets work during
 * the transition, media never moves, and once our check with the new sets
 * is answered the old ones are refused. */
int test_icd_restart(void)
{
	struct world w;
	char u[257], p[257], u2[257], p2[257], user[600];

	TEST_ASSERT(world_init(&w, false) == 0);
	TEST_ASSERT(tnd_icd_local_restart(&w.icd, u, 8, p, sizeof(p)) == ENOSPC);
	TEST_ASSERT(tnd_icd_local_restart(&w.icd, u, sizeof(u), p, sizeof(p)) == 0);
	TEST_ASSERT(strlen(u) == 8 && strlen(p) == 24 && strcmp(u, LUFRAG));
	TEST_ASSERT(strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 8);
	TEST_ASSERT(tnd_icd_local_restart(&w.icd, u2, sizeof(u2), p2, sizeof(p2)) == 0);
	TEST_ASSERT(strcmp(u, u2) && strcmp(p, p2));   /* fresh each time; the last counts */
	TEST_ASSERT(tnd_icd_remote_restart(&w.icd, "bad ufrag", "x") == EINVAL);
	/* the old set still works */
	TEST_ASSERT(check_from(&w, &addr_a, false));
	TEST_ASSERT(tnd_icd_remote_restart(&w.icd, "NewR", "newremotepasswordnewrem") == 0);
	/* the peer switches to the new sets */
	snprintf(user, sizeof(user), "%s:NewR", u2);
	w.peer_user = user;
	w.peer_key = p2;
	TEST_ASSERT(check_from(&w, &addr_a, false));
	/* the old one still too, until a check with the new ones succeeds */
	w.peer_user = LUFRAG ":" RUFRAG;
	w.peer_key = LPWD;
	TEST_ASSERT(check_from(&w, &addr_a, false));
	w.n_out = 0;
	TEST_ASSERT(until_sent(&w) == 0);
	snprintf(user, sizeof(user), "NewR:%s", u2);
	{
		struct tnd_stun_binding b;

		TEST_ASSERT(tnd_stun_parse_binding(w.out[0].buf, w.out[0].len, &b) == 0);
		TEST_ASSERT(b.user_len == strlen(user) && !memcmp(b.user, user, b.user_len));
	}
	snprintf(user, sizeof(user), "%s:NewR", u2);
	/* our check carries the new sets: libnice accepts it only with the
	 * peer's new password */
	w.peer_pwd = RPWD;
	TEST_ASSERT(our_checks(&w, &addr_a, false, NULL) == 0);
	TEST_ASSERT(until_sent(&w) == 0);
	w.peer_pwd = "newremotepasswordnewrem";
	TEST_ASSERT(our_checks(&w, &addr_a, true, NULL) == 1);
	TEST_ASSERT(w.st.ice_restarts == 1 && w.st.ice_switches == 0 && selected_is(&w, &addr_a));
	TEST_ASSERT(!check_from(&w, &addr_a, false));   /* old set gone */
	TEST_ASSERT(w.st.stun_refused == 1);
	w.peer_user = user;
	w.peer_key = p2;
	TEST_ASSERT(check_from(&w, &addr_a, false));
	/* consent continues with the new sets */
	w.n_out = 0;
	TEST_ASSERT(until_sent(&w) == 0 && our_checks(&w, &addr_a, true, NULL) == 1);
	TEST_ASSERT(w.st.consent_ok == 2 && run(&w, 20 * SEC) == 0);
	tnd_icd_clear(&w.icd);
	return 0;
}
