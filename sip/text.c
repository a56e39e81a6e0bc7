/* Which bodies of INFO and MESSAGE may cross to the browser (issue 11
 * item 6): they travel as JSON strings, so they must be UTF-8 text, and
 * their Content-Type must be a plain type/subtype (RFC 2045 section 5.1,
 * RFC 3261 section 20.15). A pure function of its input, linked by the
 * fuzz target siptext and used on the signalling thread by message.c,
 * info.c and gateway/call. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "sip/sip.h"

/* RFC 2045 token: printable US-ASCII but space and tspecials */
static bool token_char(unsigned char c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* "type/subtype", each a token, optionally followed by ';' parameters of
 * printable characters (a browser's type goes into our Content-Type: no
 * CR, LF or other control may end the header early), 128 bytes at most. */
static int ctype_check(const char *ct)
{
	size_t i = 0, n;

	for (n = 0; ct[n]; n++) {
		if ((unsigned char)ct[n] < 32 || (unsigned char)ct[n] >= 127 || n >= 128)
			return EBADMSG;
	}

	for (n = 0; token_char((unsigned char)ct[i]); i++, n++)
		;
	if (!n || ct[i] != '/')
		return EBADMSG;
	for (i++, n = 0; token_char((unsigned char)ct[i]); i++, n++)
		;
	if (!n || (ct[i] && ct[i] != ';' && ct[i] != ' '))
		return EBADMSG;
	return 0;
}

/* Length of the UTF-8 sequence at s (RFC 3629 section 4: shortest form,
 * no surrogates, at most U+10FFFF), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int tnd_sip_text_check(const char *ctype, const char *body, size_t len)
{
	const unsigned char *b = (const unsigned char *)body;
	size_t i = 0, n;

	if (!ctype || (!body && len))
		return EINVAL;
	if (ctype_check(ctype))
		return EBADMSG;
	if (len > TND_SIP_TEXT_MAX)
		return EMSGSIZE;
	while (i < len) {
		/* C0 controls but tab, CR and LF, and DEL: not text (a NUL would
		 * also cut the string short in C) */
		if ((b[i] < 32 && b[i] != '\t' && b[i] != '\r' && b[i] != '\n') || b[i] == 127)
			return ENOTSUP;
		n = utf8_seq(b + i, len - i);
		if (!n)
			return ENOTSUP;
		i += n;
	}
	return 0;
}
