#!/usr/bin/env bash
# build.sh — the one script that builds, runs, tests and benchmarks ducta.
#
#   ./build.sh              build ./ducta with release flags
#   ./build.sh run [ARGS]   build, then run ./ducta --root www ARGS (the page
#                           in www/ at /; Ctrl-C stops it)
#   ./build.sh test         build and run every test, plain and under
#                           ASan+UBSan, then each fuzzer (FUZZ_SECONDS, 60
#                           each; one that cannot be built fails the run as
#                           "fuzzer not built: REASON") and the soak
#                           (SOAK_SECONDS, 60; test/soak.sh); ends with
#                           "N passed, N failed"
#   ./build.sh bench [NAME] benchmarks (see bench/README.md); NAME: http,
#                           parse, conns, router, files, flame, smoke, all
#   ./build.sh soak [SECS]  the soak test alone (docs/SOAK.md)
#   ./build.sh fuzz [SECS] [TARGET]  build the libFuzzer targets
#                           test/fuzz_parse.c (the request parser) and
#                           test/fuzz_hpack.c (HPACK) with clang and run each
#                           (or TARGET: parse, hpack) SECS seconds (default
#                           60), seeded from test/fuzz-corpus[-hpack]/; what
#                           it finds goes to build/fuzz/ (TARGET-corpus/,
#                           TARGET-crash-* files; replay one:
#                           build/fuzz/fuzz_TARGET FILE)
#   ./build.sh clean        remove what the script built
#
# Environment: CC (default cc), EXTRA_CFLAGS; FUZZ_SECONDS (default 60): how
# long `test` runs the fuzzer, 0 to skip it; APT_LOCK_TIMEOUT (default 600):
# seconds every apt-get waits for the dpkg lock (bench/lib.sh need_pkgs).
#
# Routes are compiled, not read at run time: build/routegen (routegen.c,
# built with HOSTCC, default CC, and the same flags) turns a routes file
# into build/gen/routes.h, which router.c includes; a mistake in the file
# stops the build with FILE:LINE: message. Your own server in one binary:
#   ROUTES=example/routes.def APP=example/app.c ./build.sh
#     ROUTES   the routes file (default routes.def; its header goes to
#              build/gen-<ROUTES with / as _>/ so builds do not collide)
#     APP      the C file(s) with the handlers it names (space-separated)
#     OUT_BIN  where the binary goes (default ./ducta)
# `test`, `fuzz` and the soak always build with the default routes.def.
set -euo pipefail
cd "$(dirname "$0")"

CC=${CC:-cc}
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -Werror -pthread -Ibuild/gen ${EXTRA_CFLAGS:-}"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
SRC="ducta.c conn.c handler.c parse.c router.c files.c hpack.c"
OUT=build
FUZZ_DIR=$OUT/fuzz
FUZZ_TARGETS="parse hpack"   # test/fuzz_<name>.c, libFuzzer targets
HOSTCC=${HOSTCC:-$CC}
ROUTES=${ROUTES:-routes.def}
APP=${APP:-}
OUT_BIN=${OUT_BIN:-ducta}
ROUTEGEN=$OUT/routegen

LIB_NAME=build.sh
# say, need_pkgs (the one apt-get installer, with the dpkg lock timeout)
# shellcheck source=bench/lib.sh
source bench/lib.sh

# The route generator, rebuilt when its source is newer (into a temporary
# name first: another build may be running it).
build_routegen() {
    command -v "$HOSTCC" >/dev/null || { say "build.sh: no C compiler ($HOSTCC); apt-get install -y gcc"; exit 1; }
    mkdir -p "$OUT"
    [[ $ROUTEGEN -nt routegen.c && $ROUTEGEN -nt ducta.h ]] && return 0
    $HOSTCC $CFLAGS -o "$ROUTEGEN.$$" routegen.c && mv -f "$ROUTEGEN.$$" "$ROUTEGEN"
}

# gen_routes FILE: compile a routes file into routes.h in its own
# directory (build/gen for routes.def) and print that directory.
gen_routes() {
    local dir=$OUT/gen
    [[ $1 == routes.def ]] || dir=$OUT/gen-$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' _)
    mkdir -p "$dir"
    "$ROUTEGEN" "$1" "$dir/routes.h" || { say "build.sh: $1 has mistakes (above); nothing built"; exit 1; }
    echo "$dir"
}

build_release() {
    command -v "$CC" >/dev/null || { say "build.sh: no C compiler ($CC); apt-get install -y gcc"; exit 1; }
    build_routegen
    local gen
    gen=$(gen_routes "$ROUTES") || exit 1
    mkdir -p "$(dirname "$OUT_BIN")"
    # the routes' own directory first, before -Ibuild/gen in CFLAGS; -I. for
    # the APP files' #include "ducta.h"
    $CC -I"$gen" -I. $CFLAGS -o "$OUT_BIN" $SRC $APP
}

# build_variant NAME "FLAGS": the server and test binaries into build/NAME.
# Each source is compiled once into build/NAME/obj; ducta.c once more with
# -DDUCTA_NO_MAIN (ducta-lib.o), which the test binaries link instead, as
# they bring their own main.
build_variant() {
    local dir=$OUT/$1 flags=$2 t src o objs=() test_objs=()
    mkdir -p "$dir/obj"
    build_routegen
    gen_routes routes.def >/dev/null || exit 1
    for src in $SRC; do
        o=$dir/obj/$(basename "$src" .c).o
        $CC $CFLAGS $flags -c -o "$o" "$src"
        objs+=("$o")
        if [[ $src == ducta.c ]]; then
            o=$dir/obj/ducta-lib.o
            $CC $CFLAGS $flags -DDUCTA_NO_MAIN -c -o "$o" "$src"
        fi
        test_objs+=("$o")
    done
    $CC $CFLAGS $flags -o "$dir/ducta" "${objs[@]}"
    for t in test/test_*.c; do
        $CC $CFLAGS $flags -I. -o "$dir/$(basename "$t" .c)" "$t" "${test_objs[@]}" -lcriterion
    done
}

# ---- fuzzing (test/fuzz_parse.c; the checks it makes are described there) --

# Does clang link a libFuzzer target? Its runtime is in libclang-rt-N-dev,
# which clang-N only recommends.
fuzz_links() {
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' |
        clang -fsanitize=fuzzer -x c - -o "$FUZZ_DIR/link-probe" >/dev/null 2>&1
}

# build_fuzz: build/fuzz/fuzz_<target> and the parser's dictionary. On
# failure, the last line it says is the reason (see fuzz_ready).
build_fuzz() {
    need_pkgs clang:clang || return 1
    mkdir -p "$FUZZ_DIR"
    if ! fuzz_links; then
        # a probe path that never exists: install the package, or say how
        need_pkgs "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev:/nonexistent/libFuzzer" || return 1
        fuzz_links || { say "build.sh: clang cannot link -fsanitize=fuzzer"; return 1; }
    fi
    rm -f "$FUZZ_DIR/link-probe"
    build_routegen || { say "build.sh: the route generator did not build"; return 1; }
    gen_routes routes.def >/dev/null || return 1
    local t
    for t in $FUZZ_TARGETS; do
        clang $CFLAGS -g -DDUCTA_NO_MAIN -I. \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer -o "$FUZZ_DIR/fuzz_$t" "test/fuzz_$t.c" $SRC ||
            { say "build.sh: clang could not compile test/fuzz_$t.c (above)"; return 1; }
    done
    # tokens the mutator splices in, so it gets past the request line
    cat >"$FUZZ_DIR/http.dict" <<'EOF'
"GET "
"POST "
"OPTIONS * "
"CONNECT "
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"http://"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"Host: "
"Content-Length: "
"Transfer-Encoding: chunked\x0d\x0a"
"Transfer-Encoding: "
"chunked"
"Connection: close\x0d\x0a"
"Connection: keep-alive\x0d\x0a"
"Expect: 100-continue\x0d\x0a"
"0\x0d\x0a\x0d\x0a"
";ext=val"
";a=\"b\\\"\""
"ffffffffffffffff"
" HTTP/1.2\x0d\x0a"
"Expect: "
"Connection: "
EOF
}

# run_fuzz TARGET SECS [LOG]: fuzz one built target for SECS seconds; with
# LOG, libFuzzer's output goes there rather than to the terminal. Fails if
# the target crashed. What it finds goes to build/fuzz/<TARGET>-corpus; the
# seeds in test/fuzz-corpus[-TARGET] stay put.
run_fuzz() {
    local t=$1 secs=$2 log=${3:-/dev/stderr} seeds=test/fuzz-corpus args=()
    case $t in
        parse) args=(-max_len=12000 -dict="$FUZZ_DIR/http.dict") ;;
        hpack) args=(-max_len=1024); seeds=test/fuzz-corpus-hpack ;;
    esac
    mkdir -p "$FUZZ_DIR/$t-corpus"
    say "== fuzz: $FUZZ_DIR/fuzz_$t for ${secs}s (corpus $FUZZ_DIR/$t-corpus, seeds $seeds)"
    "$FUZZ_DIR/fuzz_$t" -max_total_time="$secs" -timeout=10 "${args[@]}" \
        -artifact_prefix="$FUZZ_DIR/$t-" -print_final_stats=1 \
        "$FUZZ_DIR/$t-corpus" "$seeds" >"$log" 2>&1
}

# fuzz_ready LOG: build the fuzzers, their output to LOG. If they cannot be
# built (clang missing, apt-get failing, a compile error), say so as
# "fuzzer not built: REASON" — no fuzzing happened, which is not a crash —
# and fail.
fuzz_ready() {
    (build_fuzz) >"$1" 2>&1 && return 0
    tail -n 20 "$1" >&2
    say "   fuzz: FAILED: fuzzer not built: $(grep -a '^build.sh: ' "$1" | tail -n 1 | sed 's/^build.sh: //')"
    return 1
}

run_tests() {
    need_pkgs libcriterion-dev:/usr/include/criterion/criterion.h \
              curl:curl hey:hey python3:python3 || exit 1
    build_release
    build_variant plain ""
    build_variant asan "$SAN"
    local passed=0 failed=0 variant t log
    log=$(mktemp)
    for variant in plain asan; do
        for t in "$OUT/$variant"/test_*; do
            say "== $variant: $(basename "$t")"
            # criterion's summary line: "Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N"
            DUCTA_BIN="$PWD/$OUT/$variant/ducta" ASAN_OPTIONS=detect_leaks=1 \
                "$t" --jobs 1 2>&1 | tee "$log" >&2 || true
            local line p f c
            line=$(grep -a 'Synthesis:' "$log" | tail -n 1 || true)
            if [[ -z $line ]]; then
                say "   (no summary: the test binary died)"; failed=$((failed + 1)); continue
            fi
            p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
            f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
            c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
            passed=$((passed + p)); failed=$((failed + f + c))
        done
    done
    # the fuzzer is one test more: it passes if nothing crashed it. One
    # that cannot be built (clang missing, apt-get failing) fails the run
    # too, said as such: no fuzzing happened, and no crash was found.
    local secs=${FUZZ_SECONDS:-60}
    if ((secs > 0)) && ! fuzz_ready "$log"; then
        failed=$((failed + 1))
    elif ((secs > 0)); then
        local ft
        for ft in $FUZZ_TARGETS; do
            if (run_fuzz "$ft" "$secs" "$log"); then
                passed=$((passed + 1))
                say "   fuzz $ft: no crash in $(grep -a -E '^stat::number_of_executed_units' "$log" | sed 's/.*: *//') inputs; $(find "$FUZZ_DIR/$ft-corpus" -type f | wc -l) in its corpus"
            else
                failed=$((failed + 1))
                grep -a -v -E '^#[0-9]+' "$log" | tail -n 60 >&2
                say "   fuzz $ft: FAILED; the input is in $FUZZ_DIR/$ft-crash-* (see above)"
            fi
        done
    fi
    # the soak is one test more: a mixed, partly hostile load for
    # SOAK_SECONDS (60; 0 skips), under ASan+UBSan when CI is set or
    # SOAK_ASAN=1; it fails on any error, leak, RSS growth or crash
    local soak=${SOAK_SECONDS:-60}
    if ((soak > 0)); then
        say "== soak: ${soak}s (test/soak.sh; docs/SOAK.md)"
        if CC="$CC" CFLAGS="$CFLAGS" SAN="$SAN" SRC="$SRC" test/soak.sh "$soak" >"$log" 2>&1; then
            passed=$((passed + 1))
            grep -a -E '^server RSS:|^server descriptors:' "$log" | sed 's/^/   /' >&2
        else
            failed=$((failed + 1))
            tail -n 40 "$log" >&2
            say "   soak: FAILED"
        fi
    fi
    # the bench smoke is one test more: every server of `./build.sh bench`
    # (peers installed and built as needed) answers every endpoint right,
    # then under SMOKE_SECONDS (1; 0 skips) of wrk per endpoint
    local smoke=${SMOKE_SECONDS:-1}
    if ((smoke > 0)); then
        say "== bench smoke: ${smoke}s per server and endpoint (bench/bench.sh smoke)"
        if SMOKE_DUR=$smoke bench/bench.sh smoke >"$log" 2>&1; then
            passed=$((passed + 1))
            tail -n 1 "$log" | sed 's/^/   /' >&2
        else
            failed=$((failed + 1))
            tail -n 40 "$log" >&2
            say "   bench smoke: FAILED"
        fi
    fi
    rm -f "$log"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

cmd=${1:-build}
case $cmd in
    build) build_release ;;
    run) shift; build_release
        # the first run is a real one: the page in www/ at / (unless --root
        # is given)
        [[ " $* " == *" --root"* ]] || set -- --root www "$@"
        [[ $OUT_BIN == */* ]] || OUT_BIN=./$OUT_BIN
        exec "$OUT_BIN" "$@" ;;
    test) run_tests ;;
    bench) shift; build_release; exec bench/bench.sh "$@" ;;
    fuzz) log=$(mktemp); fuzz_ready "$log" || exit 1; rm -f "$log"
        for t in ${3:-$FUZZ_TARGETS}; do run_fuzz "$t" "${2:-60}" || exit 1; done ;;
    soak) shift; build_release; CC="$CC" CFLAGS="$CFLAGS" SAN="$SAN" SRC="$SRC" exec test/soak.sh "$@" ;;
    clean) rm -rf "$OUT" ducta ;;
    *) say "usage: ./build.sh [build|run [ARGS]|test|bench [NAME]|fuzz [SECS]|clean]"; exit 2 ;;
esac
