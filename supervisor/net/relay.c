/* SPDX-License-Identifier: MIT */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "time-util.h"

#define RELAY_BUFFER 65536
/* A container that does not answer a connect() (it drops SYNs) must not hold the client's fds. */
#define RELAY_CONNECT_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* accept() failed for want of fds while no connection of ours held any: when to try again. */
#define RELAY_RETRY_USEC (1 * USEC_PER_SEC)

/* One direction of a connection: what was read from one side and not yet written to the other. */
typedef struct Pipe {
        char *buf;
        size_t len, off;
        bool eof; /* the reading side said it is done; shut the writing side once buf is out */
} Pipe;

typedef struct Conn Conn;
struct Conn {
        Relay *relay;
        Conn *prev, *next;
        int fd[2]; /* 0: the client on the host, 1: the container */
        EventSource *src[2];
        EventSource *timeout; /* until connected */
        bool hup[2];          /* fd[i] reported EPOLLHUP: its peer is done, and so are we writing to it */
        Pipe pipe[2];         /* pipe[i]: from fd[i] to fd[!i] */
        bool connected;
};

struct Relay {
        Event *event;
        EventSource *listen;
        struct sockaddr_in6 to;
        Conn *conns;
        size_t n_conns, max_conns;
        EventSource *retry; /* accepting paused for want of fds, and no connection to free any */
        bool paused;        /* the listening socket is not watched: at the cap, or out of fds */
};

/* Stops accepting, without busy-looping on a backlog that cannot be taken: until a connection
 * ends (conn_free()), or, when none is open to give fds back, a while. */
static void relay_pause(Relay *r) {
        r->paused = true;
        (void) event_source_set_io_events(r->listen, 0);
        if (r->n_conns == 0 && r->retry)
                event_source_set_time(r->retry, now(CLOCK_MONOTONIC) + RELAY_RETRY_USEC);
}

static void relay_resume(Relay *r) {
        r->paused = false;
        (void) event_source_set_io_events(r->listen, EPOLLIN);
        if (r->retry)
                event_source_set_time(r->retry, USEC_INFINITY);
}

static void on_retry(EventSource *s, usec_t t, void *userdata) {
        relay_resume(userdata);
}

static Conn *conn_free(Conn *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < 2; i++) {
                event_source_free(c->src[i]);
                if (c->fd[i] >= 0)
                        close(c->fd[i]);
                free(c->pipe[i].buf);
        }
        event_source_free(c->timeout);
        if (c->prev)
                c->prev->next = c->next;
        else
                c->relay->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->relay->n_conns--;
        if (c->relay->paused)
                relay_resume(c->relay);
        free(c);
        return NULL;
}

static void on_conn(EventSource *s, int fd, uint32_t revents, void *userdata);

/* What each side waits for follows from the buffers: read while the buffer it fills is empty,
 * write while the one it drains is not. */
static int conn_rearm(Conn *c) {
        int r;

        for (size_t i = 0; i < 2; i++) {
                uint32_t ev = 0;

                if (c->connected && !c->pipe[i].eof && c->pipe[i].len == 0)
                        ev |= EPOLLIN;
                if ((i == 1 && !c->connected) || c->pipe[!i].len > c->pipe[!i].off)
                        ev |= EPOLLOUT;
                /* EPOLLHUP is reported whatever the interest: a side that hung up while its data
                 * waits for the other side to drain leaves the epoll set until then, else the loop
                 * would spin on it. */
                if (ev == 0 && c->hup[i]) {
                        c->src[i] = event_source_free(c->src[i]);
                        continue;
                }
                if (!c->src[i]) {
                        r = event_add_io(c->relay->event, &c->src[i], c->fd[i], ev, on_conn, c);
                        if (r < 0)
                                return r;
                        continue;
                }
                (void) event_source_set_io_events(c->src[i], ev);
        }
        return 0;
}

/* Moves what it can; -errno when the connection is broken, 1 when both directions are done. */
static int conn_pump(Conn *c, size_t side, uint32_t revents) {
        if (side == 1 && !c->connected) {
                int error = 0;
                socklen_t len = sizeof(error);

                if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                        return 0;
                if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                        return negative_errno();
                if (error != 0)
                        return -error;
                c->connected = true;
                c->timeout = event_source_free(c->timeout);
        }
        for (size_t i = 0; i < 2 && c->connected; i++) {
                Pipe *p = &c->pipe[i];

                if (!p->eof && p->len == 0) {
                        ssize_t n = read(c->fd[i], p->buf, RELAY_BUFFER);
                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return negative_errno();
                        if (n == 0)
                                p->eof = true;
                        if (n > 0) {
                                p->len = (size_t) n;
                                p->off = 0;
                        }
                }
                if (p->len > p->off) {
                        ssize_t n = send(c->fd[!i], p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);
                        if (n < 0 && errno != EAGAIN && errno != EINTR)
                                return negative_errno();
                        if (n > 0)
                                p->off += (size_t) n;
                        if (p->off == p->len)
                                p->len = p->off = 0;
                }
                /* Half-close passes on: a client that shuts its side (as HTTP/1.0 ones may) still
                 * gets its answer. */
                if (p->eof && p->len == 0)
                        (void) shutdown(c->fd[!i], SHUT_WR);
        }
        return c->pipe[0].eof && c->pipe[1].eof && c->pipe[0].len == 0 && c->pipe[1].len == 0 ? 1 : 0;
}

static void on_conn(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        size_t side = fd == c->fd[0] ? 0 : 1;
        int r = conn_pump(c, side, revents);

        /* A reset ends the connection. A hangup alone is the peer's FIN after our own shutdown:
         * what it sent before may still be unread, and is drained (until read() says 0) before
         * its direction ends. The client's hangup while the container's side still connects has
         * nothing to wait for. */
        if (r == 0 && (c->connected || side == 0) && (revents & EPOLLERR))
                r = -ECONNRESET;
        if (r == 0 && !c->connected && side == 0 && (revents & EPOLLHUP))
                r = -ECONNRESET;
        if (revents & EPOLLHUP)
                c->hup[side] = true;
        if (r == 0)
                r = conn_rearm(c);
        if (r != 0)
                conn_free(c);
}

static void on_connect_timeout(EventSource *s, usec_t t, void *userdata) {
        conn_free(userdata);
}

static bool out_of_fds(int error) {
        return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

static void on_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Relay *relay = userdata;
        _cleanup_close_ int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), up = -EBADF;
        Conn *c;

        if (client < 0) {
                /* The pending connection stays in the backlog and the socket readable. */
                if (out_of_fds(errno))
                        relay_pause(relay);
                return; /* EAGAIN, or a client gone already: nothing to relay */
        }
        up = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (up < 0) {
                if (out_of_fds(errno))
                        relay_pause(relay);
                return;
        }
        if (connect(up, (const struct sockaddr *) &relay->to, sizeof(relay->to)) < 0 && errno != EINPROGRESS)
                return; /* the client sees its connection closed, as it would a refused one */
        c = xnew0(Conn, 1);
        *c = (Conn){.relay = relay, .fd = {TAKE_FD(client), TAKE_FD(up)}, .next = relay->conns};
        if (relay->conns)
                relay->conns->prev = c;
        relay->conns = c;
        if (++relay->n_conns >= relay->max_conns)
                relay_pause(relay);
        if (event_add_time(relay->event, &c->timeout, now(CLOCK_MONOTONIC) + RELAY_CONNECT_TIMEOUT_USEC,
                           on_connect_timeout, c) < 0) {
                conn_free(c);
                return;
        }
        for (size_t i = 0; i < 2; i++) {
                c->pipe[i].buf = xmalloc(RELAY_BUFFER);
                if (event_add_io(relay->event, &c->src[i], c->fd[i], 0, on_conn, c) < 0) {
                        conn_free(c);
                        return;
                }
        }
        if (conn_rearm(c) < 0)
                conn_free(c);
}

int relay_new(Event *e, int listen_fd, const struct sockaddr_in6 *to, Relay **ret) {
        Relay *r = xnew0(Relay, 1);
        struct rlimit rl;
        int flags = fcntl(listen_fd, F_GETFL), k;

        /* accept() must not block the loop when a client is gone before it is accepted. */
        if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                free(r);
                return negative_errno();
        }
        /* Two fds a connection; a quarter of the monitor's fds for one relay's connections at
         * most, as jsonl-server.c keeps for unprivileged clients. */
        *r = (Relay){.event = e,
                     .to = *to,
                     .max_conns = getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY
                                          ? (size_t) MIN(rl.rlim_cur / 8, (rlim_t) RELAY_MAX_CONNS)
                                          : RELAY_MAX_CONNS};
        r->max_conns = MAX(r->max_conns, (size_t) 1);
        k = event_add_io(e, &r->listen, listen_fd, EPOLLIN, on_accept, r);
        if (k >= 0)
                k = event_add_time(e, &r->retry, USEC_INFINITY, on_retry, r);
        if (k < 0) {
                event_source_free(r->listen);
                free(r);
                return k;
        }
        *ret = r;
        return 0;
}

Relay *relay_free(Relay *r) {
        if (!r)
                return NULL;
        while (r->conns)
                conn_free(r->conns);
        event_source_free(r->listen);
        event_source_free(r->retry);
        free(r);
        return NULL;
}
