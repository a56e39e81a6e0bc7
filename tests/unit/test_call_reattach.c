/* gateway/call reattach (issue 12 item 3, protocol.md "Reattaching calls"):
 * a call outlives its WebSocket for [calls] reattach_grace seconds without
 * the SIP peer hearing anything; the same user's new WebSocket binds it
 * again, with the surviving pc or a new offer (a new WebRTC leg in the same
 * bridge); another user gets EPERM; after the grace the peer gets BYE (or
 * CANCEL). Same fixture as test_call.c: real user agents on loopback, one
 * media worker; fx.alice (sink id 1) and fx.alice2 (id 2) are two
 * WebSockets of alice. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "gateway/call/call.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call.h"
#include "webrtc/webrtc.h"
#include "tests/unit/test_call_fx.h"

static const char conf_grace[] = "[media]\nworkers = 1\n";   /* the default: 30 s */
static const char conf_grace_1s[] = "[media]\nworkers = 1\n[calls]\nreattach_grace = 1\n";
/* media timeout 1 s, grace 3 s */
static const char conf_silent[] =
	"[media]\nworkers = 1\ntimeout = 1\n[calls]\nreattach_grace = 3\n";

/* A reloaded page's offer: new ICE values, PCMU with telephone-event at
 * another payload type than the first offer's 126. */
static const char reload_offer[] =
	L("v=0") L("o=- 99 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 0 101") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:Rl0d") L("a=ice-pwd:reloadreloadreloadrel0") L("a=ice-options:trickle")
	L("a=fingerprint:sha-256 " FP) L("a=setup:actpass") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:101 telephone-event/8000");

/* ... and one with Opus alone, which the SIP leg (PCMU) cannot take. */
static const char reload_opus[] =
	L("v=0") L("o=- 98 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 111") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:Rl0e") L("a=ice-pwd:reloadreloadreloadrel1") L("a=ice-options:trickle")
	L("a=fingerprint:sha-256 " FP) L("a=setup:actpass") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:111 opus/48000/2");

static int answered_call(struct pcall **pcp)
{
	struct pcall *pc = start_call();

	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	*pcp = pc;
	return 0;
}

struct listed {
	char text[512];
	unsigned n;
};

static void list_one(void *arg, const struct tnd_call_brief *info)
{
	struct listed *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s %s %s %s;", info->call, info->state,
		 info->peer, info->incoming ? "in" : "out");
	l->n++;
}

static void list_of(const char *user, struct listed *l)
{
	memset(l, 0, sizeof(*l));
	tnd_calls_detached(fx.calls, user, list_one, l);
}

static int reattach(void *conn, const char *user, const char *sdp, char *msg, size_t msglen)
{
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	int err;

	fx.done = false;
	err = tnd_calls_reattach(fx.calls, conn, user, fx.call_id, sdp, call_done, r, msg,
				 msglen);
	tnd_obj_put(r);
	return err;
}

/* The WebSocket goes mid-call: the peer hears nothing, the call is listed
 * for alice (not for bob), bob cannot take it (EPERM), an unknown id is
 * ENOENT; alice's new socket reattaches without an offer (done at once,
 * no SDP), the list empties, and its hangup reaches the peer as BYE. */
static int same_pc(void)
{
	char msg[256], id[32], want[256];
	struct listed l;
	struct pcall *pc;
	size_t sink_len;

	TEST_ASSERT(!answered_call(&pc));
	snprintf(id, sizeof(id), "%s", fx.call_id);
	sink_len = strlen(fx.sink);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	spin(300);
	TEST_ASSERT(!pc->ended);
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;"));
	TEST_ASSERT(strlen(fx.sink) == sink_len);
	/* the old socket's requests find nothing */
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, id, msg, sizeof(msg)) == ENOENT);

	list_of("alice", &l);
	snprintf(want, sizeof(want), "%s answered sip:bob@127.0.0.1:%u out;", id, fx.peer_port);
	TEST_ASSERT(l.n == 1);
	TEST_ASSERT(!strcmp(l.text, want));
	list_of("bob", &l);
	TEST_ASSERT(l.n == 0);

	TEST_ASSERT(reattach(fx.alice2, "bob", NULL, msg, sizeof(msg)) == EPERM);
	TEST_ASSERT(reattach(fx.alice2, NULL, NULL, msg, sizeof(msg)) == EPERM);
	TEST_ASSERT(!fx.done);
	TEST_ASSERT(tnd_calls_reattach(fx.calls, fx.alice2, "alice", "c0", NULL, call_done,
				       fx.alice2, msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(reattach(fx.alice2, "alice", NULL, msg, sizeof(msg)) == 0);
	TEST_ASSERT(fx.done && fx.done_err == 0);
	TEST_ASSERT(!strcmp(fx.call_id, id));
	TEST_ASSERT(!*fx.answer);
	list_of("alice", &l);
	TEST_ASSERT(l.n == 0);

	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice2, id, msg, sizeof(msg)) == 0);
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 ended 200 hung up;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* Nobody comes back: after the grace (1 s) an answered call gets BYE and a
 * ringing one CANCEL; neither before. */
static int grace_ends(void)
{
	struct pcall *pc, *ringing;
	gint64 t0;

	TEST_ASSERT(!answered_call(&pc));
	ringing = start_call();
	TEST_ASSERT(ringing);
	TEST_ASSERT(tnd_sipcall_ringing(ringing->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	t0 = g_get_monotonic_time();
	tnd_calls_conn_gone(fx.calls, fx.alice);
	spin(700);
	TEST_ASSERT(!pc->ended && !ringing->ended);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(ringing->log, "ended", WAIT_MS));
	printf("# ended %.2f s after the WebSocket\n",
	       (double)(g_get_monotonic_time() - t0) / 1e6);
	TEST_ASSERT(g_get_monotonic_time() - t0 >= 1000000);
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	TEST_ASSERT(!strcmp(ringing->log, "invite bob;ended 487 remote-cancel;"));
	return 0;
}

/* A call on a live socket is taken over by the same user's other socket:
 * the first gets `ended` "taken over" and loses the call, the peer hears
 * nothing; the second owns it. */
static int takeover(void)
{
	char msg[256], id[32];
	struct pcall *pc;

	TEST_ASSERT(!answered_call(&pc));
	snprintf(id, sizeof(id), "%s", fx.call_id);
	TEST_ASSERT(reattach(fx.alice2, "alice", NULL, msg, sizeof(msg)) == 0);
	TEST_ASSERT(fx.done && fx.done_err == 0);
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 0 taken over;");
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, id, msg, sizeof(msg)) == ENOENT);
	/* the first socket closing no longer touches the call */
	tnd_calls_conn_gone(fx.calls, fx.alice);
	spin(200);
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;"));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice2, id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

static const char *ufrag_of(const char *sdp, char *buf, size_t len)
{
	const char *p = strstr(sdp, "a=ice-ufrag:");

	snprintf(buf, len, "%.*s", p ? (int)strcspn(p + 12, "\r\n") : 0, p ? p + 12 : "");
	return buf;
}

/* A reloaded page: an Opus-only offer gets ENOTSUP (488) and leaves the
 * call alone; a PCMU offer gets an answer with new ICE values at the new
 * offer's payload types, the SIP peer hears nothing, and hangup works. */
static int new_offer(void)
{
	char msg[256] = "", id[32], first[64], second[64];
	struct pcall *pc;

	TEST_ASSERT(!answered_call(&pc));
	snprintf(id, sizeof(id), "%s", fx.call_id);
	ufrag_of(fx.answer, first, sizeof(first));
	TEST_ASSERT(*first);
	tnd_calls_conn_gone(fx.calls, fx.alice);

	TEST_ASSERT(reattach(fx.alice2, "alice", reload_opus, msg, sizeof(msg)) == ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(msg, "PCMU/8000");
	TEST_ASSERT(reattach(fx.alice2, "alice", "v=0\r\nbogus", msg, sizeof(msg)) == EINVAL);
	TEST_ASSERT(!fx.done);

	TEST_ASSERT(reattach(fx.alice2, "alice", reload_offer, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS));
	TEST_ASSERT(fx.done_err == 0);
	TEST_ASSERT(!strcmp(fx.call_id, id));
	/* the SIP leg has no telephone-event: neither has the new leg */
	TEST_ASSERT_STR_CONTAINS(fx.answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n");
	TEST_ASSERT(!strstr(fx.answer, "telephone-event"));
	TEST_ASSERT_STR_CONTAINS(fx.answer, "a=fingerprint:sha-256 ");
	TEST_ASSERT(!strstr(fx.answer, "opus"));
	ufrag_of(fx.answer, second, sizeof(second));
	TEST_ASSERT(*second && strcmp(first, second));
	/* the SIP peer heard nothing of it */
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;"));

	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice2, id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* ... and one with telephone-event at 126, where the SIP caller has 101. */
static const char reload_te126[] =
	L("v=0") L("o=- 97 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 0 126") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:Rl0f") L("a=ice-pwd:reloadreloadreloadrel2") L("a=ice-options:trickle")
	L("a=fingerprint:sha-256 " FP) L("a=setup:actpass") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:126 telephone-event/8000");

/* A call from SIP: while it rings it cannot be reattached (EALREADY);
 * answered, then its WebSocket gone, it is listed as incoming, and a new
 * offer gets PCMU and telephone-event at the new offer's types. */
static int incoming(void)
{
	char msg[256];
	struct listed l;
	struct pcall *pc;

	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	snprintf(fx.call_id, sizeof(fx.call_id), "%s", fx.incoming_id);
	TEST_ASSERT(reattach(fx.alice2, "alice", NULL, msg, sizeof(msg)) == EALREADY);
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	TEST_ASSERT(wait_for(fx.sink, "1 answered", WAIT_MS));
	tnd_calls_conn_gone(fx.calls, fx.alice);
	list_of("alice", &l);
	TEST_ASSERT(l.n == 1);
	TEST_ASSERT_STR_CONTAINS(l.text, " answered sip:carol@");
	TEST_ASSERT_STR_CONTAINS(l.text, " in;");

	TEST_ASSERT(reattach(fx.alice2, "alice", reload_te126, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS));
	TEST_ASSERT(fx.done_err == 0);
	TEST_ASSERT_STR_CONTAINS(fx.answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0 126\r\n");
	spin(100);
	TEST_ASSERT(!pc->ended);
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "2 ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 ended 200 BYE;");
	return 0;
}

static void peer_rtp(int fd, const struct sockaddr_in *to, uint16_t seq)
{
	uint8_t rtp[172] = { 0x80, 0 };

	tnd_rtp_set_seq(rtp, seq);
	tnd_rtp_set_ts(rtp, seq * 160u);
	tnd_rtp_set_ssrc(rtp, 0x5eed);
	sendto(fd, rtp, sizeof(rtp), 0, (const struct sockaddr *)to, sizeof(*to));
}

/* [media] timeout 1 s: a detached call whose browser (a real pc here)
 * falls silent is not ended by the media timeout while the SIP peer talks
 * on; the grace (3 s) ends it, BYE to the peer. */
static int detached_browser_silent(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	char offer[2 * LOGLEN], to_uri[128], msg[256];
	struct tnd_call_params p = { .to = to_uri, .sdp = offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned n_pc = fx.n_pc;
	uint16_t seq = 1;
	struct pcall *pc;
	int64_t t0, stop;
	const char *m;

	TEST_ASSERT(tnd_test_browser_up() == 0);
	tnd_test_browser_offer(offer, sizeof(offer));
	snprintf(to_uri, sizeof(to_uri), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.peer_auto_ring = true;
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg)) == 0);
	tnd_obj_put(r);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS) && fx.done_err == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS) && fx.n_pc == n_pc + 1);
	pc = &fx.pc[n_pc];
	TEST_ASSERT(tnd_test_browser_remote(fx.answer, fx.gw_cands));
	TEST_ASSERT(tnd_test_browser_wait_connected(WAIT_MS));
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	m = strstr(pc->sdp, "m=audio ");
	TEST_ASSERT(m);
	to.sin_port = htons((uint16_t)atoi(m + 8));

	/* both talk for half a second, then the socket goes and the browser
	 * falls silent; the SIP peer talks on past the media timeout */
	for (stop = g_get_monotonic_time() + 500000; g_get_monotonic_time() < stop; seq++) {
		peer_rtp(fx.media_fd, &to, seq);
		TEST_ASSERT(tnd_test_browser_send(1));
		spin(20);
	}
	t0 = g_get_monotonic_time();
	tnd_calls_conn_gone(fx.calls, fx.alice);
	for (stop = t0 + 2500000; !pc->ended && g_get_monotonic_time() < stop; seq++) {
		peer_rtp(fx.media_fd, &to, seq);
		spin(20);
	}
	TEST_ASSERT(!pc->ended);
	for (stop = t0 + 3000000 + WAIT_MS * 1000LL; !pc->ended &&
	     g_get_monotonic_time() < stop; seq++) {
		peer_rtp(fx.media_fd, &to, seq);
		spin(20);
	}
	printf("# BYE %.2f s after the socket went\n", (double)(g_get_monotonic_time() - t0) / 1e6);
	TEST_ASSERT(g_get_monotonic_time() - t0 >= 3000000);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* logout is an explicit end: BYE at once, the owner told "logged out". */
static int logout(void)
{
	struct pcall *pc;

	TEST_ASSERT(!answered_call(&pc));
	tnd_calls_logout(fx.calls, fx.alice);
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 200 logged out;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

int tnd_test_call_reattach_same_pc(void)
{
	return with_fx(same_pc, conf_grace);
}

int tnd_test_call_reattach_grace_ends(void)
{
	return with_fx(grace_ends, conf_grace_1s);
}

int tnd_test_call_reattach_takeover(void)
{
	return with_fx(takeover, conf_grace);
}

int tnd_test_call_reattach_new_offer(void)
{
	return with_fx(new_offer, conf_grace);
}

int tnd_test_call_reattach_logout(void)
{
	return with_fx(logout, conf_grace);
}

int tnd_test_call_reattach_incoming(void)
{
	return with_fx(incoming, conf_grace);
}

int tnd_test_call_reattach_browser_silent(void)
{
	return with_fx(detached_browser_silent, conf_silent);
}
