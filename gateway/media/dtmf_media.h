/* DTMF on the bridge's worker (issue 10 item 5), private to gateway/media.
 * One struct tnd_mdtmf per direction of a call (struct tnd_mdir.dtmf),
 * owned by the bridge and made on its worker at negotiation
 * (tnd_bridge_dtmf); everything below runs on that worker, per packet,
 * and allocates nothing.
 *
 * The pass-through handler (fwd.c) calls tnd_mdtmf_in() for every packet
 * before its payload type lookup, and tnd_mdtmf_out() for every audio
 * packet it rewrote, just before sending. A transcoding handler calls the
 * PCM pair instead of (or as well as) tnd_mdtmf_out(): tnd_mdtmf_pcm_in()
 * on what it decoded from leg B, tnd_mdtmf_pcm_out() on what it is about
 * to encode toward leg B, and tnd_mdtmf_pcm_mute() on what it decoded.
 * With a transcoded set-up (tnd_bridge_dtmf.transcoded) relayed events are
 * numbered after the transcoder's last packet (d->tx), not mapped. */
#ifndef TND_GATEWAY_MEDIA_DTMF_MEDIA_H
#define TND_GATEWAY_MEDIA_DTMF_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/media/media.h"
#include "gateway/media/stream.h"

struct tnd_bridge;

/* Sets up (or replaces) the bridge's DTMF state; worker thread. 0, EINVAL
 * (a codec we cannot make tones in) or ENOMEM. */
int tnd_mdtmf_setup(struct tnd_bridge *br, const struct tnd_bridge_dtmf *conf);
/* Frees it and clears both directions' pointers; NULL-safe, worker. */
void tnd_mdtmf_free(struct tnd_bridge *br);

/* A packet arrived on d's input leg (valid RTP). True when it was a
 * telephone-event packet and is dealt with (relayed re-timestamped into
 * d's output stream, or dropped because the digit goes on another way);
 * false for anything else, which the caller forwards. Audio from leg B is
 * run through the in-band detector here. */
bool tnd_mdtmf_in(struct tnd_mdir *d, uint8_t *pkt, size_t len, int64_t now_us);

/* An audio packet of d, rewritten to the output stream, about to be sent
 * (`clock`: its RTP clock). While a queued digit plays, the packet becomes
 * one RFC 4733 event packet, or its G.711 payload becomes the tone; while
 * a detected tone lasts toward the browser its payload becomes silence.
 * Returns the packet's new length (len when unchanged); the buffer has
 * room for it (an event packet is shorter than any audio packet). */
size_t tnd_mdtmf_out(struct tnd_mdir *d, uint8_t *pkt, size_t len, uint32_t clock);

/* For a transcoding handler, direction d toward leg B: overwrites n samples
 * of 8 kHz mono pcm with the queued in-band digits and their gaps before
 * they are encoded. Returns true when it wrote anything (the frame is then
 * tone, not the other leg's voice). Other rates: false, nothing written
 * (resample to 8 kHz first). */
bool tnd_mdtmf_pcm_out(struct tnd_mdir *d, int16_t *pcm, size_t n, unsigned rate);

/* For a transcoding handler, direction d from leg B: runs the in-band
 * detector over n samples of decoded 8 kHz mono pcm whose first sample is
 * at position pos (the RTP timestamp at 8 kHz); digits are reported like
 * the pass-through path's. Other rates are ignored. */
void tnd_mdtmf_pcm_in(struct tnd_mdir *d, const int16_t *pcm, size_t n, unsigned rate,
		      uint32_t pos);

/* For a transcoding handler, direction d from leg B, after
 * tnd_mdtmf_pcm_in(): zeroes the n samples while a detected tone lasts,
 * so the browser gets the digit once, as its event. True when it did. */
bool tnd_mdtmf_pcm_mute(struct tnd_mdir *d, int16_t *pcm, size_t n);

#endif
