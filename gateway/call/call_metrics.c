/* The call layer's part of /metrics (docs/operations.md): attempts,
 * outcomes by SIP status class and set-up time, counted into the
 * signalling thread's slab (gateway/base/stats.h) from three hooks in
 * call.c; and, at scrape time, the gauges only this layer can see: live
 * calls by direction and media mode (the bridge says which), the media
 * workers' load and bridges, and SIP registrations. Signalling thread.
 * Kept apart from call.c so the lifecycle code stays about calls. */
#include "gateway/base/stats.h"
#include "gateway/call/call_int.h"

static unsigned dir_of(const struct tnd_call *call)
{
	return call->dir == CALL_OUT ? TND_STATS_OUT : TND_STATS_IN;
}

void tnd_call_metrics_start(struct tnd_call *call)
{
	call->metrics_start_us = g_get_monotonic_time();
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_ATTEMPTS + dir_of(call));
}

void tnd_call_metrics_answered(struct tnd_call *call)
{
	if (call->phase == CALL_ANSWERED || call->phase == CALL_ENDED)
		return;   /* once per call */
	tnd_stats_observe(tnd_stats_slab(0), TND_H_SETUP + dir_of(call),
			  (double)(g_get_monotonic_time() - call->metrics_start_us) / 1e6);
}

void tnd_call_metrics_end(struct tnd_call *call, int code)
{
	/* the INVITE's final status: an answered call's was a 2xx whatever
	 * ends it later; else the status the call ends with, if any */
	enum tnd_stats_class c = call->phase == CALL_ANSWERED ? TND_STATS_2XX :
				 tnd_stats_class_of(code);

	if (call->phase == CALL_ENDED)
		return;
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_OUTCOMES + dir_of(call) * TND_STATS_CLASSES + c);
}

void tnd_calls_metrics_write(void *arg, GString *out)
{
	static const char *const dirs[] = { "out", "in" }, *const modes[] = { "passthrough",
									     "transcoded" };
	const struct tnd_calls *calls = arg;
	struct tnd_media_pool *pool = calls->env.media;
	unsigned long active[2][2] = { { 0 } };
	GHashTableIter it;
	gpointer key, value;
	unsigned n;

	g_hash_table_iter_init(&it, calls->by_id);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		const struct tnd_call *call = value;
		unsigned m = call->br && tnd_bridge_mode(call->br) == TND_MEDIA_TRANSCODED;

		active[dir_of(call)][m]++;
	}
	g_string_append(out, "# HELP tandem_calls_active Calls live now, by direction and how "
			"their media is carried.\n# TYPE tandem_calls_active gauge\n");
	for (unsigned d = 0; d < 2; d++)
		for (unsigned m = 0; m < 2; m++)
			g_string_append_printf(out, "tandem_calls_active{direction=\"%s\","
					       "mode=\"%s\"} %lu\n", dirs[d], modes[m],
					       active[d][m]);
	/* sip/ keeps no registrations yet: the family is there, at 0, so
	 * dashboards need no change when it does */
	g_string_append(out, "# HELP tandem_sip_registrations SIP registrations held now.\n"
			"# TYPE tandem_sip_registrations gauge\ntandem_sip_registrations 0\n");
	tnd_call_trunks_metrics(calls, out);
	n = tnd_media_pool_size(pool);
	g_string_append(out, "# HELP tandem_media_worker_load_ratio Share of a core each media "
			"worker used over the last second.\n"
			"# TYPE tandem_media_worker_load_ratio gauge\n");
	for (unsigned i = 0; i < n; i++)
		g_string_append_printf(out, "tandem_media_worker_load_ratio{worker=\"%u\"} %.2f\n",
				       i, tnd_media_pool_load(pool, i) / 100.0);
	g_string_append(out, "# HELP tandem_media_worker_bridges Calls' media bridges on each "
			"media worker.\n# TYPE tandem_media_worker_bridges gauge\n");
	for (unsigned i = 0; i < n; i++)
		g_string_append_printf(out, "tandem_media_worker_bridges{worker=\"%u\"} %ld\n", i,
				       tnd_media_pool_bridges(pool, i));
}
