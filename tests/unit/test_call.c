/* gateway/call: the call state machine driven in process with real parts,
 * none mocked: the gateway's SIP user agent (sip/) on 127.0.0.1, a media
 * pool with one worker thread (gateway/media), and as the SIP peer a second
 * tnd_sipua on another port, driven through sip/'s own API. The browser side
 * is the call sink below, which records every notification, and the SDP a
 * browser would send. Most tests stop before ICE (the SIP leg's inactivity
 * clock starts with the SDP answer); one brings the media up with a real
 * tnd_pc as the browser, on a thread of its own.
 *
 * The test thread is the signalling thread: it spins the default main
 * context, which carries both user agents and the bridge's events. Each test
 * asserts on what the SIP peer saw (INVITE and its SDP, status codes, BYE or
 * CANCEL), on the sink's call.state sequence, and that every call, dialog,
 * bridge and port is gone at the end (tnd_calls_stats; the runner counts
 * tnd_obj objects). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/call/call.h"
#include "gateway/conf.h"
#include "gateway/media/media.h"
#include "sip/sip.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_call.h"
#include "webrtc/webrtc.h"

#define L(s) s "\r\n"
#define FP "16:E5:F6:0F:20:7A:1A:00:73:45:1C:35:A9:D3:15:D1:7F:DC:17:D7:FA:B6:64:49:" \
	"B0:0C:DF:AA:DC:8B:24:9E"
#define WAIT_MS TND_TEST_CALL_WAIT_MS
#define NPEER 4          /* SIP peer's dialogs one test keeps apart */
#define LOGLEN 2048

/* What a browser offers: Opus first, then G.711 and telephone-event, no
 * candidates yet (it trickles). The gateway prefers PCMU. */
static const char browser_offer[] =
	L("v=0") L("o=- 4611731400430051336 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0")
	L("a=group:BUNDLE 0") L("a=msid-semantic: WMS")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126") L("c=IN IP4 0.0.0.0")
	L("a=rtcp:9 IN IP4 0.0.0.0") L("a=ice-ufrag:Ow9+") L("a=ice-pwd:Gk2bA7sQm6hX1yTqzR0vN3pL")
	L("a=ice-options:trickle") L("a=fingerprint:sha-256 " FP) L("a=setup:actpass")
	L("a=mid:0") L("a=sendrecv") L("a=rtcp-mux") L("a=rtpmap:111 opus/48000/2")
	L("a=fmtp:111 minptime=10;useinbandfec=1") L("a=rtpmap:0 PCMU/8000")
	L("a=rtpmap:8 PCMA/8000") L("a=rtpmap:126 telephone-event/8000")
	L("a=ssrc:3735928559 cname:browser");

/* The browser's answer to the gateway's offer for a call from SIP: PCMU and
 * telephone-event at the SIP caller's payload types (which the gateway's
 * offer keeps). */
static const char browser_answer[] =
	L("v=0") L("o=- 77 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 0 101") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:brws") L("a=ice-pwd:browserpasswordbrowser12")
	L("a=fingerprint:sha-256 " FP) L("a=setup:active") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:101 telephone-event/8000");

/* ------------------------------------------------------------ fixture */

/* A browser's WebSocket, as the API would pass it: an opaque tnd_obj. */
struct conn {
	struct tnd_obj obj;
	int id;
};

/* A pending `call` request. */
struct req {
	struct tnd_obj obj;
};

/* One dialog of the SIP peer, either direction. */
struct pcall {
	struct tnd_sipcall *sc;      /* ref; NULL once ended */
	char log[LOGLEN];            /* "invite;180;200;ended 200 remote-bye;" */
	char sdp[LOGLEN];            /* the gateway's offer (in) or answer (out) */
	bool ended;
	int end_status;
};

static struct fx {
	struct tnd_conf *conf;            /* owned */
	struct tnd_loop *signal;          /* owned: the default context */
	struct tnd_media_pool *pool;      /* owned */
	struct tnd_sipua *gw, *peer;      /* owned */
	uint16_t gw_port, peer_port;
	struct tnd_calls *calls;          /* owned */
	struct conn *alice, *alice2;      /* refs */
	unsigned n_alice;                 /* connections the lookup returns */
	int media_fd;                     /* the SIP peer's RTP socket */
	uint16_t media_port;

	char sink[LOGLEN];                /* "1 ringing 180 Ringing;..." */
	char incoming_id[32];             /* last `incoming` call id */
	char incoming_sdp[LOGLEN];
	char incoming_display[256];
	int n_incoming;
	char gw_cands[LOGLEN];            /* trickled to the browser: "a=candidate:..." */
	bool gw_cands_done;

	bool done;                        /* the `call` request's completion */
	int done_err;
	char done_msg[256], call_id[32], answer[LOGLEN];

	struct pcall pc[NPEER];
	unsigned n_pc;
	bool peer_auto_ring;              /* 180 to every INVITE at once */
} fx;

static void append(char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(char *log, const char *fmt, ...)
{
	size_t n = strlen(log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log + n, LOGLEN - n, fmt, ap);
	va_end(ap);
}

/* ---- the browser side: the sink */

static int conn_id(void *conn)
{
	return ((struct conn *)conn)->id;
}

static void sink_state(void *conn, const char *call, const char *state, int code,
		       const char *reason)
{
	(void)call;
	append(fx.sink, "%d %s %d %s;", conn_id(conn), state, code, reason ? reason : "");
}

static void sink_candidate(void *conn, const char *call, const char *cand)
{
	(void)conn;
	(void)call;
	if (cand)
		append(fx.gw_cands, "a=%s\r\n", cand);
	else
		fx.gw_cands_done = true;
}

static void sink_incoming(void *conn, const char *call, const char *from,
			  const char *from_display, const char *to, const char *sdp,
			  const char *const *hdr_names, const char *const *hdr_values,
			  size_t n_hdrs)
{
	(void)hdr_names;
	(void)hdr_values;
	snprintf(fx.incoming_display, sizeof(fx.incoming_display), "%s",
		 from_display ? from_display : "");
	append(fx.sink, "%d incoming %s %s %zu;", conn_id(conn), from, to, n_hdrs);
	snprintf(fx.incoming_id, sizeof(fx.incoming_id), "%s", call);
	snprintf(fx.incoming_sdp, sizeof(fx.incoming_sdp), "%s", sdp);
	fx.n_incoming++;
}

static const struct tnd_call_sink sink = { sink_state, sink_candidate, sink_incoming };

static size_t lookup(void *arg, const char *user, void **conns, size_t max)
{
	size_t n = 0;

	(void)arg;
	if (strcmp(user, "alice"))
		return 0;
	if (fx.n_alice >= 1 && n < max)
		conns[n++] = fx.alice;
	if (fx.n_alice >= 2 && n < max)
		conns[n++] = fx.alice2;
	return n;
}

static void call_done(void *r, int err, const char *msg, const char *call, const char *sdp)
{
	(void)r;
	fx.done = true;
	fx.done_err = err;
	snprintf(fx.done_msg, sizeof(fx.done_msg), "%s", msg ? msg : "");
	snprintf(fx.call_id, sizeof(fx.call_id), "%s", call ? call : "");
	snprintf(fx.answer, sizeof(fx.answer), "%s", sdp ? sdp : "");
}

/* ---- the SIP peer */

static void peer_progress(void *arg, struct tnd_sipcall *sc, int status, const char *phrase,
			  const char *sdp)
{
	struct pcall *pc = arg;

	(void)sc;
	(void)phrase;
	append(pc->log, "%d%s;", status, sdp ? " sdp" : "");
}

static void peer_answered(void *arg, struct tnd_sipcall *sc, int status, const char *phrase,
			  const char *sdp)
{
	struct pcall *pc = arg;

	(void)sc;
	(void)phrase;
	append(pc->log, "%d;", status);
	snprintf(pc->sdp, sizeof(pc->sdp), "%s", sdp ? sdp : "");
}

static void peer_ack(void *arg, struct tnd_sipcall *sc)
{
	struct pcall *pc = arg;

	(void)sc;
	append(pc->log, "ack;");
}

static void peer_ended(void *arg, struct tnd_sipcall *sc, int status, const char *phrase,
		       enum tnd_sipcall_end why)
{
	struct pcall *pc = arg;

	(void)sc;
	(void)phrase;
	append(pc->log, "ended %d %s;", status, tnd_sipcall_end_name(why));
	pc->ended = true;
	pc->end_status = status;
	pc->sc = tnd_obj_put(pc->sc);
}

static const struct tnd_sipcall_handlers peer_h = {
	peer_progress, peer_answered, peer_ack, peer_ended,
};

/* INVITEs from the gateway. */
static int peer_incoming(void *arg, struct tnd_sipcall *sc, const struct tnd_sipcall_info *info)
{
	struct pcall *pc;

	(void)arg;
	if (fx.n_pc == NPEER)
		return EBUSY;
	pc = &fx.pc[fx.n_pc++];
	append(pc->log, "invite %s;", info->ruri_user);
	snprintf(pc->sdp, sizeof(pc->sdp), "%s", info->sdp);
	tnd_sipcall_set_handlers(sc, &peer_h, pc);
	pc->sc = tnd_obj_get(sc);
	if (fx.peer_auto_ring)
		tnd_sipcall_ringing(sc, NULL);
	return 0;
}

/* The peer's SDP (offer or answer): PCMU on its RTP socket. */
static void peer_sdp(char *buf, size_t len, bool offer)
{
	snprintf(buf, len, L("v=0") L("o=peer 1 1 IN IP4 127.0.0.1") L("s=-")
		 L("c=IN IP4 127.0.0.1") L("t=0 0") L("m=audio %u RTP/AVP 0%s")
		 L("a=rtpmap:0 PCMU/8000") "%s" L("a=ptime:20") L("a=sendrecv"),
		 fx.media_port, offer ? " 101" : "",
		 offer ? L("a=rtpmap:101 telephone-event/8000") L("a=fmtp:101 0-15") : "");
}

static int peer_answer(struct pcall *pc)
{
	char sdp[512];

	peer_sdp(sdp, sizeof(sdp), false);
	return tnd_sipcall_answer(pc->sc, sdp);
}

/* The peer calls `user` at the gateway. */
static struct pcall *peer_invite_as(const char *user, const char *display)
{
	char to[128], sdp[512];
	struct tnd_sipcall_params p = { .to = to, .from_user = "carol", .sdp = sdp,
					.from_display = display };
	struct pcall *pc;

	if (fx.n_pc == NPEER)
		return NULL;
	pc = &fx.pc[fx.n_pc++];
	snprintf(to, sizeof(to), "sip:%s@127.0.0.1:%u", user, fx.gw_port);
	peer_sdp(sdp, sizeof(sdp), true);
	if (tnd_sipcall_invite(&pc->sc, fx.peer, &p, &peer_h, pc))
		return NULL;
	return pc;
}

static struct pcall *peer_invite(const char *user)
{
	return peer_invite_as(user, NULL);
}

/* ---- waiting: the test thread is the signalling loop */

static void spin(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
}

/* Spins until `needle` is in `log`, at most ms. */
static bool wait_for(const char *log, const char *needle, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (!strstr(log, needle) && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	if (!strstr(log, needle)) {
		printf("# waited for '%s' in '%s'\n", needle, log);
		return false;
	}
	return true;
}

static bool wait_flag(const bool *flag, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (!*flag && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	return *flag;
}

/* Every call, dialog (both user agents), bridge and port gone. */
static bool idle(void)
{
	struct tnd_calls_stats st = { 0 };
	struct tnd_media_counts mc;

	if (fx.calls)
		tnd_calls_stats(fx.calls, &st);
	tnd_media_counts(&mc);
	return st.calls == 0 && st.sip_dialogs == 0 && tnd_sipua_calls(fx.gw) == 0 &&
	       tnd_sipua_calls(fx.peer) == 0 && mc.bridges == 0 && mc.open_legs == 0 &&
	       mc.ports == 0;
}

static bool wait_idle(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;
	struct tnd_media_counts mc;

	while (!idle() && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	if (idle())
		return true;
	tnd_media_counts(&mc);
	printf("# not idle: gw dialogs %u, peer dialogs %u, bridges %ld, legs %ld, ports %ld\n",
	       tnd_sipua_calls(fx.gw), tnd_sipua_calls(fx.peer), mc.bridges, mc.open_legs,
	       mc.ports);
	return false;
}

/* ---- set-up and tear-down */

static int free_udp_port(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		err = errno;
	*port = ntohs(a.sin_port);
	close(fd);
	return err;
}

/* A user agent on a free UDP port; another probe if one was taken meanwhile. */
static int ua_up(struct tnd_sipua **uap, uint16_t *port)
{
	struct tnd_sip_conf sc = { .listen = "127.0.0.1", .udp = true,
				   .user_agent = "tandem-test" };
	int err = EADDRINUSE;

	for (int i = 0; i < 5 && err == EADDRINUSE; i++) {
		err = free_udp_port(port);
		if (err)
			return err;
		sc.port = *port;
		err = tnd_sipua_alloc(uap, g_main_context_default(), &sc);
	}
	return err;
}

static int fx_up(const char *conf_text)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);
	struct tnd_calls_env env = { 0 };
	char err[512];

	memset(&fx, 0, sizeof(fx));
	fx.media_fd = -1;
	if (tnd_conf_load_text(&fx.conf, "test.conf", conf_text, strlen(conf_text), err,
			       sizeof(err))) {
		printf("# conf: %s\n", err);
		return 1;
	}
	if (tnd_loop_alloc(&fx.signal, "signal", 0) || tnd_media_pool_alloc(&fx.pool, 1) ||
	    ua_up(&fx.gw, &fx.gw_port) || ua_up(&fx.peer, &fx.peer_port))
		return 1;
	tnd_sipua_set_incoming(fx.peer, peer_incoming, NULL);
	fx.media_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fx.media_fd < 0 || bind(fx.media_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fx.media_fd, (struct sockaddr *)&a, &len))
		return 1;
	fx.media_port = ntohs(a.sin_port);
	fx.alice = tnd_obj_zalloc(sizeof(*fx.alice), NULL);
	fx.alice2 = tnd_obj_zalloc(sizeof(*fx.alice2), NULL);
	if (!fx.alice || !fx.alice2)
		return 1;
	fx.alice->id = 1;
	fx.alice2->id = 2;
	fx.n_alice = 1;
	env = (struct tnd_calls_env){ .conf = fx.conf, .signal = fx.signal, .media = fx.pool,
		.sip = fx.gw, .sink = &sink, .lookup = lookup };
	return tnd_calls_alloc(&fx.calls, &env) ? 1 : 0;
}

static void ua_stopped(void *arg)
{
	*(bool *)arg = true;
}

static void ua_down(struct tnd_sipua *ua)
{
	bool done = false;

	if (!ua)
		return;
	tnd_sipua_shutdown(ua, ua_stopped, &done);
	wait_flag(&done, WAIT_MS);
	tnd_sipua_free(ua);
}

/* Frees everything; 0 when nothing was left behind. */
static int fx_down(long live)
{
	int64_t end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	int rc = 0;

	tnd_test_browser_down();
	tnd_calls_free(fx.calls);
	fx.calls = NULL;
	/* let the BYEs and CANCELs the registry sent finish */
	if (!wait_idle(WAIT_MS))
		rc = 1;
	for (unsigned i = 0; i < fx.n_pc; i++)
		fx.pc[i].sc = tnd_obj_put(fx.pc[i].sc);
	ua_down(fx.gw);
	ua_down(fx.peer);
	tnd_obj_put(fx.alice);
	tnd_obj_put(fx.alice2);
	/* the bridges' last references come back through the signalling loop */
	while (tnd_obj_live() != live && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	tnd_media_pool_free(fx.pool);
	while (g_main_context_iteration(NULL, FALSE))
		;
	tnd_loop_free(fx.signal);
	tnd_conf_free(fx.conf);
	if (fx.media_fd >= 0)
		close(fx.media_fd);
	if (tnd_obj_live() != live) {
		printf("# %ld object(s) left\n", tnd_obj_live() - live);
		rc = 1;
	}
	return rc;
}

/* Runs a test body on a fresh fixture made from conf_text; then checks
 * that every call, dialog, bridge and port is gone and frees it all, also
 * after a failed assertion (so one failure does not leak into the next). */
static int with_fx(int (*body)(void), const char *conf_text)
{
	long live = tnd_obj_live();
	int rc = fx_up(conf_text) ? 1 : body();

	if (!rc && !wait_idle(WAIT_MS))
		rc = 1;
	return fx_down(live) | rc;
}

static const char conf_default[] = "[media]\nworkers = 1\n";
static const char conf_dialplan[] = "[media]\nworkers = 1\n[calls]\nallow = sip:*@pbx.example\n";
static const char conf_timeout[] = "[media]\nworkers = 1\ntimeout = 1\n";

/* Starts a call from alice to bob at the SIP peer; waits for the INVITE. */
static struct pcall *start_call(void)
{
	char to[128], msg[256] = "";
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned before = fx.n_pc;
	int err;

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.done = false;
	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	if (err) {
		printf("# tnd_calls_start: %s: %s\n", strerror(err), msg);
		return NULL;
	}
	if (!wait_flag(&fx.done, WAIT_MS) || fx.done_err) {
		printf("# call request: %d %s\n", fx.done_err, fx.done_msg);
		return NULL;
	}
	for (int64_t end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	     fx.n_pc == before && g_get_monotonic_time() < end;)
		spin(2);
	return fx.n_pc > before ? &fx.pc[before] : NULL;
}

/* ------------------------------------------------------------ browser to SIP */

/* The whole outgoing call: our answer to the browser, the INVITE with the
 * codec the browser and we agreed on, ringing and answered in order, and
 * the browser's hangup reaching the peer as BYE. */
static int out_answered_hangup(void)
{
	char msg[256];
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	/* our answer to the browser: PCMU at its PT, our ICE and DTLS */
	TEST_ASSERT_STR_CONTAINS(fx.answer, "m=audio 9 UDP/TLS/RTP/SAVPF 0 126");
	TEST_ASSERT_STR_CONTAINS(fx.answer, "a=fingerprint:sha-256 ");
	TEST_ASSERT_STR_CONTAINS(fx.answer, "a=ice-ufrag:");
	TEST_ASSERT(!strstr(fx.answer, "opus"));
	/* the INVITE: PCMU alone (pass-through) plus telephone-event, plain RTP */
	TEST_ASSERT_STR_CONTAINS(pc->log, "invite bob;");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "RTP/AVP 0 126");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:0 PCMU/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "a=rtpmap:126 telephone-event/8000");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "c=IN IP4 127.0.0.1");
	TEST_ASSERT(!strstr(pc->sdp, "opus") && !strstr(pc->sdp, "PCMA"));

	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 ringing 180 Ringing;1 answered 200 OK;"));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));

	/* someone else's hangup, or an unknown id: 404, nothing sent */
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice2, fx.call_id, msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, "c0", msg, sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	/* the BYE's 200 ends the call for the browser (protocol.md) */
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, ";1 ended 200 ");
	return 0;
}

/* The callee is busy: 486 reaches the browser as `ended` 486. */
static int out_rejected_486(void)
{
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 ended 486 Busy Here;"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 486 local;");
	return 0;
}

/* The browser hangs up while it rings: the peer gets CANCEL (487 to its
 * INVITE) and the browser `ended` 487. */
static int out_cancel_ringing(void)
{
	char msg[256];
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	TEST_ASSERT(tnd_calls_hangup(fx.calls, fx.alice, fx.call_id, msg, sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ended 487 remote-cancel;"));
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 ringing 180 Ringing;1 ended 487 Request Terminated;"));
	return 0;
}

/* Requests the gateway refuses before anything reaches SIP. */
static int out_refused(void)
{
	struct tnd_call_params p = { .to = "sip:bob@127.0.0.1", .sdp = "v=0\r\n" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	char msg[256];

	/* the dial plan */
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == EPERM);
	p.to = "sip:bob@pbx.example";
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == EINVAL);
	TEST_ASSERT_STR_CONTAINS(msg, "params.sdp");
	/* no codec in common: 488 before any port is taken */
	p.sdp = L("v=0") L("o=- 1 1 IN IP4 127.0.0.1") L("s=-") L("t=0 0")
		L("m=audio 9 UDP/TLS/RTP/SAVPF 9") L("c=IN IP4 0.0.0.0")
		L("a=ice-ufrag:Ow9+") L("a=ice-pwd:Gk2bA7sQm6hX1yTqzR0vN3pL")
		L("a=fingerprint:sha-256 " FP) L("a=setup:actpass") L("a=mid:0")
		L("a=rtcp-mux") L("a=rtpmap:9 G722/8000");
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg,
				    sizeof(msg)) == ENOTSUP);
	tnd_obj_put(r);
	TEST_ASSERT(!fx.done && fx.n_pc == 0 && !*fx.sink);
	return 0;
}

/* ------------------------------------------------------------ SIP to browser */

/* An INVITE for a logged-in user rings her WebSocket with our offer and
 * 180 to the caller; her reject reaches the caller as 486. */
static int in_reject(void)
{
	char msg[256];
	struct pcall *pc;

	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 incoming sip:carol@127.0.0.1");
	/* a browser offer: the caller's codec alone at its PT, DTLS, ICE */
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "m=audio 9 UDP/TLS/RTP/SAVPF 0 101");
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "a=setup:actpass");
	TEST_ASSERT_STR_CONTAINS(fx.incoming_sdp, "a=ice-pwd:");
	/* bad codes and other connections are refused */
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 200, msg,
				     sizeof(msg)) == EINVAL);
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice2, fx.incoming_id, 486, msg,
				     sizeof(msg)) == ENOENT);
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "180;ended 486 rejected;"));
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, ";1 ended 486 ");
	return 0;
}

/* Nobody logged in as the user: 480, and no call is made. */
static int in_unknown_user(void)
{
	struct pcall *pc, *pc2;

	pc = peer_invite("nobody");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "ended 480 rejected;"));
	/* alice known to the user table but with no WebSocket open: the same */
	fx.n_alice = 0;
	pc2 = peer_invite("alice");
	TEST_ASSERT(pc2);
	TEST_ASSERT(wait_for(pc2->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc2->log, "ended 480 rejected;"));
	TEST_ASSERT(!*fx.sink);
	return 0;
}

/* Two WebSockets ring; the second answers: the first hears "answered
 * elsewhere", the caller gets 200 with our SDP; the caller's BYE ends it. */
static int in_answer_forked_then_bye(void)
{
	char msg[256];
	struct pcall *pc;

	fx.n_alice = 2;
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(fx.n_incoming == 2);
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice2, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == 0);
	/* the loser's answer comes too late */
	TEST_ASSERT(tnd_calls_answer(fx.calls, fx.alice, fx.incoming_id, browser_answer, msg,
				     sizeof(msg)) == EALREADY);
	TEST_ASSERT(wait_for(pc->log, "200;", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "m=audio ");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "RTP/AVP 0 101");
	TEST_ASSERT_STR_CONTAINS(pc->sdp, "c=IN IP4 127.0.0.1");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 0 answered elsewhere;");
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 answered 200 OK;");
	spin(50);
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "2 ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "2 ended 200 BYE;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 200 local;");
	return 0;
}

/* The caller gives up while it rings: CANCEL ends it for the browser, 487. */
static int in_caller_cancels(void)
{
	struct pcall *pc;

	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 487 ");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT_STR_CONTAINS(pc->log, "ended 487 local;");
	return 0;
}

/* ------------------------------------------------------------ teardown orders */

/* The WebSocket closes while the call rings, and another while it is up:
 * CANCEL, then BYE, reach the peer; nobody is told (nobody is left). */
static int conn_gone(void)
{
	struct pcall *pc;
	size_t sink_len;

	fx.peer_auto_ring = true;
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ended 487 remote-cancel;"));
	TEST_ASSERT(wait_idle(WAIT_MS));
	TEST_ASSERT(strlen(fx.sink) == sink_len);

	/* mid-call */
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	sink_len = strlen(fx.sink);
	tnd_calls_conn_gone(fx.calls, fx.alice);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	TEST_ASSERT(wait_idle(WAIT_MS));
	TEST_ASSERT(strlen(fx.sink) == sink_len);
	return 0;
}

/* An incoming call ringing on two WebSockets: one closing leaves it ringing
 * on the other; the last closing answers the caller 480. */
static int conn_gone_incoming(void)
{
	char msg[256];
	struct pcall *pc;

	fx.n_alice = 2;
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "180;", WAIT_MS));
	tnd_calls_conn_gone(fx.calls, fx.alice);
	spin(100);
	TEST_ASSERT(!pc->ended);
	/* the closed one can no longer act on it */
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == ENOENT);
	tnd_calls_conn_gone(fx.calls, fx.alice2);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "180;ended 480 rejected;"));
	return 0;
}

/* The SIP peer hangs up an answered call from the browser: `ended` 200. */
static int out_remote_bye(void)
{
	struct pcall *pc;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(pc->log, "ack;", WAIT_MS));
	TEST_ASSERT(tnd_sipcall_hangup(pc->sc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(fx.sink, "1 answered 200 OK;1 ended 200 BYE;"));
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 local;"));
	return 0;
}

/* The registry freed with calls in every state: an answered call from the
 * browser (BYE), one still ringing at the peer (CANCEL) and one from SIP
 * ringing in the browser (480); nothing is left. */
static int calls_free_live(void)
{
	struct pcall *out1, *out2, *in;
	size_t sink_len;

	out1 = start_call();
	TEST_ASSERT(out1);
	TEST_ASSERT(peer_answer(out1) == 0);
	TEST_ASSERT(wait_for(out1->log, "ack;", WAIT_MS));
	fx.peer_auto_ring = true;
	out2 = start_call();
	TEST_ASSERT(out2);
	in = peer_invite("alice");
	TEST_ASSERT(in);
	TEST_ASSERT(wait_for(in->log, "180;", WAIT_MS));
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);

	tnd_calls_free(fx.calls);
	fx.calls = NULL;
	TEST_ASSERT(wait_for(out1->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(out2->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_for(in->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(out1->log, "invite bob;ack;ended 200 remote-bye;"));
	TEST_ASSERT(!strcmp(out2->log, "invite bob;ended 487 remote-cancel;"));
	TEST_ASSERT(!strcmp(in->log, "180;ended 480 rejected;"));
	/* call.h: "Hangs up every call without further events" */
	if (strlen(fx.sink) != sink_len)
		printf("# after tnd_calls_free the sink heard: %s\n", fx.sink + sink_len);
	TEST_ASSERT(strlen(fx.sink) == sink_len);
	return 0;
}

/* ------------------------------------------------------------ media */

static uint16_t sdp_port(const char *sdp)
{
	const char *m = strstr(sdp, "m=audio ");

	return m ? (uint16_t)atoi(m + 8) : 0;
}

/* [media] timeout = 1: an answered call stays up while the SIP peer sends
 * RTP, and ends 408 "no media" with BYE to the peer once it stops. */
static int media_timeout(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	uint8_t rtp[172] = { 0x80, 0 };
	struct pcall *pc;
	int64_t stop;

	pc = start_call();
	TEST_ASSERT(pc);
	to.sin_port = htons(sdp_port(pc->sdp));
	TEST_ASSERT(to.sin_port != 0);
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	/* 2.5 timeouts of RTP from the peer's SDP address: the call lives */
	stop = g_get_monotonic_time() + 2500000;
	for (uint16_t seq = 1; g_get_monotonic_time() < stop; seq++) {
		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		tnd_rtp_set_ssrc(rtp, 0x5eed);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		spin(20);
	}
	TEST_ASSERT(!strstr(fx.sink, "ended") && !pc->ended);
	/* silence */
	TEST_ASSERT(wait_for(fx.sink, "ended", 3000));
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 answered 200 OK;1 ended 408 no media from the "
				 "SIP side for 1 s;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* The media up end to end with [media] timeout = 1: a real pc as the
 * browser gets ICE and DTLS-SRTP up with the bridge, PCMU crosses both
 * ways (the SIP peer's socket hears the browser, the browser's pc the SIP
 * peer); when the browser falls silent while the SIP side still talks, the
 * call ends 408 "no media from the browser" with BYE to the peer. */
static int media_up_browser_silent(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	char offer[2 * LOGLEN], to_uri[128], msg[256];
	struct tnd_call_params p = { .to = to_uri, .sdp = offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	unsigned n_pc = fx.n_pc;
	uint8_t rtp[172] = { 0x80, 0 }, rx[2048];
	int at_peer = 0, bad_at_peer = 0;
	struct pcall *pc;
	int64_t stop;
	int err;

	TEST_ASSERT(tnd_test_browser_up() == 0);
	tnd_test_browser_offer(offer, sizeof(offer));
	snprintf(to_uri, sizeof(to_uri), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.peer_auto_ring = true;
	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == 0);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS) && fx.done_err == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS) && fx.n_pc == n_pc + 1);
	pc = &fx.pc[n_pc];
	TEST_ASSERT(tnd_test_browser_remote(fx.answer, fx.gw_cands));
	TEST_ASSERT(tnd_test_browser_wait_connected(WAIT_MS));
	TEST_ASSERT(peer_answer(pc) == 0);
	TEST_ASSERT(wait_for(fx.sink, "answered", WAIT_MS));
	to.sin_port = htons(sdp_port(pc->sdp));

	/* 1.5 timeouts of both sides talking: each hears the other */
	stop = g_get_monotonic_time() + 1500000;
	for (uint16_t seq = 1; g_get_monotonic_time() < stop; seq++) {
		ssize_t n;

		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		tnd_rtp_set_ssrc(rtp, 0x5eed);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		TEST_ASSERT(tnd_test_browser_send(1));
		spin(20);
		while ((n = recv(fx.media_fd, rx, sizeof(rx), 0)) > 0) {
			if (tnd_demux_classify(rx, (size_t)n) != TND_DEMUX_RTP)
				continue;   /* our RTCP reports */
			at_peer++;
			bad_at_peer += n != 172 || tnd_rtp_pt(rx) != 0;
		}
	}
	TEST_ASSERT(!strstr(fx.sink, "ended") && !pc->ended);
	TEST_ASSERT(at_peer >= 20 && bad_at_peer == 0);
	TEST_ASSERT(tnd_test_browser_rtp(&err) >= 20 && err == 0);

	/* the browser falls silent; the SIP peer talks on */
	stop = g_get_monotonic_time() + 3000000;
	for (uint16_t seq = 2000; !strstr(fx.sink, "ended") &&
	     g_get_monotonic_time() < stop; seq++) {
		tnd_rtp_set_seq(rtp, seq);
		tnd_rtp_set_ts(rtp, seq * 160u);
		sendto(fx.media_fd, rtp, sizeof(rtp), 0, (struct sockaddr *)&to, sizeof(to));
		spin(20);
	}
	TEST_ASSERT_STR_CONTAINS(fx.sink, "1 ended 408 no media from the browser for 1 s;");
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "invite bob;ack;ended 200 remote-bye;"));
	return 0;
}

/* ------------------------------------------------------------ port pool */

static char conf_ports[160];
static uint16_t port_lo;

static bool udp_free(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));

	if (fd >= 0)
		close(fd);
	return ok;
}

/* [media] port_min..port_max three ports: one call's RTP pair (even, odd)
 * and its ICE port fill it, so a second call finds no pair: the outgoing
 * request fails EBUSY before any INVITE, an incoming INVITE gets 503 and no
 * browser hears of it; ports come back when the call ends. */
static int ports_exhausted(void)
{
	char to[128], msg[256];
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct req *r = tnd_obj_zalloc(sizeof(*r), NULL);
	struct pcall *pc, *in;
	size_t sink_len;

	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(sdp_port(pc->sdp) == port_lo);
	TEST_ASSERT(tnd_sipcall_ringing(pc->sc, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ringing", WAIT_MS));
	sink_len = strlen(fx.sink);

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	fx.done = false;
	TEST_ASSERT(tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg)) == 0);
	tnd_obj_put(r);
	TEST_ASSERT(wait_flag(&fx.done, WAIT_MS));
	TEST_ASSERT(fx.done_err == EBUSY);
	TEST_ASSERT_STR_CONTAINS(fx.done_msg, "media set-up failed");
	TEST_ASSERT(fx.n_pc == 1);

	in = peer_invite("alice");
	TEST_ASSERT(in);
	TEST_ASSERT(wait_for(in->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(in->log, "ended 503 rejected;"));
	TEST_ASSERT(fx.n_incoming == 0 && strlen(fx.sink) == sink_len);

	/* the first call ends; its ports serve the next one */
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended 486", WAIT_MS));
	TEST_ASSERT(wait_idle(WAIT_MS));
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(sdp_port(pc->sdp) == port_lo);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink + sink_len, "ended 486", WAIT_MS));
	return 0;
}

static int test_ports_exhausted(void)
{
	for (int i = 0; i < 50; i++) {
		port_lo = (uint16_t)(40000 + 2 * g_random_int_range(0, 10000));
		if (udp_free(port_lo) && udp_free((uint16_t)(port_lo + 1)) &&
		    udp_free((uint16_t)(port_lo + 2)))
			break;
	}
	snprintf(conf_ports, sizeof(conf_ports), "[media]\nworkers = 1\nport_min = %u\n"
		 "port_max = %u\n", port_lo, port_lo + 2);
	return with_fx(ports_exhausted, conf_ports);
}

/* ------------------------------------------------------------ charsets */

/* A PBX's Latin-1 display name (review M9) reaches the browser as UTF-8,
 * never as bytes JSON cannot carry. */
static int in_latin1_display(void)
{
	struct pcall *pc;
	char msg[256];

	pc = peer_invite_as("alice", "Jos\xe9 M\xfcller");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(fx.sink, "incoming", WAIT_MS));
	TEST_ASSERT(g_utf8_validate(fx.incoming_display, -1, NULL));
	TEST_ASSERT(!strcmp(fx.incoming_display, "Jos\xc3\xa9 M\xc3\xbcller"));
	TEST_ASSERT(tnd_calls_reject(fx.calls, fx.alice, fx.incoming_id, 486, msg,
				     sizeof(msg)) == 0);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(wait_idle(WAIT_MS));
	return 0;
}

/* ------------------------------------------------------------ admission */

/* Keeps the worker's thread on the CPU for 0.6 s. */
static void busy(void *obj)
{
	struct timespec ts;
	int64_t end;

	(void)obj;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = ts.tv_sec * 1000000000LL + ts.tv_nsec + 600000000LL;
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	while (ts.tv_sec * 1000000000LL + ts.tv_nsec < end);
}

/* Waits until the worker's measured load is past 1 %: a real busy spell on
 * the real worker, measured by the pool's own clock. The pool's first
 * second only sets its baseline, so a spell may go unmeasured: try again. */
static bool worker_loaded(struct tnd_loop *w)
{
	for (int tries = 0; w && tries < 3; tries++) {
		if (tnd_loop_call(w, busy, NULL))
			return false;
		for (int64_t end = g_get_monotonic_time() + 2500000;
		     g_get_monotonic_time() < end;) {
			if (tnd_media_pool_load(fx.pool, 0) >= 1)
				return true;
			spin(2);
		}
	}
	return false;
}

/* [media] max_load: a worker past it takes no call. A call from the
 * browser is refused EBUSY (the API's 503) and one from SIP gets 503; once
 * the load is measured low again, calls are taken. */
static int admission_max_load(void)
{
	char to[128], msg[256];
	struct tnd_call_params p = { .to = to, .sdp = browser_offer, .from_user = "alice" };
	struct tnd_loop *worker;
	struct req *r;
	struct pcall *pc;
	int err;

	snprintf(to, sizeof(to), "sip:bob@127.0.0.1:%u", fx.peer_port);
	worker = tnd_media_pool_pick(fx.pool);   /* the pool's only worker */
	TEST_ASSERT(worker);
	tnd_media_pool_set_max_load(fx.pool, 1);
	TEST_ASSERT(worker_loaded(worker));
	r = tnd_obj_zalloc(sizeof(*r), NULL);
	err = tnd_calls_start(fx.calls, fx.alice, &p, call_done, r, msg, sizeof(msg));
	tnd_obj_put(r);
	TEST_ASSERT(err == EBUSY);
	TEST_ASSERT_STR_CONTAINS(msg, "max_load");
	TEST_ASSERT(!fx.done);

	TEST_ASSERT(worker_loaded(worker));
	pc = peer_invite("alice");
	TEST_ASSERT(pc);
	TEST_ASSERT(wait_for(pc->log, "ended", WAIT_MS));
	TEST_ASSERT(!strcmp(pc->log, "ended 503 rejected;"));
	TEST_ASSERT(!*fx.sink && fx.n_pc == 1);
	TEST_ASSERT(wait_idle(WAIT_MS));

	/* no limit: the same worker takes the call */
	tnd_media_pool_set_max_load(fx.pool, 0);
	pc = start_call();
	TEST_ASSERT(pc);
	TEST_ASSERT(tnd_sipcall_reject(pc->sc, 486, NULL) == 0);
	TEST_ASSERT(wait_for(fx.sink, "ended 486", WAIT_MS));
	return 0;
}

/* ------------------------------------------------------------ the table */

#define FX_TEST(name, conf) \
	static int test_##name(void) \
	{ \
		return with_fx(name, conf); \
	}

FX_TEST(out_answered_hangup, conf_default)
FX_TEST(in_latin1_display, conf_default)
FX_TEST(out_rejected_486, conf_default)
FX_TEST(out_cancel_ringing, conf_default)
FX_TEST(out_refused, conf_dialplan)
FX_TEST(in_reject, conf_default)
FX_TEST(in_unknown_user, conf_default)
FX_TEST(in_answer_forked_then_bye, conf_default)
FX_TEST(in_caller_cancels, conf_default)
FX_TEST(conn_gone, conf_default)
FX_TEST(conn_gone_incoming, conf_default)
FX_TEST(out_remote_bye, conf_default)
FX_TEST(calls_free_live, conf_default)
FX_TEST(media_timeout, conf_timeout)
FX_TEST(media_up_browser_silent, conf_timeout)
FX_TEST(admission_max_load, conf_default)

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_out_answered_hangup),
		TND_TEST(test_out_rejected_486),
		TND_TEST(test_out_cancel_ringing),
		TND_TEST(test_out_refused),
		TND_TEST(test_in_reject),
		TND_TEST(test_in_unknown_user),
		TND_TEST(test_in_answer_forked_then_bye),
		TND_TEST(test_in_caller_cancels),
		TND_TEST(test_conn_gone),
		TND_TEST(test_conn_gone_incoming),
		TND_TEST(test_out_remote_bye),
		TND_TEST(test_calls_free_live),
		TND_TEST(test_media_timeout),
		TND_TEST(test_media_up_browser_silent),
		TND_TEST(test_ports_exhausted),
		TND_TEST(test_admission_max_load),
		TND_TEST(test_in_latin1_display),
	};
	int rc;

	tnd_sip_init();
	if (tnd_webrtc_init()) {
		printf("Bail out! tnd_webrtc_init\n");
		return 1;
	}
	rc = tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
	tnd_webrtc_deinit();
	tnd_sip_deinit();
	return rc;
}
