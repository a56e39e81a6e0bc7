/* The bridge fixture of test-media: see test_media_fx.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "tests/unit/test_media_fx.h"
#include "webrtc/webrtc.h"

void mk_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	memset(p, 0, 172);
	p[0] = 0x80;
	p[1] = pt;
	tnd_rtp_set_seq(p, seq);
	tnd_rtp_set_ts(p, ts);
	tnd_rtp_set_ssrc(p, ssrc);
}

/* ------------------------------------------------------------ bridges */

int peer_open(struct peer *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(p->fd, (struct sockaddr *)&a, &len))
		return errno;
	p->port = ntohs(a.sin_port);
	return 0;
}

void peer_send(const struct peer *p, uint16_t to, const uint8_t *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(to) };

	sendto(p->fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* One datagram within ms (the main context turns meanwhile), or -1. */
ssize_t peer_recv(const struct peer *p, uint8_t *buf, size_t cap, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	do {
		ssize_t n = recv(p->fd, buf, cap, 0);
		struct pollfd pf = { p->fd, POLLIN, 0 };

		if (n >= 0)
			return n;
		while (g_main_context_iteration(NULL, FALSE))
			;
		poll(&pf, 1, 5);
	} while (g_main_context_iteration(NULL, FALSE), g_get_monotonic_time() < end);
	return -1;
}

static void keep_ice(struct fixture *f, unsigned side, const char *ufrag, const char *pwd,
		     const char *const *cands)
{
	int n = 0;

	snprintf(f->ice[side].ufrag, sizeof(f->ice[side].ufrag), "%s", ufrag ? ufrag : "");
	snprintf(f->ice[side].pwd, sizeof(f->ice[side].pwd), "%s", pwd ? pwd : "");
	for (; cands && cands[n] && n < 8; n++)
		snprintf(f->ice[side].cands[n], sizeof(f->ice[side].cands[0]), "%s", cands[n]);
	f->ice[side].n_cands = n;
}

static void ev_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t port)
{
	struct fixture *f = arg;

	(void)complete;
	f->ready++;
	f->ready_err = err;
	f->b_port_ready = port;
	keep_ice(f, 0, ufrag, pwd, cands);
}

static void ev_ready_b(void *arg, int err, const char *ufrag, const char *pwd,
		       const char *const *cands, bool complete)
{
	struct fixture *f = arg;

	(void)complete;
	f->ready_b++;
	f->ready_err = err;
	keep_ice(f, 1, ufrag, pwd, cands);
}

static void ev_state_b(void *arg, enum tnd_bridge_state state, int err)
{
	struct fixture *f = arg;

	(void)err;
	f->state_b = (int)state + 1;
}

static void ev_state(void *arg, enum tnd_bridge_state state, int err)
{
	struct fixture *f = arg;

	(void)err;
	f->state = (int)state + 1;
}

const struct tnd_bridge_events events = {
	.ready = ev_ready, .state = ev_state,
	.ready_b = ev_ready_b, .state_b = ev_state_b,
};

bool spin_until(int *flag, int value, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	while (*flag < value && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	return *flag >= value;
}

static int prime(struct peer *from, uint16_t to, struct peer *at)
{
	uint8_t p[172], r[2048];

	for (int i = 0; i < 100; i++) {
		mk_rtp(p, from->pt, (uint16_t)(60000 + i), 0, 0x9999);
		peer_send(from, to, p, sizeof(p));
		if (peer_recv(at, r, sizeof(r), 20) > 0) {
			while (peer_recv(at, r, sizeof(r), 50) > 0)
				;
			return 0;
		}
	}
	return 1;
}

int fixture_up(struct fixture *f, unsigned timeout_ms)
{
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 30000, .port_max = 39999,
		.a_rtp = true, .timeout_ms = timeout_ms,
	};
	const struct tnd_bridge_pt pts[] = { { 0, 8, 8000 }, { 101, 100, 8000 } };

	memset(f, 0, sizeof(*f));
	f->a.fd = f->b.fd = -1;
	if (tnd_loop_alloc(&f->worker, "media0", 1) || tnd_loop_thread_start(f->worker) ||
	    tnd_loop_alloc(&f->signal, "signal", 0))
		return 1;
	if (peer_open(&f->a) || peer_open(&f->b))
		return 1;
	f->a.pt = 0;
	f->b.pt = 8;
	if (tnd_bridge_alloc(&f->br, f->worker, f->signal, &conf, &events, f))
		return 1;
	if (!spin_until(&f->ready, 1, 5000) || f->ready_err)
		return 1;
	if (tnd_bridge_rtp_remote(f->br, 0, "127.0.0.1", f->a.port, f->a.port) ||
	    tnd_bridge_rtp_remote(f->br, 1, "127.0.0.1", f->b.port, 0) ||
	    tnd_bridge_route(f->br, pts, 2))
		return 1;
	/* the commands reach the worker in order, but a packet can overtake
	 * them: wait until one crosses each way */
	return prime(&f->a, tnd_bridge_port(f->br, 0), &f->b) ||
	       prime(&f->b, tnd_bridge_port(f->br, 1), &f->a);
}

int fixture_down(struct fixture *f, long live)
{
	int64_t end = g_get_monotonic_time() + 5000000;

	if (f->br) {
		tnd_bridge_close(f->br);
		f->br = tnd_obj_put(f->br);
	}
	/* the worker releases the legs; their last puts are deferred */
	while (tnd_obj_live() != live && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
	tnd_loop_free(f->worker);
	tnd_loop_free(f->signal);
	if (f->a.fd >= 0)
		close(f->a.fd);
	if (f->b.fd >= 0)
		close(f->b.fd);
	return tnd_obj_live() == live ? 0 : 1;
}

/* Sends n packets from `from` toward port `to`, waiting for each at `at`;
 * checks each arrives with the expected next sequence number. Returns how
 * many arrived in order. */
int relay_run(struct peer *from, uint16_t to, struct peer *at, uint32_t ssrc, uint16_t seq0,
	      int n, uint16_t *next, bool *have)
{
	/* the route maps PCMU 0 on leg A to 8 on leg B (and back) */
	uint8_t pt_in = from->pt, pt_out = at->pt;
	uint8_t p[172], r[2048];
	int ok = 0;

	for (int i = 0; i < n; i++) {
		ssize_t len;

		mk_rtp(p, pt_in, (uint16_t)(seq0 + i), (uint32_t)(seq0 + i) * 160u, ssrc);
		peer_send(from, to, p, sizeof(p));
		len = peer_recv(at, r, sizeof(r), 1000);
		while (len > 0 && tnd_demux_classify(r, (size_t)len) == TND_DEMUX_RTCP)
			len = peer_recv(at, r, sizeof(r), 1000);   /* our reports */
		if (len != (ssize_t)sizeof(p) || tnd_rtp_pt(r) != pt_out)
			continue;
		if (*have && tnd_rtp_seq(r) != *next)
			continue;
		*have = true;
		*next = (uint16_t)(tnd_rtp_seq(r) + 1);
		ok++;
	}
	return ok;
}

/* ------------------------------------------------------------ browser leg */

static void br_cand(void *arg, const char *cand)
{
	struct browser *b = arg;

	g_mutex_lock(&b->mu);
	if (!cand)
		b->gathered = true;
	else if (b->n_cands < 8)
		snprintf(b->cands[b->n_cands++], sizeof(b->cands[0]), "%s", cand);
	g_mutex_unlock(&b->mu);
}

static void br_state(void *arg, enum tnd_pc_state st)
{
	struct browser *b = arg;

	g_mutex_lock(&b->mu);
	b->connected = st == TND_PC_CONNECTED;
	g_mutex_unlock(&b->mu);
}

static void br_rtp(void *arg, uint8_t *pkt, size_t len)
{
	struct browser *b = arg;

	(void)len;
	g_mutex_lock(&b->mu);
	if (!b->n_rtp++)
		b->first_seq = tnd_rtp_seq(pkt);
	b->last_seq = tnd_rtp_seq(pkt);
	b->ssrc = tnd_rtp_ssrc(pkt);
	g_mutex_unlock(&b->mu);
}

/* On the browser's loop: make the pc, take the bridge's ICE side as the
 * remote one (the gateway's DTLS is passive, ours active), gather. */
static void step_start(void *obj)
{
	static const char *const addrs[] = { "127.0.0.1" };
	static const struct tnd_pc_handlers h = { br_cand, br_state, br_rtp, NULL };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	struct browser *b = obj;
	int err;

	err = tnd_pc_alloc(&b->pc, b->loop, &conf, false, &h, b);
	if (!err) {
		g_mutex_lock(&b->mu);
		err = tnd_pc_local_ice(b->pc, b->ufrag, sizeof(b->ufrag), b->pwd, sizeof(b->pwd));
		g_mutex_unlock(&b->mu);
	}
	if (!err)
		err = tnd_pc_set_remote(b->pc, b->f->ice[b->side].ufrag, b->f->ice[b->side].pwd,
					tnd_webrtc_fingerprint(), TND_DTLS_ACTIVE);
	for (int i = 0; !err && i < b->f->ice[b->side].n_cands; i++)
		err = tnd_pc_add_remote_candidate(b->pc, b->f->ice[b->side].cands[i]);
	if (!err)
		err = tnd_pc_add_remote_candidate(b->pc, NULL);
	if (!err)
		err = tnd_pc_gather(b->pc);
	g_mutex_lock(&b->mu);
	b->step_err = err;
	b->step_done = true;
	g_mutex_unlock(&b->mu);
}

/* On the browser's loop: ten packets toward the gateway. */
void step_send(void *obj)
{
	struct browser *b = obj;
	uint8_t p[256];

	for (int i = 0; i < 10; i++) {
		mk_rtp(p, 0, b->send_seq, (uint32_t)b->send_seq * 160u, 0xb0b);
		b->send_seq++;
		tnd_pc_send_rtp(b->pc, p, 172, sizeof(p));
	}
}

static void step_stop(void *obj)
{
	struct browser *b = obj;

	if (b->pc) {
		tnd_pc_close(b->pc);
		tnd_pc_detach(b->pc);
		b->pc = tnd_obj_put(b->pc);
	}
}

bool browser_flag(struct browser *b, bool *flag, int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;
	bool v;

	do {
		g_main_context_iteration(NULL, FALSE);
		g_mutex_lock(&b->mu);
		v = *flag;
		g_mutex_unlock(&b->mu);
		if (!v)
			g_usleep(2000);
	} while (!v && g_get_monotonic_time() < end);
	return v;
}

static void browser_destroy(void *obj)
{
	struct browser *b = obj;

	g_mutex_clear(&b->mu);
}

/* A browser for leg A on its own loop, its pc made from the bridge's last
 * `ready`; then the bridge is told the browser's side. NULL on failure. */
struct browser *browser_up(struct fixture *f, unsigned side, uint16_t send_seq0)
{
	struct browser *b = tnd_obj_zalloc(sizeof(*b), browser_destroy);
	int n;

	if (!b)
		return NULL;
	g_mutex_init(&b->mu);
	b->f = f;
	b->side = side;
	b->send_seq = send_seq0;
	if (tnd_loop_alloc(&b->loop, "browser", 1) || tnd_loop_thread_start(b->loop) ||
	    tnd_loop_call(b->loop, step_start, b) || !browser_flag(b, &b->step_done, 5000) ||
	    b->step_err || !browser_flag(b, &b->gathered, 5000))
		return b;
	g_mutex_lock(&b->mu);
	tnd_bridge_leg_remote(f->br, side, b->ufrag, b->pwd, tnd_webrtc_fingerprint(), false);
	for (n = 0; n < b->n_cands; n++)
		tnd_bridge_leg_candidate(f->br, side, b->cands[n]);
	g_mutex_unlock(&b->mu);
	tnd_bridge_leg_candidate(f->br, side, NULL);
	return b;
}

void browser_down(struct browser *b)
{
	if (!b)
		return;
	if (b->loop) {
		tnd_loop_call(b->loop, step_stop, b);
		tnd_loop_free(b->loop);   /* runs the stop first */
	}
	tnd_obj_put(b);
}

int fixture_up_webrtc(struct fixture *f)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 30000, .port_max = 39999,
		.ice_addrs = addrs, .n_ice_addrs = 1, .ice_controlling = true,
	};
	const struct tnd_bridge_pt pts[] = { { 0, 8, 8000 } };

	memset(f, 0, sizeof(*f));
	f->a.fd = f->b.fd = -1;
	if (tnd_loop_alloc(&f->worker, "media0", 1) || tnd_loop_thread_start(f->worker) ||
	    tnd_loop_alloc(&f->signal, "signal", 0) || peer_open(&f->b))
		return 1;
	f->b.pt = 8;
	if (tnd_bridge_alloc(&f->br, f->worker, f->signal, &conf, &events, f) ||
	    !spin_until(&f->ready, 1, 5000) || f->ready_err || !f->ice[0].n_cands)
		return 1;
	return tnd_bridge_sip_remote(f->br, "127.0.0.1", f->b.port, 0) ||
	       tnd_bridge_route(f->br, pts, 1);
}

/* Sends from the SIP peer until the browser has `want` more packets. */
bool to_browser(struct fixture *f, struct browser *b, uint16_t *seq, int want)
{
	int64_t end = g_get_monotonic_time() + 5000000;
	int have;

	do {
		uint8_t p[172];

		mk_rtp(p, 8, *seq, (uint32_t)*seq * 160u, 0x51b);
		(*seq)++;
		peer_send(&f->b, tnd_bridge_port(f->br, 1), p, sizeof(p));
		spin_until(&f->state, 100, 10);
		g_mutex_lock(&b->mu);
		have = b->n_rtp;
		g_mutex_unlock(&b->mu);
	} while (have < want && g_get_monotonic_time() < end);
	return have >= want;
}

