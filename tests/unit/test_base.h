/* gateway/base unit tests (test-base): test_base.c holds the table, main,
 * the packet pool, timer, deferred-work and log tests; test_base_loop.c the
 * loop and poll-function tests. Helpers shared by both. */
#ifndef TND_TESTS_TEST_BASE_H
#define TND_TESTS_TEST_BASE_H

#include <stdbool.h>

#include <glib.h>

/* Iterates ctx (blocking) until *flag is nonzero or `ms` went by; returns
 * whether the flag was set. */
bool tnd_test_iterate_until(GMainContext *ctx, const int *flag, int ms);

int test_loop_call_queues_on_own_thread(void);
int test_loop_call_default_context(void);
int test_pollfunc_installed_on_workers_only(void);
int test_pollfunc_serves_glib_and_epoll(void);
int test_pollfunc_wakeup_from_other_thread(void);
int test_pollfunc_fd_number_reused(void);
int test_pollfunc_fallback_regular_file(void);
int test_pollfunc_handover_same_fd(void);
int test_pollfunc_beyond_64_loops(void);
/* test_base_stats.c */
int test_stats_mos_emodel(void);
int test_stats_status_class(void);
int test_stats_slabs_sum(void);
int test_stats_text(void);

#endif
