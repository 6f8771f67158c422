/* SPDX-License-Identifier: MIT */
#include "netlink-util.h"

#include <netlink/errno.h>

int nl_to_errno(int nlerr) {
        switch (nlerr < 0 ? -nlerr : nlerr) {
        case 0:
                return 0;
        case NLE_INTR:
                return -EINTR;
        case NLE_BAD_SOCK:
                return -EBADF;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_INVAL:
                return -EINVAL;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
                return -EMSGSIZE;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND:
                return -ENOENT;
        case NLE_NOATTR:
                return -ENODATA;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_NODEV:
                return -ENODEV;
        case NLE_PROTO_MISMATCH:
                return -EPROTONOSUPPORT;
        case NLE_IMMUTABLE:
                return -EROFS;
        default:
                return -EIO;
        }
}

int rtnl_open(struct nl_sock **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
        int r;

        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return nl_to_errno(r);
        *ret = TAKE_PTR(sk);
        return 0;
}

/* The interface called name, -ENODEV when there is none. */
static int rtnl_link_lookup(struct nl_sock *sk, const char *name, struct rtnl_link **ret) {
        int r = rtnl_link_get_kernel(sk, 0, name, ret);
        return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? -ENODEV : nl_to_errno(r);
}

int rtnl_open_link(const char *name, struct nl_sock **ret_sk, struct rtnl_link **ret_link) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        struct rtnl_link *link = NULL;
        int r;

        r = rtnl_open(&sk);
        if (r < 0)
                return r;
        r = rtnl_link_lookup(sk, name, &link);
        if (r < 0)
                return r;
        *ret_sk = TAKE_PTR(sk);
        *ret_link = link;
        return 0;
}

int rtnl_ifindex(struct nl_sock *sk, const char *name, int *ret) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r = rtnl_link_lookup(sk, name, &link);

        if (r < 0)
                return r;
        *ret = rtnl_link_get_ifindex(link);
        return 0;
}

bool rtnl_link_is_kind(struct rtnl_link *link, const char *kind) {
        const char *t = rtnl_link_get_type(link);
        return t && streq(t, kind);
}

int rtnl_link_delete_kind(const char *name, const char *kind) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        r = rtnl_open_link(name, &sk, &link);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        if (!rtnl_link_is_kind(link, kind))
                return -ENOTTY;
        r = rtnl_link_delete(sk, link);
        /* Gone meanwhile (a veth with its namespace): as good. */
        return r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? 0 : nl_to_errno(r);
}

struct nl_addr *nl_addr_from_in(struct in_addr a, unsigned prefix) {
        struct nl_addr *addr = nl_addr_build(AF_INET, &a, sizeof(a));
        if (addr)
                nl_addr_set_prefixlen(addr, (int) prefix);
        return addr;
}

struct nl_addr *nl_addr_from_in6(const struct in6_addr *a, unsigned prefix) {
        struct nl_addr *addr = nl_addr_build(AF_INET6, a, sizeof(*a));
        if (addr)
                nl_addr_set_prefixlen(addr, (int) prefix);
        return addr;
}
