#!/usr/bin/env bash
# bench/bench.sh — ducta's benchmarks (see bench/README.md and
# docs/BENCHMARKS.md).
#
#   ./build.sh bench [NAME]     builds ./ducta with release flags, then runs
#   bench/bench.sh [NAME]       this script, which expects ./ducta to exist
#
# NAME: http (the default) — ducta against every peer, each with one worker
#         pinned to SERVER_CPU, the load generator on CLIENT_CPU. Servers
#         (bench/peers.sh): ducta, the ceiling (bench/ceiling.c: the most
#         this loopback and load generator allow), nginx, h2o, lighttpd,
#         Actix-web (bench/actix) and Axum (bench/axum). Scenarios:
#           keepalive  wrk -t1 -c64 --latency URL/plaintext
#           pipeline   wrk -t1 -c256 --latency -s bench/pipeline.lua URL/plaintext -- 16
#           json       wrk -t1 -c64 --latency URL/json
#           file       wrk -t1 -c64 --latency URL/static/64k.bin
#           newconn    wrk -t1 -c64 --latency -H 'Connection: close' URL/plaintext
#           c1000      wrk -t1 -c1000 --latency URL/plaintext (with RSS)
#           c10000     wrk -t1 -c10000 --latency URL/plaintext (with RSS)
#           latency    hey -z DUR -c LAT_CONNS -q RATE/LAT_CONNS -o csv URL/plaintext
#                      at a fixed rate: half of what hey reaches against nginx
#         Graphs (gnuplot, bench/graphs.gp) into GRAPHS_DIR.
#       smoke — every server answers every endpoint right (status, body
#         bytes, type) and survives SMOKE_DUR s of wrk per endpoint; exits
#         non-zero on any failure. Run by `./build.sh test`.
#       parse — the request parser alone, against picohttpparser (with and
#         without SSE4.2; its source fetched with cargo, as the
#         picohttpparser-sys crate publishes it, into build/pico, never
#         committed) and http-parser 2.9, in one process over
#         bench/corpus/*.txt (bench/bench_parse.c): ns/request, GB/s and
#         ducta/pico per SIMD level, per file and for the whole corpus, and
#         a request arriving in pieces.
#         Knobs: REPS [11] repetitions (median shown), MS [40] ms per
#         repetition (the thread's CPU time; CLOCK=wall for wall time),
#         OFFSET [0] input this many bytes past a 64-byte boundary,
#         PARSE_CPU [none] pin to this CPU, CC [cc].
#       conns — ducta against nginx as connections pile up
#         (bench/conns.sh): wrk -t1 -cN --latency at N = each of LEVELS
#         with each server's RSS while they are open; bytes per idle
#         keep-alive connection (bench/idle_conns.c holds 10000); ducta's
#         RSS at start-up with --max-conns 1000 and 1000000.
#         Knobs: LEVELS ["64 1000 10000"; empty: no load part],
#         IDLE_N [10000], SETTLE [1].
#       router, files, flame — bench/router.sh, bench/files.sh,
#         bench/flame.sh (each documents itself), when present.
#       all — http, parse, conns (idle and start-up part: http has the
#         load), router, files, flame, each as its own bench.sh process;
#         a missing one is said and skipped; ends with the wall time of
#         each and fails if any failed.
#
# Environment (defaults in brackets):
#   DUR [2]           seconds per run (http: but c1000 and c10000)
#   CONN_DUR [4]      seconds per run of c1000 and c10000 (wrk needs about
#                     a second to open 10000 connections; RSS is read one
#                     second before the end)
#   ROUNDS [3]        rounds; every round runs every scenario on every server,
#                     the order of the servers rotated between rounds
#   DEPTH [16]        requests per write in the pipeline scenario
#   WARMUP [1]        seconds of unrecorded keep-alive load per server first
#   PAUSE [0.3]       seconds of quiet between runs (http: after the server
#                     has closed the run's connections)
#   SERVER_CPU [0]    the CPU the servers are pinned to (taskset -c)
#   CLIENT_CPU [1]    the CPU the load generator is pinned to
#   BENCH_KEEP [0]    1: keep the temp dir (configs, logs, raw tool output)
#   SERVERS ["ducta ceiling nginx h2o lighttpd actix axum"]   (http, smoke)
#   SCENARIOS ["keepalive pipeline json file newconn c1000 c10000 latency"]
#   LAT_CONNS [64]    hey's connections in the latency scenario
#   LAT_RATE [auto]   its total rate in req/s; auto: half of hey's maximum
#                     against nginx, measured first
#   GRAPHS_DIR [build/bench]  where http writes its SVGs and their data
#   SMOKE_DUR [1]     seconds of wrk per server and endpoint in smoke
#   NICE [-10 as root, else 0]  nice level of the servers and load generator
#                     in http (less of a share for other tenants' processes)
#
# Everything it prints to stdout is the report: machine, command, the
# responses being compared, the tables of medians, every run. Progress
# goes to stderr. It exits non-zero if a server dies or a tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NAME=${1:-http}
DUR=${DUR:-2}
CONN_DUR=${CONN_DUR:-4}
ROUNDS=${ROUNDS:-3}
DEPTH=${DEPTH:-16}
WARMUP=${WARMUP:-1}
PAUSE=${PAUSE:-0.3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BENCH_KEEP=${BENCH_KEEP:-0}
SERVERS=${SERVERS:-ducta ceiling nginx h2o lighttpd actix axum}
HTTP_SCENARIOS_ALL="keepalive pipeline json file newconn c1000 c10000 latency"
HTTP_SCENARIOS=${SCENARIOS:-$HTTP_SCENARIOS_ALL}
LAT_CONNS=${LAT_CONNS:-64}
LAT_RATE=${LAT_RATE:-auto}
GRAPHS_DIR=${GRAPHS_DIR:-$PWD/build/bench}
SMOKE_DUR=${SMOKE_DUR:-1}
# http runs the servers and the load generator at this nice level: as root
# -10, so that another tenant's busy process on the same core (a compile, a
# fuzzer) takes about a tenth of it instead of half. 0 turns it off.
NICE=${NICE:-$([[ $(id -u) == 0 ]] && echo -10 || echo 0)}
PRIO=()
[[ $NICE == 0 ]] || PRIO=(nice -n "$NICE")

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

for v in DUR CONN_DUR ROUNDS DEPTH WARMUP SERVER_CPU CLIENT_CPU LAT_CONNS SMOKE_DUR; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[[ $NICE =~ ^-?[0-9]+$ ]] || die "NICE must be a nice level, not '$NICE'"
[[ $PAUSE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PAUSE must be a number of seconds, not '$PAUSE'"
[[ $LAT_RATE == auto || $LAT_RATE =~ ^[0-9]+$ ]] || die "LAT_RATE must be auto or req/s, not '$LAT_RATE'"
[[ $GRAPHS_DIR == /* ]] || GRAPHS_DIR=$ROOT/$GRAPHS_DIR
((ROUNDS >= 1 && DUR >= 1 && DEPTH >= 1)) || die "ROUNDS, DUR and DEPTH must be at least 1"

# ------------------------------------------------------------------ tools, processes

# say, die, need_pkgs (the one apt-get installer), port_open, free_port,
# wait_ready, spawn_server, children, only_child, stop_pid, stop_all, PIDS
LIB_NAME=bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# the names the bench parts call it by
need_tools() { need_pkgs "$@" || exit 1; }
need_files() { need_pkgs "$@" || exit 1; }

TMP=""
LOADGEN_PID=""  # the load generator while it runs

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $LOADGEN_PID ]]; then
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
        wait "$LOADGEN_PID" 2>/dev/null || true
    fi
    stop_all
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ $BENCH_KEEP == 1 ]]; then say "bench: raw output kept in $TMP"
        else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "bench: interrupted"; exit 130' INT
trap 'exit 143' TERM

# cpu_ticks PID: utime + stime of the whole process (all its threads), in
# clock ticks: fields 14 and 15 of /proc/PID/stat, counted after the ")"
# that ends the command name (which may itself hold spaces).
cpu_ticks() {
    local s f
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    read -r -a f <<<"$s"
    echo $((f[11] + f[12]))
}

# cpu_stat CPU: "busy irq+softirq steal" ticks from /proc/stat, for the line
# "cpuN" (or "cpu", the whole machine, when CPU is empty). busy counts
# user nice system irq softirq; idle, iowait and steal are not busy.
cpu_stat() {
    awk -v name="cpu$1" '$1 == name {
        print $2 + $3 + $4 + $7 + $8, $7 + $8, $9 + 0; exit }' /proc/stat
}

# ------------------------------------------------------------------ servers

DUCTA_PORT="" DUCTA_PID=""
NGINX_PORT="" NGINX_MASTER="" NGINX_WORKER=""

# start_ducta [ARGS]: ./ducta (one worker, on SERVER_CPU) with ARGS; sets
# DUCTA_PID and DUCTA_PORT.
start_ducta() {
    [[ -x $ROOT/ducta ]] || die "no ./ducta; run ./build.sh bench (it builds first)"
    DUCTA_PORT=$(free_port)
    spawn_server "$TMP/ducta.log" "$DUCTA_PORT" taskset -c "$SERVER_CPU" \
        "$ROOT/ducta" --threads 1 --port "$DUCTA_PORT" --no-pin "$@"
    DUCTA_PID=$SPAWNED    # taskset execs ducta: this is ducta's own id
}

# nginx_conf_head DIR WORKER_CONNECTIONS [NOFILE]: the part of every
# nginx configuration here that is the same for all (bench/conns.sh and
# bench/peers.sh write theirs with it too), up to inside `http {`: one
# worker, no access log, keep-alive without a request limit, every temp
# path inside DIR (only for the modules built in); with NOFILE, the
# worker's descriptor limit.
nginx_conf_head() {
    local dir=$1 conns=$2 v m
    v=$("$NGINX" -V 2>&1)
    echo "worker_processes 1;"
    [[ -z ${3:-} ]] || echo "worker_rlimit_nofile $3;"
    cat <<EOF
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log crit;

events {
    worker_connections $conns;
}

http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 65s;
    client_body_temp_path $dir/client_body;
EOF
    for m in proxy fastcgi uwsgi scgi; do
        [[ $v == *"--without-http_${m}_module"* ]] || echo "    ${m}_temp_path $dir/$m;"
    done
}

# The http bench's nginx configuration, written out in full so that a
# reader can check that nothing in it holds nginx back: the answer from
# memory with `return`.
write_nginx_conf() {
    local dir=$1 port=$2
    {
        echo "# generated by bench/bench.sh"
        nginx_conf_head "$dir" 4096
        cat <<EOF
    server {
        listen 127.0.0.1:$port;
        location = /plaintext {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
    } >"$dir/nginx.conf"
}

# nginx_check DIR: nginx -t on DIR/nginx.conf, or die showing why.
nginx_check() {
    "$NGINX" -q -t -p "$1/" -e "$1/error.log" -c "$1/nginx.conf" >"$TMP/nginx-check.log" 2>&1 ||
        { cat "$TMP/nginx-check.log" "$1/error.log" >&2 2>/dev/null; die "nginx rejected its configuration"; }
}

# start_nginx [WRITER]: nginx with the configuration WRITER DIR PORT writes
# (write_nginx_conf), on SERVER_CPU; sets NGINX_PORT, NGINX_MASTER and
# NGINX_WORKER (the master listens before it forks its one worker).
start_nginx() {
    local dir=$TMP/nginx
    mkdir -p "$dir"
    NGINX_PORT=$(free_port)
    "${1:-write_nginx_conf}" "$dir" "$NGINX_PORT"
    nginx_check "$dir"
    spawn_server "$TMP/nginx.log" "$NGINX_PORT" taskset -c "$SERVER_CPU" \
        "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf"
    NGINX_MASTER=$SPAWNED
    NGINX_WORKER=$(only_child "$NGINX_MASTER")
}

# ------------------------------------------------------------------ report

# to_us TIME: wrk's "812.00us" / "1.23ms" / "1.02s" / "1.5m" in microseconds
to_us() {
    awk -v t="$1" 'BEGIN {
        if (t ~ /us$/) v = t + 0; else if (t ~ /ms$/) v = t * 1e3;
        else if (t ~ /s$/) v = t * 1e6; else if (t ~ /m$/) v = t * 60e6;
        else if (t ~ /h$/) v = t * 3600e6; else v = -1;
        printf "%.1f\n", v }'
}

# wrk_flags OUT: what in wrk's output OUT makes a run suspect (socket
# errors, non-2xx/3xx answers), "; "-separated; empty when nothing.
wrk_flags() {
    awk '/Socket errors:|Non-2xx or 3xx responses:/ {
             sub(/^[ \t]+/, ""); printf "%s; ", $0 }' "$1"
}

# children_cpu TIMES0 TIMES1: CPU seconds the shell's children (the load
# generator) used between two outputs of `times`, whose 2nd line is their
# user and system time ("1m2.345s").
children_cpu() {
    awk 'function sec(t) { split(t, a, "m"); return a[1] * 60 + a[2] }
         FNR == 2 { v = sec($1) + sec($2); if (FILENAME == ARGV[1]) v0 = v; else v1 = v }
         END { printf "%.2f", v1 - v0 }' "$1" "$2"
}

# round_order ROUND SERVER...: the servers rotated by ROUND - 1, so that
# each goes first in turn (with two: reversed on even rounds).
round_order() {
    local r=$1 i
    shift
    local all=("$@")
    for ((i = 0; i < $#; i++)); do printf '%s ' "${all[(i + r - 1) % $#]}"; done
}

header() {
    local cpu tpc hv hey_v
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    tpc=$(lscpu 2>/dev/null | awk -F': *' '/^Thread\(s\) per core/ { print $2 }') || true
    hv=$(lscpu 2>/dev/null | awk -F': *' '/^Hypervisor vendor/ { print $2 }') || true
    hey_v=$(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo "unknown (hey has no version flag)")
    echo "# ducta benchmark: $NAME"
    echo
    echo "command:  DUR=$DUR CONN_DUR=$CONN_DUR ROUNDS=$ROUNDS DEPTH=$DEPTH WARMUP=$WARMUP PAUSE=$PAUSE" \
         "SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU bench/bench.sh $NAME"
    echo "          (what \`./build.sh bench $NAME\` runs once it has built ./ducta)"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine:  nproc=$(nproc), kernel $(uname -r), CPU \"$cpu\"," \
         "threads/core ${tpc:-?}, hypervisor ${hv:-none}, CLK_TCK=$CLK_TCK"
    echo "ducta:    $("$ROOT/ducta" --version 2>&1 | head -n 1), sha256" \
         "$(sha256sum "$ROOT/ducta" | cut -c1-12)"
    echo "nginx:    $("$NGINX" -v 2>&1 | head -n 1)"
    echo "wrk:      $(wrk -v 2>&1 | head -n 1 || true)"
    echo "hey:      $hey_v"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at the start)"
    echo
}

# ------------------------------------------------------------------ bench: http

# The peers (bench/peers.sh) are sourced here, at the top level, so that
# their tables (declare -A) are global.
source "$ROOT/bench/peers.sh"

# scenario_cmd SCENARIO URL: the load generator's command line, into CMD
scenario_cmd() {
    local sc=$1 url=$2
    case $sc in
        keepalive) CMD=(wrk -t1 -c64 "-d${DUR}s" --latency "$url/plaintext") ;;
        pipeline) CMD=(wrk -t1 -c256 "-d${DUR}s" --latency -s "$ROOT/bench/pipeline.lua" "$url/plaintext" -- "$DEPTH") ;;
        json) CMD=(wrk -t1 -c64 "-d${DUR}s" --latency "$url/json") ;;
        file) CMD=(wrk -t1 -c64 "-d${DUR}s" --latency "$url/static/64k.bin") ;;
        newconn) CMD=(wrk -t1 -c64 "-d${DUR}s" --latency -H "Connection: close" "$url/plaintext") ;;
        c1000) CMD=(wrk -t1 -c1000 "-d${CONN_DUR}s" --latency "$url/plaintext") ;;
        c10000) CMD=(wrk -t1 -c10000 "-d${CONN_DUR}s" --latency "$url/plaintext") ;;
        latency) CMD=(hey -z "${DUR}s" -c "$LAT_CONNS" -q "$LAT_Q" -o csv "$url/plaintext") ;;
        heymax) CMD=(hey -z "${DUR}s" -c "$LAT_CONNS" "$url/plaintext") ;;
        warmup) CMD=(wrk -t1 -c64 "-d${WARMUP}s" "$url/plaintext") ;;
        *) die "unknown scenario '$sc'; known: $HTTP_SCENARIOS_ALL" ;;
    esac
}

# One run: run_one ROUND SCENARIO SERVER. Appends a line to $TMP/runs.tsv:
#  1 round  2 scenario  3 server  4 req/s  5 p50_us  6 p99_us  7 p99.9_us
#  8 requests  9 server_cpu_s  10 wall_s  11 client_cpu_s  12 flags
#  13 rss_kb  14 fds  15 other_s  16 steal_s
# (latencies -1 where the tool gives none). The server's VmRSS and open
# descriptors are read one second before the end, while the load is on.
run_one() {
    local round=$1 sc=$2 srv=$3 port pid out rc=0 c0 c1 t0 t1 m0 m1 rss=-1 fd=-1 fd0 d=$DUR i
    port=$(peer_port "$srv" "$sc") pid=$(peer_pid "$srv" "$sc")
    [[ $sc == c1000 || $sc == c10000 ]] && d=$CONN_DUR
    fd0=$(fds_of "$pid")
    scenario_cmd "$sc" "http://127.0.0.1:$port"
    out=$TMP/raw/r$round-$sc-$srv.txt
    say "bench: round $round/$ROUNDS $sc $srv: taskset -c $CLIENT_CPU ${CMD[*]}"
    c0=$(cpu_ticks "$pid")
    m0=$(cpu_stat "")
    times >"$out.times0"
    t0=$(date +%s%N)
    # In the background, waited for: a Ctrl-C then runs our trap at once
    # (wrk and hey catch SIGINT and exit 0). Its CPU time comes from the
    # shell's children's times.
    "${PRIO[@]}" taskset -c "$CLIENT_CPU" "${CMD[@]}" >"$out" 2>"$out.err" &
    LOADGEN_PID=$!
    if [[ $sc != warmup && $sc != heymax ]]; then
        sleep $((d - 1))
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo -1)
        fd=$(fds_of "$pid")
    fi
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=""
    t1=$(date +%s%N)
    times >"$out.times1"
    m1=$(cpu_stat "")
    kill -0 "$pid" 2>/dev/null || { cat "$out" "$out.err" >&2; die "$srv (pid $pid) died during $sc"; }
    c1=$(cpu_ticks "$pid")
    ((rc == 0)) || { cat "$out" "$out.err" >&2; die "${CMD[0]} exited with status $rc"; }
    # quiet before the next run: the server has closed this run's
    # connections (at most 5 s: some keep a few open a while), then PAUSE
    for ((i = 0; i < 50; i++)); do (($(fds_of "$pid") <= fd0 + 2)) && break; sleep 0.1; done
    sleep "$PAUSE"
    [[ $sc == warmup ]] && return 0

    local rps p50 p99 p999=-1 reqs flags="" wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    if [[ $sc == heymax ]]; then
        awk '/Requests\/sec:/ { print $2 }' "$out"
        return 0
    elif [[ $sc == latency ]]; then
        # hey -o csv: one line per answered request, seconds first, status
        # 7th. Errors are not in it: a run that answered fewer requests than
        # the rate asked for is flagged instead.
        awk -F, 'NR > 1 && $1 ~ /^[0-9]/ { print $1 * 1e6 }' "$out" | sort -n >"$out.us"
        cat "$out.us" >>"$TMP/lat-$srv.us"
        reqs=$(wc -l <"$out.us")
        rps=$(awk -v n="$reqs" -v d="$DUR" 'BEGIN { printf "%.1f", n / d }')
        read -r p50 p99 p999 < <(awk '{ v[NR] = $1 }
            function pct(p,   i) { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; return v[i] }
            END { if (NR) printf "%.1f %.1f %.1f\n", pct(50), pct(99), pct(99.9); else print "-1 -1 -1" }' "$out.us")
        flags=$(awk -F, -v n="$reqs" -v want="$LAT_RATE" -v d="$DUR" '
            NR > 1 && $7 != "" && $7 != 200 { bad++ }
            END { s = ""; if (bad) s = s "non-200: " bad "; "
                  if (n < 0.95 * want * d) s = s sprintf("answered %d of %d asked; ", n, want * d)
                  print s }' "$out")
        rm -f "$out.us"
    else
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
        p50=$(to_us "$(awk '$1 == "50%" { print $2; exit }' "$out")")
        p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' "$out")")
        # wrk 4.1.0's latency statistics are wrong under pipelining: its
        # coordinated-omission correction assumes one request per write and
        # adds samples below the recorded minimum, which the percentile walk
        # then never reaches (75/90/99% print as 0). Don't report them.
        if [[ $sc == pipeline ]]; then p50=-1 p99=-1; fi
        reqs=$(awk '/ requests in / { print $1 }' "$out")
        flags=$(wrk_flags "$out")
    fi
    [[ -n $rps && -n $reqs && -n $p99 ]] || { cat "$out" >&2; die "cannot read the output of ${CMD[0]}"; }
    if [[ -n $flags ]]; then say "bench:   FLAGGED: $flags"; fi

    local cli
    cli=$(children_cpu "$out.times0" "$out.times1")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$sc" "$srv" \
        "$rps" "$p50" "$p99" "$p999" "$reqs" \
        "$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')" \
        "$wall" "$cli" "${flags:--}" "$rss" "$fd" \
        "$(awk -v a="$m0" -v b="$m1" -v srv="$((c1 - c0))" -v cli="$cli" -v hz="$CLK_TCK" 'BEGIN {
            split(a, x, " "); split(b, y, " ")
            printf "%.2f\t%.2f", ((y[1] - x[1]) - srv) / hz - cli, (y[3] - x[3]) / hz }')" \
        >>"$TMP/runs.tsv"
}

# AWK_MEDIAN: an awk function, median(KEY), of the space-separated numbers
# in vals[KEY]; put before an awk program that fills vals.
AWK_MEDIAN='
    function median(key,   n, i, j, t, a) {
        n = split(vals[key], a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }'

# fds_of PID: how many descriptors it has open
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# The medians, one line per scenario and server, into $TMP/medians.tsv:
#  1 scenario 2 server 3 req/s 4 min 5 max 6 p50_us 7 p99_us 8 p99.9_us
#  9 CPU_us_per_request 10 server_util 11 client_util 12 rss_kb (round 1's)
#  13 fds
#  14 flagged_runs 15 noisy_runs
http_medians() {
    awk -F'\t' "$AWK_MEDIAN"'
        function ext(key, hi,   n, i, a, v) {
            n = split(vals[key], a, " "); v = a[1]
            for (i = 2; i <= n; i++) if (hi ? a[i] + 0 > v + 0 : a[i] + 0 < v + 0) v = a[i]
            return v
        }
        function add(k, v) { vals[k] = (k in vals) ? vals[k] " " v : v }
        {
            k = $2 SUBSEP $3
            if (!(k in seen)) { seen[k] = 1; order[++n] = k }
            add(k SUBSEP "rps", $4); add(k SUBSEP "p50", $5); add(k SUBSEP "p99", $6)
            add(k SUBSEP "p999", $7); add(k SUBSEP "cpu", $8 > 0 ? $9 / $8 * 1e6 : 0)
            add(k SUBSEP "su", $10 > 0 ? $9 / $10 : 0); add(k SUBSEP "cu", $10 > 0 ? $11 / $10 : 0)
            # RSS is a high-water mark: the reading of round 1 is the only one
            # not raised by an earlier run at 10000 connections
            if ($1 == 1) rss1[k] = $13
            add(k SUBSEP "fds", $14)
            if ($12 != "-") nflag[k]++
            if ($15 > 0.1 * $10 || $16 > 0.05 * $10) nnoisy[k]++
        }
        END {
            for (i = 1; i <= n; i++) {
                k = order[i]; split(k, kk, SUBSEP)
                printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.3f\t%.2f\t%.2f\t%.0f\t%.0f\t%d\t%d\n",
                    kk[1], kk[2], median(k SUBSEP "rps"), ext(k SUBSEP "rps", 0), ext(k SUBSEP "rps", 1),
                    median(k SUBSEP "p50"), median(k SUBSEP "p99"), median(k SUBSEP "p999"),
                    median(k SUBSEP "cpu"), median(k SUBSEP "su"), median(k SUBSEP "cu"),
                    (k in rss1) ? rss1[k] : -1, median(k SUBSEP "fds"), nflag[k] + 0, nnoisy[k] + 0
            }
        }' "$TMP/runs.tsv" >"$TMP/medians.tsv"
}

report_http() {
    local m=$TMP/medians.tsv
    echo "## Summary: ducta's req/s over each server's, medians of the same run"
    echo
    echo "Above 1.00x ducta answered more requests per second than that server; ceiling"
    echo "(%) is ducta's req/s as a share of the ceiling's (bench/ceiling.c). At the fixed"
    echo "rate (latency) the ratio is of p99 latency instead: below 1.00x, ducta's is lower."
    echo
    awk -F'\t' -v servers="$SERVERS" -v scen="$HTTP_SCENARIOS" '
        { r[$1, $2] = $3; p[$1, $2] = $7 }
        END {
            ns = split(servers, sv, " "); nc = split(scen, sc, " ")
            h = "| scenario | ducta req/s | ducta % of ceiling"; u = "|---|--:|--:"
            for (j = 1; j <= ns; j++) if (sv[j] != "ducta" && sv[j] != "ceiling") { h = h " | vs " sv[j]; u = u "|--:" }
            print h " |"; print u "|"
            for (i = 1; i <= nc; i++) {
                c = sc[i]; d = r[c, "ducta"]
                if (c == "latency") {
                    line = sprintf("| %s (p99) | %.2f ms | ", c, p[c, "ducta"] / 1000)
                    line = line (((c, "ceiling") in p) ? sprintf("%.2f ms for the ceiling", p[c, "ceiling"] / 1000) : "")
                } else {
                    line = sprintf("| %s | %.0f | ", c, d)
                    line = line (((c, "ceiling") in r) && d != "" ? sprintf("%.0f%%", 100 * d / r[c, "ceiling"]) : "n/a")
                }
                for (j = 1; j <= ns; j++) {
                    s = sv[j]; if (s == "ducta" || s == "ceiling") continue
                    if (c == "latency") v = (((c, s) in p) && p[c, s] > 0 && p[c, "ducta"] > 0) ? sprintf("%.2fx", p[c, "ducta"] / p[c, s]) : "n/a"
                    else v = (((c, s) in r) && r[c, s] > 0 && d != "") ? sprintf("%.2fx", d / r[c, s]) : "n/a"
                    line = line " | " v
                }
                print line " |"
            }
        }' "$m"
    echo
    echo "## Summary: each server's CPU time per request over ducta's, same run"
    echo
    echo "The server's own CPU (utime+stime) per request answered; above 1.00x that server"
    echo "spent more per request than ducta. Where the load generator is the limit (its core"
    echo "full before the server's) this is the better measure of the server's cost."
    echo
    awk -F'\t' -v servers="$SERVERS" -v scen="$HTTP_SCENARIOS" '
        { c[$1, $2] = $9 }
        END {
            ns = split(servers, sv, " "); nc = split(scen, sc, " ")
            h = "| scenario | ducta CPU us/req"; u = "|---|--:"
            for (j = 1; j <= ns; j++) if (sv[j] != "ducta") { h = h " | " sv[j]; u = u "|--:" }
            print h " |"; print u "|"
            for (i = 1; i <= nc; i++) {
                s0 = sc[i]; d = c[s0, "ducta"]
                line = sprintf("| %s | %.2f", s0, d)
                for (j = 1; j <= ns; j++) {
                    s = sv[j]; if (s == "ducta") continue
                    line = line " | " ((((s0, s) in c) && d > 0) ? sprintf("%.2fx", c[s0, s] / d) : "n/a")
                }
                print line " |"
            }
        }' "$m"
    echo
    echo "## Medians over $ROUNDS rounds, per scenario"
    echo
    echo "ducta/this: ducta's median req/s over this server's (above 1.00x: ducta answered"
    echo "more). % ceiling: this server's req/s as a share of the ceiling's. CPU us/req: the"
    echo "server's CPU time (utime+stime from /proc/PID/stat) per request; ducta/this CPU:"
    echo "this server's CPU per request over ducta's (above 1.00x: ducta spends less)."
    echo "server/client CPU: CPU time over wall time (1.00 = one core busy). RSS and fds:"
    echo "read one second before the end of the run; RSS of round 1 (a high-water mark: later"
    echo "rounds come after a run at 10000 connections). flagged: the load generator reported"
    echo "errors, non-2xx answers, or (latency) answered under 95% of the rate; noisy:"
    echo "other processes used over 10% of a core, or steal over 5%, during the run."
    echo
    local sc
    for sc in $HTTP_SCENARIOS; do
        echo "### $sc: $(scenario_cmd "$sc" "http://127.0.0.1:PORT"; echo "${CMD[*]}")"
        echo
        awk -F'\t' -v sc="$sc" -v servers="$SERVERS" '
            $1 == sc { for (f = 3; f <= 15; f++) v[$2, f] = $f; have[$2] = 1 }
            function ms(us) { return us < 0 ? "n/a" : sprintf("%.2f ms", us / 1000) }
            END {
                printf "| server | ducta/this req/s | %% ceiling | req/s (median) | req/s range | p50 | p99 | p99.9 | CPU us/req | ducta/this CPU | server CPU | client CPU | RSS MiB | fds | flagged | noisy |\n"
                printf "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
                n = split(servers, sv, " ")
                for (i = 1; i <= n; i++) {
                    s = sv[i]; if (!(s in have)) continue
                    r = have["ducta"] && v[s, 3] > 0 ? sprintf("%.2fx", v["ducta", 3] / v[s, 3]) : "n/a"
                    c = have["ceiling"] && v["ceiling", 3] > 0 ? sprintf("%.0f%%", 100 * v[s, 3] / v["ceiling", 3]) : "n/a"
                    k = have["ducta"] && v["ducta", 9] > 0 ? sprintf("%.2fx", v[s, 9] / v["ducta", 9]) : "n/a"
                    printf "| %s | %s | %s | %.0f | %.0f-%.0f | %s | %s | %s | %.2f | %s | %.2f | %.2f | %.1f | %d | %d | %d |\n",
                        s, r, c, v[s, 3], v[s, 4], v[s, 5], ms(v[s, 6]), ms(v[s, 7]), ms(v[s, 8]),
                        v[s, 9], k, v[s, 10], v[s, 11], v[s, 12] / 1024, v[s, 13], v[s, 14], v[s, 15]
                }
            }' "$m"
        echo
    done
    echo "## Every run"
    echo
    echo "server CPU s: the server process (nginx: its worker), utime+stime. client CPU s: the"
    echo "load generator's. other s: the whole machine's busy time minus server and client"
    echo "(other processes; +-0.5 s is sampling noise). steal s: taken by the hypervisor."
    echo
    awk -F'\t' 'BEGIN {
            print "| round | scenario | server | req/s | p50 | p99 | p99.9 | requests | server CPU s | wall s | client CPU s | RSS MiB | fds | other s | steal s | flags |"
            print "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|" }
        function ms(us) { return us < 0 ? "n/a" : sprintf("%.2f ms", us / 1000) }
        { printf "| %s | %s | %s | %.0f | %s | %s | %s | %d | %.2f | %.2f | %.2f | %.1f | %d | %.2f | %.2f | %s |\n",
                 $1, $2, $3, $4, ms($5), ms($6), ms($7), $8, $9, $10, $11, $13 / 1024, $14, $15, $16, $12 }' "$TMP/runs.tsv"
    echo
    local flagged
    flagged=$(awk -F'\t' '$12 != "-" { printf "  round %s %s %s: %s\n", $1, $2, $3, $12 }' "$TMP/runs.tsv")
    if [[ -n $flagged ]]; then
        echo "FLAGGED runs (errors reported by the load generator):"
        echo "$flagged"
    else
        echo "No run reported socket errors or non-2xx/3xx responses."
    fi
}

# The graphs (bench/graphs.gp, gnuplot): their data from the medians and the
# latency samples, into GRAPHS_DIR.
http_graphs() {
    if ! command -v gnuplot >/dev/null 2>&1; then
        need_tools gnuplot-nox:gnuplot
    fi
    local d=$GRAPHS_DIR/data s
    mkdir -p "$d"
    cp "$TMP/medians.tsv" "$d/medians.tsv"
    # per scenario: server req/s, in SERVERS order
    for sc in $HTTP_SCENARIOS; do
        awk -F'\t' -v sc="$sc" -v servers="$SERVERS" '$1 == sc { r[$2] = $3 }
            END { n = split(servers, sv, " "); for (i = 1; i <= n; i++) if (sv[i] in r) print sv[i], r[sv[i]] }' \
            "$TMP/medians.tsv" >"$d/rps-$sc.dat"
    done
    # per server: conns req/s RSS_MiB at 64 (keepalive), 1000, 10000
    for s in $SERVERS; do
        awk -F'\t' -v s="$s" '$2 == s && ($1 == "keepalive" || $1 == "c1000" || $1 == "c10000") {
                n = $1 == "keepalive" ? 64 : substr($1, 2); print n, $3, $12 / 1024 }' \
            "$TMP/medians.tsv" | sort -n >"$d/conns-$s.dat"
        # latency percentiles over every round's samples: "nines" x axis
        if [[ -s $TMP/lat-$s.us ]]; then
            sort -n "$TMP/lat-$s.us" | awk '{ v[NR] = $1 } END {
                for (x = 0; x <= 4.0001; x += 0.05) { p = 1 - 10 ^ -x; i = int(NR * p + 0.999999)
                    if (i < 1) i = 1; if (i > NR) break; print x, v[i] / 1000 } }' >"$d/lat-$s.dat"
        fi
    done
    gnuplot -e "dir='$d'; out='$GRAPHS_DIR'; servers='$SERVERS'; scenarios='$HTTP_SCENARIOS'; rate='$LAT_RATE'" \
        "$ROOT/bench/graphs.gp" || die "gnuplot failed"
    say "bench: graphs in $GRAPHS_DIR: bench-rps.svg bench-conns.svg bench-latency.svg"
}

bench_http() {
    local s sc
    for s in $SERVERS; do [[ " $PEERS_ALL " == *" $s "* ]] || die "SERVERS: unknown server '$s'; known: $PEERS_ALL"; done
    for sc in $HTTP_SCENARIOS; do [[ " $HTTP_SCENARIOS_ALL " == *" $sc "* ]] || die "SCENARIOS: unknown '$sc'"; done
    ((DUR >= 2 && CONN_DUR >= 2)) || die "http needs DUR and CONN_DUR >= 2 (RSS is read one second before the end)"
    (($(nproc) >= 2)) || say "bench: warning: $(nproc) CPU(s); server and load generator will share one"
    peers_build "$SERVERS"
    # every server, wrk and hey need a descriptor per connection
    ulimit -n "$PEERS_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    [[ $(ulimit -n) == unlimited ]] || (($(ulimit -n) >= 10064)) ||
        say "bench: warning: ulimit -n is $(ulimit -n): too few for 10000 connections"
    peers_www "$TMP/peers-www"
    for s in $SERVERS; do peer_start "$s"; done
    say "bench: servers on CPU $SERVER_CPU: $(for s in $SERVERS; do printf '%s %s:%s ' "$s" "$(peer_pid "$s" keepalive)" "$(peer_port "$s" keepalive)"; done); load on CPU $CLIENT_CPU"

    NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
    header
    echo "servers:  $SERVERS, each under taskset -c $SERVER_CPU with one worker; wrk and hey"
    echo "          under taskset -c $CLIENT_CPU; 127.0.0.1 only; ulimit -n $(ulimit -n)"
    for s in $SERVERS; do printf '          %-8s %s\n' "$s" "$(peer_version "$s")"; done
    echo "          $(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print "CPU: " $2 }'); memory" \
         "$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "method:   $ROUNDS rounds x $DUR s per run ($CONN_DUR s for c1000, c10000), PAUSE $PAUSE s between"
    echo "          runs (once the server has closed the run's connections); each round runs each"
    echo "          scenario on every server, the order of the servers rotated by one each round;"
    echo "          medians over rounds; server CPU = utime+stime of the server process (nginx:"
    echo "          its worker) from /proc/PID/stat before and after"
    echo "          servers and load generators run under nice -n $NICE (0: not reniced)"
    echo "knobs:    SERVERS=\"$SERVERS\" SCENARIOS=\"$HTTP_SCENARIOS\" LAT_CONNS=$LAT_CONNS LAT_RATE=$LAT_RATE NICE=$NICE"
    echo
    echo "## Responses checked (status 200, body byte for byte, content type)"
    echo
    for s in $SERVERS; do peer_check "$s" || die "$s does not answer as it should"; done
    echo
    echo "Response heads to GET /plaintext:"
    echo
    for s in $SERVERS; do echo "  $s:"; peer_heads "$s"; done
    echo

    mkdir -p "$TMP/raw"
    : >"$TMP/runs.tsv"
    if ((WARMUP > 0)); then
        for s in $SERVERS; do run_one 0 warmup "$s"; done
    fi
    # the fixed rate: half of what hey reaches against nginx (or ducta)
    if [[ " $HTTP_SCENARIOS " == *" latency "* && $LAT_RATE == auto ]]; then
        local ref=nginx max
        [[ " $SERVERS " == *" nginx "* ]] || ref=ducta
        max=$(run_one 0 heymax "$ref")
        [[ $max =~ ^[0-9.]+$ ]] || die "cannot read hey's maximum against $ref"
        LAT_RATE=$(awk -v m="$max" 'BEGIN { printf "%d", m / 2 }')
        say "bench: hey's maximum against $ref: $max req/s; the fixed rate is half: $LAT_RATE req/s"
        echo "fixed rate for \`latency\`: $LAT_RATE req/s, half of the $max req/s that unthrottled"
        echo "\`hey -z ${DUR}s -c $LAT_CONNS\` reached against $ref just before the rounds."
        echo
    fi
    LAT_Q=$(awk -v r="$LAT_RATE" -v c="$LAT_CONNS" 'BEGIN { printf "%.2f", r / c }')
    local round order
    for ((round = 1; round <= ROUNDS; round++)); do
        order=$(round_order "$round" $SERVERS)
        for sc in $HTTP_SCENARIOS; do
            for s in $order; do run_one "$round" "$sc" "$s"; done
        done
    done
    http_medians
    report_http
    http_graphs
    if [[ $BENCH_KEEP == 1 || -n ${BENCH_DATA:-} ]]; then
        mkdir -p "${BENCH_DATA:-$GRAPHS_DIR/data}"
        cp "$TMP/runs.tsv" "${BENCH_DATA:-$GRAPHS_DIR/data}/runs.tsv"
    fi
    echo
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------------ main

CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ducta-bench.XXXXXX")
chmod 755 "$TMP"   # nginx's worker runs as an unprivileged user

# ------------------------------------------------------------------ bench: parse

# pico_source: print the directory holding picohttpparser.c, as the
# picohttpparser-sys crate publishes it: a throw-away Cargo project in
# build/pico depends on the crate, and cargo fetches it into its registry.
pico_source() {
    local dir=$ROOT/build/pico src
    command -v cargo >/dev/null || die "no cargo (for picohttpparser's source); install Rust's cargo"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<'EOF_TOML'
[package]
name = "pico-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
picohttpparser-sys = "=1.0.0"
EOF_TOML
    echo 'fn main() {}' >"$dir/src/main.rs"
    cargo fetch -q --manifest-path "$dir/Cargo.toml" >&2 || die "cargo fetch of picohttpparser-sys failed"
    src=$(cargo metadata -q --format-version 1 --manifest-path "$dir/Cargo.toml" |
          grep -o '"manifest_path":"[^"]*picohttpparser-sys[^"]*"' | head -n 1 |
          sed 's/^"manifest_path":"//; s/Cargo.toml"$//')
    [[ -f $src/deps/picohttpparser/picohttpparser.c ]] || die "picohttpparser.c not found under '$src'"
    echo "$src/deps/picohttpparser"
}

bench_parse() {
    local cc=${CC:-cc} bin=$ROOT/build/bench_parse pin=() cpu tpc pico f
    command -v "$cc" >/dev/null || die "no C compiler ($cc); apt-get install -y gcc"
    need_files libhttp-parser-dev:/usr/include/http_parser.h
    mkdir -p "$ROOT/build"
    pico=$(pico_source)
    # pico twice: its SSE4.2 path, and its scalar path with every public
    # name prefixed, so both link into one process
    $cc -O2 -msse4.2 -c -o "$ROOT/build/pico/pico-sse42.o" "$pico/picohttpparser.c" ||
        die "building picohttpparser failed"
    local rename=()
    for f in phr_parse_request phr_parse_response phr_parse_headers phr_decode_chunked \
             phr_decode_chunked_is_in_data; do
        rename+=("-D$f=pico_scalar_$f")
    done
    $cc -O2 -mno-sse4.2 "${rename[@]}" -c -o "$ROOT/build/pico/pico-scalar.o" \
        "$pico/picohttpparser.c" || die "building picohttpparser (scalar) failed"
    # the release flags of build.sh, plus the parser, pico and http-parser
    $cc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread ${EXTRA_CFLAGS:-} -I"$ROOT" -I"$pico" \
        -o "$bin" "$ROOT/bench/bench_parse.c" "$ROOT/parse.c" \
        "$ROOT/build/pico/pico-sse42.o" "$ROOT/build/pico/pico-scalar.o" -lhttp_parser ||
        die "building bench_parse failed"
    [[ -n ${PARSE_CPU:-} ]] && pin=(taskset -c "$PARSE_CPU")
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    tpc=$(lscpu 2>/dev/null | awk -F': *' '/^Thread\(s\) per core/ { print $2 }') || true
    echo "# ducta benchmark: parse"
    echo
    echo "command:  REPS=${REPS:-11} MS=${MS:-40} OFFSET=${OFFSET:-0} PARSE_CPU=${PARSE_CPU:-} CLOCK=${CLOCK:-}" \
         "bench/bench.sh parse"
    echo "          (what \`./build.sh bench parse\` runs once it has built ./ducta)"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine:  nproc=$(nproc), kernel $(uname -r), CPU \"$cpu\", threads/core ${tpc:-?}"
    echo "compiler: $($cc --version | head -n 1); flags -std=gnu11 -O2 ${EXTRA_CFLAGS:-}" \
         "(pico: -O2 -msse4.2, and -O2 -mno-sse4.2)"
    echo "pico:     $pico"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at the start)"
    echo
    local files=(tfb.txt browser.txt big.txt pipelined16.txt api-post.txt curl-get.txt http10.txt)
    (cd "$ROOT/bench/corpus" && wc -c "${files[@]}" | sed 's/^/    /')
    echo
    "${pin[@]}" "$bin" "${files[@]/#/$ROOT/bench/corpus/}" || die "bench_parse failed"
    echo
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------------ bench: smoke

# smoke_load SERVER SCENARIO: SMOKE_DUR s of wrk; fails on no answers,
# socket errors or non-2xx/3xx answers, or a server that died.
smoke_load() {
    local s=$1 sc=$2 pid out reqs bad
    pid=$(peer_pid "$s" "$sc")
    case $sc in
        keepalive) CMD=(wrk -t1 -c16 "-d${SMOKE_DUR}s" "http://127.0.0.1:$(peer_port "$s" "$sc")/plaintext") ;;
        pipeline) CMD=(wrk -t1 -c16 "-d${SMOKE_DUR}s" -s "$ROOT/bench/pipeline.lua"
                       "http://127.0.0.1:$(peer_port "$s" "$sc")/plaintext" -- "$DEPTH") ;;
        json) CMD=(wrk -t1 -c16 "-d${SMOKE_DUR}s" "http://127.0.0.1:$(peer_port "$s" "$sc")/json") ;;
        file) CMD=(wrk -t1 -c16 "-d${SMOKE_DUR}s" "http://127.0.0.1:$(peer_port "$s" "$sc")/static/64k.bin") ;;
    esac
    out=$TMP/smoke-$s-$sc.txt
    taskset -c "$CLIENT_CPU" "${CMD[@]}" >"$out" 2>&1 &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || { LOADGEN_PID=""; cat "$out" >&2; say "bench: smoke: $s $sc: wrk failed"; return 1; }
    LOADGEN_PID=""
    kill -0 "$pid" 2>/dev/null || { say "bench: smoke: $s died under $sc load"; return 1; }
    reqs=$(awk '/ requests in / { print $1 }' "$out")
    bad=$(awk '/Socket errors:|Non-2xx or 3xx responses:/ { sub(/^[ \t]+/, ""); printf "%s; ", $0 }' "$out")
    if [[ -z $reqs || $reqs == 0 || -n $bad ]]; then
        cat "$out" >&2
        say "bench: smoke: $s $sc: ${reqs:-no} requests; ${bad:-}"
        return 1
    fi
    echo "    $s $sc: ${CMD[*]}: $reqs requests, no errors"
}

bench_smoke() {
    local s sc failed=0 t0=$SECONDS
    for s in $SERVERS; do [[ " $PEERS_ALL " == *" $s "* ]] || die "SERVERS: unknown server '$s'; known: $PEERS_ALL"; done
    peers_build "$SERVERS"
    ulimit -n "$PEERS_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    peers_www "$TMP/peers-www"
    for s in $SERVERS; do peer_start "$s"; done
    echo "# ducta benchmark: smoke ($(date -u '+%Y-%m-%d %H:%M:%S UTC'); built and started in $((SECONDS - t0)) s)"
    echo
    for s in $SERVERS; do peer_check "$s" || failed=$((failed + 1)); done
    for s in $SERVERS; do
        for sc in keepalive pipeline json file; do
            if [[ $sc == file && $s == ducta ]] && ! ducta_has_root; then
                echo "    $s $sc: not loaded, ./ducta has no --root yet"; continue
            fi
            smoke_load "$s" "$sc" || failed=$((failed + 1))
        done
    done
    echo
    if ((failed)); then echo "smoke: $failed check(s) FAILED"; exit 1; fi
    echo "smoke: every server ($SERVERS) answered every endpoint right, under load too ($((SECONDS - t0)) s)"
}

# ------------------------------------------------------------------ others' benches, all

# other_bench NAME: bench/NAME.sh. One that defines bench_NAME (and uses our
# helpers) is sourced and that function called; any other is run as a
# script of its own.
other_bench() {
    local n=$1 f=$ROOT/bench/$1.sh
    [[ -f $f ]] || die "bench/$n.sh does not exist (yet)"
    if grep -q "^bench_$n() {" "$f"; then
        # shellcheck source=/dev/null
        source "$f"
        "bench_$n"
    else
        bash "$f"
    fi
}

# all: each part as a bench.sh process of its own (its own temp dir, servers
# and clean-up), one after the other; a failed part does not stop the rest.
bench_all() {
    local part rc t0 t00=$SECONDS summary="" failed=0
    echo "# ducta benchmark: all ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
    echo
    echo "command: DUR=$DUR CONN_DUR=$CONN_DUR ROUNDS=$ROUNDS WARMUP=$WARMUP PAUSE=$PAUSE bench/bench.sh all"
    echo
    for part in http parse conns router files flame; do
        if [[ $part == router || $part == files || $part == flame ]] && [[ ! -f $ROOT/bench/$part.sh ]]; then
            echo "(bench/$part.sh is not there: \`$part\` skipped)"
            echo
            summary+="| $part | - | not present |"$'\n'
            continue
        fi
        t0=$SECONDS rc=0
        say "bench: all: $part"
        if [[ $part == conns ]]; then
            # http measured the load at 1000 and 10000 connections for every
            # server: here only the idle connections and start-up
            LEVELS=${LEVELS-} "$ROOT/bench/bench.sh" conns || rc=$?
        else
            "$ROOT/bench/bench.sh" "$part" || rc=$?
        fi
        echo
        summary+="| $part | $((SECONDS - t0)) s | $( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)") |"$'\n'
        ((rc == 0)) || failed=$((failed + 1))
    done
    echo "## all: wall time"
    echo
    echo "| part | wall time | result |"
    echo "|---|--:|---|"
    printf '%s' "$summary"
    echo "| total | $((SECONDS - t00)) s | $( ((failed == 0)) && echo ok || echo "$failed FAILED") |"
    ((failed == 0))
}

case $NAME in
    http) bench_http ;;
    smoke) bench_smoke ;;
    parse) bench_parse ;;
    conns) source "$ROOT/bench/conns.sh"; bench_conns ;;
    router|files|flame) other_bench "$NAME" ;;
    all) bench_all ;;
    -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown bench '$NAME'; known: http, smoke, parse, conns, router, files, flame, all" ;;
esac
