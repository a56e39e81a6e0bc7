/* struct tnd_pc: ties ICE (ice.c), DTLS (dtls.c) and SRTP (srtp.c) into the
 * browser leg's transport (RFC 8834, RFC 8827).
 *
 * Lives on one worker: libnice delivers datagrams here on that thread (only
 * from addresses its checks have validated, minus the STUN it handles
 * itself), they are demultiplexed by first byte (RFC 7983), and media is
 * unprotected into the pc's own buffer before the owner's handler sees it.
 * Until DTLS is done only STUN and DTLS are handled; RTP and RTCP are
 * dropped and counted. The DTLS client starts once ICE has a working pair;
 * the server just answers. States only move forward: NEW -> CONNECTED ->
 * CLOSED/FAILED. Per packet: no allocation, no lock, logs only through
 * TND_LOG_RL.
 *
 * A pc can outlive its owner: a queued hand-over, a gathering held open by
 * a slow STUN server or a job in flight each hold a reference (review H3,
 * style guide R3). So the owner's handlers run only until tnd_pc_detach()
 * clears them (every call site checks the pointer, notify() the flag), and
 * libnice's callbacks return at once when the owner let go or the state is
 * final (tnd_pc_gone); the hand-over and consent jobs (direct.c) act only
 * on a CONNECTED pc.
 *
 * Only DTLS from the selected pair's peer reaches the DTLS server: libnice
 * drops non-STUN datagrams from any address its checks have not validated
 * (nice_component_verify_remote_candidate), so a forged ClientHello cannot
 * start or spoil our handshake before ICE is done; test_pc_forged_hello
 * keeps that true. After the hand-over direct.c applies the same rule. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "gateway/base/log.h"
#include "gateway/base/poll.h"
#include "webrtc/cand_int.h"
#include "webrtc/webrtc_int.h"

/* A reference across a handler that may drop the owner's. Not per datagram
 * (review L11): the packet paths take none, since owners let go through
 * tnd_pc_release() (deferred past the batch) and only state changes, rare,
 * hold here. */
void tnd_pc_hold(struct tnd_pc *pc)
{
	tnd_obj_get(pc);
}

static void release_deferred(struct tnd_defer *d)
{
	struct tnd_webrtc_release *rel = (struct tnd_webrtc_release *)d;

	tnd_obj_put(rel->obj);
}

void tnd_webrtc_put_later(struct tnd_obj *obj, struct tnd_poller *p,
			  struct tnd_webrtc_release *rel)
{
	unsigned long r = atomic_load(&obj->refs);

	/* drop ours unless it is the last; compare-and-swap so a concurrent
	 * put elsewhere cannot make ours the last behind our back */
	while (r > 1)
		if (atomic_compare_exchange_weak(&obj->refs, &r, r - 1))
			return;
	/* the owner let go inside a handler: free after the batch, once every
	 * library frame has left the stack (R3). Only the last reference gets
	 * here, so the node is never queued twice for different puts. */
	rel->obj = obj;
	tnd_defer_queue(p, &rel->d, release_deferred);
}

void tnd_pc_release(struct tnd_pc *pc)
{
	if (pc)
		tnd_webrtc_put_later(&pc->obj, tnd_loop_poller(pc->loop), &pc->rel);
}

void tnd_pc_unhold(struct tnd_pc *pc)
{
	tnd_webrtc_put_later(&pc->obj, tnd_loop_poller(pc->loop), &pc->rel);
}

static void notify(struct tnd_pc *pc, enum tnd_pc_state state)
{
	pc->state = state;
	if (pc->detached)
		return;
	tnd_pc_hold(pc);
	pc->h.state(pc->arg, state);
	tnd_pc_unhold(pc);
}

static bool final(const struct tnd_pc *pc)
{
	return pc->state == TND_PC_FAILED || pc->state == TND_PC_CLOSED;
}

bool tnd_pc_gone(const struct tnd_pc *pc)
{
	return pc->detached || final(pc);
}

void tnd_pc_fail(struct tnd_pc *pc, int err)
{
	if (final(pc))
		return;
	pc->err = err;
	if (err != ETIMEDOUT)
		pc->dtls_state = TND_PC_DTLS_FAILED;
	/* stops a handshake's retransmission timer when ICE went first */
	tnd_dtls_close(pc->dtls);
	TND_LOG_WARN(TND_LOG_WEBRTC, "pc failed: %s", err == ETIMEDOUT ? "ICE failed" :
		     err == EPERM ? "DTLS fingerprint mismatch" : "DTLS failed");
	notify(pc, TND_PC_FAILED);
}

static void start_dtls(struct tnd_pc *pc)
{
	if (!pc->dtls || !pc->ice_up || pc->role != TND_DTLS_ACTIVE || final(pc) ||
	    pc->dtls_state != TND_PC_DTLS_WAITING)
		return;
	pc->dtls_state = TND_PC_DTLS_HANDSHAKE;
	tnd_dtls_start(pc->dtls);
}

/* Keeps a copy of a DTLS datagram. Set-up only: a handful per call. */
static bool pending_push(struct tnd_pc_pending *q, const uint8_t *buf, size_t len)
{
	uint8_t *copy;

	if (q->n == TND_PC_PENDING_DTLS)
		return false;
	copy = malloc(len);
	if (!copy)
		return false;
	memcpy(copy, buf, len);
	q->buf[q->n] = copy;
	q->len[q->n] = len;
	q->n++;
	return true;
}

static void pending_clear(struct tnd_pc_pending *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->buf[i]);
	q->n = 0;
}

void tnd_pc_ice_up(struct tnd_pc *pc)
{
	if (pc->ice_up)
		return;
	pc->ice_up = true;
	pc->st.t_ice_us = g_get_monotonic_time();
	tnd_pc_hold(pc);
	/* a flight answered before our side of ICE had a pair (the peer's
	 * checks completed first) goes now, not at the next retransmission */
	for (size_t i = 0; i < pc->dtls_out.n; i++)
		tnd_pc_ice_send(pc, pc->dtls_out.buf[i], pc->dtls_out.len[i]);
	pending_clear(&pc->dtls_out);
	start_dtls(pc);
	tnd_pc_unhold(pc);
}

/* ------------------------------------------------------------ DTLS handlers */

static void dtls_send(void *arg, const uint8_t *buf, size_t len)
{
	struct tnd_pc *pc = arg;

	/* the peer's ClientHello can arrive before libnice has selected our
	 * pair, and libnice refuses to send until then: keep the answer for
	 * tnd_pc_ice_up(). Anything else lost is DTLS's to retransmit. */
	if (!pc->ice_up && pending_push(&pc->dtls_out, buf, len))
		return;
	if (tnd_pc_ice_send(pc, buf, len))
		TND_LOG_DEBUG(TND_LOG_WEBRTC, "DTLS datagram of %zu bytes not sent", len);
}

static void dtls_done(void *arg, int err, const struct tnd_srtp_keys *keys)
{
	struct tnd_pc *pc = arg;

	if (!err)
		err = tnd_srtp_alloc(&pc->srtp, keys) ? EPROTO : 0;
	if (err) {
		pc->dtls_state = TND_PC_DTLS_FAILED;
		tnd_pc_fail(pc, err);
		return;
	}
	pc->dtls_state = TND_PC_DTLS_DONE;
	pc->st.srtp_profile = tnd_srtp_profile_name(keys->profile);
	tnd_pc_direct_maybe(pc);
	pc->st.t_connected_us = g_get_monotonic_time();
	if (final(pc))
		return;
	TND_LOG_INFO(TND_LOG_WEBRTC, "pc connected (%s): ICE %lld ms, DTLS %lld ms after remote",
		     pc->st.srtp_profile, (long long)(pc->st.t_ice_us - pc->st.t_remote_us) / 1000,
		     (long long)(pc->st.t_connected_us - pc->st.t_remote_us) / 1000);
	notify(pc, TND_PC_CONNECTED);
}

static void dtls_closed(void *arg)
{
	struct tnd_pc *pc = arg;

	pc->dtls_state = TND_PC_DTLS_CLOSED;
	if (!final(pc))
		notify(pc, TND_PC_CLOSED);
}

static const struct tnd_dtls_handlers dtls_handlers = {
	.send = dtls_send,
	.done = dtls_done,
	.closed = dtls_closed,
};

/* ------------------------------------------------------------ receive */

static void input_dtls(struct tnd_pc *pc, const uint8_t *buf, size_t len)
{
	if (final(pc)) {
		pc->st.drop_dtls++;
		return;
	}
	if (pc->dtls_end) {
		/* after the hand-over only an alert can mean anything */
		if (!tnd_dtls_end_input(pc->dtls_end, buf, len))
			dtls_closed(pc);
		else
			pc->st.drop_dtls++;
		return;
	}
	if (!pc->dtls) {
		/* a ClientHello can beat the answer to us; without this the
		 * peer's retransmission timer would set the pace */
		if (!pending_push(&pc->dtls_in, buf, len))
			pc->st.drop_dtls++;
		return;
	}
	if (pc->dtls_state == TND_PC_DTLS_WAITING)
		pc->dtls_state = TND_PC_DTLS_HANDSHAKE;
	if (tnd_dtls_input(pc->dtls, buf, len))
		pc->st.drop_dtls++;
}

static void input_media(struct tnd_pc *pc, uint8_t *buf, size_t len, bool rtcp, bool in_place)
{
	struct tnd_rtp_hdr hdr;
	size_t n = len;
	uint8_t *rx = buf;
	int err;

	if (pc->state != TND_PC_CONNECTED) {
		pc->st.drop_early++;
		return;
	}
	if (len > TND_PC_MAX_PACKET || len < (rtcp ? 8u : TND_RTP_HDR_LEN) || (buf[0] >> 6) != 2) {
		pc->st.drop_bad_rtp++;
		return;
	}
	/* libnice's buffer is its own: decrypt into the worker's */
	if (!in_place) {
		rx = tnd_poller_rx_buf(tnd_loop_poller(pc->loop));
		memcpy(rx, buf, len);
	}
	err = tnd_srtp_unprotect(pc->srtp, rx, &n, rtcp);
	if (err) {
		pc->st.srtp_err_in++;
		/* a replay is a duplicate on the path, not worth a line; a new
		 * SSRC past the cap (srtp.c) is not an authentication failure */
		if (err == ENOSPC)
			TND_LOG_RL(TND_LOG_WEBRTC, NOTICE, "SRTP: a new SSRC past the %d per "
				   "call refused", TND_SRTP_MAX_IN_SSRC);
		else if (err != EALREADY)
			TND_LOG_RL(TND_LOG_WEBRTC, WARN, "SRT%sP authentication failed (%zu bytes)",
				   rtcp ? "C" : "", len);
		return;
	}
	if (rtcp ? tnd_rtcp_parse(rx, n, NULL, NULL) != 0 :
		   tnd_rtp_parse(rx, n, &hdr) != 0) {
		pc->st.drop_bad_rtp++;
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "malformed RT%sP after decryption (%zu bytes)",
			   rtcp ? "C" : "", n);
		return;
	}
	/* Media the peer protected proves its handshake finished: it can no
	 * longer need a flight of ours again. OpenSSL's state - some 60 KiB a
	 * call, most of a relayed call's memory - goes; the record keys stay
	 * for the association's end (dtls_end.c). */
	if (pc->dtls && pc->dtls_state == TND_PC_DTLS_DONE && !pc->dtls_released) {
		pc->dtls_released = true;
		if (!tnd_dtls_export_end(pc->dtls, &pc->dtls_end)) {
			tnd_dtls_free(pc->dtls);
			pc->dtls = NULL;
			pc->st.dtls_released = true;
		}
	}
	pc->st.bytes_in += n;
	if (rtcp) {
		pc->st.rtcp_in++;
		if (pc->h.rtcp)
			pc->h.rtcp(pc->arg, rx, n);
	} else {
		pc->st.rtp_in++;
		if (pc->h.rtp)
			pc->h.rtp(pc->arg, rx, n);
	}
}

void tnd_pc_input_nostun(struct tnd_pc *pc, enum tnd_demux kind, uint8_t *buf, size_t len,
			 bool in_place)
{
	switch (kind) {
	case TND_DEMUX_DTLS:
		input_dtls(pc, buf, len);
		break;
	case TND_DEMUX_RTP:
		input_media(pc, buf, len, false, in_place);
		break;
	case TND_DEMUX_RTCP:
		input_media(pc, buf, len, true, in_place);
		break;
	default:
		pc->st.drop_other++;
		TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "%zu bytes outside RFC 7983's ranges", len);
		break;
	}
}

void tnd_pc_input(struct tnd_pc *pc, const uint8_t *buf, size_t len)
{
	enum tnd_demux kind = tnd_demux_classify(buf, len);

	tnd_pc_hold(pc);
	switch (kind) {
	case TND_DEMUX_STUN:
		/* libnice keeps the STUN it understands; what reaches us is
		 * either a stray valid message or garbage in STUN's range */
		if (tnd_stun_check(buf, len)) {
			pc->st.drop_bad_stun++;
			TND_LOG_RL(TND_LOG_WEBRTC, DEBUG, "%zu bytes of non-STUN in STUN's range",
				   len);
		} else {
			pc->st.drop_stun++;
		}
		break;
	default:
		tnd_pc_input_nostun(pc, kind, (uint8_t *)buf, len, false);
		break;
	}
	tnd_pc_unhold(pc);
}

/* ------------------------------------------------------------ API */

static void pc_destroy(void *data)
{
	struct tnd_pc *pc = data;

	tnd_pc_direct_free(pc);
	tnd_pc_ice_destroy(pc);
	g_free(pc->remote_ufrag);
	/* the key of every check the peer answers (RFC 8445 7.2.2) */
	if (pc->remote_pwd)
		OPENSSL_cleanse(pc->remote_pwd, strlen(pc->remote_pwd));
	g_free(pc->remote_pwd);
	free(pc->cand_deny);
	tnd_dtls_free(pc->dtls);
	tnd_dtls_end_free(pc->dtls_end);
	tnd_srtp_free(pc->srtp);
	pending_clear(&pc->dtls_in);
	pending_clear(&pc->dtls_out);
}

/* conf.cand_deny into its binary form, once per pc (cand.c) */
static int parse_deny(struct tnd_pc *pc, const struct tnd_pc_conf *conf)
{
	if (!conf->n_cand_deny)
		return 0;
	pc->cand_deny = calloc(conf->n_cand_deny, sizeof(*pc->cand_deny));
	if (!pc->cand_deny)
		return ENOMEM;
	for (size_t i = 0; i < conf->n_cand_deny; i++)
		if (tnd_cand_prefix_parse(conf->cand_deny[i], &pc->cand_deny[i]))
			return EINVAL;
	pc->n_cand_deny = conf->n_cand_deny;
	return 0;
}

int tnd_pc_alloc(struct tnd_pc **pcp, struct tnd_loop *worker, const struct tnd_pc_conf *conf,
		 bool ice_controlling, const struct tnd_pc_handlers *h, void *arg)
{
	struct tnd_pc *pc;
	int err;

	if (!pcp || !worker || !conf || !h || !h->state ||
	    (conf->n_local_addrs && !conf->local_addrs) ||
	    (conf->n_cand_deny && !conf->cand_deny) || conf->n_cand_deny > TND_PC_MAX_CAND_DENY)
		return EINVAL;
	/* the agent binds to the context of the thread that makes it */
	if (!tnd_loop_is_current(worker) || !tnd_webrtc_ssl_ctx())
		return EINVAL;
	pc = tnd_obj_zalloc(sizeof(*pc), pc_destroy);
	if (!pc)
		return ENOMEM;
	pc->loop = worker;
	pc->ctx = tnd_loop_context(worker);
	pc->h = *h;
	pc->arg = arg;
	pc->state = TND_PC_NEW;
	pc->st.srtp_profile = "";
	pc->st.t_alloc_us = g_get_monotonic_time();
	pc->rcvbuf = conf->rcvbuf;
	pc->consent_interval_us = conf->consent_interval_ms ? conf->consent_interval_ms * 1000LL :
							      5000000;
	pc->consent_timeout_us = conf->consent_timeout_ms ? conf->consent_timeout_ms * 1000LL :
							    30000000;
	err = parse_deny(pc, conf);
	if (!err)
		err = tnd_pc_ice_create(pc, conf, ice_controlling);
	if (err)
		tnd_obj_put(pc);
	else
		*pcp = pc;
	return err;
}

/* ice-char (RFC 8839 5.4): ALPHA / DIGIT / "+" / "/" */
static bool ice_str_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!g_ascii_isalnum(s[n]) && s[n] != '+' && s[n] != '/')
			return false;
	return n >= 1 && n <= 256;
}

int tnd_pc_set_remote(struct tnd_pc *pc, const char *ufrag, const char *pwd,
		      const char *fingerprint, enum tnd_dtls_role role)
{
	struct tnd_fp fp;
	int err;

	if (!pc || !ice_str_ok(ufrag) || !ice_str_ok(pwd) ||
	    (role != TND_DTLS_ACTIVE && role != TND_DTLS_PASSIVE))
		return EINVAL;
	if (pc->remote_set)
		return EALREADY;
	if (tnd_webrtc_fp_parse(fingerprint, &fp))
		return EBADMSG;
	err = tnd_dtls_alloc(&pc->dtls, pc->ctx, role == TND_DTLS_ACTIVE, &fp, &dtls_handlers, pc);
	if (err)
		return err;
	pc->remote_fp = fp;
	pc->remote_ufrag = g_strdup(ufrag);
	pc->remote_pwd = g_strdup(pwd);
	pc->role = role;
	pc->remote_set = true;
	pc->dtls_state = TND_PC_DTLS_WAITING;
	pc->st.t_remote_us = g_get_monotonic_time();

	tnd_pc_hold(pc);
	err = tnd_pc_ice_set_remote(pc, ufrag, pwd);
	/* as the server, answer what came early; as the client nothing can
	 * have (the peer is the server), so it is dropped */
	for (size_t i = 0; i < pc->dtls_in.n; i++) {
		if (role == TND_DTLS_PASSIVE && !final(pc))
			input_dtls(pc, pc->dtls_in.buf[i], pc->dtls_in.len[i]);
		else
			pc->st.drop_dtls++;
	}
	pending_clear(&pc->dtls_in);
	start_dtls(pc);
	tnd_pc_unhold(pc);
	return err;
}

static int send_media(struct tnd_pc *pc, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
	size_t n = len;
	int err;

	if (!pc || !pkt)
		return EINVAL;
	if (pc->state != TND_PC_CONNECTED)
		return ENOTCONN;
	if (len < (rtcp ? 8u : TND_RTP_HDR_LEN) || (pkt[0] >> 6) != 2 ||
	    tnd_demux_classify(pkt, len) != (rtcp ? TND_DEMUX_RTCP : TND_DEMUX_RTP))
		return EBADMSG;
	if (len > TND_PC_MAX_PACKET)
		return ENOSPC;
	err = tnd_srtp_protect(pc->srtp, pkt, &n, cap, rtcp);
	if (err) {
		pc->st.srtp_err_out++;
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "SRT%sP protect: %s", rtcp ? "C" : "",
			   err == ENOSPC ? "no room for the tag" : "refused");
		return err;
	}
	if (tnd_pc_ice_send(pc, pkt, n)) {
		pc->st.send_err++;
		TND_LOG_RL(TND_LOG_WEBRTC, WARN, "ICE send of %zu bytes failed", n);
		return EIO;
	}
	pc->st.bytes_out += len;
	if (rtcp)
		pc->st.rtcp_out++;
	else
		pc->st.rtp_out++;
	return 0;
}

int tnd_pc_send_rtp(struct tnd_pc *pc, uint8_t *pkt, size_t len, size_t cap)
{
	return send_media(pc, pkt, len, cap, false);
}

int tnd_pc_send_rtcp(struct tnd_pc *pc, uint8_t *pkt, size_t len, size_t cap)
{
	return send_media(pc, pkt, len, cap, true);
}

void tnd_pc_close(struct tnd_pc *pc)
{
	if (!pc || final(pc))
		return;
	tnd_dtls_close(pc->dtls);
	if (pc->dtls_end) {
		uint8_t msg[64];
		size_t n = tnd_dtls_end_close_notify(pc->dtls_end, msg, sizeof(msg));

		if (n)
			tnd_pc_ice_send(pc, msg, n);
	}
	pc->state = TND_PC_CLOSED;
	pc->dtls_state = TND_PC_DTLS_CLOSED;
}

void tnd_pc_detach(struct tnd_pc *pc)
{
	if (!pc)
		return;
	/* every handler call checks its pointer (or tnd_pc_gone): with them
	 * cleared nothing can reach the owner's memory again */
	memset(&pc->h, 0, sizeof(pc->h));
	pc->arg = NULL;
	pc->detached = true;
}

enum tnd_pc_state tnd_pc_state(const struct tnd_pc *pc)
{
	return pc->state;
}

int tnd_pc_error(const struct tnd_pc *pc)
{
	return pc->err;
}

void tnd_pc_stats(const struct tnd_pc *pc, struct tnd_pc_stats *st)
{
	*st = pc->st;
	st->dtls_state = pc->dtls_state;
}
