/* The WebSocket rules that do not need a socket, kept apart from ws.c so that
 * unit tests and fuzzers drive them without libwebsockets: message
 * reassembly with the 64 KiB limit (RFC 6455 section 5.4), the
 * Sec-WebSocket-Protocol list (section 4.2.1 item 8: a comma-separated list
 * of tokens, any length), the Origin rule of [websocket] origins
 * (section 10.2: the server decides which pages may connect) and the
 * address allow-list of the health probes ([websocket] health_allow). Pure
 * functions; any thread. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "gateway/api/api_int.h"
#include "gateway/conf.h"

/* Appends a piece; false when the message would pass the limit or memory
 * runs out (either way the message is then refused as too big). */
static bool rx_append(struct tnd_api_wsrx *rx, const void *in, size_t len)
{
	if (rx->len + len > TND_API_MAX_FRAME)
		return false;
	if (rx->len + len > rx->cap) {
		size_t cap = rx->cap ? rx->cap * 2 : 4096;
		unsigned char *n;

		while (cap < rx->len + len)
			cap *= 2;
		n = realloc(rx->buf, cap);
		if (!n)
			return false;
		rx->buf = n;
		rx->cap = cap;
	}
	if (len)
		memcpy(rx->buf + rx->len, in, len);
	rx->len += len;
	return true;
}

void tnd_api_wsrx_feed(struct tnd_api_wsrx *rx, bool first, bool last, bool binary,
		       const void *in, size_t len, tnd_api_wsrx_h *h, void *arg)
{
	if (first && !rx->len && !rx->too_big)
		rx->binary = binary;
	if (first && last && !rx->len && !rx->too_big) {
		/* the usual case, a whole small message: no copy */
		h(arg, rx->binary ? TND_API_FRAME_BINARY : len > TND_API_MAX_FRAME ?
		  TND_API_FRAME_TOO_BIG : TND_API_FRAME_TEXT, in, len);
		return;
	}
	if (!rx->too_big && !rx_append(rx, in, len))
		rx->too_big = true;
	if (!last)
		return;
	h(arg, rx->too_big ? TND_API_FRAME_TOO_BIG : rx->binary ? TND_API_FRAME_BINARY :
	  TND_API_FRAME_TEXT, (const char *)rx->buf, rx->len);
	rx->len = 0;
	rx->too_big = false;
	/* keep a small buffer for the next message; give back large ones */
	if (rx->cap > 16384)
		tnd_api_wsrx_reset(rx);
}

void tnd_api_wsrx_reset(struct tnd_api_wsrx *rx)
{
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

bool tnd_api_list_has(const char *list, const char *tok, bool nocase)
{
	size_t n = strlen(tok);

	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t len = end ? (size_t)(end - list) : strlen(list);

		while (len && (*list == ' ' || *list == '\t')) {
			list++;
			len--;
		}
		while (len && (list[len - 1] == ' ' || list[len - 1] == '\t'))
			len--;
		if (len == n && !(nocase ? g_ascii_strncasecmp(list, tok, n) : memcmp(list, tok, n)))
			return true;
		list = end ? end + 1 : NULL;
	}
	return false;
}

bool tnd_api_ws_offers(const char *list, const char *name)
{
	/* subprotocol names are tokens compared exactly (RFC 6455 4.1) */
	return tnd_api_list_has(list, name, false);
}

/* The host part of "scheme://host[:port]" is a loopback name or address, or
 * the address we listen on. */
static bool origin_is_local(const char *origin, const char *listen)
{
	char host[256];
	const char *h, *end;
	struct in_addr a4;
	size_t len;

	if (!strncasecmp(origin, "http://", 7))
		h = origin + 7;
	else if (!strncasecmp(origin, "https://", 8))
		h = origin + 8;
	else
		return false;   /* "null" (file://, sandboxed frames) and others */
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return false;
		end++;
	} else {
		end = h + strcspn(h, ":/");
	}
	if (*end && *end != ':' && *end != '/')
		return false;
	len = (size_t)(end - h);
	if (!len || len >= sizeof(host))
		return false;
	memcpy(host, h, len);
	host[len] = '\0';
	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, listen))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool tnd_api_ws_origin_ok(const struct tnd_conf *conf, const char *origin)
{
	bool ok = false;
	char **list;

	if (!origin)
		return true;   /* not a browser: Origin is a browser's promise */
	if (*conf->ws_origins) {
		list = g_strsplit(conf->ws_origins, ",", 0);
		for (char **o = list; *o && !ok; o++) {
			const char *want = g_strstrip(*o);
			size_t n = strlen(want);

			while (n && want[n - 1] == '/')
				n--;
			ok = !strcmp(want, "*") ||
			     (n && strlen(origin) == n && !strncasecmp(origin, want, n));
		}
		g_strfreev(list);
		return ok;
	}
	/* with auth = users a page still needs a password or token; with none,
	 * any page the user visits could drive the gateway, so only pages
	 * served from this machine may */
	if (conf->auth_mode != TND_AUTH_NONE)
		return true;
	return origin_is_local(origin, conf->ws_listen);
}

/* addr within prefix/bits, both in network order, len 4 or 16 bytes. */
static bool prefix_has(const unsigned char *net, const unsigned char *addr, long bits)
{
	long whole = bits / 8, rest = bits % 8;

	if (memcmp(net, addr, (size_t)whole))
		return false;
	return !rest || !((net[whole] ^ addr[whole]) & (0xff << (8 - rest)));
}

/* One entry of the list: an address or CIDR prefix, v4 or v6. A v4 client
 * on a dual-stack socket shows as ::ffff:a.b.c.d: it is matched as v4. */
static bool entry_has(const char *entry, const unsigned char *a4, bool is4,
		      const unsigned char *a6)
{
	char s[64], *slash, *end;
	unsigned char net[16];
	long bits;

	snprintf(s, sizeof(s), "%s", entry);
	slash = strchr(s, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, s, net) == 1) {
		bits = slash ? strtol(slash, &end, 10) : 32;
		return is4 && bits >= 0 && bits <= 32 && prefix_has(net, a4, bits);
	}
	if (inet_pton(AF_INET6, s, net) == 1) {
		bits = slash ? strtol(slash, &end, 10) : 128;
		return !is4 && bits >= 0 && bits <= 128 && prefix_has(net, a6, bits);
	}
	return false;
}

bool tnd_api_ws_addr_allowed(const char *list, const char *addr)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a4[4], a6[16];
	bool is4, ok = false;
	char **parts;

	if (!list || !addr)
		return false;
	while (*list == ' ' || *list == '\t')
		list++;
	if (list[0] == '*' && !list[1 + strspn(list + 1, " \t")])
		return true;
	is4 = inet_pton(AF_INET, addr, a4) == 1;
	if (!is4) {
		if (inet_pton(AF_INET6, addr, a6) != 1)
			return false;   /* unknown peer: only "*" lets it in */
		if (!memcmp(a6, mapped, sizeof(mapped))) {
			memcpy(a4, a6 + 12, 4);
			is4 = true;
		}
	}
	parts = g_strsplit(list, ",", 0);
	for (char **p = parts; *p && !ok; p++)
		ok = entry_has(g_strstrip(*p), a4, is4, a6);
	g_strfreev(parts);
	return ok;
}
