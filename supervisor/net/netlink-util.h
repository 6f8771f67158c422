/* SPDX-License-Identifier: MIT */
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <stdbool.h>

#include "macro.h"

/* libnl (libnl-3, libnl-route-3) the house way: one cleanup per type, errors as -errno. */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put);

/* libnl's own error codes (NLE_*, negative) as -errno. */
int nl_to_errno(int nlerr);

/* A connected NETLINK_ROUTE socket in the caller's network namespace. */
int rtnl_open(struct nl_sock **ret);

/* A connected socket (rtnl_open()) and the interface called name on it, -ENODEV when there is none. */
int rtnl_open_link(const char *name, struct nl_sock **ret_sk, struct rtnl_link **ret_link);

/* The interface's index, -ENODEV when there is none of that name. */
int rtnl_ifindex(struct nl_sock *sk, const char *name, int *ret);

/* Whether the link is of that kind ("bridge", "veth": IFLA_INFO_KIND). */
bool rtnl_link_is_kind(struct rtnl_link *link, const char *kind);

/* Deletes the interface name if it is of that kind: 0 when there is none (any more), -ENOTTY when
 * the interface of that name is of another kind (somebody else's: left alone). */
int rtnl_link_delete_kind(const char *name, const char *kind);

/* An IPv4 address as a libnl address (for address and route objects). */
struct nl_addr *nl_addr_from_in(struct in_addr a, unsigned prefix);
struct nl_addr *nl_addr_from_in6(const struct in6_addr *a, unsigned prefix);
