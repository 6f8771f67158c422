/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>

#include "event.h"

/* A TCP relay, in the monitor's loop, for the one path the kernel cannot NAT: a connection from
 * the host to a port published on ::1. DNAT would send it to the container with the source ::1,
 * and IPv6 has no route_localnet: the reply, un-NATed back to ::1, arrives on the bridge and is
 * dropped as a martian (masquerading on the way out does not change that: the un-NAT of the reply
 * happens before its routing). So the out_<unit> chain leaves ::1 alone (portmap.h), the
 * connection lands on the socket the monitor holds on the port (hostport.h), and the relay
 * accepts it and connects to the container's IPv6 address, copying bytes both ways until both
 * sides are done. As docker-proxy does, for this case only; UDP is not relayed. */

typedef struct Relay Relay;

/* The connections one relay carries at once, at most (fewer with a low RLIMIT_NOFILE); beyond,
 * clients wait in the listening socket's backlog. */
#define RELAY_MAX_CONNS 256

/* Watches listen_fd (the caller's, listening, not owned) and relays what it accepts to to. */
int relay_new(Event *e, int listen_fd, const struct sockaddr_in6 *to, Relay **ret);
/* Stops accepting and drops every relayed connection. NULL is fine. */
Relay *relay_free(Relay *r);
