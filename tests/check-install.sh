#!/bin/sh
# `make install` lays Tandem out like a Debian daemon (issue 13): installs
# into a scratch DESTDIR with Debian's paths and checks that every file is
# where it belongs, the man pages render without a groff warning, the
# installed binary runs, the unit passes `systemd-analyze verify`, an
# operator's tandem.conf survives a reinstall, and uninstall leaves nothing.
# Prints TAP.
set -u
build=${top_builddir:-.}
cd "$build" || exit 1
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if [ -z "$2" ]; then ok "$1"; else notok "$1"; echo "$2" | sed 's/^/# /'; fi; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
dirs="prefix=/usr sysconfdir=/etc systemdsystemunitdir=/lib/systemd/system"
mk() { ${MAKE:-make} -s "$@" DESTDIR="$tmp/root" $dirs >"$tmp/make.log" 2>&1; }

echo "1..8"

# 1. the files land in Debian's places
mk install || cat "$tmp/make.log" | sed 's/^/# /'
bad=""
for f in usr/sbin/tandem usr/share/man/man8/tandem.8 usr/share/man/man5/tandem.conf.5 \
	etc/tandem/tandem.conf.example lib/systemd/system/tandem.service \
	usr/share/tandem/web/tandem.js usr/share/tandem/web/tandem.d.ts usr/share/tandem/web/package.json \
	usr/share/tandem/web/index.html; do
	[ -f "$tmp/root/$f" ] || bad="$bad$f missing
"
done
[ -x "$tmp/root/usr/sbin/tandem" ] || bad="${bad}usr/sbin/tandem not executable
"
[ -e "$tmp/root/etc/tandem/tandem.conf" ] && bad="${bad}etc/tandem/tandem.conf installed
"
check "make install puts binary, man pages, sample config and unit in place" "$bad"

# 2. the installed binary runs and knows its sample
out=$("$tmp/root/usr/sbin/tandem" --help 2>&1) && echo "$out" | grep -q -- '--print-man'
st=$?
bad=""
[ $st -eq 0 ] || bad="tandem --help failed: $out"
"$tmp/root/usr/sbin/tandem" --check-config --config "$tmp/root/etc/tandem/tandem.conf.example" \
	>/dev/null 2>"$tmp/err" || bad="$bad$(cat "$tmp/err")"
check "installed tandem runs --help and accepts the installed sample" "$bad"

# 3, 4. the man pages render without warnings and carry their sections
for page in man8/tandem.8 man5/tandem.conf.5; do
	f="$tmp/root/usr/share/man/$page"
	warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
	text=$(groff -man -Tutf8 -P-cbou "$f" 2>/dev/null)
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS FILES "SEE ALSO"; do
		echo "$text" | grep -q "^$s\$" || warn="$warn
no $s section"
	done
	case $page in
	*tandem.8) echo "$text" | grep -q '^SIGNALS$' || warn="$warn
no SIGNALS section"
		echo "$text" | grep -q -- '--print-man PAGE' || warn="$warn
no --print-man";;
	*) echo "$text" | grep -q 'Type: integer, 1 to 65535' || warn="$warn
no port range";;
	esac
	check "$page renders with no groff warning and has its sections" "$warn"
done

# 5. the unit points at the installed paths and passes systemd-analyze verify
unit="$tmp/root/lib/systemd/system/tandem.service"
bad=$(grep -n 'ExecStart' "$unit" | grep -v '=/usr/sbin/tandem .*--config /etc/tandem/tandem.conf$')
grep -q '^ExecStart=' "$unit" || bad="no ExecStart"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit" || bad="$bad
no SIGHUP reload"
if command -v systemd-analyze >/dev/null 2>&1; then
	# the checked unit runs the DESTDIR copy; man finds the DESTDIR pages
	sed "s|/usr/sbin/tandem|$tmp/root/usr/sbin/tandem|g" "$unit" >"$tmp/tandem.service"
	bad="$bad$(MANPATH="$tmp/root/usr/share/man" systemd-analyze verify "$tmp/tandem.service" 2>&1)"
	check "tandem.service passes systemd-analyze verify" "$bad"
else
	notok "tandem.service: systemd-analyze missing (contrib/install-deps.sh installs systemd)"
fi

# 6. an operator's tandem.conf survives a reinstall
echo "# mine" >"$tmp/root/etc/tandem/tandem.conf"
mk install || cat "$tmp/make.log" | sed 's/^/# /'
bad=$(echo "# mine" | diff - "$tmp/root/etc/tandem/tandem.conf")
check "reinstall leaves an operator's tandem.conf alone" "$bad"

# 7. uninstall removes what install put (and only that)
rm "$tmp/root/etc/tandem/tandem.conf"
mk uninstall || cat "$tmp/make.log" | sed 's/^/# /'
left=$(find "$tmp/root" -type f)
check "make uninstall removes every installed file" "$left"

# 8. the release tarball carries every tracked file (what make distcheck
# most often trips on: a file missing from EXTRA_DIST or a _SOURCES list)
src=${top_srcdir:-.}
ball=$(sed -n 's/^PACKAGE_TARNAME = //p' Makefile)-$(sed -n 's/^PACKAGE_VERSION = //p' Makefile)
if ${MAKE:-make} -s dist-gzip >"$tmp/make.log" 2>&1 && mv "$ball.tar.gz" "$tmp/" &&
	git -C "$src" ls-files >"$tmp/tracked" 2>/dev/null && [ -s "$tmp/tracked" ]; then
	tar tzf "$tmp/$ball.tar.gz" | sed "s#^$ball/##" | sort >"$tmp/inball"
	missing=$(grep -v -e '^\.gitignore$' -e '/\.keep$' "$tmp/tracked" | sort |
		comm -23 - "$tmp/inball")
	check "make dist carries every tracked file" "$missing"
else
	notok "make dist carries every tracked file"
	sed 's/^/# /' "$tmp/make.log" | tail -20
fi

[ "$fails" -eq 0 ]
