/* Trunks and dial-plan rules from the configuration: see dialplan.h.
 *
 * Parsing happens once per load (start-up, SIGHUP) on the signalling thread;
 * the result is read-only, so matching is a pure function any thread may
 * call. Rules are tried in file order: the first one that matches the
 * number and that the user may use wins, and a caller that finds all of
 * its trunks down asks for the next one (failover). The config is the
 * input here (fuzzed by tests/fuzz/fuzz_dialplan.c): every bad line gets
 * EINVAL and a reason, never a crash. E.164 (ITU-T E.164) numbers are at
 * most 15 digits; dial strings are allowed 32 characters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>

#include "gateway/policy/dialplan.h"

#define MAX_TRUNKS 256
#define MAX_RULES 1024
#define MAX_DIDS 10000
#define MAX_DIGITS 32

static void trunk_free(struct tnd_trunk *t)
{
	g_free(t->name);
	g_free(t->address);
	g_free(t->transport);
	g_free(t->auth_user);
	if (t->password)
		explicit_bzero(t->password, strlen(t->password));
	g_free(t->password);
	g_free(t->codecs);
	g_free(t->from);
	g_free(t->registrar);
	for (size_t i = 0; i < t->n_dids; i++) {
		g_free(t->dids[i].number);
		g_free(t->dids[i].target);
	}
	g_free(t->dids);
}

static void rule_free(struct tnd_dialrule *r)
{
	g_free(r->name);
	g_free(r->prefix);
	if (r->re)
		g_regex_unref(r->re);
	g_strfreev(r->trunks);
	g_free(r->prepend);
	g_strfreev(r->users);
}

void tnd_dialplan_free(struct tnd_dialplan *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; i < dp->n_trunks; i++)
		trunk_free(&dp->trunks[i]);
	g_free(dp->trunks);
	for (size_t i = 0; i < dp->n_rules; i++)
		rule_free(&dp->rules[i]);
	g_free(dp->rules);
	g_free(dp);
}

static struct tnd_dialplan *dp_get(struct tnd_dialplan **dpp)
{
	if (!*dpp)
		*dpp = g_new0(struct tnd_dialplan, 1);
	return *dpp;
}

/* ------------------------------------------------------------ checks */

static bool number_chars(const char *s)
{
	return strspn(s, "0123456789+*#") == strlen(s);
}

static bool name_ok(const char *s, size_t len)
{
	if (!len || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && !strchr("_-", s[i]))
			return false;
	return true;
}

/* sip:host[:port] or sips:, no user part, params or headers beyond
 * ;transport=: the trunk's next hop. */
static int check_address(const char *v, char *err, size_t errlen)
{
	const char *host = !strncmp(v, "sip:", 4) ? v + 4 : !strncmp(v, "sips:", 5) ? v + 5 : NULL;

	if (!host || !*host || strpbrk(host, "@?<>\" \t") || strlen(v) > 256) {
		snprintf(err, errlen, "address is a sip:host[:port] URI without a user part");
		return EINVAL;
	}
	return 0;
}

/* One address or CIDR prefix; fills the network bytes and bit count. */
static bool parse_prefix(const char *s, int *family, unsigned char addr[16], unsigned *bits)
{
	char buf[64], *slash, *end;
	long b;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		*bits = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		*bits = 128;
	} else {
		return false;
	}
	if (slash) {
		b = strtol(slash, &end, 10);
		if (!*slash || *end || b < 0 || b > (long)*bits)
			return false;
		*bits = (unsigned)b;
	}
	return true;
}

static int check_from(const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	int e = 0, n = 0;

	for (char **p = parts; *p && !e; p++) {
		const char *s = g_strstrip(*p);
		unsigned char a[16];
		unsigned bits;
		int fam;

		if (!*s)
			continue;
		if (!parse_prefix(s, &fam, a, &bits) || ++n > 64) {
			snprintf(err, errlen, "from is a list of at most 64 IP addresses or CIDR "
				 "prefixes (names are not resolved)");
			e = EINVAL;
		}
	}
	g_strfreev(parts);
	return e;
}

/* "NUMBER=TARGET, NUMBER=TARGET" */
static int parse_dids(struct tnd_trunk *t, const char *v, char *err, size_t errlen)
{
	char **parts = g_strsplit(v, ",", 0);
	struct tnd_trunk_did *dids = NULL;
	size_t n = 0;
	int e = 0;

	for (char **p = parts; *p && !e; p++) {
		char *s = g_strstrip(*p), *eq = strchr(s, '=');
		const char *num, *target;

		if (!*s)
			continue;
		if (!eq) {
			e = EINVAL;
			break;
		}
		*eq = '\0';
		num = g_strstrip(s);
		target = g_strstrip(eq + 1);
		if (!*num || strlen(num) > MAX_DIGITS || !number_chars(num) ||
		    !name_ok(target, strlen(target)) || n == MAX_DIDS) {
			e = EINVAL;
			break;
		}
		dids = g_renew(struct tnd_trunk_did, dids, n + 1);
		dids[n].number = g_strdup(num);
		dids[n].target = g_strdup(target);
		n++;
	}
	g_strfreev(parts);
	if (e) {
		for (size_t i = 0; i < n; i++) {
			g_free(dids[i].number);
			g_free(dids[i].target);
		}
		g_free(dids);
		snprintf(err, errlen, "did is a list of NUMBER=USER_OR_ACCOUNT (digits and +, at "
			 "most %d DIDs)", MAX_DIDS);
		return EINVAL;
	}
	for (size_t i = 0; i < t->n_dids; i++) {
		g_free(t->dids[i].number);
		g_free(t->dids[i].target);
	}
	g_free(t->dids);
	t->dids = dids;
	t->n_dids = n;
	return 0;
}

/* ------------------------------------------------------------ [trunks] */

static struct tnd_trunk *trunk_get(struct tnd_dialplan *dp, const char *name, size_t len)
{
	struct tnd_trunk *t;

	for (size_t i = 0; i < dp->n_trunks; i++)
		if (strlen(dp->trunks[i].name) == len && !strncmp(dp->trunks[i].name, name, len))
			return &dp->trunks[i];
	if (dp->n_trunks == MAX_TRUNKS)
		return NULL;
	dp->trunks = g_renew(struct tnd_trunk, dp->trunks, dp->n_trunks + 1);
	t = &dp->trunks[dp->n_trunks++];
	memset(t, 0, sizeof(*t));
	t->name = g_strndup(name, len);
	t->address = g_strdup("");
	t->transport = g_strdup("");
	t->auth_user = g_strdup("");
	t->password = g_strdup("");
	t->codecs = g_strdup("");
	t->from = g_strdup("");
	t->registrar = g_strdup("");
	t->expires = 3600;
	return t;
}

static int parse_int(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	if (!*v)
		return EINVAL;
	n = strtol(v, &end, 10);
	if (*end || n < min || n > max)
		return EINVAL;
	*out = (int)n;
	return 0;
}

static int trunk_field(struct tnd_trunk *t, const char *field, const char *v, char *err,
		       size_t errlen)
{
	char **slot = NULL;

	if (!strcmp(field, "address")) {
		if (check_address(v, err, errlen))
			return EINVAL;
		slot = &t->address;
	} else if (!strcmp(field, "transport")) {
		if (*v && strcmp(v, "udp") && strcmp(v, "tcp") && strcmp(v, "tls")) {
			snprintf(err, errlen, "transport is udp, tcp or tls");
			return EINVAL;
		}
		slot = &t->transport;
	} else if (!strcmp(field, "auth_user") || !strcmp(field, "password")) {
		if (strchr(v, ':') && field[0] == 'a') {
			snprintf(err, errlen, "auth_user may not hold ':'");
			return EINVAL;
		}
		slot = field[0] == 'a' ? &t->auth_user : &t->password;
	} else if (!strcmp(field, "codecs")) {
		slot = &t->codecs;
	} else if (!strcmp(field, "from")) {
		if (check_from(v, err, errlen))
			return EINVAL;
		slot = &t->from;
	} else if (!strcmp(field, "did")) {
		return parse_dids(t, v, err, errlen);
	} else if (!strcmp(field, "register")) {
		if (strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(err, errlen, "register is true or false");
			return EINVAL;
		}
		t->reg = !strcmp(v, "true");
		return 0;
	} else if (!strcmp(field, "registrar")) {
		if (check_address(v, err, errlen)) {
			snprintf(err, errlen, "registrar is a sip:host[:port] URI without a user "
				 "part");
			return EINVAL;
		}
		slot = &t->registrar;
	} else if (!strcmp(field, "expires")) {
		if (parse_int(v, 10, 86400, &t->expires)) {
			snprintf(err, errlen, "expires is 10 to 86400 seconds");
			return EINVAL;
		}
		return 0;
	} else if (!strcmp(field, "srtp")) {
		t->srtp = !strcmp(v, "off") ? TND_TRUNK_SRTP_OFF :
			  !strcmp(v, "optional") ? TND_TRUNK_SRTP_OPTIONAL :
			  !strcmp(v, "mandatory") ? TND_TRUNK_SRTP_MANDATORY : -1;
		if (t->srtp < 0) {
			t->srtp = TND_TRUNK_SRTP_OFF;
			snprintf(err, errlen, "srtp is off, optional or mandatory");
			return EINVAL;
		}
		t->srtp_set = true;
		return 0;
	} else if (!strcmp(field, "options_ping")) {
		if (parse_int(v, 0, 3600, &t->options_ping)) {
			snprintf(err, errlen, "options_ping is 0 (off) to 3600 seconds");
			return EINVAL;
		}
		return 0;
	} else {
		snprintf(err, errlen, "unknown trunk field '%s' (address, transport, auth_user, "
			 "password, register, registrar, expires, codecs, srtp, from, did, "
			 "options_ping)", field);
		return EINVAL;
	}
	g_free(*slot);
	*slot = g_strdup(v);
	return 0;
}

int tnd_dialplan_add_trunk(struct tnd_dialplan **dpp, const char *key, const char *value,
			   char *err, size_t errlen)
{
	const char *dot;
	struct tnd_trunk *t;

	if (!dpp || !key || !value || !err)
		return EINVAL;
	dot = strrchr(key, '.');
	if (!dot || !name_ok(key, (size_t)(dot - key))) {
		snprintf(err, errlen, "keys are NAME.field, NAME 1-64 of [A-Za-z0-9_-]");
		return EINVAL;
	}
	if (strpbrk(value, "\r\n") || strlen(value) > 65536) {
		snprintf(err, errlen, "value too long or not one line");
		return EINVAL;
	}
	t = trunk_get(dp_get(dpp), key, (size_t)(dot - key));
	if (!t) {
		snprintf(err, errlen, "more than %d trunks", MAX_TRUNKS);
		return EINVAL;
	}
	return trunk_field(t, dot + 1, value, err, errlen);
}

/* ------------------------------------------------------------ [dialplan] */

static int rule_option(struct tnd_dialrule *r, const char *opt, char *err, size_t errlen)
{
	int n;

	if (!strncmp(opt, "strip=", 6)) {
		if (parse_int(opt + 6, 0, MAX_DIGITS, &n)) {
			snprintf(err, errlen, "strip=N takes 0 to %d", MAX_DIGITS);
			return EINVAL;
		}
		r->strip = (unsigned)n;
	} else if (!strncmp(opt, "prepend=", 8)) {
		if (strlen(opt + 8) > 16 || !number_chars(opt + 8)) {
			snprintf(err, errlen, "prepend= takes up to 16 digits, + * #");
			return EINVAL;
		}
		g_free(r->prepend);
		r->prepend = g_strdup(opt + 8);
	} else if (!strncmp(opt, "users=", 6)) {
		g_strfreev(r->users);
		r->users = g_strsplit(opt + 6, "|", 0);
		for (char **u = r->users; *u; u++)
			if (!**u || (strcmp(*u, "*") && !name_ok(*u, strlen(*u)) &&
				     strspn(*u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789._+-") != strlen(*u))) {
				snprintf(err, errlen, "users= takes user names joined by |");
				return EINVAL;
			}
	} else {
		snprintf(err, errlen, "unknown rule option '%.32s' (strip=, prepend=, users=)", opt);
		return EINVAL;
	}
	return 0;
}

static int rule_match_part(struct tnd_dialrule *r, const char *m, char *err, size_t errlen)
{
	GError *gerr = NULL;

	if (m[0] == '~') {
		/* the config is trusted input, but a user's number is not: no
		 * backtracking limit beyond PCRE's own, numbers are short */
		r->re = g_regex_new(m + 1, G_REGEX_OPTIMIZE, 0, &gerr);
		if (!r->re) {
			snprintf(err, errlen, "bad regular expression: %s", gerr->message);
			g_error_free(gerr);
			return EINVAL;
		}
		return 0;
	}
	if (!strcmp(m, "any")) {
		r->prefix = g_strdup("");
		return 0;
	}
	if (!*m || strlen(m) > MAX_DIGITS || !number_chars(m)) {
		snprintf(err, errlen, "the match is digits (+ * #) forming a prefix, 'any', or "
			 "~REGEX");
		return EINVAL;
	}
	r->prefix = g_strdup(m);
	return 0;
}

/* "MATCH -> T1,T2 [opt ...]" into r; r is freed by the caller on error. */
static int rule_parse(struct tnd_dialrule *r, const char *value, char *err, size_t errlen)
{
	const char *arrow = strstr(value, "->");
	gchar *match, **words = NULL;
	int e;

	if (!arrow) {
		snprintf(err, errlen, "rules are MATCH -> TRUNK[,TRUNK...] [strip=N] "
			 "[prepend=DIGITS] [users=a|b]");
		return EINVAL;
	}
	match = g_strstrip(g_strndup(value, (gsize)(arrow - value)));
	e = rule_match_part(r, match, err, errlen);
	g_free(match);
	if (e)
		return e;
	words = g_strsplit_set(arrow + 2, " \t", 0);
	for (char **w = words; *w && !e; w++) {
		if (!**w)
			continue;
		if (!r->trunks) {
			r->trunks = g_strsplit(*w, ",", 0);
			for (char **t = r->trunks; *t && !e; t++)
				if (!name_ok(*t, strlen(*t))) {
					snprintf(err, errlen, "'%.64s' is not a trunk name", *t);
					e = EINVAL;
				}
			continue;
		}
		e = rule_option(r, *w, err, errlen);
	}
	g_strfreev(words);
	if (!e && (!r->trunks || !r->trunks[0])) {
		snprintf(err, errlen, "a rule names at least one trunk after ->");
		e = EINVAL;
	}
	return e;
}

int tnd_dialplan_add_rule(struct tnd_dialplan **dpp, const char *key, const char *value,
			  char *err, size_t errlen)
{
	struct tnd_dialrule r = { 0 };
	struct tnd_dialplan *dp;
	int e;

	if (!dpp || !key || !value || !err)
		return EINVAL;
	if (!name_ok(key, strlen(key))) {
		snprintf(err, errlen, "rule names are 1-64 of [A-Za-z0-9_-]");
		return EINVAL;
	}
	if (strpbrk(value, "\r\n") || strlen(value) > 1024) {
		snprintf(err, errlen, "value too long or not one line");
		return EINVAL;
	}
	dp = dp_get(dpp);
	if (dp->n_rules == MAX_RULES) {
		snprintf(err, errlen, "more than %d rules", MAX_RULES);
		return EINVAL;
	}
	for (size_t i = 0; i < dp->n_rules; i++)
		if (!strcmp(dp->rules[i].name, key)) {
			snprintf(err, errlen, "rule %s given twice", key);
			return EINVAL;
		}
	r.prepend = g_strdup("");
	e = rule_parse(&r, value, err, errlen);
	if (e) {
		rule_free(&r);
		return e;
	}
	r.name = g_strdup(key);
	dp->rules = g_renew(struct tnd_dialrule, dp->rules, dp->n_rules + 1);
	dp->rules[dp->n_rules++] = r;
	return 0;
}

int tnd_dialplan_check(const struct tnd_dialplan *dp, char *err, size_t errlen)
{
	for (size_t i = 0; dp && i < dp->n_trunks; i++)
		if (!*dp->trunks[i].address) {
			snprintf(err, errlen, "[trunks] %s.address: a trunk needs an address",
				 dp->trunks[i].name);
			return EINVAL;
		}
	for (size_t i = 0; dp && i < dp->n_trunks; i++)
		if (dp->trunks[i].reg && !*dp->trunks[i].auth_user) {
			/* the AOR is sip:auth_user@host of the registrar */
			snprintf(err, errlen, "[trunks] %s.register: a registering trunk needs "
				 "auth_user (its address of record's user)", dp->trunks[i].name);
			return EINVAL;
		}
	for (size_t i = 0; dp && i < dp->n_rules; i++)
		for (char **t = dp->rules[i].trunks; *t; t++)
			if (!tnd_dialplan_trunk(dp, *t)) {
				snprintf(err, errlen, "[dialplan] %s: no trunk '%s' in [trunks]",
					 dp->rules[i].name, *t);
				return EINVAL;
			}
	return 0;
}

/* ------------------------------------------------------------ matching */

bool tnd_dialplan_is_number(const char *to)
{
	return to && strncmp(to, "sip:", 4) && strncmp(to, "sips:", 5);
}

int tnd_dialplan_digits(const char *to, char *out, size_t outlen)
{
	size_t n = 0;

	if (!to || !out || !outlen)
		return EINVAL;
	if (!g_ascii_strncasecmp(to, "tel:", 4))
		to += 4;
	for (const char *c = to; *c && *c != ';'; c++) {
		if (strchr(" -.()", *c))
			continue;   /* RFC 3966 visual separators */
		if (!strchr("0123456789+*#", *c) || (*c == '+' && n) || n >= MAX_DIGITS ||
		    n + 1 >= outlen)
			return EBADMSG;
		out[n++] = *c;
	}
	out[n] = '\0';
	return n ? 0 : EBADMSG;
}

bool tnd_dialrule_match(const struct tnd_dialrule *r, const char *digits)
{
	if (!r || !digits)
		return false;
	if (r->re)
		return g_regex_match(r->re, digits, 0, NULL);
	return !strncmp(digits, r->prefix, strlen(r->prefix));
}

bool tnd_dialrule_allows(const struct tnd_dialrule *r, const char *user)
{
	if (!r)
		return false;
	if (!r->users)
		return true;
	for (char **u = r->users; *u; u++)
		if (!strcmp(*u, "*") || (user && !strcmp(*u, user)))
			return true;
	return false;
}

int tnd_dialrule_normalise(const struct tnd_dialrule *r, const char *digits, char *out,
			   size_t outlen)
{
	size_t len;
	int n;

	if (!r || !digits || !out)
		return EINVAL;
	len = strlen(digits);
	if (r->strip >= len)
		return EBADMSG;
	n = snprintf(out, outlen, "%s%s", r->prepend, digits + r->strip);
	return n < 0 || (size_t)n >= outlen ? ENOSPC : 0;
}

const struct tnd_dialrule *tnd_dialplan_next(const struct tnd_dialplan *dp, const char *digits,
					     const char *user, size_t *from)
{
	for (size_t i = from ? *from : 0; dp && i < dp->n_rules; i++) {
		const struct tnd_dialrule *r = &dp->rules[i];

		if (tnd_dialrule_match(r, digits) && tnd_dialrule_allows(r, user)) {
			if (from)
				*from = i + 1;
			return r;
		}
	}
	if (from && dp)
		*from = dp->n_rules;
	return NULL;
}

bool tnd_dialplan_any_match(const struct tnd_dialplan *dp, const char *digits)
{
	for (size_t i = 0; dp && i < dp->n_rules; i++)
		if (tnd_dialrule_match(&dp->rules[i], digits))
			return true;
	return false;
}

const struct tnd_trunk *tnd_dialplan_trunk(const struct tnd_dialplan *dp, const char *name)
{
	for (size_t i = 0; dp && name && i < dp->n_trunks; i++)
		if (!strcmp(dp->trunks[i].name, name))
			return &dp->trunks[i];
	return NULL;
}

int tnd_trunk_uri(const struct tnd_trunk *t, const char *number, char *out, size_t outlen)
{
	const char *host;
	bool sips;
	int n;

	if (!t || !number || !out || !*t->address)
		return EINVAL;
	sips = !strncmp(t->address, "sips:", 5);
	host = t->address + (sips ? 5 : 4);
	n = snprintf(out, outlen, "%s:%s@%s%s%s", sips ? "sips" : "sip", number, host,
		     *t->transport && strcmp(t->transport, "udp") && !strstr(host, "transport=") ?
		     ";transport=" : "",
		     *t->transport && strcmp(t->transport, "udp") && !strstr(host, "transport=") ?
		     t->transport : "");
	return n < 0 || (size_t)n >= outlen ? ENOSPC : 0;
}

static bool prefix_has(const char *entry, const struct sockaddr *sa)
{
	unsigned char net[16];
	const unsigned char *a;
	unsigned bits;
	int fam;

	if (!parse_prefix(entry, &fam, net, &bits) || fam != sa->sa_family)
		return false;
	a = fam == AF_INET ? (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr :
	    (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	for (unsigned i = 0; i < bits; i += 8) {
		unsigned rem = bits - i;
		unsigned char mask = rem >= 8 ? 0xff : (unsigned char)(0xff << (8 - rem));

		if ((a[i / 8] & mask) != (net[i / 8] & mask))
			return false;
	}
	return true;
}

const struct tnd_trunk *tnd_dialplan_trunk_by_source(const struct tnd_dialplan *dp,
						     const struct sockaddr *sa)
{
	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return NULL;
	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		char **parts = g_strsplit(dp->trunks[i].from, ",", 0);
		bool hit = false;

		for (char **p = parts; *p && !hit; p++)
			hit = *g_strstrip(*p) && prefix_has(*p, sa);
		g_strfreev(parts);
		if (hit)
			return &dp->trunks[i];
	}
	return NULL;
}

/* host (lower case, IPv6 without brackets) and port of a sip:/sips: URI
 * "sip:[user[:pw]@]host[:port][;params][?headers]"; the port defaults to
 * 5061 for sips:, transport=tls or tls_hint, else 5060. false when it is
 * none. */
static bool uri_hostport(const char *uri, bool tls_hint, char *host, size_t hostlen,
			 unsigned *port)
{
	const char *p, *end, *at, *h;
	bool tls;
	size_t n;

	if (!g_ascii_strncasecmp(uri, "sips:", 5))
		p = uri + 5, tls = true;
	else if (!g_ascii_strncasecmp(uri, "sip:", 4))
		p = uri + 4, tls = false;
	else
		return false;
	end = p + strcspn(p, ";?>");
	tls = tls || tls_hint || g_strstr_len(end, -1, "transport=tls") ||
	      g_strstr_len(end, -1, "transport=TLS");
	at = memchr(p, '@', (size_t)(end - p));
	h = at ? at + 1 : p;
	*port = tls ? 5061 : 5060;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (!rb)
			return false;
		n = (size_t)(rb - h - 1);
		h++;
		p = rb + 1;
	} else {
		p = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((p ? p : end) - h);
	}
	if (!n || n >= hostlen)
		return false;
	for (size_t i = 0; i < n; i++)
		host[i] = g_ascii_tolower(h[i]);
	host[n] = '\0';
	if (p && p < end && *p == ':') {
		char *e;
		unsigned long v = strtoul(p + 1, &e, 10);

		if (e != end || !v || v > 65535)
			return false;
		*port = (unsigned)v;
	}
	return true;
}

static bool ip_in_from(const struct tnd_trunk *t, const char *host)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	char **parts;
	bool hit = false;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	parts = g_strsplit(t->from, ",", 0);
	for (char **p = parts; *p && !hit; p++)
		hit = *g_strstrip(*p) && prefix_has(*p, (const struct sockaddr *)&ss);
	g_strfreev(parts);
	return hit;
}

const struct tnd_trunk *tnd_dialplan_trunk_by_uri(const struct tnd_dialplan *dp,
						  const char *uri)
{
	char host[256], thost[256];
	unsigned port, tport;

	if (!uri || !uri_hostport(uri, false, host, sizeof(host), &port))
		return NULL;
	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		const struct tnd_trunk *t = &dp->trunks[i];

		if (!uri_hostport(t->address, !strcmp(t->transport, "tls"), thost, sizeof(thost),
				  &tport))
			continue;
		if (port == tport && (!strcmp(host, thost) || ip_in_from(t, host)))
			return t;
	}
	return NULL;
}

const char *tnd_trunk_did(const struct tnd_trunk *t, const char *number)
{
	const char *n;

	if (!t || !number)
		return NULL;
	n = number[0] == '+' ? number + 1 : number;
	for (size_t i = 0; i < t->n_dids; i++) {
		const char *d = t->dids[i].number;

		if (!strcmp(d[0] == '+' ? d + 1 : d, n))
			return t->dids[i].target;
	}
	return NULL;
}

enum tnd_trunk_srtp tnd_trunk_srtp(const struct tnd_trunk *t)
{
	return t ? (enum tnd_trunk_srtp)t->srtp : TND_TRUNK_SRTP_OFF;
}

char *tnd_dialplan_sources(const struct tnd_dialplan *dp)
{
	GString *s = NULL;

	for (size_t i = 0; dp && i < dp->n_trunks; i++) {
		if (!*dp->trunks[i].from)
			continue;
		if (!s)
			s = g_string_new(NULL);
		else
			g_string_append_c(s, ',');
		g_string_append(s, dp->trunks[i].from);
	}
	return s ? g_string_free(s, FALSE) : NULL;
}
