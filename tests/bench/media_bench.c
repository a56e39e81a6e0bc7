/* media-bench: main, options and the ramp (media_bench.h has the picture).
 *
 * For each step of the ramp (a number of calls) the driver sets up the
 * calls it lacks, `--concurrency` at a time, with the earlier calls' media
 * still flowing; it lets the load settle for `--warmup` seconds, measures
 * for `--seconds`, waits half a second for packets in flight, and prints
 * one STEP line. A window in which other processes used more than
 * `--max-other-cpu` percent of the two CPUs is measured again (`--retries`):
 * on a shared machine it says nothing about the relay. The first step over
 * a threshold (loss, jitter p99, failed set-ups, calls the relay dropped)
 * does not end the ramp: `--past-steps` more steps (1) show whether the
 * relay degrades gradually or collapses. The ramp stops then, with the
 * driver itself saturated, or past `--max-seconds`, and prints a RESULT
 * line. Every step gives the relay's
 * CPU share (utime + stime of --peer-pid over the window) and its resident
 * memory (VmRSS) above the level before the first call. `--setup-only 1`
 * sets up the first step's calls with no media at all and stops: the set-up
 * rate. MEDIA_BENCH_LOG sets the modules' log levels (default "error");
 * MB_SLOW=MS prints the milestones of every set-up slower than MS to
 * stderr. Exit status: 0, 1 when the run could not start, 2 on bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gateway/base/log.h"
#include "gateway/base/obj.h"
#include "tests/bench/media_bench.h"

#define DRAIN_MS 500
#define SETUP_TIMEOUT_US 15000000

/* CPU and memory at one moment. */
struct sample {
	int64_t wall_us;
	double self_cpu_s;       /* this driver */
	double peer_cpu_s;       /* the relay, every thread */
	long peer_rss_kib;
	long self_rss_kib;
	double busy_s[2];        /* CPU 0 and 1, every process: others' load shows here */
	uint64_t iterations;     /* of the driver's main loop */
	uint64_t rx_drops;       /* the phones' socket's, --fast 1 */
};

static struct tnd_mb *g_mb;   /* the one bench; for the signal handler only */
static struct sample s_base, s_setup0, s_win0, s_win1;
static int64_t t_step0;
static unsigned step_first_idx, step_failed0;
static struct {
	unsigned calls;
	double peer_cpu;
	long rss_kib;
} last_ok;
/* the first step over a limit, and the steps run past it */
static struct {
	unsigned calls;
	unsigned past;
	char limit[400];
} over;

/* ------------------------------------------------------------ /proc */

static double peer_cpu_s(int pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* after "comm) ": state is field 3, utime 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Busy (non-idle, non-iowait) seconds of CPUs 0 and 1 from /proc/stat. */
static void cpu_busy(double busy[2])
{
	unsigned long long v[8];
	char line[256];
	FILE *f = fopen("/proc/stat", "r");
	int cpu;

	busy[0] = busy[1] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 9 || cpu < 0 ||
		    cpu > 1)
			continue;
		/* user nice system idle iowait irq softirq steal */
		busy[cpu] = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
			    (double)sysconf(_SC_CLK_TCK);
	}
	fclose(f);
}

static void sample(const struct tnd_mb *mb, struct sample *s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	s->wall_us = g_get_monotonic_time();
	s->self_cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	s->peer_cpu_s = mb->o.peer_pid ? peer_cpu_s(mb->o.peer_pid) : 0;
	s->peer_rss_kib = mb->o.peer_pid ? rss_kib(mb->o.peer_pid) : 0;
	/* --target loop: the relay is our echo thread, on the other CPU */
	if (mb->o.target == TND_MB_LOOP) {
		s->peer_cpu_s = tnd_mb_echo_cpu_s();
		s->self_cpu_s -= s->peer_cpu_s;
	}
	s->rx_drops = mb->o.fast ? tnd_mb_fast_rx_drops() : 0;
	s->self_rss_kib = rss_kib(getpid());
	s->iterations = tnd_mb_loop_iterations();
	cpu_busy(s->busy_s);
}

static double pct(double cpu0, double cpu1, const struct sample *a, const struct sample *b)
{
	double wall = (double)(b->wall_us - a->wall_us) / 1e6;

	return wall > 0 ? 100 * (cpu1 - cpu0) / wall : 0;
}

/* ------------------------------------------------------------ the ramp */

static void step_begin(struct tnd_mb *mb);

static void finish(struct tnd_mb *mb, const char *limit)
{
	const struct tnd_mb_opts *o = &mb->o;

	if (mb->stopping)
		return;
	mb->stopping = true;
	printf("RESULT target=%s max_calls_ok=%u limit=\"%s\" peer_cpu_pct_at_max=%.0f "
	       "per_call_kib_at_max=%.1f first_over_calls=%u steps_past=%u", o->label,
	       last_ok.calls, limit, last_ok.peer_cpu,
	       last_ok.calls ? (double)last_ok.rss_kib / last_ok.calls : 0, over.calls, over.past);
	/* linear in calls: a guess, and a generous one for a relay whose cost
	 * per call grows with the number of calls */
	if (last_ok.calls && last_ok.peer_cpu > 1)
		printf(" extrapolated_calls_per_core=%.0f",
		       last_ok.calls * 100.0 / last_ok.peer_cpu);
	printf("\n");
	fflush(stdout);
	tnd_loop_quit(mb->loop);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static gboolean on_warm(gpointer data);

/* One STEP line: the window's results and what each side used. */
static void print_step(struct tnd_mb *mb, const struct tnd_mb_tally *t, double drv, double peer,
		       const double loss[TND_MB_NDIR], const char *verdict)
{
	double secs = (double)(s_win1.wall_us - s_win0.wall_us) / 1e6;
	double pkts = (double)(t->recv[TND_MB_B2P] + t->recv[TND_MB_P2B]);
	unsigned taken = 0;
	static const char *const dn[TND_MB_NDIR] = { "b2p", "p2b" };
	long rss = s_win1.peer_rss_kib - s_base.peer_rss_kib;
	double busy0, busy1, other;

	for (unsigned i = 0; i < mb->n_calls; i++)
		taken += mb->calls[i].taken;
	printf("STEP target=%s calls=%u verdict=%s up=%u failed=%u dropped=%u", mb->o.label,
	       mb->o.steps[mb->step], verdict, mb->n_up, mb->n_failed - step_failed0,
	       mb->n_dropped);
	for (int d = 0; d < TND_MB_NDIR; d++) {
		uint64_t j99 = tnd_mb_hist_pct(&mb->jit[d], 99);

		printf(" %s_sent=%" PRIu64 " %s_loss_pct=%.4f %s_jit_mean_ms=%.3f "
		       "%s_jit_p99_ms=%.3f %s_jit_max_ms=%.3f %s_lat_p50_ms=%.3f "
		       "%s_lat_p99_ms=%.3f %s_lat_max_ms=%.3f %s_worst_loss=%.2f%%@%u "
		       "%s_worst_jit_ms=%.3f@%u", dn[d], t->sent[d], dn[d], loss[d], dn[d],
		       t->mean_jitter_us[d] / 1000, dn[d], j99 / 1000.0, dn[d],
		       mb->jit[d].max_us / 1000.0, dn[d],
		       tnd_mb_hist_pct(&mb->lat[d], 50) / 1000.0, dn[d],
		       tnd_mb_hist_pct(&mb->lat[d], 99) / 1000.0, dn[d],
		       mb->lat[d].max_us / 1000.0, dn[d], t->worst_loss_pct[d],
		       t->worst_loss_call[d], dn[d], t->worst_jitter_us[d] / 1000,
		       t->worst_jitter_call[d]);
		if (mb->send_err[d])
			printf(" %s_send_err=%" PRIu64, dn[d], mb->send_err[d]);
	}
	busy0 = pct(s_win0.busy_s[0], s_win1.busy_s[0], &s_win0, &s_win1);
	busy1 = pct(s_win0.busy_s[1], s_win1.busy_s[1], &s_win0, &s_win1);
	/* what neither side used: others' processes, and the softirq share
	 * of loopback delivery (a few percent) */
	other = busy0 + busy1 - drv - peer;
	/* CPU per relayed packet: what the relay spent on each packet that made
	 * it through, and what the driver spent sending and receiving it */
	printf(" relayed_pkts_per_s=%.0f peer_us_per_pkt=%.2f driver_us_per_pkt=%.2f",
	       secs > 0 ? pkts / secs : 0, pkts > 0 ? peer / 100 * secs / pkts * 1e6 : 0,
	       pkts > 0 ? drv / 100 * secs / pkts * 1e6 : 0);
	if (mb->o.fast)
		printf(" fast_calls=%u rx_decrypted=%" PRIu64 " rx_by_seq=%" PRIu64
		       " rx_unmatched=%" PRIu64 " rx_auth_fail=%" PRIu64 " rx_remap=%" PRIu64
		       " driver_rx_drops=%" PRIu64, taken, mb->rx_decrypted, mb->rx_by_seq,
		       mb->rx_unmatched, mb->rx_auth_fail, mb->rx_remap,
		       (uint64_t)(uint32_t)(s_win1.rx_drops - s_win0.rx_drops));
	printf(" driver_loops_per_s=%.0f send_late_p99_ms=%.3f driver_cpu_pct=%.0f "
	       "peer_cpu_pct=%.0f cpu0_busy_pct=%.0f cpu1_busy_pct=%.0f other_cpu_pct=%.0f "
	       "peer_rss_kib=%ld per_call_kib=%.1f driver_per_call_kib=%.1f\n",
	       pct((double)s_win0.iterations, (double)s_win1.iterations, &s_win0, &s_win1) / 100,
	       tnd_mb_hist_pct(&mb->late, 99) / 1000.0, drv, peer, busy0, busy1,
	       other < 0 ? 0 : other, s_win1.peer_rss_kib, mb->n_up ? (double)rss / mb->n_up : 0,
	       mb->n_up ? (double)(s_win1.self_rss_kib - s_base.self_rss_kib) / mb->n_up : 0);
	fflush(stdout);
}

/* Why the window is over a limit, in `limit` ("" when it is not). */
static void over_limit(struct tnd_mb *mb, const double loss[TND_MB_NDIR], double jit99,
		       char *limit, size_t size)
{
	const struct tnd_mb_opts *o = &mb->o;
	unsigned target = o->steps[mb->step], failed = mb->n_failed - step_failed0;

	*limit = '\0';
	if (loss[0] > o->max_loss_pct || loss[1] > o->max_loss_pct)
		snprintf(limit, size, "loss over %.2f%% at %u calls", o->max_loss_pct, target);
	else if (jit99 > o->max_jitter_ms)
		snprintf(limit, size, "jitter p99 over %.1f ms at %u calls", o->max_jitter_ms,
			 target);
	else if (failed * 200 > target - step_first_idx)
		snprintf(limit, size, "over 0.5%% of set-ups failed at %u calls (%.200s)", target,
			 mb->why_failed);
	else if (mb->n_dropped)
		snprintf(limit, size, "the relay ended calls at %u calls", target);
}

/* The window is over: print it, then stop or go on to the next step. The
 * driver is taken as the possible cause of a limit when its own sends ran
 * late by 60% of the jitter limit (1-2 ms is its floor: GLib's timeouts
 * have millisecond resolution): its receive side then lags as much, and it,
 * not the relay, may have delayed the packets. A driver whose core is full
 * but whose sends are on time is noted, not blamed. The first step over a
 * limit is followed by --past-steps more, to show how the relay degrades;
 * the RESULT keeps the first one's reason. */
static void report(struct tnd_mb *mb)
{
	const struct tnd_mb_opts *o = &mb->o;
	struct tnd_mb_tally t;
	double loss[TND_MB_NDIR], drv, peer, late, jit99, other;
	unsigned target = o->steps[mb->step];
	static unsigned retried;
	char limit[400];
	const char *verdict;
	bool drv_late;

	tnd_mb_media_tally(mb, &t);
	drv = pct(s_win0.self_cpu_s, s_win1.self_cpu_s, &s_win0, &s_win1);
	peer = pct(s_win0.peer_cpu_s, s_win1.peer_cpu_s, &s_win0, &s_win1);
	late = tnd_mb_hist_pct(&mb->late, 99) / 1000.0;
	other = pct(s_win0.busy_s[0] + s_win0.busy_s[1], s_win1.busy_s[0] + s_win1.busy_s[1],
		    &s_win0, &s_win1) - drv - peer;
	/* on a shared machine: a window others took CPU from says nothing
	 * about the relay; measure it again */
	if (other > o->max_other_cpu && retried < o->retries) {
		retried++;
		printf("# %u calls: other processes used %.0f%% of the CPUs, measuring again\n",
		       target, other);
		fflush(stdout);
		g_timeout_add(1000, on_warm, mb);
		return;
	}
	retried = 0;
	for (int d = 0; d < TND_MB_NDIR; d++)
		loss[d] = t.sent[d] ? 100.0 * (double)(t.sent[d] > t.recv[d] ?
			  t.sent[d] - t.recv[d] : 0) / (double)t.sent[d] : 0;
	jit99 = 0;
	for (int d = 0; d < TND_MB_NDIR; d++)
		if (tnd_mb_hist_pct(&mb->jit[d], 99) / 1000.0 > jit99)
			jit99 = tnd_mb_hist_pct(&mb->jit[d], 99) / 1000.0;
	over_limit(mb, loss, jit99, limit, sizeof(limit));
	/* late sends alone do not blame the driver: packets carry the time they
	 * really left and arrivals are the kernel's stamps, so a late tick
	 * shifts both ends alike; only a driver that is also short of CPU can
	 * have held packets back on its receive side */
	drv_late = late > o->max_jitter_ms * 0.6 && drv > o->max_driver_cpu * 0.7;
	verdict = over.calls ? "past" : *limit ? "over" : "ok";
	print_step(mb, &t, drv, peer, loss, verdict);

	if (over.calls) {
		over.past++;
	} else if (*limit) {
		over.calls = target;
		snprintf(over.limit, sizeof(over.limit), "%s; relay CPU %.0f%%, driver CPU %.0f%%, "
			 "the driver's sends late by %.1f ms at p99: %s", limit, peer, drv, late,
			 drv_late ? "the driver may be the cause" : drv > o->max_driver_cpu ?
			 "the relay's limit (the driver's core was full too, but it kept time)" :
			 "the relay's limit");
	} else {
		last_ok.calls = mb->n_up;
		last_ok.peer_cpu = peer;
		last_ok.rss_kib = s_win1.peer_rss_kib - s_base.peer_rss_kib;
		if (drv_late) {
			snprintf(limit, sizeof(limit), "driver saturated at %u calls (CPU %.0f%%, "
				 "its sends late by %.1f ms at p99): the relay was not the limit",
				 target, drv, late);
			finish(mb, limit);
			return;
		}
	}
	if (over.calls && over.past >= o->past_steps) {
		finish(mb, over.limit);
		return;
	}
	if (++mb->step == o->n_steps) {
		finish(mb, over.calls ? over.limit : "end of the ramp: no threshold reached");
		return;
	}
	step_begin(mb);
}

static gboolean on_drained(gpointer data)
{
	report(data);
	return G_SOURCE_REMOVE;
}

static gboolean on_window_end(gpointer data)
{
	struct tnd_mb *mb = data;

	sample(mb, &s_win1);
	g_timeout_add(DRAIN_MS, on_drained, mb);
	return G_SOURCE_REMOVE;
}

static gboolean on_warm(gpointer data)
{
	struct tnd_mb *mb = data;

	sample(mb, &s_win0);
	tnd_mb_media_window(mb, mb->o.measure_s);
	g_timeout_add((guint)(mb->o.measure_s * 1000), on_window_end, mb);
	return G_SOURCE_REMOVE;
}

/* Every call of the step has settled: print how the set-ups went. */
static void setup_done(struct tnd_mb *mb)
{
	unsigned n = mb->n_calls - step_first_idx, ok = 0;
	double secs = (double)(g_get_monotonic_time() - t_step0) / 1e6;
	uint32_t *v = mb->setup_us;
	const char *profile = "none";
	struct sample now;
	double drv, peer, other;

	for (unsigned i = step_first_idx; i < mb->n_calls; i++) {
		struct tnd_mb_call *c = &mb->calls[i];
		struct tnd_pc_stats st;

		if (!c->t_up)
			continue;
		v[ok++] = (uint32_t)(c->t_up - c->t_start);
		if (c->pc && ok == 1) {
			tnd_pc_stats(c->pc, &st);
			profile = st.srtp_profile;
		}
	}
	qsort(v, ok, sizeof(*v), cmp_u32);
	sample(mb, &now);
	drv = pct(s_setup0.self_cpu_s, now.self_cpu_s, &s_setup0, &now);
	peer = pct(s_setup0.peer_cpu_s, now.peer_cpu_s, &s_setup0, &now);
	other = pct(s_setup0.busy_s[0] + s_setup0.busy_s[1], now.busy_s[0] + now.busy_s[1],
		    &s_setup0, &now) - drv - peer;
	printf("SETUP target=%s calls=%u new=%u ok=%u failed=%u seconds=%.2f setups_per_s=%.0f "
	       "media_running=%s setup_p50_ms=%.1f setup_p99_ms=%.1f srtp=%s driver_cpu_pct=%.0f "
	       "peer_cpu_pct=%.0f other_cpu_pct=%.0f\n", mb->o.label, mb->n_calls, n, ok, n - ok,
	       secs, secs > 0 ? ok / secs : 0, mb->o.setup_only ? "no" : "yes",
	       ok ? v[(ok - 1) / 2] / 1000.0 : 0, ok ? v[(size_t)((ok - 1) * 0.99)] / 1000.0 : 0,
	       profile, drv, peer, other < 0 ? 0 : other);
	if (n - ok)
		printf("# first set-up failure: %s\n", mb->why_failed);
	fflush(stdout);
	if (mb->o.setup_only) {
		last_ok.calls = ok;
		finish(mb, "set-up only");
		return;
	}
	g_timeout_add((guint)(mb->o.warm_s * 1000), on_warm, mb);
}

static void launch(struct tnd_mb *mb)
{
	unsigned target = mb->o.steps[mb->step];

	mb->launching = true;
	while (!mb->stopping && mb->n_inflight < mb->o.concurrency && mb->n_calls < target) {
		struct tnd_mb_call *c = &mb->calls[mb->n_calls];
		int err;

		c->mb = mb;
		c->idx = mb->n_calls++;
		mb->n_inflight++;
		err = tnd_mb_call_start(c);
		if (err) {
			char why[96];

			snprintf(why, sizeof(why), "cannot start: %s", strerror(err));
			tnd_mb_call_fail(c, why);
		}
	}
	mb->launching = false;
	if (!mb->stopping && mb->n_calls == target && !mb->n_inflight)
		setup_done(mb);
}

void tnd_mb_call_settled(struct tnd_mb_call *c)
{
	struct tnd_mb *mb = c->mb;

	mb->n_inflight--;
	if (c->state == TND_MB_C_UP)
		mb->n_up++;
	else
		mb->n_failed++;
	if (!mb->launching)
		launch(mb);
}

static void step_begin(struct tnd_mb *mb)
{
	double elapsed = (double)(g_get_monotonic_time() - mb->t_run0) / 1e6;

	if (elapsed > mb->o.max_seconds) {
		finish(mb, over.calls ? over.limit : "time budget (--max-seconds) spent");
		return;
	}
	t_step0 = g_get_monotonic_time();
	sample(mb, &s_setup0);
	step_first_idx = mb->n_calls;
	step_failed0 = mb->n_failed;
	launch(mb);
}

/* Set-ups that hang (no answer, ICE never completing) fail after 15 s. */
static gboolean on_watchdog(gpointer data)
{
	struct tnd_mb *mb = data;
	int64_t now = g_get_monotonic_time();

	for (unsigned i = step_first_idx; i < mb->n_calls; i++) {
		struct tnd_mb_call *c = &mb->calls[i];

		if (c->state == TND_MB_C_SETUP && now - c->t_start > SETUP_TIMEOUT_US)
			tnd_mb_call_fail(c, c->pc_up ? "set-up timed out (phone side)" :
					 c->phone_up ? "set-up timed out (ICE/DTLS)" :
					 "set-up timed out");
	}
	return G_SOURCE_CONTINUE;
}

static void start_ramp(struct tnd_mb *mb)
{
	sample(mb, &s_base);
	printf("# %s: relay pid %d, RSS before the first call %ld KiB\n", mb->o.label,
	       mb->o.peer_pid, s_base.peer_rss_kib);
	fflush(stdout);
	/* a set-up-only run measures set-ups alone: no media at all */
	if (!mb->o.setup_only && tnd_mb_media_start(mb)) {
		mb->rc = 1;
		finish(mb, "cannot start the pacing timer");
		return;
	}
	g_timeout_add(500, on_watchdog, mb);
	step_begin(mb);
}

static gboolean start_idle(gpointer data)
{
	start_ramp(data);
	return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------ signalling */

static void on_ws_msg(void *arg, json_t *msg)
{
	struct tnd_mb *mb = arg;
	json_t *id = json_object_get(msg, "id");

	if (!id) {
		const char *method = json_string_value(json_object_get(msg, "method"));

		if (method)
			tnd_mb_call_notify(mb, method, json_object_get(msg, "params"));
		return;
	}
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return;   /* hang-ups of failed calls */
	if (json_integer_value(id) == 0) {
		if (!json_object_get(msg, "result")) {
			fprintf(stderr, "media-bench: login refused\n");
			mb->rc = 1;
			finish(mb, "login refused");
			return;
		}
		start_ramp(mb);
		return;
	}
	if ((json_int_t)mb->n_calls >= json_integer_value(id))
		tnd_mb_call_rpc_result(&mb->calls[json_integer_value(id) - 1],
				       json_object_get(msg, "result"),
				       json_object_get(msg, "error"));
}

static void on_ws_gone(void *arg, const char *why)
{
	struct tnd_mb *mb = arg;

	fprintf(stderr, "media-bench: WebSocket lost: %s\n", why);
	mb->rc = 1;
	finish(mb, "WebSocket to the gateway lost");
}

static int open_tandem(struct tnd_mb *mb)
{
	int err;

	err = tnd_mb_phone_start(mb, mb->o.steps[mb->o.n_steps - 1]);
	if (err) {
		fprintf(stderr, "media-bench: SIP port %d: %s\n", mb->o.sip_port, strerror(err));
		return err;
	}
	/* the runner does not wait for the gateway: retry while it starts */
	for (int i = 0; i < 100; i++) {
		err = tnd_mb_ws_open(&mb->ws, mb->o.ws_port, on_ws_msg, on_ws_gone, mb);
		if (err != ECONNREFUSED)
			break;
		g_usleep(100000);
	}
	if (err) {
		fprintf(stderr, "media-bench: WebSocket: %s\n", strerror(err));
		return err;
	}
	return tnd_mb_ws_request(mb->ws, 0, "login", json_pack("{s:s}", "user", "bench"));
}

/* ------------------------------------------------------------ main */

static int usage(void)
{
	fprintf(stderr,
		"usage: media-bench --target tandem|rtpengine [--ws-port P --sip-port P]\n"
		"       [--ng-port P] [--peer-pid PID] [--steps 500,1000,...] [--concurrency N]\n"
		"       [--warmup S] [--seconds S] [--max-loss-pct X] [--max-jitter-ms X]\n"
		"       [--max-driver-cpu PCT] [--max-seconds S] [--max-other-cpu PCT]\n"
		"       [--retries N] [--pc-ports LO-HI]\n"
		"       [--rtp-ports LO-HI] [--glib-block 0|1] [--setup-only 0|1]\n"
		"       [--fast 0|1] [--decrypt-every N] [--past-steps N]\n"
		"   or: media-bench --target loop [--steps ...] ...: no relay, the driver's ceiling\n");
	return 2;
}

static bool parse_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned a, b;

	if (sscanf(s, "%u-%u", &a, &b) != 2 || a < 1024 || b > 65535 || a + 16 > b)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

static bool parse_steps(struct tnd_mb_opts *o, const char *s)
{
	char *end;

	o->n_steps = 0;
	while (*s && o->n_steps < TND_MB_MAX_STEPS) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || !v || v > 20000 ||
		    (o->n_steps && v <= o->steps[o->n_steps - 1]))
			return false;
		o->steps[o->n_steps++] = (unsigned)v;
		s = end + (*end == ',');
		if (*end && *end != ',')
			return false;
	}
	return o->n_steps > 0 && !*s;
}

static int parse_args(int argc, char **argv, struct tnd_mb_opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x = v ? atof(v) : 0;

		if (!v)
			return usage();
		if (!strcmp(k, "--target") && !strcmp(v, "tandem"))
			o->target = TND_MB_TANDEM;
		else if (!strcmp(k, "--target") && !strcmp(v, "rtpengine"))
			o->target = TND_MB_RTPENGINE;
		else if (!strcmp(k, "--target") && !strcmp(v, "loop"))
			o->target = TND_MB_LOOP;
		else if (!strcmp(k, "--fast") && (!strcmp(v, "0") || !strcmp(v, "1")))
			o->fast = *v == '1';
		else if (!strcmp(k, "--decrypt-every") && x >= 1 && x <= 1000)
			o->decrypt_every = (unsigned)x;
		else if (!strcmp(k, "--past-steps") && x >= 0 && x <= 5)
			o->past_steps = (unsigned)x;
		else if (!strcmp(k, "--ws-port"))
			o->ws_port = atoi(v);
		else if (!strcmp(k, "--sip-port"))
			o->sip_port = atoi(v);
		else if (!strcmp(k, "--ng-port"))
			o->ng_port = atoi(v);
		else if (!strcmp(k, "--peer-pid"))
			o->peer_pid = atoi(v);
		else if (!strcmp(k, "--steps") && parse_steps(o, v))
			;
		else if (!strcmp(k, "--concurrency") && x >= 1 && x <= 1000)
			o->concurrency = (unsigned)x;
		else if (!strcmp(k, "--warmup") && x >= 0)
			o->warm_s = x;
		else if (!strcmp(k, "--seconds") && x > 0)
			o->measure_s = x;
		else if (!strcmp(k, "--max-loss-pct") && x >= 0)
			o->max_loss_pct = x;
		else if (!strcmp(k, "--max-jitter-ms") && x > 0)
			o->max_jitter_ms = x;
		else if (!strcmp(k, "--max-driver-cpu") && x > 0)
			o->max_driver_cpu = x;
		else if (!strcmp(k, "--max-seconds") && x > 0)
			o->max_seconds = x;
		else if (!strcmp(k, "--max-other-cpu") && x > 0)
			o->max_other_cpu = x;
		else if (!strcmp(k, "--retries") && x >= 0 && x <= 10)
			o->retries = (unsigned)x;
		else if (!strcmp(k, "--pc-ports") && parse_range(v, &o->pc_port_min,
								  &o->pc_port_max))
			;
		else if (!strcmp(k, "--rtp-ports") && parse_range(v, &o->rtp_port_min,
								   &o->rtp_port_max))
			;
		else if (!strcmp(k, "--glib-block") && (!strcmp(v, "0") || !strcmp(v, "1")))
			o->glib_block = *v == '1';
		else if (!strcmp(k, "--setup-only") && (!strcmp(v, "0") || !strcmp(v, "1")))
			o->setup_only = *v == '1';
		else
			return usage();
	}
	o->label = o->target == TND_MB_TANDEM ? "tandem" : o->target == TND_MB_LOOP ? "loop" :
		   "rtpengine";
	if (o->target == TND_MB_LOOP && (!o->fast || o->setup_only))
		return usage();
	if (o->target == TND_MB_TANDEM && (!o->ws_port || !o->sip_port))
		return usage();
	if (o->target == TND_MB_RTPENGINE && !o->ng_port)
		return usage();
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	if (g_mb)
		g_mb->stopping = true;
	_exit(1);
}

int main(int argc, char **argv)
{
	struct tnd_mb *mb = g_new0(struct tnd_mb, 1);
	struct tnd_mb_opts *o = &mb->o;
	unsigned max;
	int err;

	*o = (struct tnd_mb_opts){
		.target = -1, .steps = { 500, 1000, 1500, 2000 }, .n_steps = 4,
		.concurrency = 50, .warm_s = 2, .measure_s = 5, .max_loss_pct = 0.1,
		.max_jitter_ms = 5, .max_driver_cpu = 95, .max_seconds = 120,
		.max_other_cpu = 15, .retries = 3,
		.pc_port_min = 40000, .pc_port_max = 49999,
		.rtp_port_min = 50000, .rtp_port_max = 59999,
		.fast = true, .decrypt_every = 8, .past_steps = 1,
	};
	if (argc < 2 || parse_args(argc, argv, o))
		return usage();
	g_mb = mb;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	tnd_log_parse_levels(getenv("MEDIA_BENCH_LOG") ? getenv("MEDIA_BENCH_LOG") : "error",
			     false);
	max = o->steps[o->n_steps - 1];
	mb->calls = g_new0(struct tnd_mb_call, max);
	mb->setup_us = g_new0(uint32_t, max);
	mb->by_id = g_hash_table_new(g_str_hash, g_str_equal);
	mb->t_run0 = g_get_monotonic_time();
	if (tnd_webrtc_init() || tnd_loop_alloc(&mb->loop, "bench", 0) || tnd_mb_loop_tune(mb)) {
		fprintf(stderr, "media-bench: cannot initialise WebRTC\n");
		return 1;
	}
	/* before any offer: it holds the phones' port */
	err = o->fast ? tnd_mb_fast_start(mb, max) : 0;
	if (!err && o->target == TND_MB_LOOP)
		err = tnd_mb_echo_start(&mb->echo);
	if (err) {
		fprintf(stderr, "media-bench: cannot open the media sockets: %s\n", strerror(err));
		return 1;
	}
	printf("# media-bench %s: steps", o->label);
	for (unsigned i = 0; i < o->n_steps; i++)
		printf("%s%u", i ? "," : " ", o->steps[i]);
	printf("; %u set-ups in flight; %.0f s warm-up, %.0f s measured per step; limits: "
	       "loss %.2f%%, jitter p99 %.1f ms, driver CPU %.0f%%; %u step(s) past the first "
	       "over a limit; media path: %s\n", o->concurrency, o->warm_s, o->measure_s,
	       o->max_loss_pct, o->max_jitter_ms, o->max_driver_cpu, o->past_steps, !o->fast ?
	       "the pc and one rtpsock per call (--fast 0)" : "batched (--fast 1)");
	if (o->fast)
		printf("# browser packets: 1 in %u decrypted and checked, the others matched to "
		       "their send time by sequence number; arrival times are the kernel's\n",
		       o->decrypt_every);
	fflush(stdout);
	if (o->target == TND_MB_TANDEM) {
		err = open_tandem(mb);
	} else if (o->target == TND_MB_LOOP) {
		g_idle_add(start_idle, mb);
	} else {
		err = tnd_mb_ng_open(&mb->ng, o->ng_port, 10000);
		if (err)
			fprintf(stderr, "media-bench: rtpengine ng port %d: %s\n", o->ng_port,
				strerror(err));
		else
			g_idle_add(start_idle, mb);
	}
	if (err)
		return 1;
	tnd_loop_run(mb->loop);
	/* Thousands of live calls: tearing each down would cost more than the
	 * run, and the runner stops the relay next. The process just ends. */
	fflush(stdout);
	_exit(mb->rc);
}
