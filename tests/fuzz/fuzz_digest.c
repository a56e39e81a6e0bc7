/* libFuzzer target: sip/digest.c's challenge parser and what we build from
 * a challenge it accepts. Input: the auth-params of one challenge, one per
 * line, as Sofia hands them over ("realm=\"x\"", "algorithm=SHA-256"...).
 * Besides crashes it checks the parser's promise: an accepted challenge
 * has a realm and nonce free of quotes, backslashes and control characters,
 * so the credentials we write from it stay one well-formed header value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/digest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 4096
#define MAX_PARAMS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[MAX_IN + 1], hdr[2048];
	const char *params[MAX_PARAMS];
	struct tnd_digest_chal c;
	size_t n = 0;

	if (size > MAX_IN)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf, *nl; p && n < MAX_PARAMS; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		params[n++] = p;
	}
	if (tnd_digest_parse(&c, params, n))
		return 0;
	if (!*c.realm || !*c.nonce)
		abort();
	if (tnd_digest_credentials(hdr, sizeof(hdr), &c, "alice", "secret", "REGISTER",
				   "sip:127.0.0.1", 1) == 0 &&
	    (strpbrk(hdr, "\r\n\\") || !strstr(hdr, "response=\"")))
		abort();
	return 0;
}
