/* libFuzzer target: sip/check.c, the guard that stops a browser's strings
 * from injecting SIP header lines or breaking out of a URI's <>. Besides
 * crashes it checks the guard's promise: whatever a check accepts holds no
 * CR, LF or NUL-cut surprise, a URI no <>" or headers part, and a quoted
 * display name has every " and \ escaped. A broken promise aborts.
 * Input: one selector byte, then the string(s); a header is name\0value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 2048

static void promise(bool ok, const char *what, const char *s)
{
	if (ok)
		return;
	fprintf(stderr, "sip/check.c accepted %s: \"%s\"\n", what, s);
	abort();
}

static bool has_ctl(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return true;
	}
	return false;
}

static void check_uri(const char *s, bool tel)
{
	const char *at = strrchr(s, '@');

	if (tnd_sipchk_uri(s, tel))
		return;
	promise(!strpbrk(s, "<>\" \t\r\n") && !has_ctl(s), "a URI that leaves its <>", s);
	/* "?" may be in a user part (RFC 3261 user-unreserved), never after
	 * it: a headers part would put headers into our request (19.1.5) */
	promise(!strchr(at ? at : s, '?'), "a URI with a headers part", s);
	promise(!strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5) ||
		(tel && !strncasecmp(s, "tel:", 4)), "a URI of another scheme", s);
}

/* The quoted form must read back as the input: " then text where " and \
 * come only escaped, then a closing " at the very end. */
static void check_quote(const char *s)
{
	char buf[2 * 128 + 3];
	size_t i, n;

	if (tnd_sipchk_display(s) || tnd_sipchk_quote(buf, sizeof(buf), s))
		return;
	n = strlen(buf);
	promise(n >= 2 && buf[0] == '"' && buf[n - 1] == '"', "an unquoted display name", s);
	for (i = 1; i < n - 1; i++) {
		if (buf[i] == '\\')
			i++;
		else
			promise(buf[i] != '"', "a display name that ends its quotes early", s);
	}
	promise(i == n - 1 && !has_ctl(buf), "a display name with a bad escape", s);
}

static void check_header(const char *name, const char *value)
{
	struct tnd_sip_header h = { name, value };

	if (tnd_sipchk_header(&h))
		return;
	promise(!strpbrk(name, ": \t\r\n") && !has_ctl(name), "a header name", name);
	promise(!strncasecmp(name, "X-", 2), "a header other than X-", name);
	promise(!strpbrk(value, "\r\n") && !has_ctl(value), "a header value", value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[MAX_IN + 2];
	const char *value;
	size_t n;

	if (size < 1 || size > MAX_IN)
		return 0;
	n = size - 1;
	memcpy(s, data + 1, n);
	s[n] = '\0';
	s[n + 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		check_uri(s, data[0] & 0x80);
		break;
	case 1:
		if (!tnd_sipchk_user(s))
			promise(!strpbrk(s, "@:<>\" \r\n") && !has_ctl(s), "a user part", s);
		break;
	case 2:
		check_quote(s);
		break;
	case 3:
		value = memchr(s, '\0', n) ? s + strlen(s) + 1 : s + n + 1;
		check_header(s, value);
		break;
	default:
		/* every check on the same string: none may read past it */
		check_uri(s, true);
		tnd_sipchk_user(s);
		check_quote(s);
		check_header(s, s);
		break;
	}
	return 0;
}
