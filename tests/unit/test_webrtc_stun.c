/* Our STUN for ICE consent (webrtc/stun_auth.c, tnd_stun_parse_binding)
 * against an implementation nobody here wrote: libnice's STUN library. Its
 * agent must accept what we build, and we must accept and verify what it
 * builds, credentials included. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"
#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define LPWD "localpasswordlocalpassw"
#define RPWD "remotepasswordremotepas"

static const uint16_t known[] = {
	STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY, STUN_ATTRIBUTE_FINGERPRINT,
	STUN_ATTRIBUTE_PRIORITY, STUN_ATTRIBUTE_USE_CANDIDATE, STUN_ATTRIBUTE_ICE_CONTROLLED,
	STUN_ATTRIBUTE_ICE_CONTROLLING, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, 0,
};

bool tnd_test_stun_key(StunAgent *agent, StunMessage *msg, uint8_t *user, uint16_t user_len,
		       uint8_t **pwd, size_t *pwd_len, void *data)
{
	(void)agent;
	(void)msg;
	(void)user;
	(void)user_len;
	*pwd = data;
	*pwd_len = strlen(data);
	return true;
}

static void agent_init(StunAgent *a)
{
	stun_agent_init(a, known, STUN_COMPATIBILITY_RFC5389,
			STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
			STUN_AGENT_USAGE_USE_FINGERPRINT);
}

int test_stun_request_accepted_by_libnice(void)
{
	static const uint8_t txid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t buf[600];
	StunAgent agent;
	StunMessage msg;
	uint16_t ulen = 0;
	const uint8_t *user;
	uint32_t prio = 0;
	uint64_t tie = 0;
	size_t n;

	struct tnd_stun_key rk;
	struct tnd_stun_req req = { .user = "rfrag:lfrag", .priority = 0x6e7f00ff,
				    .controlling = true, .tiebreaker = 0x0102030405060708ull };

	tnd_stun_key_set(&rk, RPWD);
	n = tnd_stun_build_request(buf, sizeof(buf), txid, &req, &rk);
	TEST_ASSERT(n > 0 && n % 4 == 0);
	TEST_ASSERT(tnd_stun_check(buf, n) == 0);
	agent_init(&agent);
	TEST_ASSERT(stun_agent_validate(&agent, &msg, buf, n, tnd_test_stun_key, (void *)RPWD) ==
		  STUN_VALIDATION_SUCCESS);
	TEST_ASSERT(stun_message_get_class(&msg) == STUN_REQUEST);
	TEST_ASSERT(stun_message_get_method(&msg) == STUN_BINDING);
	user = stun_message_find(&msg, STUN_ATTRIBUTE_USERNAME, &ulen);
	TEST_ASSERT(user && ulen == 11 && !memcmp(user, "rfrag:lfrag", 11));
	TEST_ASSERT(stun_message_find32(&msg, STUN_ATTRIBUTE_PRIORITY, &prio) == STUN_MESSAGE_RETURN_SUCCESS);
	TEST_ASSERT(prio == 0x6e7f00ff);
	TEST_ASSERT(stun_message_find64(&msg, STUN_ATTRIBUTE_ICE_CONTROLLING, &tie) ==
		  STUN_MESSAGE_RETURN_SUCCESS);
	TEST_ASSERT(tie == 0x0102030405060708ull);
	TEST_ASSERT(!stun_message_has_attribute(&msg, STUN_ATTRIBUTE_USE_CANDIDATE));
	/* a nominating check carries USE-CANDIDATE, and libnice still takes it */
	req.use_candidate = true;
	n = tnd_stun_build_request(buf, sizeof(buf), txid, &req, &rk);
	agent_init(&agent);
	TEST_ASSERT(n > 0 && stun_agent_validate(&agent, &msg, buf, n, tnd_test_stun_key, (void *)RPWD) ==
		  STUN_VALIDATION_SUCCESS);
	TEST_ASSERT(stun_message_has_attribute(&msg, STUN_ATTRIBUTE_USE_CANDIDATE));
	/* the wrong key fails libnice's check */
	agent_init(&agent);
	TEST_ASSERT(stun_agent_validate(&agent, &msg, buf, n, tnd_test_stun_key, (void *)LPWD) ==
		  STUN_VALIDATION_UNAUTHORIZED);
	/* too small a buffer builds nothing */
	TEST_ASSERT(tnd_stun_build_request(buf, 60, txid, &req, &rk) == 0);
	return 0;
}

int test_stun_libnice_check_verified(void)
{
	uint8_t buf[600];
	StunAgent agent;
	StunMessage msg;
	struct tnd_stun_binding b;
	struct tnd_stun_key lk, rk;
	size_t n;

	tnd_stun_key_set(&lk, LPWD);
	tnd_stun_key_set(&rk, RPWD);
	agent_init(&agent);
	n = stun_usage_ice_conncheck_create(&agent, &msg, buf, sizeof(buf),
					    (const uint8_t *)"lfrag:rfrag", 11,
					    (const uint8_t *)LPWD, strlen(LPWD), true, true,
					    12345, 99, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
	TEST_ASSERT(n > 0);
	TEST_ASSERT(tnd_stun_parse_binding(buf, n, &b) == 0);
	TEST_ASSERT(b.type == TND_STUN_BINDING_REQUEST);
	TEST_ASSERT(b.user_len == 11 && !memcmp(b.user, "lfrag:rfrag", 11));
	TEST_ASSERT(b.use_candidate && b.controlling && !b.controlled && b.priority == 12345);
	TEST_ASSERT(b.integrity_off > 20);
	TEST_ASSERT(tnd_stun_verify(buf, n, b.integrity_off, &lk) == 0);
	TEST_ASSERT(tnd_stun_verify(buf, n, b.integrity_off, &rk) == EACCES);
	TEST_ASSERT(tnd_stun_verify(buf, n, 0, &lk) == EACCES);
	/* verify leaves the message as it was */
	TEST_ASSERT(tnd_stun_check(buf, n) == 0);
	/* a changed byte under the integrity fails it, and the fingerprint */
	buf[b.integrity_off - 1] ^= 1;
	TEST_ASSERT(tnd_stun_verify(buf, n, b.integrity_off, &lk) == EACCES);
	TEST_ASSERT(tnd_stun_parse_binding(buf, n, &b) == EBADMSG);
	/* not a Binding: an Allocate request frame */
	buf[1] = 0x03;
	TEST_ASSERT(tnd_stun_parse_binding(buf, n, &b) != 0);
	return 0;
}

static int success_for(const struct sockaddr_storage *from)
{
	uint8_t req[600], resp[600];
	StunAgent agent;
	StunMessage msg, rmsg;
	struct sockaddr_storage mapped;
	socklen_t mlen = sizeof(mapped);
	struct tnd_stun_binding b;
	struct tnd_stun_key lk;
	size_t n, rn;

	tnd_stun_key_set(&lk, LPWD);
	agent_init(&agent);
	n = stun_usage_ice_conncheck_create(&agent, &msg, req, sizeof(req),
					    (const uint8_t *)"lfrag:rfrag", 11,
					    (const uint8_t *)LPWD, strlen(LPWD), false, false,
					    7, 99, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
	TEST_ASSERT(n > 0 && tnd_stun_parse_binding(req, n, &b) == 0);
	rn = tnd_stun_build_success(resp, sizeof(resp), b.txid, from, &lk);
	TEST_ASSERT(rn > 0);
	/* libnice matches it to its request and checks our integrity */
	TEST_ASSERT(stun_agent_validate(&agent, &rmsg, resp, rn, tnd_test_stun_key, (void *)LPWD) ==
		  STUN_VALIDATION_SUCCESS);
	TEST_ASSERT(stun_usage_ice_conncheck_process(&rmsg, &mapped, &mlen,
						   STUN_USAGE_ICE_COMPATIBILITY_RFC5245) ==
		  STUN_USAGE_ICE_RETURN_SUCCESS);
	TEST_ASSERT(mapped.ss_family == from->ss_family);
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&mapped, *y = (const void *)from;

		TEST_ASSERT(x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr);
	} else {
		const struct sockaddr_in6 *x = (const void *)&mapped, *y = (const void *)from;

		TEST_ASSERT(x->sin6_port == y->sin6_port &&
			  !memcmp(&x->sin6_addr, &y->sin6_addr, 16));
	}
	/* and our own parser sees a success with integrity */
	TEST_ASSERT(tnd_stun_parse_binding(resp, rn, &b) == 0);
	TEST_ASSERT(b.type == TND_STUN_BINDING_SUCCESS);
	TEST_ASSERT(tnd_stun_verify(resp, rn, b.integrity_off, &lk) == 0);
	return 0;
}

int test_stun_success_accepted_by_libnice(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	v4->sin_family = AF_INET;
	v4->sin_port = htons(54321);
	inet_pton(AF_INET, "192.0.2.77", &v4->sin_addr);
	TEST_ASSERT(success_for(&ss) == 0);
	memset(&ss, 0, sizeof(ss));
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons(4242);
	inet_pton(AF_INET6, "2001:db8::1:2:3", &v6->sin6_addr);
	TEST_ASSERT(success_for(&ss) == 0);
	return 0;
}
