#!/bin/sh
# configure must find the OpenSSL libsrtp2 that contrib/install-deps.sh built,
# name the backend it found, and refuse Debian's NSS build of libsrtp2 unless
# --enable-nss-srtp is given. Runs a copy of configure against a prefix that
# points at Debian's own libsrtp2.so.1. Prints TAP.
set -u
src=$(cd "${top_srcdir:-.}" && pwd)
build=$(cd "${top_builddir:-.}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "1..4"

b=$(sh "$src/contrib/srtp-backend.sh" /opt/tandem/libsrtp2/lib)
[ "$b" = openssl ] && echo "ok 1 - /opt/tandem/libsrtp2 is the openssl backend" ||
	echo "not ok 1 - /opt/tandem/libsrtp2 backend is '$b'"

debian=$(ls /usr/lib/*/libsrtp2.so.1 2>/dev/null | head -1)
mkdir -p "$work/nss/lib/pkgconfig"
ln -s "$debian" "$work/nss/lib/libsrtp2.so"
sed "s|/opt/tandem/libsrtp2|$work/nss|g" /opt/tandem/libsrtp2/lib/pkgconfig/libsrtp2.pc \
	> "$work/nss/lib/pkgconfig/libsrtp2.pc"
b=$(sh "$src/contrib/srtp-backend.sh" "$work/nss/lib")
[ "$b" = nss ] && echo "ok 2 - Debian's $debian is the nss backend" ||
	echo "not ok 2 - Debian's libsrtp2 ($debian) backend is '$b'"

# a bare copy of what configure needs, so the real build tree is untouched
mkdir -p "$work/tree/gateway" "$work/tree/contrib"
cp "$src/configure" "$src/config.h.in" "$src/Makefile.in" "$work/tree/" 2>/dev/null ||
	cp "$build/configure" "$build/config.h.in" "$build/Makefile.in" "$work/tree/"
cp -r "$src/build-aux" "$work/tree/"
cp "$src/contrib/srtp-backend.sh" "$work/tree/contrib/"
touch "$work/tree/gateway/main.c"
cd "$work/tree" || exit 1
if ./configure -q --with-srtp2="$work/nss" >"$work/out1" 2>&1; then
	echo "not ok 3 - configure accepted the NSS libsrtp2"
elif grep -q "uses the nss backend" "$work/out1"; then
	echo "ok 3 - configure refuses the NSS libsrtp2 and says why"
else
	echo "not ok 3 - configure failed for another reason"
	tail -5 "$work/out1" | sed 's/^/# /'
fi
if ./configure --with-srtp2="$work/nss" --enable-nss-srtp >"$work/out2" 2>&1 &&
	grep -q "libsrtp2:.*(nss backend)" "$work/out2"; then
	echo "ok 4 - --enable-nss-srtp accepts it and reports the backend"
else
	echo "not ok 4 - --enable-nss-srtp"
	tail -5 "$work/out2" | sed 's/^/# /'
fi
