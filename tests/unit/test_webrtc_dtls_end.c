/* webrtc/dtls_end.c against OpenSSL's own DTLS: once a side keeps only the
 * record keys, its close_notify must be one OpenSSL accepts, and an alert
 * OpenSSL sends must pass its check while a changed byte fails it. Two
 * tnd_dtls (client and server) shake hands by handing datagrams across.
 * And the shared DTLS context (cert.c) as a plain OpenSSL client finds
 * it: AES-GCM suites only, no renegotiation. */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>

#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define MAXQ 32

struct end {
	struct tnd_dtls *d;
	struct end *peer;
	uint8_t q[MAXQ][1500];        /* datagrams on their way to this side */
	size_t qlen[MAXQ];
	int nq;
	bool done, closed;
	int err;
	uint8_t last[1500];           /* the last datagram this side sent */
	size_t last_len;
};

static void on_send(void *arg, const uint8_t *buf, size_t len)
{
	struct end *e = arg, *to = e->peer;

	if (len <= sizeof(e->last)) {
		memcpy(e->last, buf, len);
		e->last_len = len;
	}
	if (to->nq < MAXQ && len <= sizeof(to->q[0])) {
		memcpy(to->q[to->nq], buf, len);
		to->qlen[to->nq++] = len;
	}
}

static void on_done(void *arg, int err, const struct tnd_srtp_keys *keys)
{
	struct end *e = arg;

	(void)keys;
	e->done = true;
	e->err = err;
}

static void on_closed(void *arg)
{
	((struct end *)arg)->closed = true;
}

static const struct tnd_dtls_handlers handlers = { on_send, on_done, on_closed };

/* Delivers queued datagrams both ways until none are left. */
static void pump(struct end *a, struct end *b)
{
	for (int round = 0; round < 50 && (a->nq || b->nq); round++) {
		struct end *sides[2] = { a, b };

		for (int k = 0; k < 2; k++) {
			struct end *e = sides[k];
			int n = e->nq;

			e->nq = 0;
			for (int i = 0; i < n; i++)
				tnd_dtls_input(e->d, e->q[i], e->qlen[i]);
		}
	}
}

static int handshake(GMainContext *ctx, struct end *c, struct end *s)
{
	struct tnd_fp fp;

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	c->peer = s;
	s->peer = c;
	/* one certificate per process: each side expects the same one */
	TEST_ASSERT(tnd_webrtc_fp_parse(tnd_webrtc_fingerprint(), &fp) == 0);
	TEST_ASSERT(tnd_dtls_alloc(&c->d, ctx, true, &fp, &handlers, c) == 0);
	TEST_ASSERT(tnd_dtls_alloc(&s->d, ctx, false, &fp, &handlers, s) == 0);
	tnd_dtls_start(c->d);
	pump(c, s);
	TEST_ASSERT(c->done && s->done && !c->err && !s->err);
	return 0;
}

int test_dtls_end_against_openssl(void)
{
	GMainContext *ctx = g_main_context_new();
	struct end *c = g_new0(struct end, 1), *s = g_new0(struct end, 1);
	struct tnd_dtls_end *ce = NULL, *se = NULL;
	uint8_t msg[64], bad[1500];
	size_t n;
	int rc = 1;

	/* 1: the client keeps only its keys; its close_notify reaches the
	 * server's OpenSSL as a close */
	if (handshake(ctx, c, s))
		goto out;
	if (tnd_dtls_export_end(c->d, &ce) != 0) {
		printf("# no keys from the client's SSL\n");
		goto out;
	}
	tnd_dtls_free(c->d);
	c->d = NULL;
	n = tnd_dtls_end_close_notify(ce, msg, sizeof(msg));
	if (!n || tnd_dtls_end_close_notify(ce, msg, sizeof(msg)) != 0) {
		printf("# close_notify not made exactly once\n");
		goto out;
	}
	/* a changed byte: OpenSSL drops it and stays open */
	memcpy(bad, msg, n);
	bad[n - 1] ^= 1;
	tnd_dtls_input(s->d, bad, n);
	if (s->closed) {
		printf("# OpenSSL closed on a forged alert\n");
		goto out;
	}
	tnd_dtls_input(s->d, msg, n);
	if (!s->closed) {
		printf("# OpenSSL did not take our close_notify\n");
		goto out;
	}
	tnd_dtls_free(s->d);
	s->d = NULL;
	tnd_dtls_end_free(ce);
	ce = NULL;

	/* 2: the server keeps only its keys; the client's OpenSSL closes */
	if (handshake(ctx, c, s) || tnd_dtls_export_end(s->d, &se) != 0)
		goto out;
	tnd_dtls_free(s->d);
	s->d = NULL;
	s->nq = 0;
	tnd_dtls_close(c->d);
	if (!c->last_len) {
		printf("# OpenSSL sent no close_notify\n");
		goto out;
	}
	memcpy(bad, c->last, c->last_len);
	bad[c->last_len - 3] ^= 0x40;
	if (tnd_dtls_end_input(se, bad, c->last_len) != EBADMSG ||
	    tnd_dtls_end_input(se, c->last, 12) != EBADMSG ||
	    tnd_dtls_end_input(se, c->last, c->last_len) != 0) {
		printf("# OpenSSL's close_notify not told from a forged one\n");
		goto out;
	}
	/* the server's own close_notify, under the server's key, is not one
	 * from the peer */
	n = tnd_dtls_end_close_notify(se, msg, sizeof(msg));
	if (!n || tnd_dtls_end_input(se, msg, n) != EBADMSG) {
		printf("# our own alert taken for the peer's\n");
		goto out;
	}
	rc = 0;
 out:
	tnd_dtls_end_free(ce);
	tnd_dtls_end_free(se);
	tnd_dtls_free(c->d);
	tnd_dtls_free(s->d);
	g_free(c);
	g_free(s);
	g_main_context_unref(ctx);
	return rc;
}

/* ------------------------------------------------------------ suites and renegotiation (L2) */

/* A plain OpenSSL DTLS peer offering only `ciphers`, with our certificate
 * (so the fingerprint checks pass), through memory BIOs. */
struct raw {
	SSL_CTX *ctx;   /* owned */
	SSL *ssl;       /* owned; owns both BIOs */
	BIO *in, *out;  /* borrowed */
	struct end box; /* what the tnd_dtls sends it */
};

static void raw_free(struct raw *r)
{
	SSL_free(r->ssl);
	SSL_CTX_free(r->ctx);
}

static int raw_new(struct raw *r, const char *ciphers, bool server)
{
	SSL_CTX *ours = tnd_webrtc_ssl_ctx();

	memset(r, 0, sizeof(*r));
	r->ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
	if (!r->ctx || SSL_CTX_set_cipher_list(r->ctx, ciphers) != 1 ||
	    SSL_CTX_set_min_proto_version(r->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(r->ctx, SSL_CTX_get0_certificate(ours)) != 1 ||
	    SSL_CTX_use_PrivateKey(r->ctx, SSL_CTX_get0_privatekey(ours)) != 1 ||
	    SSL_CTX_set_tlsext_use_srtp(r->ctx, "SRTP_AEAD_AES_128_GCM") != 0)
		return 1;
	SSL_CTX_set_options(r->ctx, SSL_OP_NO_QUERY_MTU);
	r->ssl = SSL_new(r->ctx);
	r->in = BIO_new(BIO_s_mem());
	r->out = BIO_new(BIO_s_mem());
	if (!r->ssl || !r->in || !r->out) {
		BIO_free(r->in);
		BIO_free(r->out);
		return 1;
	}
	SSL_set_bio(r->ssl, r->in, r->out);
	SSL_set_mtu(r->ssl, 1200);
	if (server)
		SSL_set_accept_state(r->ssl);
	else
		SSL_set_connect_state(r->ssl);
	return 0;
}

/* Runs the raw peer's handshake (or renegotiation) against our side `t`
 * until neither has anything to say. The raw peer's last
 * SSL_do_handshake. */
static int raw_pump(struct raw *r, struct end *t)
{
	int ret = 0;

	for (int round = 0; round < 20; round++) {
		uint8_t buf[8192];
		int n;

		ret = SSL_do_handshake(r->ssl);
		/* after the handshake only a read takes the peer's records,
		 * a renegotiation's included */
		if (ret == 1 && SSL_read(r->ssl, buf, sizeof(buf)) <= 0)
			ret = SSL_do_handshake(r->ssl);
		n = BIO_read(r->out, buf, sizeof(buf));
		for (int i = 0; i < r->box.nq; i++)
			BIO_write(r->in, r->box.q[i], (int)r->box.qlen[i]);
		if (n <= 0 && !r->box.nq)
			break;
		r->box.nq = 0;
		/* several of the peer's datagrams in one: records just follow */
		if (n > 0 && t->d)
			tnd_dtls_input(t->d, buf, (size_t)n);
	}
	ERR_clear_error();
	return ret;
}

/* One handshake of a raw peer offering `ciphers` with a tnd_dtls `t`
 * (the client when ours_client). */
static int raw_handshake(GMainContext *ctx, const char *ciphers, struct raw *r, struct end *t,
			 bool ours_client)
{
	struct tnd_fp fp;

	memset(t, 0, sizeof(*t));
	if (raw_new(r, ciphers, ours_client) ||
	    tnd_webrtc_fp_parse(tnd_webrtc_fingerprint(), &fp) ||
	    tnd_dtls_alloc(&t->d, ctx, ours_client, &fp, &handlers, t))
		return -1;
	t->peer = &r->box;
	if (ours_client)
		tnd_dtls_start(t->d);
	return raw_pump(r, t);
}

/* The DTLS context takes only ECDHE-ECDSA with AES-GCM, the suites whose
 * records dtls_end.c can read: a client offering only ChaCha20 or CBC
 * fails the handshake, one offering either GCM suite gets through, with
 * record keys dtls_end can take over. */
int test_dtls_suites(void)
{
	static const struct {
		const char *ciphers;
		bool ok;
	} cases[] = {
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", false },
		{ "ECDHE-ECDSA-AES128-SHA256", false },
		{ "ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA", false },
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", true },
		{ "ECDHE-ECDSA-AES256-GCM-SHA384", true },
	};
	GMainContext *ctx = g_main_context_new();
	struct end *s = g_new0(struct end, 1);
	int rc = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && !rc; i++) {
		struct raw r;
		struct tnd_dtls_end *e = NULL;
		int ret = raw_handshake(ctx, cases[i].ciphers, &r, s, false);
		bool ok = ret == 1 && s->done && !s->err;

		if (ok != cases[i].ok || (!ok && !(s->done && s->err == EPROTO)) ||
		    (ok && tnd_dtls_export_end(s->d, &e))) {
			printf("# %s: client %d, server done %d err %d\n", cases[i].ciphers, ret,
			       s->done, s->err);
			rc = 1;
		}
		tnd_dtls_end_free(e);
		tnd_dtls_free(s->d);
		s->d = NULL;
		raw_free(&r);
	}
	g_free(s);
	g_main_context_unref(ctx);
	return rc;
}

/* The raw peer asks for a renegotiation (a server with HelloRequest, a
 * client with a new ClientHello). 0 when it did not happen and our side
 * still has its epoch 1 keys or ended the association. */
static int renegotiate(GMainContext *ctx, struct end *t, bool ours_client)
{
	struct tnd_dtls_end *e = NULL;
	struct raw r;
	int rc = 1, ret;

	if (raw_handshake(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256", &r, t, ours_client) != 1 ||
	    t->err) {
		printf("# first handshake failed\n");
		goto out;
	}
	if (SSL_renegotiate(r.ssl) != 1) {
		printf("# the peer cannot ask\n");
		goto out;
	}
	ret = raw_pump(&r, t);
	if (ret == 1 && !SSL_renegotiate_pending(r.ssl)) {
		printf("# renegotiated with our %s\n", ours_client ? "client" : "server");
		goto out;
	}
	if (tnd_dtls_export_end(t->d, &e) && !(t->done && t->err == EPROTO)) {
		printf("# neither kept the keys nor ended (err %d)\n", t->err);
		goto out;
	}
	rc = 0;
 out:
	tnd_dtls_end_free(e);
	tnd_dtls_free(t->d);
	t->d = NULL;
	raw_free(&r);
	return rc;
}

/* A renegotiation would put the records under epoch 2's keys, where
 * dtls_end.c cannot follow: neither our client (a server's HelloRequest)
 * nor our server (OpenSSL 3 refuses client-initiated ones by default too)
 * takes part. */
int test_dtls_no_renegotiation(void)
{
	GMainContext *ctx = g_main_context_new();
	struct end *t = g_new0(struct end, 1);
	int rc = renegotiate(ctx, t, true) || renegotiate(ctx, t, false);

	g_free(t);
	g_main_context_unref(ctx);
	return rc;
}
