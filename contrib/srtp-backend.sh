#!/bin/sh
# srtp-backend.sh LIBDIR: prints the crypto backend of LIBDIR/libsrtp2.so
# (openssl, nss or builtin), read from the shared object's DT_NEEDED entries.
# configure uses it to refuse Debian's NSS build (see contrib/install-deps.sh).
lib=$1/libsrtp2.so
[ -e "$lib" ] || { echo missing; exit 1; }
needed=$(LC_ALL=C readelf -d "$lib" 2>/dev/null | grep NEEDED)
case $needed in
*libnss3*) echo nss ;;
*libcrypto*) echo openssl ;;
*) echo builtin ;;
esac
