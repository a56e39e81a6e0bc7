#!/bin/sh
# Installs every Debian 12 package Tandem needs to build, run and test, and
# builds libsrtp2 with its OpenSSL backend into $TANDEM_DEPS (default
# /opt/tandem). Idempotent: a second run checks and returns in about a second.
#
# Why libsrtp2 is rebuilt: Debian 12's libsrtp2-1 is built on NSS, which costs
# about 5x per packet and 100-190x per session setup compared with the same
# 2.5.0 source built with --enable-openssl. We take Debian's own source package
# (apt-get source, needs a deb-src line) so nothing outside the Debian archive
# is downloaded.
set -eu

PREFIX=${TANDEM_DEPS:-/opt/tandem}
SRTP_PREFIX=$PREFIX/libsrtp2

BUILD_PKGS="build-essential autoconf automake libtool pkg-config dpkg-dev
 libglib2.0-dev libsofia-sip-ua-glib-dev libsofia-sip-ua-dev libnice-dev
 libssl-dev libwebsockets-dev libwebsockets-evlib-glib libjansson-dev
 libopus-dev libspandsp-dev libbcg729-dev libspeexdsp-dev clang libclang-rt-14-dev llvm"
TEST_PKGS="libsrtp2-1 python3 python3-websockets python3-numpy python3-aiortc python3-av ffmpeg
 chromium chromium-driver firefox-esr sox iproute2 util-linux procps psmisc
 baresip-core sip-tester sofia-sip-bin rtpengine-daemon rtpengine-utils coturn
 groff-base man-db systemd kamailio kamailio-tls-modules prometheus sipvicious
 openssl ca-certificates linphone-cli"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

# Node.js and npm run the browser tests. A machine that has them already
# (often NodeSource's nodejs, which bundles npm and conflicts with Debian's
# npm package) keeps its own; elsewhere Debian's are installed.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
	echo "install-deps.sh: installing:$missing"
	# In containers policy-rc.d keeps apt from starting services; on a
	# systemd host we stop the peers' stock services right after (they
	# listen on every interface and take 5060/2223/8088).
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl disable --now rtpengine-daemon coturn kamailio >/dev/null 2>&1 || true
	fi
else
	echo "install-deps.sh: all Debian packages present"
fi

# --- npm packages of the browser tests (tests/web/package.json) -------------
# playwright-core drives Debian's chromium and firefox-esr (it downloads no
# browser); ws is Node 18's missing WebSocket client for tandem.js's tests.
web_tests=$(cd "$(dirname "$0")/.." && pwd)/tests/web
if [ -f "$web_tests/package.json" ] && { [ ! -d "$web_tests/node_modules/playwright-core" ] ||
	[ ! -d "$web_tests/node_modules/ws" ]; }; then
	(cd "$web_tests" && npm install --no-audit --no-fund --no-package-lock)
else
	echo "install-deps.sh: npm packages of tests/web present"
fi

# --- libsrtp2 with the OpenSSL backend ---------------------------------------
srtp_ver=$(apt-cache policy libsrtp2-1 | awk '/Candidate:/ {print $2}')
stamp="$SRTP_PREFIX/.tandem-built-$srtp_ver"
if [ -f "$stamp" ] && [ -f "$SRTP_PREFIX/lib/pkgconfig/libsrtp2.pc" ]; then
	echo "install-deps.sh: libsrtp2 $srtp_ver (openssl) already in $SRTP_PREFIX"
	exit 0
fi

# apt-get source needs deb-src entries; add them beside Debian's own.
if ! apt-get indextargets --format '$(IDENTIFIER)' 2>/dev/null | grep -q '^Sources$'; then
	src=/etc/apt/sources.list.d/tandem-deb-src.sources
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src"
	else
		grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
			> /etc/apt/sources.list.d/tandem-deb-src.list
	fi
	apt-get update -q
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -q --download-only "libsrtp2=$srtp_ver" || apt-get source -q --download-only libsrtp2
dpkg-source -x --skip-patches ./*.dsc srtp >/dev/null
cd srtp
# Debian's patches fix the build and tests; apply them as Debian does.
if [ -f debian/patches/series ]; then
	while read -r p; do
		case "$p" in ''|'#'*) continue;; esac
		patch -p1 -s < "debian/patches/$p"
	done < debian/patches/series
fi
./configure --prefix="$SRTP_PREFIX" --enable-openssl --disable-pcap -q
make -s -j"$(nproc)" shared_library
make -s install
rm -f "$SRTP_PREFIX"/.tandem-built-*
touch "$stamp"
echo "install-deps.sh: built libsrtp2 $srtp_ver with OpenSSL into $SRTP_PREFIX"
