/* sip/digest.c: Digest challenges and responses we compute ourselves
 * (SHA-256, RFC 8760). The responses are checked against RFC 7616 section
 * 3.9.1's worked example (its SHA-256 and MD5 values), the parser against
 * challenges as Sofia splits them into auth-params. */
#include <errno.h>
#include <string.h>

#include "sip/digest_int.h"
#include "tests/unit/runner.h"

/* RFC 7616 3.9.1 */
static const char *const rfc_params[] = {
	"realm=\"http-auth@example.org\"", "qop=\"auth, auth-int\"", "algorithm=SHA-256",
	"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\"",
	"opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
};
#define RFC_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

static int test_rfc7616_sha256(void)
{
	struct tnd_digest_chal c;
	char out[65];

	TEST_ASSERT(tnd_digest_parse(&c, rfc_params, 5) == 0);
	TEST_ASSERT(c.alg == TND_DIGEST_SHA256 && !c.sess && c.qop_auth && !c.stale);
	TEST_ASSERT(!strcmp(c.realm, "http-auth@example.org"));
	TEST_ASSERT(!strcmp(c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"));
	TEST_ASSERT(tnd_digest_response(out, sizeof(out), &c, "Mufasa", "Circle of Life", "GET",
					"/dir/index.html", RFC_CNONCE, 1) == 0);
	TEST_ASSERT(!strcmp(out, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"));
	return 0;
}

static int test_rfc7616_md5(void)
{
	const char *p[] = { rfc_params[0], rfc_params[1], "algorithm=MD5", rfc_params[3] };
	struct tnd_digest_chal c;
	char out[65];

	TEST_ASSERT(tnd_digest_parse(&c, p, 4) == 0);
	TEST_ASSERT(c.alg == TND_DIGEST_MD5 && !*c.opaque);
	TEST_ASSERT(tnd_digest_response(out, sizeof(out), &c, "Mufasa", "Circle of Life", "GET",
					"/dir/index.html", RFC_CNONCE, 1) == 0);
	TEST_ASSERT(!strcmp(out, "8ca523f5e9506fed4657c9700eebdbec"));
	/* a short buffer is refused, not cut */
	TEST_ASSERT(tnd_digest_response(out, 32, &c, "Mufasa", "x", "GET", "/", "c", 1) == EINVAL);
	return 0;
}

/* A stored A1 ("HA1+hex", upper case as a config may hold it) gives the
 * same MD5 response as the password (pre-emptive digest for ha1 accounts,
 * authcache.c); it is no password for SHA-256. */
static int test_md5_stored_ha1(void)
{
	const char *p[] = { rfc_params[0], rfc_params[1], "algorithm=MD5", rfc_params[3] };
	struct tnd_digest_chal c;
	char out[65];

	TEST_ASSERT(tnd_digest_parse(&c, p, 4) == 0);
	TEST_ASSERT(tnd_digest_response(out, sizeof(out), &c, "Mufasa",
					"HA1+3D78807DEFE7DE2157E2B0B6573A855F", "GET",
					"/dir/index.html", RFC_CNONCE, 1) == 0);
	TEST_ASSERT(!strcmp(out, "8ca523f5e9506fed4657c9700eebdbec"));
	TEST_ASSERT(tnd_digest_parse(&c, rfc_params, 5) == 0);
	TEST_ASSERT(tnd_digest_response(out, sizeof(out), &c, "Mufasa",
					"HA1+3D78807DEFE7DE2157E2B0B6573A855F", "GET",
					"/dir/index.html", RFC_CNONCE, 1) == 0);
	TEST_ASSERT(strcmp(out, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"));
	return 0;
}

/* The header we send: every field a server checks, and our response
 * recomputed from the cnonce we chose. */
static int test_credentials(void)
{
	const char *p[] = { "realm=\"127.0.0.1\"", "nonce=\"abc\"", "algorithm=SHA-256",
		"qop=\"auth\"" };
	struct tnd_digest_chal c;
	char buf[1024], cn[33], resp[65], want[65];
	const char *s;

	TEST_ASSERT(tnd_digest_parse(&c, p, 4) == 0);
	TEST_ASSERT(tnd_digest_credentials(buf, sizeof(buf), &c, "alice", "secret", "REGISTER",
					   "sip:127.0.0.1", 2) == 0);
	TEST_ASSERT_STR_CONTAINS(buf, "Digest username=\"alice\", realm=\"127.0.0.1\", "
				 "nonce=\"abc\", uri=\"sip:127.0.0.1\", response=\"");
	TEST_ASSERT_STR_CONTAINS(buf, "algorithm=SHA-256, cnonce=\"");
	TEST_ASSERT_STR_CONTAINS(buf, ", qop=auth, nc=00000002");
	TEST_ASSERT(!strstr(buf, "opaque"));
	s = strstr(buf, "cnonce=\"");
	TEST_ASSERT(s && strlen(s + 8) > 32 && s[8 + 32] == '"');
	memcpy(cn, s + 8, 32);
	cn[32] = '\0';
	s = strstr(buf, "response=\"");
	memcpy(resp, s + 10, 64);
	resp[64] = '\0';
	TEST_ASSERT(tnd_digest_response(want, sizeof(want), &c, "alice", "secret", "REGISTER",
					"sip:127.0.0.1", cn, 2) == 0);
	TEST_ASSERT(!strcmp(resp, want));
	/* no room, or a user that would break out of its quotes */
	TEST_ASSERT(tnd_digest_credentials(buf, 40, &c, "alice", "s", "REGISTER", "sip:a",
					   1) == ENOSPC);
	TEST_ASSERT(tnd_digest_credentials(buf, sizeof(buf), &c, "al\"ice", "s", "REGISTER",
					   "sip:a", 1) == EINVAL);
	return 0;
}

static int test_parse_refusals(void)
{
	struct tnd_digest_chal c = { .realm = "untouched" };
	const char *no_nonce[] = { "realm=\"r\"" };
	const char *no_realm[] = { "nonce=\"n\"" };
	const char *sha512[] = { "realm=r", "nonce=n", "algorithm=SHA-512-256" };
	const char *authint[] = { "realm=r", "nonce=n", "qop=\"auth-int\"" };
	const char *quote[] = { "realm=\"a\"b\"", "nonce=n" };
	const char *ctl[] = { "realm=\"a\rb\"", "nonce=n" };
	const char *bare[] = { "realm=r", "nonce=n", "algorithm=sha-256-sess", "stale=TRUE",
		"junk", "qop=auth-int,auth" };
	char big[400];

	TEST_ASSERT(tnd_digest_parse(&c, no_nonce, 1) == EBADMSG);
	TEST_ASSERT(tnd_digest_parse(&c, no_realm, 1) == EBADMSG);
	TEST_ASSERT(tnd_digest_parse(&c, sha512, 3) == ENOTSUP);
	TEST_ASSERT(tnd_digest_parse(&c, authint, 3) == ENOTSUP);
	TEST_ASSERT(tnd_digest_parse(&c, quote, 2) == EBADMSG);
	TEST_ASSERT(tnd_digest_parse(&c, ctl, 2) == EBADMSG);
	memset(big, 'n', sizeof(big) - 1);
	memcpy(big, "nonce=", 6);
	big[sizeof(big) - 1] = '\0';
	TEST_ASSERT(tnd_digest_parse(&c, (const char *[]){ "realm=r", big }, 2) == EBADMSG);
	TEST_ASSERT(!strcmp(c.realm, "untouched"));     /* nothing written on error */
	TEST_ASSERT(tnd_digest_parse(&c, bare, 6) == 0);
	TEST_ASSERT(c.alg == TND_DIGEST_SHA256 && c.sess && c.stale && c.qop_auth);
	TEST_ASSERT(!strcmp(tnd_digest_alg_name(&c), "SHA-256-sess"));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_rfc7616_sha256),
		TND_TEST(test_rfc7616_md5),
		TND_TEST(test_md5_stored_ha1),
		TND_TEST(test_credentials),
		TND_TEST(test_parse_refusals),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
