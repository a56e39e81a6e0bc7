/* Syntax checks on what the gateway asks us to put into SIP messages, so a
 * bad value fails with EINVAL before anything is sent and nothing the
 * browser side chose can inject a header line (CR/LF) or break a URI out of
 * its <> (RFC 3261 sections 19.1 and 25.1; tel: RFC 3966). Pure functions:
 * any thread, no allocation beyond a stack buffer. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/url.h>

#include "sip/sip_int.h"

#define URI_MAX 512
#define USER_MAX 64
#define DISPLAY_MAX 128
#define HNAME_MAX 66
#define HVALUE_MAX 1024

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3261 token */
static bool is_token(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* RFC 3966 global or local number digits with visual separators */
static int check_tel_number(const char *s)
{
	size_t i, digits = 0;

	if (!s || !*s)
		return EINVAL;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 0 && c == '+')
			continue;
		/* a global number has decimal digits only; a local one may use
		 * HEXDIG, * and # (phonedigit-hex) */
		if ((c >= '0' && c <= '9') || (s[0] != '+' && (is_hex(c) || c == '*' || c == '#')))
			digits++;
		else if (!strchr("-.()", c))
			return EINVAL;
	}
	return digits ? 0 : EINVAL;
}

int tnd_sipchk_uri(const char *uri, bool allow_tel)
{
	char buf[URI_MAX + 1];
	size_t i, n;
	url_t url;
	enum url_type_e want;

	if (!uri)
		return EINVAL;
	n = strlen(uri);
	if (n < 5 || n > URI_MAX)
		return EINVAL;
	/* printable, no space, nothing that ends a name-addr or quotes */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (c <= 0x20 || c >= 0x7f || strchr("<>\"\\`{}|^", c))
			return EINVAL;
	}
	if (!strncasecmp(uri, "sip:", 4))
		want = url_sip;
	else if (!strncasecmp(uri, "sips:", 5))
		want = url_sips;
	else if (!strncasecmp(uri, "tel:", 4) && allow_tel)
		want = url_tel;
	else
		return EINVAL;
	memcpy(buf, uri, n + 1);
	memset(&url, 0, sizeof(url));
	if (url_d(&url, buf) < 0 || url.url_type != want)
		return EINVAL;
	/* a headers part would let the request URI carry headers (19.1.5) */
	if (url.url_headers || url.url_fragment)
		return EINVAL;
	/* Sofia keeps a tel: number in url_user */
	if (want == url_tel)
		return url.url_host ? EINVAL : check_tel_number(url.url_user);
	/* RFC 3261 19.1.1: passwords in URIs are NOT RECOMMENDED; they would
	 * end up in logs */
	if (url.url_password)
		return EINVAL;
	if (!url.url_host || !host_is_valid(url.url_host))
		return EINVAL;
	if (url.url_port) {
		const char *p = url.url_port;
		long port = 0;

		if (!*p)
			return EINVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
				return EINVAL;
		}
		if (port == 0)
			return EINVAL;
	}
	if (url.url_user && !*url.url_user)
		return EINVAL;
	return 0;
}

int tnd_sipchk_user(const char *user)
{
	size_t i, n;

	if (!user)
		return EINVAL;
	n = strlen(user);
	if (!n || n > USER_MAX)
		return EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c == '%') {
			if (!is_hex((unsigned char)user[i + 1]) ||
			    !is_hex((unsigned char)user[i + 2]))
				return EINVAL;
			i += 2;
		} else if (!is_alnum(c) && !strchr("-_.!~*'()&=+$,;?/", c)) {
			return EINVAL;
		}
	}
	return 0;
}

int tnd_sipchk_display(const char *display)
{
	size_t i, n;

	if (!display)
		return 0;
	n = strlen(display);
	if (n > DISPLAY_MAX)
		return EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)display[i];

		if (c < 0x20 || c == 0x7f)
			return EINVAL;
	}
	return 0;
}

int tnd_sipchk_quote(char *buf, size_t size, const char *display)
{
	size_t o = 0;
	const char *s;

	if (size < 3)
		return ENOSPC;
	buf[o++] = '"';
	for (s = display; *s; s++) {
		if (o + 4 > size)
			return ENOSPC;
		if (*s == '"' || *s == '\\')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return 0;
}

int tnd_sipchk_header(const struct tnd_sip_header *hdr)
{
	size_t i, n;

	if (!hdr || !hdr->name || !hdr->value)
		return EINVAL;
	n = strlen(hdr->name);
	if (n < 3 || n > HNAME_MAX || strncasecmp(hdr->name, "X-", 2))
		return EINVAL;
	for (i = 2; i < n; i++) {
		if (!is_token((unsigned char)hdr->name[i]))
			return EINVAL;
	}
	n = strlen(hdr->value);
	if (n > HVALUE_MAX)
		return EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hdr->value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return EINVAL;
	}
	return 0;
}

/* A peer's From or To URI (issue 11 item 9, malformed corpus): Sofia's
 * parser is lenient and takes "<sip:al ice@@host>"; such a request gets
 * 400 rather than reach a user. Lighter than tnd_sipchk_uri: headers
 * parts and long URIs from real PBXs stay allowed. */
int tnd_sipchk_peer_uri(const url_t *u)
{
	const char *s;

	if (!u || (u->url_type != url_sip && u->url_type != url_sips && u->url_type != url_tel))
		return EINVAL;
	if (u->url_type != url_tel && (!u->url_host || !host_is_valid(u->url_host)))
		return EINVAL;
	for (s = u->url_user; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || strchr("@<>\"", c))
			return EINVAL;
	}
	return 0;
}
