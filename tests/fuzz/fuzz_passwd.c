/* libFuzzer target: what gateway/policy reads from outside. The input, as
 * a string, is tried as a stored password hash (tnd_passwd_check_format,
 * and tnd_passwd_verify when its iteration count is small enough to keep
 * the fuzzer fast), as a login token (tnd_policy_token_take against a
 * table holding one real token, which only that token may redeem) and as a
 * user name. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tnd_conf *conf;
static struct tnd_policy *policy;

static void setup(void)
{
	static const char text[] = "[log]\nlevel = error\n[auth]\ntokens_per_user = 2\n";
	char err[256];

	if (tnd_conf_load_text(&conf, "fuzz", text, sizeof(text) - 1, err, sizeof(err)) ||
	    tnd_policy_alloc(&policy, conf))
		abort();
	tnd_log_parse_levels("error", false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix = "pbkdf2-sha256$";
	char token[64];
	char *s;
	int expires, e;

	if (!policy)
		setup();
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tnd_passwd_check_format(s) == 0 && !strncmp(s, prefix, strlen(prefix)) &&
	    strtoul(s + strlen(prefix), NULL, 10) <= 5000) {
		e = tnd_passwd_verify(s, "password");
		if (e != 0 && e != EACCES)
			abort();
	}
	if (tnd_policy_token_issue(policy, "alice", token, sizeof(token), &expires))
		abort();
	/* only the token just issued is live: anything else is refused */
	e = tnd_policy_token_take(policy, "alice", s);
	if (strcmp(s, token) ? e != EACCES : e != 0)
		abort();
	(void)tnd_policy_token_take(policy, "alice", token);   /* empty again */
	if (tnd_policy_token_count(policy))
		abort();
	(void)tnd_policy_token_take(policy, s, s);
	(void)tnd_policy_user_name_check(s);
	free(s);
	return 0;
}
