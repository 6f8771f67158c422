/* SPDX-License-Identifier: MIT */
#include "veth.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "alloc.h"
#include "netlink-util.h"
#include "sha256.h"

void veth_name(const char *scope, const char *unit, char ret[IFNAMSIZ]) {
        _cleanup_free_ char *key = xasprintf("%s/%s", scope, unit);
        char digest[SHA256_DIGEST_SIZE * 2 + 1];

        sha256_hex(key, strlen(key), digest);
        snprintf(ret, IFNAMSIZ, "v%.8s", digest);
}

void veth_mac_for(struct in_addr address, uint8_t ret[6]) {
        ret[0] = 0x02;
        ret[1] = 0x53;
        memcpy(ret + 2, &address.s_addr, 4); /* network byte order: 10.88.0.7 is 0a:58:00:07 */
}

static int add_pair(struct nl_sock *sk, const char *name, int bridge_ifindex, const char *peer_name,
                    const uint8_t peer_mac[6], pid_t pid) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = rtnl_link_veth_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *mac = nl_addr_build(AF_LLC, peer_mac, 6);
        struct rtnl_link *peer;

        if (!link || !mac)
                return -NLE_NOMEM;
        rtnl_link_set_name(link, name);
        rtnl_link_set_master(link, bridge_ifindex);
        rtnl_link_set_flags(link, IFF_UP);
        /* The peer is born in the container's namespace (IFLA_NET_NS_PID inside VETH_INFO_PEER):
         * it never exists on the host, so its name cannot clash with the host's interfaces. */
        peer = rtnl_link_veth_get_peer(link);
        rtnl_link_set_name(peer, peer_name);
        rtnl_link_set_addr(peer, mac);
        rtnl_link_set_ns_pid(peer, pid);
        rtnl_link_put(peer);
        return rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
}

/* Bridge port flags go in an AF_BRIDGE RTM_SETLINK (IFLA_PROTINFO), not with the link itself. */
static int set_hairpin(struct nl_sock *sk, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *port = rtnl_link_alloc(), *change = rtnl_link_alloc();
        int ifindex, r;

        if (!port || !change)
                return -ENOMEM;
        r = rtnl_ifindex(sk, name, &ifindex);
        if (r < 0)
                return r;
        rtnl_link_set_ifindex(port, ifindex);
        rtnl_link_set_family(port, AF_BRIDGE);
        rtnl_link_set_family(change, AF_BRIDGE);
        r = rtnl_link_bridge_set_flags(change, RTNL_BRIDGE_HAIRPIN_MODE);
        if (r < 0)
                return nl_to_errno(r);
        return nl_to_errno(rtnl_link_change(sk, port, change, 0));
}

int veth_create(const char *name, int bridge_ifindex, const char *peer, const uint8_t peer_mac[6], pid_t netns_pid) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r;

        r = rtnl_open(&sk);
        if (r < 0)
                return r;
        r = add_pair(sk, name, bridge_ifindex, peer, peer_mac, netns_pid);
        if (r == -NLE_EXIST) {
                /* The netns of a container that just ended is dismantled asynchronously; its
                 * pair goes with it, a little later. Ours by its name: take it down now. */
                r = veth_remove(name);
                if (r < 0)
                        return r;
                r = add_pair(sk, name, bridge_ifindex, peer, peer_mac, netns_pid);
        }
        if (r < 0)
                return nl_to_errno(r);
        r = set_hairpin(sk, name);
        if (r < 0) {
                (void) veth_remove(name);
                return r;
        }
        return 0;
}

int veth_remove(const char *name) {
        return rtnl_link_delete_kind(name, "veth");
}

/* Makes the named interface a port of the bridge, up, with hairpin mode. */
static int enslave_up(struct nl_sock *sk, const char *name, int bridge_ifindex) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = rtnl_link_alloc(), *change = rtnl_link_alloc();
        int ifindex, r;

        if (!link || !change)
                return -ENOMEM;
        r = rtnl_ifindex(sk, name, &ifindex);
        if (r < 0)
                return r;
        rtnl_link_set_ifindex(link, ifindex);
        rtnl_link_set_master(change, bridge_ifindex);
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, link, change, 0);
        if (r < 0)
                return nl_to_errno(r);
        return set_hairpin(sk, name);
}

int tap_create(const char *name, int bridge_ifindex, int *ret_fd) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        struct ifreq ifr = {};
        int fd, r;

        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Not persistent: the device lives as long as an fd of it is open (the monitor's until
         * QEMU has it, then QEMU's), and so cannot outlive the instance. */
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                r = negative_errno();
                close(fd);
                /* A veth of that name, left by a process-isolated run of the unit. */
                if (r == -EINVAL && veth_remove(name) == 0) {
                        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
                        if (fd < 0)
                                return negative_errno();
                        if (ioctl(fd, TUNSETIFF, &ifr) >= 0)
                                goto created;
                        r = negative_errno();
                        close(fd);
                }
                return r;
        }
created:
        r = rtnl_open(&sk);
        if (r >= 0)
                r = enslave_up(sk, name, bridge_ifindex);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}
