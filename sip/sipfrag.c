/* The status line of a message/sipfrag body (RFC 3420) as a NOTIFY for a
 * REFER carries it (RFC 3515 section 2.4.5): "SIP/2.0 180 Ringing", maybe
 * followed by header lines we do not read. A parser of peer input, so it
 * links with nothing but libc (tests/fuzz/fuzz_sipfrag.c). Any thread. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "sip/sipfrag_int.h"

#define SIPFRAG_VERSION "SIP/2.0 "

int tnd_sip_sipfrag_parse(const char *body, size_t len, int *status, char *phrase,
			  size_t size)
{
	size_t vlen = strlen(SIPFRAG_VERSION), i, n;
	int st = 0;

	if (!body || !status || !phrase || !size)
		return EINVAL;
	/* RFC 3261 25.1: the version is case-insensitive, one SP after it */
	if (len < vlen + 3 || strncasecmp(body, SIPFRAG_VERSION, vlen))
		return EBADMSG;
	for (i = vlen; i < vlen + 3; i++) {
		if (body[i] < '0' || body[i] > '9')
			return EBADMSG;
		st = st * 10 + (body[i] - '0');
	}
	if (st < 100 || st > 699)
		return EBADMSG;
	/* then SP and the phrase up to CRLF; a bare "SIP/2.0 200" is taken */
	if (i < len && body[i] != ' ' && body[i] != '\r' && body[i] != '\n')
		return EBADMSG;
	if (i < len && body[i] == ' ')
		i++;
	for (n = i; n < len && body[n] != '\r' && body[n] != '\n'; n++) {
		unsigned char c = (unsigned char)body[n];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return EBADMSG;
	}
	/* outputs only once the line is known good (R5); a long phrase is cut */
	n -= i;
	if (n >= size)
		n = size - 1;
	memcpy(phrase, body + i, n);
	phrase[n] = '\0';
	*status = st;
	return 0;
}
