/* Private to gateway/media. */
#ifndef TND_GATEWAY_MEDIA_INT_H
#define TND_GATEWAY_MEDIA_INT_H

#include "gateway/base/loop.h"

/* Counts a bridge on or off a worker (for tnd_media_pool_pick). */
void tnd_media_worker_load(const struct tnd_loop *worker, int delta);
/* The pool slot of a worker loop (0 for an unknown loop, e.g. in tests). */
unsigned tnd_media_worker_slot(const struct tnd_loop *worker);

#endif
