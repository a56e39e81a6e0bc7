/* Remote ICE candidate checks before libnice (RFC 8839 5.1, RFC 8445 5.1)
 * and the remote-address deny-list (review finding M1).
 *
 * Every remote candidate becomes connectivity checks, with retransmissions,
 * from the gateway's address to whatever host and port the peer named.
 * Left unchecked that probes the gateway's own networks (loopback, RFC
 * 1918, link-local, cloud metadata) on the peer's behalf. So ice.c runs
 * each trickled candidate through here first: a strict parse of the fixed
 * fields (libnice's own parser takes a port of "x" as 0), then the
 * operator's deny-list of CIDR prefixes, compared in binary. Pure functions
 * with libc only, so that the fuzzer links them alone; any thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webrtc/cand_int.h"

/* IPv4-mapped IPv6 (RFC 4291 2.5.5.2): ::ffff:a.b.c.d */
static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* An IP literal of n bytes at s (not terminated) into family and addr.
 * An IPv4-mapped IPv6 address comes out as IPv4: an IPv6 socket sends to
 * it as to the IPv4 address, so the deny-list must see it as one. */
static bool parse_ip(const char *s, size_t n, uint8_t *family, uint8_t addr[16])
{
	char ip[TND_CAND_PREFIX_MAX];
	uint8_t a[16];

	if (!n || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = 0;
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, a) == 1) {
		*family = 4;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		*family = 6;
		if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
			*family = 4;
		}
	} else {
		return false;
	}
	memcpy(addr, a, 16);
	return true;
}

static bool digits(const char *s, size_t n, size_t max)
{
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static unsigned long number(const char *s, size_t n)
{
	unsigned long v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	return v;
}

int tnd_cand_prefix_parse(const char *s, struct tnd_cand_prefix *p)
{
	struct tnd_cand_prefix r;
	const char *slash;
	size_t n, max;

	if (!s || !p)
		return EINVAL;
	n = strnlen(s, TND_CAND_PREFIX_MAX + 1);
	if (n > TND_CAND_PREFIX_MAX)
		return EINVAL;
	memset(&r, 0, sizeof(r));
	slash = memchr(s, '/', n);
	/* parse_ip would turn a mapped address into IPv4 and lose the
	 * length's meaning: read the family first, the length against it */
	{
		char ip[TND_CAND_PREFIX_MAX];
		size_t alen = slash ? (size_t)(slash - s) : n;

		if (!alen || alen >= sizeof(ip))
			return EINVAL;
		memcpy(ip, s, alen);
		ip[alen] = 0;
		if (inet_pton(AF_INET, ip, r.addr) == 1)
			r.family = 4;
		else if (inet_pton(AF_INET6, ip, r.addr) == 1)
			r.family = 6;
		else
			return EINVAL;
	}
	max = r.family == 4 ? 32 : 128;
	if (slash) {
		size_t ln = n - (size_t)(slash + 1 - s);

		if (!digits(slash + 1, ln, 3) || number(slash + 1, ln) > max)
			return EINVAL;
		r.bits = (uint8_t)number(slash + 1, ln);
	} else {
		r.bits = (uint8_t)max;
	}
	if (r.family == 6 && r.bits >= 96 && !memcmp(r.addr, v4mapped, sizeof(v4mapped))) {
		memmove(r.addr, r.addr + 12, 4);
		memset(r.addr + 4, 0, 12);
		r.family = 4;
		r.bits = (uint8_t)(r.bits - 96);
	}
	/* clear the host bits: "10.1.2.3/8" is 10.0.0.0/8 */
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;

		if (lo >= r.bits)
			r.addr[i] = 0;
		else if (lo + 8 > r.bits)
			r.addr[i] &= (uint8_t)(0xff << (8 - (r.bits - lo)));
	}
	*p = r;
	return 0;
}

bool tnd_cand_prefix_match(const struct tnd_cand_prefix *p, const struct tnd_cand_addr *a)
{
	unsigned full = p->bits / 8u, rest = p->bits % 8u;

	if (p->family != a->family || memcmp(p->addr, a->addr, full))
		return false;
	return !rest || (a->addr[full] & (uint8_t)(0xff << (8 - rest))) == p->addr[full];
}

int tnd_cand_allowed(const struct tnd_cand_prefix *deny, size_t n,
		     const struct tnd_cand_addr *a)
{
	static const uint8_t zero[16];

	if (a->family == 4) {
		if (!memcmp(a->addr, zero, 4) || (a->addr[0] & 0xf0) == 0xe0 ||
		    !memcmp(a->addr, "\xff\xff\xff\xff", 4))
			return EPERM;
	} else if (!memcmp(a->addr, zero, 16) || a->addr[0] == 0xff) {
		return EPERM;
	}
	for (size_t i = 0; i < n; i++)
		if (tnd_cand_prefix_match(&deny[i], a))
			return EPERM;
	return 0;
}

/* ice-char (RFC 8839 5.1): ALPHA / DIGIT / "+" / "/" */
static bool ice_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return false;
	}
	return true;
}

int tnd_cand_check(const char *c, struct tnd_cand_addr *a)
{
	enum { FOUNDATION, COMPONENT, TRANSPORT, PRIORITY, ADDRESS, PORT, TYP, TYPE, NF };
	const char *f[NF];
	size_t len[NF];
	const char *p;
	struct tnd_cand_addr r;
	unsigned long port;

	if (!c || !a || strncmp(c, "candidate:", 10))
		return EBADMSG;
	p = c + 10;
	for (int i = 0; i < NF; i++) {
		while (*p == ' ')
			p++;
		f[i] = p;
		while (*p && *p != ' ')
			p++;
		len[i] = (size_t)(p - f[i]);
		if (!len[i])
			return EBADMSG;
	}
	if (len[FOUNDATION] > 32 || !ice_chars(f[FOUNDATION], len[FOUNDATION]) ||
	    !digits(f[COMPONENT], len[COMPONENT], 3) || !digits(f[PRIORITY], len[PRIORITY], 10) ||
	    !digits(f[PORT], len[PORT], 5) || len[TYP] != 3 || strncmp(f[TYP], "typ", 3))
		return EBADMSG;
	port = number(f[PORT], len[PORT]);
	if (!port || port > 65535)
		return EBADMSG;
	if (len[TRANSPORT] != 3 || (strncasecmp(f[TRANSPORT], "udp", 3) &&
				    strncasecmp(f[TRANSPORT], "tcp", 3)))
		return EBADMSG;
	/* the browser's privacy mode: a name nothing here can resolve */
	if (len[ADDRESS] > 6 && !strncasecmp(f[ADDRESS] + len[ADDRESS] - 6, ".local", 6))
		return ENOTSUP;
	memset(&r, 0, sizeof(r));
	if (!parse_ip(f[ADDRESS], len[ADDRESS], &r.family, r.addr))
		return EBADMSG;
	/* rtcp-mux and BUNDLE: one UDP component */
	if (number(f[COMPONENT], len[COMPONENT]) != 1 || strncasecmp(f[TRANSPORT], "udp", 3))
		return ENOTSUP;
	r.port = (uint16_t)port;
	*a = r;
	return 0;
}
