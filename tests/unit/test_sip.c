/* sip/ unit tests that need no Sofia stack: the admission guard
 * (sip/guard.c): the trusted list and its defaults, the per-source token
 * bucket, blocking after repeated refusals, and the fixed-size source
 * table; the sipfrag status line of a transfer's NOTIFY (sip/sipfrag.c);
 * the Replaces in an incoming REFER's Refer-To (sip/referto.c).
 * Time is passed in, so nothing here sleeps. The user agent itself
 * is driven in test-call and tests/integration (test_sip_calls.py,
 * test_abuse_sip.py). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sip/guard_int.h"
#include "sip/sip.h"
#include "sip/referto_int.h"
#include "sip/sipfrag_int.h"
#include "tests/unit/runner.h"

static struct sockaddr_storage ss;

static const struct sockaddr *v4(const char *a)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(5060);
	inet_pton(AF_INET, a, &in->sin_addr);
	return (const struct sockaddr *)&ss;
}

static const struct sockaddr *v6(const char *a)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &in6->sin6_addr);
	return (const struct sockaddr *)&ss;
}

static int test_trusted_list(void)
{
	struct tnd_sipguard_conf c = { .trusted = "127.0.0.1, 10.1.0.0/16,fd00::/8, 192.0.2.128/25" };
	struct tnd_sipguard *g;

	TEST_ASSERT(tnd_sipguard_alloc(&g, &c) == 0);
	/* a single address is a /32, not the whole /8 (a bug once let
	 * 127.0.0.7 through a list of 127.0.0.1) */
	TEST_ASSERT(tnd_sipguard_trusted(g, v4("127.0.0.1")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v4("127.0.0.7")));
	TEST_ASSERT(tnd_sipguard_trusted(g, v4("10.1.255.3")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v4("10.2.0.1")));
	TEST_ASSERT(tnd_sipguard_trusted(g, v4("192.0.2.200")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v4("192.0.2.127")));
	TEST_ASSERT(tnd_sipguard_trusted(g, v6("fd12::1")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v6("fe80::1")));
	/* a dual-stack socket's mapped IPv4 source matches the IPv4 entry */
	TEST_ASSERT(tnd_sipguard_trusted(g, v6("::ffff:127.0.0.1")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v6("::ffff:127.0.0.2")));
	TEST_ASSERT(tnd_sipguard_check(g, v4("10.1.0.9"), 0) == TND_SIPGUARD_TRUSTED);
	tnd_sipguard_free(g);
	return 0;
}

static int test_trusted_list_syntax(void)
{
	static const char *const bad[] = { "1.2.3.4/33", "pbx.example", "1.2.3.4/", "::1/129",
					   "1.2.3.4/x", "1.2.3" };
	struct tnd_sipguard *g = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tnd_sipguard_conf c = { .trusted = bad[i] };

		TEST_ASSERT(tnd_sipguard_check_list(bad[i]) == EINVAL);
		TEST_ASSERT(tnd_sipguard_alloc(&g, &c) == EINVAL && !g);
	}
	TEST_ASSERT(tnd_sipguard_check_list("") == 0);
	TEST_ASSERT(tnd_sipguard_check_list("0.0.0.0/0, ::/0") == 0);
	return 0;
}

/* With no list, loopback is trusted only while listening on loopback: a
 * gateway on a public address trusts nobody and refuses every INVITE. */
static int test_default_trust(void)
{
	struct tnd_sipguard_conf lo = { .listen_loopback = true };
	struct tnd_sipguard_conf pub = { .trusted = "" };
	struct tnd_sipguard *g;

	TEST_ASSERT(tnd_sipguard_alloc(&g, &lo) == 0);
	TEST_ASSERT(tnd_sipguard_trusted(g, v4("127.0.0.5")));
	TEST_ASSERT(tnd_sipguard_trusted(g, v6("::1")));
	TEST_ASSERT(!tnd_sipguard_trusted(g, v4("192.0.2.1")));
	tnd_sipguard_free(g);
	TEST_ASSERT(tnd_sipguard_alloc(&g, &pub) == 0);
	TEST_ASSERT(!tnd_sipguard_trusted(g, v4("127.0.0.1")));
	TEST_ASSERT(tnd_sipguard_check(g, v4("127.0.0.1"), 0) == TND_SIPGUARD_ADMIT);
	tnd_sipguard_free(g);
	return 0;
}

static int test_rate_bucket(void)
{
	struct tnd_sipguard_conf c = { .trusted = "10.0.0.1", .rate = 5, .burst = 10 };
	struct tnd_sipguard *g;
	int admitted = 0;

	TEST_ASSERT(tnd_sipguard_alloc(&g, &c) == 0);
	for (int i = 0; i < 50; i++)
		admitted += tnd_sipguard_check(g, v4("192.0.2.1"), 1000) == TND_SIPGUARD_ADMIT;
	TEST_ASSERT(admitted == 10);
	/* another source has its own bucket; a trusted one has none */
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.2"), 1000) == TND_SIPGUARD_ADMIT);
	for (int i = 0; i < 50; i++)
		TEST_ASSERT(tnd_sipguard_check(g, v4("10.0.0.1"), 1000) == TND_SIPGUARD_TRUSTED);
	/* 5 per second: one more token every 200 ms */
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.1"), 1100) == TND_SIPGUARD_LIMITED);
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.1"), 1300) == TND_SIPGUARD_ADMIT);
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.1"), 1300) == TND_SIPGUARD_LIMITED);
	/* never more than the burst, however long it waited */
	admitted = 0;
	for (int i = 0; i < 50; i++)
		admitted += tnd_sipguard_check(g, v4("192.0.2.2"), 100000) == TND_SIPGUARD_ADMIT;
	TEST_ASSERT(admitted == 10);
	tnd_sipguard_free(g);
	return 0;
}

static int test_block_after_refusals(void)
{
	struct tnd_sipguard_conf c = { .trusted = "10.0.0.1", .block_after = 3,
				       .block_ms = 10000 };
	const struct sockaddr *a;
	struct tnd_sipguard *g;
	int started = 0;

	TEST_ASSERT(tnd_sipguard_alloc(&g, &c) == 0);
	a = v4("192.0.2.9");
	TEST_ASSERT(tnd_sipguard_check(g, a, 0) == TND_SIPGUARD_ADMIT);
	for (int i = 0; i < 10; i++)
		started += tnd_sipguard_refused(g, v4("192.0.2.9"), 100 + i);
	TEST_ASSERT(started == 1);               /* logged once per block */
	TEST_ASSERT(tnd_sipguard_blocked(g, 200) == 1);
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.9"), 5000) == TND_SIPGUARD_BLOCKED);
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.10"), 5000) == TND_SIPGUARD_ADMIT);
	TEST_ASSERT(tnd_sipguard_check(g, v4("192.0.2.9"), 10200) == TND_SIPGUARD_ADMIT);
	TEST_ASSERT(tnd_sipguard_blocked(g, 10200) == 0);
	/* refusals spread wider than the window never block */
	for (int i = 0; i < 10; i++)
		TEST_ASSERT(!tnd_sipguard_refused(g, v4("192.0.2.11"), 20000 + i * 6000));
	/* trusted sources are never counted */
	for (int i = 0; i < 10; i++)
		TEST_ASSERT(!tnd_sipguard_refused(g, v4("10.0.0.1"), 100 + i));
	tnd_sipguard_free(g);
	return 0;
}

/* A flood from many addresses reuses old entries: the table never grows,
 * and a blocked source is not pushed out by it. */
static int test_table_bounded(void)
{
	struct tnd_sipguard_conf c = { .rate = 1, .block_after = 1, .block_ms = 60000 };
	struct tnd_sipguard *g;
	char a[32];

	TEST_ASSERT(tnd_sipguard_alloc(&g, &c) == 0);
	TEST_ASSERT(tnd_sipguard_refused(g, v4("198.51.100.1"), 0));
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		tnd_sipguard_check(g, v4(a), 1 + i / 1000);
	}
	TEST_ASSERT(tnd_sipguard_tracked(g) <= TND_SIPGUARD_SLOTS);
	TEST_ASSERT(tnd_sipguard_check(g, v4("198.51.100.1"), 200) == TND_SIPGUARD_BLOCKED);
	tnd_sipguard_free(g);
	return 0;
}

/* sip/text.c: which INFO and MESSAGE bodies reach the browser (RFC 3629
 * UTF-8, RFC 2045 type/subtype). */
static int test_text_check(void)
{
	char big[TND_SIP_TEXT_MAX + 2];

	TEST_ASSERT(tnd_sip_text_check("application/json", "{\"a\":1}", 7) == 0);
	TEST_ASSERT(tnd_sip_text_check("text/plain;charset=UTF-8", "h\xc3\xa9 \xe2\x82\xac\r\n\t",
				       10) == 0);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "", 0) == 0);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\xf0\x9f\x98\x80", 4) == 0);
	/* not text: 415 */
	TEST_ASSERT(tnd_sip_text_check("text/plain", "a\0b", 3) == ENOTSUP);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\x01", 1) == ENOTSUP);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\x7f", 1) == ENOTSUP);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\xc0\xaf", 2) == ENOTSUP);   /* overlong */
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\xed\xa0\x80", 3) == ENOTSUP); /* surrogate */
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\xf4\x90\x80\x80", 4) == ENOTSUP);
	TEST_ASSERT(tnd_sip_text_check("text/plain", "\xe2\x82", 2) == ENOTSUP);   /* cut short */
	/* bad types: 400 */
	TEST_ASSERT(tnd_sip_text_check("", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check("text", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check("text/", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check("/plain", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check("text/plain\r\nX-Evil: 1", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check("te xt/plain", "x", 1) == EBADMSG);
	TEST_ASSERT(tnd_sip_text_check(NULL, "x", 1) == EINVAL);
	memset(big, 'a', sizeof(big));
	TEST_ASSERT(tnd_sip_text_check("text/plain", big, TND_SIP_TEXT_MAX) == 0);
	TEST_ASSERT(tnd_sip_text_check("text/plain", big, TND_SIP_TEXT_MAX + 1) == EMSGSIZE);
	return 0;
}

/* RFC 3515 2.4.5 / RFC 3420: what NOTIFYs for a REFER carry, and what
 * must not pass for a status (the outputs stay as they were, R5). */
static int test_sipfrag(void)
{
	static const char *const bad[] = { "", "SIP/2.0", "SIP/2.0 99 Low", "SIP/2.0 700 X",
		"SIP/2.0 2OO OK", "SIP/1.0 200 OK", "SIP/2.0 200OK", "SIP/2.0 486 Bu\x01sy",
		"HTTP/1.1 200 OK" };
	char ph[8] = "same";
	int st = -1;

	TEST_ASSERT(tnd_sip_sipfrag_parse("SIP/2.0 100 Trying\r\n", 20, &st, ph,
					  sizeof(ph)) == 0);
	TEST_ASSERT(st == 100 && !strcmp(ph, "Trying"));
	/* headers after the line are not read; the phrase is cut to size */
	TEST_ASSERT(tnd_sip_sipfrag_parse("sip/2.0 603 Declined\r\nX: y\r\n", 31, &st, ph,
					  sizeof(ph)) == 0);
	TEST_ASSERT(st == 603 && !strcmp(ph, "Decline"));
	TEST_ASSERT(tnd_sip_sipfrag_parse("SIP/2.0 200", 11, &st, ph, sizeof(ph)) == 0);
	TEST_ASSERT(st == 200 && !strcmp(ph, ""));
	/* the length is the body's: no read past it, no NUL needed */
	TEST_ASSERT(tnd_sip_sipfrag_parse("SIP/2.0 180 Ringing", 11, &st, ph, sizeof(ph)) == 0);
	TEST_ASSERT(st == 180 && !strcmp(ph, ""));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = -1;
		strcpy(ph, "same");
		TEST_ASSERT(tnd_sip_sipfrag_parse(bad[i], strlen(bad[i]), &st, ph,
						  sizeof(ph)) == EBADMSG);
		TEST_ASSERT(st == -1 && !strcmp(ph, "same"));
	}
	TEST_ASSERT(tnd_sip_sipfrag_parse(NULL, 0, &st, ph, sizeof(ph)) == EINVAL);
	return 0;
}

/* RFC 3891 5 / RFC 5589 7: the Replaces a Refer-To carries, as RFC 5589's
 * examples escape it, among other URI headers, and what must not pass
 * (the output stays as it was, R5). */
static int test_referto_replaces(void)
{
	static const char *const bad[] = { "Replaces=", "Replaces=a%2", "Replaces=a%zz",
		"Replaces=a%0D%0AX-Evil:%201", "Replaces=a%00b", "Replaces=a\x01",
		"Replaces=a&replaces=b" };
	const char *h = "Require=replaces&Replaces=425928%40bobster.example.org%3Bto-tag%3D7743"
			"%3Bfrom-tag%3D6472&X=1";
	char out[64] = "same", small[8] = "same";

	TEST_ASSERT(tnd_sip_referto_replaces(h, strlen(h), out, sizeof(out)) == 0);
	TEST_ASSERT(!strcmp(out, "425928@bobster.example.org;to-tag=7743;from-tag=6472"));
	/* names are case-insensitive; the length is the caller's, no NUL read */
	TEST_ASSERT(tnd_sip_referto_replaces("rEpLaCeS=x%3by&Z", 16, out, sizeof(out)) == 0);
	TEST_ASSERT(!strcmp(out, "x;y"));
	TEST_ASSERT(tnd_sip_referto_replaces("Replaces=abcdef", 11, out, sizeof(out)) == 0);
	TEST_ASSERT(!strcmp(out, "ab"));
	strcpy(out, "same");
	TEST_ASSERT(tnd_sip_referto_replaces("X-Replaces=1&Replacesx=2", 24, out,
					     sizeof(out)) == ENOENT);
	TEST_ASSERT(tnd_sip_referto_replaces("", 0, out, sizeof(out)) == ENOENT);
	TEST_ASSERT(!strcmp(out, "same"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_ASSERT(tnd_sip_referto_replaces(bad[i], strlen(bad[i]), out,
						     sizeof(out)) == EBADMSG);
		TEST_ASSERT(!strcmp(out, "same"));
	}
	/* too long for the buffer: refused whole, never cut */
	TEST_ASSERT(tnd_sip_referto_replaces("Replaces=12345678", 17, small,
					     sizeof(small)) == EBADMSG);
	TEST_ASSERT(!strcmp(small, "same"));
	TEST_ASSERT(tnd_sip_referto_replaces("Replaces=1234567", 16, small, sizeof(small)) == 0);
	TEST_ASSERT(!strcmp(small, "1234567"));
	TEST_ASSERT(tnd_sip_referto_replaces(NULL, 0, out, sizeof(out)) == EINVAL);
	TEST_ASSERT(tnd_sip_referto_replaces("Replaces=a", 10, out, 0) == EINVAL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_trusted_list),
		TND_TEST(test_trusted_list_syntax),
		TND_TEST(test_default_trust),
		TND_TEST(test_rate_bucket),
		TND_TEST(test_block_after_refusals),
		TND_TEST(test_table_bounded),
		TND_TEST(test_text_check),
		TND_TEST(test_sipfrag),
		TND_TEST(test_referto_replaces),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
