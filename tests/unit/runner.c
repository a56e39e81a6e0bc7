/* Unit test runner: see runner.h. */
#include <string.h>

#include "gateway/base/obj.h"
#include "tests/unit/runner.h"

int tnd_test_main(const struct tnd_test *tests, size_t n, int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	size_t planned = 0, num = 0;
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		if (!filter || strstr(tests[i].name, filter))
			planned++;
	printf("1..%zu\n", planned);
	for (size_t i = 0; i < n; i++) {
		long live;
		int r;

		if (filter && !strstr(tests[i].name, filter))
			continue;
		num++;
		live = tnd_obj_live();
		fflush(stdout);
		r = tests[i].fn();
		if (!r && tnd_obj_live() != live) {
			printf("# %s left %ld object(s) alive\n", tests[i].name,
			       tnd_obj_live() - live);
			r = 1;
		}
		printf("%s %zu - %s\n", r ? "not ok" : "ok", num, tests[i].name);
		failed += r != 0;
	}
	return failed ? 1 : 0;
}
