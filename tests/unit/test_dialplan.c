/* [trunks] and [dialplan] from text to routing decisions
 * (gateway/policy/dialplan.c): rule matching in file order, E.164
 * normalisation, per-user rights, failover order, trunk URIs, source
 * addresses and DIDs, and every kind of bad line refused with its reason. */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>

#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_dialplan.h"

static const char conf_text[] =
	"[trunks]\n"
	"uk.address = sip:127.0.0.1:5070\n"
	"uk.from = 127.0.0.5, 10.1.0.0/16\n"
	"uk.codecs = PCMA, PCMU\n"
	"uk.srtp = optional\n"
	"uk.did = +442071234567=alice, 442071234568=desk1\n"
	"uk.options_ping = 30\n"
	"backup.address = sips:sbc.example.net\n"
	"backup.transport = tls\n"
	"backup.auth_user = gw\n"
	"backup.password = s3cret\n"
	"backup.register = true\n"
	"backup.registrar = sips:reg.example.net:5061\n"
	"backup.expires = 600\n"
	"[dialplan]\n"
	"emergency = ~^(999|112)$ -> uk\n"
	"national = 0 -> uk,backup strip=1 prepend=+44\n"
	"intl = 00 -> backup strip=2 prepend=+ users=alice|bob\n"
	"e164 = + -> uk\n";

static int load(struct tnd_conf **c, const char *text)
{
	char err[512];

	return tnd_conf_load_text(c, "t.conf", text, strlen(text), err, sizeof(err));
}

int test_dialplan_parse(void)
{
	struct tnd_conf *c = NULL;
	const struct tnd_dialplan *dp;
	const struct tnd_trunk *t;

	TEST_ASSERT(load(&c, conf_text) == 0);
	dp = c->dialplan;
	TEST_ASSERT(dp && dp->n_trunks == 2 && dp->n_rules == 4);
	t = tnd_dialplan_trunk(dp, "uk");
	TEST_ASSERT(t && !strcmp(t->address, "sip:127.0.0.1:5070"));
	TEST_ASSERT(!strcmp(t->codecs, "PCMA, PCMU") && t->options_ping == 30);
	TEST_ASSERT(tnd_trunk_srtp(t) == TND_TRUNK_SRTP_OPTIONAL);
	TEST_ASSERT(t->n_dids == 2);
	t = tnd_dialplan_trunk(dp, "backup");
	TEST_ASSERT(t && !strcmp(t->auth_user, "gw") && !strcmp(t->password, "s3cret"));
	TEST_ASSERT(tnd_trunk_srtp(t) == TND_TRUNK_SRTP_OFF);
	TEST_ASSERT(t->reg && t->expires == 600);
	TEST_ASSERT(!strcmp(t->registrar, "sips:reg.example.net:5061"));
	/* defaults: no registration, registrar "" (= address), an hour */
	t = tnd_dialplan_trunk(dp, "uk");
	TEST_ASSERT(!t->reg && !*t->registrar && t->expires == 3600);
	TEST_ASSERT(!strcmp(dp->rules[1].name, "national") && dp->rules[1].strip == 1);
	TEST_ASSERT(!strcmp(dp->rules[1].prepend, "+44"));
	TEST_ASSERT(!tnd_dialplan_trunk(dp, "nope"));
	tnd_conf_free(c);
	/* no section: no plan at all */
	TEST_ASSERT(load(&c, "[sip]\nport = 5062\n") == 0);
	TEST_ASSERT(c->dialplan == NULL);
	tnd_conf_free(c);
	return 0;
}

int test_dialplan_bad_lines(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "[trunks]\nx.address = http://a\n", "address is a sip:host" },
		{ "[trunks]\nx.address = sip:u@host\n", "without a user part" },
		{ "[trunks]\nx.transport = sctp\nx.address = sip:a\n", "udp, tcp or tls" },
		{ "[trunks]\nx.address = sip:a\nx.srtp = maybe\n", "off, optional or mandatory" },
		{ "[trunks]\nx.address = sip:a\nx.options_ping = -1\n", "options_ping" },
		{ "[trunks]\nx.address = sip:a\nx.from = pbx.example\n", "CIDR" },
		{ "[trunks]\nx.address = sip:a\nx.from = 10.0.0.0/33\n", "CIDR" },
		{ "[trunks]\nx.address = sip:a\nx.did = 123\n", "NUMBER=USER" },
		{ "[trunks]\nx.address = sip:a\nx.did = 12a=bob\n", "NUMBER=USER" },
		{ "[trunks]\nx.address = sip:a\nx.colour = red\n", "unknown trunk field" },
		{ "[trunks]\nx.address = sip:a\nx.register = yes\n", "true or false" },
		{ "[trunks]\nx.address = sip:a\nx.register = true\n", "needs auth_user" },
		{ "[trunks]\nx.address = sip:a\nx.registrar = sip:u@r\n", "registrar is a" },
		{ "[trunks]\nx.address = sip:a\nx.expires = 5\n", "10 to 86400" },
		{ "[trunks]\nnodot = 1\n", "NAME.field" },
		{ "[trunks]\nx.from = 1.2.3.4\n", "needs an address" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 x\n", "MATCH -> TRUNK" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 ->\n", "at least one trunk" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> y\n", "no trunk 'y'" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = ~( -> x\n", "regular expression" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0a -> x\n", "prefix" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> x strip=99\n", "strip=N" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> x prepend=+4a\n", "prepend" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> x users=a||b\n", "users=" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> x colour=red\n", "unknown rule" },
		{ "[trunks]\nx.address = sip:a\n[dialplan]\nr = 0 -> x/y\n", "not a trunk name" },
		{ "[sip]\ntrusted = 10.0.0.0/8, 10.1.0.0/16, 10.2.0.0/16, 10.3.0.0/16, "
		  "10.4.0.0/16, 10.5.0.0/16, 10.6.0.0/16, 10.7.0.0/16\n[trunks]\nx.address = sip:a\n"
		  "x.from = 1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7,1.0.0.8,1.0.0.9,"
		  "1.0.0.10,1.0.0.11,1.0.0.12,1.0.0.13,1.0.0.14,1.0.0.15,1.0.0.16,1.0.0.17,1.0.0.18,"
		  "1.0.0.19,1.0.0.20,1.0.0.21,1.0.0.22,1.0.0.23,1.0.0.24,1.0.0.25,1.0.0.26,1.0.0.27,"
		  "1.0.0.28,1.0.0.29,1.0.0.30,1.0.0.31,1.0.0.32\ny.address = sip:b\n"
		  "y.from = 2.0.0.1,2.0.0.2,2.0.0.3,2.0.0.4,2.0.0.5,2.0.0.6,2.0.0.7,2.0.0.8,2.0.0.9,"
		  "2.0.0.10,2.0.0.11,2.0.0.12,2.0.0.13,2.0.0.14,2.0.0.15,2.0.0.16,2.0.0.17,2.0.0.18,"
		  "2.0.0.19,2.0.0.20,2.0.0.21,2.0.0.22,2.0.0.23,2.0.0.24,2.0.0.25\n",
		  "at most 64 addresses or prefixes in all" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tnd_conf *c = NULL;
		char err[512] = "";

		if (tnd_conf_load_text(&c, "t.conf", bad[i].text, strlen(bad[i].text), err,
				       sizeof(err)) != EINVAL) {
			printf("# accepted: %s", bad[i].text);
			tnd_conf_free(c);
			return 1;
		}
		TEST_ASSERT_STR_CONTAINS(err, bad[i].why);
	}
	return 0;
}

int test_dialplan_digits(void)
{
	char d[40];

	TEST_ASSERT(tnd_dialplan_is_number("0201234567"));
	TEST_ASSERT(tnd_dialplan_is_number("tel:+44201234567"));
	TEST_ASSERT(!tnd_dialplan_is_number("sip:bob@example.net"));
	TEST_ASSERT(!tnd_dialplan_is_number("sips:bob@example.net"));
	TEST_ASSERT(tnd_dialplan_digits("020 1234-567", d, sizeof(d)) == 0 &&
		    !strcmp(d, "0201234567"));
	/* RFC 3966: visual separators and parameters go */
	TEST_ASSERT(tnd_dialplan_digits("tel:+44-20-(1234)-567;phone-context=x", d,
					sizeof(d)) == 0 && !strcmp(d, "+44201234567"));
	TEST_ASSERT(tnd_dialplan_digits("*21#", d, sizeof(d)) == 0 && !strcmp(d, "*21#"));
	TEST_ASSERT(tnd_dialplan_digits("", d, sizeof(d)) == EBADMSG);
	TEST_ASSERT(tnd_dialplan_digits("tel:", d, sizeof(d)) == EBADMSG);
	TEST_ASSERT(tnd_dialplan_digits("12+3", d, sizeof(d)) == EBADMSG);
	TEST_ASSERT(tnd_dialplan_digits("bob", d, sizeof(d)) == EBADMSG);
	TEST_ASSERT(tnd_dialplan_digits("123456789012345678901234567890123", d,
					sizeof(d)) == EBADMSG);
	TEST_ASSERT(tnd_dialplan_digits("12345", d, 4) == EBADMSG);
	return 0;
}

int test_dialplan_normalise(void)
{
	struct tnd_conf *c = NULL;
	const struct tnd_dialrule *r;
	char out[64];
	size_t from = 0;

	TEST_ASSERT(load(&c, conf_text) == 0);
	/* national "0" -> "+44": the example of issue 11 */
	r = tnd_dialplan_next(c->dialplan, "0201234567", "carol", &from);
	TEST_ASSERT(r && !strcmp(r->name, "national"));
	TEST_ASSERT(tnd_dialrule_normalise(r, "0201234567", out, sizeof(out)) == 0);
	TEST_ASSERT(!strcmp(out, "+44201234567"));
	TEST_ASSERT(tnd_dialrule_normalise(r, "0201234567", out, 8) == ENOSPC);
	TEST_ASSERT(tnd_dialrule_normalise(r, "0", out, sizeof(out)) == EBADMSG);
	/* regex first in file order: 999 is emergency, unchanged */
	from = 0;
	r = tnd_dialplan_next(c->dialplan, "999", NULL, &from);
	TEST_ASSERT(r && !strcmp(r->name, "emergency"));
	TEST_ASSERT(tnd_dialrule_normalise(r, "999", out, sizeof(out)) == 0 && !strcmp(out, "999"));
	/* the regex is anchored by its writer: 9999 is not emergency */
	from = 0;
	TEST_ASSERT(tnd_dialplan_next(c->dialplan, "9999", NULL, &from) == NULL);
	TEST_ASSERT(!tnd_dialplan_any_match(c->dialplan, "9999"));
	from = 0;
	r = tnd_dialplan_next(c->dialplan, "+15551234567", NULL, &from);
	TEST_ASSERT(r && !strcmp(r->name, "e164"));
	TEST_ASSERT(tnd_dialrule_normalise(r, "+15551234567", out, sizeof(out)) == 0 &&
		    !strcmp(out, "+15551234567"));
	tnd_conf_free(c);
	return 0;
}

int test_dialplan_rights_and_failover(void)
{
	struct tnd_conf *c = NULL;
	const struct tnd_dialrule *r;
	size_t from = 0;
	char out[64];

	TEST_ASSERT(load(&c, conf_text) == 0);
	/* 00... is intl, for alice and bob only; it also starts with 0, so
	 * national comes first in file order for everyone */
	r = tnd_dialplan_next(c->dialplan, "0015551234567", "alice", &from);
	TEST_ASSERT(r && !strcmp(r->name, "national"));
	r = tnd_dialplan_next(c->dialplan, "0015551234567", "alice", &from);
	TEST_ASSERT(r && !strcmp(r->name, "intl"));
	TEST_ASSERT(tnd_dialrule_normalise(r, "0015551234567", out, sizeof(out)) == 0 &&
		    !strcmp(out, "+15551234567"));
	TEST_ASSERT(tnd_dialplan_next(c->dialplan, "0015551234567", "alice", &from) == NULL);
	TEST_ASSERT(from == c->dialplan->n_rules);
	/* carol may not use intl: after national, nothing */
	from = 0;
	TEST_ASSERT(tnd_dialplan_next(c->dialplan, "0015551234567", "carol", &from));
	TEST_ASSERT(tnd_dialplan_next(c->dialplan, "0015551234567", "carol", &from) == NULL);
	TEST_ASSERT(!tnd_dialrule_allows(&c->dialplan->rules[2], "carol"));
	TEST_ASSERT(!tnd_dialrule_allows(&c->dialplan->rules[2], NULL));
	TEST_ASSERT(tnd_dialrule_allows(&c->dialplan->rules[2], "bob"));
	TEST_ASSERT(tnd_dialrule_allows(&c->dialplan->rules[1], NULL));
	/* failover order inside a rule */
	TEST_ASSERT(!strcmp(c->dialplan->rules[1].trunks[0], "uk") &&
		    !strcmp(c->dialplan->rules[1].trunks[1], "backup") &&
		    !c->dialplan->rules[1].trunks[2]);
	tnd_conf_free(c);
	return 0;
}

int test_dialplan_trunk_uri(void)
{
	struct tnd_conf *c = NULL;
	char uri[128];

	TEST_ASSERT(load(&c, conf_text) == 0);
	TEST_ASSERT(tnd_trunk_uri(tnd_dialplan_trunk(c->dialplan, "uk"), "+44201234567", uri,
				  sizeof(uri)) == 0);
	TEST_ASSERT(!strcmp(uri, "sip:+44201234567@127.0.0.1:5070"));
	TEST_ASSERT(tnd_trunk_uri(tnd_dialplan_trunk(c->dialplan, "backup"), "+1555", uri,
				  sizeof(uri)) == 0);
	TEST_ASSERT(!strcmp(uri, "sips:+1555@sbc.example.net;transport=tls"));
	TEST_ASSERT(tnd_trunk_uri(tnd_dialplan_trunk(c->dialplan, "uk"), "+44201234567", uri,
				  10) == ENOSPC);
	TEST_ASSERT(tnd_trunk_uri(NULL, "1", uri, sizeof(uri)) == EINVAL);
	tnd_conf_free(c);
	return 0;
}

static void addr4(struct sockaddr_in *sin, const char *ip)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

int test_dialplan_sources_and_dids(void)
{
	struct tnd_conf *c = NULL;
	const struct tnd_trunk *t;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char *src;

	TEST_ASSERT(load(&c, conf_text) == 0);
	addr4(&sin, "127.0.0.5");
	t = tnd_dialplan_trunk_by_source(c->dialplan, (struct sockaddr *)&sin);
	TEST_ASSERT(t && !strcmp(t->name, "uk"));
	addr4(&sin, "10.1.255.7");
	TEST_ASSERT(tnd_dialplan_trunk_by_source(c->dialplan, (struct sockaddr *)&sin) == t);
	addr4(&sin, "10.2.0.1");
	TEST_ASSERT(!tnd_dialplan_trunk_by_source(c->dialplan, (struct sockaddr *)&sin));
	addr4(&sin, "127.0.0.1");
	TEST_ASSERT(!tnd_dialplan_trunk_by_source(c->dialplan, (struct sockaddr *)&sin));
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	TEST_ASSERT(!tnd_dialplan_trunk_by_source(c->dialplan, (struct sockaddr *)&sin6));
	TEST_ASSERT(!tnd_dialplan_trunk_by_source(c->dialplan, NULL));
	/* with or without '+', either way round */
	TEST_ASSERT(!strcmp(tnd_trunk_did(t, "+442071234567"), "alice"));
	TEST_ASSERT(!strcmp(tnd_trunk_did(t, "442071234567"), "alice"));
	TEST_ASSERT(!strcmp(tnd_trunk_did(t, "+442071234568"), "desk1"));
	TEST_ASSERT(tnd_trunk_did(t, "442071234569") == NULL);
	TEST_ASSERT(tnd_trunk_did(t, "alice") == NULL);
	src = tnd_dialplan_sources(c->dialplan);
	TEST_ASSERT(src && !strcmp(src, "127.0.0.5, 10.1.0.0/16"));
	g_free(src);
	tnd_conf_free(c);
	return 0;
}

/* sip: URIs straight at a trunk: host and port as the address says (5060,
 * or 5061 for TLS, when it says none), or a `from` IP at that port. */
int test_dialplan_trunk_by_uri(void)
{
	struct tnd_conf *c = NULL;
	const struct tnd_trunk *uk, *backup;
	const struct tnd_dialplan *dp;

	TEST_ASSERT(load(&c, conf_text) == 0);
	dp = c->dialplan;
	uk = tnd_dialplan_trunk(dp, "uk");
	backup = tnd_dialplan_trunk(dp, "backup");
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:+1555@127.0.0.1:5070") == uk);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:127.0.0.1:5070") == uk);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "SIP:x:pw@127.0.0.1:5070;user=phone") == uk);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.1:5070?Subject=a") == uk);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.5:5070") == uk);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:x@10.1.2.3:5070") == uk);
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.1:5071"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.1"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@10.2.0.1:5070"));
	/* backup is sips: with no port: 5061 */
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:+1555@SBC.example.net:5061") == backup);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sips:+1555@sbc.example.net") == backup);
	TEST_ASSERT(tnd_dialplan_trunk_by_uri(dp, "sip:x@sbc.example.net;transport=tls") ==
		    backup);
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@sbc.example.net"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@sbc.example.net.evil:5061"));
	/* not sip: URIs, or broken ones */
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "tel:+15551234"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "0201234567"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.1:99999"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@127.0.0.1:"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:x@[::1"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, "sip:"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(NULL, "sip:x@127.0.0.1:5070"));
	TEST_ASSERT(!tnd_dialplan_trunk_by_uri(dp, NULL));
	tnd_conf_free(c);
	return 0;
}
