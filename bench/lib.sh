# bench/lib.sh — shell helpers shared by build.sh, bench/*.sh and
# test/soak.sh, sourced (never run): messages, the one Debian package
# installer, and starting and stopping a server process on a free port of
# 127.0.0.1. It owns no state but PIDS (every process started, for the
# caller's clean-up) and SPAWNED (the last one).

# LIB_NAME prefixes the messages (the sourcing script sets it).
LIB_NAME=${LIB_NAME:-${0##*/}}
say() { printf '%s\n' "$*" >&2; }
die() { say "$LIB_NAME: $*"; exit 1; }

# ---- packages

# How long apt-get waits for the dpkg lock while another apt-get (an
# unattended upgrade, a second build) holds it, instead of failing at once:
# apt's DPkg::Lock::Timeout, in seconds.
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}

apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" -y -q "$@"
}

# need_pkgs PKG:PROBE ...: install the Debian packages whose probe is
# missing (PROBE: an absolute path a package installs, or a command, also
# looked for in /usr/sbin). As root they are installed, after an
# `apt-get update` if the first try fails; otherwise the exact command is
# said. Returns 1, with the reason as the last line said, if they are not
# there afterwards.
need_pkgs() {
    local missing=() spec pkg probe
    for spec in "$@"; do
        pkg=${spec%%:*} probe=${spec#*:}
        if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
        else command -v "$probe" >/dev/null 2>&1 || [[ -x /usr/sbin/$probe ]] || missing+=("$pkg"); fi
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        say "$LIB_NAME: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}"
        return 1
    fi
    say "$LIB_NAME: installing ${missing[*]} (apt-get; waits up to ${APT_LOCK_TIMEOUT}s for the dpkg lock)"
    apt_get install "${missing[@]}" >/dev/null ||
        { apt_get update >/dev/null && apt_get install "${missing[@]}" >/dev/null; } ||
        { say "$LIB_NAME: apt-get install ${missing[*]} failed"; return 1; }
}

# ---- processes

PIDS=()   # every process started with spawn_server, by id

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

# spawn_server LOG PORT CMD...: start CMD in the background, its output to LOG,
# and wait until PORT accepts; sets SPAWNED to its process id (a wrapper
# such as nice or taskset in CMD execs the next: one id throughout).
spawn_server() {
    local log=$1 port=$2
    shift 2
    "$@" >"$log" 2>&1 &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
    wait_ready "$SPAWNED" "$port" "$log"
}

# children PID: the ids of PID's child processes.
children() {
    local f=/proc/$1/task/$1/children
    if [[ -r $f ]]; then cat "$f"; else pgrep -P "$1" || true; fi
}

# only_child PID: the one child of PID (an nginx master's worker, which it
# forks after it listens), waited for up to 5 s.
only_child() {
    local i kids=()
    for ((i = 0; i < 100; i++)); do
        read -r -a kids <<<"$(children "$1")" || true
        ((${#kids[@]} == 1)) && break
        sleep 0.05
    done
    ((${#kids[@]} == 1)) || die "process $1 has ${#kids[@]} children, not one worker"
    echo "${kids[0]}"
}

# stop_pid PID: TERM, wait up to 5 s, KILL; forget it.
stop_pid() {
    local pid=$1 i keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# stop_all: stop_pid every process still in PIDS (TERM to all first).
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    while ((${#PIDS[@]})); do stop_pid "${PIDS[0]}"; done
}
