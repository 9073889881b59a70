#!/usr/bin/env bash
# bench/flame.sh — the `flame` bench: where ducta's and nginx's CPU time goes
# under the same pipelined load, and where the load generator's goes in the
# scenarios where ducta is not ahead, as perf profiles and SVG flamegraphs.
#
# It owns the profiling: a ducta build with debug info and frame pointers,
# perf record around a load run for each server and for the client's core,
# the flamegraphs (docs/flame-ducta.svg, docs/flame-nginx.svg,
# docs/flame-client-*.svg) and the breakdowns it prints. It does not own the
# load, the servers or the helpers (need_tools, start_ducta, start_nginx,
# peer_start, scenario_cmd, header, the temp dir, the clean-up trap): those
# are bench/bench.sh's and bench/peers.sh's, as in the `http` bench.
#
#   ./build.sh bench flame      builds ./ducta, then bench.sh runs this
#   bench/flame.sh              the same against the working tree (it then
#                               loads bench.sh's helpers itself, see the end)
#
# For each server in turn: WARMUP seconds of the load unrecorded, then
#   taskset -c CLIENT_CPU wrk -t1 -c256 -s bench/pipeline.lua URL -- DEPTH
# (16 requests per write, GET /plaintext) while
#   perf record -e cpu-clock -F FLAME_HZ --call-graph dwarf -p PID -- sleep FLAME_SECONDS
# samples the server (ducta's process; nginx's one worker), both servers
# pinned to SERVER_CPU with one worker each. cpu-clock is a software event:
# these VMs have no hardware counters. The call graphs are unwound from
# DWARF (a copy of the stack per sample) because Debian's nginx has no frame
# pointers; ducta is built by build.sh with `-g -fno-omit-frame-pointer`
# added, so its inlined static functions (on_parse, on_write, ...) show as
# frames of their own. Debian's nginx is stripped: only its exported ngx_*
# functions have names; its static ones show as [unknown].
#
# perf needs kernel.perf_event_paranoid=-1 and kernel.kptr_restrict=0 (for
# kernel symbols): as root the script sets them and puts the old values
# back on exit. The flamegraphs are drawn by inferno (`cargo install
# inferno`, run by the script if inferno-flamegraph is missing).
#
# Printed (stdout): the usual header, then per server the share of samples
# by binary (kernel, the server, libc), the functions with the most samples
# of their own, and the share of samples under each step of a request.
#
# Then the client's side. Where ducta is not ahead of a peer in requests/s
# (keep-alive, 1000 connections, a new connection per request), wrk's core
# is full and the server's is not: what limits the rate is what each
# request costs the *client's* CPU, and a server changes that cost (how
# often the kernel must wake it, what its socket's receive path costs,
# since loopback delivers to the server's socket on the sender's CPU). So
# for each SCENARIO:PEER of FLAME_CLIENT, against ducta and then PEER (the
# release builds bench.sh's http bench runs, bench/peers.sh's setups):
#   taskset -c CLIENT_CPU wrk ... (the http bench's command for SCENARIO)
#   perf record -a -C CLIENT_CPU -e cpu-clock -F FLAME_HZ -g -- sleep FLAME_SECONDS
# i.e. everything that ran on the client's core, idle time included, with
# frame-pointer call graphs (the kernel's are whole; wrk's own frames are
# not, which does not matter here: its user time is one line). Written:
# docs/flame-client-SCENARIO-SERVER.svg, and a table of the client's CPU
# nanoseconds per request by step (wrk's rate times the seconds recorded
# is the request count), ducta's column next to the peer's.
#
# Knobs, besides bench.sh's DEPTH, WARMUP, SERVER_CPU, CLIENT_CPU,
# BENCH_KEEP (keeps perf.data and the collapsed stacks):
#   FLAME_SECONDS [10]   seconds recorded per server
#   FLAME_HZ [999]       samples per second
#   FLAME_OUT [docs]     where the SVGs go
#   FLAME_BIN []         profile this ducta binary instead of building one
#   FLAME_CLIENT ["keepalive:nginx c1000:nginx newconn:h2o"]   the client
#                        profiles, SCENARIO:PEER each; empty: none

FLAME_SECONDS=${FLAME_SECONDS:-10}
FLAME_HZ=${FLAME_HZ:-999}
FLAME_CLIENT=${FLAME_CLIENT-keepalive:nginx c1000:nginx newconn:h2o}

# Frames whose inclusive share is printed: "label=frame|frame...", a sample
# counting once for a label when any of its frames is on its stack. Kernel
# entry points are the x64 syscall functions of kernel 6.x.
FLAME_STEPS_DUCTA=(
    "epoll_wait (all of it, waiting included)=__x64_sys_epoll_wait"
    "accept=accept_all"
    "recv (on_read, syscall included)=on_read"
    "  of which the recv syscall=__x64_sys_recvfrom"
    "parse (on_parse)=on_parse"
    "  of which ducta_parse_request=ducta_parse_request"
    "handle (on_handle: route, handler, response bytes)=on_handle"
    "  of which ducta_route=ducta_route"
    "  of which append_response=append_response"
    "write (on_write, syscall included)=on_write"
    "  of which the send syscall=__x64_sys_sendto"
    "  of which loopback delivery to the client (softirq)=net_rx_action"
    "timers and tick=ducta_conn_expire|ducta_worker_tick|ducta_buffers_trim"
)
FLAME_STEPS_NGINX=(
    "epoll_wait (all of it, waiting included)=__x64_sys_epoll_wait"
    "recv syscall=__x64_sys_recvfrom|__x64_sys_read|ksys_read"
    "parse (ngx_http_parse_*, exported)=ngx_http_parse_request_line|ngx_http_parse_header_line|ngx_http_parse_complex_uri"
    "the response (ngx_http_send_response, send included)=ngx_http_send_response"
    "  of which the output filters (ngx_http_output_filter)=ngx_http_output_filter"
    "send syscalls (writev, sendto, sendfile)=do_writev|__x64_sys_writev|__x64_sys_sendto|__x64_sys_sendfile64"
    "  of which loopback delivery to the client (softirq)=net_rx_action"
    "request set-up and tear-down (ngx_http_create_request, ngx_http_free_request)=ngx_http_create_request|ngx_http_free_request"
    "memory pools and malloc (ngx_*alloc, ngx_*pool, brk)=ngx_palloc|ngx_pnalloc|ngx_pcalloc|ngx_memalign|ngx_pfree|ngx_create_pool|ngx_destroy_pool|ngx_reset_pool|__do_sys_brk"
    "  the last two together=ngx_http_create_request|ngx_http_free_request|ngx_palloc|ngx_pnalloc|ngx_pcalloc|ngx_memalign|ngx_pfree|ngx_create_pool|ngx_destroy_pool|ngx_reset_pool|__do_sys_brk"
)

# The client's steps (see the top): a sample counts for a label when one of
# its frames is on its stack, as for the servers' steps (kernel frames
# without inferno's "_[k]"); ALL is every sample, IDLE the idle task's,
# USER wrk's samples with no kernel frame.
FLAME_STEPS_CLIENT=(
    "idle (the client's core waiting for responses)=IDLE"
    "wrk in user space (its own code, libc, http-parser)=USER"
    "write (send a request)=ksys_write|__x64_sys_write|__x64_sys_sendto"
    "  of which delivery to the server's socket (loopback softirq)=(ksys_write|__x64_sys_sendto);.*net_rx_action"
    "  of which the server socket's wake-up (sock_def_readable: epoll callback, waking its thread)=(ksys_write|__x64_sys_sendto);.*sock_def_readable"
    "read (take a response)=ksys_read|__x64_sys_read|__x64_sys_recvfrom"
    "  of which IPIs to the server's CPU to free the responses' buffers (skb defer)=(ksys_read|__x64_sys_read|__x64_sys_recvfrom);.*smp_call_function_single_async"
    "epoll_wait=__x64_sys_epoll_wait"
    "epoll_ctl (wrk re-arms write interest per request)=__x64_sys_epoll_ctl"
    "socket + connect (new connections)=__x64_sys_socket|__x64_sys_connect|__sys_connect"
    "  of which the server's listener wake-up (sock_def_readable)=(__x64_sys_connect|__sys_connect);.*sock_def_readable"
    "close=__x64_sys_close|__fput"
    "every IPI sent from the client's core (a VM exit here)=x2apic_send_IPI|__x2apic_send_IPI_mask|native_send_call_func_single_ipi|native_smp_send_reschedule"
)

FLAME_SYSCTL_OLD=()

# flame_sysctl: let perf see kernel symbols and any process; remember the
# old values for flame_restore.
flame_sysctl() {
    local k v
    for k in kernel.perf_event_paranoid kernel.kptr_restrict; do
        v=$(sysctl -n "$k") || die "cannot read $k"
        FLAME_SYSCTL_OLD+=("$k=$v")
    done
    if [[ $(id -u) != 0 ]]; then
        [[ ${FLAME_SYSCTL_OLD[0]#*=} -le -1 && ${FLAME_SYSCTL_OLD[1]#*=} == 0 ]] && return 0
        die "perf needs: sudo sysctl kernel.perf_event_paranoid=-1 kernel.kptr_restrict=0"
    fi
    sysctl -q kernel.perf_event_paranoid=-1 kernel.kptr_restrict=0 >/dev/null ||
        die "cannot set kernel.perf_event_paranoid / kernel.kptr_restrict"
}

# flame_restore: the old sysctl values back; keeps $? for the trap after it.
flame_restore() {
    local rc=$? kv
    for kv in "${FLAME_SYSCTL_OLD[@]}"; do sysctl -q "$kv" >/dev/null 2>&1 || true; done
    FLAME_SYSCTL_OLD=()
    return "$rc"
}

need_inferno() {
    PATH=$PATH:${CARGO_HOME:-$HOME/.cargo}/bin
    command -v inferno-flamegraph >/dev/null && return 0
    command -v cargo >/dev/null ||
        die "inferno-flamegraph needs cargo (https://rustup.rs, or apt-get install cargo), then: cargo install inferno"
    say "bench: installing inferno: cargo install inferno"
    cargo install --quiet inferno >&2 || die "cargo install inferno failed"
}

# flame_build: ducta with build.sh's release flags plus debug info and frame
# pointers, from a copy of the working tree (./ducta itself stays the
# release build other benches use). Sets FLAME_BIN_DIR.
flame_build() {
    FLAME_BIN_DIR=$TMP/src
    mkdir -p "$FLAME_BIN_DIR"
    if [[ -n ${FLAME_BIN:-} ]]; then
        [[ -x $FLAME_BIN ]] || die "FLAME_BIN: no executable $FLAME_BIN"
        ln -s "$(realpath "$FLAME_BIN")" "$FLAME_BIN_DIR/ducta"
        return 0
    fi
    tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude=./bench --exclude=./test \
        --exclude=./docs --exclude=./ducta -cf - . | tar -C "$FLAME_BIN_DIR" -xf -
    (cd "$FLAME_BIN_DIR" && EXTRA_CFLAGS="${EXTRA_CFLAGS:-} -g -fno-omit-frame-pointer" ./build.sh) >&2 ||
        die "building ducta with -g -fno-omit-frame-pointer failed"
}

# flame_end_load DIR WHAT PERF_RC: wait for the load generator (wrk's
# output in DIR/wrk.txt), then fail if it or perf record failed.
flame_end_load() {
    local dir=$1 what=$2 rc=$3
    wait "$LOADGEN_PID" || { cat "$dir/wrk.txt" >&2; die "wrk failed against $what"; }
    LOADGEN_PID=""
    ((rc == 0)) || { cat "$dir/perf.log" >&2; die "perf record failed ($what)"; }
}

# flame_draw FOLDED SVG MINWIDTH TITLE SUBTITLE: the flamegraph of one
# profile's collapsed stacks, sample counts in ns of cpu-clock.
flame_draw() {
    [[ -s $1 ]] || die "no samples in $1"
    mkdir -p "$FLAME_OUT"
    inferno-flamegraph --title "$4" --subtitle "$5" --countname ns --minwidth "$3" <"$1" >"$FLAME_OUT/$2" ||
        die "inferno-flamegraph failed for $2"
}

# flame_record SERVER PID PORT: load, record, collapse, draw.
flame_record() {
    local srv=$1 pid=$2 port=$3 dir=$TMP/flame-$1 rc=0
    local url=http://127.0.0.1:$port/plaintext
    local load=(wrk -t1 -c256 -s "$ROOT/bench/pipeline.lua" "$url" -- "$DEPTH")
    mkdir -p "$dir"
    say "bench: $srv: taskset -c $CLIENT_CPU ${load[*]} (-d$((WARMUP + FLAME_SECONDS + 2))s)"
    ${PRIO[@]+"${PRIO[@]}"} taskset -c "$CLIENT_CPU" "${load[0]}" "-d$((WARMUP + FLAME_SECONDS + 2))s" "${load[@]:1}" \
        >"$dir/wrk.txt" 2>&1 &
    LOADGEN_PID=$!
    sleep "$((WARMUP + 1))"
    say "bench: $srv: perf record -e cpu-clock -F $FLAME_HZ --call-graph dwarf -p $pid -- sleep $FLAME_SECONDS"
    ${PRIO[@]+"${PRIO[@]}"} taskset -c "$SERVER_CPU" perf record -q -e cpu-clock -F "$FLAME_HZ" --call-graph dwarf \
        -p "$pid" -o "$dir/perf.data" -- sleep "$FLAME_SECONDS" >"$dir/perf.log" 2>&1 || rc=$?
    flame_end_load "$dir" "$srv" "$rc"
    kill -0 "$pid" 2>/dev/null || die "$srv (pid $pid) died under the load"

    perf script -i "$dir/perf.data" 2>"$dir/script.log" | inferno-collapse-perf >"$dir/folded" ||
        die "perf script | inferno-collapse-perf failed for $srv"
    flame_draw "$dir/folded" "flame-$srv.svg" 0.05 "$srv: GET /plaintext, $DEPTH pipelined per write, wrk -t1 -c256" \
        "perf record -e cpu-clock -F $FLAME_HZ --call-graph dwarf, ${FLAME_SECONDS} s, one worker on CPU $SERVER_CPU, $(date -u '+%Y-%m-%d %H:%M UTC')"
    if [[ $BENCH_KEEP == 1 ]]; then perf report -i "$dir/perf.data" --stdio >"$dir/report.txt" 2>/dev/null || true; fi
}

# flame_report SERVER STEP...: what the samples of one server say.
flame_report() {
    local srv=$1 dir=$TMP/flame-$1 step; shift
    echo "## $srv"
    echo
    echo "load while recorded: $(awk '/^Requests\/sec:/ { printf "%.0f req/s", $2 }' "$dir/wrk.txt")" \
         "over the whole wrk run (perf's own overhead included)"
    echo "flamegraph: ${FLAME_OUT#"$ROOT"/}/flame-$srv.svg"
    echo
    echo "Samples by binary (self time; perf report --no-children --sort dso):"
    echo
    perf report -i "$dir/perf.data" --stdio --no-children --sort dso -g none --percent-limit 0.5 2>/dev/null |
        awk '/^ *[0-9.]+%/ { printf "    %8s  %s\n", $1, $2 }'
    echo
    echo "Functions with the most samples of their own (--sort dso,sym, >= 1.5 %):"
    echo
    perf report -i "$dir/perf.data" --stdio --no-children --sort dso,sym -g none --percent-limit 1.5 2>/dev/null |
        awk '/^ *[0-9.]+%/ { pct = $1; $1 = ""; sub(/^ +/, ""); printf "    %8s  %s\n", pct, $0 }'
    echo
    echo "Share of all samples with a step on the stack (collapsed stacks; a sample"
    echo "counts once per line, so nested lines overlap):"
    echo
    for step in "$@"; do
        awk -v label="${step%%=*}" -v re="${step#*=}" '
            BEGIN { re = "(^|;)(" re ")(;|$)" }
            { n = $NF; all += n; if ($0 ~ re) hit += n }
            END { printf "    %6.1f %%  %s\n", all ? 100 * hit / all : 0, label }' "$dir/folded"
    done
    awk '{ all += $NF } END { printf "\n    (%.2f s of %s CPU time sampled)\n", all / 1e9, srv }' \
        srv="$srv" "$dir/folded"
    echo
}

# flame_client SCENARIO SERVER: record the client's core (see the top)
# while wrk runs SCENARIO against SERVER (started by peer_start); writes
# TMP/client-SCENARIO-SERVER/{folded,wrk.txt} and the flamegraph.
flame_client() {
    local sc=$1 srv=$2 dir=$TMP/client-$1-$2 rc=0 CMD
    mkdir -p "$dir"
    DUR=$((WARMUP + FLAME_SECONDS + 2)) CONN_DUR=$((WARMUP + FLAME_SECONDS + 2)) \
        scenario_cmd "$sc" "http://127.0.0.1:$(peer_port "$srv" "$sc")"
    say "bench: client, $sc, $srv: taskset -c $CLIENT_CPU ${CMD[*]}"
    ${PRIO[@]+"${PRIO[@]}"} taskset -c "$CLIENT_CPU" "${CMD[@]}" >"$dir/wrk.txt" 2>&1 &
    LOADGEN_PID=$!
    sleep "$((WARMUP + 1))"
    say "bench: client, $sc, $srv: perf record -a -C $CLIENT_CPU -e cpu-clock -F $FLAME_HZ -g -- sleep $FLAME_SECONDS"
    ${PRIO[@]+"${PRIO[@]}"} taskset -c "$SERVER_CPU" perf record -q -a -C "$CLIENT_CPU" -e cpu-clock -F "$FLAME_HZ" -g \
        -o "$dir/perf.data" -- sleep "$FLAME_SECONDS" >"$dir/perf.log" 2>&1 || rc=$?
    flame_end_load "$dir" "$srv" "$rc"
    kill -0 "$(peer_pid "$srv" "$sc")" 2>/dev/null || die "$srv died under the load"
    # wrk has no frame pointers: its frames come out as runs of [unknown],
    # folded here into one
    perf script -i "$dir/perf.data" 2>"$dir/script.log" | inferno-collapse-perf --all |
        sed -E 's/(;\[unknown\])+/;[unknown]/g' |
        awk '{ n = $NF; k = substr($0, 1, length($0) - length(n) - 1); sum[k] += n }
             END { for (k in sum) print k, sum[k] }' >"$dir/folded" ||
        die "perf script | inferno-collapse-perf failed for the client against $srv"
    flame_draw "$dir/folded" "flame-client-$sc-$srv.svg" 0.2 "CPU $CLIENT_CPU (wrk's) during $sc against $srv: ${CMD[*]:0:3} ..." \
        "perf record -a -C $CLIENT_CPU -e cpu-clock -F $FLAME_HZ -g, ${FLAME_SECONDS} s, $srv on CPU $SERVER_CPU, $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# flame_client_report SCENARIO PEER: ducta's and PEER's client profiles as
# CPU ns per request of the client's core, step by step.
flame_client_report() {
    local sc=$1 peer=$2 srv step rate=()
    for srv in ducta "$peer"; do
        rate+=("$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$TMP/client-$sc-$srv/wrk.txt")")
    done
    echo "### $sc: ducta against $peer"
    echo
    echo "wrk's rate over its whole run (perf running): ducta ${rate[0]} req/s, $peer ${rate[1]} req/s;"
    echo "flamegraphs: ${FLAME_OUT#"$ROOT"/}/flame-client-$sc-ducta.svg, ${FLAME_OUT#"$ROOT"/}/flame-client-$sc-$peer.svg"
    echo
    echo "| CPU $CLIENT_CPU (the client's), ns per request | ducta | $peer | $peer - ducta |"
    echo "|---|--:|--:|--:|"
    for step in "all of it (every sample, idle included)=ALL" "${FLAME_STEPS_CLIENT[@]}"; do
        awk -v label="${step%%=*}" -v re="${step#*=}" -v n1="$((rate[0] * FLAME_SECONDS))" \
            -v n2="$((rate[1] * FLAME_SECONDS))" -v f2="$TMP/client-$sc-$peer/folded" '
            BEGIN { kind = re; re = "(^|;)(" re ")(;|$)" }
            {
                line = $0; gsub(/_\[k\]/, "", line)
                if (kind == "ALL") hit = 1
                else if (kind == "IDLE") hit = $0 ~ /^swapper;/
                else if (kind == "USER") hit = $0 ~ /^wrk;/ && $0 !~ /_\[k\]/
                else hit = line ~ re
            }
            hit && FILENAME != f2 { a += $NF }
            hit && FILENAME == f2 { b += $NF }
            END { x = n1 ? a / n1 : 0; y = n2 ? b / n2 : 0
                  printf "| %s | %.0f | %.0f | %+.0f |\n", label, x, y, y - x }' \
            "$TMP/client-$sc-ducta/folded" "$TMP/client-$sc-$peer/folded"
    done
    echo
}

bench_flame() {
    FLAME_OUT=${FLAME_OUT:-$ROOT/docs}
    need_tools linux-perf:perf nginx-light:nginx wrk:wrk
    need_inferno
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    local pair peers=""
    for pair in $FLAME_CLIENT; do
        [[ $pair == *:* && " $HTTP_SCENARIOS_ALL " == *" ${pair%%:*} "* && " $PEERS_ALL " == *" ${pair#*:} "* ]] ||
            die "FLAME_CLIENT: '$pair' is not SCENARIO:SERVER (scenarios: $HTTP_SCENARIOS_ALL; servers: $PEERS_ALL)"
        [[ ${pair%%:*} == latency ]] && die "FLAME_CLIENT: latency is hey's, not wrk's: not profiled here"
        peers+=" ${pair#*:}"
    done
    if [[ -n $FLAME_CLIENT ]]; then
        peers_build "ducta$peers"
        ulimit -n "$PEERS_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    fi
    for v in FLAME_SECONDS FLAME_HZ; do
        [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} >= 1)) || die "$v must be a whole number >= 1"
    done
    flame_sysctl
    trap 'flame_restore; cleanup' EXIT
    flame_build
    ROOT=$FLAME_BIN_DIR start_ducta
    start_nginx
    # bench.sh's nice level (NICE, PRIO) for the servers, wrk and perf, as
    # its http bench does
    if [[ -n ${PRIO[*]-} ]]; then
        renice -n "$NICE" -p "$DUCTA_PID" "$NGINX_MASTER" "$NGINX_WORKER" >/dev/null ||
            die "renice -n $NICE failed"
    fi

    header
    if [[ -n ${FLAME_BIN:-} ]]; then echo "profiled: $FLAME_BIN (FLAME_BIN), --threads 1 --no-pin;"
    else echo "profiled: ducta built by build.sh with EXTRA_CFLAGS=\"-g -fno-omit-frame-pointer\" (same -O2"
         echo "          code otherwise), --threads 1 --no-pin;"; fi
    echo "          nginx master + 1 worker (bench.sh's http configuration); both under"
    echo "          taskset -c $SERVER_CPU, wrk and perf as shown below"
    echo "load:     taskset -c $CLIENT_CPU wrk -t1 -c256 -s bench/pipeline.lua URL -- $DEPTH"
    echo "          (${WARMUP} s unrecorded, then ${FLAME_SECONDS} s recorded, per server)"
    echo "perf:     taskset -c $SERVER_CPU perf record -e cpu-clock -F $FLAME_HZ --call-graph dwarf -p PID" \
         "-- sleep $FLAME_SECONDS"
    echo "          ($(perf --version 2>&1)); perf script | inferno-collapse-perf | inferno-flamegraph"
    echo "          (inferno $(cargo install --list 2>/dev/null | awk '$1 == "inferno" { print $2 }'))"
    echo

    flame_record ducta "$DUCTA_PID" "$DUCTA_PORT"
    flame_record nginx "$NGINX_WORKER" "$NGINX_PORT"
    local sc peer srv started=" "
    if [[ -n $FLAME_CLIENT ]]; then
        peers_www "$TMP/peers-www"
        for pair in $FLAME_CLIENT; do
            sc=${pair%%:*} peer=${pair#*:}
            for srv in ducta "$peer"; do
                if [[ $started != *" $srv "* ]]; then peer_start "$srv"; started+="$srv "; fi
                flame_client "$sc" "$srv"
            done
        done
    fi
    flame_restore
    flame_report ducta "${FLAME_STEPS_DUCTA[@]}"
    flame_report nginx "${FLAME_STEPS_NGINX[@]}"
    if [[ -n $FLAME_CLIENT ]]; then
        echo "## The client's core, where wrk (not the server) is the limit"
        echo
        echo "perf record -a -C $CLIENT_CPU -e cpu-clock -F $FLAME_HZ -g -- sleep $FLAME_SECONDS while wrk runs"
        echo "the http bench's command for the scenario against ducta (./ducta, the release build) and"
        echo "then the peer (bench/peers.sh's set-up). A sample counts once for a line when one of its"
        echo "frames is on its stack, so the lines overlap; \"all of it\" is every sample, idle included."
        echo
        for pair in $FLAME_CLIENT; do flame_client_report "${pair%%:*}" "${pair#*:}"; done
    fi
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Run directly (not sourced by bench.sh): load bench.sh's helpers by
# sourcing everything in it above its dispatch (`case $NAME in`), which sets
# up the temp dir and the clean-up trap, and run.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    _bench=$(dirname "$0")/bench.sh
    grep -q '^case \$NAME in' "$_bench" || { echo "flame.sh: no dispatch line in $_bench" >&2; exit 1; }
    # shellcheck source=/dev/null
    source <(sed '/^case \$NAME in/,$d' "$_bench") flame
    bench_flame
    exit
fi
