/* The Replaces header a REFER's Refer-To URI may carry (RFC 3891 section
 * 5, RFC 5589 7: attended transfer where we are the transferee), found
 * among the URI's headers and percent-decoded. A parser of peer input, so
 * it links with nothing but libc and GLib (tests/fuzz/fuzz_referto.c); Sofia then
 * parses the decoded value as a Replaces header (refer.c). Any thread. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "sip/referto_int.h"

#define NAME "replaces"

/* Decodes v[0..n) into out (size bytes with the NUL); with out NULL it
 * only checks, so that out is written only once the value is known good. */
static int decode(const char *v, size_t n, char *out, size_t size)
{
	size_t i, o = 0;

	if (!n)
		return EBADMSG;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (c == '%') {
			int hi = i + 2 < n ? g_ascii_xdigit_value(v[i + 1]) : -1;
			int lo = i + 2 < n ? g_ascii_xdigit_value(v[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return EBADMSG;
			c = hi * 16 + lo;
			i += 2;
		}
		/* a CR or LF would end the header line in our INVITE: the
		 * peer would write our request's headers */
		if (c < 0x20 || c == 0x7f || o + 1 >= size)
			return EBADMSG;
		if (out)
			out[o] = (char)c;
		o++;
	}
	if (out)
		out[o] = '\0';
	return 0;
}

int tnd_sip_referto_replaces(const char *hdrs, size_t len, char *out, size_t size)
{
	const char *f, *end, *value = NULL;
	size_t nlen = strlen(NAME), vlen = 0;

	if (!hdrs || !out || !size)
		return EINVAL;
	for (f = hdrs; f < hdrs + len; f = end + 1) {
		end = memchr(f, '&', (size_t)(hdrs + len - f));
		if (!end)
			end = hdrs + len;
		/* header names are case-insensitive (RFC 3261 7.3.1) */
		if ((size_t)(end - f) <= nlen || strncasecmp(f, NAME, nlen) || f[nlen] != '=')
			continue;
		/* RFC 3891 6.1: one Replaces, else the target cannot tell which */
		if (value)
			return EBADMSG;
		value = f + nlen + 1;
		vlen = (size_t)(end - value);
	}
	if (!value)
		return ENOENT;
	/* checked first: outputs only on success (R5) */
	if (decode(value, vlen, NULL, size))
		return EBADMSG;
	return decode(value, vlen, out, size);
}
