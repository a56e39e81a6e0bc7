/* Who may use the gateway: password hashes, login tokens and the lock-out of
 * addresses that keep failing (the first guard against toll fraud: nobody
 * reaches the SIP side without a login the configuration allows).
 * Signalling thread only, except tnd_passwd_* which are pure functions. */
#ifndef TND_GATEWAY_POLICY_H
#define TND_GATEWAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct tnd_conf;

/* 0 if `name` is a user name we accept (1-64 of [A-Za-z0-9._+-]), else EINVAL. */
int tnd_policy_user_name_check(const char *name);

/* PBKDF2-HMAC-SHA256 "pbkdf2-sha256$ITER$SALT$HASH" (base64 salt and hash).
 * tnd_passwd_hash writes a new hash with a random salt into out (>= 128 bytes). */
#define TND_PASSWD_ITERATIONS 200000
#define TND_PASSWD_HASH_MAX 160
int tnd_passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen);
int tnd_passwd_check_format(const char *hash);
/* 0 if password matches, EACCES if not, EINVAL for a malformed hash. Slow by
 * design (tens of ms): call it off the signalling thread. */
int tnd_passwd_verify(const char *hash, const char *password);

/* The dial plan ([calls] allow): 0 when a browser may call `to`, else
 * EPERM. Pure function of the configuration; any thread. */
int tnd_policy_check_call(const struct tnd_conf *conf, const char *to);
/* A sip:/sips: URI straight at a trunk's address (or a `from` IP of it,
 * tnd_dialplan_trunk_by_uri): EPERM, and *trunk its name, else 0. A trunk
 * (a carrier that trusts our address) is reached only through the dial
 * plan, whose rules say who may call which numbers there; calls made as an
 * account are the account's server's to authorise, and are not checked. */
int tnd_policy_check_trunk_bypass(const struct tnd_conf *conf, const char *to,
				  const char **trunk);

/* Single owner: tnd_policy_alloc / tnd_policy_free. Holds live tokens and
 * per-address failure counts; the configuration is borrowed and swapped on
 * reload with tnd_policy_set_conf. */
struct tnd_policy;

int tnd_policy_alloc(struct tnd_policy **pp, const struct tnd_conf *conf);
void tnd_policy_free(struct tnd_policy *p);
void tnd_policy_set_conf(struct tnd_policy *p, const struct tnd_conf *conf);

/* EAGAIN while `addr` is locked out after too many failures, or, for a
 * password login, while all password logins pause after more than [auth]
 * global_max_failures failures within a minute from all addresses
 * together; else 0. Token logins never see the global pause, so a flood of
 * guesses cannot log out the users who hold tokens. */
int tnd_policy_check_login(struct tnd_policy *p, const char *addr, bool password);
/* Records the outcome of a login attempt from addr. */
void tnd_policy_login_result(struct tnd_policy *p, const char *addr, bool ok);

/* Issues a token for user into out (>= 64 bytes); its lifetime in *expires.
 * A user holds at most [auth] tokens_per_user live tokens: the oldest is
 * retired to make room, so no login pattern can fill the table. */
int tnd_policy_token_issue(struct tnd_policy *p, const char *user, char *out, size_t outlen,
			   int *expires);
/* Redeems a token: 0 if it is live, belongs to user and the configuration
 * still allows user, else EACCES. Either way a matching token is retired
 * (one use each: a token login issues the next one). */
int tnd_policy_token_take(struct tnd_policy *p, const char *user, const char *token);
/* Live tokens, all users together (tests, stats). */
unsigned tnd_policy_token_count(const struct tnd_policy *p);

#endif
