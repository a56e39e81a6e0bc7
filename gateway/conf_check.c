/* The option table's value checks (conf_int.h): addresses, hosts, paths,
 * lists, URIs and patterns, each with a reason in words when it refuses.
 * conf.c names them in its rows; the loader calls them per value. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "gateway/base/ini.h"
#include "gateway/base/log.h"
#include "gateway/base/opt.h"
#include "gateway/conf.h"
#include "gateway/conf_int.h"
#include "gateway/policy/dialplan.h"
#include "gateway/policy/policy.h"

int tnd_conf_check_levels(const char *v, char *err, size_t errlen)
{
	if (tnd_log_parse_levels(v, true)) {
		snprintf(err, errlen, "'%s' is not a level list such as \"info\" or "
			 "\"warn,api=debug\" (levels: error warn notice info debug; modules: "
			 "main conf api policy sip webrtc media codecs lib)", v);
		return EINVAL;
	}
	return 0;
}

int tnd_conf_check_addr(const char *v, char *err, size_t errlen)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", v);
	return EINVAL;
}

/* A host name or IP literal for [sip] external_address. */
int tnd_conf_check_host(const char *v, char *err, size_t errlen)
{
	unsigned char buf[16];
	size_t n = strlen(v);

	if (!n || inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	if (n <= 253 && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789.-") == n && v[0] != '-' && v[0] != '.')
		return 0;
	snprintf(err, errlen, "'%s' is not a host name or IP address", v);
	return EINVAL;
}

int tnd_conf_check_path(const char *v, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) > 128 || strpbrk(v, " ?#")) {
		snprintf(err, errlen, "'%s' must start with / and hold no space, ? or #", v);
		return EINVAL;
	}
	return 0;
}

int tnd_conf_check_readable(const char *v, char *err, size_t errlen)
{
	if (*v && access(v, R_OK)) {
		snprintf(err, errlen, "cannot read '%s': %s", v, strerror(errno));
		return EINVAL;
	}
	return 0;
}

int tnd_conf_check_addr_list(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *p && !e; p++, n++)
		e = tnd_conf_check_addr(g_strstrip(*p), err, errlen);
	g_strfreev(parts);
	if (!e && (n == 0 || n > 16)) {
		snprintf(err, errlen, "give 1 to 16 addresses, separated by commas");
		e = EINVAL;
	}
	return e;
}

/* A comma-separated list of names from known[n], each once, at least one
 * (case-insensitive when nocase). `list` names them all for the error,
 * `what` one of them. */
static int check_names(const char *v, const char *const *known, unsigned n, bool nocase,
		       const char *list, const char *what, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	unsigned seen = 0;
	int e = 0;

	for (char **p = parts; *p && !e; p++) {
		const char *s = g_strstrip(*p);
		unsigned i;

		for (i = 0; i < n; i++)
			if (nocase ? !g_ascii_strcasecmp(s, known[i]) : !strcmp(s, known[i]))
				break;
		if (i == n || seen & 1u << i) {
			snprintf(err, errlen, "a comma-separated list of %s, each once", list);
			e = EINVAL;
		}
		seen |= 1u << (i & 7);
	}
	g_strfreev(parts);
	if (!e && !seen) {
		snprintf(err, errlen, "name at least one %s", what);
		e = EINVAL;
	}
	return e;
}

/* [media] sip_srtp_suites: SDES suites (RFC 4568 6.2, RFC 7714 12), each once */
int tnd_conf_check_srtp_suites(const char *v, char *err, size_t errlen)
{
	static const char *const known[] = { "AES_CM_128_HMAC_SHA1_80",
		"AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM" };

	return check_names(v, known, G_N_ELEMENTS(known), false, "AES_CM_128_HMAC_SHA1_80, "
			   "AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM and AEAD_AES_256_GCM",
			   "suite", err, errlen);
}

/* [media] sip_codecs: names the codec table has (codecs/codecs.h), each
 * once; iLBC is accepted and offered once its row is built. */
int tnd_conf_check_codec_list(const char *v, char *err, size_t errlen)
{
	static const char *const known[] = { "PCMU", "PCMA", "G722", "G729", "opus", "iLBC" };

	return check_names(v, known, G_N_ELEMENTS(known), true,
			   "PCMU, PCMA, G722, G729, opus and iLBC", "codec", err, errlen);
}

/* "IP/len" prefixes separated by commas (IPv4 or IPv6), or empty. */
int tnd_conf_check_cidr_list(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *v && *p && !e; p++, n++) {
		char *slash, *end;
		long len;
		int max;

		g_strstrip(*p);
		slash = strchr(*p, '/');
		if (slash)
			*slash = '\0';
		e = tnd_conf_check_addr(*p, err, errlen);
		if (e)
			break;
		max = strchr(*p, ':') ? 128 : 32;
		len = slash ? strtol(slash + 1, &end, 10) : max;
		if (slash && (!slash[1] || *end || len < 0 || len > max)) {
			snprintf(err, errlen, "'%s/%s': prefix length must be 0..%d", *p,
				 slash + 1, max);
			e = EINVAL;
		}
	}
	g_strfreev(parts);
	if (!e && n > 64) {
		snprintf(err, errlen, "at most 64 prefixes");
		e = EINVAL;
	}
	return e;
}

/* "IP:port" or "[IPv6]:port", or empty. */
int tnd_conf_check_hostport(const char *v, char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	char *end;
	long port;

	if (!*v)
		return 0;
	colon = strrchr(v, ':');
	if (!colon || (size_t)(colon - v) >= sizeof(host))
		goto bad;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || tnd_conf_check_addr(host, err, errlen))
		goto bad;
	return 0;
 bad:
	snprintf(err, errlen, "'%s' is not IP:port (names are not resolved)", v);
	return EINVAL;
}

/* "1.2.3.4, 10.0.0.0/8, ::1, fd00::/8" or empty ([sip] trusted) */
int tnd_conf_check_prefix_list(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *p && !e; p++) {
		char *s = g_strstrip(*p), *slash = strchr(s, '/'), *end;
		unsigned char buf[16];
		long bits = 0, max;
		char entry[64];

		if (!*s)
			continue;
		snprintf(entry, sizeof(entry), "%s", s);
		if (slash)
			*slash++ = '\0';
		max = inet_pton(AF_INET, s, buf) == 1 ? 32 : inet_pton(AF_INET6, s, buf) == 1 ?
			128 : -1;
		if (slash)
			bits = strtol(slash, &end, 10);
		if (max < 0 || (slash && (!*slash || *end || bits < 0 || bits > max))) {
			snprintf(err, errlen, "'%s' is not an IP address or CIDR prefix (names are "
				 "not resolved)", entry);
			e = EINVAL;
		}
		n++;
	}
	g_strfreev(parts);
	if (!e && n > 64) {
		snprintf(err, errlen, "at most 64 prefixes");
		e = EINVAL;
	}
	return e;
}

/* "*" or a prefix list ([websocket] health_allow) */
int tnd_conf_check_allow_list(const char *v, char *err, size_t errlen)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (v[0] == '*' && !v[1 + strspn(v + 1, " \t")])
		return 0;
	return tnd_conf_check_prefix_list(v, err, errlen);
}

int tnd_conf_check_sip_uri(const char *v, char *err, size_t errlen)
{
	if (!*v || !strncmp(v, "sip:", 4) || !strncmp(v, "sips:", 5))
		return 0;
	snprintf(err, errlen, "'%s' is not a sip: or sips: URI", v);
	return EINVAL;
}

int tnd_conf_check_patterns(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *p; p++) {
		const char *s = g_strstrip(*p);

		if (!*s || strlen(s) > 256 || strpbrk(s, " \t")) {
			snprintf(err, errlen, "patterns are comma-separated globs without spaces, "
				 "e.g. sip:*@pbx.example, tel:+4930*");
			e = EINVAL;
			break;
		}
		n++;
	}
	g_strfreev(parts);
	if (!e && n > 64) {
		snprintf(err, errlen, "at most 64 patterns");
		e = EINVAL;
	}
	return e;
}

/* "http://host[:port]/path" or empty ([events] webhook): plain HTTP only,
 * the receiver is expected on a trusted network. */
int tnd_conf_check_http_url(const char *v, char *err, size_t errlen)
{
	const char *host = v + 7, *end, *colon;
	char *pe;
	long port;

	if (!*v)
		return 0;
	if (strncmp(v, "http://", 7) || strpbrk(v, " \t\r\n") || strlen(v) > 512)
		goto bad;
	end = host + strcspn(host, "/?#");
	if (end == host || (*host == '[' && !memchr(host, ']', (size_t)(end - host))))
		goto bad;
	/* the port after the host (after "]" for an IPv6 literal) */
	colon = *host == '[' ? (const char *)memchr(host, ']', (size_t)(end - host)) + 1 :
		memchr(host, ':', (size_t)(end - host));
	if (colon && colon < end && *colon == ':') {
		port = strtol(colon + 1, &pe, 10);
		if (pe != end || port < 1 || port > 65535)
			goto bad;
	} else if (colon && colon < end) {
		goto bad;
	}
	return 0;
 bad:
	snprintf(err, errlen, "'%s' is not an http://host[:port]/path URL", v);
	return EINVAL;
}
