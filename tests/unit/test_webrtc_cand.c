/* webrtc/cand.c: the remote candidate checks ice.c runs before libnice,
 * and the CIDR deny-list (review finding M1). Pure functions, no worker:
 * what a candidate string parses to, which prefixes hold which addresses
 * (IPv4, IPv6, odd lengths, IPv4-mapped), and what is refused. */
#include <errno.h>
#include <string.h>

#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/cand_int.h"

static struct tnd_cand_addr addr_of(const char *ip, uint16_t port)
{
	char c[160];
	struct tnd_cand_addr a;

	memset(&a, 0, sizeof(a));
	snprintf(c, sizeof(c), "candidate:1 1 udp 1 %s %u typ host", ip, port);
	if (tnd_cand_check(c, &a))
		a.family = 0;
	return a;
}

static bool in(const char *prefix, const char *ip)
{
	struct tnd_cand_prefix p;
	struct tnd_cand_addr a = addr_of(ip, 9);

	return !tnd_cand_prefix_parse(prefix, &p) && a.family && tnd_cand_prefix_match(&p, &a);
}

int test_cand_prefix_parse(void)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0/8",
		"10.0.0.0/0008", "::/129", "fe80::/10/1", "host.example/24", "10.0.0.0 /8",
		"1.2.3.4.5", "fe80::1%eth0", " 10.0.0.0/8",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff/64",
	};
	struct tnd_cand_prefix p;

	memset(&p, 0x5a, sizeof(p));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tnd_cand_prefix_parse(bad[i], &p) != EINVAL) {
			printf("# accepted \"%s\"\n", bad[i]);
			return 1;
		}
	TEST_ASSERT(p.family == 0x5a);   /* untouched on error */
	TEST_ASSERT(tnd_cand_prefix_parse(NULL, &p) == EINVAL);
	TEST_ASSERT(tnd_cand_prefix_parse("10.0.0.0/8", NULL) == EINVAL);

	TEST_ASSERT(tnd_cand_prefix_parse("10.1.2.3/8", &p) == 0);
	TEST_ASSERT(p.family == 4 && p.bits == 8 && p.addr[0] == 10 && !p.addr[1] && !p.addr[3]);
	TEST_ASSERT(tnd_cand_prefix_parse("192.168.1.77", &p) == 0 && p.bits == 32 &&
		    p.addr[3] == 77);
	TEST_ASSERT(tnd_cand_prefix_parse("172.31.255.255/12", &p) == 0 && p.addr[1] == 16 &&
		    !p.addr[2]);
	TEST_ASSERT(tnd_cand_prefix_parse("fe80::1/10", &p) == 0);
	TEST_ASSERT(p.family == 6 && p.bits == 10 && p.addr[0] == 0xfe && p.addr[1] == 0x80 &&
		    !p.addr[15]);
	TEST_ASSERT(tnd_cand_prefix_parse("2001:db8::1", &p) == 0 && p.bits == 128 &&
		    p.addr[15] == 1);
	TEST_ASSERT(tnd_cand_prefix_parse("::/0", &p) == 0 && p.family == 6 && !p.bits);
	/* an IPv4-mapped prefix is the IPv4 one */
	TEST_ASSERT(tnd_cand_prefix_parse("::ffff:10.9.0.0/104", &p) == 0);
	TEST_ASSERT(p.family == 4 && p.bits == 8 && p.addr[0] == 10 && !p.addr[1]);
	return 0;
}

int test_cand_prefix_match(void)
{
	/* IPv4, byte and odd boundaries */
	TEST_ASSERT(in("10.0.0.0/8", "10.255.255.255") && !in("10.0.0.0/8", "11.0.0.0"));
	TEST_ASSERT(in("172.16.0.0/12", "172.31.0.1") && !in("172.16.0.0/12", "172.32.0.1") &&
		    !in("172.16.0.0/12", "172.15.255.255"));
	TEST_ASSERT(in("192.0.2.6/31", "192.0.2.7") && !in("192.0.2.6/31", "192.0.2.8"));
	TEST_ASSERT(in("169.254.169.254", "169.254.169.254") &&
		    !in("169.254.169.254", "169.254.169.253"));
	TEST_ASSERT(in("0.0.0.0/0", "203.0.113.9") && !in("0.0.0.0/0", "2001:db8::1"));
	/* IPv6: /10 is not on a byte boundary; ULA /7; a whole /128 */
	TEST_ASSERT(in("fe80::/10", "fe80::1") && in("fe80::/10", "febf:ffff::1") &&
		    !in("fe80::/10", "fec0::1") && !in("fe80::/10", "fe7f::1"));
	TEST_ASSERT(in("fc00::/7", "fd12:3456::1") && in("fc00::/7", "fc00::") &&
		    !in("fc00::/7", "fe00::1"));
	TEST_ASSERT(in("2001:db8:ab00::/40", "2001:db8:abff:1::1") &&
		    !in("2001:db8:ab00::/40", "2001:db8:ac00::1"));
	TEST_ASSERT(in("::1", "::1") && !in("::1", "::2") && !in("::1", "127.0.0.1"));
	TEST_ASSERT(in("::/0", "2001:db8::1") && !in("::/0", "10.0.0.1"));
	/* an IPv4-mapped candidate is matched by the IPv4 rules, either way */
	TEST_ASSERT(in("10.0.0.0/8", "::ffff:10.1.2.3") && in("::ffff:127.0.0.0/104", "127.0.0.1"));
	TEST_ASSERT(!in("10.0.0.0/8", "::ffff:11.1.2.3"));
	return 0;
}

int test_cand_check(void)
{
	static const struct {
		const char *c;
		int err;
	} cases[] = {
		{ "candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host", 0 },
		{ "candidate:842163049 1 UDP 1677729535 198.51.100.7 61234 typ srflx raddr 0.0.0.0 "
		  "rport 0 generation 0 ufrag Ab/+ network-cost 999", 0 },
		{ "candidate:a+/Z 1  udp  1  2001:db8::7  9  typ  host", 0 },
		{ "candidate:1 1 udp 1 ::ffff:192.0.2.1 9 typ host", 0 },
		{ "candidate:1 1 udp 1 192.0.2.1 65535 typ relay raddr 1.2.3.4 rport 5", 0 },
		{ "", EBADMSG },
		{ "a=candidate:1 1 udp 1 192.0.2.1 9 typ host", EBADMSG },   /* the caller strips */
		{ "candidate:", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 9 typ", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 9 type host", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 0 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 65536 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 099999 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2.1 -9 typ host", EBADMSG },
		{ "candidate:1 1 udp 12345678901 192.0.2.1 9 typ host", EBADMSG },
		{ "candidate:1 x udp 1 192.0.2.1 9 typ host", EBADMSG },
		{ "candidate:1 1 sctp 1 192.0.2.1 9 typ host", EBADMSG },
		{ "candidate:f*o 1 udp 1 192.0.2.1 9 typ host", EBADMSG },
		{ "candidate:123456789012345678901234567890123 1 udp 1 192.0.2.1 9 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 gateway.example 9 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 192.0.2 9 typ host", EBADMSG },
		{ "candidate:1 1 udp 1 fe80::1%eth0 9 typ host", EBADMSG },
		{ "candidate:1 1 udp\t1 192.0.2.1 9 typ host", EBADMSG },
		/* valid, but nothing here uses them */
		{ "candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype passive", ENOTSUP },
		{ "candidate:1 2 udp 1 192.0.2.1 9 typ host", ENOTSUP },
		{ "candidate:1 1 udp 1 2b5a8c4e-0f4c-4e3a-8a57-0d5c1e2b9f10.local 9 typ host", ENOTSUP },
	};
	struct tnd_cand_addr a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err;

		memset(&a, 0x5a, sizeof(a));
		err = tnd_cand_check(cases[i].c, &a);
		if (err != cases[i].err || (err && a.family != 0x5a)) {
			printf("# \"%s\": %d, wanted %d\n", cases[i].c, err, cases[i].err);
			return 1;
		}
	}
	TEST_ASSERT(tnd_cand_check(NULL, &a) == EBADMSG);
	a = addr_of("192.0.2.1", 5000);
	TEST_ASSERT(a.family == 4 && a.port == 5000 && a.addr[0] == 192 && a.addr[3] == 1);
	a = addr_of("2001:db8::7", 9);
	TEST_ASSERT(a.family == 6 && a.port == 9 && a.addr[0] == 0x20 && a.addr[15] == 7);
	a = addr_of("::ffff:192.0.2.1", 9);
	TEST_ASSERT(a.family == 4 && a.addr[0] == 192 && !a.addr[4]);
	return 0;
}

int test_cand_allowed(void)
{
	static const char *const deny_s[] = { "10.0.0.0/8", "fd00::/8" };
	/* never a peer, with or without a list: the local host (0.0.0.0 and
	 * :: are delivered locally), multicast, broadcast */
	static const char *const never[] = {
		"0.0.0.0", "::", "::ffff:0.0.0.0", "224.0.0.251", "239.255.255.250", "ff02::fb",
		"255.255.255.255",
	};
	struct tnd_cand_prefix deny[2];
	struct tnd_cand_addr a;

	for (int i = 0; i < 2; i++)
		TEST_ASSERT(tnd_cand_prefix_parse(deny_s[i], &deny[i]) == 0);
	a = addr_of("10.0.0.1", 9);
	TEST_ASSERT(tnd_cand_allowed(deny, 2, &a) == EPERM && tnd_cand_allowed(deny, 0, &a) == 0);
	a = addr_of("fd00::1", 9);
	TEST_ASSERT(tnd_cand_allowed(deny, 2, &a) == EPERM && tnd_cand_allowed(NULL, 0, &a) == 0);
	a = addr_of("192.0.2.1", 9);
	TEST_ASSERT(tnd_cand_allowed(deny, 2, &a) == 0);
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		a = addr_of(never[i], 9);
		if (!a.family || tnd_cand_allowed(NULL, 0, &a) != EPERM) {
			printf("# %s allowed\n", never[i]);
			return 1;
		}
	}
	return 0;
}
