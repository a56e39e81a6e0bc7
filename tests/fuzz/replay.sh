#!/bin/sh
# Replays every saved fuzz input (tests/fuzz/corpus/NAME/) through the
# targets built with gcc, ASan and UBSan (tests/fuzz/replay-NAME), so past
# crashes stay fixed whether clang is there or not. Prints TAP.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
targets=$(grep -vE '^(#|@|$)' "$src/tests/fuzz/targets" | cut -d' ' -f1)
echo "1..$(echo $targets | wc -w)"
n=0
rc=0
for t in $targets; do
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
