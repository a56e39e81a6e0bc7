/* Private to sip/: the message/sipfrag status-line parser (sipfrag.c),
 * apart from sip_int.h so that its unit test and fuzz target need no
 * Sofia headers. Pure: libc only, any thread. */
#ifndef TND_SIP_SIPFRAG_INT_H
#define TND_SIP_SIPFRAG_INT_H

#include <stddef.h>

/* The status line of a message/sipfrag body (RFC 3420) as a NOTIFY for a
 * REFER carries it (RFC 3515 2.4.5): 0 with status (100-699) and the
 * phrase (NUL-terminated, cut to size), or EBADMSG for anything else and
 * EINVAL without outputs; on error the outputs are untouched. */
int tnd_sip_sipfrag_parse(const char *body, size_t len, int *status, char *phrase,
			  size_t size);

#endif
