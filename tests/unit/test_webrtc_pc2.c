/* struct tnd_pc on the pair of test_webrtc_pc.c: what happens to a pc
 * whose owner let go (review H3), forged DTLS before ICE is done (L12),
 * remote candidate limits and the deny-list (M1). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "gateway/base/obj.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "tests/unit/test_webrtc_pair.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

/* ------------------------------------------------------------ teardown (H3) */

/* The pc's owner as the bridge is one: memory the handlers get as `arg`,
 * poisoned and freed when the owner hangs up. */
#define CANARY_MAGIC 0x7a11c0deu

struct canary {
	uint32_t magic;
	struct side *s;              /* borrowed: the side the calls go on to */
};

static struct {
	const char *stun;            /* "127.0.0.1:port" of the test's silent STUN server */
	struct canary *owner;        /* owned (malloc) until the hang-up frees it */
	struct tnd_pc *keep;         /* ref: whatever else still holds the pc */
	/* LOCK: pair_mu */
	bool owner_gone, lib_gathered;
	int lib_cands_after;         /* libnice's new candidates after the hang-up */
	int late_calls;              /* handler calls after the hang-up: must stay 0 */
} td;

static bool owner_gone_now(void)
{
	bool gone;

	g_mutex_lock(&pair_mu);
	gone = td.owner_gone;
	g_mutex_unlock(&pair_mu);
	return gone;
}

static void late_call(struct canary *c)
{
	g_mutex_lock(&pair_mu);
	td.late_calls++;
	g_mutex_unlock(&pair_mu);
	/* under ASan this read is the use-after-free of review finding H3 */
	if (c->magic == CANARY_MAGIC)
		printf("# a handler reached an owner that is gone\n");
}

static void canary_cand(void *arg, const char *cand)
{
	struct canary *c = arg;

	if (owner_gone_now()) {
		late_call(c);
		return;
	}
	on_cand(c->s, cand);
}

static int do_hangup(void *ctx, const char *unused)
{
	struct side *s = ctx;
	struct canary *c = td.owner;

	(void)unused;
	/* what the bridge's CMD_CLOSE does: close, let go, drop the reference
	 * and die; td.keep keeps the pc and its agent alive */
	tnd_pc_close(s->pc);
	tnd_pc_detach(s->pc);
	s->pc = tnd_obj_put(s->pc);
	c->magic = 0;
	free(c);
	g_mutex_lock(&pair_mu);
	td.owner = NULL;
	td.owner_gone = true;
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
	return 0;
}

static void canary_state(void *arg, enum tnd_pc_state st)
{
	struct canary *c = arg;

	if (owner_gone_now()) {
		late_call(c);
		return;
	}
	on_state(c->s, st);
	/* the owner hangs up before the hand-over from libnice runs (it is
	 * deferred to the end of this batch), as a CMD_CLOSE that wins the
	 * race does, or as on a TURN-relayed pair, which keeps libnice for
	 * good: the hand-over then leaves libnice be, and libnice still has
	 * a gathering to finish */
	if (st == TND_PC_CONNECTED)
		do_hangup(c->s, NULL);
}

/* libnice's own view, connected after the pc's handlers */
static void lib_gathered(NiceAgent *agent, guint stream, gpointer data)
{
	(void)agent;
	(void)stream;
	(void)data;
	g_mutex_lock(&pair_mu);
	td.lib_gathered = true;
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
}

static void lib_cand(NiceAgent *agent, NiceCandidate *c, gpointer data)
{
	(void)agent;
	(void)c;
	(void)data;
	g_mutex_lock(&pair_mu);
	td.lib_cands_after += td.owner_gone;
	g_mutex_unlock(&pair_mu);
}

static int do_alloc_owned(void *ctx, const char *unused)
{
	static const char *const addrs[] = { "127.0.0.1" };
	struct side *s = ctx;
	const struct tnd_pc_conf conf = {
		.local_addrs = addrs, .n_local_addrs = 1, .stun_server = td.stun,
	};
	const struct tnd_pc_handlers h = { .candidate = canary_cand, .state = canary_state };
	int err;

	(void)unused;
	err = tnd_pc_alloc(&s->pc, s->loop, &conf, s->controlling, &h, td.owner);
	if (!err)
		err = tnd_pc_local_ice(s->pc, s->ufrag, sizeof(s->ufrag), s->pwd, sizeof(s->pwd));
	if (err)
		return err;
	g_signal_connect(s->pc->agent, "candidate-gathering-done", G_CALLBACK(lib_gathered), NULL);
	g_signal_connect(s->pc->agent, "new-candidate-full", G_CALLBACK(lib_cand), NULL);
	td.keep = tnd_obj_get(s->pc);
	return 0;
}

static int do_drop_keep(void *ctx, const char *unused)
{
	(void)ctx;
	(void)unused;
	td.keep = tnd_obj_put(td.keep);
	return 0;
}

static int do_detach(void *ctx, const char *unused)
{
	(void)unused;
	tnd_pc_detach(((struct side *)ctx)->pc);
	tnd_pc_detach(td.keep);
	return 0;
}

static bool pred_owner_gone(struct side *a, struct side *b)
{
	(void)a;
	(void)b;
	return td.owner_gone;
}

static bool pred_lib_gathered(struct side *a, struct side *b)
{
	(void)a;
	(void)b;
	return td.lib_gathered;
}

/* A UDP socket on 127.0.0.1 that plays a STUN server: silent until told. */
static int stun_server(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* The first Binding request's cookie and transaction id (16 bytes: libnice
 * asks STUN servers in RFC 3489's form, where all 16 are the id) and its
 * source. */
static bool stun_request(int fd, uint8_t id[16], struct sockaddr_storage *from,
			 socklen_t *from_len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t m[1500];
	ssize_t n;

	if (poll(&p, 1, WAIT_MS) != 1)
		return false;
	n = recvfrom(fd, m, sizeof(m), 0, (struct sockaddr *)from, from_len);
	if (n < 20 || m[0] != 0 || m[1] != 1)
		return false;
	memcpy(id, m + 4, 16);
	return true;
}

/* Binding success (RFC 3489 11.1, RFC 5389 15.1): MAPPED-ADDRESS
 * 192.0.2.7:40000, which both forms know. Its length. */
static size_t stun_success(uint8_t *m, const uint8_t id[16])
{
	memcpy(m, "\x01\x01\x00\x0c", 4);
	memcpy(m + 4, id, 16);
	memcpy(m + 20, "\x00\x01\x00\x08\x00\x01", 6);
	m[26] = (uint8_t)(40000 >> 8);
	m[27] = (uint8_t)40000;
	tnd_rtp_wr32(m + 28, 192u << 24 | 2 << 8 | 7);
	return 32;
}

/* Review H3: a pc that outlives its owner. a has a STUN server that does
 * not answer, so its gathering is still open when ICE and DTLS are done.
 * On CONNECTED its owner hangs up as the bridge does (close, detach, drop
 * its reference, free itself) while something else keeps the pc alive.
 * Then the STUN server answers: libnice emits a server-reflexive candidate
 * and gathering-done, and neither may reach the freed owner. */
static int teardown_body(struct side *a, struct side *b)
{
	struct sockaddr_storage from;
	socklen_t from_len = sizeof(from);
	uint8_t txid[16], msg[64];
	char stun[32];
	uint16_t port = 0;
	int fd = stun_server(&port), rc = 1;
	bool early;

	memset(&td, 0, sizeof(td));
	if (fd < 0)
		return 1;
	snprintf(stun, sizeof(stun), "127.0.0.1:%u", port);
	td.stun = stun;
	td.owner = calloc(1, sizeof(*td.owner));
	if (!td.owner)
		goto out;
	td.owner->magic = CANARY_MAGIC;
	td.owner->s = a;
	if (tnd_loop_alloc(&a->loop, "w0", 1) || tnd_loop_alloc(&b->loop, "w1", 1) ||
	    tnd_loop_thread_start(a->loop) || tnd_loop_thread_start(b->loop) ||
	    tnd_test_run_on(a->loop, do_alloc_owned, a) || tnd_test_run_on(b->loop, do_alloc, b) ||
	    connect_pair(a, b, true))
		goto out;
	if (!stun_request(fd, txid, &from, &from_len)) {
		printf("# no Binding request at the STUN server\n");
		goto out;
	}
	if (!wait_until(pred_owner_gone, a, b, WAIT_MS)) {
		printf("# the owner never hung up (a in state %d)\n", a->state);
		goto out;
	}
	g_mutex_lock(&pair_mu);
	early = td.lib_gathered;
	g_mutex_unlock(&pair_mu);
	if (early) {
		printf("# gathering was over before the hang-up: nothing left to test\n");
		goto out;
	}
	if (sendto(fd, msg, stun_success(msg, txid), 0, (struct sockaddr *)&from, from_len) < 0 ||
	    !wait_until(pred_lib_gathered, a, b, WAIT_MS)) {
		printf("# libnice did not finish gathering\n");
		goto out;
	}
	printf("# after the hang-up libnice emitted %d candidate(s) and gathering-done; "
	       "%d reached the owner\n", td.lib_cands_after, td.late_calls);
	rc = td.late_calls != 0 || td.lib_cands_after < 1;
 out:
	if (td.owner && a->loop) {
		/* failed before the hang-up: the pc must not call it either */
		tnd_test_run_on(a->loop, do_detach, a);
		free(td.owner);
		td.owner = NULL;
	}
	if (td.keep)
		tnd_test_run_on(a->loop, do_drop_keep, NULL);
	close(fd);
	return rc;
}

int test_pc_detach_outlived_owner(void)
{
	return with_pair(teardown_body);
}

/* ------------------------------------------------------------ forged DTLS (L12) */

/* A genuine ClientHello, as anyone can make one: its length in buf. */
static size_t client_hello(uint8_t *buf, size_t cap)
{
	SSL *ssl = SSL_new(tnd_webrtc_ssl_ctx());
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
	int n = 0;

	if (!ssl || !r || !w) {
		BIO_free(r);
		BIO_free(w);
		SSL_free(ssl);
		return 0;
	}
	SSL_set_bio(ssl, r, w);
	SSL_set_mtu(ssl, 1200);
	SSL_set_connect_state(ssl);
	SSL_do_handshake(ssl);
	n = BIO_read(w, buf, (int)cap);
	SSL_free(ssl);
	ERR_clear_error();
	return n > 0 ? (size_t)n : 0;
}

/* Sends `len` bytes to a pc's host candidate from a fresh socket: an
 * address no check has validated. */
static int send_forged(const char *cand, const uint8_t *buf, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	int port = 0, fd;
	ssize_t n;

	if (sscanf(cand, "candidate:%*s %*s %*s %*s %*s %d", &port) != 1)
		return 1;
	to.sin_port = htons((uint16_t)port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	n = sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
	return n == (ssize_t)len ? 0 : 1;
}

static bool b_has_cand(struct side *a, struct side *b)
{
	(void)a;
	return b->n_cands > 0;
}

static bool either_failed(struct side *a, struct side *b)
{
	return a->state == TND_PC_FAILED || b->state == TND_PC_FAILED;
}

static bool forged_delivered;   /* the control: hand it over as libnice would */

static int do_inject_hello(void *ctx, const char *unused)
{
	struct side *s = ctx;
	uint8_t hello[1500];
	size_t n = client_hello(hello, sizeof(hello));

	(void)unused;
	if (!n)
		return 1;
	tnd_pc_input(s->pc, hello, n);
	return 0;
}

/* Review L12: pc.c trusts libnice to pass up non-STUN data only from
 * addresses its checks validated. Before ICE is done a third party sends
 * b (the DTLS server) a genuine ClientHello, once before b knows the
 * peer's parameters (it would be kept and answered then) and once after
 * (it would go straight to OpenSSL). The real handshake must still
 * succeed, and b must never have seen the forgeries. The control run hands
 * the forgery to the pc as if libnice had delivered it, and the handshake
 * fails: so the first half can fail. */
static int forged_hello_body(struct side *a, struct side *b)
{
	uint8_t hello[1500];
	size_t n = client_hello(hello, sizeof(hello));

	if (!n || pair_start(a, b))
		return 1;
	if (forged_delivered) {
		/* the control: delivered as libnice would for a validated source */
		if (tnd_test_run_on(b->loop, do_inject_hello, b) || connect_pair(a, b, true))
			return 1;
		if (!wait_until(either_failed, a, b, WAIT_MS) || a->state == TND_PC_CONNECTED) {
			printf("# a delivered forged ClientHello did not spoil the handshake\n");
			return 1;
		}
		return 0;
	}
	if (tnd_test_run_on(b->loop, do_gather, b) || !wait_until(b_has_cand, a, b, WAIT_MS) ||
	    send_forged(b->first_cand, hello, n))
		return 1;
	if (set_remotes(a, b) || send_forged(b->first_cand, hello, n) ||
	    tnd_test_run_on(a->loop, do_gather, a))
		return 1;
	if (exchange(a, b) || tnd_test_run_on(b->loop, do_stats, b))
		return 1;
	if (b->err || b->st.drop_dtls || b->st.drop_other) {
		printf("# the forged hello reached the pc: err %d, dtls drops %llu\n", b->err,
		       (unsigned long long)b->st.drop_dtls);
		return 1;
	}
	return 0;
}

int test_pc_forged_hello(void)
{
	forged_delivered = true;
	TEST_ASSERT(with_pair(forged_hello_body) == 0);
	forged_delivered = false;
	TEST_ASSERT(with_pair(forged_hello_body) == 0);
	return 0;
}

/* ------------------------------------------------------------ candidate limits (M1) */

#define CAND_FMT "candidate:%d 1 udp 2130706431 %s %d typ host"

static int add_n(struct tnd_pc *pc, int from, int n, int want)
{
	char c[128];

	for (int i = from; i < from + n; i++) {
		snprintf(c, sizeof(c), CAND_FMT, i, "127.0.0.1", 10000 + i);
		if (tnd_pc_add_remote_candidate(pc, c) != want) {
			printf("# candidate %d: not %d\n", i, want);
			return 1;
		}
	}
	return 0;
}

static int do_limits(void *ctx, const char *unused)
{
	static const char *const deny[] = {
		"10.0.0.0/8", "192.168.1.77", "fd00::/8", "2001:db8:ab00::/40", "::ffff:172.16.0.0/108",
	};
	static const char *const bad[] = { "10.0.0.0/33" };
	static const struct {
		const char *addr;
		int err;
	} cases[] = {
		{ "10.200.1.1", EPERM }, { "11.0.0.1", 0 }, { "192.168.1.77", EPERM },
		{ "192.168.1.78", 0 }, { "fd12:3456::1", EPERM }, { "fe80::1", 0 },
		{ "2001:db8:abff::1", EPERM }, { "2001:db8:ac00::1", 0 },
		/* IPv4-mapped: the IPv4 rules apply */
		{ "::ffff:10.1.2.3", EPERM }, { "172.31.255.255", EPERM }, { "172.32.0.1", 0 },
		/* never a peer: the local host, multicast, broadcast */
		{ "0.0.0.0", EPERM }, { "::", EPERM }, { "224.0.0.1", EPERM }, { "ff02::1", EPERM },
		{ "255.255.255.255", EPERM },
	};
	struct side *s = ctx;
	char c[128];
	int n_ok = 0;

	(void)unused;
	s->deny = bad;
	s->n_deny = 1;
	if (do_alloc(s, NULL) != EINVAL || s->pc)
		return 1;
	s->deny = deny;
	s->n_deny = sizeof(deny) / sizeof(deny[0]);
	if (do_alloc(s, NULL))
		return 2;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(c, sizeof(c), CAND_FMT, (int)i, cases[i].addr, 5000);
		if (tnd_pc_add_remote_candidate(s->pc, c) != cases[i].err) {
			printf("# %s: not %d\n", c, cases[i].err);
			return 3;
		}
		n_ok += !cases[i].err;
	}
	/* the rest of 32 kept before the remote parameters, more refused */
	if (add_n(s->pc, 100, TND_PC_MAX_REMOTE_CANDS / 2 - n_ok, 0))
		return 4;
	if (tnd_pc_gather(s->pc) || tnd_pc_set_remote(s->pc, "abcd", PWD, s->fp, TND_DTLS_ACTIVE))
		return 5;
	/* every kept one reached libnice when they were applied */
	{
		GSList *l = nice_agent_get_remote_candidates(s->pc->agent, s->pc->stream, 1);
		guint len = g_slist_length(l);

		g_slist_free_full(l, (GDestroyNotify)nice_candidate_free);
		if (len != TND_PC_MAX_REMOTE_CANDS / 2) {
			printf("# %u remote candidates in libnice\n", len);
			return 6;
		}
	}
	/* applied ones count too: 32 in all, then EBUSY */
	if (add_n(s->pc, 200, TND_PC_MAX_REMOTE_CANDS / 2, 0) || add_n(s->pc, 300, 2, EBUSY))
		return 7;
	/* refusals still say why */
	snprintf(c, sizeof(c), CAND_FMT, 1, "10.0.0.1", 5000);
	if (tnd_pc_add_remote_candidate(s->pc, c) != EPERM ||
	    tnd_pc_add_remote_candidate(s->pc, "candidate:x") != EBADMSG)
		return 8;
	s->pc = tnd_obj_put(s->pc);
	return 0;
}

static int limits_body(struct side *s)
{
	int rc = tnd_test_run_on(s->loop, do_limits, s);

	if (rc)
		printf("# step %d\n", rc);
	return rc;
}

int test_pc_candidate_limits(void)
{
	return with_side(limits_body);
}

/* b offers host candidates on 127.0.0.1 and 127.0.0.2; a's deny-list
 * holds 127.0.0.2 (and some networks nobody here uses). a refuses those
 * candidates and still connects over the allowed ones. */
static int deny_connects(struct side *a, struct side *b)
{
	static const char *const two[] = { "127.0.0.1", "127.0.0.2" };
	static const char *const deny[] = { "127.0.0.2/32", "10.0.0.0/8", "fe80::/10" };

	b->addrs = two;
	b->n_addrs = 2;
	a->deny = deny;
	a->n_deny = sizeof(deny) / sizeof(deny[0]);
	if (pair_start(a, b) || connect_pair(a, b, true) || exchange(a, b))
		return 1;
	printf("# a refused %d of b's candidates\n", a->n_cand_eperm);
	return a->n_cand_eperm < 1 || b->n_cand_eperm;
}

int test_pc_deny_still_connects(void)
{
	return with_pair(deny_connects);
}

