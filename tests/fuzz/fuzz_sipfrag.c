/* libFuzzer target: sip/sipfrag.c, the status line of the message/sipfrag
 * body a NOTIFY for our REFER carries (RFC 3515 2.4.5, RFC 3420). The
 * input is the body, exactly its length, so ASan sees a read past it.
 * Besides crashes it checks the parser's promise: a line it takes has a
 * status 100-699 and a phrase without control characters, which written
 * back as a status line parses to the same; a refused line leaves the
 * outputs untouched. A broken promise aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sipfrag_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char phrase[64] = "untouched", p2[64], line[96];
	int status = -1, s2 = -1, n;

	if (tnd_sip_sipfrag_parse((const char *)data, size, &status, phrase, sizeof(phrase))) {
		if (status != -1 || strcmp(phrase, "untouched"))
			abort();
		return 0;
	}
	if (status < 100 || status > 699 || strlen(phrase) >= sizeof(phrase))
		abort();
	for (const char *c = phrase; *c; c++) {
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			abort();
	}
	n = snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", status, phrase);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    tnd_sip_sipfrag_parse(line, (size_t)n, &s2, p2, sizeof(p2)) || s2 != status)
		abort();
	if (strcmp(p2, phrase))
		abort();
	return 0;
}
