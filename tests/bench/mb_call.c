/* media-bench: one call's set-up, the same browser and phone for both
 * relays.
 *
 * The browser: a tnd_pc, ICE controlling, gathering one host candidate on
 * 127.0.0.1, then a minimal browser-style offer (BUNDLE of one audio
 * section, UDP/TLS/RTP/SAVPF, PCMU only, rtcp-mux, setup:actpass, RFC 8829
 * 5.2.1 in spirit). The phone: a tnd_rtpsock answering with plain RTP/AVP
 * PCMU (with --fast 1, mb_fast.c's socket shared by every phone).
 *
 * Tandem: the offer goes in a JSON-RPC `call` to sip:b<idx>@ the driver's
 * own SIP user agent; the gateway answers the browser (the `call` result,
 * then trickled candidates) and INVITEs the phone, which answers 200 at
 * once (mb_phone.c). rtpengine: the offer goes to ng `offer`, which returns
 * the phone's plain SDP; the phone's answer goes to ng `answer`, which
 * returns the browser's answer. A call is up when the pc is CONNECTED (ICE and DTLS
 * done, SRTP keyed) and the phone's side is set (Tandem: the ACK for its
 * 200). The SDP reading here is a line scan for the bench only:
 * gateway/sdp owns real SDP. Main thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/obj.h"
#include "tests/bench/media_bench.h"

#define ANSWER_CANDS 16

/* What the bench reads from the relay's answer to the browser: ICE, DTLS
 * and candidates (mb_phone.c reads the plain side's address). */
struct sdp_info {
	char ufrag[257], pwd[257], fp[256], setup[32];
	char *cands[ANSWER_CANDS];   /* g_malloc'd */
	unsigned n_cands;
	bool end;
};

static void sdp_info_clear(struct sdp_info *s)
{
	for (unsigned i = 0; i < s->n_cands; i++)
		g_free(s->cands[i]);
	s->n_cands = 0;
}

static void copy_val(char *dst, size_t size, const char *line, size_t len, size_t drop)
{
	if (!*dst)
		snprintf(dst, size, "%.*s", (int)(len - drop), line + drop);
}

static bool starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(line, prefix, n);
}

static void sdp_read(const char *sdp, struct sdp_info *s)
{
	memset(s, 0, sizeof(*s));
	for (const char *l = sdp; *l;) {
		size_t len = strcspn(l, "\r\n");

		if (starts(l, len, "a=ice-ufrag:"))
			copy_val(s->ufrag, sizeof(s->ufrag), l, len, 12);
		else if (starts(l, len, "a=ice-pwd:"))
			copy_val(s->pwd, sizeof(s->pwd), l, len, 10);
		else if (starts(l, len, "a=fingerprint:"))
			copy_val(s->fp, sizeof(s->fp), l, len, 14);
		else if (starts(l, len, "a=setup:"))
			copy_val(s->setup, sizeof(s->setup), l, len, 8);
		else if (starts(l, len, "a=end-of-candidates"))
			s->end = true;
		else if (starts(l, len, "a=candidate:") && s->n_cands < ANSWER_CANDS)
			s->cands[s->n_cands++] = g_strndup(l + 2, len - 2);
		l += len;
		l += strspn(l, "\r\n");
	}
}

/* Ends a call's media and its SIP dialog. The pc and the rtpsock stay
 * allocated (a handful of failed calls at most) so that no socket closes
 * while the driver runs: mb_fast.c keeps a taken browser socket in its
 * epoll set under the call's index, and a number reused by a new socket
 * must not be mistaken for it. */
static void release(struct tnd_mb_call *c)
{
	if (c->pc)
		tnd_pc_close(c->pc);
	if (c->mb->o.target == TND_MB_TANDEM)
		tnd_mb_phone_hangup(c->idx);
}

void tnd_mb_call_fail(struct tnd_mb_call *c, const char *why)
{
	struct tnd_mb *mb = c->mb;

	if (c->state != TND_MB_C_SETUP)
		return;
	c->state = TND_MB_C_FAILED;
	if (!*mb->why_failed)
		snprintf(mb->why_failed, sizeof(mb->why_failed), "call %u: %s", c->idx, why);
	if (c->relay_id && mb->ws)
		tnd_mb_ws_request(mb->ws, -1, "hangup", json_pack("{s:s}", "call", c->relay_id));
	release(c);
	tnd_mb_call_settled(c);
}

void tnd_mb_call_lost(struct tnd_mb_call *c, const char *why)
{
	struct tnd_mb *mb = c->mb;

	if (c->state == TND_MB_C_SETUP) {
		tnd_mb_call_fail(c, why);
		return;
	}
	if (c->state != TND_MB_C_UP)
		return;
	c->state = TND_MB_C_ENDED;
	mb->n_up--;
	if (mb->n_dropped++ < 5)
		fprintf(stderr, "media-bench: call %u ended by the relay: %s\n", c->idx, why);
	release(c);
}

static void check_up(struct tnd_mb_call *c)
{
	if (c->state != TND_MB_C_SETUP || !c->pc_up || !c->phone_up)
		return;
	c->state = TND_MB_C_UP;
	c->t_up = g_get_monotonic_time();
	if (getenv("MB_SLOW") && c->t_up - c->t_start > atoi(getenv("MB_SLOW")) * 1000) {
		struct tnd_pc_stats st;

		tnd_pc_stats(c->pc, &st);
		fprintf(stderr, "slow call %u: %lld ms: offer +%lld answer +%lld invite +%lld "
			"ice +%lld dtls +%lld\n", c->idx, (long long)(c->t_up - c->t_start) / 1000,
			(long long)(c->t_offer - c->t_start) / 1000,
			(long long)(c->t_answer - c->t_start) / 1000,
			(long long)(c->t_invite - c->t_start) / 1000,
			(long long)(st.t_ice_us - c->t_start) / 1000,
			(long long)(st.t_connected_us - c->t_start) / 1000);
	}
	tnd_mb_call_settled(c);
}

/* ------------------------------------------------------------ the browser */

/* The relay's answer to the browser: ICE, DTLS and its candidates. */
static void browser_answer(struct tnd_mb_call *c, const char *sdp, bool trickle)
{
	struct sdp_info a;
	enum tnd_dtls_role role;
	int err;

	sdp_read(sdp, &a);
	/* RFC 5763 5: the answerer's role decides ours */
	role = !strcmp(a.setup, "active") ? TND_DTLS_PASSIVE : TND_DTLS_ACTIVE;
	err = tnd_pc_set_remote(c->pc, a.ufrag, a.pwd, a.fp, role);
	for (unsigned i = 0; !err && i < a.n_cands; i++) {
		int e = tnd_pc_add_remote_candidate(c->pc, a.cands[i]);

		/* ENOTSUP: an RTCP component or TCP candidate, not for us */
		if (e && e != ENOTSUP)
			err = e;
	}
	/* the gateway trickles what its answer did not hold; rtpengine never */
	if (!err && (a.end || !trickle)) {
		c->cands_done = true;
		err = tnd_pc_add_remote_candidate(c->pc, NULL);
	}
	sdp_info_clear(&a);
	if (err) {
		char why[96];

		snprintf(why, sizeof(why), "cannot use the relay's answer: %s", strerror(err));
		tnd_mb_call_fail(c, why);
	}
}

static char *offer_sdp(struct tnd_mb_call *c)
{
	char ufrag[257], pwd[257], addr[64] = "127.0.0.1";
	int port = 9;
	GString *s;

	if (tnd_pc_local_ice(c->pc, ufrag, sizeof(ufrag), pwd, sizeof(pwd)))
		return NULL;
	/* mb_fast.c answers the relay's checks once libnice is gone */
	if (!c->ice_user) {
		c->ice_user = g_strdup_printf("%s:", ufrag);
		c->ice_pwd = g_strdup(pwd);
	}
	/* c= and the m= port from our first candidate (RFC 8839 4.2.1.1) */
	if (c->n_cands && sscanf(c->cands[0], "candidate:%*s %*s %*s %*s %63s %d", addr,
				 &port) != 2)
		port = 9;
	s = g_string_sized_new(1024);
	g_string_append_printf(s, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			       "a=group:BUNDLE 0\r\na=msid-semantic: WMS mb\r\n"
			       "m=audio %d UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 %s\r\n"
			       "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n"
			       "a=fingerprint:%s\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n"
			       "a=msid:mb t%u\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
			       "a=ssrc:%u cname:mb%u\r\n", c->idx + 1, port, addr, ufrag, pwd,
			       tnd_webrtc_fingerprint(), c->idx, c->s[TND_MB_B2P].ssrc, c->idx);
	for (unsigned i = 0; i < c->n_cands; i++)
		g_string_append_printf(s, "a=%s\r\n", c->cands[i]);
	g_string_append(s, "a=end-of-candidates\r\n");
	return g_string_free(s, FALSE);
}

/* The phone's RTP port: its own socket's, or with --fast 1 the shared one. */
static uint16_t phone_port(const struct tnd_mb_call *c)
{
	return c->mb->o.fast ? tnd_mb_fast_phone_port() : tnd_rtpsock_port(c->sock);
}

static int set_phone_remote(struct tnd_mb_call *c, const char *ip, uint16_t port)
{
	return c->mb->o.fast ? tnd_mb_fast_phone_remote(c, ip, port) :
		tnd_rtpsock_set_remote(c->sock, ip, port, 0, NULL);
}

/* The phone learns where to send from the plain SDP it is offered. */
static int phone_remote(struct tnd_mb_call *c, const char *sdp)
{
	char ip[64];
	uint16_t port;

	return tnd_mb_plain_addr(sdp, ip, sizeof(ip), &port) ? EBADMSG :
		set_phone_remote(c, ip, port);
}

void tnd_mb_call_phone_remote(struct tnd_mb_call *c, const char *ip, uint16_t port, int64_t t)
{
	if (c->state != TND_MB_C_SETUP)
		return;
	c->t_invite = t;
	if (set_phone_remote(c, ip, port))
		tnd_mb_call_fail(c, "unusable address in the INVITE's SDP");
}

void tnd_mb_call_phone_up(struct tnd_mb_call *c)
{
	c->phone_up = true;
	check_up(c);
}

static void on_ng_answer(void *arg, const char *sdp, const char *error)
{
	struct tnd_mb_call *c = arg;
	char why[200];

	if (c->state != TND_MB_C_SETUP)
		return;
	if (!sdp) {
		snprintf(why, sizeof(why), "ng answer: %s", error);
		tnd_mb_call_fail(c, why);
		return;
	}
	c->phone_up = true;
	browser_answer(c, sdp, false);
	check_up(c);
}

static void on_ng_offer(void *arg, const char *sdp, const char *error)
{
	struct tnd_mb_call *c = arg;
	char why[200], call_id[32], from[16], to[16], *answer;
	int err;

	if (c->state != TND_MB_C_SETUP)
		return;
	if (!sdp || phone_remote(c, sdp)) {
		snprintf(why, sizeof(why), "ng offer: %s", error ? error : "no usable SDP");
		tnd_mb_call_fail(c, why);
		return;
	}
	snprintf(call_id, sizeof(call_id), "mb-%d-%u", (int)getpid(), c->idx);
	snprintf(from, sizeof(from), "f%u", c->idx);
	snprintf(to, sizeof(to), "t%u", c->idx);
	answer = tnd_mb_phone_sdp(c->idx, phone_port(c));
	err = tnd_mb_ng_request(c->mb->ng, "answer", call_id, from, to, answer, on_ng_answer, c);
	g_free(answer);
	if (err)
		tnd_mb_call_fail(c, "cannot send the ng answer");
}

static void send_offer(struct tnd_mb_call *c)
{
	struct tnd_mb *mb = c->mb;
	char *sdp = offer_sdp(c);
	int err;

	if (!sdp) {
		tnd_mb_call_fail(c, "no local ICE credentials");
		return;
	}
	c->offered = true;
	c->t_offer = g_get_monotonic_time();
	tnd_mb_phone_expect(c->idx, phone_port(c));
	if (mb->o.target == TND_MB_TANDEM) {
		char to[64];

		snprintf(to, sizeof(to), "sip:b%u@127.0.0.1:%d", c->idx, mb->o.sip_port);
		err = tnd_mb_ws_request(mb->ws, (json_int_t)c->idx + 1, "call",
					json_pack("{s:s, s:s}", "to", to, "sdp", sdp));
	} else {
		char call_id[32], from[16];

		snprintf(call_id, sizeof(call_id), "mb-%d-%u", (int)getpid(), c->idx);
		snprintf(from, sizeof(from), "f%u", c->idx);
		err = tnd_mb_ng_request(mb->ng, "offer", call_id, from, NULL, sdp, on_ng_offer, c);
	}
	g_free(sdp);
	if (err)
		tnd_mb_call_fail(c, "cannot send the offer");
}

static void on_candidate(void *arg, const char *cand)
{
	struct tnd_mb_call *c = arg;

	if (cand) {
		if (c->n_cands < TND_MB_MAX_CANDS)
			c->cands[c->n_cands++] = g_strdup(cand);
		return;
	}
	/* a browser would trickle; the bench offers once gathering is done,
	 * which for one host candidate is at once */
	c->gathered = true;
	if (!c->offered && c->state == TND_MB_C_SETUP)
		send_offer(c);
}

static void on_pc_state(void *arg, enum tnd_pc_state state)
{
	struct tnd_mb_call *c = arg;
	char why[96];

	if (state == TND_PC_CONNECTED) {
		c->pc_up = true;
		check_up(c);
		return;
	}
	snprintf(why, sizeof(why), "browser pc %s (%s)", state == TND_PC_CLOSED ? "closed" :
		 "failed", strerror(tnd_pc_error(c->pc)));
	tnd_mb_call_lost(c, why);
}

static void on_pc_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_mb_call *c = arg;

	/* before mb_fast.c takes the socket (or always, with --fast 0) */
	if (c->state == TND_MB_C_UP)
		tnd_mb_media_rx(c, TND_MB_P2B, pkt, len, g_get_monotonic_time());
}

static void on_sock_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct tnd_mb_call *c = arg;

	if (c->state == TND_MB_C_UP)
		tnd_mb_media_rx(c, TND_MB_B2P, pkt, len, g_get_monotonic_time());
}

int tnd_mb_call_start(struct tnd_mb_call *c)
{
	static const char *const addrs[] = { "127.0.0.1" };
	static const struct tnd_pc_handlers pch = { on_candidate, on_pc_state, on_pc_rtp, NULL };
	static const struct tnd_rtpsock_handlers sh = { on_sock_rtp, NULL };
	struct tnd_mb *mb = c->mb;
	/* with --fast 1 the pc never sees the answers to its consent checks
	 * (mb_fast.c reads its socket): a day without one must not end the call */
	const struct tnd_pc_conf pcc = {
		.local_addrs = addrs, .n_local_addrs = 1,
		.port_min = mb->o.pc_port_min, .port_max = mb->o.pc_port_max,
		.consent_timeout_ms = mb->o.fast ? 86400000u : 0,
	};
	/* rtcp-mux on the phone too: nothing sends RTCP in this bench, and
	 * one socket per phone keeps the driver's descriptors down */
	const struct tnd_rtpsock_conf sc = {
		.addr = "127.0.0.1", .port_min = mb->o.rtp_port_min,
		.port_max = mb->o.rtp_port_max, .rtcp_port = false,
	};
	int err;

	c->state = TND_MB_C_SETUP;
	c->t_start = g_get_monotonic_time();
	c->bfd = -1;
	tnd_mb_media_call_init(c);
	/* no relay, nothing to set up: up at once */
	if (mb->o.target == TND_MB_LOOP) {
		err = tnd_mb_fast_loop_call(c, &mb->echo);
		if (!err) {
			c->pc_up = c->phone_up = true;
			check_up(c);
		}
		return err;
	}
	/* --fast 1: the phones share mb_fast.c's socket */
	err = mb->o.fast ? 0 : tnd_rtpsock_alloc(&c->sock, mb->loop, &sc, &sh, c);
	if (!err)
		err = tnd_pc_alloc(&c->pc, mb->loop, &pcc, true, &pch, c);
	if (!err)
		err = tnd_pc_gather(c->pc);
	/* libnice attaches its socket's source while gathering */
	tnd_mb_sources_recurse(mb);
	return err;
}

/* ------------------------------------------------------------ Tandem's side */

void tnd_mb_call_rpc_result(struct tnd_mb_call *c, json_t *result, json_t *error)
{
	const char *id = json_string_value(json_object_get(result, "call"));
	const char *sdp = json_string_value(json_object_get(result, "sdp"));
	char why[200];

	if (c->state != TND_MB_C_SETUP)
		return;
	if (error || !id || !sdp) {
		snprintf(why, sizeof(why), "call: %" JSON_INTEGER_FORMAT " %s",
			 json_integer_value(json_object_get(error, "code")),
			 error ? json_string_value(json_object_get(error, "message")) :
			 "result without call or sdp");
		tnd_mb_call_fail(c, why);
		return;
	}
	c->t_answer = g_get_monotonic_time();
	c->relay_id = g_strdup(id);
	g_hash_table_insert(c->mb->by_id, c->relay_id, c);
	browser_answer(c, sdp, true);
}

void tnd_mb_call_notify(struct tnd_mb *mb, const char *method, json_t *params)
{
	const char *id = json_string_value(json_object_get(params, "call"));
	struct tnd_mb_call *c = id ? g_hash_table_lookup(mb->by_id, id) : NULL;

	if (!c || !c->pc || c->state == TND_MB_C_FAILED || c->state == TND_MB_C_ENDED)
		return;
	if (!strcmp(method, "candidate")) {
		json_t *cand = json_object_get(params, "candidate");
		const char *line = json_string_value(json_object_get(cand, "candidate"));

		if (c->cands_done)
			return;
		if (json_is_true(json_object_get(params, "completed"))) {
			c->cands_done = true;
			tnd_pc_add_remote_candidate(c->pc, NULL);
		} else if (line && *line) {
			tnd_pc_add_remote_candidate(c->pc, line);
		}
	} else if (!strcmp(method, "call.state")) {
		const char *state = json_string_value(json_object_get(params, "state"));
		const char *reason = json_string_value(json_object_get(params, "reason"));
		char why[160];

		if (!state || strcmp(state, "ended"))
			return;
		snprintf(why, sizeof(why), "call.state ended: %" JSON_INTEGER_FORMAT " %s",
			 json_integer_value(json_object_get(params, "code")),
			 reason ? reason : "");
		tnd_mb_call_lost(c, why);
	}
}
