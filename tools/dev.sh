#!/bin/bash
# sup's developer entry point: installs what the build needs (Debian 12, apt-get), builds, and runs
# either the main job or the whole test suite. Idempotent: a second run only does what changed.
#
#   tools/dev.sh run    build, then the main job (see README.md)
#   tools/dev.sh test   build, then every test: unit tests, schema agreement, an ASan+UBSan run,
#                       and the unit-file fuzzer for SUP_FUZZ_SECONDS (default 60)
#   tools/dev.sh deps   only install the packages
#
# Environment: SUP_FUZZ_SECONDS (0 skips the fuzzer run), SUP_SKIP_DEPS=1 (no apt-get).
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD

packages=(
        gcc clang libclang-rt-14-dev meson ninja-build pkg-config
        libyaml-dev libcap-dev libseccomp-dev libnl-3-dev libnl-route-3-dev libjansson-dev libcmocka-dev
        python3 python3-jsonschema python3-yaml
        busybox-static
        nftables iproute2
        systemd
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

deps() {
        [ "${SUP_SKIP_DEPS:-0}" = 1 ] && return 0
        local missing=()
        for p in "${packages[@]}"; do
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
        CC=gcc setup build
        ninja -C build
}

images() {
        log "building the example images"
        examples/build-images.sh
}

main_job() {
        log "validating the example units"
        build/supctl validate examples/
        log "the effective web unit, defaults filled in"
        build/supctl validate --print examples/web.yaml
}

unit_tests() {
        log "tests: unit and schema"
        meson test -C build --print-errorlogs
}

sanitizer_tests() {
        log "tests under ASan+UBSan"
        CC=gcc setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
                "-Dc_args=-fno-sanitize-recover=all -fno-omit-frame-pointer"
        ninja -C build-asan
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                meson test -C build-asan --print-errorlogs
}

fuzz() {
        local seconds=${SUP_FUZZ_SECONDS:-60}
        [ "$seconds" = 0 ] && return 0
        log "fuzzing the unit loader for ${seconds}s"
        CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
                "-Dc_args=-fno-sanitize-recover=all"
        ninja -C build-fuzz tests/fuzz-unit
        # New inputs go to a scratch directory; the seed corpus in the tree stays as committed.
        local work=build-fuzz/corpus-unit artifacts=build-fuzz/artifacts
        mkdir -p "$work"
        rm -rf "$artifacts" && mkdir -p "$artifacts"
        cp -n tests/fuzz/corpus/unit/* tests/units/valid/*.y*ml tests/units/invalid/*.yaml \
                tests/units/invalid-parser-only/*.yaml examples/*.yaml "$work/" 2>/dev/null || true
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                build-fuzz/tests/fuzz-unit -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
                -max_len=16384 -dict=tests/fuzz/unit.dict -print_final_stats=1 -artifact_prefix="$artifacts/" \
                "$work" 2>&1 |
                grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|INFO: A corpus)|ERROR|SUMMARY|==[0-9]+==' || true
        # grep ate the status: a finding leaves its input behind as crash-*, leak-*, timeout-* or oom-*.
        if [ -n "$(ls -A "$artifacts")" ]; then
                echo "the fuzzer found a problem; reproduce with build-fuzz/tests/fuzz-unit $artifacts/*:" >&2
                ls "$artifacts" >&2
                exit 1
        fi
}

case "${1:-}" in
deps) deps ;;
run)
        deps
        build
        images
        main_job
        ;;
test)
        deps
        build
        images
        unit_tests
        sanitizer_tests
        fuzz
        log "all tests passed"
        ;;
*)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
