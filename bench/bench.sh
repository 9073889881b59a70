#!/usr/bin/env bash
# bench/bench.sh — ducta's benchmarks (see bench/README.md).
#
#   ./build.sh bench [NAME]     builds ./ducta with release flags, then runs
#   bench/bench.sh [NAME]       this script, which expects ./ducta to exist
#
# NAME: http (the default) — ducta against nginx on /plaintext, over loopback:
#         keepalive  wrk -t1 -c64 --latency
#         pipeline   wrk -t1 -c256 --latency -s bench/pipeline.lua -- 16
#         hey        hey -z DUR -c 64
#       parse — the request parser alone, against http-parser 2.9, in one
#         process over bench/corpus/*.txt (bench/bench_parse.c): ns/request
#         and MB/s per SIMD level, and a request arriving in pieces.
#         Knobs: REPS [11] repetitions (median shown), MS [40] ms per
#         repetition, OFFSET [0] input this many bytes past a 64-byte
#         boundary, PARSE_CPU [none] pin to this CPU, CC [cc].
#       conns — ducta against nginx as connections pile up
#         (bench/conns.sh): wrk -t1 -cN --latency at N = 64, 1000, 10000
#         with each server's RSS while they are open; bytes per idle
#         keep-alive connection (bench/idle_conns.c holds 10000); ducta's
#         RSS at start-up with --max-conns 1000 and 1000000.
#         Knobs: LEVELS ["64 1000 10000"], IDLE_N [10000], SETTLE [1].
#       all — every bench above.
#
# Environment (defaults in brackets):
#   DUR [10]          seconds per run
#   ROUNDS [3]        rounds; every round runs every scenario on both servers,
#                     the order of the servers alternating between rounds
#   DEPTH [16]        requests per write in the pipeline scenario
#   WARMUP [2]        seconds of unrecorded keep-alive load per server first
#   PAUSE [1]         seconds of quiet between runs
#   SERVER_CPU [0]    the CPU both servers are pinned to (taskset -c)
#   CLIENT_CPU [1]    the CPU the load generator is pinned to
#   BENCH_KEEP [0]    1: keep the temp dir (configs, logs, raw tool output)
#
# Everything it prints to stdout is the report: machine, command, the
# responses being compared, every run, then the table of medians. Progress
# goes to stderr. It exits non-zero if a server dies or a tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NAME=${1:-http}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
DEPTH=${DEPTH:-16}
WARMUP=${WARMUP:-2}
PAUSE=${PAUSE:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BENCH_KEEP=${BENCH_KEEP:-0}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

for v in DUR ROUNDS DEPTH WARMUP PAUSE SERVER_CPU CLIENT_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((ROUNDS >= 1 && DUR >= 1 && DEPTH >= 1)) || die "ROUNDS, DUR and DEPTH must be at least 1"

# ------------------------------------------------------------------ tools

# need_tools PKG:COMMAND ... — install the packages whose command is missing
# when we are root, else print the exact apt-get command and stop.
need_tools() {
    local missing=() spec cmd
    for spec in "$@"; do
        cmd=${spec#*:}
        command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${spec%%:*}")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "bench: installing: apt-get install -y ${missing[*]}"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
            apt-get update -q >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
        fi
    else
        say "bench: missing ${missing[*]}; install them with:"
        say "  sudo apt-get install -y ${missing[*]}"
        exit 1
    fi
}

# ------------------------------------------------------------------ processes

TMP=""
PIDS=()         # every server process we started, by id
LOADGEN_PID=""  # the load generator while it runs

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    if [[ -n $LOADGEN_PID ]]; then
        kill -TERM "$LOADGEN_PID" 2>/dev/null || true
        wait "$LOADGEN_PID" 2>/dev/null || true
    fi
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ $BENCH_KEEP == 1 ]]; then say "bench: raw output kept in $TMP"
        else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "bench: interrupted"; exit 130' INT
trap 'exit 143' TERM

# port_open PORT: does something accept connections on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port below the ephemeral range that nothing listens on.
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((10000 + RANDOM % 20000))
        port_open "$p" || { echo "$p"; return 0; }
    done
    die "found no free port"
}

# wait_ready PID PORT LOG: until PORT accepts, or PID dies (then show LOG).
wait_ready() {
    local pid=$1 port=$2 log=$3 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "server (pid $pid) exited at start-up"; }
        port_open "$port" && return 0
        sleep 0.05
    done
    cat "$log" >&2
    die "server (pid $pid) is not accepting on 127.0.0.1:$port after 5 s"
}

# children PID: the ids of PID's child processes.
children() {
    local f=/proc/$1/task/$1/children
    if [[ -r $f ]]; then cat "$f"; else pgrep -P "$1" || true; fi
}

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

# fetch PORT: two pipelined GET /plaintext in one write, the first as wrk
# sends it (keep-alive), the second asking to close; the raw bytes that come
# back, CRs shown as "\r".
fetch() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1"
        printf 'GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$1" >&3
        timeout 2 cat <&3 || true
    ) | sed -e 's/\r$/\\r/' -e 's|\(.\)HTTP/1\.1 |\1\n(next response, no newline before it) HTTP/1.1 |'
}

# ------------------------------------------------------------------ servers

DUCTA_PORT="" DUCTA_PID=""
NGINX_PORT="" NGINX_MASTER="" NGINX_WORKER=""

start_ducta() {
    [[ -x $ROOT/ducta ]] || die "no ./ducta; run ./build.sh bench (it builds first)"
    DUCTA_PORT=$(free_port)
    taskset -c "$SERVER_CPU" "$ROOT/ducta" --threads 1 --port "$DUCTA_PORT" --no-pin \
        >"$TMP/ducta.log" 2>&1 &
    DUCTA_PID=$!          # taskset execs ducta: this is ducta's own id
    PIDS+=("$DUCTA_PID")
    wait_ready "$DUCTA_PID" "$DUCTA_PORT" "$TMP/ducta.log"
}

# The nginx configuration, written out in full so that a reader can check
# that nothing in it holds nginx back: one worker, no access log, keep-alive
# without a request limit, the answer from memory with `return`.
write_nginx_conf() {
    local dir=$1 port=$2 v temp=""
    v=$("$NGINX" -V 2>&1)
    # every temp path inside the temp dir; only for the modules built in
    temp+="    client_body_temp_path $dir/client_body;"$'\n'
    for m in proxy fastcgi uwsgi scgi; do
        [[ $v == *"--without-http_${m}_module"* ]] ||
            temp+="    ${m}_temp_path $dir/$m;"$'\n'
    done
    cat >"$dir/nginx.conf" <<EOF
# generated by bench/bench.sh
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log crit;

events {
    worker_connections 4096;
}

http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 65s;
$temp
    server {
        listen 127.0.0.1:$port;
        location = /plaintext {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
}

start_nginx() {
    local dir=$TMP/nginx i kids
    mkdir -p "$dir"
    NGINX_PORT=$(free_port)
    write_nginx_conf "$dir" "$NGINX_PORT"
    "$NGINX" -q -t -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" >"$TMP/nginx.log" 2>&1 ||
        { cat "$TMP/nginx.log" "$dir/error.log" >&2 2>/dev/null; die "nginx rejected its configuration"; }
    taskset -c "$SERVER_CPU" "$NGINX" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >>"$TMP/nginx.log" 2>&1 &
    NGINX_MASTER=$!
    PIDS+=("$NGINX_MASTER")
    wait_ready "$NGINX_MASTER" "$NGINX_PORT" "$TMP/nginx.log"
    # the master listens before it forks: wait for its one worker
    for ((i = 0; i < 100; i++)); do
        read -r -a kids <<<"$(children "$NGINX_MASTER")" || true
        ((${#kids[@]} == 1)) && break
        sleep 0.05
    done
    ((${#kids[@]} == 1)) || die "nginx master $NGINX_MASTER has ${#kids[@]} children, not one worker"
    NGINX_WORKER=${kids[0]}
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

header() {
    local cpu tpc hv hey_v
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    tpc=$(lscpu 2>/dev/null | awk -F': *' '/^Thread\(s\) per core/ { print $2 }') || true
    hv=$(lscpu 2>/dev/null | awk -F': *' '/^Hypervisor vendor/ { print $2 }') || true
    hey_v=$(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo "unknown (hey has no version flag)")
    echo "# ducta benchmark: $NAME"
    echo
    echo "command:  DUR=$DUR ROUNDS=$ROUNDS DEPTH=$DEPTH WARMUP=$WARMUP PAUSE=$PAUSE" \
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

# One run: run_one ROUND SCENARIO SERVER. Appends to $TMP/runs.tsv:
# round scenario server rps p99_us requests server_cpu_s wall_s client_cpu_s
# flags softirq_s (irq+softirq on the server's CPU) other_s steal_s (below)
run_one() {
    local round=$1 sc=$2 srv=$3 port pid url out rc=0 c0 c1 t0 t1
    case $srv in
        ducta) port=$DUCTA_PORT pid=$DUCTA_PID ;;
        nginx) port=$NGINX_PORT pid=$NGINX_WORKER ;;
    esac
    url="http://127.0.0.1:$port/plaintext"
    local -a cmd
    case $sc in
        keepalive) cmd=(wrk -t1 -c64 "-d${DUR}s" --latency "$url") ;;
        pipeline) cmd=(wrk -t1 -c256 "-d${DUR}s" --latency -s "$ROOT/bench/pipeline.lua" "$url" -- "$DEPTH") ;;
        hey) cmd=(hey -z "${DUR}s" -c 64 "$url") ;;
        warmup) cmd=(wrk -t1 -c64 "-d${WARMUP}s" "$url") ;;
    esac
    out=$TMP/raw/r$round-$sc-$srv.txt
    say "bench: round $round/$ROUNDS $sc $srv: taskset -c $CLIENT_CPU ${cmd[*]}"
    # The load generator runs in the background and we wait for it: a
    # Ctrl-C then interrupts the wait and runs our trap at once. (wrk and hey
    # catch SIGINT and exit 0, and bash ignores a SIGINT that a foreground
    # child handled.) Its CPU time comes from the shell's children's times.
    local m0 m1 k0 k1
    c0=$(cpu_ticks "$pid")
    m0=$(cpu_stat "") k0=$(cpu_stat "$SERVER_CPU")
    times >"$out.times0"
    t0=$(date +%s%N)
    taskset -c "$CLIENT_CPU" "${cmd[@]}" >"$out" 2>&1 &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=""
    t1=$(date +%s%N)
    times >"$out.times1"
    m1=$(cpu_stat "") k1=$(cpu_stat "$SERVER_CPU")
    kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; die "$srv (pid $pid) died during $sc"; }
    c1=$(cpu_ticks "$pid")
    ((rc == 0)) || { cat "$out" >&2; die "${cmd[0]} exited with status $rc"; }
    [[ $sc == warmup ]] && return 0

    local rps p99 reqs flags
    if [[ $sc == hey ]]; then
        rps=$(awk '/Requests\/sec:/ { print $2 }' "$out")
        p99=$(awk '$1 == "99%" && $2 == "in" { printf "%.1f", $3 * 1e6 }' "$out")
        # "[200]  N responses"; error lines also start with [N] but not "responses"
        reqs=$(awk '/^[ \t]*\[[0-9]+\][ \t]+[0-9]+ responses/ { n += $2 } END { print n + 0 }' "$out")
        flags=$(awk '
            /^[ \t]*\[[0-9]+\][ \t]+[0-9]+ responses/ && $1 != "[200]" { bad += $2 }
            /^Error distribution:/ { inerr = 1; next }
            inerr && /^[ \t]*\[[0-9]+\]/ { gsub(/[\[\]]/, "", $1); errs += $1 }
            END {
                s = ""
                if (bad) s = s "non-200: " bad "; "
                if (errs) s = s "errors: " errs "; "
                print s
            }' "$out")
    else
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
        p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' "$out")")
        # wrk 4.1.0's latency statistics are wrong under pipelining: its
        # coordinated-omission correction assumes one request per write and
        # adds samples below the recorded minimum, which the percentile walk
        # then never reaches (75/90/99% print as 0). Don't report them.
        if [[ $sc == pipeline ]]; then p99=-1; fi
        reqs=$(awk '/ requests in / { print $1 }' "$out")
        flags=$(awk '/Socket errors:|Non-2xx or 3xx responses:/ {
                         sub(/^[ \t]+/, ""); printf "%s; ", $0 }' "$out")
    fi
    [[ -n $rps && -n $reqs && -n $p99 ]] || { cat "$out" >&2; die "cannot read the output of ${cmd[0]}"; }
    if [[ -n $flags ]]; then say "bench:   FLAGGED: $flags"; fi

    local cli   # `times`, 2nd line: children's user and system time, "1m2.345s"
    cli=$(awk 'function sec(t) { split(t, a, "m"); return a[1] * 60 + a[2] }
               FNR == 2 { v = sec($1) + sec($2); if (FILENAME ~ /times0$/) v0 = v; else v1 = v }
               END { printf "%.2f", v1 - v0 }' "$out.times0" "$out.times1")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$sc" "$srv" "$rps" "$p99" "$reqs" \
        "$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
        "$cli" "${flags:--}" \
        "$(awk -v a="$k0" -v b="$k1" -v hz="$CLK_TCK" 'BEGIN {
            split(a, x, " "); split(b, y, " "); printf "%.2f", (y[2] - x[2]) / hz }')" \
        "$(awk -v a="$m0" -v b="$m1" -v srv="$((c1 - c0))" -v cli="$cli" -v hz="$CLK_TCK" 'BEGIN {
            split(a, x, " "); split(b, y, " ")
            printf "%.2f\t%.2f", ((y[1] - x[1]) - srv) / hz - cli, (y[3] - x[3]) / hz }')" \
        >>"$TMP/runs.tsv"
    sleep "$PAUSE"
}

# The table: medians per scenario and server, the ratios on the ducta row.
report_http() {
    echo "## Every run"
    echo
    echo "server CPU s: the server process (ducta; nginx's worker), utime+stime. client CPU s:"
    echo "the load generator's. softirq s: irq+softirq time on the server's CPU $SERVER_CPU; the"
    echo "kernel also charges it to the process it interrupted, so most of it is inside"
    echo "server CPU s already (on loopback it is mostly the delivery of what the server"
    echo "sent). other s: busy time of the whole machine minus server and client: other"
    echo "processes, or softirq outside both. steal s: time the hypervisor took away."
    echo
    awk -F'\t' 'BEGIN {
            printf "| round | scenario  | server | req/s      | p99        | requests   | server CPU s | wall s | client CPU s | softirq s | other s | steal s | flags\n"
            printf "|------:|-----------|--------|-----------:|-----------:|-----------:|-------------:|-------:|-------------:|----------:|--------:|--------:|------\n" }
        { p = $5 < 0 ? "n/a" : sprintf("%.2f ms", $5 / 1000)
          printf "| %5s | %-9s | %-6s | %10.0f | %10s | %10d | %12.2f | %6.2f | %12.2f | %9.2f | %7.2f | %7.2f | %s\n",
                 $1, $2, $3, $4, p, $6, $7, $8, $9, $11, $12, $13, $10 }' "$TMP/runs.tsv"
    echo
    echo "## Medians over $ROUNDS rounds"
    echo
    echo "req/s, p99 and CPU s / 1M req are each the median of the per-run values;"
    echo "server/client CPU is CPU time over wall time of the run (1.00 = one core busy)."
    echo "ducta/nginx req/s is the ratio of the median req/s; ducta/nginx req per CPU-s"
    echo "is nginx's median CPU s / 1M req over ducta's (higher = ducta does more per CPU)."
    echo "flagged: the load generator reported errors; noisy: other processes used more"
    echo "than 10% of a core, or the hypervisor stole more than 5%, during the run."
    echo
    awk -F'\t' -v depth="$DEPTH" '
        BEGIN { conc["keepalive"] = 64; conc["hey"] = 64; conc["pipeline"] = 256 * depth }
        function median(key,   n, i, j, t, a) {
            n = split(vals[key], a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
                t = a[j]; a[j] = a[j-1]; a[j-1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function minmax(key,   n, i, a, lo, hi) {
            n = split(vals[key], a, " "); lo = hi = a[1]
            for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
            return sprintf("%.0f-%.0fk", lo / 1000, hi / 1000)
        }
        function add(k, v) { vals[k] = (k in vals) ? vals[k] " " v : v }
        {
            k = $2 SUBSEP $3
            if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 }
            add(k SUBSEP "rps", $4); add(k SUBSEP "p99", $5)
            add(k SUBSEP "cpum", $6 > 0 ? $7 / $6 * 1e6 : 0)
            add(k SUBSEP "sutil", $8 > 0 ? $7 / $8 : 0); add(k SUBSEP "cutil", $8 > 0 ? $9 / $8 : 0)
            if ($10 != "-") nflag[k]++
            if ($12 > 0.1 * $8 || $13 > 0.05 * $8) nnoisy[k]++
        }
        END {
            printf "| scenario  | server | req/s (median) | req/s range | p99 (median) | CPU s / 1M req | server CPU | client CPU | req/s ducta/nginx | req per CPU-s ducta/nginx | flagged runs | noisy runs\n"
            printf "|-----------|--------|---------------:|------------:|-------------:|---------------:|-----------:|-----------:|------------------:|--------------------------:|-------------:|-----------:\n"
            for (s = 1; s <= ns; s++) {
                sc = order[s]
                for (v = 1; v <= 2; v++) {
                    srv = v == 1 ? "ducta" : "nginx"; k = sc SUBSEP srv
                    if (!((k SUBSEP "rps") in vals)) continue
                    r1 = r2 = ""
                    if (srv == "ducta" && ((sc SUBSEP "nginx" SUBSEP "rps") in vals)) {
                        nk = sc SUBSEP "nginx"
                        r1 = sprintf("%.2fx", median(k SUBSEP "rps") / median(nk SUBSEP "rps"))
                        dc = median(k SUBSEP "cpum"); nc = median(nk SUBSEP "cpum")
                        r2 = dc > 0 ? sprintf("%.2fx", nc / dc) : "n/a"
                    }
                    p = median(k SUBSEP "p99"); p = p < 0 ? "n/a (1)" : sprintf("%.2f ms", p / 1000)
                    if (sc == "pipeline")
                        little = little sprintf("%s %.2f ms, ", srv, conc[sc] / median(k SUBSEP "rps") * 1000)
                    printf "| %-9s | %-6s | %14.0f | %11s | %12s | %14.2f | %10.2f | %10.2f | %17s | %25s | %12d | %10d\n",
                        sc, srv, median(k SUBSEP "rps"), minmax(k SUBSEP "rps"),
                        p, median(k SUBSEP "cpum"),
                        median(k SUBSEP "sutil"), median(k SUBSEP "cutil"), r1, r2, nflag[k] + 0, nnoisy[k] + 0
                }
            }
            if (little != "") {
                sub(/, $/, "", little)
                printf "\n(1) wrk 4.1.0 reports no usable latency percentiles under pipelining (its\n"
                printf "    coordinated-omission correction assumes one request per write). The mean\n"
                printf "    time for a batch of %d by Little\x27s law, %d connections x %d / req/s: %s.\n",
                    depth, conc["pipeline"] / depth, depth, little
            }
        }' "$TMP/runs.tsv"
    echo
    local flagged
    flagged=$(awk -F'\t' '$10 != "-" { printf "  round %s %s %s: %s\n", $1, $2, $3, $10 }' "$TMP/runs.tsv")
    if [[ -n $flagged ]]; then
        echo "FLAGGED runs (errors reported by the load generator):"
        echo "$flagged"
    else
        echo "No run reported socket errors or non-2xx/3xx responses."
    fi
}

bench_http() {
    need_tools nginx-light:nginx wrk:wrk hey:hey
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    (($(nproc) >= 2)) || say "bench: warning: $(nproc) CPU(s); server and load generator will share one"

    start_ducta
    start_nginx
    say "bench: ducta pid $DUCTA_PID on 127.0.0.1:$DUCTA_PORT, nginx master $NGINX_MASTER" \
        "worker $NGINX_WORKER on 127.0.0.1:$NGINX_PORT, all on CPU $SERVER_CPU;" \
        "load on CPU $CLIENT_CPU"

    header
    echo "servers:  ducta --threads 1 --no-pin, nginx master + 1 worker, both under" \
         "taskset -c $SERVER_CPU; load generators under taskset -c $CLIENT_CPU; 127.0.0.1 only"
    echo "method:   $ROUNDS rounds x $DUR s per run; each round runs each scenario on ducta then"
    echo "          nginx (reversed on even rounds); medians over rounds; server CPU = utime+stime"
    echo "          of the ducta process / the nginx worker, from /proc/PID/stat before and after"
    echo
    echo "## Responses compared"
    echo
    local srv port resp
    for srv in ducta nginx; do
        port=$DUCTA_PORT; [[ $srv == nginx ]] && port=$NGINX_PORT
        resp=$(fetch "$port")
        [[ $resp == "HTTP/1.1 200 "* && $(grep -o 'HTTP/1.1 200 ' <<<"$resp" | wc -l) == 2 ]] ||
            { printf '%s\n' "$resp" >&2; die "$srv: two pipelined GET /plaintext did not get two 200s"; }
        echo "$srv: two pipelined requests, the first as wrk sends it, the second with Connection: close"
        printf '%s\n' "$resp" | sed 's/^/    /'
        echo
    done
    echo "## nginx configuration"
    echo
    sed 's/^/    /' "$TMP/nginx/nginx.conf"
    echo

    mkdir -p "$TMP/raw"
    : >"$TMP/runs.tsv"
    if ((WARMUP > 0)); then
        run_one 0 warmup ducta
        run_one 0 warmup nginx
        sleep "$PAUSE"
    fi
    local round sc order
    for ((round = 1; round <= ROUNDS; round++)); do
        if ((round % 2)); then order="ducta nginx"; else order="nginx ducta"; fi
        for sc in keepalive pipeline hey; do
            for srv in $order; do run_one "$round" "$sc" "$srv"; done
        done
    done
    report_http
    echo
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------------ main

CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ducta-bench.XXXXXX")
chmod 755 "$TMP"   # nginx's worker runs as an unprivileged user

# ------------------------------------------------------------------ bench: parse

bench_parse() {
    local cc=${CC:-cc} bin=$ROOT/build/bench_parse pin=() cpu tpc
    command -v "$cc" >/dev/null || die "no C compiler ($cc); apt-get install -y gcc"
    need_files libhttp-parser-dev:/usr/include/http_parser.h
    mkdir -p "$ROOT/build"
    # the release flags of build.sh, plus the parser and http-parser
    $cc -std=gnu11 -O2 -Wall -Wextra -Werror -pthread ${EXTRA_CFLAGS:-} -I"$ROOT" \
        -o "$bin" "$ROOT/bench/bench_parse.c" "$ROOT/parse.c" -lhttp_parser ||
        die "building bench_parse failed"
    [[ -n ${PARSE_CPU:-} ]] && pin=(taskset -c "$PARSE_CPU")
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    tpc=$(lscpu 2>/dev/null | awk -F': *' '/^Thread\(s\) per core/ { print $2 }') || true
    echo "# ducta benchmark: parse"
    echo
    echo "command:  REPS=${REPS:-11} MS=${MS:-40} OFFSET=${OFFSET:-0} PARSE_CPU=${PARSE_CPU:-}" \
         "bench/bench.sh parse"
    echo "          (what \`./build.sh bench parse\` runs once it has built ./ducta)"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine:  nproc=$(nproc), kernel $(uname -r), CPU \"$cpu\", threads/core ${tpc:-?}"
    echo "compiler: $($cc --version | head -n 1); flags -std=gnu11 -O2 ${EXTRA_CFLAGS:-}"
    echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average at the start)"
    echo
    (cd "$ROOT/bench/corpus" && wc -c tfb.txt browser.txt big.txt pipelined16.txt | sed 's/^/    /')
    echo
    "${pin[@]}" "$bin" "$ROOT/bench/corpus/tfb.txt" "$ROOT/bench/corpus/browser.txt" \
        "$ROOT/bench/corpus/big.txt" "$ROOT/bench/corpus/pipelined16.txt" ||
        die "bench_parse failed"
    echo
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# need_files PKG:PATH ... — like need_tools, for a file (a header) a package
# installs.
need_files() {
    local missing=() spec
    for spec in "$@"; do [[ -e ${spec#*:} ]] || missing+=("${spec%%:*}"); done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "bench: installing: apt-get install -y ${missing[*]}"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
            apt-get update -q >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
        fi
    else
        say "bench: missing ${missing[*]}; install them with:"
        say "  sudo apt-get install -y ${missing[*]}"
        exit 1
    fi
}

case $NAME in
    http) bench_http ;;
    parse) bench_parse ;;
    conns) source "$ROOT/bench/conns.sh"; bench_conns ;;
    all) bench_http; echo; bench_parse ;;   # later: router, conns
    -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown bench '$NAME'; known: http, parse, conns, all" ;;
esac
