/* Per-thread counter slabs and their Prometheus text exposition (format
 * 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Writers: each slab's owner thread only (stats.h). Readers: any thread,
 * with relaxed loads; the scrape sums 65 slabs of about 1.5 KiB, a few
 * microseconds whatever the number of calls.
 *
 * The family table below is the single list of what /metrics exposes from
 * here; docs/operations.md lists the same names. Names follow Prometheus'
 * conventions: tandem_ prefix, _total on counters, base units (seconds,
 * bytes, ratios). */
#include <stdio.h>
#include <string.h>

#include "gateway/base/stats.h"

static struct tnd_stats slabs[TND_STATS_SLABS];

static const char *const dirs[] = { "out", "in" };
static const char *const classes[] = { "2xx", "3xx", "4xx", "5xx", "6xx", "none" };
static const char *const legs[] = { "webrtc", "sip" };
static const char *const rxtx[] = { "rx", "tx" };
static const char *const logins[] = { "ok", "failed", "locked" };
static const char *const drops[] = { "payload_type", "not_ready", "send_error", "malformed",
				     "srtp", "foreign" };

struct label {
	const char *name;
	const char *const *values;
	unsigned n;
};

#define LABEL(name, v) { name, v, sizeof(v) / sizeof(v[0]) }
#define NOLABEL { NULL, NULL, 1 }

struct counter_family {
	const char *name, *help;
	unsigned base;
	struct label l1, l2;        /* index = base + i1 * l2.n + i2 */
};

static const struct counter_family counters[] = {
	{ "tandem_call_attempts_total", "Calls started, by direction (out: browser to SIP).",
	  TND_ST_ATTEMPTS, LABEL("direction", dirs), NOLABEL },
	{ "tandem_call_outcomes_total", "Calls ended, by direction and the class of the "
	  "INVITE's final SIP status (none: ended before one).",
	  TND_ST_OUTCOMES, LABEL("direction", dirs), LABEL("status_class", classes) },
	{ "tandem_websocket_connections_total", "WebSocket connections upgraded.",
	  TND_ST_WS_ACCEPTED, NOLABEL, NOLABEL },
	{ "tandem_websocket_refused_total", "WebSocket connections and handshakes refused.",
	  TND_ST_WS_REFUSED, NOLABEL, NOLABEL },
	{ "tandem_logins_total", "Login requests by result (locked: refused by the lock-out "
	  "or the login queue).", TND_ST_LOGINS, LABEL("result", logins), NOLABEL },
	{ "tandem_media_packets_total", "RTP packets per leg and direction (rx: from the "
	  "leg's peer, tx: to it).", TND_ST_PACKETS, LABEL("leg", legs), LABEL("direction", rxtx) },
	{ "tandem_media_bytes_total", "RTP bytes (header and payload, before SRTP) per leg "
	  "and direction.", TND_ST_BYTES, LABEL("leg", legs), LABEL("direction", rxtx) },
	{ "tandem_media_dropped_packets_total", "Media packets dropped, by reason (malformed, "
	  "srtp and foreign are added when the call ends).", TND_ST_DROPS,
	  LABEL("reason", drops), NOLABEL },
};

static const double b_setup[] = { 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60 };
static const double b_loss[] = { 0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5 };
static const double b_jitter[] = { 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2,
				   0.5 };
static const double b_rtt[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2 };
static const double b_mos[] = { 1, 1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5 };

struct hist_family {
	const char *name, *help;
	unsigned base;
	struct label l;
	const double *le;
	unsigned n_le;
};

#define BOUNDS(b) b, sizeof(b) / sizeof(b[0])

static const struct hist_family hists[] = {
	{ "tandem_call_setup_seconds", "Time from a call's start to its answer.",
	  TND_H_SETUP, LABEL("direction", dirs), BOUNDS(b_setup) },
	{ "tandem_call_loss_ratio", "Per call: fraction of the RTP packets from a leg's peer "
	  "that never arrived (RFC 3550 A.3), observed when the call ends.",
	  TND_H_LOSS, LABEL("leg", legs), BOUNDS(b_loss) },
	{ "tandem_call_jitter_seconds", "Per call: interarrival jitter of the RTP from a leg's "
	  "peer (RFC 3550 A.8) at the call's end.", TND_H_JITTER, LABEL("leg", legs),
	  BOUNDS(b_jitter) },
	{ "tandem_call_rtt_seconds", "Per call: round-trip time to a leg's peer from its last "
	  "RTCP report, calls that measured one.", TND_H_RTT, LABEL("leg", legs),
	  BOUNDS(b_rtt) },
	{ "tandem_call_mos", "Per call: estimated MOS of what a leg's peer sent (ITU-T G.107 "
	  "E-model, simplified).", TND_H_MOS, LABEL("leg", legs), BOUNDS(b_mos) },
};

struct tnd_stats *tnd_stats_slab(unsigned i)
{
	return i < TND_STATS_SLABS ? &slabs[i] : NULL;
}

static const struct hist_family *hist_family(unsigned h)
{
	for (size_t f = 0; f < sizeof(hists) / sizeof(hists[0]); f++)
		if (h >= hists[f].base && h < hists[f].base + hists[f].l.n)
			return &hists[f];
	return NULL;
}

void tnd_stats_observe(struct tnd_stats *s, unsigned h, double v)
{
	const struct hist_family *f = hist_family(h);
	struct tnd_stats_hist *hi;
	unsigned b = 0;

	if (!s || !f || v != v)   /* NaN: nothing to record */
		return;
	hi = &s->h[h];
	while (b < f->n_le && v > f->le[b])
		b++;
	/* b == n_le: only the +Inf bucket, which is the count */
	if (b < f->n_le)
		atomic_store_explicit(&hi->bucket[b], atomic_load_explicit(&hi->bucket[b],
				      memory_order_relaxed) + 1, memory_order_relaxed);
	atomic_store_explicit(&hi->count, atomic_load_explicit(&hi->count,
			      memory_order_relaxed) + 1, memory_order_relaxed);
	atomic_store_explicit(&hi->sum_micro, atomic_load_explicit(&hi->sum_micro,
			      memory_order_relaxed) + (int64_t)(v * 1e6 + (v < 0 ? -0.5 : 0.5)),
			      memory_order_relaxed);
}

enum tnd_stats_class tnd_stats_class_of(int status)
{
	if (status < 200 || status > 699)
		return TND_STATS_NONE;
	return (enum tnd_stats_class)(status / 100 - 2);
}

double tnd_stats_mos(double delay_ms, double loss, double ie, double bpl)
{
	double id, ppl, ie_eff, r, mos;

	if (delay_ms < 0)
		delay_ms = 0;
	/* the delay impairment in the one-term form of Cole and Rosenbluth
	 * (2001), a fit of G.107's Id: 0.024 d + 0.11 (d - 177.3) H(d - 177.3) */
	id = 0.024 * delay_ms + (delay_ms > 177.3 ? 0.11 * (delay_ms - 177.3) : 0);
	/* 7.4, random loss (BurstR = 1): Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl) */
	ppl = loss < 0 ? 0 : loss > 1 ? 100 : loss * 100;
	ie_eff = ie + (95 - ie) * ppl / (ppl + bpl);
	r = 93.2 - id - ie_eff;
	/* Annex B: MOS from R; the cubic dips just under 1 for R below about
	 * 6.5, where the scale's floor of 1 holds instead */
	if (r <= 0)
		return 1;
	if (r >= 100)
		return 4.5;
	mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	return mos < 1 ? 1 : mos;
}

uint64_t tnd_stats_sum(unsigned i)
{
	uint64_t n = 0;

	if (i >= TND_ST_COUNT)
		return 0;
	for (unsigned s = 0; s < TND_STATS_SLABS; s++)
		n += atomic_load_explicit(&slabs[s].c[i], memory_order_relaxed);
	return n;
}

uint64_t tnd_stats_hist_count(unsigned h)
{
	uint64_t n = 0;

	if (h >= TND_H_COUNT)
		return 0;
	for (unsigned s = 0; s < TND_STATS_SLABS; s++)
		n += atomic_load_explicit(&slabs[s].h[h].count, memory_order_relaxed);
	return n;
}

static void head(GString *out, const char *name, const char *help, const char *type)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_counter(GString *out, const struct counter_family *f)
{
	head(out, f->name, f->help, "counter");
	for (unsigned a = 0; a < f->l1.n; a++) {
		for (unsigned b = 0; b < f->l2.n; b++) {
			uint64_t v = tnd_stats_sum(f->base + a * f->l2.n + b);

			g_string_append(out, f->name);
			if (f->l1.name && f->l2.name)
				g_string_append_printf(out, "{%s=\"%s\",%s=\"%s\"}", f->l1.name,
						       f->l1.values[a], f->l2.name,
						       f->l2.values[b]);
			else if (f->l1.name)
				g_string_append_printf(out, "{%s=\"%s\"}", f->l1.name,
						       f->l1.values[a]);
			g_string_append_printf(out, " %llu\n", (unsigned long long)v);
		}
	}
}

static void write_hist(GString *out, const struct hist_family *f)
{
	head(out, f->name, f->help, "histogram");
	for (unsigned l = 0; l < f->l.n; l++) {
		unsigned h = f->base + l;
		uint64_t cum = 0, count = 0;
		int64_t sum = 0;

		for (unsigned s = 0; s < TND_STATS_SLABS; s++) {
			count += atomic_load_explicit(&slabs[s].h[h].count, memory_order_relaxed);
			sum += atomic_load_explicit(&slabs[s].h[h].sum_micro,
						    memory_order_relaxed);
		}
		for (unsigned b = 0; b < f->n_le; b++) {
			for (unsigned s = 0; s < TND_STATS_SLABS; s++)
				cum += atomic_load_explicit(&slabs[s].h[h].bucket[b],
							    memory_order_relaxed);
			/* read apart from count: a bucket may run ahead of it
			 * by an observation in flight; keep the series sane */
			if (cum > count)
				count = cum;
			g_string_append_printf(out, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n",
					       f->name, f->l.name, f->l.values[l], f->le[b],
					       (unsigned long long)cum);
		}
		g_string_append_printf(out, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n"
				       "%s_sum{%s=\"%s\"} %.6f\n%s_count{%s=\"%s\"} %llu\n",
				       f->name, f->l.name, f->l.values[l],
				       (unsigned long long)count, f->name, f->l.name,
				       f->l.values[l], (double)sum / 1e6, f->name, f->l.name,
				       f->l.values[l], (unsigned long long)count);
	}
}

void tnd_stats_write(GString *out)
{
	for (size_t f = 0; f < sizeof(counters) / sizeof(counters[0]); f++)
		write_counter(out, &counters[f]);
	for (size_t f = 0; f < sizeof(hists) / sizeof(hists[0]); f++)
		write_hist(out, &hists[f]);
}

void tnd_stats_reset(void)
{
	memset(slabs, 0, sizeof(slabs));
}
