/* struct tnd_pc and struct tnd_rtpsock on real sockets over 127.0.0.1.
 *
 * Two pcs run on two worker loops, each on its own thread, as in the
 * gateway. The test thread drives them only through jobs queued with
 * tnd_loop_call() and waits on a condition variable for what the handlers
 * record (under `pair_mu`). Candidates, ICE credentials and fingerprints travel
 * through the public API only. Every test leaves no object alive. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include <openssl/err.h>

#include "gateway/base/obj.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "tests/unit/test_webrtc_pair.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"   /* tnd_pc_input */

GMutex pair_mu;
GCond pair_cond;

struct job {
	struct tnd_obj obj;
	tnd_test_step_h *fn;
	void *ctx;
	bool has_str;
	char str[512];
	bool *done;                  /* LOCK: pair_mu; set for a synchronous job */
	int *rc;
};

static void job_run(void *obj)
{
	struct job *j = obj;
	int rc = j->fn(j->ctx, j->has_str ? j->str : NULL);

	if (!j->done)
		return;
	g_mutex_lock(&pair_mu);
	*j->rc = rc;
	*j->done = true;
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
}

int post(struct tnd_loop *l, tnd_test_step_h *fn, void *ctx, const char *str,
		bool *done, int *rc)
{
	struct job *j = tnd_obj_zalloc(sizeof(*j), NULL);
	int err;

	if (!j)
		return ENOMEM;
	j->fn = fn;
	j->ctx = ctx;
	j->done = done;
	j->rc = rc;
	if (str) {
		j->has_str = true;
		snprintf(j->str, sizeof(j->str), "%s", str);
	}
	err = tnd_loop_call(l, job_run, j);
	tnd_obj_put(j);
	return err;
}

int tnd_test_run_on(struct tnd_loop *l, tnd_test_step_h *fn, void *ctx)
{
	gint64 end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	bool done = false;
	int rc = -1;

	if (post(l, fn, ctx, NULL, &done, &rc))
		return -1;
	g_mutex_lock(&pair_mu);
	while (!done && g_cond_wait_until(&pair_cond, &pair_mu, end))
		;
	if (!done)
		rc = -1;
	g_mutex_unlock(&pair_mu);
	return rc;
}

bool wait_until(pred_h *pred, struct side *a, struct side *b, int ms)
{
	gint64 end = g_get_monotonic_time() + ms * 1000LL;
	bool ok;

	g_mutex_lock(&pair_mu);
	while (!(ok = pred(a, b)) && g_cond_wait_until(&pair_cond, &pair_mu, end))
		;
	g_mutex_unlock(&pair_mu);
	return ok;
}

bool tnd_test_wait_live(long live, int ms)
{
	gint64 end = g_get_monotonic_time() + ms * 1000LL;

	while (tnd_obj_live() != live && g_get_monotonic_time() < end)
		g_usleep(2000);
	return tnd_obj_live() == live;
}

/* ------------------------------------------------------------ pc handlers */

static int add_cand(void *ctx, const char *cand)
{
	struct side *s = ctx;
	int err;

	if (!s->pc)
		return 0;   /* released already: a late trickle */
	err = tnd_pc_add_remote_candidate(s->pc, cand);
	if (err == EPERM) {
		g_mutex_lock(&pair_mu);
		s->n_cand_eperm++;
		g_mutex_unlock(&pair_mu);
	} else if (err) {
		printf("# %s: candidate %s: error %d\n", s->name, cand ? cand : "(end)", err);
	}
	return err;
}

void on_cand(void *arg, const char *cand)
{
	struct side *s = arg;

	g_mutex_lock(&pair_mu);
	if (cand && !s->n_cands++)
		snprintf(s->first_cand, sizeof(s->first_cand), "%s", cand);
	else if (!cand)
		s->gathered = true;
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
	/* trickle to the peer's worker */
	post(s->peer->loop, add_cand, s->peer, cand, NULL, NULL);
}

void on_state(void *arg, enum tnd_pc_state st)
{
	struct side *s = arg;

	g_mutex_lock(&pair_mu);
	s->state = st;
	s->err = tnd_pc_error(s->pc);
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
}

static void on_media(struct side *s, const uint8_t *pkt, size_t len, bool rtcp)
{
	g_mutex_lock(&pair_mu);
	if (rtcp) {
		s->n_rtcp++;
	} else {
		if (s->n_rtp < NRX) {
			memcpy(s->rx[s->n_rtp], pkt, len);
			s->rx_len[s->n_rtp] = len;
		}
		s->n_rtp++;
	}
	g_cond_broadcast(&pair_cond);
	g_mutex_unlock(&pair_mu);
}

static void on_rtp(void *arg, uint8_t *pkt, size_t len)
{
	on_media(arg, pkt, len, false);
}

static void on_rtcp(void *arg, uint8_t *pkt, size_t len)
{
	on_media(arg, pkt, len, true);
}

/* ------------------------------------------------------------ pc steps */

int do_alloc(void *ctx, const char *unused)
{
	static const char *const addrs[] = { "127.0.0.1" };
	struct side *s = ctx;
	const struct tnd_pc_conf conf = {
		.local_addrs = s->addrs ? s->addrs : addrs, .n_local_addrs = s->addrs ? s->n_addrs : 1,
		.port_min = s->port_min, .port_max = s->port_max,
		.consent_interval_ms = s->consent_ms, .consent_timeout_ms = s->consent_timeout_ms,
		.cand_deny = s->deny, .n_cand_deny = s->n_deny,
	};
	const struct tnd_pc_handlers h = {
		.candidate = on_cand, .state = on_state, .rtp = on_rtp, .rtcp = on_rtcp,
	};
	int err;

	(void)unused;
	err = tnd_pc_alloc(&s->pc, s->loop, &conf, s->controlling, &h, s);
	if (!err)
		err = tnd_pc_local_ice(s->pc, s->ufrag, sizeof(s->ufrag), s->pwd, sizeof(s->pwd));
	return err;
}

int do_gather(void *ctx, const char *unused)
{
	(void)unused;
	return tnd_pc_gather(((struct side *)ctx)->pc);
}

static int do_remote(void *ctx, const char *unused)
{
	struct side *s = ctx;

	(void)unused;
	return tnd_pc_set_remote(s->pc, s->peer->ufrag, s->peer->pwd, s->fp, s->role);
}

static int do_release(void *ctx, const char *unused)
{
	struct side *s = ctx;

	(void)unused;
	s->pc = tnd_obj_put(s->pc);
	return 0;
}

int do_stats(void *ctx, const char *unused)
{
	struct side *s = ctx;

	(void)unused;
	tnd_pc_stats(s->pc, &s->st);
	return 0;
}

static int do_close(void *ctx, const char *unused)
{
	(void)unused;
	tnd_pc_close(((struct side *)ctx)->pc);
	return 0;
}

/* Sequence numbers of the next exchange start here (SRTP refuses replays) */
static uint16_t seq_base = 1000;

/* Packet i from a side: sizes, CSRCs, extensions and padding vary. */
static size_t make_pkt(uint8_t *b, int i, uint32_t ssrc)
{
	size_t n = 12, pay = 20 + (size_t)(i * 97) % 1100;

	b[0] = 0x80;
	b[1] = (uint8_t)(i == 0 ? 0x80 | 111 : 111);
	tnd_rtp_set_seq(b, (uint16_t)(seq_base + i));
	tnd_rtp_set_ts(b, 960u * (unsigned)i);
	tnd_rtp_set_ssrc(b, ssrc);
	if (i % 3 == 1) {            /* two CSRCs */
		b[0] |= 2;
		tnd_rtp_wr32(b + n, 0xc0000001);
		tnd_rtp_wr32(b + n + 4, 0xc0000002);
		n += 8;
	}
	if (i % 4 == 2) {            /* one-byte header extension, audio level */
		b[0] |= 0x10;
		memcpy(b + n, "\xbe\xde\x00\x01\x10\x7f\x00\x00", 8);
		n += 8;
	}
	for (size_t k = 0; k < pay; k++)
		b[n + k] = (uint8_t)(k * 31 + (size_t)i);
	n += pay;
	if (i % 5 == 4) {            /* 3 bytes of padding */
		b[0] |= 0x20;
		b[n] = b[n + 1] = 0;
		b[n + 2] = 3;
		n += 3;
	}
	return n;
}

static int do_send(void *ctx, const char *unused)
{
	struct side *s = ctx;
	uint8_t ref[TND_PC_MAX_PACKET];
	static const uint8_t rr[8] = { 0x80, TND_RTCP_RR, 0, 1, 1, 2, 3, 4 };

	(void)unused;
	for (int i = 0; i < NPKT; i++) {
		size_t len = make_pkt(ref, i, s->controlling ? 0xaaaa : 0xbbbb);
		/* exactly the room the header promises: ASan sees any overrun */
		uint8_t *buf = malloc(len + TND_PC_SRTP_OVERHEAD);
		int err;

		if (!buf)
			return ENOMEM;
		memcpy(buf, ref, len);
		err = tnd_pc_send_rtp(s->pc, buf, len, len + TND_PC_SRTP_OVERHEAD);
		free(buf);
		if (err)
			return err;
	}
	memcpy(ref, rr, sizeof(rr));
	return tnd_pc_send_rtcp(s->pc, ref, sizeof(rr), sizeof(ref));
}

static int do_send_errors(void *ctx, const char *unused)
{
	struct side *s = ctx;
	uint8_t b[TND_PC_MAX_PACKET + TND_PC_SRTP_OVERHEAD];
	size_t len = make_pkt(b, 0, 1);

	(void)unused;
	if (tnd_pc_send_rtp(s->pc, b, len, len + 4) != ENOSPC)
		return 1;
	memset(b, 0, 13);
	b[0] = 22;   /* a DTLS record */
	if (tnd_pc_send_rtp(s->pc, b, 13, sizeof(b)) != EBADMSG)
		return 2;
	len = make_pkt(b, 0, 1);
	if (tnd_pc_send_rtcp(s->pc, b, len, sizeof(b)) != EBADMSG)   /* RTP as RTCP */
		return 3;
	return 0;
}

/* ------------------------------------------------------------ pairs */

void pair_init(struct side *a, struct side *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->name = "a";
	b->name = "b";
	a->peer = b;
	b->peer = a;
	a->controlling = true;
	a->role = TND_DTLS_ACTIVE;
	b->role = TND_DTLS_PASSIVE;
	snprintf(a->fp, sizeof(a->fp), "%s", tnd_webrtc_fingerprint());
	snprintf(b->fp, sizeof(b->fp), "%s", tnd_webrtc_fingerprint());
}

int pair_start(struct side *a, struct side *b)
{
	if (tnd_loop_alloc(&a->loop, "w0", 1) || tnd_loop_alloc(&b->loop, "w1", 1))
		return 1;
	if (tnd_loop_thread_start(a->loop) || tnd_loop_thread_start(b->loop))
		return 1;
	if (tnd_test_run_on(a->loop, do_alloc, a) || tnd_test_run_on(b->loop, do_alloc, b))
		return 1;
	return 0;
}

static void pair_stop(struct side *a, struct side *b, long live)
{
	if (a->loop)
		tnd_test_run_on(a->loop, do_release, a);
	if (b->loop)
		tnd_test_run_on(b->loop, do_release, b);
	/* late trickle jobs still hold references for a moment */
	tnd_test_wait_live(live, 2000);
	tnd_loop_free(a->loop);
	tnd_loop_free(b->loop);
}

static bool both_connected(struct side *a, struct side *b)
{
	return a->state == TND_PC_CONNECTED && b->state == TND_PC_CONNECTED;
}

static bool both_failed(struct side *a, struct side *b)
{
	return a->state == TND_PC_FAILED && b->state == TND_PC_FAILED;
}

static bool both_received(struct side *a, struct side *b)
{
	return a->n_rtp >= NPKT && b->n_rtp >= NPKT && a->n_rtcp >= 1 && b->n_rtcp >= 1;
}

static bool b_closed(struct side *a, struct side *b)
{
	(void)a;
	return b->state == TND_PC_CLOSED;
}

/* Checks what `to` received from `from`, byte for byte. */
static int check_rx(struct side *to, struct side *from)
{
	uint8_t want[TND_PC_MAX_PACKET];

	for (int i = 0; i < NPKT; i++) {
		size_t len = make_pkt(want, i, from->controlling ? 0xaaaa : 0xbbbb);

		if (to->rx_len[i] != len || memcmp(to->rx[i], want, len)) {
			printf("# %s: packet %d differs (%zu bytes, wanted %zu)\n", to->name, i,
			       to->rx_len[i], len);
			return 1;
		}
	}
	return 0;
}

int set_remotes(struct side *a, struct side *b)
{
	return tnd_test_run_on(a->loop, do_remote, a) || tnd_test_run_on(b->loop, do_remote, b);
}

/* Connects a pair: set_remote before or after gathering. */
int connect_pair(struct side *a, struct side *b, bool remote_first)
{
	if (remote_first && set_remotes(a, b))
		return 1;
	if (tnd_test_run_on(a->loop, do_gather, a) || tnd_test_run_on(b->loop, do_gather, b))
		return 1;
	if (!remote_first && set_remotes(a, b))
		return 1;
	return 0;
}

int exchange(struct side *a, struct side *b)
{
	TEST_ASSERT(wait_until(both_connected, a, b, WAIT_MS));
	TEST_ASSERT(tnd_test_run_on(a->loop, do_send, a) == 0);
	TEST_ASSERT(tnd_test_run_on(b->loop, do_send, b) == 0);
	TEST_ASSERT(wait_until(both_received, a, b, WAIT_MS));
	TEST_ASSERT(check_rx(a, b) == 0 && check_rx(b, a) == 0);
	TEST_ASSERT(a->n_rtp == NPKT && b->n_rtp == NPKT);
	return 0;
}

/* The port of "candidate:f c udp prio addr PORT typ ..." within [lo, hi] */
static bool port_in(const char *cand, int lo, int hi)
{
	int port;

	if (sscanf(cand, "candidate:%*s %*s %*s %*s %*s %d", &port) != 1)
		return false;
	return port >= lo && port <= hi;
}

/* Runs `body` on a fresh pair (pair_init done; the body starts it and
 * returns 0 on success), then stops the pair and waits for every object to
 * be gone, whatever the body returned. */
int with_pair(pair_body_h *body)
{
	long live = tnd_obj_live();
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	int rc = 1;

	if (a && b) {
		pair_init(a, b);
		rc = body(a, b);
		seq_base = 1000;
		pair_stop(a, b, live);
	}
	free(a);
	free(b);
	return rc;
}

/* Runs `body` with one side on a worker of its own (its peer made and
 * initialised but not started), then waits for every object to be gone. */
int with_side(side_body_h *body)
{
	long live = tnd_obj_live();
	struct side *s = calloc(1, sizeof(*s)), *peer = calloc(1, sizeof(*peer));
	int rc = 1;

	if (s && peer) {
		pair_init(s, peer);
		if (!tnd_loop_alloc(&s->loop, "w0", 1) && !tnd_loop_thread_start(s->loop))
			rc = body(s);
		tnd_test_wait_live(live, 2000);
		tnd_loop_free(s->loop);
	}
	free(s);
	free(peer);
	return rc;
}

static int dtls_srtp(struct side *a, struct side *b)
{
	a->port_min = 42000;
	a->port_max = 42009;
	if (pair_start(a, b) || connect_pair(a, b, true))
		return 1;
	if (exchange(a, b))
		return 1;
	if (!port_in(a->first_cand, 42000, 42009)) {
		printf("# candidate outside the port range: %s\n", a->first_cand);
		return 1;
	}
	if (tnd_test_run_on(a->loop, do_stats, a) || tnd_test_run_on(b->loop, do_stats, b))
		return 1;
	printf("# CONNECTED %.1f ms after set_remote (ICE %.1f ms), %s\n",
	       (double)(a->st.t_connected_us - a->st.t_remote_us) / 1000,
	       (double)(a->st.t_ice_us - a->st.t_remote_us) / 1000, a->st.srtp_profile);
	if (strcmp(a->st.srtp_profile, "AEAD_AES_128_GCM") || a->st.rtp_in != NPKT ||
	    a->st.rtp_out != NPKT || a->st.rtcp_in != 1 || b->st.rtcp_out != 1 ||
	    a->st.srtp_err_in || b->st.srtp_err_in || a->st.drop_early || b->st.drop_bad_rtp ||
	    a->st.dtls_state != TND_PC_DTLS_DONE || a->n_cands < 1 || !a->gathered) {
		printf("# unexpected counters\n");
		return 1;
	}
	if (tnd_test_run_on(a->loop, do_send_errors, a) != 0)
		return 1;
	/* both heard the other's SRTP: the DTLS state is gone on both sides */
	if (!a->st.dtls_released || !b->st.dtls_released) {
		printf("# DTLS state kept after the peer's SRTP\n");
		return 1;
	}
	/* hang-up: close_notify, made from the kept record keys, reaches b as
	 * CLOSED; a sends no more */
	if (tnd_test_run_on(a->loop, do_close, a) || !wait_until(b_closed, a, b, WAIT_MS)) {
		tnd_test_run_on(b->loop, do_stats, b);
		printf("# b not CLOSED: state %d, dtls drops %llu, direct %d\n", b->state,
		       (unsigned long long)b->st.drop_dtls, b->st.direct);
		return 1;
	}
	if (tnd_test_run_on(a->loop, do_send, a) != ENOTCONN)
		return 1;
	return 0;
}

int test_pc_dtls_srtp(void)
{
	return with_pair(dtls_srtp);
}

static int trickle_before_remote(struct side *a, struct side *b)
{
	/* the controlling side is the DTLS server this time */
	a->role = TND_DTLS_PASSIVE;
	b->role = TND_DTLS_ACTIVE;
	if (pair_start(a, b) || connect_pair(a, b, false))
		return 1;
	return exchange(a, b);
}

int test_pc_trickle_before_remote(void)
{
	return with_pair(trickle_before_remote);
}

static bool a_failed(struct side *a, struct side *b)
{
	(void)b;
	return a->state == TND_PC_FAILED;
}

/* Both sides' stats until both own their sockets (libnice let go). */
static bool wait_direct(struct side *a, struct side *b)
{
	for (int i = 0; i < 250; i++) {
		if (tnd_test_run_on(a->loop, do_stats, a) || tnd_test_run_on(b->loop, do_stats, b))
			return false;
		if (a->st.direct && b->st.direct)
			return true;
		g_usleep(20000);
	}
	return false;
}

/* After ICE and DTLS both pcs take the selected socket from libnice: media
 * keeps flowing, each answers the other's consent checks, and a peer that
 * vanishes (freed without close_notify, its socket closed) fails the other
 * side with ETIMEDOUT once consent runs out. */
static int direct_consent(struct side *a, struct side *b)
{
	int64_t t0;

	a->consent_ms = b->consent_ms = 150;
	a->consent_timeout_ms = b->consent_timeout_ms = 1200;
	if (pair_start(a, b) || connect_pair(a, b, true) || exchange(a, b))
		return 1;
	if (!wait_direct(a, b)) {
		printf("# no hand-over from libnice\n");
		return 1;
	}
	g_mutex_lock(&pair_mu);
	a->n_rtp = a->n_rtcp = b->n_rtp = b->n_rtcp = 0;
	g_mutex_unlock(&pair_mu);
	seq_base = 2000;
	/* on the taken-over sockets, byte for byte */
	if (exchange(a, b)) {
		tnd_test_run_on(a->loop, do_stats, a);
		tnd_test_run_on(b->loop, do_stats, b);
		printf("# a: out %llu in %llu foreign %llu srtp %llu early %llu; b: out %llu in %llu foreign %llu srtp %llu\n",
		       (unsigned long long)a->st.rtp_out, (unsigned long long)a->st.rtp_in,
		       (unsigned long long)a->st.drop_foreign, (unsigned long long)a->st.srtp_err_in,
		       (unsigned long long)a->st.drop_early,
		       (unsigned long long)b->st.rtp_out, (unsigned long long)b->st.rtp_in,
		       (unsigned long long)b->st.drop_foreign, (unsigned long long)b->st.srtp_err_in);
		return 1;
	}
	/* longer than the timeout: consent kept by the answers */
	g_usleep(1500000);
	if (tnd_test_run_on(a->loop, do_stats, a) || tnd_test_run_on(b->loop, do_stats, b))
		return 1;
	printf("# a: consent sent %llu ok %llu, answered %llu; b: sent %llu ok %llu, answered %llu\n",
	       (unsigned long long)a->st.consent_sent, (unsigned long long)a->st.consent_ok,
	       (unsigned long long)a->st.stun_answered, (unsigned long long)b->st.consent_sent,
	       (unsigned long long)b->st.consent_ok, (unsigned long long)b->st.stun_answered);
	if (a->state != TND_PC_CONNECTED || b->state != TND_PC_CONNECTED ||
	    a->st.consent_ok < 5 || b->st.consent_ok < 5 || a->st.stun_answered < 5 ||
	    b->st.stun_answered < 5 || a->st.stun_refused || b->st.stun_refused ||
	    a->st.drop_foreign || b->st.drop_foreign) {
		printf("# unexpected consent counters\n");
		return 1;
	}
	/* b vanishes */
	t0 = g_get_monotonic_time();
	if (tnd_test_run_on(b->loop, do_release, b) || !wait_until(a_failed, a, b, 5000))
		return 1;
	printf("# consent lost after %.1f s\n", (double)(g_get_monotonic_time() - t0) / 1e6);
	if (a->err != ETIMEDOUT || g_get_monotonic_time() - t0 < 900000) {
		printf("# failed too early or for the wrong reason (%d)\n", a->err);
		return 1;
	}
	return 0;
}

int test_pc_direct_consent(void)
{
	return with_pair(direct_consent);
}

/* ------------------------------------------------------------ direct ICE */

static int do_restart(void *ctx, const char *unused)
{
	struct side *s = ctx;

	(void)unused;
	return tnd_pc_ice_restart(s->pc, s->rs_ufrag, sizeof(s->rs_ufrag), s->rs_pwd,
				  sizeof(s->rs_pwd));
}

static int do_remote_restart(void *ctx, const char *unused)
{
	struct side *s = ctx;

	(void)unused;
	return tnd_pc_ice_remote_restart(s->pc, s->peer->rs_ufrag, s->peer->rs_pwd);
}

static int direct_pair(struct side *a, struct side *b)
{
	a->consent_ms = b->consent_ms = 150;
	a->consent_timeout_ms = b->consent_timeout_ms = 3000;
	if (pair_start(a, b) || connect_pair(a, b, true) || exchange(a, b))
		return 1;
	if (!wait_direct(a, b)) {
		printf("# no hand-over from libnice\n");
		return 1;
	}
	return 0;
}

/* Media again, after what a test did to the pair */
static int exchange_again(struct side *a, struct side *b, uint16_t base)
{
	g_mutex_lock(&pair_mu);
	a->n_rtp = a->n_rtcp = b->n_rtp = b->n_rtcp = 0;
	g_mutex_unlock(&pair_mu);
	seq_base = base;
	return exchange(a, b);
}

/* H2 end to end: a's nominating check to b (what a browser sends; libnice's
 * STUN library makes it with a's real credentials), replayed from a third
 * socket, is answered and checked, but b's media stays with a. */
static int direct_replay(struct side *a, struct side *b)
{
	uint8_t req[600], in[600];
	char user[600];
	StunAgent agent;
	StunMessage msg;
	struct sockaddr_in to = { .sin_family = AF_INET }, me = { .sin_family = AF_INET };
	int port, fd = -1, answers = 0, checks = 0, rc = 1;
	size_t n;

	if (direct_pair(a, b))
		return 1;
	if (sscanf(b->first_cand, "candidate:%*s %*s %*s %*s %*s %d", &port) != 1)
		return 1;
	to.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
	stun_agent_init(&agent, NULL, STUN_COMPATIBILITY_RFC5389,
			STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
	snprintf(user, sizeof(user), "%s:%s", b->ufrag, a->ufrag);
	n = stun_usage_ice_conncheck_create(&agent, &msg, req, sizeof(req), (const uint8_t *)user,
					    strlen(user), (const uint8_t *)b->pwd, strlen(b->pwd),
					    true, true, 0x6e0001ff, 42, NULL,
					    STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (!n || fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)))
		goto out;
	for (int i = 0; i < 3; i++)
		if (sendto(fd, req, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n)
			goto out;
	/* what b sends the replayer during a second: answers and checks */
	for (gint64 end = g_get_monotonic_time() + 1000000; g_get_monotonic_time() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 100) != 1)
			continue;
		k = recv(fd, in, sizeof(in), 0);
		if (k >= 20 && in[0] == 0x01 && in[1] == 0x01)
			answers++;
		else if (k >= 20 && in[0] == 0x00 && in[1] == 0x01)
			checks++;
	}
	if (tnd_test_run_on(b->loop, do_stats, b))
		goto out;
	printf("# replayer got %d answers, %d checks; b: switches %llu, triggered %llu\n", answers,
	       checks, (unsigned long long)b->st.ice_switches,
	       (unsigned long long)b->st.ice_triggered);
	if (answers < 1 || checks < 1 || b->st.ice_switches || !b->st.ice_triggered)
		goto out;
	/* b's media still reaches a, and a's b */
	rc = exchange_again(a, b, 3000);
 out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int test_pc_direct_replay(void)
{
	return with_pair(direct_replay);
}

static bool both_restarted(struct side *a, struct side *b)
{
	return a->st.ice_restarts == 1 && b->st.ice_restarts == 1;
}

/* M4: an ICE restart after the hand-over, on both pcs: new credentials
 * both ways, the call stays up, consent continues with the new sets only
 * for longer than the timeout, and media flows. Before the hand-over the
 * API says EALREADY. */
static int direct_restart(struct side *a, struct side *b)
{
	a->consent_ms = b->consent_ms = 150;
	a->consent_timeout_ms = b->consent_timeout_ms = 3000;
	if (pair_start(a, b))
		return 1;
	/* still on libnice: not ours to restart */
	if (tnd_test_run_on(a->loop, do_restart, a) != EALREADY ||
	    tnd_test_run_on(a->loop, do_remote_restart, a) != EALREADY)
		return 1;
	if (connect_pair(a, b, true) || exchange(a, b))
		return 1;
	if (!wait_direct(a, b)) {
		printf("# no hand-over from libnice\n");
		return 1;
	}
	if (tnd_test_run_on(a->loop, do_restart, a) || tnd_test_run_on(b->loop, do_restart, b) ||
	    !strcmp(a->rs_ufrag, a->ufrag) || strlen(a->rs_pwd) < 22)
		return 1;
	if (tnd_test_run_on(a->loop, do_remote_restart, a) ||
	    tnd_test_run_on(b->loop, do_remote_restart, b))
		return 1;
	for (int i = 0; i < 100; i++) {
		if (tnd_test_run_on(a->loop, do_stats, a) || tnd_test_run_on(b->loop, do_stats, b))
			return 1;
		if (both_restarted(a, b))
			break;
		g_usleep(20000);
	}
	if (!both_restarted(a, b)) {
		printf("# restarts %llu %llu\n", (unsigned long long)a->st.ice_restarts,
		       (unsigned long long)b->st.ice_restarts);
		return 1;
	}
	/* longer than the consent timeout on the new credentials alone */
	g_usleep(3500000);
	if (tnd_test_run_on(a->loop, do_stats, a) || tnd_test_run_on(b->loop, do_stats, b))
		return 1;
	if (a->state != TND_PC_CONNECTED || b->state != TND_PC_CONNECTED ||
	    a->st.ice_switches || b->st.ice_switches)
		return 1;
	return exchange_again(a, b, 4000);
}

int test_pc_direct_restart(void)
{
	return with_pair(direct_restart);
}

/* Before any media the DTLS state is still there: a's hang-up reaches b as
 * close_notify, and b becomes CLOSED. */
static int close_notify_before_media(struct side *a, struct side *b)
{
	if (pair_start(a, b) || connect_pair(a, b, true))
		return 1;
	return wait_until(both_connected, a, b, WAIT_MS) && !tnd_test_run_on(a->loop, do_close, a) &&
	       wait_until(b_closed, a, b, WAIT_MS) ? 0 : 1;
}

int test_pc_close_notify_before_media(void)
{
	return with_pair(close_notify_before_media);
}

/* One side is told a fingerprint off by one bit. */
static bool server_checks_arg;

static int mismatch_body(struct side *a, struct side *b)
{
	struct side *wrong = server_checks_arg ? b : a;

	wrong->fp[8] = wrong->fp[8] == '0' ? '1' : '0';
	if (pair_start(a, b) || connect_pair(a, b, true))
		return 1;
	if (!wait_until(both_failed, a, b, WAIT_MS)) {
		printf("# states %d %d\n", a->state, b->state);
		return 1;
	}
	if (wrong->err != EPERM || wrong->peer->err != EPROTO) {
		printf("# errors %d %d\n", wrong->err, wrong->peer->err);
		return 1;
	}
	return a->n_rtp || b->n_rtp;
}

static int mismatch(bool server_checks)
{
	server_checks_arg = server_checks;
	return with_pair(mismatch_body);
}

int test_pc_wrong_fingerprint(void)
{
	TEST_ASSERT(mismatch(true) == 0);
	TEST_ASSERT(mismatch(false) == 0);
	return 0;
}


/* Argument checks of tnd_pc_alloc, on the worker. */
static int api_alloc(struct side *s)
{
	static const char *const bad_addr[] = { "not-an-ip" };
	struct tnd_pc_conf conf = { .local_addrs = bad_addr, .n_local_addrs = 1 };
	const struct tnd_pc_handlers h = { .state = on_state };
	const struct tnd_pc_handlers no_state = { .candidate = on_cand };
	struct tnd_pc *pc = NULL;

	if (tnd_pc_alloc(&pc, s->loop, &conf, true, &h, s) != EINVAL || pc)
		return 1;
	conf.n_local_addrs = 0;
	if (tnd_pc_alloc(&pc, s->loop, &conf, true, &no_state, s) != EINVAL ||
	    tnd_pc_alloc(NULL, s->loop, &conf, true, &h, s) != EINVAL ||
	    tnd_pc_alloc(&pc, NULL, &conf, true, &h, s) != EINVAL)
		return 2;
	conf.stun_server = "127.0.0.1";   /* no port */
	if (tnd_pc_alloc(&pc, s->loop, &conf, true, &h, s) != EINVAL)
		return 3;
	return 0;
}

static int api_candidates(struct side *s)
{
	static const struct {
		const char *cand;
		int err;
	} cases[] = {
		{ "garbage", EBADMSG },
		{ "candidate:1 1 udp 1 127.0.0.1 x typ host", EBADMSG },      /* port */
		{ "candidate:1 1 udp 1 127.0.0.1 5000 host", EBADMSG },       /* no typ */
		{ "candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype active", ENOTSUP },
		{ "candidate:1 1 udp 1 5e1c1a2b-77aa.local 5000 typ host", ENOTSUP },
		{ "candidate:1 2 udp 1 127.0.0.1 5001 typ host", ENOTSUP },   /* RTCP */
		/* kept until gathering and the remote parameters; "a=" optional */
		{ "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tnd_pc_add_remote_candidate(s->pc, cases[i].cand) != cases[i].err) {
			printf("# %s\n", cases[i].cand);
			return 1;
		}
	return 0;
}

static int do_api(void *ctx, const char *unused)
{
	struct side *s = ctx;
	char u[4], p[8];
	uint8_t pkt[64];
	int err;

	(void)unused;
	err = api_alloc(s);
	if (err)
		return err;
	if (do_alloc(s, NULL) || tnd_pc_local_ice(s->pc, u, sizeof(u), p, sizeof(p)) != ENOSPC)
		return 4;
	if (tnd_pc_set_remote(s->pc, "a b", PWD, s->fp, TND_DTLS_ACTIVE) != EINVAL ||
	    tnd_pc_set_remote(s->pc, "abcd", "", s->fp, TND_DTLS_ACTIVE) != EINVAL ||
	    tnd_pc_set_remote(s->pc, "abcd", PWD, "sha-256 00", TND_DTLS_ACTIVE) != EBADMSG ||
	    tnd_pc_set_remote(s->pc, "abcd", PWD, s->fp, (enum tnd_dtls_role)7) != EINVAL)
		return 5;
	if (api_candidates(s))
		return 6;
	make_pkt(pkt, 0, 1);
	if (tnd_pc_send_rtp(s->pc, pkt, 40, sizeof(pkt)) != ENOTCONN)
		return 8;
	if (tnd_pc_gather(s->pc) || tnd_pc_gather(s->pc) != EALREADY)
		return 9;
	if (tnd_pc_set_remote(s->pc, "abcd", PWD, s->fp, TND_DTLS_ACTIVE) ||
	    tnd_pc_set_remote(s->pc, "abcd", PWD, s->fp, TND_DTLS_ACTIVE) != EALREADY)
		return 10;
	if (tnd_pc_add_remote_candidate(s->pc, NULL) ||
	    tnd_pc_add_remote_candidate(s->pc, NULL) != EALREADY ||
	    tnd_pc_add_remote_candidate(s->pc, HOST9) != EALREADY)
		return 11;
	if (tnd_pc_state(s->pc) == TND_PC_CONNECTED)
		return 12;
	s->pc = tnd_obj_put(s->pc);
	return 0;
}

/* What reaches a pc before DTLS is done: RTP and RTCP dropped and counted,
 * other bytes counted by RFC 7983 class. libnice passes data up only on a
 * working pair, so the datagrams go in where libnice would hand them over. */
static int do_inject(void *ctx, const char *unused)
{
	static const uint8_t rtp[20] = { 0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
	static const uint8_t rtcp[8] = { 0x80, TND_RTCP_RR, 0, 1, 0, 0, 0, 1 };
	static const uint8_t not_stun[24] = { 0x01, 0x01, 0x00, 0x04, 1, 2, 3, 4 };
	static const uint8_t other[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t stun[20] = { 0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
	/* DTLS before the remote's parameters: kept for later, not counted */
	static const uint8_t dtls[13] = { 22, 0xfe, 0xfd };
	struct side *s = ctx;

	(void)unused;
	tnd_pc_input(s->pc, rtp, sizeof(rtp));
	tnd_pc_input(s->pc, rtcp, sizeof(rtcp));
	tnd_pc_input(s->pc, not_stun, sizeof(not_stun));
	tnd_pc_input(s->pc, stun, sizeof(stun));
	tnd_pc_input(s->pc, other, sizeof(other));
	tnd_pc_input(s->pc, other, 0);
	tnd_pc_input(s->pc, dtls, sizeof(dtls));
	tnd_pc_stats(s->pc, &s->st);
	return 0;
}

static int garbage_body(struct side *s)
{
	int rc = 1;

	if (tnd_test_run_on(s->loop, do_alloc, s) || tnd_test_run_on(s->loop, do_gather, s))
		return 1;
	if (tnd_test_run_on(s->loop, do_inject, s) == 0) {
		printf("# early %llu, other %llu, stun %llu, bad stun %llu, dtls %llu\n",
		       (unsigned long long)s->st.drop_early, (unsigned long long)s->st.drop_other,
		       (unsigned long long)s->st.drop_stun, (unsigned long long)s->st.drop_bad_stun,
		       (unsigned long long)s->st.drop_dtls);
		rc = !(s->st.drop_early == 2 && s->st.drop_other == 2 && s->st.drop_stun == 1 &&
		       s->st.drop_bad_stun == 1 && s->st.drop_dtls == 0 && s->st.rtp_in == 0 &&
		       s->n_rtp == 0);
	}
	tnd_test_run_on(s->loop, do_release, s);
	return rc;
}

int test_pc_garbage_before_dtls(void)
{
	return with_side(garbage_body);
}

static int api_errors_body(struct side *s)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	const struct tnd_pc_handlers h = { .state = on_state };
	struct tnd_pc *pc = NULL;
	int rc;

	/* from a thread that does not run the worker */
	if (tnd_pc_alloc(&pc, s->loop, &conf, true, &h, s) != EINVAL || pc)
		return 1;
	rc = tnd_test_run_on(s->loop, do_api, s);
	if (rc)
		printf("# step %d\n", rc);
	return rc;
}

int test_pc_api_errors(void)
{
	return with_side(api_errors_body);
}

static int do_enomem(void *ctx, const char *unused)
{
	struct side *s = ctx;
	struct tnd_pc *pc = NULL;
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	const struct tnd_pc_handlers h = { .state = on_state };
	int err;

	(void)unused;
	tnd_obj_fail_after(1);
	err = tnd_pc_alloc(&pc, s->loop, &conf, true, &h, s);
	tnd_obj_fail_after(0);
	return err == ENOMEM && !pc ? 0 : 1;
}

int test_pc_alloc_enomem(void)
{
	struct side s;
	int rc;

	memset(&s, 0, sizeof(s));
	if (tnd_loop_alloc(&s.loop, "w0", 1) || tnd_loop_thread_start(s.loop))
		return 1;
	rc = tnd_test_run_on(s.loop, do_enomem, &s);
	tnd_loop_free(s.loop);
	return rc;
}

