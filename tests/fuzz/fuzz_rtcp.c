/* libFuzzer target: compound RTCP validation, the walk and the SSRC
 * rewrite. A compound that validates must be walked packet by packet inside
 * its bounds, and must still validate after the rewrite; one that does not
 * must come back from the rewrite untouched. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	const uint8_t *start;
	size_t size, seen;
};

static int walk_one(void *arg, const struct tnd_rtcp_pkt *p)
{
	struct walk *w = arg;

	if (p->pkt != w->start + w->seen || p->len < 4 || p->len > w->size - w->seen ||
	    p->pt != p->pkt[1])
		abort();
	w->seen += p->len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = 0x11223344, .set_media = true, .media = 0x55667788,
	};
	uint8_t *copy = malloc(size ? size : 1);
	struct walk w;
	int valid;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	w.start = copy;
	w.size = size;
	w.seen = 0;
	valid = tnd_rtcp_parse(copy, size, walk_one, &w) == 0;
	if (valid && w.seen != size)
		abort();
	if (tnd_rtcp_rewrite_ssrc(copy, size, &map) != (valid ? 0 : EBADMSG))
		abort();
	if (valid ? tnd_rtcp_parse(copy, size, NULL, NULL) != 0 : memcmp(copy, data, size) != 0)
		abort();
	free(copy);
	return 0;
}
