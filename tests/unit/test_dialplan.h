/* Dial plan and trunk tests (test_dialplan.c), run by test-conf. */
#ifndef TND_TESTS_UNIT_TEST_DIALPLAN_H
#define TND_TESTS_UNIT_TEST_DIALPLAN_H

int test_dialplan_parse(void);
int test_dialplan_bad_lines(void);
int test_dialplan_digits(void);
int test_dialplan_normalise(void);
int test_dialplan_rights_and_failover(void);
int test_dialplan_trunk_uri(void);
int test_dialplan_sources_and_dids(void);
int test_dialplan_trunk_by_uri(void);

#endif
