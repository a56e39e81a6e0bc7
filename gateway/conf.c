/* The option table and its loading: see conf.h. Every key the gateway reads
 * is a row here; nothing else reads the file. */
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
#include "gateway/policy/policy.h"

#define OFF(f) offsetof(struct tnd_conf, f)
#define CONF_MAX_USERS 10000

static int check_levels(const char *v, char *err, size_t errlen)
{
	if (tnd_log_parse_levels(v, true)) {
		snprintf(err, errlen, "'%s' is not a level list such as \"info\" or "
			 "\"warn,api=debug\" (levels: error warn notice info debug; modules: "
			 "main conf api policy sip webrtc media codecs lib)", v);
		return EINVAL;
	}
	return 0;
}

static int check_addr(const char *v, char *err, size_t errlen)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1)
		return 0;
	snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", v);
	return EINVAL;
}

static int check_path(const char *v, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) > 128 || strpbrk(v, " ?#")) {
		snprintf(err, errlen, "'%s' must start with / and hold no space, ? or #", v);
		return EINVAL;
	}
	return 0;
}

static int check_readable(const char *v, char *err, size_t errlen)
{
	if (*v && access(v, R_OK)) {
		snprintf(err, errlen, "cannot read '%s': %s", v, strerror(errno));
		return EINVAL;
	}
	return 0;
}

static int check_addr_list(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *p && !e; p++, n++)
		e = check_addr(g_strstrip(*p), err, errlen);
	g_strfreev(parts);
	if (!e && (n == 0 || n > 16)) {
		snprintf(err, errlen, "give 1 to 16 addresses, separated by commas");
		e = EINVAL;
	}
	return e;
}

/* "IP/len" prefixes separated by commas (IPv4 or IPv6), or empty. */
static int check_cidr_list(const char *v, char *err, size_t errlen)
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
		e = check_addr(*p, err, errlen);
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
static int check_hostport(const char *v, char *err, size_t errlen)
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
	if (*end || port < 1 || port > 65535 || check_addr(host, err, errlen))
		goto bad;
	return 0;
 bad:
	snprintf(err, errlen, "'%s' is not IP:port (names are not resolved)", v);
	return EINVAL;
}

static int check_sip_uri(const char *v, char *err, size_t errlen)
{
	if (!*v || !strncmp(v, "sip:", 4) || !strncmp(v, "sips:", 5))
		return 0;
	snprintf(err, errlen, "'%s' is not a sip: or sips: URI", v);
	return EINVAL;
}

static int check_patterns(const char *v, char *err, size_t errlen)
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

static const char *const auth_modes[] = { "none", "users", NULL };

static const struct tnd_opt opts[] = {
	{ "log", "level", TND_OPT_STR, "info", 0, 0, NULL, OFF(log_level), check_levels,
	  "Log level: error, warn, notice, info or debug, optionally followed by per-module "
	  "levels, e.g. \"info,sip=debug\". Reloaded on SIGHUP." },
	{ "log", "file", TND_OPT_STR, "", 0, 0, NULL, OFF(log_file), NULL,
	  "Log file, appended to and reopened on SIGHUP (for rotation). Empty logs to "
	  "stderr." },

	{ "websocket", "listen", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(ws_listen), check_addr,
	  "Address the signalling WebSocket listens on. Needs a restart to change." },
	{ "websocket", "port", TND_OPT_INT, "8088", 1, 65535, NULL, OFF(ws_port), NULL,
	  "TCP port of the signalling WebSocket. Needs a restart to change." },
	{ "websocket", "path", TND_OPT_STR, "/ws", 0, 0, NULL, OFF(ws_path), check_path,
	  "HTTP path of the WebSocket; other paths are refused." },
	{ "websocket", "cert", TND_OPT_STR, "", 0, 0, NULL, OFF(ws_cert), check_readable,
	  "PEM certificate chain. When set (with key), the socket speaks wss:// only." },
	{ "websocket", "key", TND_OPT_STR, "", 0, 0, NULL, OFF(ws_key), check_readable,
	  "PEM private key of the certificate." },
	{ "websocket", "max_connections", TND_OPT_INT, "1024", 1, 100000, NULL,
	  OFF(ws_max_connections), NULL,
	  "Open WebSockets at most; further ones are refused." },
	{ "websocket", "max_pending_kib", TND_OPT_INT, "1024", 64, 65536, NULL,
	  OFF(ws_max_pending_kib), NULL,
	  "Unsent data allowed to queue for a client that does not read; past it the "
	  "connection is closed (1008)." },

	{ "auth", "mode", TND_OPT_ENUM, "none", 0, 0, auth_modes, OFF(auth_mode), NULL,
	  "none: any user name may log in without a password (allowed only while "
	  "[websocket] listen is a loopback address). users: log in with a password from "
	  "[users] or a token from an earlier login." },
	{ "auth", "token_lifetime", TND_OPT_INT, "3600", 60, 2592000, NULL, OFF(token_lifetime),
	  NULL, "Seconds a login token stays valid for logging in again." },
	{ "auth", "max_failures", TND_OPT_INT, "5", 1, 1000, NULL, OFF(login_max_failures), NULL,
	  "Failed logins from one address before it is locked out (error 429)." },
	{ "auth", "lockout", TND_OPT_INT, "60", 1, 86400, NULL, OFF(login_lockout), NULL,
	  "Seconds an address stays locked out; failures older than this are forgotten." },

	{ "sip", "listen", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(sip_listen), check_addr,
	  "Address of the SIP user agent. Needs a restart to change." },
	{ "sip", "port", TND_OPT_INT, "5060", 1, 65535, NULL, OFF(sip_port), NULL,
	  "SIP port, for every enabled transport. Needs a restart to change." },
	{ "sip", "udp", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(sip_udp), NULL,
	  "Listen for SIP over UDP." },
	{ "sip", "tcp", TND_OPT_BOOL, "true", 0, 0, NULL, OFF(sip_tcp), NULL,
	  "Listen for SIP over TCP." },
	{ "sip", "outbound_proxy", TND_OPT_STR, "", 0, 0, NULL, OFF(sip_outbound_proxy),
	  check_sip_uri,
	  "SIP URI every outgoing request is sent through (e.g. sip:127.0.0.1:5070;lr). "
	  "Empty sends to the request URI's host." },
	{ "sip", "dns_timeout", TND_OPT_INT, "5", 1, 60, NULL, OFF(sip_dns_timeout), NULL,
	  "Seconds an outgoing call may spend looking up its next hop's host name (SRV, "
	  "then A/AAAA) before it ends with 504. Lookups never block the gateway." },

	{ "media", "workers", TND_OPT_INT, "2", 1, 64, NULL, OFF(media_workers), NULL,
	  "Media worker threads. A call's media stays on one worker; give about one per "
	  "core. Needs a restart to change." },
	{ "media", "ice_addresses", TND_OPT_STR, "127.0.0.1", 0, 0, NULL,
	  OFF(media_ice_addresses), check_addr_list,
	  "Addresses offered to browsers as ICE host candidates, separated by commas "
	  "(loopback works too: they are added explicitly)." },
	{ "media", "rtp_address", TND_OPT_STR, "127.0.0.1", 0, 0, NULL, OFF(media_rtp_address),
	  check_addr, "Address of the RTP sockets toward SIP peers, as put in SDP." },
	{ "media", "port_min", TND_OPT_INT, "20000", 1024, 65534, NULL, OFF(media_port_min),
	  NULL, "Lowest UDP port for media (ICE and RTP)." },
	{ "media", "port_max", TND_OPT_INT, "29999", 1025, 65535, NULL, OFF(media_port_max),
	  NULL, "Highest UDP port for media." },
	{ "media", "stun_server", TND_OPT_STR, "", 0, 0, NULL, OFF(media_stun_server),
	  check_hostport, "STUN server (IP:port) for server-reflexive ICE candidates; empty "
	  "for none." },
	{ "media", "turn_server", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_server),
	  check_hostport, "TURN server (IP:port, UDP) for relayed ICE candidates; empty for "
	  "none." },
	{ "media", "turn_user", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_user), NULL,
	  "TURN user name." },
	{ "media", "turn_password", TND_OPT_STR, "", 0, 0, NULL, OFF(media_turn_password), NULL,
	  "TURN password." },
	{ "media", "turn_only", TND_OPT_BOOL, "false", 0, 0, NULL, OFF(media_turn_only), NULL,
	  "Offer browsers only TURN relayed candidates and send all their media through the "
	  "TURN server: hides the gateway's addresses. Needs turn_server." },
	{ "media", "timeout", TND_OPT_INT, "30", 0, 3600, NULL, OFF(media_timeout), NULL,
	  "Seconds without any RTP or RTCP from a leg (the SIP peer or the browser) after "
	  "which the call ends: BYE to the SIP side, and `ended` with the reason to the "
	  "browser. 0 never ends a call for silence." },
	{ "media", "strict_source", TND_OPT_BOOL, "false", 0, 0, NULL,
	  OFF(media_strict_source), NULL,
	  "Accept SIP-side RTP only from the address in the peer's SDP (and port changes "
	  "from that IP). Off: a source is also learned from another address early in "
	  "the call, after probation, for peers behind NAT." },
	{ "media", "candidate_deny", TND_OPT_STR,
	  "0.0.0.0/8,169.254.0.0/16,224.0.0.0/3,fe80::/10,ff00::/8", 0, 0, NULL,
	  OFF(media_candidate_deny), check_cidr_list,
	  "Address prefixes (IP/len, separated by commas) that browsers' ICE candidates may "
	  "not point at: the gateway never sends ICE checks there. Add your internal "
	  "networks (e.g. 10.0.0.0/8) when browsers are not on them." },
	{ "media", "socket_buffer", TND_OPT_INT, "16", 4, 4096, NULL, OFF(media_socket_buffer),
	  NULL,
	  "Receive buffer of each media socket, KiB (the kernel doubles it). It bounds how "
	  "late a packet can be when a worker falls behind: past capacity, a small buffer "
	  "drops packets where a large one delays every packet by seconds. 16 KiB holds "
	  "about 20 audio packets (400 ms)." },
	{ "media", "max_load", TND_OPT_INT, "90", 0, 100, NULL, OFF(media_max_load), NULL,
	  "Percent of a core a media worker may be busy before it takes no new call; new "
	  "calls get 503 when every worker is past it. 0: no limit." },
	{ "media", "max_calls", TND_OPT_INT, "1000", 1, 100000, NULL, OFF(max_calls), NULL,
	  "Calls at once; further calls get 503 (JSON-RPC) or 503 Service Unavailable "
	  "(SIP)." },

	{ "calls", "allow", TND_OPT_STR, "*", 0, 0, NULL, OFF(calls_allow), check_patterns,
	  "Who browsers may call: comma-separated glob patterns matched against the whole "
	  "`to` URI, e.g. \"sip:*@pbx.example, tel:+4930*\". * and ? never match @ ; ? : "
	  "< > \" or space, so a host cannot be smuggled in (write sip:*@pbx.example:* to "
	  "allow any port); * alone allows everything. A call to anything else gets 403. "
	  "Empty allows nothing. Reloaded on SIGHUP." },
};

static int add_user(void *data, const char *key, const char *value, char *err, size_t errlen)
{
	struct tnd_conf *conf = data;
	struct tnd_conf_user *u;
	int e;

	e = tnd_policy_user_name_check(key);
	if (e) {
		snprintf(err, errlen, "user names are 1 to 64 letters, digits, or . _ - +");
		return EINVAL;
	}
	e = tnd_passwd_check_format(value);
	if (e) {
		snprintf(err, errlen, "not a password hash; make one with "
			 "`tandem --hash-password` (pbkdf2-sha256$ITERATIONS$SALT$HASH)");
		return EINVAL;
	}
	if (conf->n_users == CONF_MAX_USERS) {
		snprintf(err, errlen, "more than %d users", CONF_MAX_USERS);
		return EINVAL;
	}
	u = realloc(conf->users, (conf->n_users + 1) * sizeof(*u));
	if (!u)
		return ENOMEM;
	conf->users = u;
	u = &conf->users[conf->n_users];
	u->name = strdup(key);
	u->hash = strdup(value);
	if (!u->name || !u->hash) {
		free(u->name);
		free(u->hash);
		return ENOMEM;
	}
	conf->n_users++;
	return 0;
}

static const struct tnd_opt_map maps[] = {
	{ "users", add_user,
	  "One line per user who may log in when [auth] mode = users: NAME = password hash "
	  "from `tandem --hash-password`. A user NAME logged in is reachable from SIP as "
	  "sip:NAME@gateway. Reloaded on SIGHUP.",
	  "# alice = pbkdf2-sha256$200000$...$...\n" },
};

static const struct tnd_opt_table table = {
	opts, sizeof(opts) / sizeof(opts[0]), maps, sizeof(maps) / sizeof(maps[0]),
};

void tnd_conf_print_help(FILE *out)
{
	tnd_opt_print_help(&table, out);
}

void tnd_conf_print_example(FILE *out)
{
	tnd_opt_print_example(&table, out);
}

void tnd_conf_free(struct tnd_conf *conf)
{
	if (!conf)
		return;
	tnd_opt_release(&table, conf);
	for (size_t i = 0; i < conf->n_users; i++) {
		free(conf->users[i].name);
		/* the hash is a secret of sorts: do not leave it in freed memory */
		explicit_bzero(conf->users[i].hash, strlen(conf->users[i].hash));
		free(conf->users[i].hash);
	}
	free(conf->users);
	free(conf->source);
	free(conf);
}

const struct tnd_conf_user *tnd_conf_user_find(const struct tnd_conf *conf, const char *name)
{
	for (size_t i = 0; conf && name && i < conf->n_users; i++)
		if (!strcmp(conf->users[i].name, name))
			return &conf->users[i];
	return NULL;
}

static unsigned line_of(const struct tnd_ini *ini, const char *section, const char *key)
{
	for (size_t i = 0; ini && i < ini->count; i++)
		if (!strcmp(ini->entries[i].section, section) && !strcmp(ini->entries[i].key, key))
			return ini->entries[i].line;
	return 0;
}

static int is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

/* Rules that tie keys together, checked after every key parsed alone. */
static int cross_check(const struct tnd_conf *c, const struct tnd_ini *ini, const char *name,
		       char *err, size_t errlen)
{
	const char *section = NULL, *key = NULL, *why = NULL;

	if (!*c->ws_cert != !*c->ws_key) {
		section = "websocket";
		key = *c->ws_cert ? "cert" : "key";
		why = "cert and key must be set together";
	} else if (c->auth_mode == TND_AUTH_NONE && !is_loopback(c->ws_listen)) {
		section = "auth";
		key = "mode";
		why = "mode = none lets anyone reach the SIP side: it is allowed only while "
		      "[websocket] listen is a loopback address";
	} else if (c->auth_mode == TND_AUTH_USERS && c->n_users == 0) {
		section = "auth";
		key = "mode";
		why = "mode = users needs at least one user in [users]";
	} else if (c->media_port_min >= c->media_port_max) {
		section = "media";
		key = "port_min";
		why = "port_min must be below port_max";
	} else if (c->media_turn_only && !*c->media_turn_server) {
		section = "media";
		key = "turn_only";
		why = "turn_only needs turn_server";
	} else if (*c->media_turn_server && !*c->media_turn_user) {
		section = "media";
		key = "turn_user";
		why = "a TURN server needs turn_user and turn_password";
	} else if (!c->sip_udp && !c->sip_tcp) {
		section = "sip";
		key = "udp";
		why = "enable at least one of udp and tcp";
	}
	if (!why)
		return 0;
	if (line_of(ini, section, key))
		snprintf(err, errlen, "%s:%u: [%s] %s: %s", name, line_of(ini, section, key),
			 section, key, why);
	else
		snprintf(err, errlen, "%s: [%s] %s (default): %s", name, section, key, why);
	return EINVAL;
}

int tnd_conf_load_text(struct tnd_conf **confp, const char *name, const char *text, size_t len,
		       char *err, size_t errlen)
{
	struct tnd_ini *ini = NULL;
	struct tnd_conf *conf;
	char why[512];
	int e;

	if (!confp || !name || (!text && len) || !err || !errlen)
		return EINVAL;
	err[0] = '\0';
	conf = calloc(1, sizeof(*conf));
	if (!conf)
		return ENOMEM;
	conf->source = strdup(name);
	e = conf->source ? tnd_opt_defaults(&table, conf) : ENOMEM;
	if (e)
		goto out;
	if (text) {
		e = tnd_ini_parse(&ini, text, len, why, sizeof(why));
		if (e == EBADMSG) {
			snprintf(err, errlen, "%s:%s", name, why + strlen("line "));
			e = EINVAL;
		}
		if (e)
			goto out;
		e = tnd_opt_apply(&table, conf, ini, name, err, errlen);
		if (e)
			goto out;
	}
	e = cross_check(conf, ini, name, err, errlen);
 out:
	tnd_ini_free(ini);
	if (e)
		tnd_conf_free(conf);
	else
		*confp = conf;
	return e;
}

int tnd_conf_load(struct tnd_conf **confp, const char *path, char *err, size_t errlen)
{
	GError *gerr = NULL;
	gchar *text;
	gsize len;
	int e;

	if (!path)
		return tnd_conf_load_text(confp, "(embedded default)", NULL, 0, err, errlen);
	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		snprintf(err, errlen, "%s: %s", path, gerr->message);
		g_error_free(gerr);
		return ENOENT;
	}
	if (len > 1024 * 1024) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		g_free(text);
		return EINVAL;
	}
	e = tnd_conf_load_text(confp, path, text, len, err, errlen);
	g_free(text);
	return e;
}
