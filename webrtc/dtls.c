/* DTLS-SRTP handshake over ICE datagrams (RFC 5763, RFC 5764 section 4,
 * RFC 7714 section 12, RFC 8842).
 *
 * OpenSSL's DTLS_method reads and writes through a BIO of our own: a read
 * returns exactly the one datagram being fed (memory BIOs lose datagram
 * boundaries), a write sends one datagram through the pc. Retransmission is
 * OpenSSL's, timed by a GLib source on the worker's context and re-armed
 * after every step from DTLSv1_get_timeout(). The peer's certificate must
 * match the SDP fingerprint; no CA is involved. Keys come out with
 * SSL_export_keying_material("EXTRACTOR-dtls_srtp"). Worker thread only;
 * the BIO method is made once by tnd_webrtc_init(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "gateway/base/log.h"
#include "webrtc/webrtc_int.h"

#define DTLS_MTU 1200          /* fits any path WebRTC uses (RFC 8831 5) */
#define DTLS_FIRST_TIMER_US 400000
#define DTLS_MAX_TIMER_US 3000000

/* Single owner: the pc. OWNER: worker (every field) */
struct tnd_dtls {
	SSL *ssl;                  /* owned; owns the BIO */
	GMainContext *ctx;         /* borrowed: the worker's */
	GSource *timer;            /* owned: retransmission */
	struct tnd_fp fp;          /* the peer's, from SDP */
	struct tnd_dtls_handlers h;
	void *arg;                 /* borrowed: the pc */
	bool client, started, done, ended;
	bool fp_checked, fp_ok;
	const uint8_t *in;         /* borrowed: the datagram being fed, for bio_read */
	size_t in_len;
};

static BIO_METHOD *bio_meth;   /* made before workers start, then read-only */

static int bio_write(BIO *b, const char *data, int len)
{
	struct tnd_dtls *d = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	/* a datagram lost here is like one lost on the wire: DTLS resends */
	if (len > 0)
		d->h.send(d->arg, (const uint8_t *)data, (size_t)len);
	return len;
}

static int bio_read(BIO *b, char *out, int outl)
{
	struct tnd_dtls *d = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (!d->in_len || outl <= 0) {
		BIO_set_retry_read(b);
		return -1;
	}
	/* one datagram per read; a longer one is truncated, as by recvfrom */
	n = d->in_len < (size_t)outl ? d->in_len : (size_t)outl;
	memcpy(out, d->in, n);
	d->in_len = 0;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
		return DTLS_MTU;
	default:
		/* pending counts, peer addresses, MTU overhead: nothing to report */
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

int tnd_dtls_global_init(void)
{
	bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem-dtls");
	if (!bio_meth)
		return ENOMEM;
	if (!BIO_meth_set_write(bio_meth, bio_write) || !BIO_meth_set_read(bio_meth, bio_read) ||
	    !BIO_meth_set_ctrl(bio_meth, bio_ctrl) || !BIO_meth_set_create(bio_meth, bio_create))
		return EPROTO;
	return 0;
}

void tnd_dtls_global_deinit(void)
{
	BIO_meth_free(bio_meth);
	bio_meth = NULL;
}

static bool cert_matches(X509 *cert, const struct tnd_fp *fp)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (!fp->md || X509_digest(cert, fp->md, md, &n) != 1)
		return false;
	return n == fp->len && !CRYPTO_memcmp(md, fp->d, n);
}

int tnd_dtls_verify_cert(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tnd_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get0_cert(x);

	(void)arg;
	if (!d || !cert)
		return 0;
	d->fp_checked = true;
	d->fp_ok = cert_matches(cert, &d->fp);
	if (!d->fp_ok)
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
	return d->fp_ok;
}

/* OpenSSL's default starts at 1 s; on a lost first flight that is the whole
 * call set-up time again, so start shorter and cap the back-off. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
	(void)ssl;
	if (!prev_us)
		return DTLS_FIRST_TIMER_US;
	return prev_us >= DTLS_MAX_TIMER_US / 2 ? DTLS_MAX_TIMER_US : prev_us * 2;
}

static void stop_timer(struct tnd_dtls *d)
{
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
		d->timer = NULL;
	}
}

static gboolean on_timer(gpointer data);

static void arm_timer(struct tnd_dtls *d)
{
	struct timeval tv;
	guint ms;

	stop_timer(d);
	if (d->ended || DTLSv1_get_timeout(d->ssl, &tv) != 1)
		return;
	ms = (guint)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	d->timer = g_timeout_source_new(ms);
	g_source_set_callback(d->timer, on_timer, d, NULL);
	g_source_attach(d->timer, d->ctx);
}

static void fail(struct tnd_dtls *d, int err, const char *what)
{
	char buf[256] = "";
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	d->ended = true;
	stop_timer(d);
	TND_LOG_WARN(TND_LOG_WEBRTC, "DTLS %s %s: %s", d->client ? "client" : "server", what,
		     err == EPERM ? "certificate does not match the SDP fingerprint" : buf);
	d->h.done(d->arg, err, NULL);
}

/* Exports the SRTP master keys (RFC 5764 4.2): client key, server key,
 * client salt, server salt. */
static void handshake_done(struct tnd_dtls *d)
{
	const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
	X509 *peer = SSL_get0_peer_certificate(d->ssl);
	struct tnd_srtp_keys keys;
	uint8_t km[2 * TND_SRTP_MAX_KEY_SALT];
	size_t k = 16, s;

	/* the verify callback ran, but a resumed or odd handshake must not
	 * bypass it: check the certificate we ended up with once more */
	if (!peer || !cert_matches(peer, &d->fp)) {
		fail(d, EPERM, "handshake");
		return;
	}
	if (!prof || (prof->id != TND_SRTP_AES128_CM_SHA1_80 &&
		      prof->id != TND_SRTP_AEAD_AES_128_GCM)) {
		fail(d, EPROTO, "negotiated no SRTP profile");
		return;
	}
	s = prof->id == TND_SRTP_AEAD_AES_128_GCM ? 12 : 14;
	if (SSL_export_keying_material(d->ssl, km, 2 * (k + s), "EXTRACTOR-dtls_srtp", 19,
				       NULL, 0, 0) != 1) {
		fail(d, EPROTO, "key export");
		return;
	}
	memset(&keys, 0, sizeof(keys));
	keys.profile = (enum tnd_srtp_profile)prof->id;
	keys.key_len = k;
	keys.salt_len = s;
	memcpy(d->client ? keys.tx : keys.rx, km, k);
	memcpy(d->client ? keys.rx : keys.tx, km + k, k);
	memcpy((d->client ? keys.tx : keys.rx) + k, km + 2 * k, s);
	memcpy((d->client ? keys.rx : keys.tx) + k, km + 2 * k + s, s);
	OPENSSL_cleanse(km, sizeof(km));
	d->done = true;
	TND_LOG_DEBUG(TND_LOG_WEBRTC, "DTLS %s done, %s, %s", d->client ? "client" : "server",
		      SSL_get_cipher_name(d->ssl), prof->name);
	d->h.done(d->arg, 0, &keys);
	OPENSSL_cleanse(&keys, sizeof(keys));
}

/* After the handshake: alerts (close_notify) and retransmitted handshake
 * flights. Application data (SCTP for data channels) is not ours. Returns
 * true when some arrived. */
static bool read_records(struct tnd_dtls *d)
{
	uint8_t buf[2048];
	bool app = false;

	for (;;) {
		int r = SSL_read(d->ssl, buf, sizeof(buf));

		if (r > 0) {
			app = true;
			continue;
		}
		switch (SSL_get_error(d->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return app;
		case SSL_ERROR_ZERO_RETURN:
			d->ended = true;
			stop_timer(d);
			TND_LOG_INFO(TND_LOG_WEBRTC, "DTLS close_notify from the peer");
			d->h.closed(d->arg);
			return app;
		default:
			fail(d, EPROTO, "read");
			return app;
		}
	}
}

/* One step of the state machine after input, start or a timeout. The
 * handlers may run; `d` stays valid (the pc holds itself across them). */
static bool step(struct tnd_dtls *d)
{
	bool app = false;

	ERR_clear_error();
	if (!d->done) {
		int r = SSL_do_handshake(d->ssl);

		if (r == 1) {
			handshake_done(d);
		} else {
			int e = SSL_get_error(d->ssl, r);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				fail(d, d->fp_checked && !d->fp_ok ? EPERM : EPROTO, "handshake");
				return false;
			}
		}
	}
	if (d->done && !d->ended)
		app = read_records(d);
	arm_timer(d);
	return app;
}

static gboolean on_timer(gpointer data)
{
	struct tnd_dtls *d = data;

	/* this source ends with this call */
	g_source_unref(d->timer);
	d->timer = NULL;
	ERR_clear_error();
	if (DTLSv1_handle_timeout(d->ssl) < 0) {
		fail(d, EPROTO, "retransmission gave up");
		return G_SOURCE_REMOVE;
	}
	arm_timer(d);
	return G_SOURCE_REMOVE;
}

int tnd_dtls_alloc(struct tnd_dtls **dp, GMainContext *ctx, bool client, const struct tnd_fp *fp,
		   const struct tnd_dtls_handlers *h, void *arg)
{
	struct tnd_dtls *d;
	BIO *bio;

	if (!dp || !ctx || !fp || !h || !h->send || !h->done || !h->closed)
		return EINVAL;
	if (!tnd_webrtc_ssl_ctx() || !bio_meth)
		return EINVAL;   /* tnd_webrtc_init() was not called */
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->ctx = ctx;
	d->fp = *fp;
	d->h = *h;
	d->arg = arg;
	d->client = client;
	d->ssl = SSL_new(tnd_webrtc_ssl_ctx());
	bio = BIO_new(bio_meth);
	if (!d->ssl || !bio) {
		BIO_free(bio);
		tnd_dtls_free(d);
		return ENOMEM;
	}
	BIO_set_data(bio, d);
	SSL_set_bio(d->ssl, bio, bio);
	/* after the handshake only the keys matter (SRTP runs in libsrtp2):
	 * give the ~34 KiB of record buffers back while idle */
	SSL_set_mode(d->ssl, SSL_MODE_RELEASE_BUFFERS);
	SSL_set_app_data(d->ssl, d);
	SSL_set_mtu(d->ssl, DTLS_MTU);
	DTLS_set_timer_cb(d->ssl, timer_cb);
	if (client)
		SSL_set_connect_state(d->ssl);
	else
		SSL_set_accept_state(d->ssl);
	*dp = d;
	return 0;
}

void tnd_dtls_free(struct tnd_dtls *d)
{
	if (!d)
		return;
	stop_timer(d);
	SSL_free(d->ssl);
	free(d);
}

int tnd_dtls_export_end(struct tnd_dtls *d, struct tnd_dtls_end **out)
{
	if (!d || !d->done || d->ended)
		return EALREADY;
	return tnd_dtls_end_derive(d->ssl, d->client, out);
}

void tnd_dtls_start(struct tnd_dtls *d)
{
	if (!d->client || d->started || d->ended)
		return;
	d->started = true;
	step(d);
}

int tnd_dtls_input(struct tnd_dtls *d, const uint8_t *buf, size_t len)
{
	bool app;

	if (d->ended)
		return ENOTSUP;
	d->started = true;
	d->in = buf;
	d->in_len = len;
	app = step(d);
	d->in_len = 0;
	d->in = NULL;
	return app ? ENOTSUP : 0;
}

void tnd_dtls_close(struct tnd_dtls *d)
{
	if (!d || d->ended)
		return;
	d->ended = true;
	stop_timer(d);
	if (d->done) {
		ERR_clear_error();
		SSL_shutdown(d->ssl);
		ERR_clear_error();
	}
}
