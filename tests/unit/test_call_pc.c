/* The browser's WebRTC peer for the call tests (test_call.h): a real tnd_pc
 * on a loop and thread of its own, driven by jobs queued to that loop. What
 * its handlers see is kept under `bmu`; the test thread waits on it while
 * turning the default main context, which carries the gateway's side. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "tests/unit/test_call.h"
#include "webrtc/webrtc.h"

#define L(s) s "\r\n"
#define CANDS 2048
#define WAIT_MS TND_TEST_CALL_WAIT_MS

/* A job queued to the browser's loop: 1 done, -1 failed. */
struct job {
	struct tnd_obj obj;
	atomic_int done;
};

static GMutex bmu;

static struct browser {
	struct tnd_loop *loop;       /* owned: its own thread */
	struct tnd_pc *pc;           /* ref; OWNER: loop */
	char ufrag[64], pwd[128];    /* written by the alloc job, read after it */
	char remote[2 * CANDS];     /* the gateway's answer and candidates, for a job */
	int n_send;                  /* packets the next send job sends */
	uint16_t seq;                /* OWNER: loop */
	/* LOCK: bmu */
	char cands[CANDS];          /* "a=candidate:...\r\n" lines */
	bool gathered;
	enum tnd_pc_state state;
	int n_rtp;
	int bad_pt;
} br;

static void b_cand(void *arg, const char *cand)
{
	(void)arg;
	g_mutex_lock(&bmu);
	if (cand) {
		size_t n = strlen(br.cands);

		snprintf(br.cands + n, sizeof(br.cands) - n, "a=%s\r\n", cand);
	}
	else
		br.gathered = true;
	g_mutex_unlock(&bmu);
}

static void b_state(void *arg, enum tnd_pc_state state)
{
	(void)arg;
	g_mutex_lock(&bmu);
	br.state = state;
	g_mutex_unlock(&bmu);
}

static void b_rtp(void *arg, uint8_t *pkt, size_t len)
{
	(void)arg;
	(void)len;
	g_mutex_lock(&bmu);
	br.n_rtp++;
	br.bad_pt += tnd_rtp_pt(pkt) != 0;
	g_mutex_unlock(&bmu);
}

static const struct tnd_pc_handlers b_handlers = { b_cand, b_state, b_rtp, NULL };

static void job_alloc(void *obj)
{
	static const char *const addrs[] = { "127.0.0.1" };
	const struct tnd_pc_conf conf = { .local_addrs = addrs, .n_local_addrs = 1 };
	atomic_int *done = &((struct job *)obj)->done;

	/* the browser offers: ICE controlling */
	if (!tnd_pc_alloc(&br.pc, br.loop, &conf, true, &b_handlers, NULL) &&
	    !tnd_pc_local_ice(br.pc, br.ufrag, sizeof(br.ufrag), br.pwd, sizeof(br.pwd)) &&
	    !tnd_pc_gather(br.pc))
		atomic_store(done, 1);
	else
		atomic_store(done, -1);
}

/* The value of the first "a=<key>:" line of an SDP, into out. */
static bool sdp_attr(const char *sdp, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *v;
	size_t n;

	snprintf(pat, sizeof(pat), "a=%s:", key);
	v = strstr(sdp, pat);
	if (!v)
		return false;
	v += strlen(pat);
	n = strcspn(v, "\r\n");
	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
	return true;
}

/* The gateway answered setup:active (RFC 5763 5), so the browser is the
 * DTLS server; every candidate the gateway gave, then end-of-candidates. */
static void job_remote(void *obj)
{
	atomic_int *done = &((struct job *)obj)->done;
	char ufrag[64], pwd[128], fp[256], setup[16];
	int err = EINVAL;

	if (sdp_attr(br.remote, "ice-ufrag", ufrag, sizeof(ufrag)) &&
	    sdp_attr(br.remote, "ice-pwd", pwd, sizeof(pwd)) &&
	    sdp_attr(br.remote, "fingerprint", fp, sizeof(fp)) &&
	    sdp_attr(br.remote, "setup", setup, sizeof(setup)))
		err = tnd_pc_set_remote(br.pc, ufrag, pwd, fp, !strcmp(setup, "active") ?
					TND_DTLS_PASSIVE : TND_DTLS_ACTIVE);
	for (const char *c = strstr(br.remote, "a=candidate:"); !err && c;
	     c = strstr(c + 1, "a=candidate:")) {
		char line[256];

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(c, "\r\n"), c);
		err = tnd_pc_add_remote_candidate(br.pc, line);
	}
	if (!err)
		err = tnd_pc_add_remote_candidate(br.pc, NULL);
	atomic_store(done, err ? -1 : 1);
}

/* n_send PCMU packets from the browser. */
static void job_send(void *obj)
{
	atomic_int *done = &((struct job *)obj)->done;
	uint8_t p[172 + TND_PC_SRTP_OVERHEAD] = { 0x80, 0 };
	int err = 0;

	for (int i = 0; i < br.n_send && !err; i++) {
		br.seq++;
		tnd_rtp_set_seq(p, br.seq);
		tnd_rtp_set_ts(p, br.seq * 160u);
		tnd_rtp_set_ssrc(p, 0xb0b0);
		err = tnd_pc_send_rtp(br.pc, p, 172, sizeof(p));
	}
	atomic_store(done, err ? -1 : 1);
}

static void job_free(void *obj)
{
	if (br.pc) {
		tnd_pc_detach(br.pc);
		br.pc = tnd_obj_put(br.pc);
	}
	atomic_store(&((struct job *)obj)->done, 1);
}

/* Runs fn on the browser's loop; the signalling loop turns meanwhile. */
static bool b_run(tnd_loop_call_h *fn)
{
	struct job *j = tnd_obj_zalloc(sizeof(*j), NULL);
	int64_t end = g_get_monotonic_time() + WAIT_MS * 1000LL;
	int done = 0;

	if (!j || tnd_loop_call(br.loop, fn, j)) {
		tnd_obj_put(j);
		return false;
	}
	while (!(done = atomic_load(&j->done)) && g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
	tnd_obj_put(j);
	return done == 1;
}

static bool b_wait(bool (*pred)(void), int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;
	bool ok;

	for (;;) {
		g_mutex_lock(&bmu);
		ok = pred();
		g_mutex_unlock(&bmu);
		if (ok || g_get_monotonic_time() >= end)
			return ok;
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
	}
}

static bool b_gathered(void)
{
	return br.gathered;
}

static bool b_connected(void)
{
	return br.state == TND_PC_CONNECTED;
}

int tnd_test_browser_up(void)
{
	memset(&br, 0, sizeof(br));
	if (tnd_loop_alloc(&br.loop, "browser", 1) || tnd_loop_thread_start(br.loop))
		return 1;
	return b_run(job_alloc) && b_wait(b_gathered, WAIT_MS) ? 0 : 1;
}

void tnd_test_browser_down(void)
{
	if (!br.loop)
		return;
	b_run(job_free);
	tnd_loop_free(br.loop);     /* joins its thread after the queued work */
	br.loop = NULL;
}

/* The browser's offer for its real pc: its ICE values and candidates, the
 * process's certificate (both pcs in this process share it). */
void tnd_test_browser_offer(char *buf, size_t len)
{
	g_mutex_lock(&bmu);
	snprintf(buf, len, L("v=0") L("o=- 99 2 IN IP4 127.0.0.1") L("s=-") L("t=0 0")
		 L("a=group:BUNDLE 0") L("m=audio 9 UDP/TLS/RTP/SAVPF 0 126")
		 L("c=IN IP4 0.0.0.0") L("a=ice-ufrag:%s") L("a=ice-pwd:%s")
		 L("a=fingerprint:%s") L("a=setup:actpass") L("a=mid:0") L("a=sendrecv")
		 L("a=rtcp-mux") L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:126 telephone-event/8000")
		 "%s" L("a=end-of-candidates"), br.ufrag, br.pwd, tnd_webrtc_fingerprint(),
		 br.cands);
	g_mutex_unlock(&bmu);
}

int tnd_test_browser_rtp(int *not_pcmu)
{
	int n;

	g_mutex_lock(&bmu);
	n = br.n_rtp;
	*not_pcmu = br.bad_pt;
	g_mutex_unlock(&bmu);
	return n;
}

bool tnd_test_browser_remote(const char *answer, const char *cands)
{
	snprintf(br.remote, sizeof(br.remote), "%s%s", answer, cands);
	return b_run(job_remote);
}

bool tnd_test_browser_wait_connected(int ms)
{
	return b_wait(b_connected, ms);
}

bool tnd_test_browser_send(int n)
{
	br.n_send = n;
	return b_run(job_send);
}

