/* Unit test runner (style guide R11): each test is `static int test_x(void)`
 * in a table; the runner prints TAP and fails a test that leaves a tnd_obj
 * alive. */
#ifndef TND_TESTS_RUNNER_H
#define TND_TESTS_RUNNER_H

#include <stddef.h>
#include <stdio.h>

struct tnd_test {
	const char *name;
	int (*fn)(void);
};

#define TND_TEST(f) { #f, f }

#define TEST_ASSERT(cond) \
	do { \
		if (!(cond)) { \
			printf("# %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
			return 1; \
		} \
	} while (0)

#define TEST_ASSERT_STR_CONTAINS(hay, needle) \
	do { \
		const char *h_ = (hay); \
		if (!h_ || !strstr(h_, (needle))) { \
			printf("# %s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
			       h_ ? h_ : "(null)", (needle)); \
			return 1; \
		} \
	} while (0)

/* Runs the table; with an argument, only the tests whose names contain it. */
int tnd_test_main(const struct tnd_test *tests, size_t n, int argc, char **argv);

#endif
