/* Configuration: INI syntax, the option table, validation messages naming
 * file, line and key, cross-key rules, log level lists, password hashes and
 * the login policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/base/ini.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_dialplan.h"

static char err[1024];

static int load(struct tnd_conf **c, const char *text)
{
	return tnd_conf_load_text(c, "t.conf", text, strlen(text), err, sizeof(err));
}

/* Loads text that must fail; returns the error message. */
static const char *load_err(const char *text)
{
	struct tnd_conf *c = NULL;

	if (load(&c, text) == 0) {
		tnd_conf_free(c);
		return "(accepted)";
	}
	return err;
}

static int test_embedded_default(void)
{
	struct tnd_conf *c;

	TEST_ASSERT(tnd_conf_load(&c, NULL, err, sizeof(err)) == 0);
	TEST_ASSERT(!strcmp(c->ws_listen, "127.0.0.1"));
	TEST_ASSERT(c->ws_port == 8088);
	TEST_ASSERT(!strcmp(c->ws_path, "/ws"));
	TEST_ASSERT(!strcmp(c->sip_listen, "127.0.0.1"));
	TEST_ASSERT(c->sip_port == 5060 && c->sip_udp && c->sip_tcp);
	TEST_ASSERT(c->auth_mode == TND_AUTH_NONE);
	TEST_ASSERT(!*c->ws_cert && c->n_users == 0);
	TEST_ASSERT(c->media_workers == 2 && !strcmp(c->media_ice_addresses, "127.0.0.1"));
	TEST_ASSERT(c->media_port_min == 20000 && c->media_port_max == 29999);
	tnd_conf_free(c);
	return 0;
}

static int test_example_is_default(void)
{
	struct tnd_conf *c, *d;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	tnd_conf_print_example(f);
	fclose(f);
	TEST_ASSERT(load(&c, text) == 0);
	TEST_ASSERT(tnd_conf_load(&d, NULL, err, sizeof(err)) == 0);
	TEST_ASSERT(c->ws_port == d->ws_port && !strcmp(c->ws_path, d->ws_path));
	TEST_ASSERT(c->token_lifetime == d->token_lifetime && c->auth_mode == d->auth_mode);
	TEST_ASSERT(strstr(text, "[websocket]") && strstr(text, "max_pending_kib = 1024"));
	tnd_conf_free(c);
	tnd_conf_free(d);
	free(text);
	return 0;
}

static int test_values_parsed(void)
{
	struct tnd_conf *c;

	TEST_ASSERT(load(&c, "# comment\r\n; other\n[websocket]\n  port   =  9000  \n"
			  "path=/signal\n[sip]\nudp = no\n[log]\nlevel = warn,api=debug\n") == 0);
	TEST_ASSERT(c->ws_port == 9000 && !strcmp(c->ws_path, "/signal"));
	TEST_ASSERT(!c->sip_udp && c->sip_tcp);
	TEST_ASSERT(!strcmp(c->log_level, "warn,api=debug"));
	tnd_conf_free(c);
	return 0;
}

static int test_unknown_key_names_line(void)
{
	TEST_ASSERT(!strcmp(load_err("[websocket]\nport = 9000\n\nprot = 1\n"),
			    "t.conf:4: [websocket] prot: unknown key (see tandem --help)"));
	TEST_ASSERT(!strcmp(load_err("[websockets]\nport = 1\n"),
			    "t.conf:2: [websockets] port: unknown section (see tandem --help)"));
	return 0;
}

static int test_bad_values(void)
{
	TEST_ASSERT(!strcmp(load_err("[websocket]\nport = 70000\n"),
			    "t.conf:2: [websocket] port: 70000 is out of range 1..65535"));
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\nport = 80x\n"),
				 "t.conf:2: [websocket] port: '80x' is not a whole number");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\nudp = maybe\n"),
				 "t.conf:2: [sip] udp: 'maybe' is not a boolean");
	TEST_ASSERT_STR_CONTAINS(load_err("[auth]\nmode = open\n"),
				 "t.conf:2: [auth] mode: 'open' is not one of: none users");
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\nlisten = localhost\n"),
				 "[websocket] listen: 'localhost' is not an IPv4 or IPv6");
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\npath = ws\n"),
				 "t.conf:2: [websocket] path:");
	TEST_ASSERT_STR_CONTAINS(load_err("[log]\nlevel = loud\n"), "t.conf:2: [log] level:");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nice_addresses = 127.0.0.1, nope\n"),
				 "t.conf:2: [media] ice_addresses: 'nope' is not an IPv4");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nstun_server = stun.example.org:3478\n"),
				 "t.conf:2: [media] stun_server: 'stun.example.org:3478' is not IP:port");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nstun_server = 127.0.0.1:0\n"),
				 "is not IP:port");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\noutbound_proxy = 127.0.0.1:5070\n"),
				 "t.conf:2: [sip] outbound_proxy: '127.0.0.1:5070' is not a sip:");
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\ncert = /nonexistent/x.pem\n"),
				 "t.conf:2: [websocket] cert: cannot read");
	/* [sip] trusted: addresses and prefixes only, never names */
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntrusted = 10.0.0.0/8, pbx.example\n"),
				 "t.conf:2: [sip] trusted: 'pbx.example' is not an IP address");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntrusted = 10.0.0.0/33\n"),
				 "[sip] trusted: '10.0.0.0/33' is not an IP address or CIDR prefix");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ninbound_user = trunk\n"),
				 "[sip] inbound_password (default): inbound_user needs");
	return 0;
}

static int test_syntax_errors(void)
{
	TEST_ASSERT(!strcmp(load_err("port = 1\n"), "t.conf:1: key before the first [section]"));
	TEST_ASSERT(!strcmp(load_err("[sip]\njunk\n"),
			    "t.conf:2: expected [section] or key = value"));
	TEST_ASSERT(!strcmp(load_err("[sip\n"), "t.conf:1: section header must be [name]"));
	TEST_ASSERT(!strcmp(load_err("[sip]\nport = 1\nport = 2\n"),
			    "t.conf:3: [sip] port repeats line 2"));
	TEST_ASSERT(!strcmp(load_err("[sip]\n\nport = \xff\n"), "t.conf:3: not valid UTF-8"));
	TEST_ASSERT_STR_CONTAINS(load_err("[s p]\n"), "t.conf:1: section name");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\n = 5\n"), "t.conf:2: key name");
	{
		static const char nul[] = "[sip]\nport = 1\0\n";
		struct tnd_conf *c;

		TEST_ASSERT(tnd_conf_load_text(&c, "t.conf", nul, sizeof(nul) - 1, err,
					       sizeof(err)) == EINVAL);
		TEST_ASSERT(!strcmp(err, "t.conf:2: NUL byte in the file"));
	}
	return 0;
}

static int test_cross_checks(void)
{
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\nlisten = 0.0.0.0\n"),
				 "t.conf: [auth] mode (default): mode = none lets anyone reach");
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\nlisten = 0.0.0.0\n[auth]\nmode = none\n"),
				 "t.conf:4: [auth] mode: mode = none lets anyone reach");
	TEST_ASSERT_STR_CONTAINS(load_err("[auth]\nmode = users\n"),
				 "t.conf:2: [auth] mode: mode = users needs at least one user");
	TEST_ASSERT_STR_CONTAINS(load_err("[websocket]\ncert = /etc/hostname\n"),
				 "t.conf:2: [websocket] cert: cert and key must be set together");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nport_min = 30000\nport_max = 30000\n"),
				 "t.conf:2: [media] port_min: port_min must be below port_max");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nturn_server = [::1]:3478\n"),
				 "[media] turn_user (default): a TURN server needs");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\nudp = false\ntcp = false\n"),
				 "t.conf:2: [sip] udp: enable at least one");
	return 0;
}

/* [sip] transports and NAT (issue 11 item 7): TLS needs its files and a
 * port of its own; external_address is a host name or IP literal. */
static int test_sip_tls_nat_keys(void)
{
	struct tnd_conf *c;

	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntls = true\n"),
				 "[sip] tls_cert (default): tls needs tls_cert and tls_key");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntls = true\ntls_cert = /etc/hostname\n"),
				 "[sip] tls_key (default): tls needs tls_cert and tls_key");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntls = true\ntls_cert = /etc/hostname\n"
					  "tls_key = /etc/hostname\ntls_port = 5060\n"),
				 "t.conf:5: [sip] tls_port: tls_port must differ from port");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\ntls_ca = /nonexistent/ca.pem\n"),
				 "t.conf:2: [sip] tls_ca: cannot read");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\nexternal_address = gw example\n"),
				 "t.conf:2: [sip] external_address: 'gw example' is not a host");
	TEST_ASSERT_STR_CONTAINS(load_err("[sip]\nkeepalive = 4000\n"),
				 "t.conf:2: [sip] keepalive: 4000 is out of range 0..3600");
	TEST_ASSERT(load(&c, "[sip]\nexternal_address = gw.example.org\n") == 0);
	TEST_ASSERT(!strcmp(c->sip_external_address, "gw.example.org"));
	TEST_ASSERT(!c->sip_tls && c->sip_tls_port == 5061 && c->sip_tls_verify);
	TEST_ASSERT(c->sip_keepalive == 30);
	tnd_conf_free(c);
	TEST_ASSERT(load(&c, "[sip]\nexternal_address = 2001:db8::7\n") == 0);
	tnd_conf_free(c);
	return 0;
}

static int test_users_section(void)
{
	char hash[TND_PASSWD_HASH_MAX], text[512];
	struct tnd_conf *c;

	TEST_ASSERT(tnd_passwd_hash("s3cret", 1000, hash, sizeof(hash)) == 0);
	snprintf(text, sizeof(text), "[auth]\nmode = users\n[users]\nalice = %s\nbob = %s\n",
		 hash, hash);
	TEST_ASSERT(load(&c, text) == 0);
	TEST_ASSERT(c->n_users == 2 && c->auth_mode == TND_AUTH_USERS);
	TEST_ASSERT(tnd_conf_user_find(c, "bob") && !tnd_conf_user_find(c, "carol"));
	tnd_conf_free(c);
	TEST_ASSERT_STR_CONTAINS(load_err("[users]\nalice = secret\n"),
				 "t.conf:2: [users] alice: not a password hash");
	TEST_ASSERT_STR_CONTAINS(load_err("[users]\nalice = pbkdf2-sha256$1000$AAAA$BBBB\n"),
				 "t.conf:2: [users] alice: not a password hash");
	snprintf(text, sizeof(text), "[users]\nal@ice = %s\n", hash);
	TEST_ASSERT_STR_CONTAINS(load_err(text), "t.conf:2: [users] al@ice: user names are");
	return 0;
}

/* [accounts]: NAME.field lines make one account each; every account
 * needs uri and users, at most one secret; rights are per user. */
static int test_accounts_section(void)
{
	const struct tnd_conf_account *a;
	struct tnd_conf *c;

	TEST_ASSERT(load(&c, "[accounts]\nd1.uri = sip:1001@pbx.example\n"
			 "d1.password = pw\nd1.users = alice, bob\nd1.expires = 120\n"
			 "d2.uri = sip:2@x\nd2.ha1 = 0123456789abcdef0123456789ABCDEF\n"
			 "d2.users = *\nd2.registrar = sip:10.0.0.1:5070\n"
			 "d2.transport = tcp\n") == 0);
	TEST_ASSERT(c->n_accounts == 2);
	a = tnd_conf_account_find(c, "d1");
	TEST_ASSERT(a && !strcmp(a->uri, "sip:1001@pbx.example") && a->expires == 120);
	TEST_ASSERT(!strcmp(a->password, "pw") && !*a->ha1 && !*a->registrar);
	TEST_ASSERT(tnd_conf_account_allows(a, "bob"));
	TEST_ASSERT(!tnd_conf_account_allows(a, "carol"));
	TEST_ASSERT(!tnd_conf_account_allows(a, NULL));
	a = tnd_conf_account_find(c, "d2");
	TEST_ASSERT(a && a->expires == 3600 && !strcmp(a->transport, "tcp"));
	TEST_ASSERT(tnd_conf_account_allows(a, "anyone"));
	TEST_ASSERT(!tnd_conf_account_find(c, "d3"));
	tnd_conf_free(c);
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.uri = sip:1@x\n"),
				 "[accounts] d1.users (default): an account needs users");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.users = *\n"),
				 "[accounts] d1.uri (default): an account needs uri");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.uri = sip:1@x\nd1.users = *\n"
					  "d1.password = a\nd1.ha1 = "
					  "0123456789abcdef0123456789abcdef\n"),
				 "give password or ha1, not both");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.url = sip:1@x\n"),
				 "t.conf:2: [accounts] d1.url: unknown account field 'url'");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1 = sip:1@x\n"),
				 "keys are NAME.field");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.uri = tel:+49\n"),
				 "is not a sip:user@domain URI");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.expires = 5\n"),
				 "expires is 10..86400 seconds");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.ha1 = xyz\n"), "ha1 is 32 hex");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.auth_user = a:b\n"),
				 "auth_user may not hold ':'");
	TEST_ASSERT_STR_CONTAINS(load_err("[accounts]\nd1.transport = sctp\n"),
				 "transport is udp, tcp or tls");
	/* name lists: codecs case-insensitive, SDES suites exact, each once */
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nsip_codecs = PCMU, pcmu\n"),
				 "a comma-separated list of PCMU, PCMA, G722, G729, opus and iLBC, "
				 "each once");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nsip_codecs =\n"), "name at least one codec");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nsip_srtp_suites = aead_aes_128_gcm\n"),
				 "AEAD_AES_256_GCM, each once");
	TEST_ASSERT_STR_CONTAINS(load_err("[media]\nsip_srtp_suites =\n"),
				 "name at least one suite");
	{
		struct tnd_conf *lists = NULL;
		char e[256];
		const char *ok = "[media]\nsip_codecs = opus, pcma\n"
				 "sip_srtp_suites = AEAD_AES_128_GCM, AES_CM_128_HMAC_SHA1_80\n";

		TEST_ASSERT(tnd_conf_load_text(&lists, "t.conf", ok, strlen(ok), e, sizeof(e)) == 0);
		tnd_conf_free(lists);
	}
	return 0;
}

static int test_log_levels(void)
{
	TEST_ASSERT(tnd_log_parse_levels("info", true) == 0);
	TEST_ASSERT(tnd_log_parse_levels("warn, api=debug ,sip=error", true) == 0);
	TEST_ASSERT(tnd_log_parse_levels("", true) == EINVAL);
	TEST_ASSERT(tnd_log_parse_levels("api=debug,warn", true) == EINVAL);
	TEST_ASSERT(tnd_log_parse_levels("nosuch=debug", true) == EINVAL);
	TEST_ASSERT(tnd_log_parse_levels("api=loud", true) == EINVAL);
	TEST_ASSERT(tnd_log_parse_levels("error,api=debug", false) == 0);
	TEST_ASSERT(tnd_log_levels[TND_LOG_API] == TND_LOG_LEVEL_DEBUG);
	TEST_ASSERT(tnd_log_levels[TND_LOG_SIP] == TND_LOG_LEVEL_ERROR);
	TEST_ASSERT(tnd_log_parse_levels("info", false) == 0);
	return 0;
}

static int test_passwd(void)
{
	char hash[TND_PASSWD_HASH_MAX], hash2[TND_PASSWD_HASH_MAX];

	TEST_ASSERT(tnd_passwd_hash("pw", 1000, hash, sizeof(hash)) == 0);
	TEST_ASSERT(tnd_passwd_hash("pw", 1000, hash2, sizeof(hash2)) == 0);
	TEST_ASSERT(strcmp(hash, hash2));   /* salted */
	TEST_ASSERT(tnd_passwd_check_format(hash) == 0);
	TEST_ASSERT(tnd_passwd_verify(hash, "pw") == 0);
	TEST_ASSERT(tnd_passwd_verify(hash, "pW") == EACCES);
	TEST_ASSERT(tnd_passwd_verify("md5$x", "pw") == EINVAL);
	TEST_ASSERT(tnd_passwd_hash("pw", 10, hash, sizeof(hash)) == EINVAL);
	TEST_ASSERT(tnd_passwd_check_format("pbkdf2-sha256$999$AAAAAAAAAAAAAAAAAAAAAA==$x") ==
		    EINVAL);
	return 0;
}

static int test_policy_tokens(void)
{
	struct tnd_policy *p;
	struct tnd_conf *c;
	char tok[64], tok2[64];
	int exp;

	TEST_ASSERT(load(&c, "[auth]\ntoken_lifetime = 120\n") == 0);
	TEST_ASSERT(tnd_policy_alloc(&p, c) == 0);
	TEST_ASSERT(tnd_policy_token_issue(p, "alice", tok, sizeof(tok), &exp) == 0);
	TEST_ASSERT(exp == 120 && strlen(tok) == 43);
	TEST_ASSERT(tnd_policy_token_issue(p, "alice", tok2, sizeof(tok2), &exp) == 0);
	TEST_ASSERT(strcmp(tok, tok2));
	/* another user's try leaves the token to its owner */
	TEST_ASSERT(tnd_policy_token_take(p, "bob", tok) == EACCES);
	TEST_ASSERT(tnd_policy_token_take(p, "alice", tok) == 0);
	TEST_ASSERT(tnd_policy_token_take(p, "alice", "forged") == EACCES);
	/* one use each: the login that used it got a fresh one */
	TEST_ASSERT(tnd_policy_token_take(p, "alice", tok) == EACCES);
	TEST_ASSERT(tnd_policy_token_count(p) == 1);
	tnd_policy_free(p);
	tnd_conf_free(c);
	return 0;
}

/* Probe row "token table": 100,000 logins with one token filled the table
 * and locked everyone out. Per user the oldest token now makes room. */
static int test_policy_token_cap(void)
{
	struct tnd_policy *p;
	struct tnd_conf *c;
	char first[64], tok[64];
	int exp;

	TEST_ASSERT(load(&c, "[auth]\ntokens_per_user = 4\n") == 0);
	TEST_ASSERT(tnd_policy_alloc(&p, c) == 0);
	TEST_ASSERT(tnd_policy_token_issue(p, "alice", first, sizeof(first), &exp) == 0);
	for (int i = 0; i < 1000; i++)
		TEST_ASSERT(tnd_policy_token_issue(p, "alice", tok, sizeof(tok), &exp) == 0);
	TEST_ASSERT(tnd_policy_token_count(p) == 4);
	TEST_ASSERT(tnd_policy_token_take(p, "alice", first) == EACCES);
	TEST_ASSERT(tnd_policy_token_issue(p, "bob", tok, sizeof(tok), &exp) == 0);
	TEST_ASSERT(tnd_policy_token_count(p) == 5);
	TEST_ASSERT(tnd_policy_token_take(p, "bob", tok) == 0);
	TEST_ASSERT(tnd_policy_token_count(p) == 4);
	tnd_policy_free(p);
	tnd_conf_free(c);
	return 0;
}

/* Probe row "many source addresses": 5 guesses from each of 60 addresses
 * went unnoticed. Past the global limit password logins pause everywhere,
 * token logins do not. */
static int test_policy_global_pause(void)
{
	struct tnd_policy *p;
	struct tnd_conf *c;
	char addr[32];

	TEST_ASSERT(load(&c, "[auth]\nmax_failures = 5\nglobal_max_failures = 20\n") == 0);
	TEST_ASSERT(tnd_policy_alloc(&p, c) == 0);
	for (int i = 0; i < 19; i++) {
		snprintf(addr, sizeof(addr), "127.0.10.%d", i);
		tnd_policy_login_result(p, addr, false);
	}
	TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.1", true) == 0);
	tnd_policy_login_result(p, "127.0.10.99", false);
	TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.1", true) == EAGAIN);
	TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.1", false) == 0);
	tnd_policy_free(p);
	tnd_conf_free(c);
	return 0;
}

static int test_policy_lockout(void)
{
	struct tnd_policy *p;
	struct tnd_conf *c;

	TEST_ASSERT(load(&c, "[auth]\nmax_failures = 3\nlockout = 60\n") == 0);
	TEST_ASSERT(tnd_policy_alloc(&p, c) == 0);
	for (int i = 0; i < 3; i++) {
		TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.9", true) == 0);
		tnd_policy_login_result(p, "127.0.0.9", false);
	}
	TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.9", true) == EAGAIN);
	TEST_ASSERT(tnd_policy_check_login(p, "127.0.0.10", true) == 0);
	tnd_policy_free(p);
	tnd_conf_free(c);
	return 0;
}

static int test_dial_plan(void)
{
	struct tnd_conf *c;

	TEST_ASSERT(load(&c, "[calls]\nallow = sip:*@pbx.example, tel:+4930*\n") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:bob@pbx.example") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "tel:+49301234") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "tel:+1900555") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:bob@pbx.example.evil") == EPERM);
	/* wildcards do not cross URI structure: no smuggled host */
	TEST_ASSERT(tnd_policy_check_call(c, "sip:x@evil.example;p=@pbx.example") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:x@evil.example@pbx.example") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:x@evil.example?h=@pbx.example") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "tel:+4930123;phone-context=evil") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:@pbx.example") == 0);
	tnd_conf_free(c);
	TEST_ASSERT(load(&c, "[calls]\nallow = sip:1??@pbx.example;transport=tcp, sip:*\n") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:123@pbx.example;transport=tcp") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:12@pbx.example;transport=tcp") == EPERM);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:anything") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:a@b") == EPERM);
	tnd_conf_free(c);
	TEST_ASSERT(load(&c, "[calls]\nallow =\n") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:bob@pbx.example") == EPERM);
	tnd_conf_free(c);
	TEST_ASSERT(load(&c, "") == 0);
	TEST_ASSERT(tnd_policy_check_call(c, "sip:anyone@anywhere") == 0);
	tnd_conf_free(c);
	TEST_ASSERT_STR_CONTAINS(load_err("[calls]\nallow = sip:a b\n"), "t.conf:2: [calls] allow:");
	return 0;
}

static int test_ini_direct(void)
{
	struct tnd_ini *ini;

	TEST_ASSERT(tnd_ini_parse(&ini, "[a]\nk = v = w\n[b]\nk=\n", 20, err, sizeof(err)) == 0);
	TEST_ASSERT(ini->count == 2);
	TEST_ASSERT(!strcmp(ini->entries[0].value, "v = w") && ini->entries[0].line == 2);
	TEST_ASSERT(!strcmp(ini->entries[1].section, "b") && !*ini->entries[1].value);
	tnd_ini_free(ini);
	TEST_ASSERT(tnd_ini_parse(&ini, "", 0, err, sizeof(err)) == 0 && ini->count == 0);
	tnd_ini_free(ini);
	return 0;
}

static int test_load_file(void)
{
	char path[] = "/tmp/tandem-test-XXXXXX";
	struct tnd_conf *c;
	int fd = mkstemp(path);

	TEST_ASSERT(fd >= 0);
	TEST_ASSERT(write(fd, "[sip]\nport = 5070\nbogus = 1\n", 28) == 28);
	close(fd);
	TEST_ASSERT(tnd_conf_load(&c, path, err, sizeof(err)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(err, ":3: [sip] bogus: unknown key");
	TEST_ASSERT(!strncmp(err, path, strlen(path)));
	unlink(path);
	TEST_ASSERT(tnd_conf_load(&c, path, err, sizeof(err)) == ENOENT);
	TEST_ASSERT_STR_CONTAINS(err, path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_embedded_default),
		TND_TEST(test_example_is_default),
		TND_TEST(test_values_parsed),
		TND_TEST(test_unknown_key_names_line),
		TND_TEST(test_bad_values),
		TND_TEST(test_syntax_errors),
		TND_TEST(test_cross_checks),
		TND_TEST(test_sip_tls_nat_keys),
		TND_TEST(test_users_section),
		TND_TEST(test_accounts_section),
		TND_TEST(test_log_levels),
		TND_TEST(test_passwd),
		TND_TEST(test_policy_tokens),
		TND_TEST(test_policy_lockout),
		TND_TEST(test_policy_token_cap),
		TND_TEST(test_policy_global_pause),
		TND_TEST(test_dial_plan),
		TND_TEST(test_ini_direct),
		TND_TEST(test_load_file),
		TND_TEST(test_dialplan_parse),
		TND_TEST(test_dialplan_bad_lines),
		TND_TEST(test_dialplan_digits),
		TND_TEST(test_dialplan_normalise),
		TND_TEST(test_dialplan_rights_and_failover),
		TND_TEST(test_dialplan_trunk_uri),
		TND_TEST(test_dialplan_sources_and_dids),
		TND_TEST(test_dialplan_trunk_by_uri),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
