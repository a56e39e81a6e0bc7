/* Private to sip/: who may send us requests (review H4). A trusted list of
 * addresses and CIDR prefixes, and per-source token buckets with temporary
 * blocking for the sources that are not on it. Pure logic: no Sofia, no
 * sockets, no clock (time is passed in), so the unit tests drive it
 * directly. Signalling thread only; nothing is allocated after
 * tnd_sipguard_alloc (the source table has a fixed size). */
#ifndef TND_SIP_GUARD_INT_H
#define TND_SIP_GUARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

struct tnd_sipguard_conf {
	/* Comma-separated IP literals and CIDR prefixes ("10.0.0.0/8, ::1");
	 * NULL or "" trusts loopback (127.0.0.0/8, ::1) when `listen_loopback`,
	 * else nobody. */
	const char *trusted;
	bool listen_loopback;
	unsigned rate;          /* requests per second per untrusted source; 0 = no limit */
	unsigned burst;         /* bucket size; 0 = 2 * rate (at least 1) */
	unsigned block_after;   /* refusals within block_ms that block a source; 0 = never */
	unsigned block_ms;      /* how long a block lasts, also the counting window */
};

enum tnd_sipguard_verdict {
	TND_SIPGUARD_TRUSTED,   /* on the trusted list: no limits */
	TND_SIPGUARD_ADMIT,     /* untrusted, within its rate: check credentials */
	TND_SIPGUARD_LIMITED,   /* untrusted, over its rate (counts as a refusal) */
	TND_SIPGUARD_BLOCKED,   /* blocked after too many refusals: answer cheaply */
};

/* Single owner: tnd_sipguard_alloc / tnd_sipguard_free. */
struct tnd_sipguard;

/* EINVAL when `trusted` has an entry that is not an IP literal or prefix
 * (nothing allocated), ENOMEM. */
int tnd_sipguard_alloc(struct tnd_sipguard **gp, const struct tnd_sipguard_conf *conf);
void tnd_sipguard_free(struct tnd_sipguard *g);

/* 0 or EINVAL: the syntax check of a trusted list, for gateway/conf. */
int tnd_sipguard_check_list(const char *trusted);

bool tnd_sipguard_trusted(const struct tnd_sipguard *g, const struct sockaddr *sa);

/* One request from `sa` at `now_ms` (any monotonic milliseconds). Takes a
 * token from an untrusted source's bucket; a LIMITED answer has already
 * been counted as a refusal. */
enum tnd_sipguard_verdict tnd_sipguard_check(struct tnd_sipguard *g, const struct sockaddr *sa,
					     int64_t now_ms);

/* Counts a refusal of `sa` (403, a failed digest). True when this refusal
 * starts a block: the caller logs that once. */
bool tnd_sipguard_refused(struct tnd_sipguard *g, const struct sockaddr *sa, int64_t now_ms);

/* Sources currently blocked, and those tracked (for tests and stats). */
unsigned tnd_sipguard_blocked(const struct tnd_sipguard *g, int64_t now_ms);
unsigned tnd_sipguard_tracked(const struct tnd_sipguard *g);

/* "a.b.c.d" or "v6" of `sa` into buf (at least 46 bytes), for log lines. */
const char *tnd_sipguard_addr_str(const struct sockaddr *sa, char *buf, size_t size);

/* Sources remembered at once; a new source beyond it replaces the least
 * recently seen unblocked one among its probe window. */
#define TND_SIPGUARD_SLOTS 4096

#endif
