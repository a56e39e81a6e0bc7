/* libFuzzer target: the remote candidate checks ice.c runs before libnice
 * sees a trickled candidate, and the deny-list (webrtc/cand.c).
 *
 * The input, as a C string, goes through tnd_cand_check() and
 * tnd_cand_prefix_parse(). What they accept must be consistent: a parsed
 * candidate has a family and a port, a parsed prefix has no host bits and
 * holds its own network address, and tnd_cand_prefix_match() agrees with a
 * bit-by-bit reference over a fixed deny-list that covers both families
 * and lengths off byte boundaries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/cand_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const deny_s[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.0.2.6/31", "169.254.169.254", "0.0.0.0/0",
	"fe80::/10", "fc00::/7", "2001:db8:ab00::/39", "::1", "::/0", "::ffff:127.0.0.0/104",
};
#define N_DENY (sizeof(deny_s) / sizeof(deny_s[0]))

static bool bit(const uint8_t *a, unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* The reference: every one of the prefix's bits, one at a time */
static bool slow_match(const struct tnd_cand_prefix *p, const struct tnd_cand_addr *a)
{
	if (p->family != a->family)
		return false;
	for (unsigned i = 0; i < p->bits; i++)
		if (bit(p->addr, i) != bit(a->addr, i))
			return false;
	return true;
}

static void check_prefix(const char *s)
{
	struct tnd_cand_prefix p;
	struct tnd_cand_addr a;
	unsigned max;

	if (tnd_cand_prefix_parse(s, &p))
		return;
	max = p.family == 4 ? 32 : 128;
	if ((p.family != 4 && p.family != 6) || p.bits > max)
		abort();
	for (unsigned i = p.bits; i < 128; i++)
		if (bit(p.addr, i))
			abort();
	memset(&a, 0, sizeof(a));
	a.family = p.family;
	memcpy(a.addr, p.addr, 16);
	if (!tnd_cand_prefix_match(&p, &a) || !slow_match(&p, &a))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tnd_cand_prefix deny[N_DENY];
	static bool ready;
	struct tnd_cand_addr a;
	char *s;
	int err;

	if (!ready) {
		for (size_t i = 0; i < N_DENY; i++)
			if (tnd_cand_prefix_parse(deny_s[i], &deny[i]))
				abort();
		ready = true;
	}
	/* exact size: ASan sees a read past the terminator */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	check_prefix(s);
	err = tnd_cand_check(s, &a);
	if (!err) {
		int want = 0;

		if ((a.family != 4 && a.family != 6) || !a.port ||
		    (a.family == 4 && (a.addr[4] | a.addr[15])))
			abort();
		for (size_t i = 0; i < N_DENY; i++) {
			bool m = tnd_cand_prefix_match(&deny[i], &a);

			if (m != slow_match(&deny[i], &a))
				abort();
			if (m)
				want = 1;
		}
		/* the list holds 0.0.0.0/0 and ::/0: everything is refused */
		if (!want || tnd_cand_allowed(deny, N_DENY, &a) == 0)
			abort();
		(void)tnd_cand_allowed(NULL, 0, &a);
	} else if (err != EBADMSG && err != ENOTSUP) {
		abort();
	}
	free(s);
	return 0;
}
