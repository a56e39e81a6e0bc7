#!/bin/sh
# Runs the WebSocket, call, transcoding, DTMF, abuse (SIP access and floods,
# call floods), registration, reattach and operations (CDRs, call events,
# admin requests) integration tests against tests/tandem-asan, the gateway
# built with AddressSanitizer and UBSan: any memory error, leak at exit or
# undefined behaviour in the gateway fails this test even when the calls
# themselves worked. libwebsockets' own leak on a failed context
# creation is not ours and is suppressed by name. Prints TAP.
# TANDEM_ASAN_TESTS names the files to run (test_asan_gateway2.sh runs the
# second half, so make check -j2 runs both halves side by side).
set -u
src=$(cd "${top_srcdir:-.}" && pwd)
build=$(cd "${top_builddir:-.}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'leak:libwebsockets.so\n' > "$work/lsan.supp"
export TANDEM_BIN="$build/tests/tandem-asan"
export ASAN_OPTIONS="log_path=$work/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$work/asan:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$work/lsan.supp"
py=${PYTHON3:-/usr/bin/python3}
tests=${TANDEM_ASAN_TESTS:-test_ws test_call_aiortc test_transcode_aiortc test_dtmf test_abuse_sip test_abuse_calls}
echo "1..$(( $(echo $tests | wc -w) + 1 ))"
n=0
rc=0
for t in $tests; do
	n=$((n + 1))
	if "$py" "$src/tests/integration/$t.py" >"$work/$t.out" 2>&1; then
		echo "ok $n - $t.py against the ASan+UBSan gateway ($(grep -c '^ok' "$work/$t.out") cases)"
	else
		echo "not ok $n - $t.py against the ASan+UBSan gateway"
		grep -E '^(not ok|#)' "$work/$t.out" | tail -20
		rc=1
	fi
done
n=$((n + 1))
if ls "$work"/asan.* >/dev/null 2>&1; then
	echo "not ok $n - sanitizer reports from the gateway"
	head -60 "$work"/asan.* | sed 's/^/# /'
	rc=1
else
	echo "ok $n - no sanitizer report from any gateway run"
fi
exit $rc
