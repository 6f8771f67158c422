#!/bin/bash
# Every benchmark of bench/, one after the other, as root; not part of the test suite.
#
#   bench/run-all.sh [--update-readme]
#
# Builds sup if needed (meson, ninja in build/), runs start-latency.sh, scale.sh, hyperv.sh,
# seccomp.sh, image.sh, exec.sh and health-cpu.sh, and writes their tables with the machine and the commit to $SUP_BENCH_OUT/results.md
# (default build/bench/). --update-readme also puts them into bench/README.md, between the results
# markers.
# The environment variables of the scripts apply (SUP_BENCH_RUNS, SUP_BENCH_UNITS,
# SUP_BENCH_SCALE_UNITS, SUP_BENCH_SCALE_RUNS, SUP_BENCH_HV_RUNS, SUP_BENCH_HV_IDLE,
# SUP_BENCH_SETTLE, SUP_BENCH_LIMITS, SUP_BENCH_CRUN_LIMITS, SUP_BENCH_TRACES, SUP_BENCH_SECCOMP_RUNS,
# SUP_BENCH_IMAGE_RUNS, SUP_BENCH_IMAGE_VM_RUNS, SUP_BENCH_IMAGE_CACHE, SUP_BENCH_EXEC_RUNS,
# SUP_BENCH_EXEC_TP_RUNS, SUP_BENCH_EXEC_MB, SUP_BENCH_EXEC_HV_RUNS, SUP_BENCH_EXEC_HV_MB,
# SUP_BENCH_HEALTH_SECONDS, SUP_BENCH_HEALTH_SAMPLE, SUP_BENCH_HEALTH_HV, SUP_BENCH_HEALTH_CHECK,
# SUP_BENCH_HEALTH_CRUN, SUP_BENCH_SETTLE_HEALTH, SUP_GUEST_DIR, SUP_BENCH_OUT, SUP_BUILD).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${SUP_BUILD:-$PWD/build}
OUT=${SUP_BENCH_OUT:-$BUILD/bench}
update=0
[ "${1:-}" = --update-readme ] && update=1

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" > /dev/null
ninja -C "$BUILD" > /dev/null
mkdir -p "$OUT"

bench/start-latency.sh
bench/scale.sh
bench/hyperv.sh
bench/seccomp.sh
bench/image.sh
bench/exec.sh
bench/health-cpu.sh

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- supervisor meson.build 2>/dev/null || commit="$commit + local changes"
{
        echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
                "Linux $(uname -r), $( . /etc/os-release && echo "$PRETTY_NAME"), cgroups $( [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && echo v2 || echo "v1 (hybrid)");" \
                "sup $commit, $(crun --version | head -1)$(command -v conmon > /dev/null && echo ", $(conmon --version | head -1)")."
        echo
        echo "#### Start latency"
        echo
        echo "$(head -1 "$OUT/start-latency.md" | sed 's/.*, \([0-9]* rounds\)/\1/')."
        echo
        sed '1,2d' "$OUT/start-latency.md" | sed '/^    the slowest/,$d'
        echo
        echo "#### Scale"
        echo
        echo "$(head -1 "$OUT/scale.md" | sed 's/.*, \([0-9]* containers\)/\1/')."
        echo
        sed '1,2d' "$OUT/scale.md"
        echo
        echo "#### Where the time goes (one traced start each; strace slows every call, so shares only)"
        echo
        sed -n '/^    the slowest/,$p' "$OUT/start-latency.md"
        echo
        echo "#### hyperv isolation: sup's VM against bare QEMU"
        echo
        echo "$(head -1 "$OUT/hyperv.md" | sed 's/^hyperv, [^,]*, [^,]*, Linux [^,]*, //')."
        echo
        sed '1,2d' "$OUT/hyperv.md"
        echo
        echo "#### seccomp: compiling a filter once, loading it at every start"
        echo
        echo "$(head -1 "$OUT/seccomp.md" | sed 's/^seccomp, //')."
        echo
        sed '1,2d' "$OUT/seccomp.md"
        echo
        echo "#### Images: a layer's disk as ext4 or erofs; unpack and first start against umoci and podman"
        echo
        echo "$(head -1 "$OUT/image.md" | sed 's/^images, //')."
        echo
        sed '1,2d' "$OUT/image.md"
        echo
        echo "#### exec: \`supctl exec\` against \`crun exec\` and \`nsenter\`"
        echo
        echo "$(head -1 "$OUT/exec.md" | sed 's/^exec, //')."
        echo
        sed '1,2d' "$OUT/exec.md"
        echo
        echo "#### Health checks: the host CPU of a check every second"
        echo
        echo "$(head -1 "$OUT/health-cpu.md" | sed "s/^health checks' CPU, //")."
        echo
        sed '1,2d' "$OUT/health-cpu.md"
} > "$OUT/results.md"
echo
echo "results: $OUT/results.md"

if [ $update = 1 ]; then
        /usr/bin/python3 - "$OUT/results.md" bench/README.md <<'PY'
import sys
results, readme = open(sys.argv[1]).read().rstrip("\n"), open(sys.argv[2]).read()
begin, end = "<!-- results:begin -->", "<!-- results:end -->"
a, b = readme.index(begin) + len(begin), readme.index(end)
open(sys.argv[2], "w").write(readme[:a] + "\n" + results + "\n" + readme[b:])
PY
        echo "bench/README.md updated"
fi
