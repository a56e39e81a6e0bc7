/* SIP INFO DTMF bodies: application/dtmf-relay ("Signal=5\r\nDuration=160")
 * and application/dtmf (one digit). Neither has an RFC; phones differ in case,
 * spacing and line ends, so we read leniently but refuse anything that is not
 * a key=value list or a digit. The input is a length-bounded buffer from the
 * SIP stack, never assumed NUL-terminated. Any thread; no state. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codecs/codecs.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* [*sp, *ep) without surrounding blanks */
static void trim(const char **sp, const char **ep)
{
	while (*sp < *ep && is_space(**sp))
		(*sp)++;
	while (*ep > *sp && is_space((*ep)[-1]))
		(*ep)--;
}

static bool key_is(const char *s, const char *e, const char *key)
{
	size_t n = strlen(key);

	if ((size_t)(e - s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != key[i])
			return false;
	}
	return true;
}

/* Decimal number of 1-9 digits; EBADMSG otherwise. */
static int parse_num(const char *s, const char *e, uint32_t *v)
{
	uint32_t n = 0;

	if (s == e || e - s > 9)
		return EBADMSG;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return EBADMSG;
		n = n * 10 + (uint32_t)(*s - '0');
	}
	*v = n;
	return 0;
}

/* A digit character, or an event number (ENOTSUP beyond 15). */
static int parse_signal(const char *s, const char *e, char *digit)
{
	uint32_t ev;
	int err;

	if (e - s == 1 && tnd_dtmf_digit_event(*s) >= 0) {
		*digit = tnd_dtmf_event_digit(tnd_dtmf_digit_event(*s));
		return 0;
	}
	err = parse_num(s, e, &ev);
	if (err)
		return err;
	if (ev > 15)
		return ENOTSUP;
	*digit = tnd_dtmf_event_digit((int)ev);
	return 0;
}

/* Bytes that never belong in these bodies: NUL and other controls. */
static bool bad_byte(char c)
{
	return (unsigned char)c < 0x20 && c != '\t' && c != '\r' && c != '\n';
}

int tnd_dtmf_relay_parse(const char *body, size_t len, char *digit, uint32_t *duration_ms)
{
	const char *p, *end;
	bool have_sig = false, have_dur = false;
	char sig = 0;
	uint32_t dur = 0;
	int err;

	if (!body || !digit || !duration_ms)
		return EINVAL;
	p = body;
	end = body + len;
	while (p < end) {
		const char *ls = p, *le, *eq;

		/* CRLF, LF or a lone CR ends a line; the empty lines between
		 * CR and LF are skipped like blank ones */
		while (p < end && *p != '\r' && *p != '\n') {
			if (bad_byte(*p))
				return EBADMSG;
			p++;
		}
		le = p;
		if (p < end)
			p++;
		trim(&ls, &le);
		if (ls == le)
			continue;
		eq = memchr(ls, '=', (size_t)(le - ls));
		if (!eq || eq == ls)
			return EBADMSG;
		{
			const char *ks = ls, *ke = eq, *vs = eq + 1, *ve = le;

			trim(&ks, &ke);
			trim(&vs, &ve);
			if (key_is(ks, ke, "signal")) {
				if (have_sig)
					return EBADMSG;
				err = parse_signal(vs, ve, &sig);
				if (err)
					return err;
				have_sig = true;
			} else if (key_is(ks, ke, "duration")) {
				if (have_dur)
					return EBADMSG;
				err = parse_num(vs, ve, &dur);
				if (err)
					return err;
				have_dur = true;
			}
		}
	}
	if (!have_sig)
		return EBADMSG;
	if (!dur)
		dur = TND_DTMF_INFO_DEFAULT_MS;
	if (dur > TND_DTMF_INFO_MAX_MS)
		dur = TND_DTMF_INFO_MAX_MS;
	*digit = sig;
	*duration_ms = dur;
	return 0;
}

int tnd_dtmf_plain_parse(const char *body, size_t len, char *digit)
{
	const char *s, *e;

	if (!body || !digit)
		return EINVAL;
	s = body;
	e = body + len;
	for (const char *q = s; q < e; q++)
		if (bad_byte(*q))
			return EBADMSG;
	while (s < e && (is_space(*s) || *s == '\r' || *s == '\n'))
		s++;
	while (e > s && (is_space(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (s == e)
		return EBADMSG;
	return parse_signal(s, e, digit);
}

static int put(size_t size, size_t *lenp, int n)
{
	if (n < 0)
		return EINVAL;
	if ((size_t)n >= size)
		return ENOSPC;
	if (lenp)
		*lenp = (size_t)n;
	return 0;
}

int tnd_dtmf_relay_write(char *buf, size_t size, char digit, uint32_t duration_ms,
			 size_t *lenp)
{
	int ev = tnd_dtmf_digit_event(digit);

	if (!buf || !size || ev < 0)
		return EINVAL;
	return put(size, lenp, snprintf(buf, size, "Signal=%c\r\nDuration=%u\r\n",
					     tnd_dtmf_event_digit(ev), (unsigned)duration_ms));
}

int tnd_dtmf_plain_write(char *buf, size_t size, char digit, size_t *lenp)
{
	int ev = tnd_dtmf_digit_event(digit);

	if (!buf || !size || ev < 0)
		return EINVAL;
	return put(size, lenp, snprintf(buf, size, "%c\r\n", tnd_dtmf_event_digit(ev)));
}
