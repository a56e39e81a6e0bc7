/* Private to gateway/media. */
#ifndef TND_GATEWAY_MEDIA_INT_H
#define TND_GATEWAY_MEDIA_INT_H

#include "gateway/base/loop.h"

/* Counts a bridge on or off a worker (for tnd_media_pool_pick). */
void tnd_media_worker_load(const struct tnd_loop *worker, int delta);

#endif
