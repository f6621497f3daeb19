#!/bin/sh
# Cross-build the Windows x64 agent's dependencies from Debian's own source
# packages (issue 18 item 1; ../shared/reference/machine-notes.md "Cross-
# building for Windows"). Only Debian's archive is used: the mingw-w64
# toolchain, cmake, wine64 and nsis (the installer, `make windows-installer`)
# come from it as binary packages, the libraries
# as source packages (`apt-get source`, with a deb-src entry added when the
# machine has none). Each library is built static for x86_64-w64-mingw32 and
# installed under $WIN/deps (include/, lib/), which `make windows` uses.
#
#   sh deploy/windows/deps.sh [BUILD_DIR]     (default build; WIN=BUILD/win)
#   JOBS=n (default nproc) parallel compiles; WIN_DEPS_FETCH_ONLY=1 installs
#   the tools and unpacks the sources, and builds nothing.
#
# Idempotent: a package already unpacked is not fetched again, a library
# already installed (its stamp in $WIN/deps/stamps) is not rebuilt; a second
# run with everything in place needs neither root nor network.
#
# What the agent links (Makefile, agent link line): libzmq, protobuf-c,
# libsodium, sqlite3, inih, jansson, libcsv, libxml2 (ADX import),
# libmicrohttpd (the officer's page, `open`: linked in on Windows, where
# Linux dlopen()s it; agent/page.c); its unit tests cmocka. Not built here:
# czmq, libpq, xlsxwriter (aggregator only).
set -eu
BUILD=${1:-build}
WIN=${WIN:-$BUILD/win}
HOST=x86_64-w64-mingw32
TOOLS="gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 cmake wine64 dpkg-dev \
autoconf automake libtool tcl nsis"
# Debian source package names, in build order.
# libmicrohttpd last but one: windows.mk runs this script while its stamp
# is missing (a deps directory made before it was added gets just it, and
# libxml2 when that is missing too).
SRCPKGS="libsodium zeromq3 sqlite3 protobuf-c jansson libcsv cmocka libxml2 \
libmicrohttpd libinih"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { echo "windows-deps: $*" >&2; }
SUDO=""
need_root() {
    [ "$(id -u)" = 0 ] && return 0
    command -v sudo >/dev/null 2>&1 || { say "$1: run as root or install sudo"; exit 1; }
    SUDO=sudo
}

# 1. Tools from the archive, when missing.
missing=""
for p in $TOOLS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    need_root "missing packages:$missing"
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$WIN/src" "$WIN/deps/stamps" "$WIN/deps/include" "$WIN/deps/lib"
SRC=$(cd "$WIN/src" && pwd)
DEPS=$(cd "$WIN/deps" && pwd)

# 2. A deb-src entry, when the machine has none: a copy of its deb entries.
have_src() { grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; }
fetch_needed=""
for s in $SRCPKGS; do
    [ -f "$DEPS/stamps/$s" ] || ls -d "$SRC/$s"-*/ >/dev/null 2>&1 || fetch_needed="$fetch_needed $s"
done
if [ -n "$fetch_needed" ] && ! have_src; then
    need_root "no deb-src entry"
    say "adding /etc/apt/sources.list.d/cdsync-src.sources (deb-src copy of debian.sources)"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        | $SUDO tee /etc/apt/sources.list.d/cdsync-src.sources >/dev/null
    $SUDO apt-get update -qq
fi

# 3. The source packages, unpacked under $SRC (no build dependencies asked:
# the cross-build needs only the toolchain above). One at a time, so one
# missing file does not stop the others. When the mirror lacks a file
# (libinih's orig tarball was 404 on deb.debian.org here, 2026-12-03) it is
# taken from snapshot.debian.org at the date the machine's sources name
# (SNAPSHOT to override): still Debian's archive, and dpkg-source checks it
# against the .dsc that apt fetched and verified.
SNAPSHOT=${SNAPSHOT:-$(sed -n 's|^# *\(http://snapshot.debian.org/archive/debian/[0-9TZ]*\).*|\1|p' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)}
fetch_src() {
    (cd "$SRC" && apt-get source -qq "$1" >/dev/null 2>&1) && return 0
    [ -n "$SNAPSHOT" ] || { say "$1: apt-get source failed and no snapshot URL"; return 1; }
    say "$1: apt-get source failed; taking the missing files from $SNAPSHOT"
    apt-get source --print-uris -qq "$1" | tr -d "'" | while read -r uri name _; do
        [ -s "$SRC/$name" ] && continue
        curl -fsS --max-time 300 -o "$SRC/$name" "$SNAPSHOT/${uri#*/debian/}" || exit 1
    done || return 1
    dsc=$(ls "$SRC/$1"_*.dsc | head -n 1)
    (cd "$SRC" && dpkg-source -q -x "$(basename "$dsc")" >/dev/null)
}
unfetched=""
for s in $fetch_needed; do
    say "apt-get source $s"
    [ "$s" = libinih ] && [ -n "${INIH_SRC:-}" ] && continue
    fetch_src "$s" || { say "$s: cannot fetch its source package"; unfetched="$unfetched $s"; }
done
srcdir() { ls -d "$SRC/$1"-*/ | head -n 1; }
# WIN_DEPS_FETCH_ONLY=1: stop here, with all that needs apt or the network
# done (.ci/run then compiles in the background, beside the test suite).
[ "${WIN_DEPS_FETCH_ONLY:-}" = 1 ] && { say "fetched:$fetch_needed"; exit 0; }

# A CMake toolchain file for the mingw compilers.
TC="$DEPS/mingw.cmake"
cat > "$TC" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER $HOST-gcc)
set(CMAKE_CXX_COMPILER $HOST-g++)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$HOST $DEPS)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF

# 4. One function per library. Each builds out of tree under $WIN/obj/NAME.
mkdir -p "$WIN/obj"; OBJ=$(cd "$WIN/obj" && pwd)
CC_W="$HOST-gcc"
AR_W="$HOST-ar"
cflags="-O2 -D_WIN32_WINNT=0x0601"

build_libsodium() {
    d=$(srcdir libsodium); o="$OBJ/libsodium"; mkdir -p "$o"
    # Debian's orig tarball is the git tree: no configure until autogen.
    [ -x "$d/configure" ] || (cd "$d" && ./autogen.sh -s) >"$o.log" 2>&1
    (cd "$o" && "$d/configure" -q --host=$HOST --prefix="$DEPS" \
        --disable-shared --enable-static --disable-pie CFLAGS="$cflags" \
        && make -s -j"$JOBS" && make -s install) >>"$o.log" 2>&1
}
# Unity build (CMake batches the 101 .cpp files, 8 to a compile): the same
# library for about a quarter of the CPU, since each source parses the same
# heavy headers again (2026-12-03: 55 CPU-s in all; 5 of the files took
# 10.5 CPU-s one by one, 3.7 as one; libzmq was 391 of this script's 825 s).
# CURVE through the libsodium built above, as Debian's libzmq does: the
# built-in tweetnacl defines crypto_sign, randombytes and sodium_init too,
# and the agent links libsodium (two definitions).
build_zeromq3() {
    d=$(srcdir zeromq3); o="$OBJ/zeromq3"; mkdir -p "$o"
    (cmake -S "$d" -B "$o" -DCMAKE_TOOLCHAIN_FILE="$TC" \
        -DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cflags" \
        -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DWITH_DOCS=OFF \
        -DENABLE_CURVE=ON -DWITH_LIBSODIUM=ON -DWITH_LIBSODIUM_STATIC=ON \
        -DSODIUM_INCLUDE_DIRS="$DEPS/include" \
        -DSODIUM_LIBRARIES="$DEPS/lib/libsodium.a" -DZMQ_HAVE_IPC=0 \
        -DZMQ_CV_IMPL=win32api -DENABLE_DRAFTS=OFF -DENABLE_PRECOMPILED=OFF \
        -DCMAKE_UNITY_BUILD=ON \
        && cmake --build "$o" -j "$JOBS" && cmake --install "$o") >"$o.log" 2>&1
    # libzmq names its static library after the toolset; the agent links -lzmq.
    for a in "$DEPS"/lib/libzmq*.a; do
        [ "$a" = "$DEPS/lib/libzmq.a" ] || cp "$a" "$DEPS/lib/libzmq.a"
    done
}
# sqlite3: Debian ships the canonical tree; its configure makes the
# amalgamation with host tools (tclsh, a native lemon), which is then
# cross-compiled on its own.
build_sqlite3() {
    d=$(srcdir sqlite3); o="$OBJ/sqlite3"; mkdir -p "$o"
    (cd "$o" && "$d/configure" -q --disable-tcl && make -s sqlite3.c \
        && $CC_W $cflags -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION \
            -c sqlite3.c -o sqlite3.o \
        && $AR_W rcs "$DEPS/lib/libsqlite3.a" sqlite3.o \
        && cp sqlite3.h "$DEPS/include/") >"$o.log" 2>&1
}
# Single-file libraries: the runtime part only, compiled directly (their
# build systems would also build host tools: protoc-c, tests).
build_one() { # name objdir sources... (headers copied by the caller)
    n=$1; o="$OBJ/$n"; shift; mkdir -p "$o"; objs=""
    for f in "$@"; do
        b=$(basename "$f" .c)
        $CC_W $cflags -I"$DEPS/include" -c "$f" -o "$o/$b.o" >>"$o.log" 2>&1 || return 1
        objs="$objs $o/$b.o"
    done
    # shellcheck disable=SC2086
    $AR_W rcs "$DEPS/lib/lib$n.a" $objs
}
build_protobuf_c() {
    d=$(srcdir protobuf-c); mkdir -p "$DEPS/include/protobuf-c"
    cp "$d/protobuf-c/protobuf-c.h" "$DEPS/include/protobuf-c/"
    build_one protobuf-c "$d/protobuf-c/protobuf-c.c"
}
build_cmocka() {
    d=$(srcdir cmocka); o="$OBJ/cmocka"; mkdir -p "$o"
    (cmake -S "$d" -B "$o" -DCMAKE_TOOLCHAIN_FILE="$TC" \
        -DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$cflags" -DWITH_STATIC_LIB=ON -DUNIT_TESTING=OFF \
        -DWITH_EXAMPLES=OFF -DPICKY_DEVELOPER=OFF \
        && cmake --build "$o" -j "$JOBS" && cmake --install "$o") >"$o.log" 2>&1
    # The static library is named cmocka-static; the tests link -lcmocka.
    [ -f "$DEPS/lib/libcmocka-static.a" ] && cp "$DEPS/lib/libcmocka-static.a" "$DEPS/lib/libcmocka.a"
    [ -f "$DEPS/lib/libcmocka.a" ]
}
# libinih: its orig tarball is missing from the mirror here (404 on
# deb.debian.org, 2026-12-03, while its .dsc is there). INIH_SRC names an
# unpacked Debian libinih source package fetched elsewhere (`apt-get source
# libinih`); without it the Windows build uses kernel32's INI reader
# (common/win32/inih/, docs/WINDOWS.md "INI files").
build_libinih() {
    d=${INIH_SRC:-$(srcdir libinih)}; cp "$d/ini.h" "$DEPS/include/"
    build_one inih "$d/ini.c"
}
build_libcsv() {
    d=$(srcdir libcsv); cp "$d/csv.h" "$DEPS/include/"
    build_one csv "$d/libcsv.c"
}
build_jansson() {
    d=$(srcdir jansson); o="$OBJ/jansson"; mkdir -p "$o"
    (cmake -S "$d" -B "$o" -DCMAKE_TOOLCHAIN_FILE="$TC" \
        -DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$cflags" -DJANSSON_BUILD_SHARED_LIBS=OFF \
        -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON \
        && cmake --build "$o" -j "$JOBS" && cmake --install "$o") >"$o.log" 2>&1
}
# The reader and writer cds_adx.c uses; no iconv, zlib, lzma, ICU or
# network (UTF-8 documents only, as on Linux in practice).
build_libxml2() {
    d=$(srcdir libxml2); o="$OBJ/libxml2"; mkdir -p "$o"
    (cmake -S "$d" -B "$o" -DCMAKE_TOOLCHAIN_FILE="$TC" \
        -DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="$cflags" -DBUILD_SHARED_LIBS=OFF \
        -DLIBXML2_WITH_ICONV=OFF -DLIBXML2_WITH_LZMA=OFF -DLIBXML2_WITH_ZLIB=OFF \
        -DLIBXML2_WITH_ICU=OFF -DLIBXML2_WITH_PYTHON=OFF -DLIBXML2_WITH_HTTP=OFF \
        -DLIBXML2_WITH_FTP=OFF -DLIBXML2_WITH_MODULES=OFF \
        -DLIBXML2_WITH_PROGRAMS=OFF -DLIBXML2_WITH_TESTS=OFF \
        && cmake --build "$o" -j "$JOBS" && cmake --install "$o") >"$o.log" 2>&1
}
# The officer's page listens on 127.0.0.1 only: no HTTPS (no GnuTLS), no
# authentication helpers (the page has its own one-time link), no post
# processor, no docs, examples or curl tests. Threads: configure's choice,
# Windows' own (its forced --with-threads=w32 check fails here because
# winpthreads' pthread.h is found first).
build_libmicrohttpd() {
    d=$(srcdir libmicrohttpd); o="$OBJ/libmicrohttpd"; mkdir -p "$o"
    (cd "$o" && "$d/configure" -q --host=$HOST --prefix="$DEPS" \
        --disable-shared --enable-static --disable-https --without-gnutls \
        --disable-bauth --disable-dauth --disable-postprocessor \
        --disable-httpupgrade --disable-doc --disable-examples --disable-curl \
        --disable-nls CFLAGS="$cflags" \
        && make -s -j"$JOBS" -C src/microhttpd \
        && make -s -C src/microhttpd install \
        && make -s -C src/include install) >"$o.log" 2>&1
}

for s in $SRCPKGS; do
    [ -f "$DEPS/stamps/$s" ] && continue
    case " $unfetched " in *" $s "*) continue ;; esac
    say "building $s"
    t0=$(date +%s)
    if ! "build_$(echo "$s" | tr - _)"; then
        say "$s: build failed; logs in $OBJ"
        ls -t "$OBJ"/*.log | head -n 1 | xargs tail -n 20 >&2 || true
        exit 1
    fi
    echo "$(($(date +%s) - t0))s" > "$DEPS/stamps/$s"
    say "$s built in $(cat "$DEPS/stamps/$s")"
done
# libinih alone missing is not fatal: the build then uses kernel32's INI
# reader (common/win32/inih/, docs/WINDOWS.md "INI files").
unfetched=$(echo "$unfetched" | sed 's/ libinih//')
if [ -n "$unfetched" ]; then
    say "INCOMPLETE: no source for:$unfetched (the others are built in $DEPS)"
    exit 2
fi
[ -f "$DEPS/include/ini.h" ] || say "no libinih: kernel32's INI reader is used (docs/WINDOWS.md)"
say "ready: $DEPS"
