#!/usr/bin/env bash
# build.sh — the one script that builds, runs, tests and benchmarks ducta.
#
#   ./build.sh              build ./ducta with release flags
#   ./build.sh run [ARGS]   build, then run ./ducta ARGS (Ctrl-C stops it)
#   ./build.sh test         build and run every test, plain and under
#                           ASan+UBSan; ends with "N passed, N failed"
#   ./build.sh bench [NAME] benchmarks (see bench/README.md); NAME: http
#   ./build.sh clean        remove what the script built
#
# Environment: CC (default cc), EXTRA_CFLAGS.
set -euo pipefail
cd "$(dirname "$0")"

CC=${CC:-cc}
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -Werror -pthread ${EXTRA_CFLAGS:-}"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
SRC="ducta.c conn.c parse.c router.c"
OUT=build

say() { printf '%s\n' "$*" >&2; }

# Install Debian packages when missing: as root we install them, otherwise
# we say exactly what to install and stop.
need_pkgs() {
    local missing=() spec pkg probe
    for spec in "$@"; do
        pkg=${spec%%:*} probe=${spec#*:}
        if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
        else command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg"); fi
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "build.sh: installing ${missing[*]}"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
        fi
    else
        say "build.sh: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}"
        exit 1
    fi
}

build_release() {
    command -v "$CC" >/dev/null || { say "build.sh: no C compiler ($CC); apt-get install -y gcc"; exit 1; }
    $CC $CFLAGS -o ducta $SRC
}

# build_variant NAME "FLAGS": the server and test binaries into build/NAME
build_variant() {
    local dir=$OUT/$1 flags=$2 t
    mkdir -p "$dir"
    $CC $CFLAGS $flags -o "$dir/ducta" $SRC
    for t in test/test_*.c; do
        $CC $CFLAGS $flags -DDUCTA_NO_MAIN -I. -o "$dir/$(basename "$t" .c)" \
            "$t" $SRC -lcriterion
    done
}

run_tests() {
    need_pkgs libcriterion-dev:/usr/include/criterion/criterion.h \
              curl:curl hey:hey python3:python3
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
            line=$(grep -a 'Synthesis:' "$log" | tail -n 1)
            if [[ -z $line ]]; then
                say "   (no summary: the test binary died)"; failed=$((failed + 1)); continue
            fi
            p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
            f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
            c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
            passed=$((passed + p)); failed=$((failed + f + c))
        done
    done
    rm -f "$log"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

cmd=${1:-build}
case $cmd in
    build) build_release ;;
    run) shift; build_release; exec ./ducta "$@" ;;
    test) run_tests ;;
    bench) shift; build_release; exec bench/bench.sh "$@" ;;
    clean) rm -rf "$OUT" ducta ;;
    *) say "usage: ./build.sh [build|run [ARGS]|test|bench [NAME]|clean]"; exit 2 ;;
esac
