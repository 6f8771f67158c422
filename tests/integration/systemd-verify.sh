#!/bin/bash
# SPDX-License-Identifier: MIT
#
# systemd-analyze verify on contrib/systemd/supd.service, with the installed paths replaced by
# binaries that exist, since verify checks that ExecStart= and ExecReload= point at executables.
#
#   systemd-verify.sh UNIT SUPD SUPCTL
#
# SUPD replaces /usr/local/bin/supd and SUPCTL /usr/local/bin/supctl. meson passes the build's
# supctl as SUPD as well for as long as the build has no supd; once it has, it passes supd.
# Exits 77 (skipped) without systemd-analyze, unless SUP_TESTS_MUST_WORK=1. systemd need not be
# PID 1: verify only loads unit files.
set -euo pipefail

if [ $# -ne 3 ]; then
        echo "usage: $0 UNIT SUPD SUPCTL" >&2
        exit 2
fi
unit=$1 supd=$2 supctl=$3

if ! command -v systemd-analyze >/dev/null; then
        if [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
                echo "systemd-analyze is missing (Debian package: systemd) and SUP_TESTS_MUST_WORK=1" >&2
                exit 1
        fi
        echo "systemd-analyze is missing (Debian package: systemd); skipped" >&2
        exit 77
fi

# meson passes paths relative to the build directory; the unit needs absolute ones.
supd=$(realpath -e -- "$supd") && supctl=$(realpath -e -- "$supctl") || exit 2
for bin in "$supd" "$supctl"; do
        # Unit files give '%' (specifiers), backslashes, quotes and white space a meaning of their own.
        if [[ "$bin" =~ [[:space:]%\\\"\'] ]]; then
                echo "a path systemd would read differently (white space, %, quotes, \\): $bin" >&2
                exit 2
        fi
        [ -x "$bin" ] || { echo "not executable: $bin" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The name matters: verify derives the unit's name and type from the file name.
content=$(cat "$unit")
grep -q '^ExecStart=/usr/local/bin/supd$' <<<"$content" || { echo "$unit: no ExecStart=/usr/local/bin/supd" >&2; exit 1; }
grep -q '^ExecReload=/usr/local/bin/supctl ' <<<"$content" || { echo "$unit: no ExecReload=/usr/local/bin/supctl" >&2; exit 1; }
content=${content//\/usr\/local\/bin\/supd/"$supd"}
content=${content//\/usr\/local\/bin\/supctl/"$supctl"}
printf '%s\n' "$content" > "$tmp/supd.service"

# --recursive-errors=no: fail on warnings about supd.service, not on what the host's own units
# may draw. --man=no: Documentation= names no man page. Some warnings leave the exit status 0,
# so any line about supd.service fails the test too; other lines are shown but do not count.
status=0
out=$(systemd-analyze verify --recursive-errors=no --man=no "$tmp/supd.service" 2>&1) || status=$?
[ -z "$out" ] || printf '%s\n' "$out" >&2
if [ "$status" != 0 ] || grep -q 'supd\.service' <<<"$out"; then
        echo "systemd-analyze verify failed on $unit (exit status $status)" >&2
        exit 1
fi
echo "systemd-analyze verify: $unit ok"
