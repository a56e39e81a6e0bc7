/* The next hop of an outgoing call, looked up before Sofia sees the INVITE.
 * Sofia's resolver (sresolv) runs on the signalling thread, and when no DNS
 * server can be reached (connect() fails: no route) it spins inside
 * sres_query(), so one call to a host name stopped every WebSocket, login
 * and call for minutes (issue 9 item 8). Here the lookup runs in GLib's
 * resolver threads (GResolver: getaddrinfo and res_query), its result
 * comes back to the signalling loop, and a timer bounds it ([sip]
 * dns_timeout). Sofia then gets an IP literal as the call's proxy
 * (NUTAG_PROXY on the handle; the request URI is unchanged) and never
 * resolves anything for it.
 * RFC 3263 section 4 in part: a numeric host or an explicit port is used
 * as is; else SRV (_sip._udp, _sip._tcp or _sips._tcp), then A/AAAA. NAPTR
 * is skipped (the transport is the URI's, UDP by default).
 * A TLS next hop (sips: or ;transport=tls) with [sip] tls_verify is
 * checked here too, with a TLS handshake of our own (GIO): Sofia-SIP 1.12
 * closes a connection whose certificate fails without telling the
 * transaction, which then waits 32 s (timer B) with nothing sent. A
 * certificate not signed by tls_ca, or not for the request URI's host,
 * ends the call at once with 503; Sofia still verifies its own connection's
 * chain (TPTAG_TLS_VERIFY_POLICY in ua.c).
 * Signalling thread only. A lookup holds a reference on its call while
 * attached; once detached it only waits for GIO's callback to free it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <sofia-sip/hostdomain.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

struct tnd_sipres {
	struct tnd_sipcall *call;    /* ref; NULL once detached */
	GResolver *resolver;         /* owned (GObject ref) */
	GCancellable *cancel;        /* owned */
	GSource *timer;              /* owned: the deadline, or the abort */
	GMainContext *ctx;           /* borrowed: the signalling context */
	bool pending;                /* GIO's callback is still to come */
	bool sips;
	int port;                    /* 0 = from SRV, else the default */
	char transport[8];           /* "udp", "tcp", "tls" or "" */
	char host[256];
	GSocketClient *tls;          /* owned: the certificate check, or NULL */
	GTlsDatabase *db;            /* ref: [sip] tls_ca; NULL = no check */
	bool tls_refused;            /* the peer's certificate failed */
	char hop[128];               /* the looked-up next hop, "" = none */
};

static void res_release(struct tnd_sipres *res)
{
	if (res->tls)
		g_object_unref(res->tls);
	if (res->db)
		g_object_unref(res->db);
	g_object_unref(res->cancel);
	g_object_unref(res->resolver);
	free(res);
}

/* Cuts the lookup from its call: no callback of ours runs after this. */
static void detach(struct tnd_sipres *res)
{
	if (res->timer) {
		g_source_destroy(res->timer);
		g_source_unref(res->timer);
		res->timer = NULL;
	}
	if (res->call) {
		g_cancellable_cancel(res->cancel);
		res->call = tnd_obj_put(res->call);
	}
	if (!res->pending)
		res_release(res);
}

/* The lookup is over: send the INVITE to `next_hop` ("": by the request
 * URI), or without one end the call with `status` (a call that ended
 * meanwhile ends as its hangup said). `next_hop` must not point into res. */
static void conclude(struct tnd_sipres *res, const char *next_hop, int status,
		     const char *phrase)
{
	struct tnd_sipcall *call = tnd_obj_get(res->call);

	call->res = NULL;
	detach(res);
	if (call->state != CS_RESOLVING) {
		tnd_sipcall_finish(call, SIP_487_REQUEST_TERMINATED);
	} else if (next_hop) {
		/* "": the request URI's own host (an IP literal checked by TLS) */
		TND_LOG_DEBUG(TND_LOG_SIP, "call %s: next hop %s", call->call_id,
			      *next_hop ? next_hop : "of the request URI");
		tnd_sipcall_send_invite(call, *next_hop ? next_hop : NULL);
	} else {
		TND_LOG_INFO(TND_LOG_SIP, "call %s: %d %s", call->call_id, status, phrase);
		tnd_sipcall_set_why(call, TND_SIPCALL_END_NETWORK, status, phrase);
		tnd_sipcall_finish(call, status, phrase);
	}
	tnd_obj_put(call);
}

static gboolean deadline(gpointer data)
{
	struct tnd_sipres *res = data;
	char phrase[64];

	snprintf(phrase, sizeof(phrase), "%s timeout for %.40s", res->tls ? "TLS" : "DNS",
		 res->host);
	conclude(res, NULL, 504, phrase);
	return G_SOURCE_REMOVE;
}

static void set_timer(struct tnd_sipres *res, unsigned ms)
{
	if (res->timer) {
		g_source_destroy(res->timer);
		g_source_unref(res->timer);
	}
	res->timer = g_timeout_source_new(ms);
	g_source_set_callback(res->timer, deadline, res, NULL);
	g_source_attach(res->timer, res->ctx);
}

/* Prefers IPv4: the SIP socket is usually bound to one IPv4 address. */
static GInetAddress *pick(GList *addrs)
{
	GList *l;

	for (l = addrs; l; l = l->next) {
		if (g_inet_address_get_family(l->data) == G_SOCKET_FAMILY_IPV4)
			return l->data;
	}
	return addrs ? addrs->data : NULL;
}

/* Whether the next hop is TLS and certificates are checked. */
static bool wants_tls_check(const struct tnd_sipres *res)
{
	return res->db && (res->sips || !g_ascii_strcasecmp(res->transport, "tls"));
}

/* GIO asks only about a certificate that failed: one that does not chain
 * to tls_ca, is out of date, or names another host than the URI's (RFC
 * 5922 section 7: the request URI's host, not the SRV target or address
 * it resolved to; Sofia's own TPTLS_VERIFY_OUT checks the chain only). */
static gboolean on_accept_cert(GTlsConnection *conn, GTlsCertificate *cert,
			       GTlsCertificateFlags errors, gpointer data)
{
	struct tnd_sipres *res = data;

	(void)conn;
	(void)cert;
	(void)errors;
	res->tls_refused = true;
	return FALSE;
}

static void on_client_event(GSocketClient *client, GSocketClientEvent event,
			    GSocketConnectable *addr, GIOStream *conn, gpointer data)
{
	struct tnd_sipres *res = data;

	(void)client;
	(void)addr;
	if (event != G_SOCKET_CLIENT_TLS_HANDSHAKING || !G_IS_TLS_CONNECTION(conn))
		return;
	g_tls_connection_set_database(G_TLS_CONNECTION(conn), res->db);
	if (G_IS_TLS_CLIENT_CONNECTION(conn)) {
		GSocketConnectable *id = g_network_address_new(res->host, (guint16)(res->port ?
									     res->port : 5061));

		g_tls_client_connection_set_server_identity(G_TLS_CLIENT_CONNECTION(conn), id);
		g_object_unref(id);
	}
	g_signal_connect(conn, "accept-certificate", G_CALLBACK(on_accept_cert), res);
}

static void tls_done(GObject *src, GAsyncResult *ar, gpointer data)
{
	struct tnd_sipres *res = data;
	GSocketConnection *conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(src), ar, NULL);
	char phrase[96], hop[sizeof(res->hop)];

	res->pending = false;
	if (conn) {
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
		g_object_unref(conn);
	}
	if (!res->call) {
		res_release(res);
	} else if (res->tls_refused) {
		snprintf(phrase, sizeof(phrase), "TLS certificate of %.40s not trusted", res->host);
		conclude(res, NULL, 503, phrase);
	} else {
		/* trusted, or no handshake at all (refused, reset): Sofia's own
		 * connection meets the same and reports it */
		memcpy(hop, res->hop, sizeof(hop));     /* conclude frees res */
		conclude(res, hop, 0, NULL);
	}
}

/* Connects to host:port with TLS, checks the certificate, then goes on
 * with res->hop (or the request URI) from tls_done. */
static void check_tls(struct tnd_sipres *res, const char *host)
{
	GSocketConnectable *addr = g_network_address_new(host, (guint16)(res->port ? res->port :
									  5061));

	res->tls = g_socket_client_new();
	g_socket_client_set_tls(res->tls, TRUE);
	g_signal_connect(res->tls, "event", G_CALLBACK(on_client_event), res);
	set_timer(res, res->call->ua->dns_timeout_ms);
	g_main_context_push_thread_default(res->ctx);   /* GIO answers on this one */
	res->pending = true;
	g_socket_client_connect_async(res->tls, addr, res->cancel, tls_done, res);
	g_main_context_pop_thread_default(res->ctx);
	g_object_unref(addr);
}

static void addr_done(GObject *src, GAsyncResult *ar, gpointer data)
{
	struct tnd_sipres *res = data;
	GList *addrs = g_resolver_lookup_by_name_finish(G_RESOLVER(src), ar, NULL);
	GInetAddress *a = pick(addrs);
	char hop[128], phrase[64];

	res->pending = false;
	if (!res->call) {
		res_release(res);
	} else if (!a) {
		snprintf(phrase, sizeof(phrase), "DNS: no address for %.40s", res->host);
		conclude(res, NULL, 503, phrase);
	} else {
		char *ip = g_inet_address_to_string(a);
		bool v6 = g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV6;

		snprintf(hop, sizeof(hop), "%s:%s%s%s:%d%s%s", res->sips ? "sips" : "sip",
			 v6 ? "[" : "", ip, v6 ? "]" : "", res->port,
			 *res->transport ? ";transport=" : "", res->transport);
		if (wants_tls_check(res)) {
			snprintf(res->hop, sizeof(res->hop), "%s", hop);
			check_tls(res, ip);
		} else {
			conclude(res, hop, 0, NULL);
		}
		g_free(ip);
	}
	g_resolver_free_addresses(addrs);
}

static void lookup_addr(struct tnd_sipres *res)
{
	g_main_context_push_thread_default(res->ctx);   /* GIO answers on this one */
	res->pending = true;
	g_resolver_lookup_by_name_async(res->resolver, res->host, res->cancel, addr_done, res);
	g_main_context_pop_thread_default(res->ctx);
}

static void srv_done(GObject *src, GAsyncResult *ar, gpointer data)
{
	struct tnd_sipres *res = data;
	GList *targets = g_resolver_lookup_service_finish(G_RESOLVER(src), ar, NULL);

	res->pending = false;
	if (!res->call) {
		res_release(res);
	} else {
		/* sorted by priority and weight; none: A/AAAA on the name */
		if (targets && strlen(g_srv_target_get_hostname(targets->data)) < sizeof(res->host)) {
			snprintf(res->host, sizeof(res->host), "%s",
				 g_srv_target_get_hostname(targets->data));
			res->port = g_srv_target_get_port(targets->data);
		} else {
			res->port = res->sips ? 5061 : 5060;
		}
		lookup_addr(res);
	}
	g_resolver_free_targets(targets);
}

/* Host, port and transport of `target`; *numeric when nothing is to look up. */
static int parse_target(struct tnd_sipres *res, const char *target, bool *numeric)
{
	char buf[512], maddr[256] = "";
	url_t url;
	const char *host;

	if (strlen(target) >= sizeof(buf))
		return EINVAL;
	strcpy(buf, target);
	memset(&url, 0, sizeof(url));
	if (url_d(&url, buf) < 0 || (url.url_type != url_sip && url.url_type != url_sips))
		return EINVAL;
	res->sips = url.url_type == url_sips;
	if (url.url_params) {
		url_param(url.url_params, "transport", res->transport, sizeof(res->transport));
		url_param(url.url_params, "maddr", maddr, sizeof(maddr));
	}
	host = *maddr ? maddr : url.url_host;
	if (!host || strlen(host) >= sizeof(res->host))
		return EINVAL;
	*numeric = host_is_ip_address(host) || host[0] == '[';
	snprintf(res->host, sizeof(res->host), "%s", host);
	res->port = url.url_port && *url.url_port ? atoi(url.url_port) : 0;
	return 0;
}

int tnd_sipres_start(struct tnd_sipcall *call, const char *target, bool *needed)
{
	struct tnd_sipres *res;
	bool numeric = true;
	const char *proto;
	int err;

	if (!call || !call->ua || !target || !needed)
		return EINVAL;
	*needed = false;
	res = calloc(1, sizeof(*res));
	if (!res)
		return ENOMEM;
	err = parse_target(res, target, &numeric);
	res->db = call->ua->tls_db;
	if (err || (numeric && !wants_tls_check(res))) {
		free(res);
		return err;
	}
	if (res->db)
		g_object_ref(res->db);
	res->ctx = call->ua->ctx;
	res->resolver = g_resolver_get_default();
	res->cancel = g_cancellable_new();
	res->call = tnd_obj_get(call);
	call->res = res;
	*needed = true;
	if (numeric) {
		char host[256];

		/* "[v6]" for the URI is "v6" for a socket address */
		snprintf(host, sizeof(host), "%s", res->host + (res->host[0] == '['));
		if (res->host[0] == '[')
			host[strcspn(host, "]")] = '\0';
		check_tls(res, host);
		return 0;
	}
	set_timer(res, call->ua->dns_timeout_ms);
	if (res->port) {
		lookup_addr(res);
		return 0;
	}
	proto = res->sips || !strcmp(res->transport, "tcp") || !strcmp(res->transport, "tls")
		? "tcp" : "udp";
	g_main_context_push_thread_default(res->ctx);
	res->pending = true;
	g_resolver_lookup_service_async(res->resolver, res->sips ? "sips" : "sip", proto,
					res->host, res->cancel, srv_done, res);
	g_main_context_pop_thread_default(res->ctx);
	return 0;
}

void tnd_sipres_abort(struct tnd_sipres *res)
{
	if (res && res->call)
		set_timer(res, 0);
}

void tnd_sipres_free(struct tnd_sipres *res)
{
	if (res)
		detach(res);
}
