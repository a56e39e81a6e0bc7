#!/bin/sh
# Builds each libFuzzer target listed in tests/fuzz/targets with clang (ASan +
# UBSan + libFuzzer) and fuzzes it for FUZZ_SECONDS (default 6) from its
# corpus. A crash, leak or sanitizer report fails the test and leaves the input
# in the build tree's tests/fuzz/corpus/NAME/crash-*, to be committed with its
# fix. Prints TAP. 6 s a target keeps the 30-odd targets to a few minutes of
# one core in every CI run; longer runs are for FUZZ_SECONDS by hand, and
# FUZZ_TARGETS="a b" fuzzes only those.
set -u
src=$(cd "${top_srcdir:-.}" && pwd)
build=$(cd "${top_builddir:-.}" && pwd)
secs=${FUZZ_SECONDS:-6}
clang=${CLANG:-clang}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkgs="glib-2.0 jansson libcrypto libssl libwebsockets nice"
[ -f /opt/tandem/libsrtp2/lib/pkgconfig/libsrtp2.pc ] &&
	export PKG_CONFIG_PATH="/opt/tandem/libsrtp2/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkgs="$pkgs libsrtp2"
# codecs/: the codec libraries
pkgs="$pkgs opus spandsp libbcg729 speexdsp"
# last: libnice must come before Sofia in the link (see Makefile.am)
pkgs="$pkgs gio-2.0 sofia-sip-ua-glib"

common=$(sed -n 's/^@common //p' "$src/tests/fuzz/targets")
targets=${FUZZ_TARGETS:-$(grep -vE '^(#|@|$)' "$src/tests/fuzz/targets" | cut -d' ' -f1)}

# Every source is compiled once (with -fsanitize=fuzzer-no-link) and each
# target only links: most targets share @common, and compiling it again per
# target cost more CPU than the fuzzing itself.
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined
	-fno-sanitize-recover=all -I$src -I$build $(pkg-config --cflags $pkgs)"
mkdir -p "$work/obj" "$build/tests/fuzz"
objname() { echo "$work/obj/$(echo "$1" | tr '/' '_').o"; }
compile() {
	o=$(objname "$1")
	[ -f "$o" ] && return 0
	# shellcheck disable=SC2086
	"$clang" $cflags -c -o "$o" "$src/$1" >"$o.log" 2>&1
}
all_srcs=$(for t in $targets; do
	echo "tests/fuzz/fuzz_$t.c"
	for f in $(grep "^$t " "$src/tests/fuzz/targets" | cut -d' ' -f2-); do
		if [ "$f" = @common ]; then echo $common | tr ' ' '\n'; else echo "$f"; fi
	done
done | sort -u)
# two compilers at once: make check runs other tests beside this one
nbg=0
for f in $all_srcs; do
	compile "$f" &
	nbg=$((nbg + 1))
	[ "$nbg" -ge 2 ] && { wait; nbg=0; }
done
wait

echo "1..$(( $(echo $targets | wc -w) * 2 ))"
n=0
fails=0
for t in $targets; do
	n=$((n + 1))
	objs=""
	for f in "tests/fuzz/fuzz_$t.c" $(grep "^$t " "$src/tests/fuzz/targets" | cut -d' ' -f2-); do
		if [ "$f" = @common ]; then
			for c in $common; do compile "$c"; objs="$objs $(objname "$c")"; done
		else
			compile "$f"; objs="$objs $(objname "$f")"
		fi
	done
	bin="$build/tests/fuzz/fuzz-$t-bin"
	# shellcheck disable=SC2046,SC2086
	if cat /dev/null $(for o in $objs; do [ -f "$o.log" ] && echo "$o.log"; done) \
		>"$work/build-$t.log" &&
		"$clang" -fsanitize=fuzzer,address,undefined -o "$bin" $objs \
		$(pkg-config --libs $pkgs) >>"$work/build-$t.log" 2>&1; then
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
	# -rss_limit_mb: a leak should show, not swap
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
