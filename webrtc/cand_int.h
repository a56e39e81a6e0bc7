/* Private to webrtc/: the checks a remote ICE candidate passes before
 * libnice sees it (cand.c), and the remote-address deny-list of struct
 * tnd_pc_conf in its parsed form.
 *
 * Pure functions over strings and bytes: any thread, no allocation, libc
 * only, so tests/fuzz/fuzz_cand.c links them with base alone (style guide
 * section 6). ice.c runs them on the worker for each trickled candidate. */
#ifndef TND_WEBRTC_CAND_INT_H
#define TND_WEBRTC_CAND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest deny-list entry tnd_cand_prefix_parse() reads ("addr/len") */
#define TND_CAND_PREFIX_MAX 64

/* One CIDR prefix, compact: 18 bytes. */
struct tnd_cand_prefix {
	uint8_t family;     /* 4 or 6 */
	uint8_t bits;       /* 0..32 or 0..128 */
	uint8_t addr[16];   /* network order, host bits zero; IPv4 in the first 4 */
};

/* A candidate's connection address and port, from tnd_cand_check(). */
struct tnd_cand_addr {
	uint8_t family;     /* 4 or 6; an IPv4-mapped IPv6 address is 4 */
	uint8_t addr[16];
	uint16_t port;
};

/* "10.0.0.0/8", "fe80::/10" or a bare address (/32, /128). Host bits are
 * cleared; an IPv4-mapped IPv6 prefix of /96 or longer becomes the IPv4
 * one. 0 or EINVAL (p untouched). */
int tnd_cand_prefix_parse(const char *s, struct tnd_cand_prefix *p);

/* The fixed fields of "candidate:..." (RFC 8839 5.1, without "a="):
 * foundation (1-32 ice-chars), component, transport, priority, address
 * (an IP literal), port (1-65535), "typ", type. 0 and *a filled, EBADMSG
 * (malformed), or ENOTSUP (TCP, a component other than 1, an mDNS
 * ".local" name: valid but nothing here can use it). */
int tnd_cand_check(const char *c, struct tnd_cand_addr *a);

/* Whether ICE may send checks to `a`: EPERM when it is unspecified
 * (0.0.0.0 and :: reach the local host on Linux), multicast, the IPv4
 * limited broadcast, or inside one of the n prefixes; else 0. */
int tnd_cand_allowed(const struct tnd_cand_prefix *deny, size_t n,
		     const struct tnd_cand_addr *a);

/* Whether `a` lies in prefix p (same family after IPv4-mapped addresses
 * became IPv4). */
bool tnd_cand_prefix_match(const struct tnd_cand_prefix *p, const struct tnd_cand_addr *a);

#endif
