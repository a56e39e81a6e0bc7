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
};

static void res_release(struct tnd_sipres *res)
{
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

/* The lookup is over: send the INVITE to `next_hop`, or end the call with
 * `status` (a call that ended meanwhile ends as its hangup said). */
static void conclude(struct tnd_sipres *res, const char *next_hop, int status,
		     const char *phrase)
{
	struct tnd_sipcall *call = tnd_obj_get(res->call);

	call->res = NULL;
	detach(res);
	if (call->state != CS_RESOLVING) {
		tnd_sipcall_finish(call, SIP_487_REQUEST_TERMINATED);
	} else if (next_hop) {
		TND_LOG_DEBUG(TND_LOG_SIP, "call %s: next hop %s", call->call_id, next_hop);
		tnd_sipcall_send_invite(call, next_hop);
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

	snprintf(phrase, sizeof(phrase), "DNS timeout for %.40s", res->host);
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
		g_free(ip);
		conclude(res, hop, 0, NULL);
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
	if (err || numeric) {
		free(res);
		return err;
	}
	res->ctx = call->ua->ctx;
	res->resolver = g_resolver_get_default();
	res->cancel = g_cancellable_new();
	res->call = tnd_obj_get(call);
	call->res = res;
	*needed = true;
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
