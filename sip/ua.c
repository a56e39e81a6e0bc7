/* One Sofia-SIP user agent (NUA) on a GLib main context.
 *
 * su_glib_root_create() gives a Sofia root whose events are a GSource; with
 * su_root_threading(root, 0) nua starts no thread of its own, so every
 * callback arrives on the signalling thread (style guide section 1).
 * Sofia's SOA is off (NUTAG_MEDIA_ENABLE(0)): SDP travels as an opaque body.
 * OPTIONS is answered by sip/admit.c, which checks the source first (RFC
 * 3261 section 11; nua adds Allow, Accept, Supported); methods outside
 * ALLOW get 405 from nua (an admitted call's dialog allows REFER and
 * NOTIFY too, sip/refer.c). MESSAGE goes to sip/message.c.
 * Transports: UDP and TCP on [sip] port, TLS on tls_port (sip/tls.c),
 * guarded by sip/tcp.c; rport and CRLF keep-alives (RFC 3581, 5626).
 * Events on a call's handle go to call.c, on a registration's to reg.c;
 * this file keeps the UA, its list
 * of live calls, and the shutdown order: calls end first (nua drops every
 * event once nua_shutdown() runs), then nua stops. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_glib.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

/* calls get this long to end at shutdown before they are cut (main.c gives
 * the whole shutdown 5 s) */
#define STOP_WAIT_MS 3000
/* REGISTER is listed only so that nua hands it to us (it answers methods
 * outside Allow itself, before any source check): we are no registrar and
 * refuse it, but a source that keeps sending it is rate limited and blocked
 * like one that sends INVITEs (svwar-style scans) */
#define ALLOW TND_SIP_ALLOW
/* 100rel (RFC 3262): nua PRACKs a peer's reliable 18x itself, and sends
 * ours reliably when the INVITE requires it (it answers the PRACK and holds
 * a second reliable 18x until the first is PRACKed); SDP in a PRACK is
 * never ours to answer, since our offers and answers ride INVITE, 18x, 2xx
 * and ACK only */
#define SUPPORTED "timer, 100rel, replaces"   /* replaces: sip/replaces.c */
/* Methods the application answers (NUTAG_APPL_METHOD, one tag each, see
 * tnd_sipua_alloc): OPTIONS and REGISTER reach us (sip/admit.c) so they are
 * rate limited like INVITE; INFO so that its answer says whether its DTMF
 * was taken (sip/info.c); MESSAGE so that it passes admission and its
 * answer says whether a user took it (sip/message.c); REFER so that the
 * owner decides on its target (sip/refer.c); UPDATE: its offer is the
 * owner's to answer (sip/reinvite.c). PRACK is nua's (no APPL). */

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

/* ------------------------------------------------------------ calls list */

static void start_nua_shutdown(struct tnd_sipua *ua)
{
	if (ua->nua_stopping || ua->shut)
		return;
	ua->nua_stopping = true;
	/* nua_shutdown closes the listening socket sip/tcp.c watches */
	tnd_siptcp_free(ua->tcp);
	ua->tcp = NULL;
	if (ua->stop_timer) {
		g_source_destroy(ua->stop_timer);
		g_source_unref(ua->stop_timer);
		ua->stop_timer = NULL;
	}
	tnd_sipmsg_cut_all(ua);      /* message.c: MESSAGEs still waiting end now */
	nua_shutdown(ua->nua);
}

void tnd_sipua_link_call(struct tnd_sipua *ua, struct tnd_sipcall *call)
{
	call->prev = NULL;
	call->next = ua->calls;
	if (ua->calls)
		ua->calls->prev = call;
	ua->calls = call;
	ua->n_calls++;
}

void tnd_sipua_unlink_call(struct tnd_sipua *ua, struct tnd_sipcall *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		ua->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
	ua->n_calls--;
	if (ua->stopping && !ua->calls)
		start_nua_shutdown(ua);
}

unsigned tnd_sipua_calls(const struct tnd_sipua *ua)
{
	return ua ? ua->n_calls : 0;
}

void tnd_sipua_set_incoming(struct tnd_sipua *ua, tnd_sipua_incoming_h *h, void *arg)
{
	ua->incoming = h;
	ua->incoming_arg = h ? arg : NULL;
}

/* Cuts every call still live: report (unless `quiet`), destroy the handle. */
static void cut_calls(struct tnd_sipua *ua, bool quiet)
{
	while (ua->calls) {
		struct tnd_sipcall *call = ua->calls;

		if (quiet) {
			call->h = NULL;
			call->arg = NULL;
		}
		tnd_sipcall_set_why(call, TND_SIPCALL_END_SHUTDOWN, 408, "Shutdown");
		tnd_sipcall_finish(call, 408, "Shutdown");
	}
}

/* ------------------------------------------------------------ events */

/* Events on handles nua made for requests outside our calls (OPTIONS, and
 * whatever passed its Allow check): nua has answered them already; the
 * handle is ours to destroy (nua_i_options documentation). */
static void stray_handle(nua_t *nua, nua_event_t event, int status, nua_handle_t *nh)
{
	if (!nh)
		return;
	/* INFO outside any call of ours: RFC 6086 section 4.2.2 */
	if (event == nua_i_info && status < 200)
		nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(nua), TAG_END());
	else if (nua_event_is_incoming_request(event) && status < 200)
		nua_respond(nh, SIP_501_NOT_IMPLEMENTED, NUTAG_WITH_THIS(nua), TAG_END());
	nua_handle_destroy(nh);
}

static void on_shutdown(struct tnd_sipua *ua, int status, const char *phrase)
{
	if (status < 200)
		return;
	ua->shut = true;
	TND_LOG_INFO(TND_LOG_SIP, "SIP user agent stopped (%d %s)", status, phrase);
	if (ua->done) {
		tnd_sipua_done_h *done = ua->done;

		ua->done = NULL;
		done(ua->done_arg);
	}
}

static void incoming_invite(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh,
			    const sip_t *sip)
{
	char challenge[160];
	const char *phrase;
	int refuse = tnd_sipua_admit_invite(ua, nua, sip, &phrase, challenge, sizeof(challenge));

	tnd_sipcall_incoming(ua, nh, sip, refuse, phrase, challenge);
}

static void on_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
		     nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic,
		     sip_t const *sip, tagi_t tags[])
{
	struct tnd_sipua *ua = (struct tnd_sipua *)magic;

	if (hmagic && event == nua_i_options) {
		/* in a dialog: its peer got past admission when the call began;
		 * nua leaves OPTIONS to us (APPL_METHODS), the handle is the call's */
		if (status < 200)
			nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	if (hmagic && tnd_sipmsg_is(hmagic)) {
		tnd_sipmsg_event(hmagic, event, status, phrase, sip);   /* message.c */
		return;
	}
	if (hmagic && tnd_sipping_is(hmagic)) {
		tnd_sipping_event((struct tnd_sipping *)hmagic, event, status);
		return;
	}
	if (hmagic && tnd_sipreg_is(hmagic)) {
		tnd_sipreg_event((struct tnd_sipreg *)hmagic, event, status, phrase, nh, sip,
				 tags);
		return;
	}
	if (hmagic) {
		tnd_sipcall_event((struct tnd_sipcall *)hmagic, event, status, phrase, nh, sip,
				  tags);
		return;
	}
	switch (event) {
	case nua_i_invite:
		/* status >= 200: nua refused it already (e.g. multipart) */
		if (nh && status < 200 && sip)
			incoming_invite(ua, nua, nh, sip);
		else
			stray_handle(nua, event, status, nh);
		break;
	case nua_i_options:
		if (nh && status < 200)
			tnd_sipua_options(ua, nua, nh);
		else
			stray_handle(nua, event, status, nh);
		break;
	case nua_i_register:
		if (nh && status < 200)
			tnd_sipua_register(ua, nua, nh);
		else
			stray_handle(nua, event, status, nh);
		break;
	case nua_i_message:
		if (nh && status < 200 && sip)
			tnd_sipua_i_message(ua, nua, nh, sip);   /* message.c */
		else
			stray_handle(nua, event, status, nh);
		break;
	case nua_r_shutdown:
		on_shutdown(ua, status, phrase);
		break;
	default:
		TND_LOG_DEBUG(TND_LOG_SIP, "nua event %s %d %s", nua_event_name(event), status,
			      phrase ? phrase : "");
		stray_handle(nua, event, status, nh);
		break;
	}
}

/* ------------------------------------------------------------ life */

/* "host" or "[v6]" for our From, from a host name or IP literal */
static int from_host(const char *h, char **out)
{
	bool v6 = strchr(h, ':') != NULL && h[0] != '[';
	size_t n = strlen(h) + 3;

	if (!*h || !(v6 ? host_is_ip6_address(h) : host_is_valid(h)))
		return EINVAL;
	*out = malloc(n);
	if (!*out)
		return ENOMEM;
	snprintf(*out, n, "%s%s%s", v6 ? "[" : "", h, v6 ? "]" : "");
	return 0;
}

int tnd_sipua_set_outbound(struct tnd_sipua *ua, const char *outbound_proxy,
			   const char *public_host)
{
	const char *proxy = outbound_proxy && *outbound_proxy ? outbound_proxy : NULL;
	char *host = NULL;
	int err;

	if (!ua || !ua->nua)
		return EINVAL;
	if (proxy && tnd_sipchk_uri(proxy, false))
		return EINVAL;
	if (public_host && *public_host) {
		err = from_host(public_host, &host);
		if (err)
			return err;
		free(ua->from_host);
		ua->from_host = host;
	}
	free(ua->proxy);
	ua->proxy = proxy ? strdup(proxy) : NULL;
	if (proxy && !ua->proxy)
		return ENOMEM;
	/* queued ahead of any INVITE sent after this returns */
	nua_set_params(ua->nua, NUTAG_PROXY(proxy ? URL_STRING_MAKE(proxy) : NULL), TAG_END());
	ua->has_proxy = proxy != NULL;
	TND_LOG_NOTICE(TND_LOG_SIP, "SIP outbound proxy %s, From host %s", proxy ? proxy : "none",
		       ua->from_host);
	return 0;
}

static bool is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

/* The trusted list, rate limits and inbound credentials (sip/admit.c). */
static int admission_setup(struct tnd_sipua *ua, const struct tnd_sip_conf *conf)
{
	struct tnd_sipguard_conf gc = {
		.trusted = conf->trusted, .listen_loopback = is_loopback(conf->listen),
		.rate = conf->rate, .block_after = conf->block_after,
		.block_ms = conf->block_time * 1000u,
	};
	int err = tnd_sipguard_alloc(&ua->guard, &gc);

	if (err)
		return err;
	ua->block_time = conf->block_time;
	if (conf->inbound_user && *conf->inbound_user) {
		ua->in_user = strdup(conf->inbound_user);
		ua->in_password = strdup(conf->inbound_password ? conf->inbound_password : "");
		if (!ua->in_user || !ua->in_password)
			return ENOMEM;
	}
	/* the key signs our digest nonces: from the kernel, not GLib's PRNG */
	if (getrandom(ua->nonce_key, sizeof(ua->nonce_key), 0) != sizeof(ua->nonce_key))
		return EIO;
	if (!conf->trusted || !*conf->trusted)
		TND_LOG_NOTICE(TND_LOG_SIP, "SIP: trusted sources: %s",
			       gc.listen_loopback ? "loopback (default)" : "none");
	if (!ua->in_user && (!conf->trusted || !*conf->trusted) && !gc.listen_loopback)
		TND_LOG_WARN(TND_LOG_SIP, "SIP: no [sip] trusted list and no inbound_user: "
			     "every inbound INVITE is refused (403)");
	return 0;
}

/* Our bind URL for one transport set: "sip:HOST:PORT;maddr=LISTEN..." with
 * HOST the external address behind NAT (Sofia puts the URL's host in Via
 * and Contact and binds the maddr), else "sip:LISTEN:PORT...". */
static void bind_url(char *url, size_t size, const struct tnd_sip_conf *conf,
		     const char *scheme, int port, const char *transport)
{
	const char *ext = conf->external_address && *conf->external_address ?
			  conf->external_address : NULL;
	const char *host = ext ? ext : conf->listen;
	bool v6 = strchr(host, ':') != NULL, lv6 = strchr(conf->listen, ':') != NULL;

	snprintf(url, size, "%s:%s%s%s:%d%s%s%s%s%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
		 port, ext ? ";maddr=" : "", ext && lv6 ? "[" : "", ext ? conf->listen : "",
		 ext && lv6 ? "]" : "", transport);
}

/* Sofia's user agent on our transports. SOA off: we carry SDP ourselves;
 * the owner answers, rings and alerts; nua ACKs 2xx itself. */
static int create_nua(struct tnd_sipua *ua, const struct tnd_sip_conf *conf, char *url,
		      size_t size)
{
	char sips[160];
	const char *transport = "";

	if (conf->udp && !conf->tcp)
		transport = ";transport=udp";
	else if (conf->tcp && !conf->udp)
		transport = ";transport=tcp";
	bind_url(url, size, conf, "sip", conf->port, transport);
	if (ua->tls_dir)
		bind_url(sips, sizeof(sips), conf, "sips", conf->tls_port, "");
	ua->nua = nua_create(ua->root, on_event, (nua_magic_t *)ua, NUTAG_URL(url),
			     TAG_IF(ua->tls_dir, NUTAG_SIPS_URL(sips)),
			     TAG_IF(ua->tls_dir, TPTAG_CERTIFICATE(ua->tls_dir)),
			     /* outgoing only: incoming TLS callers need no certificate,
			      * admission (sip/admit.c) decides as for TCP and UDP */
			     TPTAG_TLS_VERIFY_POLICY(conf->tls_verify ? TPTLS_VERIFY_OUT :
						     TPTLS_VERIFY_NONE),
			     SIPTAG_USER_AGENT_STR(conf->user_agent),
			     NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0),
			     NUTAG_AUTOACK(1), NUTAG_ENABLEINVITE(1), NUTAG_ENABLEMESSAGE(1),
			     SIPTAG_ALLOW_STR(ALLOW), SIPTAG_SUPPORTED_STR(SUPPORTED),
			     /* one method a tag: Sofia 1.12 overruns its list when
			      * one tag's string names five or more (a crash in
			      * msg_params_join seen once REFER made five) */
			     NUTAG_APPL_METHOD("OPTIONS"), NUTAG_APPL_METHOD("REGISTER"),
			     NUTAG_APPL_METHOD("INFO"), NUTAG_APPL_METHOD("MESSAGE"),
			     NUTAG_APPL_METHOD("REFER"), NUTAG_APPL_METHOD("UPDATE"),
			     /* no SIP message of ours needs more than 64 KiB; nta's
			      * default (2 MiB) let each TCP connection hold that much
			      * (issue 11 item 9, malformed corpus) */
			     NTATAG_MAXSIZE(65536),
			     /* no open relay (issue 11 item 8): nua would follow a
			      * 302 or 305 by itself, to any target the peer names;
			      * a 3xx ends the call instead, and the gateway's dial
			      * plan stays the only one choosing where calls go */
			     NUTAG_AUTO302(0), NUTAG_AUTO305(0),
			     /* RFC 4028 (sip/reinvite.c): nua refreshes as
			      * refresher, answers 422 below min_se, and sends
			      * BYE when the peer's refresh never comes */
			     NUTAG_SESSION_TIMER(conf->session_expires),
			     NUTAG_MIN_SE(conf->min_se >= 90 ? conf->min_se : 90),
			     NUTAG_SESSION_REFRESHER(nua_any_refresher),
			     /* idle TCP connections close (nta's own default is 30 min) */
			     TPTAG_IDLE(conf->tcp_idle ? conf->tcp_idle * 1000u : UINT_MAX),
			     /* RFC 5626 section 4.4.1: CRLF pings on TCP flows (Sofia's
			      * TLS transport has no keep-alive timer, and its ping would
			      * write past the TLS layer); a ping does not count as
			      * traffic for the idle timeout above */
			     TPTAG_KEEPALIVE(conf->keepalive ? conf->keepalive * 1000u : 0),
			     /* no answer wanted: most peers send no CRLF pong, and a
			      * missing pong must not close their connection */
			     TPTAG_PINGPONG(0),
			     /* RFC 3581: ask for rport, and answer to it */
			     NTATAG_CLIENT_RPORT(1), NTATAG_SERVER_RPORT(1),
			     NTATAG_TCP_RPORT(1), NTATAG_TLS_RPORT(1),
			     /* no STUN server on the SIP port: Sofia's (stun_mini)
			      * leaks 12 bytes per request it refuses (fuzz_sipmsg) */
			     TPTAG_STUN_SERVER(0), TAG_END());
	if (!ua->nua) {
		TND_LOG_ERR(TND_LOG_SIP, "cannot bind SIP on %s%s%s", url,
			    ua->tls_dir ? " and " : "", ua->tls_dir ? sips : "");
		return EADDRINUSE;
	}
	return 0;
}

int tnd_sipua_alloc(struct tnd_sipua **uap, GMainContext *ctx, const struct tnd_sip_conf *conf)
{
	struct tnd_sipua *ua;
	char url[160];
	bool tls;
	int err;

	if (!uap || !ctx || !conf || !conf->listen || (!conf->udp && !conf->tcp))
		return EINVAL;
	ua = calloc(1, sizeof(*ua));
	if (!ua)
		return ENOMEM;
	err = from_host(conf->external_address && *conf->external_address ?
			conf->external_address : conf->listen, &ua->from_host);
	if (err) {
		free(ua);
		return err;
	}
	ua->ctx = ctx;
	err = admission_setup(ua, conf);
	if (!err && conf->tls)
		err = tnd_siptls_dir_make(conf, &ua->tls_dir);
	if (!err && conf->tls && conf->tls_verify)
		err = tnd_siptls_db(conf, &ua->tls_db);
	if (err) {
		tnd_sipua_free(ua);
		return err;
	}
	ua->dns_timeout_ms = (unsigned)(conf->dns_timeout > 0 ? conf->dns_timeout : 5) * 1000;
	ua->root = su_glib_root_create(ua);
	if (!ua->root) {
		tnd_sipua_free(ua);
		return ENOMEM;
	}
	su_root_threading(ua->root, 0);
	/* attached after nua_create and the TCP watch (below): nua binds its
	 * sockets inside nua_create without the loop, and GLib dispatches
	 * sources of one priority in attach order, so sip/tcp.c sees a new
	 * connection before Sofia accepts it */
	ua->source = su_glib_root_gsource(ua->root);

	err = create_nua(ua, conf, url, sizeof(url));
	/* Sofia loaded the files inside nua_create (no thread: see above):
	 * the copy of the private key leaves the disk at once */
	tls = ua->tls_dir != NULL;
	ua->tls_port = tls ? conf->tls_port : 0;
	ua->port = conf->port;
	ua->udp = conf->udp;
	tnd_siptls_dir_free(ua->tls_dir);
	ua->tls_dir = NULL;
	if (err) {
		tnd_sipua_free(ua);
		return err;
	}
	if (conf->tcp || conf->tls) {
		err = tnd_siptcp_alloc(&ua->tcp, ctx, conf, ua->guard);
		if (err)
			TND_LOG_WARN(TND_LOG_SIP, "SIP over TCP/TLS runs without connection limits: "
				     "listening socket not found (%s)", strerror(err));
	}
	g_source_attach(ua->source, ctx);
	TND_LOG_NOTICE(TND_LOG_SIP, "SIP on %s (%s%s%s)%s", url, conf->udp ? "udp" : "",
		       conf->udp && conf->tcp ? "+" : "", conf->tcp ? "tcp" : "",
		       tls ? ", tls" : "");
	*uap = ua;
	return 0;
}

static gboolean stop_wait_over(gpointer data)
{
	struct tnd_sipua *ua = data;

	TND_LOG_WARN(TND_LOG_SIP, "%u calls did not end within %d ms: cutting them",
		     ua->n_calls, STOP_WAIT_MS);
	g_source_unref(ua->stop_timer);
	ua->stop_timer = NULL;
	cut_calls(ua, false);
	start_nua_shutdown(ua);      /* unless the last unlink did */
	return G_SOURCE_REMOVE;
}

void tnd_sipua_shutdown(struct tnd_sipua *ua, tnd_sipua_done_h *done, void *arg)
{
	struct tnd_sipcall *call, *next;

	ua->done = done;
	ua->done_arg = arg;
	if (!ua->nua || ua->shut) {
		if (done) {
			ua->done = NULL;
			done(arg);
		}
		return;
	}
	if (ua->stopping)
		return;
	ua->stopping = true;
	TND_LOG_INFO(TND_LOG_SIP, "stopping: ending %u calls", ua->n_calls);
	for (call = ua->calls; call; call = next) {
		next = call->next;
		tnd_sipcall_end(call, TND_SIPCALL_END_SHUTDOWN);
	}
	if (!ua->calls) {
		start_nua_shutdown(ua);
		return;
	}
	ua->stop_timer = g_timeout_source_new(STOP_WAIT_MS);
	g_source_set_callback(ua->stop_timer, stop_wait_over, ua, NULL);
	g_source_attach(ua->stop_timer, ua->ctx);
}

void tnd_sipua_free(struct tnd_sipua *ua)
{
	if (!ua)
		return;
	/* before Sofia closes the listening socket it watches */
	tnd_siptcp_free(ua->tcp);
	ua->tcp = NULL;
	if (ua->stop_timer) {
		g_source_destroy(ua->stop_timer);
		g_source_unref(ua->stop_timer);
		ua->stop_timer = NULL;
	}
	ua->done = NULL;
	/* bindings still live were un-registered by nua_shutdown(); on an
	 * error path they go without (and without callbacks) */
	tnd_sipreg_cut_all(ua);
	tnd_sipmsg_cut_all(ua);
	if (ua->nua && !ua->shut) {
		/* nua_destroy() asserts that shutdown finished: on an error path
		 * (another part failed to start, or shutdown ran out of time) run
		 * it here, bounded, after cutting the calls without callbacks */
		GMainContext *ctx = g_source_get_context(ua->source);
		gint64 until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

		ua->stopping = true;
		cut_calls(ua, true);
		start_nua_shutdown(ua);
		while (!ua->shut && g_get_monotonic_time() < until)
			g_main_context_iteration(ctx, TRUE);
	}
	if (ua->nua)
		nua_destroy(ua->nua);
	if (ua->root)
		su_root_destroy(ua->root);
	tnd_sipguard_free(ua->guard);
	free(ua->in_user);
	free(ua->in_password);
	free(ua->from_host);
	free(ua->proxy);
	tnd_siptls_dir_free(ua->tls_dir);     /* error paths before nua_create */
	if (ua->tls_db)
		g_object_unref(ua->tls_db);
	tnd_sipauth_cache_free(ua);
	free(ua);
}
