/* webrtc/dtls_end.c against OpenSSL's own DTLS: once a side keeps only the
 * record keys, its close_notify must be one OpenSSL accepts, and an alert
 * OpenSSL sends must pass its check while a changed byte fails it. Two
 * tnd_dtls (client and server) shake hands by handing datagrams across. */
#include <errno.h>
#include <string.h>

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
