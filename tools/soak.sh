#!/bin/bash
# The soak suite: what found the problems of issue 9, run for minutes and measured. Not part of CI
# (it takes about 20 minutes and its figures are measurements, not pass/fail thresholds):
#   tools/soak.sh [SUPD SUPCTL SUP_MONITOR]      (default: build/supd build/supctl build/sup-monitor)
# As root. SUP_SOAK_SCALE scales durations and counts (default 1; 0.1 is a two-minute smoke run).
# Five parts, each on its own supd and directories under /tmp/supsoak.XXXXXX, each printing its
# figures and a verdict line naming what it found: 1 lifecycle churn, 2 adoption storm, 3 a
# crash-loop storm under thousands of idle and slow connections, 4 a log flood, 5 corrupt state
# files. What the figures mean: docs/soak.md. Exits 1 if a part found a problem. Everything it
# started is removed at exit, also on ^C (SUP_TEST_KEEP=1 keeps the directory).
set -uo pipefail

here=$(dirname "$(realpath "$0")")
SUPD=$(realpath "${1:-$here/../build/supd}") SUPCTL=$(realpath "${2:-$here/../build/supctl}")
MONITOR=$(realpath "${3:-$here/../build/sup-monitor}")
# shellcheck source=tests/integration/lib.sh
source "$here/../tests/integration/lib.sh"
# shellcheck source=tests/integration/case-supd.sh
source "$here/../tests/integration/case-supd.sh"

command -v nft >/dev/null || skip "needs nft (nftables)"
command -v ip >/dev/null || skip "needs ip (iproute2)"
supd_test_setup supsoak
chmod 755 "$TOP"
LAYER=$TOP/layer
busybox_layer "$LAYER"

SCALE=${SUP_SOAK_SCALE:-1}
# scaled N [MIN]: N times the scale, at least MIN (default 1).
scaled() { awk -v n="$1" -v s="$SCALE" -v m="${2:-1}" 'BEGIN { v = int(n * s + 0.5); print (v < m ? m : v) }'; }
# Workloads are "sleep TAG<i>": a number no other process on the machine runs, so that pgrep
# counts this run's workloads only (orphans and duplicates included).
TAG=9$(printf '%05d' $(($$ % 100000)))
HOLDERS=() # background processes of the suite: connection holders, log readers
STOPPED=() # processes the suite stopped with SIGSTOP

# A problem: printed, and named in the part's verdict line.
PROBLEMS=()
fail() {
        printf '    problem: %s\n' "$*"
        PROBLEMS+=("$*")
        CASE_FAILED=1
}
verdict() {
        if [ ${#PROBLEMS[@]} = 0 ]; then
                echo "    verdict: no problems found"
        else
                local IFS=';'
                echo "    verdict: problems found: ${PROBLEMS[*]}"
        fi
        VERDICTS+=("$1: $([ ${#PROBLEMS[@]} = 0 ] && echo 'no problems' || echo "${#PROBLEMS[@]} problem(s)")")
        PROBLEMS=()
        case_verdict
}
VERDICTS=()

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# stats: "n=.. median=.. p99=.. max=.." of the numbers on stdin.
stats() {
        "$PY" -c '
import sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v: print("n=0"); sys.exit()
q = lambda p: v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
print("n=%d median=%.0f p99=%.0f max=%.0f" % (len(v), q(.5), q(.99), v[-1]))'
}
# units: "NAME STATE PID RESTARTS" per unit of `supctl status --json`.
units() {
        ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
for u in json.load(sys.stdin): print(u["name"], u["state"], u.get("pid") or "-", u.get("restarts") or 0)'
}
count_state() { units | awk -v s="$1" '$2 == s' | wc -l; }
all_in_state() { [ "$(count_state "$2")" = "$1" ]; } # all_in_state N STATE
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo -; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
monitors_of() { pgrep -f "sup-monitor --dir $CASE_DIR/run/units/$1 " | wc -l; }
all_monitors() { pgrep -f "sup-monitor --dir $CASE_DIR/run/units/" | wc -l; }
workloads_of() { pgrep -xf "sleep $TAG$1" | wc -l; }
parent() { sed -n 's/.*cgroups \([^,]*\),.*/\1/p' "$CASE_DIR/supd.log" | head -1; }
bridge() { sed -n 's/.* bridge \([^ ]*\) .*/\1/p' "$CASE_DIR/supd.log" | head -1; }
# cgroups below the supd's cgroup parent, in every hierarchy.
cgroups() {
        local p
        p=$(parent)
        [ -n "$p" ] || { echo 0; return; }
        find /sys/fs/cgroup/*/"$p" -mindepth 1 -type d 2>/dev/null | wc -l
}
mounts() { grep -c "$CASE_DIR" /proc/self/mountinfo; }
nft_rules() { nft list table inet "$(bridge)" 2>/dev/null | wc -l; }
bridge_ports() { ip -o link show master "$(bridge)" 2>/dev/null | wc -l; }
# The host ends of this supd's veths: "v" and 8 hex digits of sha256("<cgroup parent>/<unit>").
veths() {
        local u n=0
        for u in "$@"; do
                ip link show "v$(printf '%s/%s' "$(parent)" "$u" | sha256sum | cut -c1-8)" >/dev/null 2>&1 && n=$((n + 1))
        done
        echo $n
}
bridge_unit() { # bridge_unit NAME YAML-REST: unit() on sup's bridge
        unit "$1" "$2"
        sed -i 's/^network: none$/network: bridge/' "$CASE_DIR/units/$1.yaml"
}
sleeper() { echo "command: [/bin/sh, -c, \"exec sleep $TAG$1\"]"; } # sleeper I: the workload "sleep TAG<I>"

# end_part TITLE: supd stops (SIGTERM stops the units, removes its bridge and table); whatever
# stays is a problem; the verdict.
end_part() {
        local p b
        p=$(parent) b=$(bridge)
        stop_supd
        check_left_behind
        [ -n "$p" ] && [ -n "$(find /sys/fs/cgroup/*/"$p" -mindepth 1 -type d 2>/dev/null)" ] &&
                fail "cgroups left below $p after supd stopped"
        if [ -n "$b" ]; then
                ip link show "$b" >/dev/null 2>&1 && fail "bridge $b left after supd stopped"
                nft list table inet "$b" >/dev/null 2>&1 && fail "nft table $b left after supd stopped"
        fi
        verdict "$1"
}

# What the suite may leave when interrupted: its processes, supd (SIGTERM: units, bridge, table),
# monitors and workloads, mounts, cgroups, bridges and tables, then TOP.
soak_cleanup() {
        local pid d p b h
        for pid in "${STOPPED[@]}"; do kill -CONT "$pid" 2>/dev/null; done
        for pid in "${HOLDERS[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
        [ -n "${FIFO_FD:-}" ] && exec {FIFO_FD}>&-
        stop_supd
        pkill -9 -f "sup-monitor --dir $TOP" 2>/dev/null
        pkill -9 -f "^sleep $TAG" 2>/dev/null
        grep -o " $TOP/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
        for d in "$TOP"/c*; do
                [ -f "$d/supd.log" ] || continue
                p=$(CASE_DIR=$d parent) b=$(CASE_DIR=$d bridge)
                if [ -n "$p" ]; then
                        for h in /sys/fs/cgroup/*/"$p"; do
                                [ -d "$h" ] || continue
                                find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -9 "$pid"; done 2>/dev/null
                                find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
                        done
                fi
                if [ -n "$b" ]; then
                        ip link del "$b" 2>/dev/null
                        nft delete table inet "$b" 2>/dev/null
                fi
        done
        if [ "${SUP_TEST_KEEP:-0}" = 1 ]; then echo "kept $TOP"; else rm -rf "$TOP"; fi
}
trap soak_cleanup EXIT
trap 'exit 130' INT TERM

# holder.py SOCKET IDLE SLOW OUT: keeps IDLE idle connections and SLOW ones that trickle a request a
# byte a second (reconnecting as supd closes them: 60 s idle, 10 s incomplete), and writes its
# counts to OUT as JSON twice a second. A connection counts as held once supd kept it 3 s (a
# refused one is accepted first, then closed with too-many-connections).
cat > "$TOP/holder.py" <<'PY'
import json, os, resource, selectors, signal, socket, sys, time
path, want, out = sys.argv[1], {"idle": int(sys.argv[2]), "slow": int(sys.argv[3])}, sys.argv[4]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
REQ = b'{"id": 1, "method": "status"}\n'
sel, conns = selectors.DefaultSelector(), {}
st = {"idle": 0, "slow": 0, "max_held": 0, "opened": 0, "closed_by_supd": 0, "refused": 0, "connect_errors": 0}
stop, retry_at = False, 0.0
def term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, term)
def drop(s):
    sel.unregister(s); st[conns.pop(s)[0]] -= 1; s.close()
def connect(kind):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        s.connect(path)
    except OSError:  # the backlog is full (EAGAIN) or supd is gone
        s.close(); st["connect_errors"] += 1
        return False
    conns[s] = [kind, 0, time.monotonic()]; st[kind] += 1; st["opened"] += 1
    sel.register(s, selectors.EVENT_READ)
    return True
last_trickle = last_dump = 0.0
while not stop:
    now = time.monotonic()
    if now >= retry_at:
        budget = 100
        for kind in ("idle", "slow"):
            while st[kind] < want[kind] and budget > 0:
                budget -= 1
                if not connect(kind):
                    retry_at = now + 1.0
                    break
    st["max_held"] = max(st["max_held"], sum(1 for c in conns.values() if now - c[2] >= 3))
    for key, _ in sel.select(timeout=0.1):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if b"too-many-connections" in data:
            st["refused"] += 1; retry_at = time.monotonic() + 1.0; drop(s)
        elif not data:
            st["closed_by_supd"] += 1; drop(s)
    if now - last_trickle >= 1.0:
        last_trickle = now
        for s, c in list(conns.items()):
            if c[0] == "slow":
                try:
                    s.send(REQ[c[1] % len(REQ):c[1] % len(REQ) + 1]); c[1] += 1
                except OSError:
                    st["closed_by_supd"] += 1; drop(s)
    if now - last_dump >= 0.5:
        last_dump = now
        with open(out + ".tmp", "w") as f:
            json.dump(st, f)
        os.replace(out + ".tmp", out)
PY
# latency N COMMAND...: runs the command N times; "p50 p99 max errors" in ms, errors on stderr.
cat > "$TOP/latency.py" <<'PY'
import subprocess, sys, time
n, cmd, t, errors = int(sys.argv[1]), sys.argv[2:], [], {}
for _ in range(n):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t.append((time.perf_counter() - t0) * 1000)
    if r.returncode:
        m = r.stderr.decode(errors="replace").strip()[:120]
        errors[m] = errors.get(m, 0) + 1
t.sort()
q = lambda p: t[min(len(t) - 1, int(round(p * (len(t) - 1))))]
print("%.1f %.1f %.1f %d" % (q(.5), q(.99), t[-1], sum(errors.values())))
for m, k in errors.items():
    print("      %dx %s" % (k, m), file=sys.stderr)
PY
chmod 644 "$TOP"/*.py
# lat_row LABEL N COMMAND...: a row of p50, p99, max and errors of N runs of the command.
lat_row() {
        local label=$1 p50 p99 max errors
        shift
        read -r p50 p99 max errors < <("$PY" "$TOP/latency.py" "$@")
        printf '    %-34s %8s %8s %8s %7s\n' "$label" "$p50" "$p99" "$max" "$errors"
        [ "$errors" = 0 ] || fail "$errors of $1 calls failed ($label)"
}
holder_stat() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$1" "$2" 2>/dev/null || echo 0; }

# first_start_supd [OPTIONS]: the part's units checked (a mistake in this script shows at once), then supd.
first_start_supd() {
        local out
        out=$("$SUPCTL" validate "$CASE_DIR/units" 2>&1) || fail "invalid units: $out"
        start_supd "$@"
}

# supd_kill_start: kill -9 supd, start it again; t0 when it started, t_answer when status answered.
supd_kill_start() {
        kill -9 "$SUPD_PID"
        wait "$SUPD_PID" 2>/dev/null
        SUPD_PID=
        t0=$(now_ms)
        start_supd
        t_answer=$(($(now_ms) - t0))
}

# What the parts wait for.
held_all() { [ "$(holder_stat "$CASE_DIR/root.json" max_held)" -ge $((IDLE + SLOW)) ]; }
fds_back() { [ "$(fds "$SUPD_PID")" -le "$fds_before" ]; }
unresponsive() { state_is u6 unresponsive; }
reader_follows() { find "/proc/$reader/fd" -lname '*/flood.log' 2>/dev/null | grep -q .; }

SOAK_START=$SECONDS
echo "sup soak: $(date -u), $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
        "cgroup $(if [ -d /sys/fs/cgroup/unified ]; then echo 'v1 hybrid'; elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi)," \
        "scale $SCALE, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "    $SUPD, directory $TOP"

# ---------------------------------------------------------------------------------------------
part1() {
        begin "1. lifecycle churn: start, stop, restart and reload in a loop"
        CHURN_SECONDS=$(scaled 360 20)
        names=()
        for i in 1 2 3; do
                bridge_unit "b$i" "$(sleeper "$i")
ports: [\"127.0.0.1:$((20000 + RANDOM % 20000)):80\"]"
                names+=("b$i")
        done
        for i in 4 5 6; do
                unit "n$i" "$(sleeper "$i")"
                names+=("n$i")
        done
        declare -A SNAP=()
        # snap LABEL: the leftovers' counts now, as a row of the table and in SNAP.
        snap() {
                local row k
                read -ra row < <(printf '%s %s %s %s %s %s %s %s %s\n' "$(cgroups)" "$(mounts)" "$(veths "${names[@]}")" "$(bridge_ports)" \
                        "$(nft_rules)" "$(all_monitors)" "$(pgrep -f "^sleep $TAG" | wc -l)" "$(fds "$SUPD_PID")" "$(rss_kib "$SUPD_PID")")
                printf '    %-16s %8s %7s %6s %7s %10s %9s %10s %9s %10s\n' "$1" "${row[@]}"
                k=0
                for v in "${row[@]}"; do SNAP[$1.$k]=$v; k=$((k + 1)); done
        }
        settle() { # settle STATE: every unit in STATE (start or stop them all)
                local u verb=start
                [ "$1" = stopped ] && verb=stop
                for u in "${names[@]}"; do ctl "$verb" "$u" >/dev/null 2>&1; done
                wait_for 60 all_in_state ${#names[@]} "$1" || fail "not all units $1 after the churn: $(units | tr '\n' ' ')"
        }
        first_start_supd
        wait_for 30 all_in_state ${#names[@]} running || fail "the units did not start: $(units | tr '\n' ' ')"
        printf '    %-16s %8s %7s %6s %7s %10s %9s %10s %9s %10s\n' "" cgroups mounts veths br-ports nft-lines monitors workloads "supd fds" "RSS KiB"
        settle stopped
        snap stopped-before
        settle running
        snap running-before
        starts_before=$(cat "$CASE_DIR"/state/logs/*.log | grep -c -- '-> starting')
        VERBS=(start stop restart)
        # One operation: its verb and status in churn-results, a refusal's message in churn-errors.
        churn_op() {
                local out
                if out=$(ctl "$@" 2>&1); then echo "$1 0"; else echo "$1 1"; echo "$1: $out" >> "$CASE_DIR/churn-errors"; fi >> "$CASE_DIR/churn-results"
        }
        : > "$CASE_DIR/churn-results"
        : > "$CASE_DIR/churn-errors"
        jobs_=() ops=0 gen=0 inflight=0 t_end=$((SECONDS + CHURN_SECONDS)) t0=$(now_ms)
        while [ $SECONDS -lt $t_end ]; do
                u=${names[RANDOM % ${#names[@]}]}
                if [ $((ops % 20)) = 19 ]; then
                        # A changed unit (written whole, then renamed): the reload replaces its instance.
                        gen=$((gen + 1))
                        { grep -v '^env:' "$CASE_DIR/units/$u.yaml"; echo "env: {GEN: \"$gen\"}"; } > "$CASE_DIR/unit.new"
                        mv "$CASE_DIR/unit.new" "$CASE_DIR/units/$u.yaml"
                        churn_op reload &
                        jobs_+=($!)
                else
                        churn_op "${VERBS[RANDOM % 3]}" "$u" &
                        jobs_+=($!)
                fi
                # About 15 operations a second, a few at a time (supctl is slow to start on a busy machine).
                ops=$((ops + 1)) inflight=$((inflight + 1))
                while [ $inflight -ge 6 ]; do wait -n; inflight=$((inflight - 1)); done
                sleep_ms=$((ops * 1000 / 15 - ($(now_ms) - t0)))
                [ $sleep_ms -gt 0 ] && sleep "$(printf '0.%03d' "$sleep_ms")"
        done
        wait "${jobs_[@]}" 2>/dev/null
        declare -A OPS=() ERRS=()
        while read -r op rc; do
                OPS[$op]=$((${OPS[$op]:-0} + 1)) ERRS[$op]=$((${ERRS[$op]:-0} + rc))
        done < "$CASE_DIR/churn-results"
        elapsed=$(($(now_ms) - t0))
        settle running
        snap running-after
        settle stopped
        snap stopped-after
        lifecycles=$(($(cat "$CASE_DIR"/state/logs/*.log | grep -c -- '-> starting') - starts_before))
        echo "    ${ops} operations in $((elapsed / 1000)) s ($(awk -v o="$ops" -v e="$elapsed" 'BEGIN { printf "%.1f", o * 1000 / e }')/s):" \
                "start ${OPS[start]:-0}, stop ${OPS[stop]:-0}, restart ${OPS[restart]:-0}, reload ${OPS[reload]:-0};" \
                "refused: start ${ERRS[start]:-0}, stop ${ERRS[stop]:-0}, restart ${ERRS[restart]:-0}, reload ${ERRS[reload]:-0}"
        echo "    $lifecycles lifecycles (starts in the units' logs), $(awk -v l="$lifecycles" -v e="$elapsed" 'BEGIN { printf "%.1f", l * 1000 / e }')/s"
        [ -s "$CASE_DIR/churn-errors" ] && { echo "    refusals, most frequent:"; sed 's/[0-9]\+/N/g' "$CASE_DIR/churn-errors" | sort | uniq -c | sort -rn | head -5 | sed 's/^/     /'; }
        labels=(cgroups mounts veths bridge-ports nft-lines monitors workloads "supd fds")
        for state in stopped running; do
                for k in 0 1 2 3 4 5 6 7; do
                        b=${SNAP[$state-before.$k]} a=${SNAP[$state-after.$k]}
                        [ "$a" -gt "$b" ] && fail "leftover ${labels[k]} ($state: $b before, $a after)"
                done
        done
        rss_b=${SNAP[running-before.8]} rss_a=${SNAP[running-after.8]}
        echo "    supd RSS (running): $rss_b KiB before, $rss_a KiB after ($((rss_a - rss_b)) KiB)"
        [ $((rss_a - rss_b)) -gt 4096 ] && fail "supd's RSS grew by $((rss_a - rss_b)) KiB"
        end_part "1 lifecycle churn"
}

part2() {
        begin "2. adoption storm: kill -9 supd and start it again, units keep running"
        N=$(scaled 60 6) M=$(scaled 20 2)
        for i in $(seq "$N"); do
                if [ $((i % 6)) = 0 ]; then bridge_unit "u$i" "$(sleeper "$i")"; else unit "u$i" "$(sleeper "$i")"; fi
        done
        t0=$(now_ms)
        first_start_supd
        wait_for 120 all_in_state "$N" running || fail "only $(count_state running) of $N units started"
        echo "    $N units ($((N / 6)) on the bridge) running $(($(now_ms) - t0)) ms after supd started"
        units | LC_ALL=C sort -k1,1 > "$CASE_DIR/units.before"
        times=() answers=()
        printf '    %-8s %14s %14s %9s %9s %10s %9s\n' restart "status (ms)" "full (ms)" running "same PIDs" restarts monitors
        for r in $(seq "$M"); do
                supd_kill_start
                wait_for 60 all_in_state "$N" running
                t_full=$(($(now_ms) - t0))
                units | LC_ALL=C sort -k1,1 > "$CASE_DIR/units.now"
                same=$(LC_ALL=C join "$CASE_DIR/units.before" "$CASE_DIR/units.now" | awk '$3 == $6' | wc -l)
                restarts=$(awk '{ s += $4 } END { print s + 0 }' "$CASE_DIR/units.now")
                running=$(awk '$2 == "running"' "$CASE_DIR/units.now" | wc -l)
                mons=$(all_monitors)
                printf '    %-8s %14s %14s %9s %9s %10s %9s\n' "$r" "$t_answer" "$t_full" "$running/$N" "$same/$N" "$restarts" "$mons"
                times+=("$t_full") answers+=("$t_answer")
                [ "$running" = "$N" ] || fail "restart $r: $running of $N running"
                [ "$same" = "$N" ] || fail "restart $r: $((N - same)) PIDs changed"
                [ "$restarts" = 0 ] || fail "restart $r: $restarts restarts"
                [ "$mons" = "$N" ] || fail "restart $r: $mons monitors for $N units"
        done
        echo "    status answers (ms): $(printf '%s\n' "${answers[@]}" | stats)"
        echo "    full status, all $N running (ms): $(printf '%s\n' "${times[@]}" | stats)"
        echo "    supd after $M restarts: $(fds "$SUPD_PID") fds, $(rss_kib "$SUPD_PID") KiB RSS"
        w=$(for i in $(seq "$N"); do workloads_of "$i"; done | sort | uniq -c | tr '\n' ' ')
        echo "    workloads per unit (count x n): $w"
        for i in $(seq "$N"); do [ "$(workloads_of "$i")" = 1 ] || fail "u$i has $(workloads_of "$i") workloads"; done
        end_part "2 adoption storm"
}

part3() {
        begin "3. crash-loop storm under thousands of idle and slow connections"
        IDLE=$(scaled 2000 100) SLOW=$(scaled 100 10) CALLS=$(scaled 200 20) STORM=$(scaled 150 20)
        for i in 1 2 3 4 5 6; do
                unit "crash$i" 'command: [/bin/sh, -c, "exit 1"]
restart: {policy: always, delay: 100ms, max_delay: 200ms, burst: 10000, interval: 1s}'
        done
        for i in 1 2 3 4; do unit "steady$i" "$(sleeper "$i")"; done
        first_start_supd --socket-group nogroup
        chmod 755 "$CASE_DIR" "$CASE_DIR/run"
        wait_for 30 all_in_state 4 running || fail "the steady units did not start: $(units | tr '\n' ' ')"
        as_root=("$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status)
        as_member=(setpriv --reuid=1 --regid=65534 --clear-groups "${as_root[@]}")
        printf '    %-34s %8s %8s %8s %7s\n' "supctl status, ms" p50 p99 max errors
        lat_row "root, crash loop only ($((CALLS / 4)) calls)" $((CALLS / 4)) "${as_root[@]}"
        lat_row "member, crash loop only" $((CALLS / 4)) "${as_member[@]}"
        fds_before=$(fds "$SUPD_PID")
        "$PY" "$TOP/holder.py" "$CASE_DIR/run/supd.sock" "$IDLE" "$SLOW" "$CASE_DIR/root.json" &
        HOLDERS+=($!) root_holder=$!
        mkdir -p "$CASE_DIR/member" && chown 65534 "$CASE_DIR/member"
        setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$TOP/holder.py" "$CASE_DIR/run/supd.sock" 100 20 "$CASE_DIR/member/member.json" &
        HOLDERS+=($!) member_holder=$!
        t0=$(now_ms)
        wait_for 120 held_all || fail "root holds only $(holder_stat "$CASE_DIR/root.json" max_held) of $((IDLE + SLOW)) connections"
        echo "    root: $((IDLE + SLOW)) connections ($IDLE idle, $SLOW trickling) held 3 s, all of them after $(($(now_ms) - t0)) ms"
        storm_end=$((SECONDS + STORM)) ticks0=$(cpu_ticks "$SUPD_PID") t0=$(now_ms)
        restarts0=$(units | awk '/^crash/ { s += $4 } END { print s + 0 }')
        lat_row "root, under the storm ($CALLS calls)" "$CALLS" "${as_root[@]}"
        lat_row "member, under the storm" "$CALLS" "${as_member[@]}"
        fds_storm=$(fds "$SUPD_PID") rss_storm=$(rss_kib "$SUPD_PID")
        while [ $SECONDS -lt $storm_end ]; do sleep 1; done
        elapsed=$(($(now_ms) - t0))
        cpu=$(awk -v t=$(($(cpu_ticks "$SUPD_PID") - ticks0)) -v hz="$(getconf CLK_TCK)" -v e="$elapsed" 'BEGIN { printf "%.0f", t * 100000 / hz / e }')
        restarts=$(($(units | awk '/^crash/ { s += $4 } END { print s + 0 }') - restarts0))
        echo "    over $((elapsed / 1000)) s: $restarts crash-loop restarts ($(awk -v r="$restarts" -v e="$elapsed" 'BEGIN { printf "%.1f", r * 1000 / e }')/s), supd CPU $cpu %, fds $fds_before -> $fds_storm, RSS $rss_storm KiB"
        for h in root member; do
                j=$CASE_DIR/$h.json
                [ $h = member ] && j=$CASE_DIR/member/member.json
                echo "    $h holder: held max $(holder_stat "$j" max_held), opened $(holder_stat "$j" opened)," \
                        "closed by supd $(holder_stat "$j" closed_by_supd), too-many-connections $(holder_stat "$j" refused)," \
                        "connect failed $(holder_stat "$j" connect_errors)"
        done
        [ "$(holder_stat "$CASE_DIR/member/member.json" max_held)" -gt 32 ] && fail "uid 65534 held more than 32 connections"
        [ "$(holder_stat "$CASE_DIR/root.json" refused)" = 0 ] || fail "root was refused connections"
        kill -TERM "$root_holder" "$member_holder" 2>/dev/null
        wait "$root_holder" "$member_holder" 2>/dev/null
        HOLDERS=()
        wait_for 10 fds_back || fail "supd's fds did not come back: $fds_before before, $(fds "$SUPD_PID") after"
        echo "    after the holders closed: supd $(fds "$SUPD_PID") fds, $(rss_kib "$SUPD_PID") KiB RSS"
        end_part "3 crash-loop storm"
}

part4() {
        begin "4. log flood: /bin/yes, and logs -f readers that do not read"
        FLOOD=$(scaled 60 12)
        unit flood 'command: [/bin/yes, "a line of the soak log flood"]'
        unit quiet "$(sleeper 1)"
        first_start_supd
        wait_for 10 state_is flood running || fail "flood: $(field flood state)"
        flood_pid=$(field flood pid)
        mon=$(pgrep -f "sup-monitor --dir $CASE_DIR/run/units/flood ")
        log=$CASE_DIR/state/logs/flood.log
        # One reader stopped with SIGSTOP, one writing into a pipe nobody reads.
        # supctl itself (not the ctl function's subshell), so that SIGSTOP and SIGTERM reach it.
        "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" logs -f flood > /dev/null &
        reader=$!
        HOLDERS+=("$reader")
        # Stopped once it follows the log (it has the file open).
        wait_for 5 reader_follows
        kill -STOP "$reader" 2>/dev/null || fail "the logs -f reader to stop exited before it could be"
        STOPPED+=("$reader")
        mkfifo "$CASE_DIR/fifo"
        exec {FIFO_FD}<> "$CASE_DIR/fifo"
        "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" logs -f flood > "$CASE_DIR/fifo" {FIFO_FD}>&- &
        HOLDERS+=($!) piped=$!
        # And one that reads, across the rotations.
        "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" logs -f flood > /dev/null &
        HOLDERS+=($!) follower=$!
        printf '    %-6s %10s %10s %13s %12s %12s %10s %8s %10s\n' s "log KiB" "log.1 KiB" "logged KiB/s" "monitor KiB" "supd KiB" "monitor %" "status" "flood pid"
        # The rate: what the log grew by since the last sample, plus, when log.1 is another file
        # than then (its first line changed), what was written before the rename (one rotation
        # between samples at most: 8 MiB in 5 s is more than a monitor writes here).
        head1=$(head -c 64 "$log.1" 2>/dev/null | md5sum) prev_size=$(stat -c %s "$log") max_total=0 t_end=$((SECONDS + FLOOD)) start=$SECONDS
        mticks=$(cpu_ticks "$mon") t_prev=$(now_ms) first_mrss='' first_srss=''
        while [ $SECONDS -lt $t_end ]; do
                sleep 5
                size=$(stat -c %s "$log" 2>/dev/null || echo 0) size1=$(stat -c %s "$log.1" 2>/dev/null || echo 0)
                h=$(head -c 64 "$log.1" 2>/dev/null | md5sum)
                if [ "$h" != "$head1" ]; then written=$((size1 - prev_size + size)) head1=$h; else written=$((size - prev_size)); fi
                prev_size=$size
                [ $((size + size1)) -gt "$max_total" ] && max_total=$((size + size1))
                t=$(now_ms)
                if ctl status >/dev/null 2>&1; then st="$(($(now_ms) - t)) ms"; else st=failed; fail "status failed during the flood"; fi
                mt=$(cpu_ticks "$mon") dt=$((t - t_prev))
                mcpu=$(awk -v t=$((mt - mticks)) -v hz="$(getconf CLK_TCK)" -v e=$dt 'BEGIN { printf "%.0f", t * 100000 / hz / e }')
                mticks=$mt t_prev=$t
                mrss=$(rss_kib "$mon") srss=$(rss_kib "$SUPD_PID")
                first_mrss=${first_mrss:-$mrss} first_srss=${first_srss:-$srss}
                pid=$(field flood pid)
                printf '    %-6s %10s %10s %13s %12s %12s %10s %8s %10s\n' $((SECONDS - start)) $((size / 1024)) $((size1 / 1024)) $((written * 1000 / 1024 / dt)) "$mrss" "$srss" "$mcpu" "$st" "$pid"
                [ "$pid" = "$flood_pid" ] || fail "the flood's workload changed ($flood_pid -> $pid)"
                [ "$written" -gt 0 ] || fail "nothing was logged in the 5 s before $((SECONDS - start)) s"
        done
        echo "    largest log + log.1: $max_total bytes ($((max_total / 1048576)) MiB; the cap is 16 MiB and a line)"
        [ "$max_total" -le $((16 * 1048576 + 4096)) ] || fail "the log grew past its cap: $max_total bytes"
        echo "    RSS first -> last: monitor $first_mrss -> $mrss KiB, supd $first_srss -> $srss KiB"
        [ $((mrss - first_mrss)) -gt 4096 ] && fail "the monitor's RSS grew by $((mrss - first_mrss)) KiB"
        [ $((srss - first_srss)) -gt 4096 ] && fail "supd's RSS grew by $((srss - first_srss)) KiB"
        state_is quiet running || fail "quiet: $(field quiet state)"
        echo "    readers: the stopped one in state $(awk '{ print $3 }' "/proc/$reader/stat" 2>/dev/null || echo gone)," \
                "the unread one waiting in $(cat "/proc/$piped/wchan" 2>/dev/null)," \
                "the reading one $(if kill -0 "$follower" 2>/dev/null; then echo following; else wait "$follower"; echo "exited with status $?"; fi)"
        kill -0 "$follower" 2>/dev/null || fail "a logs -f reader exited during the flood (at a rotation?)"
        kill -CONT "$reader" 2>/dev/null
        for pid in "${HOLDERS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
        exec {FIFO_FD}>&-
        FIFO_FD=
        wait "${HOLDERS[@]}" 2>/dev/null
        HOLDERS=() STOPPED=()
        end_part "4 log flood"
}

part5() {
        begin "5. corrupt state files: damaged spec.json, no monitor.sock, a stopped monitor; kill -9 supd"
        ROUNDS=$(scaled 3 1)
        damages=("spec.json empty" "spec.json garbage" "spec.json of u4" "control" "monitor.sock deleted" "monitor SIGSTOP" "control")
        for i in 1 2 3 4 5 6 7; do unit "u$i" "$(sleeper "$i")"; done
        first_start_supd
        run=$CASE_DIR/run/units
        for r in $(seq "$ROUNDS"); do
                wait_for 60 all_in_state 7 running || fail "round $r: not all running before: $(units | tr '\n' ' ')"
                units | LC_ALL=C sort -k1,1 > "$CASE_DIR/units.before"
                declare -A MON=()
                for i in 1 2 3 4 5 6 7; do MON[$i]=$(pgrep -f "sup-monitor --dir $run/u$i "); done
                : > "$run/u1/spec.json"
                head -c 700 /dev/urandom > "$run/u2/spec.json"
                cp "$run/u4/spec.json" "$run/u3/spec.json"
                rm -f "$run/u5/monitor.sock"
                kill -STOP "${MON[6]}"
                STOPPED+=("${MON[6]}")
                supd_kill_start
                wait_for 30 unresponsive || fail "round $r: u6 (monitor stopped) is $(field u6 state), not unresponsive"
                t_unresp=$(($(now_ms) - t0))
                wait_for 60 all_in_state 6 running || fail "round $r: $(units | tr '\n' ' ')"
                t_ready=$(($(now_ms) - t0))
                kill -CONT "${MON[6]}"
                STOPPED=()
                t1=$(now_ms)
                wait_for 30 all_in_state 7 running || fail "round $r: u6 not adopted after SIGCONT: $(field u6 state)"
                t_adopt=$(($(now_ms) - t1))
                echo "    round $r: status answers after $t_answer ms, u6 unresponsive after $t_unresp ms, the other 6 running after" \
                        "$t_ready ms, u6 adopted $t_adopt ms after SIGCONT"
                units | LC_ALL=C sort -k1,1 > "$CASE_DIR/units.now"
                printf '    %-6s %-22s %-10s %-10s %9s %10s %-10s\n' unit damage state outcome monitors workloads spec.json
                for i in 1 2 3 4 5 6 7; do
                        old=$(awk -v u="u$i" '$1 == u { print $3 }' "$CASE_DIR/units.before")
                        new=$(awk -v u="u$i" '$1 == u { print $3 }' "$CASE_DIR/units.now")
                        state=$(awk -v u="u$i" '$1 == u { print $2 }' "$CASE_DIR/units.now")
                        [ "$old" = "$new" ] && outcome=adopted || outcome=restarted
                        m=$(monitors_of "u$i") w=$(workloads_of "$i")
                        spec=$("$PY" -c 'import json, sys; print("ok" if json.load(open(sys.argv[1])).get("name") == sys.argv[2] else "wrong name")' \
                                "$run/u$i/spec.json" "u$i" 2>/dev/null || echo invalid)
                        printf '    %-6s %-22s %-10s %-10s %9s %10s %-10s\n' "u$i" "${damages[i - 1]}" "$state" "$outcome" "$m" "$w" "$spec"
                        [ "$m" = 1 ] || fail "round $r: u$i has $m monitors"
                        [ "$w" = 1 ] || fail "round $r: u$i has $w workloads"
                        [ "$spec" = ok ] || fail "round $r: u$i's spec.json is $spec"
                        [ "$outcome" = restarted ] && kill -0 "${MON[$i]}" 2>/dev/null && fail "round $r: u$i's old monitor ${MON[$i]} still runs"
                done
        done
        end_part "5 corrupt state files"
}

# ---------------------------------------------------------------------------------------------
# SUP_SOAK_PARTS: the parts to run (default all: "1 2 3 4 5").
for p in ${SUP_SOAK_PARTS:-1 2 3 4 5}; do "part$p"; done
echo "--- summary ($(((SECONDS - SOAK_START) / 60)) min $(((SECONDS - SOAK_START) % 60)) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '    %s\n' "${VERDICTS[@]}"
finish
