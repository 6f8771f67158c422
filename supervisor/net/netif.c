/* SPDX-License-Identifier: MIT */
#include "netif.h"

#include "alloc.h"
#include "netlink-util.h"

int netif_list_ipv4(NetifAddr **ret, size_t *ret_n) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NetifAddr *list = NULL;
        size_t n = 0;
        int r;

        r = rtnl_open(&sk);
        if (r < 0)
                return r;
        r = rtnl_addr_alloc_cache(sk, &cache);
        if (r < 0)
                return nl_to_errno(r);
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                NetifAddr *item;

                if (rtnl_addr_get_family(a) != AF_INET || !local || nl_addr_get_len(local) != sizeof(struct in_addr))
                        continue;
                item = ARRAY_APPEND(list, n);
                item->ifindex = rtnl_addr_get_ifindex(a);
                memcpy(&item->address, nl_addr_get_binary_addr(local), sizeof(item->address));
                item->net = ipv4_net_of(item->address, (unsigned) rtnl_addr_get_prefixlen(a));
                if (!if_indextoname((unsigned) item->ifindex, item->ifname))
                        snprintf(item->ifname, sizeof(item->ifname), "#%d", item->ifindex);
        }
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

/* Sets flags (IFF_UP) and, unless NULL, the name. */
static int link_change(struct nl_sock *sk, struct rtnl_link *link, unsigned flags, const char *name) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();

        if (!change)
                return -ENOMEM;
        if (flags != 0)
                rtnl_link_set_flags(change, flags);
        if (name)
                rtnl_link_set_name(change, name);
        return nl_to_errno(rtnl_link_change(sk, link, change, 0));
}

int netif_rename(const char *name, const char *new_name) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        r = rtnl_open_link(name, &sk, &link);
        if (r < 0)
                return r;
        return link_change(sk, link, 0, new_name);
}

/* The default route of the family through gateway on ifindex. */
static int add_default_route(struct nl_sock *sk, int ifindex, int family, struct nl_addr *gw) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = rtnl_route_alloc();
        _cleanup_(nl_addr_putp) struct nl_addr *any = NULL;
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int r;

        any = family == AF_INET ? nl_addr_from_in((struct in_addr){}, 0) : nl_addr_from_in6(&in6addr_any, 0);
        if (!route || !nh || !any) {
                if (nh)
                        rtnl_route_nh_free(nh);
                return -ENOMEM;
        }
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(route, nh); /* the route owns nh from here */
        rtnl_route_set_family(route, (uint8_t) family);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        r = rtnl_route_set_dst(route, any);
        if (r < 0)
                return nl_to_errno(r);
        r = rtnl_route_add(sk, route, NLM_F_EXCL);
        return r == -NLE_EXIST ? 0 : nl_to_errno(r);
}

/* Adds local (its prefix set) to ifindex. */
static int add_address(struct nl_sock *sk, int ifindex, struct nl_addr *local, unsigned flags) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = rtnl_addr_alloc();
        int r;

        if (!addr)
                return -ENOMEM;
        rtnl_addr_set_ifindex(addr, ifindex);
        if (flags != 0)
                rtnl_addr_set_flags(addr, flags);
        r = rtnl_addr_set_local(addr, local);
        if (r < 0)
                return nl_to_errno(r);
        r = rtnl_addr_add(sk, addr, 0);
        return r == -NLE_EXIST ? 0 : nl_to_errno(r);
}

int netif_configure_ipv4(const char *ifname, struct in_addr address, unsigned prefix, struct in_addr gateway) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL, *gw = NULL;
        int ifindex, r;

        r = rtnl_open_link(ifname, &sk, &link);
        if (r < 0)
                return r;
        ifindex = rtnl_link_get_ifindex(link);

        local = nl_addr_from_in(address, prefix);
        if (!local)
                return -ENOMEM;
        r = add_address(sk, ifindex, local, 0);
        if (r < 0)
                return r;

        /* Up before the route: the kernel refuses a gateway on a link that is down. */
        r = link_change(sk, link, IFF_UP, NULL);
        if (r < 0)
                return r;
        if (gateway.s_addr == 0)
                return 0;
        gw = nl_addr_from_in(gateway, 32);
        if (!gw)
                return -ENOMEM;
        return add_default_route(sk, ifindex, AF_INET, gw);
}

int netif_add_ipv6(const char *ifname, const struct in6_addr *address, unsigned prefix,
                   const struct in6_addr *gateway) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL, *gw = NULL;
        int ifindex, r;

        r = rtnl_open_link(ifname, &sk, &link);
        if (r < 0)
                return r;
        ifindex = rtnl_link_get_ifindex(link);
        local = nl_addr_from_in6(address, prefix);
        if (!local)
                return -ENOMEM;
        /* IFA_F_NODAD: the address is usable the moment the workload starts, not after the
         * second or so that duplicate address detection takes (until then the kernel does not
         * use a tentative address: connect() from it and bind() to it fail). Its uniqueness on
         * the bridge is the lease's (ipam.h), which DAD could only confirm. */
        r = add_address(sk, ifindex, local, IFA_F_NODAD);
        if (r < 0)
                return r;
        if (!gateway || IN6_IS_ADDR_UNSPECIFIED(gateway))
                return 0;
        gw = nl_addr_from_in6(gateway, 128);
        if (!gw)
                return -ENOMEM;
        return add_default_route(sk, ifindex, AF_INET6, gw);
}
