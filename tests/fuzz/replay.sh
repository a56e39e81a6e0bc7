#!/bin/sh
# Replays every saved fuzz input (tests/fuzz/corpus/<target>/) through the
# targets built with gcc, ASan and UBSan, so past crashes stay fixed even
# where clang is missing. Prints TAP.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
echo "1..2"
n=0
rc=0
for t in config rpc; do
	n=$((n + 1))
	if out=$("$build/tests/fuzz/replay-$t" "$src/tests/fuzz/corpus/$t" 2>&1); then
		echo "ok $n - replay $t corpus: $(echo "$out" | tail -1)"
	else
		echo "not ok $n - replay $t corpus"
		echo "$out" | tail -30 | sed 's/^/# /'
		rc=1
	fi
done
exit $rc
