/* One Sofia-SIP user agent (NUA) on a GLib main context.
 *
 * su_glib_root_create() gives a Sofia root whose events are a GSource; with
 * su_root_threading(root, 0) nua starts no thread of its own, so every
 * callback arrives on the signalling thread (style guide section 1).
 * OPTIONS is answered by nua itself (RFC 3261 section 11). Until the call
 * legs exist every INVITE gets 480 (nobody reachable), which also means
 * nothing reaches the SIP side through us. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_glib.h>
#include <sofia-sip/su_log.h>

#include "gateway/base/log.h"
#include "sip/sip.h"

struct tnd_sipua {
	su_root_t *root;          /* owned */
	GSource *source;          /* borrowed from root, attached to ctx */
	nua_t *nua;               /* owned */
	tnd_sipua_done_h *done;
	void *done_arg;
	bool shut;
};

extern su_log_t tport_log[], nua_log[], nta_log[], su_log_default[];

static void sofia_log(void *stream, char const *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	(void)stream;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (n)
		TND_LOG_DEBUG(TND_LOG_SIP, "sofia: %s", msg);
}

void tnd_sip_init(void)
{
	su_init();
	su_log_redirect(su_log_default, sofia_log, NULL);
	su_log_redirect(tport_log, sofia_log, NULL);
	su_log_redirect(nua_log, sofia_log, NULL);
	su_log_redirect(nta_log, sofia_log, NULL);
}

void tnd_sip_deinit(void)
{
	su_deinit();
}

static void on_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		     nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic,
		     sip_t const *sip, tagi_t tags[])
{
	struct tnd_sipua *ua = (struct tnd_sipua *)magic;

	(void)nua;
	(void)hmagic;
	(void)tags;
	switch (event) {
	case nua_i_invite:
		TND_LOG_INFO(TND_LOG_SIP, "INVITE for %s: 480, no WebRTC user is reachable yet",
			     sip && sip->sip_request ? sip->sip_request->rq_url->url_user : "?");
		nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
		break;
	case nua_i_state:
	case nua_i_terminated:
		/* handles nua made for requests we refused end here */
		if (event == nua_i_terminated && nh)
			nua_handle_destroy(nh);
		break;
	case nua_r_shutdown:
		if (status < 200)
			break;
		ua->shut = true;
		TND_LOG_INFO(TND_LOG_SIP, "SIP user agent stopped (%d %s)", status, phrase);
		if (ua->done) {
			tnd_sipua_done_h *done = ua->done;

			ua->done = NULL;
			done(ua->done_arg);
		}
		break;
	default:
		TND_LOG_DEBUG(TND_LOG_SIP, "nua event %s %d %s", nua_event_name(event), status,
			      phrase ? phrase : "");
		break;
	}
}

int tnd_sipua_alloc(struct tnd_sipua **uap, GMainContext *ctx, const struct tnd_sip_conf *conf)
{
	struct tnd_sipua *ua;
	char url[128];
	const char *transport = "";
	bool v6;

	if (!uap || !ctx || !conf || !conf->listen || (!conf->udp && !conf->tcp))
		return EINVAL;
	ua = calloc(1, sizeof(*ua));
	if (!ua)
		return ENOMEM;
	ua->root = su_glib_root_create(ua);
	if (!ua->root) {
		free(ua);
		return ENOMEM;
	}
	su_root_threading(ua->root, 0);
	ua->source = su_glib_root_gsource(ua->root);
	g_source_attach(ua->source, ctx);

	if (conf->udp && !conf->tcp)
		transport = ";transport=udp";
	else if (conf->tcp && !conf->udp)
		transport = ";transport=tcp";
	v6 = strchr(conf->listen, ':') != NULL;
	snprintf(url, sizeof(url), "sip:%s%s%s:%d%s", v6 ? "[" : "", conf->listen, v6 ? "]" : "",
		 conf->port, transport);
	ua->nua = nua_create(ua->root, on_event, (nua_magic_t *)ua, NUTAG_URL(url),
			     SIPTAG_USER_AGENT_STR(conf->user_agent),
			     NUTAG_AUTOANSWER(0), TAG_END());
	if (!ua->nua) {
		TND_LOG_ERR(TND_LOG_SIP, "cannot bind SIP on %s", url);
		tnd_sipua_free(ua);
		return EADDRINUSE;
	}
	TND_LOG_NOTICE(TND_LOG_SIP, "SIP on %s (%s%s%s)", url, conf->udp ? "udp" : "",
		       conf->udp && conf->tcp ? "+" : "", conf->tcp ? "tcp" : "");
	*uap = ua;
	return 0;
}

void tnd_sipua_shutdown(struct tnd_sipua *ua, tnd_sipua_done_h *done, void *arg)
{
	ua->done = done;
	ua->done_arg = arg;
	if (ua->nua && !ua->shut)
		nua_shutdown(ua->nua);
	else if (done) {
		ua->done = NULL;
		done(arg);
	}
}

void tnd_sipua_free(struct tnd_sipua *ua)
{
	if (!ua)
		return;
	if (ua->nua && !ua->shut) {
		/* nua_destroy() asserts that shutdown finished: on an error path
		 * (another part failed to start) run it here, bounded */
		GMainContext *ctx = g_source_get_context(ua->source);
		gint64 until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

		ua->done = NULL;
		nua_shutdown(ua->nua);
		while (!ua->shut && g_get_monotonic_time() < until)
			g_main_context_iteration(ctx, TRUE);
	}
	if (ua->nua)
		nua_destroy(ua->nua);
	if (ua->root)
		su_root_destroy(ua->root);
	free(ua);
}
