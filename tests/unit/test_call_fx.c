/* The fixture of the gateway/call tests: see test_call_fx.h. Real parts,
 * none mocked: the gateway's tnd_sipua on 127.0.0.1, a media pool with one
 * worker, a second tnd_sipua as the SIP peer, and the call sink recording
 * what a browser would be told. */
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

#include "tests/unit/test_call_fx.h"

/* What a browser offers: Opus first, then G.711 and telephone-event, no
 * candidates yet (it trickles). The gateway prefers PCMU. */
const char browser_offer[] =
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
const char browser_answer[] =
	L("v=0") L("o=- 77 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0") L("a=group:BUNDLE 0")
	L("m=audio 9 UDP/TLS/RTP/SAVPF 0 101") L("c=IN IP4 0.0.0.0")
	L("a=ice-ufrag:brws") L("a=ice-pwd:browserpasswordbrowser12")
	L("a=fingerprint:sha-256 " FP) L("a=setup:active") L("a=mid:0") L("a=sendrecv")
	L("a=rtcp-mux") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:101 telephone-event/8000");

/* ------------------------------------------------------------ fixture */

struct fx fx;

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

static void sink_dtmf(void *conn, const char *call, char digit, unsigned duration_ms,
		      const char *source)
{
	(void)call;
	append(fx.sink, "%d dtmf %c %u %s;", conn_id(conn), digit, duration_ms, source);
}

static const struct tnd_call_sink sink = {
	sink_state, sink_candidate, sink_incoming, NULL, sink_dtmf, NULL, NULL,
};

static void drained(void *arg)
{
	(void)arg;
	fx.drained++;
	fx.drained_flag = true;
}

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

void call_done(void *r, int err, const char *msg, const char *call, const char *sdp)
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

/* INFO from the gateway: logged with CR and LF as '|'; only DTMF bodies
 * are taken, others get 415. */
static int peer_info(void *arg, struct tnd_sipcall *sc, const char *ctype, const char *body,
		     size_t len)
{
	struct pcall *pc = arg;
	char b[128];
	size_t i;

	(void)sc;
	for (i = 0; i < len && i + 1 < sizeof(b); i++)
		b[i] = body[i] == '\r' || body[i] == '\n' ? '|' : body[i];
	b[i] = '\0';
	append(pc->log, "info %s %s;", ctype, b);
	return strncmp(ctype, "application/dtmf", 16) ? ENOTSUP : 0;
}

static void peer_sdp(char *buf, size_t len, bool offer);

/* An offer from the gateway inside the dialog (hold, resume): logged as
 * "reoffer <its direction>;" and answered with the peer's SDP, the
 * direction mirrored (RFC 3264 6.1). */
static int peer_reoffer(void *arg, struct tnd_sipcall *sc, const char *sdp, bool update)
{
	static const char *const dirs[][2] = {
		{ "a=sendonly", "a=recvonly" }, { "a=recvonly", "a=sendonly" },
		{ "a=inactive", "a=inactive" },
	};
	struct pcall *pc = arg;
	const char *dir = "sendrecv", *ours = "a=sendrecv";
	char ans[512];
	size_t n;

	for (size_t i = 0; sdp && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (strstr(sdp, dirs[i][0])) {
			dir = dirs[i][0] + 2;
			ours = dirs[i][1];
		}
	}
	append(pc->log, "%s %s;", update ? "update" : "reoffer", sdp ? dir : "none");
	peer_sdp(ans, sizeof(ans), false);
	n = strlen(ans) - strlen(L("a=sendrecv"));   /* peer_sdp ends with it */
	snprintf(ans + n, sizeof(ans) - n, L("%s"), ours);
	return tnd_sipcall_reanswer(sc, 200, ans);
}

static const struct tnd_sipcall_handlers peer_h = {
	.progress = peer_progress, .answered = peer_answered, .ack = peer_ack,
	.ended = peer_ended, .info = peer_info, .reoffer = peer_reoffer,
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
	if (fx.peer_fmts) {
		snprintf(buf, len, L("v=0") L("o=peer 1 1 IN IP4 127.0.0.1") L("s=-")
			 L("c=IN IP4 127.0.0.1") L("t=0 0") L("m=audio %u RTP/AVP %s") "%s"
			 L("a=sendrecv"), fx.media_port, fx.peer_fmts, fx.peer_attrs);
		return;
	}
	snprintf(buf, len, L("v=0") L("o=peer 1 1 IN IP4 127.0.0.1") L("s=-")
		 L("c=IN IP4 127.0.0.1") L("t=0 0") L("m=audio %u RTP/AVP 0%s")
		 L("a=rtpmap:0 PCMU/8000") "%s" L("a=ptime:20") L("a=sendrecv"),
		 fx.media_port, offer ? " 101" : "",
		 offer ? L("a=rtpmap:101 telephone-event/8000") L("a=fmtp:101 0-15") : "");
}

int peer_answer(struct pcall *pc)
{
	char sdp[512];

	peer_sdp(sdp, sizeof(sdp), false);
	return tnd_sipcall_answer(pc->sc, sdp);
}

/* The peer calls `user` at the gateway. */
struct pcall *peer_invite_as(const char *user, const char *display)
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

struct pcall *peer_invite(const char *user)
{
	return peer_invite_as(user, NULL);
}

/* ---- waiting: the test thread is the signalling loop */

void spin(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
}

/* Spins until `needle` is in `log`, at most ms. */
bool wait_for(const char *log, const char *needle, int ms)
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

bool wait_flag(const bool *flag, int ms)
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

bool wait_idle(int ms)
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

static void on_reg_event(void *arg, const struct tnd_reg_info *in)
{
	size_t len = strlen(fx.regs);

	(void)arg;
	snprintf(fx.regs + len, sizeof(fx.regs) - len, "%s %s %d sockets=%u;", in->id,
		 in->state, in->code, in->sockets);
}

static const struct tnd_call_observer observer = { NULL, on_reg_event };

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
		.sip = fx.gw, .sink = &sink, .lookup = lookup, .drained = drained,
		.observer = &observer };
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
int with_fx(int (*body)(void), const char *conf_text)
{
	long live = tnd_obj_live();
	int rc = fx_up(conf_text) ? 1 : body();

	if (!rc && !wait_idle(WAIT_MS))
		rc = 1;
	return fx_down(live) | rc;
}

const char conf_default[] = "[media]\nworkers = 1\n";
const char conf_dialplan[] = "[media]\nworkers = 1\n[calls]\nallow = sip:*@pbx.example\n";
const char conf_timeout[] = "[media]\nworkers = 1\ntimeout = 1\n";

/* Starts a call from alice to bob at the SIP peer; waits for the INVITE. */
struct pcall *start_call(void)
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

