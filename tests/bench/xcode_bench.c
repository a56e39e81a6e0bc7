/* Transcoding benchmark (issue 10 item 7): transcoded Opus <-> PCMU calls
 * per core at Opus complexity 10 and 5, against the ceiling measured in the
 * same run from encode + decode alone; heap per transcoded call; and the
 * delay the bridge adds at zero jitter. Prints numbers and ratios; no
 * pass/fail.
 *
 * How: one media worker (gateway/media, the real bridge and transcoder)
 * carries N calls, each two plain RTP legs (PCMU on A, Opus on B). A
 * generator thread plays both phones of every call: every 20 ms it sends a
 * pre-encoded PCMU packet to leg A and a pre-encoded Opus packet to leg B
 * and drains what comes back. The worker's CPU time is the process's minus
 * the generator's and the main thread's (CLOCK_THREAD_CPUTIME_ID); calls
 * per core = N / (worker CPU / wall). The ceiling is 20 ms over the codec
 * work of one call's 20 ms on the same packets (PCMU decode + Opus encode,
 * Opus decode + PCMU encode, at 8 kHz), timed on this thread in the same
 * run. Memory: glibc's count of the heap
 * tnd_bridge_transcode() allocates (it allocates on the calling thread).
 * Delay: one call, silence then a tone into leg A; the time from sending the
 * first tone packet to receiving the first loud Opus packet on leg B.
 *
 * Usage: xcode-bench [calls, default 40] [seconds, default 5] */
#include <arpa/inet.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "codecs/codecs.h"
#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "tests/bench/xcode_bench.h"
#include "webrtc/webrtc.h"

#define MAX_CALLS 400
#define RING 50                     /* pre-encoded frames per codec: 1 s */

struct phone {
	int fd;
	uint16_t port;
	uint16_t to;                /* where this phone sends */
	uint16_t seq;
	uint32_t ts;
	unsigned rx;                /* packets it got back */
};

struct call {
	struct tnd_bridge *br;      /* NULL when rtpengine carries the call */
	struct phone a, b;          /* a: PCMU phone (leg A), b: Opus (leg B) */
	uint8_t opus_pt;
	int ready;
};

static struct call calls[MAX_CALLS];
static unsigned n_calls;
static uint8_t pcmu_ring[RING][160], opus_ring[RING][400];
static size_t opus_len[RING];
static volatile int gen_stop;
static int64_t gen_cpu_ns;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void tone(int16_t *x, size_t n, unsigned rate, double hz, double amp, size_t pos)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)(amp * sin(2 * M_PI * hz * (double)(pos + i) / rate));
}

static int phone_open(struct phone *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(p->fd, (struct sockaddr *)&a, &len))
		return 1;
	p->port = ntohs(a.sin_port);
	return 0;
}

static void phone_send(struct phone *p, uint16_t to, uint8_t pt, const uint8_t *pl,
		       size_t len, uint32_t step)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
				 .sin_port = htons(to) };
	uint8_t pkt[512];

	memset(pkt, 0, 12);
	pkt[0] = 0x80;
	pkt[1] = pt;
	tnd_rtp_set_seq(pkt, p->seq++);
	tnd_rtp_set_ts(pkt, p->ts);
	tnd_rtp_set_ssrc(pkt, 0x5150u + pt);
	p->ts += step;
	memcpy(pkt + 12, pl, len);
	sendto(p->fd, pkt, 12 + len, 0, (struct sockaddr *)&a, sizeof(a));
}

static void drain(struct phone *p)
{
	uint8_t buf[2048];

	while (recv(p->fd, buf, sizeof(buf), 0) > 0)
		p->rx++;
}

/* Plays both phones of every call, one packet each per 20 ms. */
static gpointer generator(gpointer arg)
{
	int64_t next = g_get_monotonic_time();
	unsigned k = 0;

	(void)arg;
	while (!gen_stop) {
		for (unsigned i = 0; i < n_calls; i++) {
			struct call *c = &calls[i];

			phone_send(&c->a, c->a.to, 0, pcmu_ring[k % RING], 160, 160);
			phone_send(&c->b, c->b.to, c->opus_pt, opus_ring[k % RING],
				   opus_len[k % RING], 960);
			drain(&c->a);
			drain(&c->b);
		}
		k++;
		next += 20000;
		if (next > g_get_monotonic_time())
			g_usleep((gulong)(next - g_get_monotonic_time()));
	}
	gen_cpu_ns = thread_cpu_ns();
	return NULL;
}

static void on_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t port)
{
	struct call *c = arg;

	(void)ufrag, (void)pwd, (void)cands, (void)complete, (void)port;
	c->ready = err ? -1 : 1;
}

static void on_state(void *arg, enum tnd_bridge_state state, int err)
{
	(void)arg, (void)state, (void)err;
}

static const struct tnd_bridge_events events = { .ready = on_ready, .state = on_state };

static void spin(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000LL;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
}

static void codecs_of(int complexity, struct tnd_bridge_codec *a, struct tnd_bridge_codec *b)
{
	*a = (struct tnd_bridge_codec){ tnd_codec_get(TND_CODEC_PCMU), 0, 20, { 0 } };
	*b = (struct tnd_bridge_codec){ tnd_codec_get(TND_CODEC_OPUS), 111, 20, { 0 } };
	b->params.complexity = complexity;
	b->params.complexity_set = true;
}

/* Opens n calls on the worker, transcoding at `complexity`; returns the
 * heap bytes tnd_bridge_transcode took per call. */
static double open_calls(struct tnd_loop *worker, struct tnd_loop *sig, unsigned n,
			 int complexity)
{
	const struct tnd_bridge_conf conf = {
		.rtp_addr = "127.0.0.1", .port_min = 42000, .port_max = 52000, .a_rtp = true,
	};
	struct tnd_bridge_codec a, b;
	size_t before, after;

	codecs_of(complexity, &a, &b);
	for (unsigned i = 0; i < n; i++) {
		struct call *c = &calls[i];

		memset(c, 0, sizeof(*c));
		if (phone_open(&c->a) || phone_open(&c->b) ||
		    tnd_bridge_alloc(&c->br, worker, sig, &conf, &events, c)) {
			fprintf(stderr, "call %u: set-up failed\n", i);
			exit(1);
		}
	}
	for (int t = 0; t < 5000; t++) {
		unsigned up = 0;

		for (unsigned i = 0; i < n; i++)
			up += calls[i].ready == 1;
		if (up == n)
			break;
		spin(1);
	}
	before = mallinfo2().uordblks;
	for (unsigned i = 0; i < n; i++)
		if (tnd_bridge_transcode(calls[i].br, &a, &b, NULL, 0))
			exit(1);
	after = mallinfo2().uordblks;
	for (unsigned i = 0; i < n; i++) {
		struct call *c = &calls[i];

		tnd_bridge_rtp_remote(c->br, 0, "127.0.0.1", c->a.port, c->a.port);
		tnd_bridge_rtp_remote(c->br, 1, "127.0.0.1", c->b.port, c->b.port);
		c->a.to = tnd_bridge_port(c->br, 0);
		c->b.to = tnd_bridge_port(c->br, 1);
		c->opus_pt = 111;
	}
	n_calls = n;
	spin(200);
	return (double)(after - before) / n;
}

static void close_calls(void)
{
	for (unsigned i = 0; i < n_calls; i++) {
		tnd_bridge_close(calls[i].br);
		calls[i].br = tnd_obj_put(calls[i].br);
		close(calls[i].a.fd);
		close(calls[i].b.fd);
	}
	n_calls = 0;
	spin(500);
}

/* Packets per second per phone that came back in the last run. */
static double rx_rate(unsigned n, double wall_s)
{
	unsigned long rx = 0;

	for (unsigned i = 0; i < n; i++)
		rx += calls[i].a.rx + calls[i].b.rx;
	return (double)rx / (2.0 * n * wall_s);
}

/* rtpengine's CPU share carrying the same n calls for secs seconds. */
static double run_rtpe(unsigned n, unsigned secs, int pid, double *rx)
{
	int64_t c0, c1, w0, w1;
	GThread *t;

	for (unsigned i = 0; i < n; i++) {
		struct call *c = &calls[i];

		memset(c, 0, sizeof(*c));
		if (phone_open(&c->a) || phone_open(&c->b) ||
		    tnd_xb_ng_call(i, c->a.port, c->b.port, &c->a.to, &c->b.to, &c->opus_pt))
			exit(1);
	}
	n_calls = n;
	gen_stop = 0;
	c0 = tnd_xb_pid_cpu_ns(pid);
	w0 = g_get_monotonic_time();
	t = g_thread_new("gen", generator, NULL);
	g_usleep((gulong)secs * 1000000);
	gen_stop = 1;
	g_thread_join(t);
	c1 = tnd_xb_pid_cpu_ns(pid);
	w1 = g_get_monotonic_time();
	*rx = rx_rate(n, (double)(w1 - w0) / 1e6);
	for (unsigned i = 0; i < n; i++) {
		tnd_xb_ng_delete(i);
		close(calls[i].a.fd);
		close(calls[i].b.fd);
	}
	n_calls = 0;
	return (double)(c1 - c0) / ((double)(w1 - w0) * 1000.0);
}

/* Worker CPU share with n calls for secs seconds. */
static double run_load(struct tnd_loop *worker, struct tnd_loop *sig, unsigned n, unsigned secs,
		       int complexity, double *heap, double *rx)
{
	int64_t p0, m0, w0, p1, m1;
	GThread *t;

	*heap = open_calls(worker, sig, n, complexity);
	gen_stop = 0;
	p0 = process_cpu_ns();
	m0 = thread_cpu_ns();
	w0 = g_get_monotonic_time();
	t = g_thread_new("gen", generator, NULL);
	spin((int)secs * 1000);
	gen_stop = 1;
	g_thread_join(t);
	p1 = process_cpu_ns();
	m1 = thread_cpu_ns();
	*rx = rx_rate(n, (double)(g_get_monotonic_time() - w0) / 1e6);
	close_calls();
	return (double)(p1 - p0 - gen_cpu_ns - (m1 - m0)) /
	       ((double)(g_get_monotonic_time() - w0) * 1000.0);
}

/* ns for one call's 20 ms of codec work alone, on the very packets the
 * calls carry: PCMU decode + Opus encode (8 kHz) one way, Opus decode
 * (8 kHz) + PCMU encode the other. */
static double ceiling_ns(int complexity)
{
	struct tnd_codec_params po = { .rate = 8000, .complexity = complexity,
				       .complexity_set = true };
	struct tnd_codec_params pu = { 0 };
	struct tnd_codec_enc *oe, *ue;
	struct tnd_codec_dec *od, *ud;
	int16_t pcm[960];
	uint8_t pkt[400];
	size_t len, got;
	double best = 1e18;

	if (tnd_codec_enc_alloc(&oe, tnd_codec_get(TND_CODEC_OPUS), &po) ||
	    tnd_codec_dec_alloc(&od, tnd_codec_get(TND_CODEC_OPUS), &po) ||
	    tnd_codec_enc_alloc(&ue, tnd_codec_get(TND_CODEC_PCMU), &pu) ||
	    tnd_codec_dec_alloc(&ud, tnd_codec_get(TND_CODEC_PCMU), &pu))
		exit(1);
	for (int rep = 0; rep < 3; rep++) {
		int64_t t0 = thread_cpu_ns();

		for (size_t k = 0; k < 1000; k++) {
			tnd_codec_decode(ud, pcmu_ring[k % RING], 160, pcm, 960, &got);
			tnd_codec_encode(oe, pcm, 160, pkt, sizeof(pkt), &len);
			tnd_codec_decode(od, opus_ring[k % RING], opus_len[k % RING], pcm, 960, &got);
			tnd_codec_encode(ue, pcm, 160, pkt, sizeof(pkt), &len);
		}
		if ((double)(thread_cpu_ns() - t0) / 1000 < best)
			best = (double)(thread_cpu_ns() - t0) / 1000;
	}
	tnd_codec_enc_free(oe);
	tnd_codec_dec_free(od);
	tnd_codec_enc_free(ue);
	tnd_codec_dec_free(ud);
	return best;
}

/* ms from the first tone packet into leg A to the first loud Opus packet
 * out of leg B, one call, zero jitter. */
static double added_delay_ms(struct tnd_loop *worker, struct tnd_loop *sig)
{
	struct tnd_codec_params po = { .rate = 8000 };
	struct tnd_codec_enc *ue;
	struct tnd_codec_dec *od;
	struct tnd_codec_params pu = { 0 };
	double heap, result = -1;
	int64_t next, t_tone = 0;
	struct call *c = &calls[0];
	uint8_t pl[160], buf[2048];
	int16_t pcm[160], out[960];

	(void)heap;
	if (tnd_codec_enc_alloc(&ue, tnd_codec_get(TND_CODEC_PCMU), &pu) ||
	    tnd_codec_dec_alloc(&od, tnd_codec_get(TND_CODEC_OPUS), &po))
		exit(1);
	heap = open_calls(worker, sig, 1, 5);
	next = g_get_monotonic_time();
	for (unsigned k = 0; k < 150 && result < 0; k++) {
		size_t len;
		ssize_t n;

		/* 1 s of silence (the buffer settles), then the tone */
		if (k >= 50) {
			tone(pcm, 160, 8000, 1000, 8000, k * 160);
			if (!t_tone)
				t_tone = g_get_monotonic_time();
		} else {
			memset(pcm, 0, sizeof(pcm));
		}
		tnd_codec_encode(ue, pcm, 160, pl, sizeof(pl), &len);
		phone_send(&c->a, tnd_bridge_port(c->br, 0), 0, pl, len, 160);
		next += 20000;
		while (g_get_monotonic_time() < next && result < 0) {
			struct tnd_rtp_hdr h;
			size_t got = 0;
			double e = 0;

			while (g_main_context_iteration(NULL, FALSE))
				;
			n = recv(c->b.fd, buf, sizeof(buf), 0);
			if (n <= 0 || tnd_rtp_parse(buf, (size_t)n, &h) || h.pt != 111) {
				g_usleep(200);
				continue;
			}
			if (tnd_codec_decode(od, buf + h.payload_off, h.payload_len, out, 960, &got))
				continue;
			for (size_t i = 0; i < got; i++)
				e += (double)out[i] * out[i];
			if (t_tone && got && sqrt(e / got) > 1000)
				result = (double)(g_get_monotonic_time() - t_tone) / 1000.0;
		}
	}
	close_calls();
	tnd_codec_enc_free(ue);
	tnd_codec_dec_free(od);
	return result;
}

static void prepare_rings(void)
{
	struct tnd_codec_params po = { .rate = 48000, .complexity = 5, .complexity_set = true };
	struct tnd_codec_params pu = { 0 };
	struct tnd_codec_enc *oe, *ue;
	int16_t pcm[960];
	size_t len;

	if (tnd_codec_enc_alloc(&oe, tnd_codec_get(TND_CODEC_OPUS), &po) ||
	    tnd_codec_enc_alloc(&ue, tnd_codec_get(TND_CODEC_PCMU), &pu))
		exit(1);
	for (unsigned k = 0; k < RING; k++) {
		tone(pcm, 960, 48000, 440, 8000, k * 960);
		tnd_codec_encode(oe, pcm, 960, opus_ring[k], sizeof(opus_ring[k]), &opus_len[k]);
		tone(pcm, 160, 8000, 1000, 8000, k * 160);
		tnd_codec_encode(ue, pcm, 160, pcmu_ring[k], sizeof(pcmu_ring[k]), &len);
	}
	tnd_codec_enc_free(oe);
	tnd_codec_enc_free(ue);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 40;
	unsigned secs = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
	struct tnd_loop *worker, *sig;
	double load, heap, per_core, ceil, delay, rx, ours10 = 0;
	const char *ng = getenv("XB_NG_PORT"), *rpid = getenv("XB_RTPE_PID");

	if (!n || n > MAX_CALLS || !secs || tnd_webrtc_init() ||
	    tnd_loop_alloc(&worker, "media0", 1) || tnd_loop_thread_start(worker) ||
	    tnd_loop_alloc(&sig, "signal", 0))
		return 1;
	prepare_rings();
	printf("# %u transcoded Opus <-> PCMU calls (20 ms, Opus at 8 kHz) on one worker, "
	       "%u s each\n", n, secs);
	{
		double la[1] = { 0 };

		if (getloadavg(la, 1) == 1)
			printf("# load average at start: %.1f\n", la[0]);
	}
	printf("| complexity | worker CPU | calls per core | ceiling (enc+dec alone) | ratio | "
	       "heap per call | packets back per phone per s |\n"
	       "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (int cx = 10; cx >= 5; cx -= 5) {
		load = run_load(worker, sig, n, secs, cx, &heap, &rx);
		per_core = n / load;
		ceil = 20e6 / ceiling_ns(cx);
		if (cx == 10)
			ours10 = per_core;
		printf("| %d | %.1f %% | %.0f | %.0f | %.2f | %.1f KiB | %.1f |\n", cx, load * 100,
		       per_core, ceil, per_core / ceil, heap / 1024, rx);
		fflush(stdout);
	}
	if (ng && rpid) {
		if (tnd_xb_ng_open((uint16_t)atoi(ng)))
			return 1;
		load = run_rtpe(n, secs, atoi(rpid), &rx);
		per_core = n / load;
		ceil = 20e6 / ceiling_ns(10);
		printf("# rtpengine, the same %u calls (its libopus encoder at its default, "
		       "Opus at 48 kHz)\n", n);
		printf("| rtpengine | %.1f %% (process) | %.0f | %.0f | %.2f | - | %.1f |\n",
		       load * 100, per_core, ceil, per_core / ceil, rx);
		printf("# Tandem (complexity 10) / rtpengine calls per core: %.2f\n",
		       ours10 / per_core);
	}
	delay = added_delay_ms(worker, sig);
	printf("# added delay at zero jitter, PCMU in -> Opus out (first loud packet after the "
	       "first tone packet): %.1f ms\n", delay);
	tnd_loop_free(worker);
	tnd_loop_free(sig);
	tnd_webrtc_deinit();
	return 0;
}
