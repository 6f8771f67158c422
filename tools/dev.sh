#!/bin/bash
# sup's developer entry point: installs what the build needs (Debian 12, apt-get), builds, and runs
# either the main job or the whole test suite. Idempotent: a second run only does what changed.
#
#   tools/dev.sh run    build, then the main job: supd on examples/, and `supctl status`
#   tools/dev.sh stop   stop the supd that `run` started (and its units)
#   tools/dev.sh test   check the formatting (tools/check-format.sh), build, then every test: unit
#                       tests, schema agreement, an ASan+UBSan run, and the fuzzers (unit files
#                       for SUP_FUZZ_SECONDS, default 60; the control protocol, QMP, seccomp
#                       profiles, the canonical JSON codec and layer archives for a third of it each)
#   tools/dev.sh bench  build, then bench/run-all.sh: sup against crun and conmon, and hyperv
#                       units against bare QEMU, same run
#   tools/dev.sh soak   build, then tools/soak.sh: about 20 minutes of churn, adoption, client,
#                       log and corrupt-state storms, printing figures (docs/soak.md); not in CI
#   tools/dev.sh deps   only install the packages
#
# Environment: SUP_FUZZ_SECONDS (0 skips the fuzzer run), SUP_SKIP_DEPS=1 (no apt-get),
# SUP_TEST_JOBS (tests at once, default 3),
# SUP_SOAK_SCALE (the soak's durations and counts, default 1; 0.1 is a two-minute smoke run).
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD

packages=(
        gcc clang clang-format-14 libclang-rt-14-dev meson ninja-build pkg-config
        libyaml-dev libcap-dev libseccomp-dev libnl-3-dev libnl-route-3-dev libjansson-dev libcmocka-dev
        libarchive-dev libzstd-dev zlib1g-dev
        umoci skopeo docker-registry zstd
        buildah                         # test-image-store: an image index, as buildah pushes one
        python3 python3-jsonschema python3-yaml
        busybox-static
        nftables iproute2
        systemd procps util-linux
        qemu-system-x86 cpio kmod e2fsprogs erofs-utils
        binutils lz4 xz-utils gzip    # tools/guest-kernel.sh: readelf and the decompressor of vmlinuz (its ELF, the PVH boot)
        mmdebstrap                      # tests/images/build-redis.sh: the database test's Debian image
        pandoc man-db bash-completion   # the man pages (-Dman=enabled below), their test, completion's dir
        prometheus                      # promtool check metrics (test-metrics, test-hyperv), a real scrape
)

# The peers the benchmarks measure sup against (not needed to build or test).
bench_packages=(crun conmon golang-github-containers-common strace)

# The main job's supd: directories of its own, so it never meets a supd of the host.
EXAMPLES_RUN=/run/sup-examples
EXAMPLES_STATE=/var/lib/sup-examples
# The guest kernel, shared with the tests (tools/guest-kernel.sh).
GUEST_DIR=${SUP_GUEST_DIR:-/var/lib/sup/guest}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# deps [PACKAGE...]: installs what is missing of the given packages (default: the build's).
deps() {
        [ "${SUP_SKIP_DEPS:-0}" = 1 ] && return 0
        local missing=() want=("$@")
        [ ${#want[@]} -gt 0 ] || want=("${packages[@]}")
        for p in "${want[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" != 0 ]; then
                echo "missing packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
                exit 1
        fi
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # A fresh machine may have no package lists yet: update only when the install needs it.
        apt-get install -y --no-install-recommends "${missing[@]}" ||
                { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
        # Debian's docker-registry package starts a registry on every address (port 5000) where
        # systemd runs; the tests need only its binary and start their own on 127.0.0.1.
        if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
                systemctl disable --now docker-registry.service > /dev/null 2>&1 || true
        fi
}

# setup DIR [meson options...]: configures DIR once, reconfigures when the options change.
setup() {
        local dir=$1; shift
        local want="$*"
        if [ -f "$dir/build.ninja" ] && [ "$(cat "$dir/.sup-options" 2>/dev/null)" = "$want" ]; then
                return 0
        fi
        if [ -f "$dir/build.ninja" ]; then
                meson setup --wipe "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi
        echo "$want" > "$dir/.sup-options"
}

build() {
        log "building (gcc, -Werror)"
        # -Dman=enabled: a missing pandoc fails the build here (and so CI) instead of leaving
        # the man pages and their test out, as the default -Dman=auto does.
        CC=gcc setup build -Dman=enabled
        ninja -C build
}

images() {
        log "building the example images"
        examples/build-images.sh
}

# The guest kernel and initramfs of hyperv units (tools/guest-kernel.sh fetches Debian's cloud
# kernel with apt-get download; without it hyperv units fail with that reason, the rest runs).
guest() {
        log "the hyperv guest: kernel and initramfs in $GUEST_DIR"
        if tools/guest-kernel.sh "$GUEST_DIR" >/dev/null; then
                tools/guest-initramfs.sh "$GUEST_DIR" build/sup-init >/dev/null
        else
                log "no guest kernel (no package archive?): hyperv units will fail to start"
        fi
}

ctl() { build/supctl --socket "$EXAMPLES_RUN/supd.sock" "$@"; }

main_job() {
        log "validating the example units"
        build/supctl validate examples/
        if ctl status >/dev/null 2>&1; then
                log "supd runs already on examples/: reloading it"
                ctl reload
        else
                log "starting supd on examples/ (run dir $EXAMPLES_RUN, log $EXAMPLES_STATE/supd.log)"
                mkdir -p "$EXAMPLES_STATE"
                setsid build/supd --units examples --state-dir "$EXAMPLES_STATE" --run-dir "$EXAMPLES_RUN" \
                        --monitor build/sup-monitor --guest-dir "$GUEST_DIR" >>"$EXAMPLES_STATE/supd.log" 2>&1 </dev/null &
                echo $! > "$EXAMPLES_STATE/supd.pid"
        fi
        # Until every unit has settled: none starting, none stopped that nobody stopped (a unit
        # waiting for its monitor or for a unit it requires). hyperv units boot in a few seconds;
        # the first one on a host also builds its layer disks and probes KVM (up to 8 s, once).
        for _ in $(seq 300); do
                ctl status --json 2>/dev/null | python3 -c '
import json, sys
try:
    units = json.load(sys.stdin)
except ValueError:  # supd not listening yet: nothing on stdin
    sys.exit(1)
sys.exit(any(u["state"] == "starting" or (u["state"] == "stopped" and not u["admin_stopped"]) for u in units))
' && break
                sleep 0.1
        done
        log "supctl status"
        ctl status
        echo
        echo "supd keeps running: SUP_RUN_DIR=$EXAMPLES_RUN build/supctl status|logs UNIT; tools/dev.sh stop ends it"
}

stop_main_job() {
        local pid
        pid=$(cat "$EXAMPLES_STATE/supd.pid" 2>/dev/null) || { echo "no supd started by tools/dev.sh run"; return 0; }
        if kill -TERM "$pid" 2>/dev/null; then
                log "stopping supd ($pid) and its units"
                while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        fi
        rm -f "$EXAMPLES_STATE/supd.pid"
}

format_check() {
        log "clang-format"
        tools/check-format.sh
}

unit_tests() {
        log "tests: unit and schema"
        meson test -C build --print-errorlogs --num-processes "$TEST_JOBS"
}

# Tests at once (SUP_TEST_JOBS, default 3): the integration tests that may share
# the host (tests/meson.build) wait on guests, timeouts and sleeps far more than they compute, so
# one more than these two cores finishes the suite sooner without starving a test of the CPU.
TEST_JOBS=${SUP_TEST_JOBS:-3}

ASAN_BUILD_PID=
ASAN_BUILD_LOG=

# The ASan+UBSan build, in the background at the lowest priority while the plain tests run, as
# the fuzzers' is during the sanitizer tests (fuzz_build_start): those tests mostly wait on guests,
# sleeps and timeouts, and a nice 19 compiler takes only the CPU they leave.
asan_build_start() {
        ASAN_BUILD_LOG=$(mktemp /tmp/sup-asan-build.XXXXXX)
        (
                CC=gcc setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
                        "-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer"
                nice -n 19 ninja -C build-asan
        ) >"$ASAN_BUILD_LOG" 2>&1 &
        ASAN_BUILD_PID=$!
}

sanitizer_tests() {
        log "tests under ASan+UBSan"
        [ -n "$ASAN_BUILD_PID" ] || asan_build_start
        if ! wait "$ASAN_BUILD_PID"; then
                cat "$ASAN_BUILD_LOG" >&2
                echo "the ASan+UBSan build failed (above)" >&2
                exit 1
        fi
        rm -f "$ASAN_BUILD_LOG"
        ninja -C build-asan >/dev/null
        fuzz_build_start
        # Without the "parity" suite (the conformance suite and the database test, tests/meson.build):
        # they compare what workloads see in the two modes, through the C paths the other tests
        # drive here, and run in the plain build.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                meson test -C build-asan --print-errorlogs --no-suite parity --num-processes "$TEST_JOBS"
}

# fuzz_one HARNESS SECONDS SEEDS...: runs one libFuzzer harness from a scratch corpus (the seeds in
# the tree stay as committed); a finding leaves its input in build-fuzz/artifacts/HARNESS.
fuzz_one() {
        local name=$1 seconds=$2; shift 2
        local work=build-fuzz/corpus-$name artifacts=build-fuzz/artifacts/$name
        mkdir -p "$work"
        rm -rf "$artifacts" && mkdir -p "$artifacts"
        cp -n "$@" "$work/" 2>/dev/null || true
        log "fuzzing $name for ${seconds}s"
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                "build-fuzz/tests/fuzz-$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
                -max_len=16384 ${FUZZ_DICT:+-dict=$FUZZ_DICT} -print_final_stats=1 -artifact_prefix="$artifacts/" \
                "$work" >"$work.log" 2>&1 || true
        grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|==[0-9]+==' \
                "$work.log" || true
        # A finding leaves its input behind as crash-*, leak-*, timeout-* or oom-*. CI keeps only
        # this output, so it holds what is needed to reproduce: the fuzzer's report (a harness's
        # own message before its abort() too) and the input itself.
        if [ -n "$(ls -A "$artifacts")" ]; then
                echo "the fuzzer found a problem; its report:" >&2
                grep -vE '^#[0-9]+ |^INFO: |^MS: |^base unit: |^stat::|^0x[0-9a-f]+,|^Base64: ' "$work.log" | tail -n 60 >&2
                for a in "$artifacts"/*; do
                        echo "the input, $(stat -c %s "$a") bytes, base64 (base64 -d > $a;" \
                                "build-fuzz/tests/fuzz-$name $a reproduces):" >&2
                        head -c 16384 "$a" | base64 >&2
                done
                exit 1
        fi
}

FUZZ_BUILD_PID=
FUZZ_BUILD_LOG=

# The harnesses' build (clang), in the background at the lowest priority on one core: started
# while the sanitizer tests run, which mostly wait on guests and sleeps, it is done when the
# fuzzing begins instead of adding its minute to the run. fuzz() waits for it.
fuzz_build_start() {
        [ "${SUP_FUZZ_SECONDS:-60}" = 0 ] && return 0
        FUZZ_BUILD_LOG=$(mktemp /tmp/sup-fuzz-build.XXXXXX)
        (
                CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
                        "-Dc_args=-fno-sanitize-recover=all"
                nice -n 19 ninja -j1 -C build-fuzz tests/fuzz-unit tests/fuzz-control tests/fuzz-qmp tests/fuzz-seccomp \
                        tests/fuzz-unit-json tests/fuzz-layer-unpack
        ) >"$FUZZ_BUILD_LOG" 2>&1 &
        FUZZ_BUILD_PID=$!
}

fuzz() {
        local seconds=${SUP_FUZZ_SECONDS:-60} logs=build-fuzz/logs status=0 a b
        [ "$seconds" = 0 ] && return 0
        [ -n "$FUZZ_BUILD_PID" ] || fuzz_build_start
        if ! wait "$FUZZ_BUILD_PID"; then
                cat "$FUZZ_BUILD_LOG" >&2
                echo "building the fuzzers failed (above)" >&2
                exit 1
        fi
        rm -f "$FUZZ_BUILD_LOG"
        # Two at a time, each for its full time: nothing else runs now, and each harness is one
        # process on one core (the unit files' for SECONDS beside the others one after another),
        # so the fuzzing costs half the wall time and none of its runs. Their output is shown in
        # order once both are done.
        rm -rf "$logs" && mkdir -p "$logs"
        (
                FUZZ_DICT=tests/fuzz/unit.dict fuzz_one unit "$seconds" tests/fuzz/corpus/unit/* tests/units/valid/*.y*ml \
                        tests/units/invalid/*.yaml tests/units/invalid-parser-only/*.yaml examples/*.yaml
                # podman's profile, where Debian's golang-github-containers-common installed it, as a seed.
                FUZZ_DICT=tests/fuzz/seccomp.dict fuzz_one seccomp $((seconds / 3 + 1)) tests/fuzz/corpus/seccomp/* \
                        $(ls /usr/share/containers/seccomp.json 2>/dev/null)
        ) >"$logs/1" 2>&1 &
        a=$!
        (
                fuzz_one control $((seconds / 3 + 1)) tests/fuzz/corpus/control/*
                FUZZ_DICT=tests/fuzz/qmp.dict fuzz_one qmp $((seconds / 3 + 1)) tests/fuzz/corpus/qmp/*
                # The canonical JSON codec: the committed canonical forms of test units as seeds.
                FUZZ_DICT=tests/fuzz/unit-json.dict fuzz_one unit-json $((seconds / 3 + 1)) tests/fuzz/corpus/unit-json/*
                # Layer blobs: tars of each format, gzip and zstd, whiteouts, sparse files, hostile paths.
                FUZZ_DICT=tests/fuzz/layer-unpack.dict fuzz_one layer-unpack $((seconds / 3 + 1)) \
                        tests/fuzz/corpus/layer-unpack/*
        ) >"$logs/2" 2>&1 &
        b=$!
        wait "$a" || status=1
        wait "$b" || status=1
        cat "$logs/1" "$logs/2"
        [ "$status" = 0 ] || { echo "a fuzzer found a problem (above)" >&2; exit 1; }
}

case "${1:-}" in
deps) deps ;;
bench)
        deps
        deps "${bench_packages[@]}"
        build
        bench/run-all.sh "${@:2}"
        ;;
soak)
        deps
        build
        tools/soak.sh build/supd build/supctl build/sup-monitor
        ;;
stop) stop_main_job ;;
run)
        deps
        build
        images
        guest
        main_job
        ;;
test)
        deps
        format_check
        build
        images
        asan_build_start
        unit_tests
        sanitizer_tests
        fuzz
        log "all tests passed"
        ;;
*)
        sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
