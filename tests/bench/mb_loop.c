/* media-bench: keeping the driver's GLib main loop lighter than the relay's.
 *
 * The media sockets are not in GLib's poll set: the pcs and rtpsocks read
 * theirs from webrtc's per-loop epoll set (gateway/base/poll.c), and with
 * --fast 1 mb_fast.c reads them itself. What GLib polls is small (the
 * poller's descriptor, timers, the WebSocket, libnice agents while calls
 * set up), so plain poll(2) serves, counted here. An epoll-backed GPollFunc
 * used to stand here; it kept the registration of every libnice socket
 * whose pc had dup'd it (epoll forgets a file only when its last
 * descriptor closes, and EPOLL_CTL_DEL on the closed number fails), so each
 * packet on a browser socket also woke GLib's loop for nothing, and with
 * --fast 1, which reads those sockets once per tick, the loop spun.
 *
 * What stays: every source is made recursive. GLib 2.74 takes a source that
 * may not recurse out of the poll set for the length of its dispatch and
 * puts it back after (block_source() and unblock_source() in gmain.c), a
 * walk of the list of every descriptor plus an eventfd write each time.
 * libnice's sources are private, but source ids are sequential and a
 * lookup by id is a hash lookup, so every new id is visited. --glib-block 1
 * leaves them as GLib makes them, to compare. Main thread. */
#include "tests/bench/media_bench.h"

static uint64_t iterations;

void tnd_mb_sources_recurse(struct tnd_mb *mb)
{
	GMainContext *ctx = tnd_loop_context(mb->loop);
	GSource *probe;
	guint top;

	if (mb->o.glib_block)
		return;
	probe = g_idle_source_new();
	top = g_source_attach(probe, ctx);
	g_source_destroy(probe);
	g_source_unref(probe);
	for (guint id = mb->scan_id + 1; id < top; id++) {
		GSource *s = g_main_context_find_source_by_id(ctx, id);

		if (s)
			g_source_set_can_recurse(s, TRUE);
	}
	mb->scan_id = top;
}

/* GLib's own poll, counted. */
static gint counting_poll(GPollFD *fds, guint nfds, gint timeout)
{
	iterations++;
	return g_poll(fds, nfds, timeout);
}

int tnd_mb_loop_tune(struct tnd_mb *mb)
{
	g_main_context_set_poll_func(tnd_loop_context(mb->loop), counting_poll);
	return 0;
}

uint64_t tnd_mb_loop_iterations(void)
{
	return iterations;
}
