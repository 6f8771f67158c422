#!/bin/bash
# security.user_namespace: auto end to end, as root, through supd and its monitors:
#   test-userns.sh SUPD SUPCTL SUP_MONITOR
# Each case names the attack it stops or the promise it checks. Ranges are leased host-wide in
# /run/sup-userns (userns.h), as in production.
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supuserns
command -v nsenter >/dev/null || skip "needs nsenter (util-linux)"
LEASES=/run/sup-userns

LAYER=$TOP/layer
busybox_layer "$LAYER"
app_user "$LAYER"
mkdir -p "$LAYER/srv"

# uunit NAME YAML-REST: case-supd.sh's unit(), run once, in a user namespace of its own.
uunit() {
        unit "$1" "restart: {policy: \"no\"}
security: {user_namespace: auto}
$2"
}
running() { wait_for 10 state_is "$1" running || fail "$1 is not running: $(field "$1" state) $(field "$1" reason)"; }
log_of() { cat "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# said UNIT TEXT: the unit's output has a line with TEXT (waits up to 5 s for it).
said() { SAID_UNIT=$1 SAID_TEXT=$2 wait_for 5 eval 'log_of "$SAID_UNIT" | grep -q -- "stdout $SAID_TEXT"'; }
# userns UNIT: "BASE SIZE" of the unit's range, from `supctl status --json`.
userns() {
        ctl status --json "$1" 2>/dev/null | "$PY" -c '
import json, sys
u = json.load(sys.stdin)[0].get("user_namespace") or {}
print(u.get("uid", ""), u.get("size", ""))'
}
# command_pid UNIT: the host pid of the unit's command (the child of its init).
command_pid() { pgrep -P "$(field "$1" pid)" | head -1; }

trap cleanup EXIT

# ---------------------------------------------------------------------------------------------

begin "root inside is an unprivileged user of the host: a range of its own, setgroups denied, none of the host's groups"
uunit who 'command: [/bin/sh, -c, "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; grep Groups /proc/self/status; id -u; exec sleep 1000"]'
# supd with supplementary groups, root's (0) and adm (4), as a login shell may give it: a process
# born in the new user namespace would keep them, and setgroups() is denied in there.
cat >"$TOP/supd-with-groups" <<WRAP
#!/bin/sh
exec setpriv --groups 0,4 -- "$SUPD" "\$@"
WRAP
chmod +x "$TOP/supd-with-groups"
REAL_SUPD=$SUPD SUPD=$TOP/supd-with-groups
start_supd
SUPD=$REAL_SUPD
grep -q "^Groups:.*\b4\b" "/proc/$SUPD_PID/status" || fail "supd did not get the groups: $(grep Groups "/proc/$SUPD_PID/status")"
running who
said who deny || fail "no output: $(log_of who | tail -3)"
read -r base size <<<"$(userns who)"
[ -n "$base" ] && [ "$size" = 65536 ] || fail "status has no user_namespace range: '$base' '$size'"
[ "${base:-0}" -ge 524288 ] || fail "the range starts at $base, among the host's own users"
[ "$(log_of who | grep -c "stdout *0 *$base *65536")" = 2 ] || fail "uid_map/gid_map are not '0 $base 65536': $(log_of who | grep -A2 stdout | head -3)"
log_of who | grep -q "stdout Groups:[[:space:]]*$" || fail "supplementary groups leaked in: $(log_of who | grep Groups)"
said who 0 || fail "id -u inside is not 0"
# The host's view: init and the command run as the range's first uid, not as root.
cmd=$(command_pid who)
[ "$(ps -o uid= -p "$cmd" | tr -d ' ')" = "$base" ] || fail "the command runs as host uid $(ps -o uid= -p "$cmd"), not $base"
[ "$(ps -o uid= -p "$(field who pid)" | tr -d ' ')" = "$base" ] || fail "the container's init is host uid $(ps -o uid= -p "$(field who pid)")"
ctl status who | grep -q "user ns: uid/gid 0-65535 inside are $base-$((base + 65535)) on the host" || fail "supctl status does not show the range: $(ctl status who)"
log "root inside = host uid $base; maps '0 $base 65536'; setgroups deny; Groups empty"
end

begin "container root that escaped its mount namespace cannot touch host-owned files or processes (the CVE-2019-5736 / CVE-2024-21626 class)"
# The host's files an escape would reach: a root-owned file (0644), a secret (0600), a root-owned
# directory (0755). nsenter joins only the container's user namespace, as its root, and stays in the
# host's mount namespace: what the workload's root could do with every host path in reach.
HOSTDIR=$TOP/hostfiles
mkdir -p "$HOSTDIR/dir"
echo original >"$HOSTDIR/file"
echo secret >"$HOSTDIR/secret"
chmod 0644 "$HOSTDIR/file"; chmod 0600 "$HOSTDIR/secret"; chmod 0755 "$HOSTDIR" "$HOSTDIR/dir"
uunit esc 'command: [/bin/sleep, "1000"]'
start_supd
running esc
pid=$(command_pid esc)
attack() { # attack WHAT COMMAND: must fail as the container's root
        local out
        if out=$(nsenter -t "$pid" -U -S 0 -G 0 sh -c "$2" 2>&1); then
                fail "$1 succeeded: $out"
        else
                log "$1: refused (${out##*: })"
        fi
}
# The attacker really is the container's root, and a host user: what it makes is owned by its range.
probe_file=$TOP/escaped-$$
chmod 1777 "$TOP"
nsenter -t "$pid" -U -S 0 -G 0 sh -c "[ \$(id -u) = 0 ] && touch $probe_file" || fail "nsenter into the user namespace failed"
read -r base _ <<<"$(userns esc)"
[ "$(stat -c %u "$probe_file" 2>/dev/null)" = "$base" ] || fail "a file made by the escaped root is owned by $(stat -c %u "$probe_file" 2>/dev/null), not $base"
attack "write a host root's file" "echo pwned > $HOSTDIR/file"
attack "chmod a host root's file" "chmod 0666 $HOSTDIR/file"
attack "chown a host root's file" "chown 0:0 $HOSTDIR/file"
attack "read a host root's 0600 secret" "cat $HOSTDIR/secret"
attack "create a file in a host root's directory" "touch $HOSTDIR/dir/planted"
attack "unlink a host root's file" "rm -f $HOSTDIR/file"
attack "signal a host root's process (supd)" "kill -0 $SUPD_PID"
attack "read /etc/shadow" "cat /etc/shadow"
[ "$(cat "$HOSTDIR/file")" = original ] && [ ! -e "$HOSTDIR/dir/planted" ] || fail "a host file changed"
# The same as the host's root, so that the refusals above are the user namespace's doing.
echo again >"$HOSTDIR/file" && touch "$HOSTDIR/dir/planted" && cat "$HOSTDIR/secret" >/dev/null || fail "the host's root could not do it either"
rm -f "$probe_file"
end

begin "the image, the sandbox and bind mounts keep their owners (idmapped mounts): usable inside, stored as the container's ids"
BIND=$TOP/bind RO=$TOP/ro
mkdir -p "$BIND/app" "$RO"
echo host >"$BIND/hostfile"; chown 1000:1000 "$BIND/app"; echo ro >"$RO/f"
uunit own "user: app
mounts:
  - {type: bind, source: $BIND, target: /data}
  - {type: bind, source: $RO, target: /ro, read_only: true}
command: [/bin/sh, -c, \"ls -ln / | grep ' bin\$'; ls -ln /data; echo app > /data/app/made; echo x > /ro/f || echo ro-refused; echo \$(id -u) > /home-made 2>/dev/null || echo image-root-dir-refused; exec sleep 1000\"]"
uunit rootw "mounts:
  - {type: bind, source: $BIND, target: /data}
command: [/bin/sh, -c, \"echo r > /srv/made; chown 1000:1000 /srv/made; echo root >> /data/hostfile && echo bind-written; cat /srv/kept 2>/dev/null; echo kept > /srv/kept; exec sleep 1000\"]"
start_supd
running own
running rootw
said own ro-refused || fail "a read-only bind was writable: $(log_of own | tail -5)"
said own image-root-dir-refused || fail "uid 1000 wrote the image's root-owned /"
log_of own | grep -q "stdout d.* 0 *0 .* bin$" || fail "the image's /bin is not root's inside: $(log_of own | grep bin)"
log_of own | grep -q "stdout -.* 0 *0 .* hostfile$" || fail "the bind's host root file is not root's inside: $(log_of own | grep hostfile)"
[ "$(stat -c %u:%g "$BIND/app/made" 2>/dev/null)" = 1000:1000 ] || fail "uid 1000's file in the bind is $(stat -c %u:%g "$BIND/app/made" 2>/dev/null) on disk, not 1000:1000"
said rootw bind-written || fail "root inside could not write its rw bind: $(log_of rootw | tail -3)"
upper=$CASE_DIR/state/sandboxes/rootw/upper
[ "$(stat -c %u:%g "$upper/srv/made" 2>/dev/null)" = 1000:1000 ] || fail "the sandbox stores the chowned file as $(stat -c %u:%g "$upper/srv/made" 2>/dev/null), not 1000:1000"
[ "$(stat -c %u "$upper/srv" 2>/dev/null)" = 0 ] || fail "the copied-up /srv is $(stat -c %u "$upper/srv" 2>/dev/null) on disk, not the container's 0"
# A restart may get another range; the sandbox's files do not care.
ctl restart rootw >/dev/null || fail "restart failed"
wait_for 10 eval '[ "$(log_of rootw | grep -c "stdout kept")" -ge 1 ]' || fail "the sandbox's file did not survive the restart: $(log_of rootw | tail -4)"
log "bind file by uid 1000: $(stat -c %u:%g "$BIND/app/made"); sandbox: /srv $(stat -c %u "$upper/srv"), made $(stat -c %u:%g "$upper/srv/made")"
end

begin "two units never share a range; a range another holds is skipped (two supds, one host)"
uunit a 'command: [/bin/sleep, "1000"]'
uunit b 'command: [/bin/sleep, "1000"]'
start_supd
running a
running b
read -r abase _ <<<"$(userns a)"
read -r bbase _ <<<"$(userns b)"
[ -n "$abase" ] && [ -n "$bbase" ] || fail "no ranges: '$abase' '$bbase'"
[ "${abase:-0}" -ge $((bbase + 65536)) ] || [ "${bbase:-0}" -ge $((abase + 65536)) ] || fail "a ($abase) and b ($bbase) overlap"
[ "$(cat "$LEASES/$abase" 2>/dev/null)" = a ] || fail "the lease $LEASES/$abase does not name a"
ctl stop a >/dev/null
wait_for 10 state_is a stopped || fail "a did not stop"
# Stopped, a's lease is free; held by someone else (another supd's unit), a gets another range.
flock -n "$LEASES/$abase" true || fail "a's lease is still held after its stop"
exec {holder}<"$LEASES/$abase"
flock -n "$holder" || fail "the test could not take the lease"
ctl start a >/dev/null
running a
read -r again _ <<<"$(userns a)"
[ -n "$again" ] && [ "$again" != "$abase" ] || fail "a got the range $abase, which another holds"
exec {holder}<&-
log "a: $abase, b: $bbase; with $abase held elsewhere a got $again"
end

begin "network: bridge: the namespace's root binds port 80 in its own network namespace, published on the host"
# The network namespace belongs to the user namespace, so CAP_NET_BIND_SERVICE inside counts there.
uunit web 'network: bridge
ports: ["127.0.0.1:18095:80"]
command: [/bin/sh, -c, "mkdir -p /www && echo hello-from-userns > /www/index.html && exec httpd -f -p 80 -h /www"]'
sed -i '/^network: none$/d' "$CASE_DIR/units/web.yaml"
start_supd
running web
body=
wait_for 10 eval 'body=$("$PY" -c "import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:18095/\", timeout=2).read().decode().strip())" 2>/dev/null); [ "$body" = hello-from-userns ]' ||
        fail "127.0.0.1:18095 answered '$body'"
[ -n "$(field web address)" ] || fail "no address on the bridge"
log "served '$body' from $(field web address), uid range $(userns web)"
end

begin "a user with supplementary groups fails the start with the reason (setgroups is denied, the groups cannot be given)"
LAYER2=$TOP/layer2
cp -a "$LAYER" "$LAYER2"
printf 'adm:x:4:app\n' >>"$LAYER2/etc/group"
cat >"$CASE_DIR/units/groups.yaml" <<UNIT
image: {layers: [{dir: $LAYER2}]}
network: none
restart: {policy: "no"}
user: app
security: {user_namespace: auto}
command: [/bin/true]
UNIT
start_supd
wait_for 10 eval '[ -n "$(field groups reason)" ]' || fail "groups did not fail"
field groups reason | grep -q "denies setgroups" || fail "groups: $(field groups reason)"
log "groups: $(field groups reason | cut -c1-100)..."
end

finish
