/* media-bench: the SIP phones of Tandem's calls, one tnd_sipua for all of
 * them, on a thread of its own.
 *
 * Why a thread: Sofia's UDP transport reads one datagram per pass of its
 * main loop. On the driver's media loop, which at a few hundred calls is
 * busy all the time, INVITEs and ACKs then queued in the SIP socket for up
 * to seconds and the driver, not the gateway, set the set-up rate. On its
 * own loop the user agent keeps up; both threads share the driver's CPU.
 *
 * Threads: the user agent and phones[] belong to the SIP thread; the calls
 * (their rtpsock and state) to the main thread. They meet through
 * tnd_loop_call() with a small refcounted message; the one value read
 * across, a call's RTP port, is published by the main thread before the
 * offer leaves, with release/acquire atomics. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/obj.h"
#include "sip/sip.h"
#include "tests/bench/media_bench.h"

enum msg_kind {
	MSG_INVITE,    /* to main: the gateway's RTP address, from its offer */
	MSG_ACK,       /* to main: the dialog is confirmed */
	MSG_ENDED,     /* to main: the dialog ended */
	MSG_HANGUP,    /* to SIP: the main thread is done with this call */
};

struct msg {
	struct tnd_obj obj;
	enum msg_kind kind;
	unsigned idx;
	int64_t t;
	uint16_t port;
	char ip[64];
	char why[160];
};

struct phone {
	struct tnd_sipcall *sip;     /* ref; OWNER: SIP thread */
};

static struct {
	struct tnd_mb *mb;           /* borrowed */
	struct tnd_loop *loop;       /* owned: the SIP thread's loop */
	struct tnd_sipua *ua;        /* owned; OWNER: SIP thread */
	struct phone *phones;        /* owned; OWNER: SIP thread */
	_Atomic uint16_t *port;      /* owned; written by main, read by SIP */
	unsigned n;
	GMutex lock;
	GCond cond;
	bool started;                /* LOCK: lock */
	int start_err;               /* LOCK: lock */
} ph;

static struct msg *msg_new(enum msg_kind kind, unsigned idx)
{
	struct msg *m = tnd_obj_zalloc(sizeof(*m), NULL);

	if (m) {
		m->kind = kind;
		m->idx = idx;
		m->t = g_get_monotonic_time();
	}
	return m;
}

/* Main thread. */
static void on_main(void *obj)
{
	struct msg *m = obj;
	struct tnd_mb_call *c = &ph.mb->calls[m->idx];

	switch (m->kind) {
	case MSG_INVITE:
		tnd_mb_call_phone_remote(c, m->ip, m->port, m->t);
		break;
	case MSG_ACK:
		tnd_mb_call_phone_up(c);
		break;
	case MSG_ENDED:
		tnd_mb_call_lost(c, m->why);
		break;
	case MSG_HANGUP:
		break;
	}
}

static void post(struct tnd_loop *to, tnd_loop_call_h *fn, struct msg *m)
{
	if (!m)
		return;
	if (tnd_loop_call(to, fn, m))
		fprintf(stderr, "media-bench: cannot post a phone message\n");
	tnd_obj_put(m);
}

/* ------------------------------------------------------------ SIP thread */

static void drop_phone(struct phone *p)
{
	if (p->sip) {
		tnd_sipcall_detach(p->sip);
		p->sip = tnd_obj_put(p->sip);
	}
}

static void on_sip(void *obj)
{
	struct msg *m = obj;

	if (m->kind == MSG_HANGUP)
		drop_phone(&ph.phones[m->idx]);
}

static void on_ack(void *arg, struct tnd_sipcall *sip)
{
	struct phone *p = arg;

	(void)sip;
	post(ph.mb->loop, on_main, msg_new(MSG_ACK, (unsigned)(p - ph.phones)));
}

static void on_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
		     enum tnd_sipcall_end why)
{
	struct phone *p = arg;
	struct msg *m = msg_new(MSG_ENDED, (unsigned)(p - ph.phones));

	(void)sip;
	if (m)
		snprintf(m->why, sizeof(m->why), "SIP leg ended (%s, %d %s)",
			 tnd_sipcall_end_name(why), status, phrase ? phrase : "");
	post(ph.mb->loop, on_main, m);
	drop_phone(p);
}

static const struct tnd_sipcall_handlers handlers = { .ack = on_ack, .ended = on_ended };

/* Takes INVITEs for sip:b<idx>@ and answers them 200 at once. */
static int on_incoming(void *arg, struct tnd_sipcall *sip, const struct tnd_sipcall_info *in)
{
	struct phone *p;
	struct msg *m;
	unsigned idx;
	uint16_t port;
	char *answer, tail;
	int err;

	(void)arg;
	if (sscanf(in->ruri_user, "b%u%c", &idx, &tail) != 1 || idx >= ph.n)
		return ENOENT;
	p = &ph.phones[idx];
	port = atomic_load_explicit(&ph.port[idx], memory_order_acquire);
	if (!port || p->sip)
		return EBUSY;
	m = msg_new(MSG_INVITE, idx);
	if (!m)
		return ENOMEM;
	if (tnd_mb_plain_addr(in->sdp, m->ip, sizeof(m->ip), &m->port)) {
		tnd_obj_put(m);
		return ENOTSUP;
	}
	err = tnd_sipcall_set_handlers(sip, &handlers, p);
	if (err) {
		tnd_obj_put(m);
		return err;
	}
	p->sip = tnd_obj_get(sip);
	post(ph.mb->loop, on_main, m);
	answer = tnd_mb_phone_sdp(idx, port);
	err = tnd_sipcall_answer(sip, answer);
	g_free(answer);
	if (err)
		drop_phone(p);   /* hangs up; `ended` follows */
	return 0;
}

static void start_ua(void *unused)
{
	struct tnd_sip_conf sc = {
		.listen = "127.0.0.1", .port = ph.mb->o.sip_port, .udp = true, .tcp = false,
		.user_agent = "media-bench",
	};
	int err;

	(void)unused;
	err = tnd_sipua_alloc(&ph.ua, tnd_loop_context(ph.loop), &sc);
	if (!err)
		tnd_sipua_set_incoming(ph.ua, on_incoming, NULL);
	g_mutex_lock(&ph.lock);
	ph.start_err = err;
	ph.started = true;
	g_cond_signal(&ph.cond);
	g_mutex_unlock(&ph.lock);
}

/* ------------------------------------------------------------ main thread */

int tnd_mb_phone_start(struct tnd_mb *mb, unsigned max_calls)
{
	int err;

	ph.mb = mb;
	ph.n = max_calls;
	ph.phones = g_new0(struct phone, max_calls);
	ph.port = g_new0(_Atomic uint16_t, max_calls);
	g_mutex_init(&ph.lock);
	g_cond_init(&ph.cond);
	tnd_sip_init();
	err = tnd_loop_alloc(&ph.loop, "sip", 1);
	if (!err)
		err = tnd_loop_thread_start(ph.loop);
	if (!err)
		err = tnd_loop_call(ph.loop, start_ua, NULL);
	if (err)
		return err;
	g_mutex_lock(&ph.lock);
	while (!ph.started)
		g_cond_wait(&ph.cond, &ph.lock);
	err = ph.start_err;
	g_mutex_unlock(&ph.lock);
	return err;
}

void tnd_mb_phone_expect(unsigned idx, uint16_t port)
{
	if (idx < ph.n)
		atomic_store_explicit(&ph.port[idx], port, memory_order_release);
}

void tnd_mb_phone_hangup(unsigned idx)
{
	if (ph.loop && idx < ph.n)
		post(ph.loop, on_sip, msg_new(MSG_HANGUP, idx));
}

/* ------------------------------------------------------------ any thread */

char *tnd_mb_phone_sdp(unsigned idx, uint16_t port)
{
	return g_strdup_printf("v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=media-bench\r\n"
			       "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/AVP 0\r\n"
			       "a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n", idx + 1,
			       port);
}

int tnd_mb_plain_addr(const char *sdp, char *ip, size_t size, uint16_t *port)
{
	int p = 0;

	*ip = '\0';
	for (const char *l = sdp; *l;) {
		size_t len = strcspn(l, "\r\n");

		if (len > 9 && !strncmp(l, "c=IN IP4 ", 9) && !*ip)
			snprintf(ip, size, "%.*s", (int)(len - 9), l + 9);
		else if (len > 8 && !strncmp(l, "m=audio ", 8) && !p)
			p = atoi(l + 8);
		l += len;
		l += strspn(l, "\r\n");
	}
	if (!*ip || p <= 0 || p > 65535)
		return EBADMSG;
	*port = (uint16_t)p;
	return 0;
}
