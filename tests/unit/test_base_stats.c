/* gateway/base/stats.c: the counter slabs summed across threads, the
 * histogram buckets (Prometheus "le": at or below the bound, cumulative),
 * the text the scrape gets, the SIP status classes and the E-model's MOS
 * against figures worked out by hand from ITU-T G.107. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gateway/base/stats.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_base.h"

#define NEAR(a, b, eps) ((a) - (b) < (eps) && (b) - (a) < (eps))

int test_stats_mos_emodel(void)
{
	/* no impairment: R = 93.2, MOS 4.41 (G.107 Annex B) */
	TEST_ASSERT(NEAR(tnd_stats_mos(0, 0, 0, 25.1), 4.409, 0.002));
	/* 1 % random loss on G.711 with PLC (Bpl 25.1): Ie,eff = 95 / 26.1 =
	 * 3.64, R = 89.56, MOS 4.328 */
	TEST_ASSERT(NEAR(tnd_stats_mos(0, 0.01, 0, 25.1), 4.328, 0.002));
	/* 200 ms one way: Id = 4.8 + 0.11 * 22.7 = 7.30, R = 85.9, MOS 4.226 */
	TEST_ASSERT(NEAR(tnd_stats_mos(200, 0, 0, 25.1), 4.226, 0.002));
	/* G.729A (Ie 11): R = 82.2, MOS 4.104 */
	TEST_ASSERT(NEAR(tnd_stats_mos(0, 0, 11, 19), 4.104, 0.002));
	/* all lost: Ie,eff = 75.9, R = 17.26, MOS 1.177; past R = 0 the
	 * floor is 1 */
	TEST_ASSERT(NEAR(tnd_stats_mos(0, 1, 0, 25.1), 1.177, 0.002));
	TEST_ASSERT(tnd_stats_mos(2000, 1, 11, 19) == 1);
	TEST_ASSERT(tnd_stats_mos(-5, -1, 0, 25.1) == tnd_stats_mos(0, 0, 0, 25.1));
	/* more loss or delay scores worse, down to the floor of 1 */
	for (int i = 1; i <= 100; i++) {
		double d0 = tnd_stats_mos((i - 1) * 10, 0, 0, 25.1);

		TEST_ASSERT(tnd_stats_mos(0, i / 100.0, 0, 25.1) <
			    tnd_stats_mos(0, (i - 1) / 100.0, 0, 25.1));
		TEST_ASSERT(d0 == 1 ? tnd_stats_mos(i * 10, 0, 0, 25.1) == 1 :
			    tnd_stats_mos(i * 10, 0, 0, 25.1) < d0);
	}
	return 0;
}

int test_stats_status_class(void)
{
	TEST_ASSERT(tnd_stats_class_of(200) == TND_STATS_2XX);
	TEST_ASSERT(tnd_stats_class_of(302) == TND_STATS_3XX);
	TEST_ASSERT(tnd_stats_class_of(486) == TND_STATS_4XX);
	TEST_ASSERT(tnd_stats_class_of(503) == TND_STATS_5XX);
	TEST_ASSERT(tnd_stats_class_of(699) == TND_STATS_6XX);
	TEST_ASSERT(tnd_stats_class_of(0) == TND_STATS_NONE);
	TEST_ASSERT(tnd_stats_class_of(180) == TND_STATS_NONE);
	TEST_ASSERT(tnd_stats_class_of(700) == TND_STATS_NONE);
	TEST_ASSERT(tnd_stats_class_of(-1) == TND_STATS_NONE);
	return 0;
}

#define THREADS 4
#define ADDS 200000

static void *count_on_own_slab(void *arg)
{
	struct tnd_stats *s = arg;

	for (int i = 0; i < ADDS; i++) {
		tnd_stats_inc(s, TND_ST_PACKETS);
		tnd_stats_add(s, TND_ST_BYTES, 172);
	}
	return NULL;
}

/* Each thread writes only its slab, so no increment is lost, and a reader
 * summing while they run sees a count that only grows. */
int test_stats_slabs_sum(void)
{
	pthread_t t[THREADS];
	uint64_t last = 0, now;

	tnd_stats_reset();
	TEST_ASSERT(tnd_stats_slab(0) && tnd_stats_slab(TND_STATS_SLABS - 1));
	TEST_ASSERT(!tnd_stats_slab(TND_STATS_SLABS));
	for (int i = 0; i < THREADS; i++)
		TEST_ASSERT(!pthread_create(&t[i], NULL, count_on_own_slab,
					    tnd_stats_slab(1 + (unsigned)i)));
	for (int i = 0; i < 1000; i++) {
		now = tnd_stats_sum(TND_ST_PACKETS);
		TEST_ASSERT(now >= last);
		last = now;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	TEST_ASSERT(tnd_stats_sum(TND_ST_PACKETS) == (uint64_t)THREADS * ADDS);
	TEST_ASSERT(tnd_stats_sum(TND_ST_BYTES) == (uint64_t)THREADS * ADDS * 172);
	TEST_ASSERT(tnd_stats_sum(TND_ST_COUNT) == 0);
	tnd_stats_reset();
	TEST_ASSERT(tnd_stats_sum(TND_ST_PACKETS) == 0);
	return 0;
}

/* The exposition: counters with their labels, histograms cumulative with
 * "le" at or below the bound, +Inf equal to _count, _sum in the unit. */
int test_stats_text(void)
{
	GString *out = g_string_new(NULL);

	tnd_stats_reset();
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_OUTCOMES + TND_STATS_OUT * TND_STATS_CLASSES +
		      TND_STATS_4XX);
	tnd_stats_add(tnd_stats_slab(3), TND_ST_PACKETS + TND_STATS_SIP * 2 + 1, 7);
	tnd_stats_add(tnd_stats_slab(9), TND_ST_PACKETS + TND_STATS_SIP * 2 + 1, 5);
	tnd_stats_observe(tnd_stats_slab(0), TND_H_SETUP + TND_STATS_IN, 0.5);    /* le 0.5 */
	tnd_stats_observe(tnd_stats_slab(2), TND_H_SETUP + TND_STATS_IN, 0.75);
	tnd_stats_observe(tnd_stats_slab(2), TND_H_SETUP + TND_STATS_IN, 100);    /* +Inf */
	tnd_stats_observe(tnd_stats_slab(2), TND_H_SETUP + TND_STATS_IN, NAN);
	tnd_stats_observe(tnd_stats_slab(2), TND_H_COUNT, 1);                     /* ignored */
	tnd_stats_observe(NULL, TND_H_SETUP, 1);
	TEST_ASSERT(tnd_stats_hist_count(TND_H_SETUP + TND_STATS_IN) == 3);
	tnd_stats_write(out);
	TEST_ASSERT_STR_CONTAINS(out->str, "# TYPE tandem_call_outcomes_total counter\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_outcomes_total{direction=\"out\","
				 "status_class=\"4xx\"} 1\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_outcomes_total{direction=\"in\","
				 "status_class=\"none\"} 0\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_media_packets_total{leg=\"sip\","
				 "direction=\"tx\"} 12\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_websocket_refused_total 0\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "# TYPE tandem_call_setup_seconds histogram\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_bucket{direction=\"in\","
				 "le=\"0.25\"} 0\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_bucket{direction=\"in\","
				 "le=\"0.5\"} 1\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_bucket{direction=\"in\","
				 "le=\"1\"} 2\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_bucket{direction=\"in\","
				 "le=\"60\"} 2\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_bucket{direction=\"in\","
				 "le=\"+Inf\"} 3\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_sum{direction=\"in\"} "
				 "101.250000\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_setup_seconds_count{direction=\"in\"} 3\n");
	TEST_ASSERT_STR_CONTAINS(out->str, "tandem_call_loss_ratio_bucket{leg=\"webrtc\","
				 "le=\"0\"} 0\n");
	g_string_free(out, TRUE);
	tnd_stats_reset();
	return 0;
}
