/* GET /metrics on the WebSocket port (docs/operations.md): the answer in
 * Prometheus text exposition format 0.0.4. wsproto.c approves the request
 * ([websocket] metrics_allow); ws.c queues what this writes. Signalling
 * thread: the API's own gauges are read in place, the counters of
 * gateway/base/stats.h are summed over every thread's slab with relaxed
 * loads, and the call layer's gauges come from the hook main.c sets. A
 * scrape allocates one string and never stops a media worker. */
#include <stdio.h>

#include "config.h"
#include "gateway/api/api_int.h"
#include "gateway/base/stats.h"

void tnd_api_set_metrics(struct tnd_api *api, tnd_api_metrics_h *h, void *arg)
{
	api->metrics = h;
	api->metrics_arg = arg;
}

static void gauge(GString *out, const char *name, const char *help, unsigned long v)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lu\n", name, help, name,
			       name, v);
}

static void write_body(struct tnd_api *api, GString *out)
{
	g_string_append(out, "# HELP tandem_build_info The running build; the value is 1.\n"
			"# TYPE tandem_build_info gauge\n"
			"tandem_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	gauge(out, "tandem_websocket_connections", "WebSocket connections open now.",
	      api->stats.connections);
	gauge(out, "tandem_websocket_logged_in", "WebSocket connections open now and logged in.",
	      api->stats.logged_in);
	tnd_stats_write(out);
	if (api->metrics)
		api->metrics(api->metrics_arg, out);
}

GString *tnd_api_metrics_response(struct tnd_api *api, bool head_only)
{
	GString *body = g_string_sized_new(16384), *resp;
	gint64 t0 = g_get_monotonic_time();

	write_body(api, body);
	/* what this scrape cost the signalling thread, written last so that
	 * it covers everything above (docs/benchmarks.md, "Metrics scrape") */
	g_string_append_printf(body, "# HELP tandem_metrics_render_seconds Time the gateway took "
			       "to write this answer's other samples.\n"
			       "# TYPE tandem_metrics_render_seconds gauge\n"
			       "tandem_metrics_render_seconds %.6f\n",
			       (double)(g_get_monotonic_time() - t0) / 1e6);
	resp = g_string_sized_new(body->len + 256);
	/* the Content-Type a Prometheus server expects of format 0.0.4; a
	 * scrape is never to come from a cache */
	g_string_append_printf(resp, "HTTP/1.1 200 OK\r\n"
			       "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			       "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			       "Connection: close\r\n\r\n", body->len);
	if (!head_only)
		g_string_append_len(resp, body->str, (gssize)body->len);
	g_string_free(body, TRUE);
	return resp;
}
