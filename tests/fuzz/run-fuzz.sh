#!/bin/sh
# Builds each libFuzzer target with clang (ASan + UBSan + libFuzzer) and fuzzes
# it for FUZZ_SECONDS (default 30) from its corpus. A crash, leak or sanitizer
# report fails the test and leaves the input in tests/fuzz/corpus/<target>/
# of the build tree as crash-*, to be committed with its fix. Prints TAP.
set -u
src=$(cd "${top_srcdir:-.}" && pwd)
build=$(cd "${top_builddir:-.}" && pwd)
secs=${FUZZ_SECONDS:-30}
clang=${CLANG:-clang}
targets="config rpc"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

common="$src/gateway/base/obj.c $src/gateway/base/log.c $src/gateway/base/loop.c
 $src/gateway/base/ini.c $src/gateway/base/opt.c $src/gateway/conf.c
 $src/gateway/policy/passwd.c $src/gateway/policy/policy.c"
api="$src/gateway/api/api.c $src/gateway/api/rpc.c $src/gateway/api/m_session.c
 $src/gateway/api/m_call.c $src/gateway/api/ws.c"
pkgs="glib-2.0 jansson libcrypto libwebsockets"

echo "1..$(( $(echo $targets | wc -w) * 2 ))"
n=0
fails=0
for t in $targets; do
	n=$((n + 1))
	case $t in
	config) srcs="$common" ;;
	rpc) srcs="$common $api" ;;
	esac
	bin="$build/tests/fuzz/fuzz-$t-bin"
	# shellcheck disable=SC2046,SC2086
	if ! command -v "$clang" >/dev/null 2>&1; then
		echo "not ok $n - build fuzz-$t: clang not found (contrib/install-deps.sh installs it)"
		fails=$((fails + 1)); n=$((n + 1)); echo "not ok $n - fuzz $t"; continue
	fi
	if "$clang" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I"$src" -I"$build" $(pkg-config --cflags $pkgs) \
		-o "$bin" "$src/tests/fuzz/fuzz_$t.c" $srcs $(pkg-config --libs $pkgs) \
		>"$work/build-$t.log" 2>&1; then
		echo "ok $n - build fuzz-$t with clang"
	else
		echo "not ok $n - build fuzz-$t with clang"
		sed 's/^/# /' "$work/build-$t.log" | tail -20
		fails=$((fails + 1)); n=$((n + 1)); echo "not ok $n - fuzz $t"; continue
	fi
	n=$((n + 1))
	mkdir -p "$work/corpus-$t" "$build/tests/fuzz/corpus/$t"
	cp "$src/tests/fuzz/corpus/$t/"* "$work/corpus-$t/" 2>/dev/null
	dict=""
	[ -f "$src/tests/fuzz/$t.dict" ] && dict="-dict=$src/tests/fuzz/$t.dict"
	# -rss_limit_mb: the machine has 24 GiB, and a leak should show, not swap
	if "$bin" $dict -max_total_time="$secs" -max_len=70000 -rss_limit_mb=2048 \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$build/tests/fuzz/corpus/$t/crash-" "$work/corpus-$t" \
		>"$work/fuzz-$t.log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz-$t.log" |
			grep -o '[0-9]*$')
		echo "ok $n - fuzz $t for ${secs}s without a finding (${runs:-?} runs)"
	else
		echo "not ok $n - fuzz $t: finding saved under tests/fuzz/corpus/$t/"
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$work/fuzz-$t.log" | head -20 | sed 's/^/# /'
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]
