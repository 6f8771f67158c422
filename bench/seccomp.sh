#!/bin/bash
# What a seccomp filter costs sup: compiling it (once per profile, in the monitor) against loading
# it (at every start, in the workload's process), the cache hits in between, and the filter's
# cost on every system call afterwards. For the default profile and, where Debian's
# golang-github-containers-common installed it, podman's (the profile crun is measured with in
# start-latency.sh).
#
#   bench/seccomp.sh [ROUNDS]     (ROUNDS default 200, or SUP_BENCH_SECCOMP_RUNS; needs no root)
#
# The measuring is bench/seccomp.c (build/bench-seccomp, built with sup). Results: a table on
# stdout and in $SUP_BENCH_OUT/seccomp.md (default build/bench/).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SUP_BUILD:-$TOP/build}
OUT=${SUP_BENCH_OUT:-$BUILD/bench}
ROUNDS=${1:-${SUP_BENCH_SECCOMP_RUNS:-200}}
PODMAN=/usr/share/containers/seccomp.json

[ -x "$BUILD/bench-seccomp" ] || { echo "bench: build sup first: meson setup build && ninja -C build" >&2; exit 1; }
mkdir -p "$OUT"
profiles=()
if [ -f "$PODMAN" ]; then
        profiles+=("$PODMAN")
else
        echo "    no $PODMAN (apt-get install golang-github-containers-common): the default profile only" >&2
fi

raw=$("$BUILD/bench-seccomp" "$ROUNDS" "${profiles[@]}")
{
        echo "seccomp, $ROUNDS rounds, $(sed -n 's/^# //p' <<<"$raw"), Linux $(uname -r); median (min - max)"
        echo
        echo "| | profile | BPF instructions | median | min | max |"
        echo "|---|---|---:|---:|---:|---:|"
        grep -v '^#' <<<"$raw" | while IFS=$'\t' read -r profile insns phase med min max; do
                unit=ms
                case "$phase" in *", ns") unit=ns ;; esac
                [ "$profile" = "$PODMAN" ] && profile="podman's"
                if [ $unit = ms ]; then
                        med=$(awk "BEGIN { printf \"%.3f\", $med / 1000 }")
                        min=$(awk "BEGIN { printf \"%.3f\", $min / 1000 }")
                        max=$(awk "BEGIN { printf \"%.3f\", $max / 1000 }")
                else
                        med=$(awk "BEGIN { printf \"%.0f\", $med }")
                        min=$(awk "BEGIN { printf \"%.0f\", $min }")
                        max=$(awk "BEGIN { printf \"%.0f\", $max }")
                fi
                echo "| ${phase%, ns} | $profile | $insns | $med $unit | $min $unit | $max $unit |"
        done
} | tee "$OUT/seccomp.md"
