/* Private to gateway/media: the transcoding media handler (xcode.c), one
 * struct tnd_xdir per direction of a transcoded call. Made on the
 * signalling thread when the call negotiates (every buffer, codec state,
 * resampler, framer and jitter buffer allocated then, R7), handed to the
 * worker by a bridge command, used and freed there. */
#ifndef TND_GATEWAY_MEDIA_XCODE_H
#define TND_GATEWAY_MEDIA_XCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/media/media.h"
#include "gateway/media/stream.h"

struct tnd_bridge;
struct tnd_xdir;

/* One direction: decode `in` (the leg packets arrive on), encode `out`.
 * One owner (tnd_xdir_alloc / tnd_xdir_free). EINVAL for a codec row
 * without ops or a ptime the output codec cannot send, ENOMEM. */
int tnd_xdir_alloc(struct tnd_xdir **xp, const struct tnd_bridge_codec *in,
		   const struct tnd_bridge_codec *out);
/* NULL-safe; stops its timer first when it was started on a worker. */
void tnd_xdir_free(struct tnd_xdir *x);

/* Worker: attaches x to br's direction `dir` (packets from leg `dir`):
 * installs the transcoding handler and the payload-type map that RTCP's SR
 * reads (the output codec's clock). telephone-event is the DTMF
 * handler's (dtmf_media.h): every packet goes to tnd_mdtmf_in() first. */
void tnd_xdir_attach(struct tnd_xdir *x, struct tnd_bridge *br, unsigned dir);
/* Worker: stops the direction's timer (the bridge is closing or replacing
 * it); x may then be freed. */
void tnd_xdir_detach(struct tnd_xdir *x);

/* Worker: hold music (moh.c) sent a packet in this direction at now_us: the
 * transcoder sends nothing for a moment (what it still holds of the held
 * party's media is dropped, not numbered) and its next packet follows the
 * music's timestamps, marked as a talk-spurt start. */
void tnd_xdir_moh(struct tnd_xdir *x, int64_t now_us);
/* The input's source changed (the peer's address moved): the jitter buffer
 * starts afresh at the next packet. Worker thread. */
void tnd_xdir_input_reset(struct tnd_xdir *x);

/* Worker: the direction's figures for `stats`. */
void tnd_xdir_stats(const struct tnd_xdir *x, struct tnd_bridge_dir_stats *st);

/* The codec rows it decodes and encodes. */
const struct tnd_codec *tnd_xdir_in_codec(const struct tnd_xdir *x);
const struct tnd_codec *tnd_xdir_out_codec(const struct tnd_xdir *x);

/* The handler the bridge installs for a transcoded direction. */
extern tnd_mdir_h *const tnd_bridge_fwd_xcode;

#endif
