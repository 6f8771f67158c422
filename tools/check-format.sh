#!/bin/bash
# Fails when a C file of the tree is not as clang-format 14 and .clang-format make it, except the
# files still listed in .ci/format-legacy (written before the check existed; each leaves the list
# the next time it is changed, formatted whole). New files are always checked.
#
#   tools/check-format.sh          check (what tools/dev.sh test runs)
#   tools/check-format.sh --fix    format every file that is not on the list
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
[ "${1:-}" = --fix ] && fix=1
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
        echo "check-format: clang-format is not installed (apt-get install clang-format-14)" >&2
        exit 1
fi

declare -A legacy=()
if [ -f .ci/format-legacy ]; then
        while read -r f; do
                [ -n "$f" ] && [ "${f#\#}" = "$f" ] && legacy[$f]=1
        done <.ci/format-legacy
fi

bad=()
while IFS= read -r f; do
        [ -n "${legacy[$f]:-}" ] && continue
        if [ $fix = 1 ]; then
                "$cf" -i "$f"
        elif ! "$cf" --dry-run -Werror "$f" 2>/dev/null; then
                bad+=("$f")
        fi
done < <(git ls-files '*.c' '*.h')

for f in "${!legacy[@]}"; do
        if [ ! -e "$f" ]; then
                echo "check-format: $f is in .ci/format-legacy but gone: take it off the list" >&2
                bad+=("$f")
        fi
done
if [ ${#bad[@]} -gt 0 ]; then
        echo "check-format: not formatted (clang-format-14 -i FILE, or tools/check-format.sh --fix):" >&2
        printf '  %s\n' "${bad[@]}" >&2
        exit 1
fi
