/* Call detail records (docs/operations.md): one JSON line per call, built
 * on the signalling thread from the call's snapshot and handed to a writer
 * thread through a bounded queue, so neither the signalling thread nor a
 * media worker ever waits on a disk or on syslog.
 *
 * The writer appends to [cdr] file (O_APPEND: each line is one write(2),
 * whole, even beside a rotating tool), and sends the same line to syslog
 * when asked. Durability: fdatasync after each batch, at most once a second
 * (a burst of call ends costs one sync), and before the writer stops; the
 * writer stops only after the queue is empty, so calls ended by SIGTERM are
 * on disk before the process exits. The MOS estimate is ITU-T G.107's
 * E-model in its usual simplified form (R0 - Is = 93.2, A = 0, Id from the
 * one-way delay, Ie-eff from loss with G.113 Appendix I's Ie and Bpl). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/stats.h"
#include "gateway/conf.h"

#define SYNC_EVERY_US G_USEC_PER_SEC

struct tnd_cdr {
	GMutex lock;
	GCond cond;
	GQueue lines;                /* LOCK: lock; owned char * */
	unsigned max;                /* LOCK: lock */
	char *path;                  /* LOCK: lock; owned, "" none */
	bool syslog;                 /* LOCK: lock */
	bool reopen, stop;           /* LOCK: lock */
	struct tnd_cdr_stats st;     /* LOCK: lock */
	GThread *thread;             /* owned: the writer */
};

/* ------------------------------------------------------------ MOS */

/* G.113 Appendix I: equipment impairment and packet-loss robustness. */
static const struct {
	const char *name;
	double ie, bpl;
} codec_ie[] = {
	/* G.711 with packet-loss concealment, as browsers and phones do */
	{ "PCMU", 0, 25.1 },
	{ "PCMA", 0, 25.1 },
	{ "G722", 0, 25.1 },
	{ "G729", 11, 19.0 },
	/* not in G.113; a wideband codec with in-band FEC does at least as well
	 * as G.711 with PLC, so it gets G.711's figures rather than a guess */
	{ "opus", 0, 25.1 },
};

double tnd_cdr_mos(double delay_ms, double loss_pct, const char *codec)
{
	double ie = 0, bpl = 25.1;
	size_t n = codec ? strcspn(codec, "/") : 0;

	for (size_t i = 0; i < G_N_ELEMENTS(codec_ie); i++) {
		if (n == strlen(codec_ie[i].name) &&
		    !g_ascii_strncasecmp(codec, codec_ie[i].name, n)) {
			ie = codec_ie[i].ie;
			bpl = codec_ie[i].bpl;
		}
	}
	/* the E-model itself is the metrics' (stats.h): one formula for both */
	return tnd_stats_mos(delay_ms, loss_pct / 100, ie, bpl);
}

/* ------------------------------------------------------------ the line */

/* ISO 8601 UTC with milliseconds, or JSON null for 0 (never happened). */
json_t *tnd_api_iso_time(int64_t us)
{
	char buf[40];
	time_t secs;
	struct tm tm;

	if (us <= 0)
		return json_null();
	secs = (time_t)(us / G_USEC_PER_SEC);
	if (!gmtime_r(&secs, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
		 (int)(us % G_USEC_PER_SEC / 1000));
	return json_string(buf);
}

static double round3(double v)
{
	return (double)(int64_t)(v * 1000 + (v < 0 ? -0.5 : 0.5)) / 1000;
}

static double leg_loss_pct(const struct tnd_call_leg_fig *l)
{
	double all = (double)l->packets_in + (double)l->lost;

	return all > 0 ? 100.0 * (double)l->lost / all : 0;
}

/* One-way delay for the E-model: half the round trip, a jitter buffer of
 * twice the jitter, and one 20 ms packet. */
static double leg_delay_ms(const struct tnd_call_leg_fig *l)
{
	return (l->rtt_ms > 0 ? l->rtt_ms / 2.0 : 0) + 2 * l->jitter_ms + 20;
}

static json_t *leg_json(const struct tnd_call_info *in, unsigned i)
{
	const struct tnd_call_leg_fig *l = &in->leg[i];
	const char *codec = i ? in->codec_sip : in->codec_webrtc;
	json_t *o = json_pack("{s:s, s:s}", "codec", codec, "media_mode", in->media_mode);

	if (!o || !in->has_media)
		return o;
	json_object_set_new(o, "packets_in", json_integer((json_int_t)l->packets_in));
	json_object_set_new(o, "packets_out", json_integer((json_int_t)l->packets_out));
	json_object_set_new(o, "bytes_in", json_integer((json_int_t)l->bytes_in));
	json_object_set_new(o, "lost", json_integer((json_int_t)l->lost));
	json_object_set_new(o, "loss_pct", json_real(round3(leg_loss_pct(l))));
	json_object_set_new(o, "jitter_ms", json_real(round3(l->jitter_ms)));
	json_object_set_new(o, "rtt_ms", l->rtt_ms >= 0 ? json_integer(l->rtt_ms) : json_null());
	json_object_set_new(o, "mos", l->packets_in ? json_real(round3(tnd_cdr_mos(
		leg_delay_ms(l), leg_loss_pct(l), codec))) : json_null());
	return o;
}

json_t *tnd_api_call_json(const struct tnd_call_info *in)
{
	int64_t end = in->end_us, answer = in->answer_us;
	json_t *o, *a, *b, *mos;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}",
		      "call", in->id, "sip_call_id", in->sip_call_id, "user", in->user,
		      "from", in->from, "to", in->to, "direction", in->direction,
		      "trunk", in->trunk, "state", in->state,
		      "start", tnd_api_iso_time(in->start_us),
		      "ringing", tnd_api_iso_time(in->ringing_us),
		      "answer", tnd_api_iso_time(in->answer_us),
		      "end", tnd_api_iso_time(in->end_us));
	if (!o)
		return NULL;
	/* billable seconds: answered to ended (so far, while up) */
	if (!end)
		end = g_get_real_time();
	json_object_set_new(o, "duration", json_real(answer ? round3((double)(end - answer) /
								  G_USEC_PER_SEC) : 0));
	json_object_set_new(o, "ended_by", json_string(in->ended_by));
	json_object_set_new(o, "code", json_integer(in->code));
	json_object_set_new(o, "reason", json_string(in->reason));
	a = leg_json(in, 0);
	b = leg_json(in, 1);
	/* the call's MOS: its worse direction */
	mos = json_null();
	if (json_is_real(json_object_get(a, "mos")) && json_is_real(json_object_get(b, "mos")))
		mos = json_copy(json_real_value(json_object_get(a, "mos")) <
				json_real_value(json_object_get(b, "mos")) ?
				json_object_get(a, "mos") : json_object_get(b, "mos"));
	else if (json_is_real(json_object_get(a, "mos")))
		mos = json_copy(json_object_get(a, "mos"));
	else if (json_is_real(json_object_get(b, "mos")))
		mos = json_copy(json_object_get(b, "mos"));
	json_object_set_new(o, "legs", json_pack("{s:o*, s:o*}", "browser", a, "sip", b));
	json_object_set_new(o, "mos", mos);
	return o;
}

char *tnd_cdr_line(const struct tnd_call_info *info)
{
	json_t *o = info ? tnd_api_call_json(info) : NULL;
	char *text, *line;
	size_t n;

	if (!o)
		return NULL;
	/* compact output escapes control characters: the line holds no newline */
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return NULL;
	n = strlen(text);
	line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

/* ------------------------------------------------------------ writer */

static int open_file(const char *path, int *fdp)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return errno;
	*fdp = fd;
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

struct wstate {
	int fd;
	char *path;                  /* owned: what fd is */
	bool syslog, dirty;
	gint64 synced_us;
};

/* Writer thread: one line to the file and syslog. 0 or an errno. */
static int put_line(struct wstate *w, const char *line)
{
	int err = 0;

	if (w->fd >= 0) {
		err = write_all(w->fd, line, strlen(line));
		w->dirty = true;
	}
	if (w->syslog)
		syslog(LOG_INFO, "%.*s", (int)strlen(line) - 1, line);
	return err;
}

static void sync_file(struct wstate *w, bool force)
{
	gint64 now = g_get_monotonic_time();

	if (w->fd < 0 || !w->dirty || (!force && now - w->synced_us < SYNC_EVERY_US))
		return;
	if (fdatasync(w->fd))
		TND_LOG_RL(TND_LOG_MAIN, ERROR, "CDR file %s: fdatasync: %s", w->path,
			   strerror(errno));
	w->dirty = false;
	w->synced_us = now;
}

/* Writer thread, with the lock held: take the new settings. */
static void reopen(struct tnd_cdr *c, struct wstate *w)
{
	int err;

	sync_file(w, true);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	g_free(w->path);
	w->path = g_strdup(c->path);
	w->syslog = c->syslog;
	c->reopen = false;
	if (*w->path && (err = open_file(w->path, &w->fd)))
		TND_LOG_ERR(TND_LOG_MAIN, "CDR file %s: %s", w->path, strerror(err));
}

static gpointer writer(gpointer data)
{
	struct tnd_cdr *c = data;
	struct wstate w = { .fd = -1, .path = g_strdup("") };
	unsigned long ok, bad;
	GQueue batch;
	char *line;

	g_mutex_lock(&c->lock);
	for (;;) {
		while (!c->lines.length && !c->stop && !c->reopen) {
			/* lines written but not synced: wake to sync them */
			if (!w.dirty) {
				g_cond_wait(&c->cond, &c->lock);
			} else if (!g_cond_wait_until(&c->cond, &c->lock, w.synced_us +
						      SYNC_EVERY_US)) {
				sync_file(&w, false);
			}
		}
		if (c->reopen)
			reopen(c, &w);
		if (!c->lines.length && c->stop)
			break;
		batch = c->lines;
		g_queue_init(&c->lines);
		g_mutex_unlock(&c->lock);
		ok = bad = 0;

		while ((line = g_queue_pop_head(&batch))) {
			int err = put_line(&w, line);

			if (err) {
				bad++;
				TND_LOG_RL(TND_LOG_MAIN, ERROR, "CDR lost: %s: %s", w.path,
					   strerror(err));
			} else {
				ok++;
			}
			free(line);
		}
		sync_file(&w, false);
		g_mutex_lock(&c->lock);
		c->st.written += ok;
		c->st.errors += bad;
	}
	g_mutex_unlock(&c->lock);
	sync_file(&w, true);
	if (w.fd >= 0)
		close(w.fd);
	g_free(w.path);
	return NULL;
}

static void take_conf(struct tnd_cdr *c, const struct tnd_conf *conf)
{
	g_free(c->path);
	c->path = g_strdup(conf->cdr_file);
	c->syslog = conf->cdr_syslog;
	c->max = (unsigned)conf->cdr_queue;
	c->reopen = true;
}

int tnd_cdr_alloc(struct tnd_cdr **cdrp, const struct tnd_conf *conf, char *msg,
		  size_t msglen)
{
	struct tnd_cdr *c;
	int fd = -1, err;

	if (!cdrp || !conf)
		return EINVAL;
	*cdrp = NULL;
	if (!*conf->cdr_file && !conf->cdr_syslog)
		return 0;
	/* a path the gateway cannot write stops start-up, not the first call */
	if (*conf->cdr_file && (err = open_file(conf->cdr_file, &fd))) {
		snprintf(msg, msglen, "[cdr] file %s: %s", conf->cdr_file, strerror(err));
		return err;
	}
	if (fd >= 0)
		close(fd);
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	g_mutex_init(&c->lock);
	g_cond_init(&c->cond);
	g_queue_init(&c->lines);
	take_conf(c, conf);
	openlog("tandem-cdr", LOG_PID | LOG_NDELAY, LOG_USER);
	c->thread = g_thread_new("cdr", writer, c);
	*cdrp = c;
	return 0;
}

void tnd_cdr_set_conf(struct tnd_cdr *cdr, const struct tnd_conf *conf)
{
	if (!cdr)
		return;
	g_mutex_lock(&cdr->lock);
	take_conf(cdr, conf);
	g_cond_signal(&cdr->cond);
	g_mutex_unlock(&cdr->lock);
}

void tnd_cdr_write(struct tnd_cdr *cdr, const struct tnd_call_info *info)
{
	char *line;
	bool full;

	if (!cdr)
		return;
	line = tnd_cdr_line(info);
	if (!line) {
		TND_LOG_ERR(TND_LOG_MAIN, "CDR of call %s lost: cannot encode it", info->id);
		return;
	}
	/* held only to link the line in: the writer never holds it over I/O */
	g_mutex_lock(&cdr->lock);
	full = cdr->lines.length >= cdr->max;
	if (full)
		cdr->st.dropped++;
	else
		g_queue_push_tail(&cdr->lines, line);
	g_cond_signal(&cdr->cond);
	g_mutex_unlock(&cdr->lock);
	if (full) {
		TND_LOG_RL(TND_LOG_MAIN, ERROR, "CDR of call %s lost: %u lines wait for the disk "
			   "([cdr] queue)", info->id, cdr->max);
		free(line);
	}
}

void tnd_cdr_get_stats(struct tnd_cdr *cdr, struct tnd_cdr_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!cdr)
		return;
	g_mutex_lock(&cdr->lock);
	*st = cdr->st;
	g_mutex_unlock(&cdr->lock);
}

void tnd_cdr_free(struct tnd_cdr *cdr)
{
	if (!cdr)
		return;
	g_mutex_lock(&cdr->lock);
	cdr->stop = true;
	g_cond_signal(&cdr->cond);
	g_mutex_unlock(&cdr->lock);
	g_thread_join(cdr->thread);
	if (cdr->st.dropped || cdr->st.errors)
		TND_LOG_ERR(TND_LOG_MAIN, "CDRs: %lu written, %lu dropped (queue full), %lu "
			    "failed", cdr->st.written, cdr->st.dropped, cdr->st.errors);
	g_queue_clear_full(&cdr->lines, free);
	g_free(cdr->path);
	g_cond_clear(&cdr->cond);
	g_mutex_clear(&cdr->lock);
	free(cdr);
}
