#!/bin/bash
# What podman does to run a container, without podman: conmon, the per-container monitor (it runs
# `crun create` and stays to hold the container's output and exit status), then `crun start`.
#
#   conmon-run.sh start CRUN-ROOT BUNDLE ID DIR    the output goes to DIR/ID.log (k8s-file lines)
#   conmon-run.sh delete CRUN-ROOT ID DIR          crun delete -f, then waits for conmon to exit
#
# Runs where crun runs (crun_ns in common.sh). Exit status 1 if conmon reports no container.
set -euo pipefail

case $1 in
start)
        root=$2 bundle=$3 id=$4 dir=$5
        mkdir -p "$dir/exits" "$dir/sock"
        sync=$dir/.$id.sync
        rm -f "$sync"
        mkfifo "$sync"
        exec 4<> "$sync"
        # conmon reports {"data": PID} on the sync pipe once `crun create` is done, as for podman.
        _OCI_SYNCPIPE=3 conmon --api-version 1 -c "$id" -u "$id" -n "$id" -r "$(command -v crun)" \
                --runtime-arg --root --runtime-arg "$root" -b "$bundle" -p "$dir/.$id.pid" \
                -P "$dir/.$id.conmon-pid" --exit-dir "$dir/exits" --socket-dir-path "$dir/sock" \
                -l "k8s-file:$dir/$id.log" --log-level error 3> "$sync" < /dev/null > /dev/null
        reply=
        read -r -t 20 -d '}' reply <&4 || true
        exec 4<&-
        rm -f "$sync"
        case $reply in
        *'"data": '[0-9]*) ;;
        *) echo "conmon-run: conmon reported: ${reply:-nothing}" >&2; exit 1 ;;
        esac
        exec crun --root "$root" start "$id"
        ;;
delete)
        root=$2 id=$3 dir=$4
        crun --root "$root" delete -f "$id" > /dev/null 2>&1 || true
        pid=$(cat "$dir/.$id.conmon-pid" 2>/dev/null || true)
        [ -n "$pid" ] || exit 0
        # Gone, or a zombie: conmon is not our child, and whoever adopted it reaps when it will.
        for _ in $(seq 200); do
                state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
                [ -z "$state" ] || [ "$state" = Z ] && exit 0
                sleep 0.01
        done
        kill -KILL "$pid" 2>/dev/null || true
        ;;
*)
        echo "usage: conmon-run.sh start|delete ..." >&2
        exit 2
        ;;
esac
