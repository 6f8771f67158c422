#!/bin/bash
# supd's metrics end to end, as root: `supctl metrics` and `supd --metrics-listen` on loopback TCP
# and a unix socket, checked by promtool (Debian's prometheus package) and scraped by a real
# Prometheus when it is installed:
#   test-metrics.sh SUPD SUPCTL SUP_MONITOR
# One supd for every case (each case goes on from where the previous left it). Exit 77 (skip)
# without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

command -v promtool >/dev/null && command -v curl >/dev/null || skip "no promtool or curl (apt-get install prometheus curl)"

supd_test_setup supmetrics

LAYER=$TOP/layer
busybox_layer "$LAYER"
PROM_PID=

trap '[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; cleanup' EXIT

# A port nobody listens on now (a collision with another test fails loudly at supd's start).
free_port() {
        "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
SOCK=$TOP/metrics.sock

scrape() { ctl metrics > "$CASE_DIR/metrics.txt" 2> "$CASE_DIR/metrics.err"; }
# has LINE: the last scrape has this line.
has() { grep -qxF -- "$1" "$CASE_DIR/metrics.txt" || fail "no line '$1' in: $(grep -F "${1%%\{*}" "$CASE_DIR/metrics.txt" | head -12)"; }
# value SERIES: the value of one series of the last scrape (empty without it).
value() { grep -F -- "$1 " "$CASE_DIR/metrics.txt" | head -1 | sed 's/.* //'; }
promcheck() { # promcheck FILE: promtool's verdict on a scrape, lint warnings included
        promtool check metrics < "$1" > "$CASE_DIR/promtool.out" 2>&1 || fail "promtool check metrics: $(head -20 "$CASE_DIR/promtool.out")"
}

# ---------------------------------------------------------------------------------------------

begin "--metrics-listen takes a non-loopback address only with --metrics-allow-remote"
out=$("$SUPD" --units "$CASE_DIR/units" --run-dir "$CASE_DIR/run" --metrics-listen "0.0.0.0:$PORT" 2>&1)
rc=$?
[ "$rc" = 2 ] || fail "supd with 0.0.0.0: exit $rc, not 2: $out"
case "$out" in *"not a loopback address"*"--metrics-allow-remote"*) ;; *) fail "supd with 0.0.0.0 says: $out" ;; esac
[ -e "$CASE_DIR/run/supd.sock" ] && fail "supd went as far as its control socket"
out=$("$SUPD" --metrics-listen "localhost:$PORT" 2>&1)
[ $? = 2 ] || fail "a host name was taken: $out"
case_verdict # no supd ran

# The one supd of the cases below (each goes on from the last; the last one's end stops it): a bridged unit with a healthcheck, a crashing one, a stopped one.
begin "supctl metrics: valid for promtool, every unit's state, restarts, exit, health, usage, network"
cat > "$CASE_DIR/units/web.yaml" <<UNIT
image: {layers: [{dir: $LAYER}]}
command: [/bin/sleep, "1000"]
network: bridge
stop: {signal: SIGKILL, timeout: 2s}
healthcheck: {command: [/bin/true], interval: 1s}
resources: {memory: 64M, pids: 32}
UNIT
unit crash 'command: [/bin/sh, -c, "exit 3"]
restart: {policy: on-failure, delay: 100ms, burst: 2, interval: 60s}'
unit idle 'command: [/bin/sleep, "1000"]'
start_supd --metrics-listen "127.0.0.1:$PORT" --metrics-listen "$SOCK" || { end; finish; exit; }
ctl wait web --healthy --timeout 30s >/dev/null || fail "web is not healthy: $(field web state)"
wait_for 15 state_is crash failed || fail "crash did not fail: $(field crash state)"
ctl stop idle >/dev/null
wait_for 10 state_is idle stopped || fail "idle: $(field idle state)"
# Traffic on web's link, both ways (its bridge address answers pings).
addr=$(field web address)
[ -n "$addr" ] && command -v ping >/dev/null && ping -c 2 -i 0.2 -W 2 "$addr" >/dev/null 2>&1
scrape || fail "supctl metrics: $(cat "$CASE_DIR/metrics.err")"
promcheck "$CASE_DIR/metrics.txt"
has 'sup_unit_state{unit="web",isolation="process",state="running"} 1'
has 'sup_unit_state{unit="web",isolation="process",state="stopped"} 0'
has 'sup_unit_state{unit="crash",isolation="process",state="failed"} 1'
has 'sup_unit_state{unit="idle",isolation="process",state="stopped"} 1'
has 'sup_unit_health{unit="web",isolation="process",state="healthy"} 1'
has 'sup_unit_last_exit_code{unit="crash",isolation="process"} 3'
has 'sup_unit_restarts_total{unit="crash",isolation="process"} 1'
has 'sup_unit_memory_limit_bytes{unit="web",isolation="process"} 67108864'
has 'sup_unit_pids_limit{unit="web",isolation="process"} 32'
has 'sup_units{state="running"} 1'
has 'sup_units{state="failed"} 1'
has 'sup_units{state="stopped"} 1'
has 'sup_monitors{life="up"} 3'
has 'sup_reloads_total 1'
has 'sup_reloads_refused_total 0'
# What status reads: web's tasks, at least its init and sleep (a health check adds one at times,
# so not compared with a status taken at another moment), its memory and CPU there.
v=$(value 'sup_unit_pids{unit="web",isolation="process"}')
[ -n "$v" ] && [ "$v" -ge 2 ] || fail "web's tasks: '$v'"
for m in sup_unit_memory_bytes sup_unit_cpu_seconds_total sup_unit_start_duration_seconds; do
        v=$(value "$m{unit=\"web\",isolation=\"process\"}")
        "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "${v:-0}" || fail "$m of web: '$v'"
done
# A stopped unit has no usage: left out, not 0.
grep -q '^sup_unit_memory_bytes{unit="idle"' "$CASE_DIR/metrics.txt" && fail "a stopped unit's memory is shown"
# Bridged: both directions counted; network: none: no series.
for m in receive transmit; do
        v=$(value "sup_unit_network_${m}_bytes_total{unit=\"web\",isolation=\"process\"}")
        [ -n "$v" ] && [ "$v" -gt 0 ] || fail "web's network $m bytes: '$v'"
done
grep -q '^sup_unit_network_receive_bytes_total{unit="idle"' "$CASE_DIR/metrics.txt" && fail "network for a network: none unit"
# The requests made so far, by method: status (the waits above) and wait.
[ "$(value 'sup_control_request_duration_seconds_count{method="status"}')" -gt 0 ] 2>/dev/null ||
        fail "no status requests counted: $(grep 'method="status"' "$CASE_DIR/metrics.txt" | tail -2)"
has 'sup_control_request_duration_seconds_count{method="wait"} 1'
case_verdict

case_start "reloads and refused reloads are counted" # the supd above
echo 'command: [' > "$CASE_DIR/units/bad.yaml"
ctl reload >/dev/null 2>&1 && fail "a reload with an invalid unit was applied"
rm -f "$CASE_DIR/units/bad.yaml"
ctl reload >/dev/null || fail "reload"
scrape
has 'sup_reloads_total 2'
has 'sup_reloads_refused_total 1'
has 'sup_control_request_duration_seconds_count{method="reload"} 2'
case_verdict

case_start "GET /metrics on loopback TCP and a unix socket; 404, 405, 400; a client that never reads"
code=$(curl -s -o "$CASE_DIR/http.txt" -D "$CASE_DIR/http.head" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
[ "$code" = 200 ] || fail "GET /metrics over TCP: $code"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$CASE_DIR/http.head" || fail "content type: $(cat "$CASE_DIR/http.head")"
grep -qi '^Connection: close' "$CASE_DIR/http.head" || fail "no Connection: close: $(cat "$CASE_DIR/http.head")"
promcheck "$CASE_DIR/http.txt"
grep -qxF 'sup_unit_state{unit="web",isolation="process",state="running"} 1' "$CASE_DIR/http.txt" || fail "TCP scrape lacks web"
code=$(curl -s -o "$CASE_DIR/unix.txt" -w '%{http_code}' --unix-socket "$SOCK" "http://sup/metrics")
[ "$code" = 200 ] || fail "GET /metrics over the unix socket: $code"
promcheck "$CASE_DIR/unix.txt"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "the unix socket's mode: $(stat -c %a "$SOCK")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 404 ] || fail "GET / is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics")" = 405 ] || fail "POST is not 405"
# Garbage: a 400, and the connection closed (cat ends).
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
printf 'garbage\r\n\r\n' >&7
reply=$(timeout 5 cat <&7)
exec 7<&-
case "$reply" in "HTTP/1.1 400 Bad Request"*) ;; *) fail "garbage got: $reply" ;; esac
# A client that asks and never reads, and one that sends nothing: neither holds supd up.
exec 7<>"/dev/tcp/127.0.0.1/$PORT" 8<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /metrics HTTP/1.1\r\n\r\n' >&7
timeout 5 "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" status >/dev/null || fail "status while a metrics client does not read"
[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" = 200 ] || fail "a scrape beside them"
exec 7<&- 8<&-
case_verdict

case_start "a real Prometheus scrapes it"
if ! command -v prometheus >/dev/null; then
        log "SKIP: no prometheus binary"
else
        PROM_PORT=$(free_port)
        mkdir -p "$TOP/prom"
        cat > "$TOP/prom/prometheus.yml" <<CONF
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: sup
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
CONF
        prometheus --config.file="$TOP/prom/prometheus.yml" --storage.tsdb.path="$TOP/prom/data" \
                --web.listen-address="127.0.0.1:$PROM_PORT" > "$TOP/prom/log" 2>&1 &
        PROM_PID=$!
        query() { curl -s -G --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query"; }
        # up is 1 once a scrape succeeded (its samples parsed); then a series of ours, by its labels.
        wait_for 30 eval 'query up | grep -q "\"1\"\]"' || fail "up is not 1: $(query up) $(tail -5 "$TOP/prom/log")"
        query 'sup_unit_state{unit="web",state="running"}' | grep -q '"1"\]' ||
                fail "web's state in Prometheus: $(query 'sup_unit_state{unit="web"}')"
        kill "$PROM_PID"
        wait "$PROM_PID" 2>/dev/null
        PROM_PID=
fi
end

finish
