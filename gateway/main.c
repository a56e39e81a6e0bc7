/* tandem: start-up, signals and shutdown order.
 *
 * Start-up: options, configuration, logging, global library init (Sofia, and
 * later OpenSSL, libsrtp2, spandsp tables, before any worker starts), then the
 * signalling loop with the SIP user agent and the WebSocket API on it.
 * SIGTERM/SIGINT: refuse new work, close WebSockets with 1001, shut Sofia down
 * (ends dialogs), then leave the loop. SIGHUP: reload the file; a file that
 * does not validate is logged and the running configuration stays.
 * SIGUSR1: drain (docs/operations.md): refuse new calls, let the calls up
 * end (at most [calls] drain_timeout), then stop as on SIGTERM, exit 0. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "config.h"
#include "gateway/api/api.h"
#include "gateway/call/call.h"
#include "gateway/media/media.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"
#include "sip/sip.h"
#include "webrtc/webrtc.h"

struct gw {
	const char *path;            /* borrowed from argv, NULL = embedded */
	struct tnd_conf *conf;       /* owned */
	struct tnd_loop *loop;       /* owned */
	struct tnd_policy *policy;   /* owned */
	struct tnd_api *api;         /* owned */
	struct tnd_sipua *sip;       /* owned */
	struct tnd_media_pool *media; /* owned */
	struct tnd_calls *calls;     /* owned */
	bool stopping;
	guint stop_timer;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tandem [OPTION]...\n"
		"SIP-to-WebRTC gateway. With no --config it runs on its embedded default:\n"
		"WebSocket ws://127.0.0.1:8088/ws, SIP on 127.0.0.1:5060 (UDP and TCP),\n"
		"auth = none, loopback only.\n\n"
		"  -c, --config FILE         read the configuration from FILE\n"
		"  -t, --check-config        validate the configuration and exit\n"
		"      --hash-password       read a password on stdin, print its hash for [users]\n"
		"      --print-example-config  print every key with its default and help\n"
		"  -V, --version             print the version and exit\n"
		"  -h, --help                print this help and exit\n\n"
		"Signals: SIGTERM or SIGINT stop gracefully (calls end at once); SIGHUP reloads\n"
		"the file; SIGUSR1 drains: no new calls, /readyz answers 503, and once the\n"
		"last call has ended (or after [calls] drain_timeout) it stops and exits 0.\n"
		"GET /healthz and /readyz on the WebSocket port answer load balancers.\n\n"
		"Configuration keys (INI; unknown keys are errors):\n");
	tnd_conf_print_help(out);
}

static int apply_logging(const struct tnd_conf *conf)
{
	int e = tnd_log_parse_levels(conf->log_level, false);

	if (!e)
		e = tnd_log_open(conf->log_file);
	return e;
}

static void sip_conf(const struct tnd_conf *c, struct tnd_sip_conf *s)
{
	memset(s, 0, sizeof(*s));
	s->listen = c->sip_listen;
	s->port = c->sip_port;
	s->udp = c->sip_udp;
	s->tcp = c->sip_tcp;
	/* no version: svmap printed it to anyone who sent OPTIONS */
	s->user_agent = "Tandem";
	s->trusted = c->sip_trusted;
	s->inbound_user = c->sip_inbound_user;
	s->inbound_password = c->sip_inbound_password;
	s->rate = (unsigned)c->sip_rate;
	s->block_after = (unsigned)c->sip_block_after;
	s->block_time = (unsigned)c->sip_block_time;
	s->tcp_idle = (unsigned)c->sip_tcp_idle;
	s->tcp_max = (unsigned)c->sip_tcp_max;
	s->tcp_max_per_source = (unsigned)c->sip_tcp_max_per_source;
	s->dns_timeout = c->sip_dns_timeout;
}

/* Keys that only take effect at start-up: warn when a reload changes them. */
static void warn_restart_keys(const struct tnd_conf *o, const struct tnd_conf *n)
{
	if (strcmp(o->ws_listen, n->ws_listen) || o->ws_port != n->ws_port ||
	    strcmp(o->ws_cert, n->ws_cert) || strcmp(o->ws_key, n->ws_key) ||
	    strcmp(o->sip_listen, n->sip_listen) || o->sip_port != n->sip_port ||
	    o->sip_udp != n->sip_udp || o->sip_tcp != n->sip_tcp)
		TND_LOG_WARN(TND_LOG_CONF, "listen addresses, ports, transports or certificates "
			     "changed: they take effect after a restart");
	/* the SIP user agent reads its access rules and TCP limits once */
	if (strcmp(o->sip_trusted, n->sip_trusted) ||
	    strcmp(o->sip_inbound_user, n->sip_inbound_user) ||
	    strcmp(o->sip_inbound_password, n->sip_inbound_password) ||
	    o->sip_rate != n->sip_rate || o->sip_block_after != n->sip_block_after ||
	    o->sip_block_time != n->sip_block_time || o->sip_tcp_idle != n->sip_tcp_idle ||
	    o->sip_tcp_max != n->sip_tcp_max ||
	    o->sip_tcp_max_per_source != n->sip_tcp_max_per_source)
		TND_LOG_WARN(TND_LOG_CONF, "[sip] access or TCP settings changed: they take "
			     "effect after a restart");
}

static gboolean on_hup(gpointer data)
{
	struct gw *gw = data;
	struct tnd_conf *conf;
	char err[768];

	if (!gw->path) {
		TND_LOG_NOTICE(TND_LOG_CONF, "SIGHUP: running on the embedded default, nothing "
			       "to reload; reopening the log");
		tnd_log_open(gw->conf->log_file);
		return G_SOURCE_CONTINUE;
	}
	if (tnd_conf_load(&conf, gw->path, err, sizeof(err))) {
		TND_LOG_ERR(TND_LOG_CONF, "reload refused, keeping the running configuration: %s",
			    err);
		return G_SOURCE_CONTINUE;
	}
	warn_restart_keys(gw->conf, conf);
	if (apply_logging(conf))
		TND_LOG_ERR(TND_LOG_CONF, "cannot open log file %s", conf->log_file);
	tnd_policy_set_conf(gw->policy, conf);
	tnd_api_set_conf(gw->api, conf);
	tnd_calls_set_conf(gw->calls, conf);
	tnd_media_pool_set_max_load(gw->media, (unsigned)conf->media_max_load);
	tnd_conf_free(gw->conf);
	gw->conf = conf;
	TND_LOG_NOTICE(TND_LOG_CONF, "reloaded %s (%zu users)", gw->path, conf->n_users);
	return G_SOURCE_CONTINUE;
}

static void stop_loop(void *arg)
{
	struct gw *gw = arg;

	if (gw->stop_timer)
		g_source_remove(gw->stop_timer);
	gw->stop_timer = 0;
	tnd_loop_quit(gw->loop);
}

static gboolean stop_late(gpointer data)
{
	struct gw *gw = data;

	gw->stop_timer = 0;
	TND_LOG_WARN(TND_LOG_MAIN, "shutdown took over 5 s; stopping anyway");
	tnd_loop_quit(gw->loop);
	return G_SOURCE_REMOVE;
}

static void api_closed(void *arg)
{
	struct gw *gw = arg;

	tnd_sipua_shutdown(gw->sip, stop_loop, gw);
}

static const struct tnd_api_calls call_ops = {
	NULL, tnd_calls_start, tnd_calls_answer, tnd_calls_reject, tnd_calls_hangup,
	tnd_calls_candidate, tnd_calls_conn_gone, tnd_calls_stats,
};

static void drained(void *arg);

static int start_calls(struct gw *gw)
{
	struct tnd_api_calls ops = call_ops;
	struct tnd_calls_env env = {
		.conf = gw->conf, .signal = gw->loop, .media = gw->media, .sip = gw->sip,
		.sink = &tnd_api_call_sink, .lookup = tnd_api_lookup_user, .lookup_arg = gw->api,
		.drained = drained, .drained_arg = gw,
	};
	int e = tnd_calls_alloc(&gw->calls, &env);

	if (e)
		return e;
	ops.calls = gw->calls;
	tnd_api_set_calls(gw->api, &ops);
	return 0;
}

static void stop(struct gw *gw)
{
	gw->stopping = true;
	TND_LOG_NOTICE(TND_LOG_MAIN, "stopping: hanging up calls, closing WebSockets and SIP");
	tnd_calls_hangup_all(gw->calls);
	gw->stop_timer = g_timeout_add_seconds(5, stop_late, gw);
	tnd_api_shutdown(gw->api, api_closed, gw);
}

static gboolean on_term(gpointer data)
{
	struct gw *gw = data;

	if (gw->stopping) {
		TND_LOG_WARN(TND_LOG_MAIN, "second stop signal: leaving now");
		tnd_loop_quit(gw->loop);
		return G_SOURCE_CONTINUE;
	}
	stop(gw);
	return G_SOURCE_CONTINUE;
}

/* The drain is over (tnd_calls_drain_start): un-register, then stop as on
 * SIGTERM. Nothing registers with a registrar yet; this is where the
 * un-REGISTER will go, before the SIP user agent shuts down. */
static void drained(void *arg)
{
	struct gw *gw = arg;

	if (gw->stopping)
		return;
	TND_LOG_NOTICE(TND_LOG_MAIN, "drained: stopping");
	stop(gw);
}

static gboolean on_usr1(gpointer data)
{
	struct gw *gw = data;

	if (gw->stopping)
		return G_SOURCE_CONTINUE;
	if (tnd_calls_drain_start(gw->calls) == EALREADY)
		TND_LOG_INFO(TND_LOG_MAIN, "SIGUSR1: already draining");
	return G_SOURCE_CONTINUE;
}

/* GET /readyz: the first reason a new call would be refused. */
static const char *ready(void *arg)
{
	struct gw *gw = arg;

	if (gw->stopping)
		return "shutting down";
	if (tnd_calls_draining(gw->calls))
		return "draining";
	if (!gw->sip)
		return "SIP user agent not up";
	if (!tnd_media_pool_pick(gw->media))
		return "media workers past max_load";
	return NULL;
}

/* GLib and libnice (through g_log) report into our log (R6). */
static void glib_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	(void)data;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		TND_LOG_ERR(TND_LOG_LIB, "%s: %s", domain ? domain : "glib", msg);
	else if (level & G_LOG_LEVEL_WARNING)
		TND_LOG_WARN(TND_LOG_LIB, "%s: %s", domain ? domain : "glib", msg);
	else
		TND_LOG_DEBUG(TND_LOG_LIB, "%s: %s", domain ? domain : "glib", msg);
}

static int hash_password(void)
{
	char line[1024], out[TND_PASSWD_HASH_MAX];
	struct termios t, quiet;
	bool tty = isatty(0) && !tcgetattr(0, &t);
	size_t n;
	int e;

	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &quiet);
	}
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	if (tty) {
		tcsetattr(0, TCSANOW, &t);
		fprintf(stderr, "\n");
	}
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (!n) {
		fprintf(stderr, "tandem: empty password\n");
		return 2;
	}
	e = tnd_passwd_hash(line, TND_PASSWD_ITERATIONS, out, sizeof(out));
	explicit_bzero(line, sizeof(line));
	if (e) {
		fprintf(stderr, "tandem: cannot hash: %s\n", strerror(e));
		return 1;
	}
	printf("%s\n", out);
	return 0;
}

static int run(struct gw *gw)
{
	struct tnd_sip_conf sc;
	int e;

	/* every library's global state before any worker thread starts */
	tnd_sip_init();
	e = tnd_webrtc_init();
	if (e) {
		TND_LOG_ERR(TND_LOG_MAIN, "WebRTC init failed: %s", strerror(e));
		tnd_sip_deinit();
		return 1;
	}
	e = tnd_loop_alloc(&gw->loop, "signal", 0);
	if (!e)
		e = tnd_policy_alloc(&gw->policy, gw->conf);
	if (!e) {
		sip_conf(gw->conf, &sc);
		e = tnd_sipua_alloc(&gw->sip, tnd_loop_context(gw->loop), &sc);
		if (!e && *gw->conf->sip_outbound_proxy)
			e = tnd_sipua_set_outbound(gw->sip, gw->conf->sip_outbound_proxy, NULL);
	}
	if (!e)
		e = tnd_media_pool_alloc(&gw->media, (unsigned)gw->conf->media_workers);
	if (!e)
		tnd_media_pool_set_max_load(gw->media, (unsigned)gw->conf->media_max_load);
	if (!e)
		e = tnd_api_alloc(&gw->api, gw->loop, gw->conf, gw->policy, true);
	if (!e)
		e = start_calls(gw);
	if (e) {
		TND_LOG_ERR(TND_LOG_MAIN, "start-up failed: %s", strerror(e));
		goto out;
	}
	g_unix_signal_add(SIGTERM, on_term, gw);
	g_unix_signal_add(SIGINT, on_term, gw);
	g_unix_signal_add(SIGHUP, on_hup, gw);
	g_unix_signal_add(SIGUSR1, on_usr1, gw);
	tnd_api_set_ready(gw->api, ready, gw);
	TND_LOG_NOTICE(TND_LOG_MAIN, "tandem %s ready (config %s, auth %s)", PACKAGE_VERSION,
		       gw->conf->source, gw->conf->auth_mode == TND_AUTH_NONE ? "none" : "users");
	tnd_loop_run(gw->loop);
	TND_LOG_NOTICE(TND_LOG_MAIN, "stopped");
 out:
	if (gw->api)
		tnd_api_set_calls(gw->api, NULL);
	tnd_calls_free(gw->calls);
	tnd_api_free(gw->api);
	tnd_sipua_free(gw->sip);
	/* joins the workers after the bridges' queued releases ran */
	tnd_media_pool_free(gw->media);
	tnd_policy_free(gw->policy);
	tnd_loop_free(gw->loop);
	tnd_webrtc_deinit();
	tnd_sip_deinit();
	return e ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "hash-password", no_argument, NULL, 'H' },
		{ "print-example-config", no_argument, NULL, 'E' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gw gw = { 0 };
	bool check = false;
	char err[768];
	int c, rc;

	/* libnice gives every call two 64 KiB buffers that live only until the
	 * pc takes its socket over (webrtc/direct.c). glibc's sliding mmap
	 * threshold would soon put them on the heap, where the call's longer-
	 * lived allocations pin the holes they leave: a fixed threshold keeps
	 * them mapped, so their pages go back when the agent does
	 * (docs/benchmarks.md, memory per call). */
	mallopt(M_MMAP_THRESHOLD, 48 * 1024);

	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': gw.path = optarg; break;
		case 't': check = true; break;
		case 'H': return hash_password();
		case 'E': tnd_conf_print_example(stdout); return 0;
		case 'V': printf("tandem %s (libsrtp2 backend %s)\n", PACKAGE_VERSION,
				 TND_SRTP_BACKEND); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tandem: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (tnd_conf_load(&gw.conf, gw.path, err, sizeof(err))) {
		fprintf(stderr, "tandem: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: configuration ok\n", gw.conf->source);
		tnd_conf_free(gw.conf);
		return 0;
	}
	g_log_set_default_handler(glib_log, NULL);
	/* a peer closing a socket must not kill us; write() reports EPIPE */
	signal(SIGPIPE, SIG_IGN);
	if (apply_logging(gw.conf)) {
		fprintf(stderr, "tandem: cannot open log file %s\n", gw.conf->log_file);
		tnd_conf_free(gw.conf);
		return 1;
	}
	rc = run(&gw);
	tnd_conf_free(gw.conf);
	tnd_log_close();
	return rc;
}
