#!/bin/bash
# network: bridge and published ports end to end, as root, with real containers:
#   test-network.sh SUPD SUPCTL SUP_MONITOR
# Traffic goes only to loopback, to the containers and to a network namespace the test creates.
# Exit 77 (skip) without root or the tools, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
command -v nft >/dev/null || skip "needs nft (nftables)"
command -v ip >/dev/null || skip "needs ip (iproute2)"
grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"

TOP=$(mktemp -d /tmp/supnet.XXXXXX)
NS=supnt-$$ NSVETH=snt$$ # the test's own network namespace and its veth on the host
OUT=supout-$$ OUTVETH=sno$$ # the "outside" namespace that outbound traffic goes to, and its veth
FORWARD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward) FORWARD6_BEFORE=$(cat /proc/sys/net/ipv6/conf/all/forwarding)
declare -A SUPD_PID=()

sanitizer_reports_to "$TOP"

# A busybox root file system with a page for httpd.
LAYER=$TOP/layer
busybox_layer "$LAYER"
mkdir -p "$LAYER/www"
echo "served by sup" > "$LAYER/www/index.html"

# Ports on the host: random, so that parallel runs elsewhere do not meet them, and below the
# ephemeral range (32768-60999), where an outgoing connection's local port would hold one.
HP_A=$((10000 + RANDOM % 3500)) HP_B=$((14000 + RANDOM % 3500)) UP_A=$((18000 + RANDOM % 3500))
HP_C=$((22000 + RANDOM % 3500)) LP_B=$((26000 + RANDOM % 3000)) HP_D=$((29500 + RANDOM % 3000))
LP6_B=$((26000 + RANDOM % 3000)) PO=$((18000 + RANDOM % 3500)) # b's [::1] port; the outside listener's
[ "$LP6_B" != "$LP_B" ] || LP6_B=$((LP_B + 1))

fail() {
        printf '    FAIL: %s\n' "$*"
        CASE_FAILED=1
}
ctl() { "$SUPCTL" --socket "$1/run/supd.sock" "${@:2}"; } # ctl INSTANCE_DIR ARGS...

# field INSTANCE_DIR UNIT KEY: one field of `supctl status --json` (empty for null).
field() { ctl "$1" status --json 2>/dev/null | status_field "$3" "$2"; }
state_is() { [ "$(field "$1" "$2" state)" = "$3" ]; }
in_subnet() { "$PY" -c 'import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))' "$1" "$2"; }
fetch() { timeout 5 busybox wget -q -O- "$1" 2>/dev/null; } # busybox 1.35's wget -T crashes: timeout(1) instead
in_ns() { ip netns exec "$NS" "$@"; }

unit() { # unit INSTANCE_DIR NAME YAML-REST
        mkdir -p "$1/units"
        cat > "$1/units/$2.yaml" <<UNIT
image:
  layers:
    - dir: $LAYER
hostname: $2-host
stop: {timeout: 2s}
$3
UNIT
}

# A web server unit: its eth0 address in the log, its host name in /www/name.txt.
WEB='command: [/bin/sh, -c, "ip -4 -o addr show eth0; ip route; hostname > /www/name.txt; exec httpd -f -p 80 -h /www"]'

start_supd() { # start_supd INSTANCE_DIR [ARGS...]
        "$SUPD" --units "$1/units" --state-dir "$1/state" --run-dir "$1/run" --monitor "$MONITOR" "${@:2}" \
                >> "$1/supd.log" 2>&1 &
        SUPD_PID[$1]=$!
        wait_for 30 test -S "$1/run/supd.sock" || { fail "supd did not start"; return 1; }
        wait_for 30 ctl "$1" status >/dev/null 2>&1
}
stop_supd() {
        [ -n "${SUPD_PID[$1]:-}" ] || return 0
        kill -TERM "${SUPD_PID[$1]}" 2>/dev/null
        wait "${SUPD_PID[$1]}" 2>/dev/null
        unset "SUPD_PID[$1]"
}
# The bridge and subnet supd announced: "... bridge NAME CIDR".
bridge_of() { sed -n 's/.* bridge \([^ ]*\) .*/\1/p' "$1/supd.log" | head -1; }
subnet_of() { sed -n 's/.* bridge [^ ]* \([0-9./]*\) .*/\1/p' "$1/supd.log" | head -1; }
subnet6_of() { sed -n 's/.* bridge [^ ]* [0-9./]* \([0-9a-f:]*\/64\).*/\1/p' "$1/supd.log" | head -1; }
parent_of() { sed -n 's/.*cgroups \([^,]*\),.*/\1/p' "$1/supd.log" | head -1; }
# The host end of a unit's veth: "v" and 8 hex digits of sha256("<cgroup parent>/<unit>").
veth_of() { printf 'v%s' "$(printf '%s/%s' "$(parent_of "$1")" "$2" | sha256sum | cut -c1-8)"; }
has_chain() { nft list chain inet "$1" "$2" >/dev/null 2>&1; }

begin() { case_start "$1"; }
end() { case_verdict; }

cleanup() {
        for d in "${!SUPD_PID[@]}"; do stop_supd "$d"; done
        pkill -9 -f "sup-monitor --dir $TOP" 2>/dev/null
        [ -n "${HOSTPROG:-}" ] && kill "$HOSTPROG" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        ip link del "$NSVETH" 2>/dev/null
        [ -n "${OUTSRV:-}" ] && kill "$OUTSRV" 2>/dev/null
        ip netns del "$OUT" 2>/dev/null
        ip link del "$OUTVETH" 2>/dev/null
        nft delete table netdev "supnt$$" 2>/dev/null
        [ -n "${vblocked:-}" ] && ip link del "$vblocked" 2>/dev/null
        for d in "$TOP"/i*; do
                [ -f "$d/supd.log" ] || continue
                b=$(bridge_of "$d")
                [ -n "$b" ] || continue
                ip link del "$b" 2>/dev/null
                nft delete table inet "$b" 2>/dev/null
                nft delete table bridge "$b" 2>/dev/null
        done
        echo "$FORWARD_BEFORE" > /proc/sys/net/ipv4/ip_forward
        echo "$FORWARD6_BEFORE" > /proc/sys/net/ipv6/conf/all/forwarding
        if [ "${SUP_TEST_KEEP:-0}" = 1 ]; then echo "kept $TOP"; else rm -rf "$TOP"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
I1=$TOP/i1
unit "$I1" a "$WEB
ports: [\"$HP_A:80\", \"127.0.0.1:$UP_A:53/udp\"]"
unit "$I1" b "$WEB
ports: [\"$HP_B:80\", \"127.0.0.1:$LP_B:80\", \"[::1]:$LP6_B:80\"]"
unit "$I1" lonely 'network: none
command: [/bin/sh, -c, "echo interfaces: $(ls /sys/class/net); exec sleep 1000"]'
start_supd "$I1"
BR1=$(bridge_of "$I1") NET1=$(subnet_of "$I1") NET6=$(subnet6_of "$I1")
GW1=$("$PY" -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1])[1])' "$NET1")
GW6=$("$PY" -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1])[1])' "$NET6")
echo "instance 1: bridge $BR1, subnets $NET1 $NET6, ports a $HP_A (udp $UP_A), b $HP_B ([::1]:$LP6_B)"
# addr6 PID: the global IPv6 address of eth0 in the network namespace of PID.
addr6() { nsenter -t "$1" -n ip -6 -o addr show dev eth0 scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4}'; }

begin "each container has eth0 with a leased address in the bridge's subnet, and a route through the gateway"
for u in a b lonely; do wait_for 10 state_is "$I1" $u running || fail "$u: $(field "$I1" $u state) $(field "$I1" $u reason)"; done
A=$(field "$I1" a address) B=$(field "$I1" b address)
log "a $A, b $B, gateway $GW1"
for u in a b; do
        addr=$(field "$I1" $u address)
        in_subnet "$addr" "$NET1" || fail "$u's address $addr is not in $NET1"
        wait_for 5 grep -q "inet $addr/${NET1#*/}" "$I1/state/logs/$u.log" || fail "$u's eth0 does not have $addr"
        grep -q "default via $GW1 dev eth0" "$I1/state/logs/$u.log" || fail "$u has no default route via $GW1"
        [ "$(cat "$I1/state/ipam/$BR1/$addr" 2>/dev/null)" = "$u" ] || fail "no lease file for $u at $addr"
        v=$(veth_of "$I1" $u)
        link=$(ip -o link show "$v" 2>&1)
        grep -q "master $BR1 .*state UP" <<< "$link" || fail "$u's veth $v is not up on $BR1: $link"
        # Its MAC comes from its address (02:53 and the four bytes), so neighbour caches survive restarts.
        mac=$(printf '02:53:%02x:%02x:%02x:%02x' ${addr//./ })
        eth0=$(nsenter -t "$(field "$I1" $u pid)" -n ip -o link show eth0 2>&1)
        grep -q "link/ether $mac " <<< "$eth0" || fail "$u's eth0 does not have the MAC $mac: $eth0"
done
[ "$A" != "$B" ] || fail "a and b share $A"
# IPv6 beside it: leased from the bridge's /64 (a lease file each), the gateway its default route,
# usable at once (no duplicate address detection: "tentative" would mean the workload waits).
for u in a b; do
        p=$(field "$I1" $u pid) a6=$(addr6 "$(field "$I1" $u pid)")
        [ -n "$a6" ] && in_subnet "$a6" "$NET6" || fail "$u's eth0 has no IPv6 address in $NET6: '$a6'"
        [ "$(cat "$I1/state/ipam/$BR1/$a6" 2>/dev/null)" = "$u" ] || fail "no lease file for $u at $a6"
        nsenter -t "$p" -n ip -6 -o addr show dev eth0 scope global | grep -q tentative && fail "$u's $a6 is tentative"
        nsenter -t "$p" -n ip -6 route show default | grep -q "via $GW6 dev eth0" || fail "$u has no IPv6 default route via $GW6"
done
A6=$(addr6 "$(field "$I1" a pid)") B6=$(addr6 "$(field "$I1" b pid)")
[ "$A6" != "$B6" ] || fail "a and b share $A6"
grep -q "inet6 $GW6/64" <<< "$(ip -6 -o addr show "$BR1")" || fail "the bridge has no $GW6"
grep -q "inet $GW1/" <<< "$(ip -4 -o addr show "$BR1")" || fail "the bridge has no $GW1"
grep -q 'interfaces: lo$' "$I1/state/logs/lonely.log" || fail "network: none sees more than lo: $(grep interfaces "$I1/state/logs/lonely.log")"
[ -z "$(field "$I1" lonely address)" ] || fail "network: none has an address"
end

begin "the host reaches a published port on 127.0.0.1 and on its own address"
out=$(fetch "http://127.0.0.1:$HP_A/name.txt")
[ "$out" = a-host ] || fail "127.0.0.1:$HP_A answered \"$out\", not a-host"
out=$(fetch "http://127.0.0.1:$HP_B/")
[ "$out" = "served by sup" ] || fail "127.0.0.1:$HP_B/ answered \"$out\""
out=$(fetch "http://$GW1:$HP_B/name.txt")
[ "$out" = b-host ] || fail "$GW1:$HP_B answered \"$out\""
# And the container's own address, directly.
[ "$(fetch "http://$A/name.txt")" = a-host ] || fail "the host cannot reach a at $A"
end

begin "IPv6: a port without an address is published on both families: over ::1 and the host's ULA; [::1] ports on ::1"
out=$(fetch "http://[$GW6]:$HP_A/name.txt")
[ "$out" = a-host ] || fail "[$GW6]:$HP_A answered \"$out\", not a-host"
out=$(fetch "http://[::1]:$HP_A/name.txt")
[ "$out" = a-host ] || fail "[::1]:$HP_A answered \"$out\", not a-host"
out=$(fetch "http://[::1]:$LP6_B/name.txt")
[ "$out" = b-host ] || fail "[::1]:$LP6_B answered \"$out\", not b-host"
[ "$(fetch "http://[$A6]/name.txt")" = a-host ] || fail "the host cannot reach a at [$A6]"
# The host ports are held on IPv6 too: [::] for a port on every address, [::1] for b's.
got=$(host_bind ::1 "$HP_A" tcp)
[ "$got" = EADDRINUSE ] || fail "a host program's bind to [::1]:$HP_A got $got"
got=$(host_bind ::1 "$LP6_B" tcp)
[ "$got" = EADDRINUSE ] || fail "a host program's bind to [::1]:$LP6_B got $got"
end

begin "another network namespace reaches the published port through the host's address, not the container directly"
ip netns add "$NS" && ip link add "$NSVETH" type veth peer name eth0 netns "$NS" || fail "cannot create the test namespace"
ip addr add 10.254.254.1/30 dev "$NSVETH" && ip link set "$NSVETH" up
in_ns ip addr add 10.254.254.2/30 dev eth0 && in_ns ip link set eth0 up && in_ns ip link set lo up
# A route to the bridge, so that only sup's rules stand between it and the containers.
in_ns ip route add "$NET1" via 10.254.254.1
out=$(in_ns timeout 5 busybox wget -q -O- "http://10.254.254.1:$HP_B/name.txt" 2>&1)
[ "$out" = b-host ] || fail "10.254.254.1:$HP_B from $NS answered \"$out\""
out=$(in_ns timeout 3 busybox wget -q -O- "http://$B/name.txt" 2>&1) && fail "$NS reached b's unpublished address: $out"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "IPv4 forwarding is off"
[ "$FORWARD_BEFORE" = 1 ] || grep -q 'net.ipv4.ip_forward=1' "$I1/state/logs/a.log" "$I1/state/logs/b.log" ||
        fail "turning on forwarding is not logged"
end

begin "CVE-2020-8558: a port published on 127.0.0.1 is not reachable from another host on the link"
# The neighbour routes 127.0.0.1 to this host and accepts replies from it (route_localnet,
# rp_filter off, no addresses on its own loopback so that its local table does not answer first).
# The DNAT in prerouting would rewrite the destination before the kernel's martian check could
# drop it.
in_ns sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth0.route_localnet=1
in_ns ip addr flush dev lo
in_ns ip route add 127.0.0.1/32 via 10.254.254.1 dev eth0 || fail "cannot route 127.0.0.1 through the host"
[ "$(fetch "http://127.0.0.1:$LP_B/name.txt")" = b-host ] || fail "the host itself does not reach 127.0.0.1:$LP_B"
out=$(in_ns timeout 5 busybox wget -q -O- "http://10.254.254.1:$HP_B/name.txt" 2>&1)
[ "$out" = b-host ] || fail "the link to $NS is broken: 10.254.254.1:$HP_B answered \"$out\""
out=$(in_ns timeout 3 busybox wget -q -O- "http://127.0.0.1:$LP_B/name.txt" 2>&1) &&
        fail "$NS reached the loopback-published port 127.0.0.1:$LP_B through the host: $out"
end

begin "the same over IPv6: a port published on [::1] is not reachable from another host on the link"
ip addr add fd5f:5f::1/64 dev "$NSVETH" nodad
in_ns ip addr add fd5f:5f::2/64 dev eth0 nodad
out=$(in_ns timeout 5 busybox wget -q -O- "http://[fd5f:5f::1]:$HP_B/name.txt" 2>&1)
[ "$out" = b-host ] || fail "the IPv6 link to $NS is broken: [fd5f:5f::1]:$HP_B answered \"$out\""
# The neighbour routes ::1 to this host (its own lo has no ::1 any more); the test's own ingress
# counter shows that the packets do arrive, so that the refusal is the host's.
in_ns ip -6 addr flush dev lo
# (With its global source address: its link-local one may still be tentative.)
in_ns ip -6 route add ::1/128 via fd5f:5f::1 dev eth0 src fd5f:5f::2 || fail "cannot route ::1 through the host"
nft -f - <<NFT || fail "cannot count the attack"
table netdev supnt$$ {
        chain in { type filter hook ingress device "$NSVETH" priority 0; ip6 daddr ::1 counter; tcp dport $LP6_B counter; counter; }
}
NFT
# The counter is read into a variable before grep: nft writes its listing in many small writes, and
# `nft | grep -q` under pipefail failed whenever grep's early exit made nft's next write die of
# SIGPIPE (a third of the runs on a loaded host, with the packets counted). Every try must fail to
# connect; the first counted attack ends the tries.
counted=
for try in 1 2 3; do
        out=$(in_ns timeout 3 busybox wget -q -O- "http://[::1]:$LP6_B/name.txt" 2>&1) &&
                fail "$NS reached the loopback-published port [::1]:$LP6_B through the host: $out"
        counter=$(nft list chain netdev "supnt$$" in 2>&1)
        grep -q 'ip6 daddr ::1 counter packets [1-9]' <<< "$counter" && counted=1 && break
        sleep 1
done
[ -n "$counted" ] ||
        fail "the attack's packets never reached the host: wget said \"$out\"; the counter: $(tr '\n' ' ' <<< "$counter"); routes: $(in_ns ip -6 route show table all | grep -w '::1' | tr '\n' ' '); neighbours: $(in_ns ip -6 neigh | tr '\n' ' ')"
[ "$(fetch "http://[::1]:$LP6_B/name.txt")" = b-host ] || fail "the host itself does not reach [::1]:$LP6_B"
end

begin "containers reach each other by address, and published ports through the gateway, their own too (hairpin), IPv4 and IPv6"
# c serves too, and fetches its own published port: the reply must come back through the host
# (hairpin mode on its bridge port and the masquerade), not straight from its own address.
unit "$I1" c "command: [/bin/sh, -c, \"hostname > /www/name.txt; httpd -p 80 -h /www; for u in http://$B/name.txt http://$GW1:$HP_A/name.txt http://$GW1:$HP_C/name.txt http://[$B6]/name.txt http://[$GW6]:$HP_A/name.txt http://[$GW6]:$HP_C/name.txt; do echo GOT \$u \$(timeout 5 wget -q -O- \$u); done; exec sleep 1000\"]
ports: [\"$HP_C:80\"]"
ctl "$I1" reload >/dev/null || fail "reload failed"
wait_for 10 state_is "$I1" c running || fail "c: $(field "$I1" c state) $(field "$I1" c reason)"
wait_for 20 eval '[ "$(grep -c "stdout GOT" "$I1/state/logs/c.log")" = 6 ]' || fail "c printed: $(cat "$I1/state/logs/c.log")"
grep -q "GOT http://$B/name.txt b-host" "$I1/state/logs/c.log" || fail "c could not fetch from b: $(grep GOT "$I1/state/logs/c.log")"
grep -q "GOT http://$GW1:$HP_A/name.txt a-host" "$I1/state/logs/c.log" || fail "c could not fetch a through $GW1:$HP_A"
grep -q "GOT http://$GW1:$HP_C/name.txt c-host" "$I1/state/logs/c.log" || fail "c could not fetch its own port through $GW1:$HP_C"
# The same over IPv6.
grep -q "GOT http://\[$B6\]/name.txt b-host" "$I1/state/logs/c.log" || fail "c could not fetch from b at [$B6]"
grep -q "GOT http://\[$GW6\]:$HP_A/name.txt a-host" "$I1/state/logs/c.log" || fail "c could not fetch a through [$GW6]:$HP_A"
grep -q "GOT http://\[$GW6\]:$HP_C/name.txt c-host" "$I1/state/logs/c.log" || fail "c could not fetch its own port through [$GW6]:$HP_C"
end

begin "outbound: a container reaches an outside namespace through the host, masqueraded, IPv4 and IPv6; outbound: false cannot"
# The outside routes the bridge subnets back through the host, so that only sup's rules (not a
# missing route) stand between a container that must not get out and the listener.
ip netns add "$OUT" && ip link add "$OUTVETH" type veth peer name eth0 netns "$OUT" || fail "cannot create $OUT"
ip addr add 10.254.252.1/30 dev "$OUTVETH" && ip addr add fd5e:5e::1/64 dev "$OUTVETH" nodad && ip link set "$OUTVETH" up
ip -n "$OUT" addr add 10.254.252.2/30 dev eth0 && ip -n "$OUT" addr add fd5e:5e::2/64 dev eth0 nodad
ip -n "$OUT" link set eth0 up && ip -n "$OUT" link set lo up
ip -n "$OUT" route add 10.0.0.0/8 via 10.254.252.1 && ip -n "$OUT" -6 route add fd00::/8 via fd5e:5e::1
mkdir -p "$TOP/outside" && echo outside > "$TOP/outside/index.html"
ip netns exec "$OUT" "$PY" -m http.server --bind :: --directory "$TOP/outside" "$PO" > "$TOP/outside.log" 2>&1 &
OUTSRV=$!
wait_for 5 eval 'ip netns exec "$OUT" ss -Htln "sport = :$PO" | grep -q .' || fail "the outside listener does not listen"
FETCH_OUT="for u in http://10.254.252.2:$PO/ http://[fd5e:5e::2]:$PO/; do echo GOT \$u \$(timeout 3 wget -q -O- \$u); done; exec sleep 1000"
unit "$I1" ob "command: [/bin/sh, -c, \"$FETCH_OUT\"]"
unit "$I1" nob "command: [/bin/sh, -c, \"$FETCH_OUT\"]
outbound: false"
ctl "$I1" reload >/dev/null || fail "reload failed"
for u in ob nob; do
        wait_for 15 eval '[ "$(grep -c "stdout GOT" "$I1/state/logs/$u.log")" = 2 ]' || fail "$u printed: $(cat "$I1/state/logs/$u.log")"
done
grep -q "GOT http://10.254.252.2:$PO/ outside" "$I1/state/logs/ob.log" || fail "ob did not reach the outside over IPv4: $(grep GOT "$I1/state/logs/ob.log")"
grep -q "GOT http://\[fd5e:5e::2\]:$PO/ outside" "$I1/state/logs/ob.log" || fail "ob did not reach the outside over IPv6: $(grep GOT "$I1/state/logs/ob.log")"
grep -q "outside" <<< "$(grep GOT "$I1/state/logs/nob.log")" && fail "nob (outbound: false) reached the outside: $(grep GOT "$I1/state/logs/nob.log")"
# Masqueraded: the listener saw the host's addresses on its link, never a container's.
grep -q "^::ffff:10.254.252.1 .*GET / " "$TOP/outside.log" || fail "no IPv4 request from the host's 10.254.252.1: $(cat "$TOP/outside.log")"
grep -q "^fd5e:5e::1 .*GET / " "$TOP/outside.log" || fail "no IPv6 request from the host's fd5e:5e::1: $(cat "$TOP/outside.log")"
[ "$(grep -c 'GET / ' "$TOP/outside.log")" = 2 ] || fail "the outside saw other requests: $(cat "$TOP/outside.log")"
has_chain "$BR1" egress_nob || fail "nob has no egress chain"
# Anti-spoofing: ob, given another address of the subnet (as a workload with CAP_NET_ADMIN could
# take one), gets nothing out from it, though masquerading would have hidden it; its own works.
SPOOF=$("$PY" -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1])[250])' "$NET1")
CONNECT_FROM='import socket, sys
s = socket.socket(); s.settimeout(3); s.bind((sys.argv[1], 0))
try: s.connect(("10.254.252.2", int(sys.argv[2]))); print("connected")
except OSError as e: print("failed", e)'
pob=$(field "$I1" ob pid)
nsenter -t "$pob" -n ip addr add "$SPOOF/${NET1#*/}" dev eth0 || fail "cannot add $SPOOF to ob's eth0"
[ "$(nsenter -t "$pob" -n "$PY" -c "$CONNECT_FROM" "$(field "$I1" ob address)" "$PO")" = connected ] ||
        fail "ob cannot connect out from its own address"
out=$(nsenter -t "$pob" -n "$PY" -c "$CONNECT_FROM" "$SPOOF" "$PO")
[ "$out" != connected ] || fail "ob connected out from a spoofed $SPOOF"
nft list chain bridge "$BR1" spoof_ob >/dev/null 2>&1 || fail "ob has no spoof chain"
rm "$I1/units/ob.yaml" "$I1/units/nob.yaml"
ctl "$I1" reload >/dev/null || fail "reload failed"
wait_for 10 eval '! has_chain "$BR1" egress_nob' || fail "nob's egress chain left after its removal"
end

begin "udp ports are installed as DNAT rules; each unit has its own chains"
rules=$(nft list chain inet "$BR1" dnat_a 2>&1)
grep -q "ip daddr 127.0.0.1 udp dport $UP_A dnat ip to $A:53" <<< "$rules" || fail "no udp rule for a: $rules"
grep -q "tcp dport $HP_A dnat ip6 to \[$A6\]:80" <<< "$rules" || fail "no IPv6 tcp rule for a: $rules"
grep -q "tcp dport $HP_A dnat ip to $A:80" <<< "$rules" || fail "no tcp rule for a: $rules"
rules=$(nft list chain inet "$BR1" dnat_b 2>&1)
grep -q "tcp dport $HP_B dnat ip to $B:80" <<< "$rules" || fail "no tcp rule for b: $rules"
for ch in pre_a out_a pre_b out_b guard forward postrouting; do has_chain "$BR1" $ch || fail "no chain $ch"; done
has_chain "$BR1" dnat_lonely && fail "lonely publishes nothing but has a chain"
end

begin "stopping a unit removes its rules, its lease and its veth; the others keep theirs"
vb=$(veth_of "$I1" b)
brmac=$(cat "/sys/class/net/$BR1/address")
ctl "$I1" stop b >/dev/null
wait_for 5 state_is "$I1" b stopped || fail "b: $(field "$I1" b state)"
for ch in dnat_b pre_b out_b; do has_chain "$BR1" $ch && fail "chain $ch left after stop"; done
[ -e "$I1/state/ipam/$BR1/$B" ] && fail "b's lease $B left after stop"
ip link show "$vb" >/dev/null 2>&1 && fail "b's veth $vb left after stop"
[ -z "$(field "$I1" b address)" ] || fail "a stopped unit reports an address"
out=$(fetch "http://127.0.0.1:$HP_B/") && fail "b's port still answers: $out"
[ "$(fetch "http://127.0.0.1:$HP_A/name.txt")" = a-host ] || fail "a's port went with b"
has_chain "$BR1" dnat_a || fail "a's chain went with b"
# A restarted unit gets the same address (the lease's first choice is a hash of its name).
pa=$(field "$I1" a pid)
ctl "$I1" restart a >/dev/null
wait_for 10 eval '[ "$(field "$I1" a pid)" != "$pa" ] && state_is "$I1" a running' ||
        fail "a did not come back: $(field "$I1" a state)"
[ "$(field "$I1" a address)" = "$A" ] || fail "a's address changed on restart: $(field "$I1" a address), was $A"
wait_for 5 eval '[ "$(fetch "http://127.0.0.1:$HP_A/name.txt")" = a-host ]' || fail "a's port does not answer after restart"
ctl "$I1" start b >/dev/null
wait_for 10 state_is "$I1" b running || fail "b did not start again"
[ "$(cat "/sys/class/net/$BR1/address")" = "$brmac" ] || fail "the bridge's MAC changed as its ports did"
end

begin "a monitor killed with SIGKILL: its successor takes the stale lease over and replaces the rules"
A=$(field "$I1" a address) ma=$(field "$I1" a monitor_pid) va=$(veth_of "$I1" a)
kill -9 "$ma"
wait_for 10 eval '[ -n "$(field "$I1" a monitor_pid)" ] && [ "$(field "$I1" a monitor_pid)" != "$ma" ] && state_is "$I1" a running' ||
        fail "no new monitor ran a: $(field "$I1" a state) $(field "$I1" a reason)"
[ "$(field "$I1" a address)" = "$A" ] || fail "a's address changed: $(field "$I1" a address), was $A"
[ "$(cat "$I1/state/ipam/$BR1/$A" 2>/dev/null)" = a ] || fail "a's lease is not a's"
rules=$(nft list chain inet "$BR1" dnat_a 2>&1)
[ "$(grep -c "dnat ip to" <<< "$rules")" = 2 ] || fail "a's chain does not hold exactly its two rules: $rules"
grep -q "master $BR1 .*state UP" <<< "$(ip -o link show "$va" 2>&1)" || fail "a's veth is not back on the bridge"
wait_for 5 eval '[ "$(fetch "http://127.0.0.1:$HP_A/name.txt")" = a-host ]' || fail "a's port does not answer"
end

begin "a host program listening on a port first keeps it: the unit that publishes it fails to start, naming the port"
# The host program answers every connection with "host program".
"$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost program\n")
    c.close()' "$HP_D" "$TOP/hostprog.ready" &
HOSTPROG=$!
wait_for 5 test -e "$TOP/hostprog.ready" || fail "the host program does not listen"
unit "$I1" d "$WEB
ports: [\"127.0.0.1:$HP_D:80\"]
restart: {policy: \"no\"}"
ctl "$I1" reload >/dev/null || fail "reload failed"
wait_for 10 eval '[ -n "$(field "$I1" d reason)" ]' || fail "d: $(field "$I1" d state), no reason"
reason=$(field "$I1" d reason)
log "d: $(field "$I1" d state): $reason"
grep -q "^network: ports\[0\] 127.0.0.1:$HP_D:80/tcp: 127.0.0.1:$HP_D/tcp is in use on the host already" <<< "$reason" ||
        fail "d's reason: $reason"
grep -q "127.0.0.1:$HP_D/tcp is in use on the host already" "$I1/state/logs/d.log" || fail "d's log does not say why"
[ "$(field "$I1" d state)" != running ] || fail "d runs"
out=$(fetch "http://127.0.0.1:$HP_D/name.txt")
[ "$out" = "host program" ] || fail "the host program's clients reached \"$out\""
has_chain "$BR1" dnat_d && fail "d's rules were installed"
end

begin "while a unit publishes a port no host program can bind it, across its restarts; after the stop it is free"
kill "$HOSTPROG" && wait "$HOSTPROG" 2>/dev/null
HOSTPROG=
ctl "$I1" start d >/dev/null
wait_for 10 state_is "$I1" d running || fail "d: $(field "$I1" d state) $(field "$I1" d reason)"
wait_for 5 eval '[ "$(fetch "http://127.0.0.1:$HP_D/name.txt")" = d-host ]' || fail "d's port does not answer"
held() { # held ADDRESS PORT PROTO WHAT
        local got
        got=$(host_bind "$1" "$2" "$3")
        [ "$got" = EADDRINUSE ] || fail "$4: a host program's bind to $1:$2/$3 got $got"
}
held 127.0.0.1 "$HP_D" tcp "d's 127.0.0.1:$HP_D"
held 0.0.0.0 "$HP_D" tcp "d's 127.0.0.1:$HP_D (the host program on every address)"
held 127.0.0.1 "$HP_A" tcp "a's $HP_A on every address"
held 127.0.0.1 "$UP_A" udp "a's 127.0.0.1:$UP_A/udp"
[ "$(host_bind 127.0.0.2 "$HP_D" tcp)" = ok ] || fail "127.0.0.2:$HP_D, which d does not publish, is held too"
ss -Hltnp "sport = :$HP_D" | grep -q '"sup-monitor"' || fail "ss does not show sup-monitor on $HP_D: $(ss -Hltnp "sport = :$HP_D")"
pd=$(field "$I1" d pid)
ctl "$I1" restart d >/dev/null
wait_for 10 eval '[ "$(field "$I1" d pid)" != "$pd" ] && state_is "$I1" d running' || fail "d did not come back: $(field "$I1" d reason)"
held 127.0.0.1 "$HP_D" tcp "d's 127.0.0.1:$HP_D after a restart"
ctl "$I1" stop d >/dev/null
wait_for 5 state_is "$I1" d stopped || fail "d: $(field "$I1" d state)"
got=$(host_bind 127.0.0.1 "$HP_D" tcp)
[ "$got" = ok ] || fail "127.0.0.1:$HP_D is still held after the stop: $got"
rm "$I1/units/d.yaml"
ctl "$I1" reload >/dev/null || fail "reload failed"
end

begin "a port moved from a stopping unit to another in one reload: the new unit waits for the port, then starts"
# e ignores SIGTERM: its stop takes stop.timeout (2 s), and its monitor holds the port meanwhile.
unit "$I1" e "command: [/bin/sh, -c, \"trap '' TERM; httpd -p 80 -h /www; while :; do sleep 1; done\"]
ports: [\"127.0.0.1:$HP_D:80\"]"
ctl "$I1" reload >/dev/null || fail "reload failed"
wait_for 10 state_is "$I1" e running || fail "e: $(field "$I1" e state) $(field "$I1" e reason)"
rm "$I1/units/e.yaml"
unit "$I1" f "$WEB
ports: [\"127.0.0.1:$HP_D:80\"]
restart: {policy: \"no\"}"
ctl "$I1" reload >/dev/null || fail "reload failed"
wait_for 5 eval '[ -n "$(field "$I1" f reason)" ] || state_is "$I1" f running'
log "f while e stops: $(field "$I1" f state) $(field "$I1" f reason)"
wait_for 15 state_is "$I1" f running || fail "f: $(field "$I1" f state) $(field "$I1" f reason)"
wait_for 5 eval '[ "$(fetch "http://127.0.0.1:$HP_D/name.txt")" = f-host ]' || fail "f's port does not answer"
rm "$I1/units/f.yaml"
ctl "$I1" reload >/dev/null || fail "reload failed"
end

begin "a second supd gets a bridge, subnet and table of its own; each removes only its own at exit"
I2=$TOP/i2
unit "$I2" a "$WEB
ports: [\"$((HP_A + 1)):80\"]"
start_supd "$I2"
BR2=$(bridge_of "$I2") NET2=$(subnet_of "$I2")
log "instance 2: bridge $BR2, subnet $NET2"
wait_for 10 state_is "$I2" a running || fail "instance 2's a: $(field "$I2" a state) $(field "$I2" a reason)"
[ -n "$BR2" ] && [ "$BR2" != "$BR1" ] || fail "both instances use the bridge $BR1"
"$PY" -c 'import ipaddress, sys; sys.exit(ipaddress.ip_network(sys.argv[1]).overlaps(ipaddress.ip_network(sys.argv[2])))' "$NET1" "$NET2" ||
        fail "the subnets $NET1 and $NET2 overlap"
A2=$(field "$I2" a address)
in_subnet "$A2" "$NET2" || fail "instance 2's a has $A2, not in $NET2"
ip link show "$BR2" >/dev/null 2>&1 || fail "no bridge $BR2"
[ "$(fetch "http://127.0.0.1:$((HP_A + 1))/name.txt")" = a-host ] || fail "instance 2's port does not answer"
[ "$(cat "$I2/state/ipam/$BR2/$A2" 2>/dev/null)" = a ] || fail "instance 2's lease is not in its own state directory"
stop_supd "$I2"
ip link show "$BR2" >/dev/null 2>&1 && fail "bridge $BR2 left after its supd exited"
nft list table inet "$BR2" >/dev/null 2>&1 && fail "table $BR2 left after its supd exited"
ip link show "$BR1" >/dev/null 2>&1 || fail "instance 2 took instance 1's bridge along"
[ "$(fetch "http://127.0.0.1:$HP_A/name.txt")" = a-host ] || fail "instance 1's port stopped answering"
end

begin "--bridge-subnet: used as given; a subnet in use on the host is refused with the reason in the unit's status"
out=$("$SUPD" --units "$TOP/none" --bridge-subnet 10.253.7.1/24 2>&1) && fail "host bits were accepted"
grep -q "did you mean 10.253.7.0/24" <<< "$out" || fail "no suggestion in: $out"
out=$("$SUPD" --units "$TOP/none" --bridge-subnet 10.253.7.0/31 2>&1) && fail "a /31 was accepted"
I3=$TOP/i3
unit "$I3" a "$WEB"
# And --no-outbound (supd's): its units reach nothing beyond the bridge, whatever their own key says.
unit "$I3" ob "command: [/bin/sh, -c, \"$FETCH_OUT\"]"
out=$("$SUPD" --units "$TOP/none" --bridge-subnet6 fd53:1::1/64 2>&1) && fail "IPv6 host bits were accepted"
grep -q "did you mean fd53:1::/64" <<< "$out" || fail "no suggestion in: $out"
out=$("$SUPD" --units "$TOP/none" --bridge-subnet6 fd53:1::/48 2>&1) && fail "a /48 was accepted"
start_supd "$I3" --bridge-subnet 10.253.7.0/24 --bridge-subnet6 fd53:7:7:7::/64 --no-outbound
wait_for 10 state_is "$I3" a running || fail "a: $(field "$I3" a state) $(field "$I3" a reason)"
in_subnet "$(field "$I3" a address)" 10.253.7.0/24 || fail "a has $(field "$I3" a address), not in 10.253.7.0/24"
a6=$(addr6 "$(field "$I3" a pid)")
in_subnet "$a6" fd53:7:7:7::/64 || fail "a has $a6, not in fd53:7:7:7::/64"
wait_for 15 eval '[ "$(grep -c "stdout GOT" "$I3/state/logs/ob.log")" = 2 ]' || fail "ob printed: $(cat "$I3/state/logs/ob.log")"
grep -q "outside" <<< "$(grep GOT "$I3/state/logs/ob.log")" && fail "ob reached the outside under --no-outbound: $(grep GOT "$I3/state/logs/ob.log")"
stop_supd "$I3"
end

begin "network setup errors become the unit's reason, in the monitor and through the container's error pipe"
I5=$TOP/i5
unit "$I5" v6 "$WEB
ports: [\"[::1]:$HP_A:80/udp\"]"
unit "$I5" blocked "$WEB"
# Something else holds the name of blocked's veth: the monitor finds out once the container exists.
# (supd's cgroup parent for a run directory is "sup-" and 8 hex digits of its hash.)
vblocked=v$(printf 'sup-%s/blocked' "$(printf '%s' "$I5/run" | sha256sum | cut -c1-8)" | sha256sum | cut -c1-8)
ip link add "$vblocked" type bridge || fail "cannot create the obstacle $vblocked"
start_supd "$I5" --bridge-subnet 10.253.8.0/24
[ "$(veth_of "$I5" blocked)" = "$vblocked" ] || fail "the test's idea of veth names is wrong"
is_down() { case "$(field "$I5" "$1" state)" in backoff | failed) true ;; *) false ;; esac; }
wait_for 10 is_down v6 || fail "v6: $(field "$I5" v6 state)"
wait_for 10 eval 'is_down blocked && [ -n "$(field "$I5" blocked reason)" ]' || fail "blocked: $(field "$I5" blocked state)"
reason=$(field "$I5" v6 reason)
grep -q "^network: ports\[0\] \[::1\]:$HP_A:80/udp: UDP cannot be published on ::1" <<< "$reason" ||
        fail "v6's reason: $reason"
reason=$(field "$I5" blocked reason)
grep -q "^network: cannot create the veth pair $vblocked/eth0: an interface $vblocked exists and is not a veth" <<< "$reason" ||
        fail "blocked's reason: $reason"
grep -qx blocked "$I5/state/ipam/$(bridge_of "$I5")"/* 2>/dev/null && fail "a failed start kept its lease"
ctl "$I5" stop blocked >/dev/null
ip link del "$vblocked"
stop_supd "$I5"
# The test's own namespace link has 10.254.254.1/30: a bridge subnet around it must not be made.
I4=$TOP/i4
unit "$I4" a "$WEB"
start_supd "$I4" --bridge-subnet 10.254.0.0/16
wait_for 10 eval 'case "$(field "$I4" a state)" in backoff|failed) true ;; *) false ;; esac' || fail "a: $(field "$I4" a state)"
reason=$(field "$I4" a reason)
grep -q "network: the bridge subnet 10.254.0.0/16 overlaps 10.254.254.1/30 on $NSVETH" <<< "$reason" || fail "reason: $reason"
ip link show "$(bridge_of "$I4")" >/dev/null 2>&1 && fail "the refused bridge was created"
stop_supd "$I4"
end

begin "the first supd's exit leaves nothing of its network behind"
stop_supd "$I1"
pgrep -f "sup-monitor --dir $I1" >/dev/null && fail "monitors left running"
ip link show "$BR1" >/dev/null 2>&1 && fail "bridge $BR1 left"
nft list table inet "$BR1" >/dev/null 2>&1 && fail "table $BR1 left"
nft list table bridge "$BR1" >/dev/null 2>&1 && fail "table bridge $BR1 left"
for u in a b c; do ip link show "$(veth_of "$I1" $u)" >/dev/null 2>&1 && fail "$u's veth left"; done
[ -z "$(ls -A "$I1/state/ipam/$BR1" 2>/dev/null)" ] || fail "leases left: $(ls "$I1/state/ipam/$BR1")"
if grep -q "$TOP" /proc/self/mountinfo; then fail "mounts left behind"; fi
end

finish
