/* SPDX-License-Identifier: MIT */
#include "bridge.h"

#include <arpa/inet.h>
#include <netlink/route/link/bridge.h>

#include "alloc.h"
#include "netif.h"
#include "netlink-util.h"
#include "sha256.h"
#include "string-util.h"

void bridge_name(const char *cgroup_parent, char ret[IFNAMSIZ]) {
        const char *hex = startswith(cgroup_parent, "sup-");
        char digest[SHA256_DIGEST_SIZE * 2 + 1];

        if (streq(cgroup_parent, "sup")) {
                snprintf(ret, IFNAMSIZ, "sup0");
                return;
        }
        if (!hex || strlen(hex) < 6 || hex[strspn(hex, "0123456789abcdef")] != 0) {
                sha256_hex(cgroup_parent, strlen(cgroup_parent), digest);
                hex = digest;
        }
        snprintf(ret, IFNAMSIZ, "sup-%.6s", hex);
}

void bridge_default_subnet6(const char *name, Ipv6Net *ret) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, "sup bridge ", strlen("sup bridge "));
        sha256_update(&s, name, strlen(name));
        sha256_final(&s, digest);
        *ret = (Ipv6Net){.prefix = 64};
        ret->addr.s6_addr[0] = 0xfd;
        memcpy(ret->addr.s6_addr + 1, digest, 5); /* bytes 6-7, the subnet ID, stay 0 */
}

int host_subnet_in_use(const Ipv4Net *subnet, const char *except, NetifAddr *ret_conflict) {
        _cleanup_free_ NetifAddr *addrs = NULL;
        size_t n = 0;
        int r = netif_list_ipv4(&addrs, &n);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (except && streq(addrs[i].ifname, except))
                        continue;
                if (ipv4_net_overlaps(&addrs[i].net, subnet)) {
                        if (ret_conflict)
                                *ret_conflict = addrs[i];
                        return 1;
                }
        }
        return 0;
}

int bridge_get_subnet(const char *name, Ipv4Net *ret) {
        _cleanup_free_ NetifAddr *addrs = NULL;
        size_t n = 0;
        int r = netif_list_ipv4(&addrs, &n);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (streq(addrs[i].ifname, name)) {
                        *ret = addrs[i].net;
                        return 0;
                }
        return -ENOENT;
}

/* The addresses already there: -EADDRINUSE with the reason when they do not fit the subnet. */
static int check_addresses(const char *name, const Ipv4Net *subnet, bool *ret_has_gateway, SupError **ret_error) {
        _cleanup_free_ NetifAddr *addrs = NULL;
        struct in_addr gateway = ipv4_net_host(subnet, 1);
        char want[IPV4_NET_STRLEN], have[IPV4_NET_STRLEN], a[INET_ADDRSTRLEN];
        bool has_gateway = false;
        size_t n = 0;
        int r = netif_list_ipv4(&addrs, &n);

        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot list the host's addresses");
        ipv4_net_format(subnet, want);
        for (size_t i = 0; i < n; i++) {
                const NetifAddr *x = &addrs[i];

                (void) inet_ntop(AF_INET, &x->address, a, sizeof(a));
                ipv4_net_format(&x->net, have);
                if (streq(x->ifname, name)) {
                        if (x->address.s_addr == gateway.s_addr && x->net.prefix == subnet->prefix) {
                                has_gateway = true;
                                continue;
                        }
                        return sup_error_make(ret_error, -EADDRINUSE,
                                              "the bridge %s has the address %s/%u, which is not the gateway of the "
                                              "subnet %s (left by a supd with another --bridge-subnet? remove it: ip "
                                              "link delete %s)",
                                              name, a, x->net.prefix, want, name);
                }
                if (ipv4_net_overlaps(&x->net, subnet))
                        return sup_error_make(ret_error, -EADDRINUSE,
                                              "the bridge subnet %s overlaps %s/%u on %s; choose another with supd "
                                              "--bridge-subnet",
                                              want, a, x->net.prefix, x->ifname);
        }
        *ret_has_gateway = has_gateway;
        return 0;
}

/* Without an address of its own, a bridge takes the lowest of its ports' and changes it as
 * containers come and go, leaving their neighbour caches with a gateway MAC that is gone. Set
 * once, it stays: 02 (locally administered) and five bytes of a hash of the name, the same for
 * every bridge of that name. */
static struct nl_addr *bridge_mac(const char *name) {
        uint8_t digest[SHA256_DIGEST_SIZE], mac[6] = {0x02};
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, name, strlen(name));
        sha256_final(&s, digest);
        memcpy(mac + 1, digest, 5);
        return nl_addr_build(AF_LLC, mac, sizeof(mac));
}

static int add_gateway(struct nl_sock *sk, int ifindex, const Ipv4Net *subnet) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = rtnl_addr_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *local = nl_addr_from_in(ipv4_net_host(subnet, 1), subnet->prefix);
        int r;

        if (!addr || !local)
                return -ENOMEM;
        rtnl_addr_set_ifindex(addr, ifindex);
        r = rtnl_addr_set_local(addr, local);
        if (r >= 0)
                r = rtnl_addr_add(sk, addr, 0);
        /* Another monitor was quicker. */
        return r == -NLE_EXIST ? 0 : nl_to_errno(r);
}

int bridge_ensure(const char *name, const Ipv4Net *subnet, const Ipv6Net *subnet6, int *ret_ifindex,
                  SupError **ret_error) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *want = NULL, *link = NULL, *change = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *mac = NULL;
        bool has_gateway = false;
        struct in6_addr gateway6;
        char a6[INET6_ADDRSTRLEN];
        int ifindex, r;

        r = check_addresses(name, subnet, &has_gateway, ret_error);
        if (r < 0)
                return r;
        r = rtnl_open(&sk);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot open a netlink socket");

        want = rtnl_link_bridge_alloc();
        mac = bridge_mac(name);
        if (!want || !mac)
                return sup_error_errno(ret_error, -ENOMEM, "cannot create the bridge %s", name);
        rtnl_link_set_name(want, name);
        rtnl_link_set_addr(want, mac);
        /* NLM_F_EXCL: an existing interface of that name is reported, and then looked at. */
        r = rtnl_link_add(sk, want, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0 && r != -NLE_EXIST)
                return sup_error_errno(ret_error, nl_to_errno(r), "cannot create the bridge %s", name);
        r = rtnl_link_get_kernel(sk, 0, name, &link);
        if (r < 0)
                return sup_error_errno(ret_error, nl_to_errno(r), "cannot find the bridge %s", name);
        if (!rtnl_link_is_kind(link, "bridge"))
                return sup_error_make(ret_error, -EEXIST, "an interface %s exists and is not a bridge", name);
        ifindex = rtnl_link_get_ifindex(link);

        if (!has_gateway) {
                r = add_gateway(sk, ifindex, subnet);
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot give the bridge %s its address", name);
        }
        if (!(rtnl_link_get_flags(link) & IFF_UP)) {
                change = rtnl_link_alloc();
                if (!change)
                        return sup_error_errno(ret_error, -ENOMEM, "cannot bring the bridge %s up", name);
                rtnl_link_set_flags(change, IFF_UP);
                r = nl_to_errno(rtnl_link_change(sk, link, change, 0));
                if (r < 0)
                        return sup_error_errno(ret_error, r, "cannot bring the bridge %s up", name);
        }
        /* After the link is up (IPv6 addresses of a link that is down are not in use), and
         * every time: adding one it has already is a no-op. None where the host has IPv6 off. */
        if (!subnet6) {
                *ret_ifindex = ifindex;
                return 0;
        }
        gateway6 = ipv6_net_host(subnet6, 1);
        r = netif_add_ipv6(name, &gateway6, subnet6->prefix, NULL);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot give the bridge %s its IPv6 address %s", name,
                                       inet_ntop(AF_INET6, &gateway6, a6, sizeof(a6)));
        *ret_ifindex = ifindex;
        return 0;
}

int bridge_remove(const char *name) {
        return rtnl_link_delete_kind(name, "bridge");
}
