#!/bin/sh
# tandem.js's tests (tests/web/*.test.mjs) under node's own test
# runner, as TAP for make check. They start ./tandem from top_builddir and
# need the ws package (contrib/install-deps.sh installs it): a missing one
# fails the run, it never skips.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
export top_srcdir top_builddir
exec node --test --test-reporter=tap "$top_srcdir/tests/web/tandem.test.mjs" \
	"$top_srcdir/tests/web/reattach.test.mjs"
