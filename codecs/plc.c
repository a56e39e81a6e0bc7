/* Generic packet loss concealment for codecs without their own (G.711,
 * G.722; issue 10 item 4), on spandsp's plc_* (API in codecs/jb.h). The
 * algorithm is spandsp's, close to G.711 Appendix I: repeat the last pitch
 * period, fade it out over about 50 ms, and cross-fade back into real audio
 * in the first good frame. Media worker only; one state per decoded
 * stream, made at negotiation, nothing allocated per frame. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include <spandsp/telephony.h>
#include <spandsp/plc.h>

#include "codecs/codecs.h"
#include "gateway/base/obj.h"

struct tnd_plc {
	struct tnd_obj obj;
	plc_state_t st;          /* spandsp's state, inside ours: no library allocation */
	unsigned rate;
};

static void plc_destroy(void *data)
{
	struct tnd_plc *plc = data;

	plc_release(&plc->st);
}

int tnd_plc_alloc(struct tnd_plc **plcp, unsigned rate)
{
	struct tnd_plc *plc;

	if (!plcp || (rate != 8000 && rate != 16000))
		return EINVAL;
	plc = tnd_obj_zalloc(sizeof(*plc), plc_destroy);
	if (!plc)
		return ENOMEM;
	plc->rate = rate;
	plc_init(&plc->st);
	*plcp = plc;
	return 0;
}

struct tnd_plc *tnd_plc_free(struct tnd_plc *plc)
{
	return tnd_obj_put(plc);
}

void tnd_plc_rx(struct tnd_plc *plc, int16_t *pcm, size_t n)
{
	if (!plc || !pcm || n > INT_MAX)
		return;
	plc_rx(&plc->st, pcm, (int)n);
}

void tnd_plc_fill(struct tnd_plc *plc, int16_t *pcm, size_t n)
{
	if (!plc || !pcm || n > INT_MAX)
		return;
	plc_fillin(&plc->st, pcm, (int)n);
}
