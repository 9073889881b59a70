#!/usr/bin/env bash
# test/soak.sh — the soak test: ducta under a mixed, hostile load for a
# bounded time, checked for errors, memory growth and descriptor leaks.
#
#   ./build.sh soak [SECONDS]   builds ./ducta (release), then runs this
#   test/soak.sh [SECONDS]     default 60
#
# The server is ./ducta (release), or, with SOAK_ASAN=1 or under CI (CI set
# and not "false"/"0"), an ASan+UBSan build made here into build/soak/ducta
# with build.sh's sanitizer flags. It runs with 2 threads and short
# deadlines (SOAK_SERVER_ARGS below) on a free port of 127.0.0.1; the load
# is test/soak.c (built into build/soak/soak), which describes the clients
# and what is checked. This script adds: the server must still be running
# at the end, must exit 0 on SIGTERM, and its stderr must hold no sanitizer
# report. Logs: build/soak/last/ (server.out, server.err, soak.out).
#
# Environment: SOAK_ASAN [0], SOAK_SEED [1], SOAK_SCALE [1] (client slots
# per kind, multiplied), SOAK_FILL [1] (0: no fill phase before the mix;
# see test/soak.c), CC [cc]; CFLAGS and SAN come from build.sh.
# Exits 0 when everything passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECS=${1:-60}
[[ $SECS =~ ^[0-9]+$ ]] && ((SECS >= 5 && SECS <= 86400)) ||
    { echo "soak: SECONDS must be a whole number from 5 to 86400, not '$SECS'" >&2; exit 2; }
CC=${CC:-cc}
CFLAGS=${CFLAGS:--std=gnu11 -O2 -Wall -Wextra -Werror -pthread}
SAN=${SAN:--fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all}
SRC=${SRC:-ducta.c conn.c handler.c parse.c router.c files.c}
SEED=${SOAK_SEED:-1}
SCALE=${SOAK_SCALE:-1}
FILL=${SOAK_FILL:-1}

HEAD_MS=2000 IDLE_MS=5000 WRITE_MS=3000 LINGER_MS=1000
SOAK_SERVER_ARGS=(--threads 2 --head-timeout "$HEAD_MS" --idle-timeout "$IDLE_MS"
                  --write-timeout "$WRITE_MS" --linger-timeout "$LINGER_MS" --drain-ms 2000)

asan=0
[[ ${SOAK_ASAN:-0} == 1 ]] && asan=1
[[ -n ${CI:-} && ${CI:-} != false && ${CI:-} != 0 ]] && asan=1

LIB_NAME=soak
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"   # say
DIR=$ROOT/build/soak
LOG=$DIR/last
mkdir -p "$LOG"
rm -f "$LOG"/*

if ((asan)); then
    say "soak: building the ASan+UBSan server: $CC $CFLAGS $SAN -o build/soak/ducta $SRC"
    # shellcheck disable=SC2086
    $CC $CFLAGS $SAN -o "$DIR/ducta" $SRC
    BIN=$DIR/ducta VARIANT="ASan+UBSan ($SAN)"
else
    [[ -x $ROOT/ducta ]] || { say "soak: no ./ducta; run ./build.sh soak (it builds first)"; exit 1; }
    BIN=$ROOT/ducta VARIANT="release"
fi
# shellcheck disable=SC2086
$CC -std=gnu11 -O2 -Wall -Wextra -Werror -o "$DIR/soak" test/soak.c

SERVER_PID="" SOAK_PID=""
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    [[ -n $SOAK_PID ]] && { kill -TERM "$SOAK_PID" 2>/dev/null || true; wait "$SOAK_PID" 2>/dev/null || true; }
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "soak: interrupted"; exit 130' INT
trap 'exit 143' TERM

# Sanitizers: stop at the first report, leaks checked at exit, reports to
# stderr (server.err), where we look for them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$BIN" --port 0 "${SOAK_SERVER_ARGS[@]}" >"$LOG/server.out" 2>"$LOG/server.err" &
SERVER_PID=$!
port=""
for ((i = 0; i < 100; i++)); do
    port=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$LOG/server.out" 2>/dev/null | sed 's/.*://' || true)
    [[ -n $port ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n $port ]] || { cat "$LOG/server.out" "$LOG/server.err" >&2; say "soak: the server did not start"; exit 1; }
sleep 0.3   # let the workers finish setting up before the baseline is taken

echo "# ducta soak"
echo
echo "command:  ./build.sh soak $SECS    (SOAK_ASAN=${SOAK_ASAN:-0} CI=${CI:-} SOAK_SEED=$SEED SOAK_SCALE=$SCALE SOAK_FILL=$FILL)"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  nproc=$(nproc), kernel $(uname -r), CPU \"$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)\""
echo "git:      $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- ducta.c conn.c parse.c router.c ducta.h 2>/dev/null || echo ' + uncommitted changes to the server')"
echo "server:   $VARIANT: $(head -n 1 "$LOG/server.out")"
echo "          ${BIN#"$ROOT"/} --port 0 ${SOAK_SERVER_ARGS[*]}  (pid $SERVER_PID)"
echo "load:     build/soak/soak (test/soak.c), one epoll thread, unpinned"
echo "load avg: $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo

rc=0
"$DIR/soak" --port "$port" --pid "$SERVER_PID" --seconds "$SECS" --head-timeout "$HEAD_MS" \
    --idle-timeout "$IDLE_MS" --write-timeout "$WRITE_MS" --linger-timeout "$LINGER_MS" \
    --seed "$SEED" --scale "$SCALE" --fill "$FILL" > >(tee "$LOG/soak.out") 2> >(tee "$LOG/soak.err" >&2) &
SOAK_PID=$!
wait "$SOAK_PID" || rc=$?
SOAK_PID=""
sleep 0.2   # let tee finish

fail=0
((rc == 0)) || fail=1
echo
if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    st=0
    for ((i = 0; i < 300; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "FAIL: the server did not exit within 30 s of SIGTERM"
        fail=1
    else
        wait "$SERVER_PID" || st=$?
        SERVER_PID=""
        if ((st == 0)); then echo "server: exited 0 on SIGTERM"
        else echo "FAIL: the server exited with status $st on SIGTERM"; fail=1; fi
    fi
else
    st=0
    wait "$SERVER_PID" || st=$?
    SERVER_PID=""
    echo "FAIL: the server was not running at the end (exit status $st)"
    fail=1
fi
if grep -a -q -E 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$LOG/server.err"; then
    echo "FAIL: sanitizer report in the server's stderr (build/soak/last/server.err):"
    grep -a -E -A 30 'ERROR: |runtime error:' "$LOG/server.err" | head -n 60 | sed 's/^/    /'
    fail=1
elif [[ -s $LOG/server.err ]]; then
    echo "server stderr (not a sanitizer report):"
    head -n 20 "$LOG/server.err" | sed 's/^/    /'
else
    echo "server stderr: empty$( ((asan)) && echo ' (no ASan/UBSan/LSan report)')"
fi
echo "load avg: $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
if ((fail)); then echo "SOAK FAILED"; exit 1; fi
echo "SOAK PASSED"
