#!/usr/bin/env bash
# mod_scim build entry point.
#   ./build.sh [build]   module to build/mod_scim.so (through apxs), token tool
#                        to build/scim-token
#   ./build.sh test      unit tests, then integration tests against real httpd
#   ./build.sh run       a local demo httpd with a demo organization
#   ./build.sh unit      unit tests only (on PostgreSQL too when
#                        SCIM_TEST_PGSQL_PARAMS names a server)
#   ./build.sh pgsql-unit unit tests with a throw-away PostgreSQL server
#   ./build.sh fuzz [s]  libFuzzer targets of the core, s seconds each (60)
#   ./build.sh bench [--users N] [--duration S] [--mpm event|prefork]
#                    [--db sqlite|pgsql|both]
#                        wrk against a real httpd: build/bench/results.{json,md}
#                        (pgsql: a throw-away PostgreSQL with durable commits)
#   ./build.sh bench --create N [--writers W] [--mpm M] [--db D]
#                        W connections create N users; 503s and lost writes
#   ./build.sh bench --rss N [--mpm M] [--db D]
#                        a mixed workload; the workers' RSS at N/10 and N
#   ./build.sh bench --queries N [--mpm M] [--db D]
#                        off-index filters and sorts over N users; memory
#   ./build.sh deb       Debian package build/deb/libapache2-mod-scim_*.deb
#   ./build.sh deps      install the Debian packages that are missing
#   ./build.sh clean     remove build/
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"
src="$top/mod_scim"
PYTHON=/usr/bin/python3

packages=(apache2 apache2-dev libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql
          postgresql libjansson-dev
          libssl-dev check libsubunit-dev pkg-config gcc make sqlite3
          python3-pytest python3-requests curl valgrind wrk
          libapache2-mod-auth-mellon simplesamlphp php-cli php-xml chromium)

# As root, the httpd children of the tests, the benchmark and the demo run
# as www-data and must reach their ServerRoots under build/.  A clone in a
# private folder (mktemp -d makes it 0700) gets the search bit (o+x, never
# read) on each folder above build/ that www-data cannot pass.
server_user_can_reach_build() {
    [ "$(id -u)" = 0 ] || return 0
    local d="" part
    mkdir -p "$build"
    IFS=/ read -r -a parts <<< "${build#/}"
    for part in "${parts[@]}"; do
        d="$d/$part"
        if ! runuser -u www-data -- test -x "$d" 2>/dev/null; then
            echo "giving www-data passage (o+x) through $d"
            chmod o+x "$d"
        fi
    done
}

deps() {
    local missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

cflags_common() {
    echo "-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter ${SCIM_WERROR:+-Werror}"
}

# The Apache-independent core, compiled once into build/libscimcore.a:
# the module and the unit tests link these same objects, so the tests
# exercise the code that ships.
core_sources() {
    ls "$src"/scim_*.c
}

build_core() {
    mkdir -p "$build/core"
    local objs=() f o
    for f in $(core_sources); do
        o="$build/core/$(basename "${f%.c}").o"
        gcc $(cflags_common) -g -O2 -fPIC $(pkg-config --cflags apr-1 apr-util-1 jansson) \
            -c "$f" -o "$o"
        objs+=("$o")
    done
    rm -f "$build/libscimcore.a"
    ar rcs "$build/libscimcore.a" "${objs[@]}"
}

# What apxs printed, without libtool's echo of its commands and its warning
# that a static archive linked into a shared object "is not portable": the
# core archive is compiled with -fPIC for exactly that.
apxs_messages() {
    grep -v -e '^/usr/share/apr-1.0/build/libtool' -e '^libtool: ' -e '^$' \
        -e '^\*\*\* Warning: Linking the shared library ' \
        -e '^\*\*\* static library .* is not portable!$' "$1"
}

# The Apache glue (mod_scim*.c), compiled by apxs and linked with the core
# archive that build_core made.
build_module() {
    # apxs (libtool) writes its objects beside the sources it is given, so it
    # compiles links to our sources from inside build/obj.
    mkdir -p "$build/obj"
    local f names=() log="$build/obj/apxs.log"
    for f in "$src"/mod_scim*.c; do
        ln -sf "$f" "$build/obj/$(basename "$f")"
        names+=("$(basename "$f")")
    done
    rm -f "$build/obj/.libs/mod_scim.so"
    if ! (cd "$build/obj" && apxs -c -o mod_scim.la -I"$src" \
            -Wc,"$(cflags_common)" $(pkg-config --cflags jansson) \
            "${names[@]}" "$build/libscimcore.a" \
            $(pkg-config --libs jansson) -lcrypto) > "$log" 2>&1; then
        apxs_messages "$log" >&2
        echo "module build failed (full log: $log)" >&2
        exit 1
    fi
    apxs_messages "$log" || true
    # A new file, renamed into place: a running httpd keeps its mapping.
    cp "$build/obj/.libs/mod_scim.so" "$build/mod_scim.so.new"
    mv -f "$build/mod_scim.so.new" "$build/mod_scim.so"
}

build_token_tool() {
    gcc $(cflags_common) -O2 "$src/tools/scim-token.c" -o "$build/scim-token" \
        -lcrypto
}

do_build() {
    mkdir -p "$build"
    build_core
    build_module
    build_token_tool
    echo "built $build/mod_scim.so and $build/scim-token"
}

# The unit tests, linked with the core archive that build_core made.
build_unit() {
    gcc $(cflags_common) -g -O0 -I"$src" $(pkg-config --cflags apr-1 apr-util-1 jansson check) \
        "$top"/tests/unit/*.c "$build/libscimcore.a" \
        $(pkg-config --libs apr-1 apr-util-1 jansson check) -o "$build/unit-tests"
}

do_unit() {
    (cd "$build" && CK_FORK=yes ./unit-tests)
}

# The same tests in one process under valgrind: any invalid access or leak
# in the core fails the run.
do_unit_valgrind() {
    echo "== unit tests under valgrind =="
    (cd "$build" && CK_FORK=no valgrind -q --leak-check=full \
        --errors-for-leak-kinds=definite --error-exitcode=1 ./unit-tests)
}

# The suite on SQLite under each MPM, then on PostgreSQL under the first
# (SCIM_TEST_DBS=sqlite skips PostgreSQL; SCIM_TEST_DBS=pgsql runs only it).
do_integration() {
    local mpm rc=0 dbs=${SCIM_TEST_DBS:-sqlite pgsql}
    local mpms=(${SCIM_TEST_MPMS:-event prefork})
    if [[ " $dbs " == *" sqlite "* ]]; then
        for mpm in "${mpms[@]}"; do
            echo "== integration tests, mpm_$mpm, sqlite3 =="
            SCIM_TEST_DB=sqlite SCIM_TEST_MPM=$mpm $PYTHON -m pytest -q \
                -p no:cacheprovider "$top/tests/integration" "$@" || rc=$?
            [ $rc -eq 0 ] || return $rc
        done
    fi
    if [[ " $dbs " == *" pgsql "* ]]; then
        pg_start
        echo "== integration tests, mpm_${mpms[0]}, pgsql =="
        SCIM_TEST_DB=pgsql SCIM_TEST_MPM=${mpms[0]} $PYTHON -m pytest -q \
            -p no:cacheprovider "$top/tests/integration" "$@" || rc=$?
    fi
    return $rc
}

# ---- PostgreSQL for the tests ---------------------------------------------
# A throw-away cluster: initdb in a temporary folder (as the unprivileged
# "postgres" user when we are root), listening on 127.0.0.1 on a free port
# and a socket in that folder only, trust authentication for the role
# "scim", stopped and removed when this script exits.  fsync=off: every
# test server gets a database of its own, and syncing their thousands of
# files made each restart take a minute; a restart or a killed httpd loses
# nothing without it (only an operating system crash would).  The tests find it
# through SCIM_TEST_PGSQL_PARAMS (apr_dbd's parameters) and SCIM_TEST_PG_*.
# "pg_start durable" (the benchmark's) keeps fsync=on and
# synchronous_commit=on, so that each commit waits for the disk as
# SQLite's synchronous=FULL does, and logs lock waits longer than
# deadlock_timeout (1 s).
pg_dir=""

pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_stop() {
    [ -n "$pg_dir" ] || return 0
    pg_as_owner "$SCIM_TEST_PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate \
        -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
}

pg_start() {
    [ -z "$pg_dir" ] || return 0
    local bin port mode=${1:-tests} settings="-c fsync=off"
    if [ "$mode" = durable ]; then
        settings="-c fsync=on -c synchronous_commit=on -c log_lock_waits=on"
    fi
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    port=$($PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_dir=$(mktemp -d /tmp/scim-pg.XXXXXX)
    trap pg_stop EXIT
    [ "$(id -u)" != 0 ] || chown postgres: "$pg_dir"
    pg_as_owner "$bin/initdb" -D "$pg_dir/data" -U scim --auth=trust \
        -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 \
        || { cat "$pg_dir/initdb.log" >&2; return 1; }
    export SCIM_TEST_PG_BIN=$bin SCIM_TEST_PG_DATA=$pg_dir/data
    export SCIM_TEST_PG_PORT=$port SCIM_TEST_PG_SOCKETS=$pg_dir
    pg_as_owner "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c max_connections=300 $settings" \
        start >/dev/null || { cat "$pg_dir/server.log" >&2; return 1; }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U scim scim_unit
    export SCIM_TEST_PGSQL_PARAMS="host=127.0.0.1 port=$port dbname=scim_unit user=scim"
    if [ "$mode" = durable ]; then
        echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the benchmark on" \
             "127.0.0.1:$port: fsync=on, synchronous_commit=on (durable commits, as" \
             "SQLite's synchronous=FULL); log: $pg_dir/server.log"
    else
        echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$port"
    fi
}

# libFuzzer targets of the core (tests/fuzz), under AddressSanitizer and
# UndefinedBehaviorSanitizer.  Not part of "test": a fuzzing run is not
# deterministic.  Each target runs over build/fuzz/corpus/<target>, a copy
# of its seeds that keeps what earlier runs found; findings go to
# build/fuzz/artifacts/<target>/.
fuzz_targets=(fuzz_filter fuzz_patch fuzz_resource fuzz_request)
fuzz_packages=(clang libclang-rt-14-dev)

# The core the targets link: the store and the service stages that read it
# (rendering, lists, writes) need a database and are not fuzzed here; the
# request decoding is.
fuzz_sources() {
    core_sources | grep -v -e '/scim_service.c$' -e '/scim_store[a-z_]*\.c$' \
        -e '/scim_db.c$' -e '/scim_render.c$' -e '/scim_query.c$'
    echo "$top/tests/fuzz/fuzz_common.c"
}

build_fuzz() {
    local out="$build/fuzz" f o t objs=()
    local san="-fsanitize=address,undefined -fno-sanitize-recover=all"
    mkdir -p "$out/obj"
    for f in $(fuzz_sources); do
        o="$out/obj/$(basename "${f%.c}").o"
        clang $(cflags_common) -g -O1 -fno-omit-frame-pointer $san \
            -fsanitize=fuzzer-no-link -I"$src" \
            $(pkg-config --cflags apr-1 jansson) -c "$f" -o "$o"
        objs+=("$o")
    done
    for t in "${fuzz_targets[@]}"; do
        clang $(cflags_common) -g -O1 -fno-omit-frame-pointer $san \
            -fsanitize=fuzzer -I"$src" $(pkg-config --cflags apr-1 jansson) \
            "$top/tests/fuzz/$t.c" "${objs[@]}" \
            $(pkg-config --libs apr-1 apr-util-1 jansson) -o "$out/$t"
    done
}

do_fuzz() {
    local seconds=${1:-60} out="$build/fuzz" t corpus log dict failed=()
    case "$seconds" in
        ''|*[!0-9]*) echo "usage: $0 fuzz [seconds-per-target]" >&2; exit 2 ;;
    esac
    build_fuzz
    for t in "${fuzz_targets[@]}"; do
        corpus="$out/corpus/$t"
        log="$out/$t.log"
        mkdir -p "$corpus" "$out/artifacts/$t"
        cp "$top/tests/fuzz/corpus/$t"/* "$corpus"/
        dict=()
        [ -f "$top/tests/fuzz/$t.dict" ] && dict=(-dict="$top/tests/fuzz/$t.dict")
        echo "== $t: ${seconds}s (log: $log) =="
        if (cd "$out" && ASAN_OPTIONS=detect_leaks=1 \
                UBSAN_OPTIONS=print_stacktrace=1 \
                "./$t" -max_total_time="$seconds" -timeout=5 \
                -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
                "${dict[@]}" "$corpus") > "$log" 2>&1; then
            grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
        else
            grep -E -A 30 '^==[0-9]+==|check failed|runtime error|Test unit written|ERROR: libFuzzer' \
                "$log" | head -n 60 >&2 || true
            failed+=("$t")
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzzing found problems in: ${failed[*]} (inputs in $out/artifacts)" >&2
        exit 1
    fi
    echo "fuzzing: no findings"
}

# The benchmark (tests/bench/bench.py): wrk against a real httpd on
# 127.0.0.1 started by the integration harness, beside its ceilings (a
# static file, Basic auth, build/commit_rate: the store's durable commits).
# Arguments go to bench.py (--users N --duration S --mpm M --db D --out DIR,
# --create N --writers W, --rss N, --queries N).  Fails on errors (non-2xx reads,
# crashes; in the creation run 503s and lost writes), never on speed.
# Does the benchmark's command line ask for PostgreSQL?
bench_wants_pgsql() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --db=pgsql|--db=both) return 0 ;;
            --db) [ "${2:-}" = pgsql ] || [ "${2:-}" = both ] && return 0 ;;
        esac
        shift
    done
    return 1
}

do_bench() {
    gcc $(cflags_common) -O2 $(pkg-config --cflags apr-1 apr-util-1) \
        "$top/tests/bench/commit_rate.c" $(pkg-config --libs apr-1 apr-util-1) \
        -o "$build/commit_rate"
    $PYTHON "$top/tests/bench/bench.py" "$@"
}

# The Debian package libapache2-mod-scim.  The packaging (conf/debian/) and
# the sources are copied to build/deb/libapache2-mod-scim/, where
# dpkg-buildpackage builds the package from scratch: its debian/rules calls
# this script's "deb-build", which compiles what Build-Depends provides.
# The .deb lands in build/deb/.
deb_name=libapache2-mod-scim
deb_packages=(debhelper dpkg-dev fakeroot)

scim_version() {
    sed -n 's/^#define SCIM_VERSION "\([^"]*\)"$/\1/p' "$src/scim_version.h"
}

# debian/changelog: the first Debian revision of the version being built;
# dh_installchangelogs installs the project's CHANGELOG beside it.
deb_changelog() {
    cat <<EOT
mod-scim ($1-1) unstable; urgency=medium

  * Package of mod_scim $1 (its changes: changelog.gz beside this file).

 -- $(sed -n 's/^Maintainer: //p' "$top/conf/debian/control")  $(date -R)
EOT
}

do_deb() {
    local version out="$build/deb" pkg="$build/deb/$deb_name"
    version=$(scim_version)
    if [ -z "$version" ]; then
        echo "no SCIM_VERSION in $src/scim_version.h" >&2
        exit 1
    fi
    rm -rf "$out"
    mkdir -p "$pkg"
    cp -r "$src" "$top/conf" "$top/build.sh" "$top/README.md" "$top/CHANGELOG" \
        "$top/LICENSE" "$pkg/"
    cp -r "$top/conf/debian" "$pkg/debian"
    deb_changelog "$version" > "$pkg/debian/changelog"
    if ! (cd "$pkg" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1; then
        tail -n 40 "$out/build.log" >&2
        echo "package build failed (full log: $out/build.log)" >&2
        exit 1
    fi
    echo "built $(ls "$out/${deb_name}_${version}"-1_*.deb)"
}

# A real httpd on 127.0.0.1 with the demo organization of conf/demo.conf.in.
# Builds unless build/ is newer than every source (what "run" wants).
build_if_needed() {
    if [ -f "$build/mod_scim.so" ] && [ -f "$build/scim-token" ] \
       && [ -z "$(find "$src" -newer "$build/mod_scim.so" -print -quit)" ]; then
        return 0
    fi
    do_build
}

run_usage() {
    echo "usage: $0 run [--port N]   (or SCIM_PORT=N; default 8080)" >&2
    exit 2
}

# Whether something already accepts connections on 127.0.0.1:port.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

do_run() {
    local port=${SCIM_PORT:-8080} root=${SCIM_DEMO_ROOT:-$build/demo}
    local token hash user_lines=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --port) [ $# -ge 2 ] || run_usage; port=$2; shift 2 ;;
            *) run_usage ;;
        esac
    done
    case "$port" in
        ''|*[!0-9]*) run_usage ;;
    esac
    if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
        run_usage
    fi
    # Before a token is printed: a server that cannot listen is no demo.
    if port_in_use "$port"; then
        echo "port $port on 127.0.0.1 is already in use: stop what listens" \
             "there, or pick another with $0 run --port N" >&2
        exit 1
    fi
    mkdir -p "$root"
    token=$("$build/scim-token" | sed -n 's/^Bearer token: //p')
    hash=$(printf '%s\n' "$token" | "$build/scim-token" -s | sed 's/^ScimToken sha256://')
    if [ "$(id -u)" = 0 ]; then
        # httpd's children drop root; they must own the database directory.
        user_lines="User www-data
Group www-data"
        chown www-data:www-data "$root"
    fi
    sed -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" \
        -e "s|@MODDIR@|/usr/lib/apache2/modules|g" \
        -e "s|@MODULE@|$build/mod_scim.so|g" -e "s|@TOKEN_SHA256@|$hash|g" \
        "$top/conf/demo.conf.in" | awk -v u="$user_lines" '{ if ($0 == "@USER_LINES@") print u; else print }' \
        > "$root/httpd.conf"
    cat <<EOT

mod_scim demo server (Ctrl-C stops it)
  SCIM endpoint: http://127.0.0.1:$port/scim/v2/demo
  Bearer token:  $token
  Try:  curl -H "Authorization: Bearer $token" http://127.0.0.1:$port/scim/v2/demo/Users
  Logs: $root/error.log
  Data: $root/scim.db (kept between runs; stop the server and delete
        $root/scim.db* to start afresh)

EOT
    exec /usr/sbin/apache2 -d "$root" -f "$root/httpd.conf" -DFOREGROUND
}

case "${1:-build}" in
    build) deps; do_build ;;
    deps)  deps ;;
    unit)  deps; build_core; build_unit; do_unit ;;
    fuzz)  shift; packages+=("${fuzz_packages[@]}"); deps; do_fuzz "$@" ;;
    deb)   packages+=("${deb_packages[@]}"); deps; do_deb ;;
    # debian/rules' build, inside build/deb/: Build-Depends installed it all
    deb-build) do_build ;;
    test)  shift; deps; server_user_can_reach_build
           SCIM_WERROR=1 do_build; SCIM_WERROR=1 build_unit
           pg_start; do_unit; do_unit_valgrind; do_integration "$@"
           do_bench --users 200 --duration 1 --warmup 0 --db both \
               --out "$build/bench-smoke"
           for db in sqlite pgsql; do
               do_bench --queries 300 --db $db --out "$build/bench-smoke-queries-$db"
           done ;;
    integration) shift; server_user_can_reach_build; do_build
           do_integration "$@" ;;
    pgsql-unit) deps; build_core; build_unit; pg_start; do_unit ;;
    bench) shift; deps; server_user_can_reach_build; do_build
           if bench_wants_pgsql "$@"; then pg_start durable; fi
           do_bench "$@" ;;
    run)   shift; deps; server_user_can_reach_build; build_if_needed
           do_run "$@" ;;
    clean) rm -rf "$build" ;;
    *) echo "usage: $0 [build|test|run|unit|fuzz|bench|deb|deps|clean]" >&2; exit 2 ;;
esac
