/* Private to sip/: the Replaces header embedded in a REFER's Refer-To URI
 * (referto.c), apart from sip_int.h so that its unit test and fuzz target
 * need no Sofia headers. Pure: libc only, any thread. */
#ifndef TND_SIP_REFERTO_INT_H
#define TND_SIP_REFERTO_INT_H

#include <stddef.h>

/* `hdrs` is the headers part of a Refer-To URI (after '?', not NUL-
 * terminated: `len` bytes), "hname=hvalue" fields joined by '&' (RFC 3261
 * 19.1.1). 0 with the one Replaces field's value, percent-decoded and NUL-
 * terminated, in out; ENOENT when no field is named Replaces; EBADMSG for
 * two of them, a bad escape, an empty value, one that decodes to a control
 * character (a header injected into our INVITE) or does not fit `size`;
 * EINVAL without buffers. On error out is untouched. The value's own
 * syntax (RFC 3891 6.1) is Sofia's to check. */
int tnd_sip_referto_replaces(const char *hdrs, size_t len, char *out, size_t size);

#endif
