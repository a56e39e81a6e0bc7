/* Trunks and the dial plan (issue 11 items 2 and 8): named trunks from
 * [trunks] (NAME.key lines), rules from [dialplan] that send dial strings and
 * tel: URIs to trunks with their number normalised to E.164, per-user
 * rights on those rules, and the DID map for calls coming in from a trunk.
 * Pure functions of the configuration: parsed once into a read-only struct
 * that hangs off struct tnd_conf, so any thread may read it. Trunk up/down
 * state is not here (it changes): see gateway/call/call.h. */
#ifndef TND_GATEWAY_POLICY_DIALPLAN_H
#define TND_GATEWAY_POLICY_DIALPLAN_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/* [trunks] NAME.srtp: SDES-SRTP policy toward the trunk, in the order of
 * enum tnd_sip_srtp; calls through the trunk use it in place of [media]
 * sip_srtp when it is given (srtp_set). */
enum tnd_trunk_srtp {
	TND_TRUNK_SRTP_OFF,
	TND_TRUNK_SRTP_OPTIONAL,
	TND_TRUNK_SRTP_MANDATORY,
};

/* One DID: the number a trunk sends in its Request-URI, and who it rings. */
struct tnd_trunk_did {
	char *number;     /* owned: digits, maybe a leading '+' */
	char *target;     /* owned: a [users] name or an [accounts] name */
};

struct tnd_trunk {
	char *name;       /* owned, and every string below; "" when not given */
	char *address;    /* sip:host[:port] URI of the trunk (next hop) */
	char *transport;  /* "udp", "tcp", "tls" or "" (as the address says) */
	char *auth_user;  /* digest credentials for its 401/407, "" = none */
	char *password;
	char *codecs;     /* comma-separated codec names; "" = [media] sip_codecs */
	char *from;       /* addresses and CIDR prefixes it sends from (trusted) */
	bool reg;         /* register at the trunk (gateway/call/call_trunk_reg.c) */
	char *registrar;  /* sip:/sips: URI to register at; "" = address */
	int expires;      /* seconds asked for in its REGISTER, 10..86400 */
	int srtp;         /* enum tnd_trunk_srtp */
	bool srtp_set;    /* srtp was given: it overrides [media] sip_srtp */
	int options_ping; /* seconds between OPTIONS pings; 0 off */
	struct tnd_trunk_did *dids; /* owned array */
	size_t n_dids;
};

/* One [dialplan] line: NAME = MATCH -> TRUNK[,TRUNK...] [OPTION...] where
 * MATCH is a prefix of digits, '+', '*' or '#' ("0", "+44", "" for any via
 * "any"), or ~REGEX (GLib/PCRE, anchored by the writer); OPTIONs are
 * strip=N (digits removed from the front), prepend=DIGITS (put in front
 * after stripping), users=a|b|c (who may use the rule; default everyone). */
struct tnd_dialrule {
	char *name;       /* owned */
	char *prefix;     /* owned, or NULL when `re` is set */
	void *re;         /* owned GRegex, or NULL */
	char **trunks;    /* owned strv: trunk names, tried in order */
	unsigned strip;
	char *prepend;    /* owned, "" none */
	char **users;     /* owned strv, or NULL = everyone */
};

/* Single owner: tnd_dialplan_free (conf.c frees it with the conf). */
struct tnd_dialplan {
	struct tnd_trunk *trunks;     /* owned array */
	size_t n_trunks;
	struct tnd_dialrule *rules;   /* owned array, in file order */
	size_t n_rules;
};

void tnd_dialplan_free(struct tnd_dialplan *dp);

/* The [trunks] map: one "NAME.key = value" line. Allocates *dpp on first
 * use. EINVAL with why in err for a bad key or value (input untouched),
 * ENOMEM. */
int tnd_dialplan_add_trunk(struct tnd_dialplan **dpp, const char *key, const char *value,
			   char *err, size_t errlen);
/* The [dialplan] map: one "NAME = MATCH -> TRUNKS [OPTIONS]" line. */
int tnd_dialplan_add_rule(struct tnd_dialplan **dpp, const char *key, const char *value,
			  char *err, size_t errlen);
/* After the whole file: every rule names known trunks, every trunk has an
 * address. 0, or EINVAL with "[section] key: why" in err. NULL-safe. */
int tnd_dialplan_check(const struct tnd_dialplan *dp, char *err, size_t errlen);

/* Whether `to` is routed by the dial plan: anything but a sip:/sips: URI
 * (a tel: URI or a plain dial string). */
bool tnd_dialplan_is_number(const char *to);

/* The dial string in `to`: tel:NUMBER[;params] gives NUMBER, a plain dial
 * string itself, with visual separators (space - . ( )) removed. Writes at
 * most outlen-1 characters. EBADMSG when the result is empty, longer than
 * 32 characters, or has characters other than digits, '+', '*', '#'. */
int tnd_dialplan_digits(const char *to, char *out, size_t outlen);

/* Whether rule r matches `digits` (from tnd_dialplan_digits). */
bool tnd_dialrule_match(const struct tnd_dialrule *r, const char *digits);
/* Whether `user` (NULL: anonymous) may use rule r. */
bool tnd_dialrule_allows(const struct tnd_dialrule *r, const char *user);
/* The normalised number for rule r: strip, then prepend. ENOSPC if it does
 * not fit, EBADMSG if stripping leaves nothing. */
int tnd_dialrule_normalise(const struct tnd_dialrule *r, const char *digits, char *out,
			   size_t outlen);

/* The first rule at or after index *from that matches digits and that user
 * may use; *from is set past it, for failover to the next rule. NULL when
 * none is left. */
const struct tnd_dialrule *tnd_dialplan_next(const struct tnd_dialplan *dp, const char *digits,
					     const char *user, size_t *from);

/* Whether any rule matches digits at all (to tell 403 "not allowed" from
 * 404 "no route"). */
bool tnd_dialplan_any_match(const struct tnd_dialplan *dp, const char *digits);

const struct tnd_trunk *tnd_dialplan_trunk(const struct tnd_dialplan *dp, const char *name);

/* The request URI for `number` through trunk t: sip:NUMBER@HOST[:PORT]
 * [;transport=tcp|tls] from the trunk's address. ENOSPC, EINVAL. */
int tnd_trunk_uri(const struct tnd_trunk *t, const char *number, char *out, size_t outlen);

/* The trunk whose `from` list holds the address sa, or NULL. */
const struct tnd_trunk *tnd_dialplan_trunk_by_source(const struct tnd_dialplan *dp,
						     const struct sockaddr *sa);
/* The trunk a sip:/sips: URI addresses directly: its host (case aside) and
 * port (5060, 5061 for sips: or transport=tls, when not given) are the
 * trunk address's, or its host is an IP of the trunk's `from` list at that
 * port. NULL for any other URI. Such a URI would reach the trunk without
 * the dial plan (a carrier that trusts our address places the call). */
const struct tnd_trunk *tnd_dialplan_trunk_by_uri(const struct tnd_dialplan *dp,
						  const char *uri);
/* The DID target (user or account name) of trunk t for the Request-URI user
 * `number` ('+' and no '+' both match), or NULL. */
const char *tnd_trunk_did(const struct tnd_trunk *t, const char *number);

/* The trunk's SRTP policy (for the SDES work). */
enum tnd_trunk_srtp tnd_trunk_srtp(const struct tnd_trunk *t);

/* Every trunk's `from` list joined with commas into a new string (g_free),
 * for the SIP user agent's trusted sources; NULL when there is none. */
char *tnd_dialplan_sources(const struct tnd_dialplan *dp);

#endif
