/* SPDX-License-Identifier: MIT */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"

#define RELAY_BUFFER 65536

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
        Pipe pipe[2]; /* pipe[i]: from fd[i] to fd[!i] */
        bool connected;
};

struct Relay {
        Event *event;
        EventSource *listen;
        struct sockaddr_in6 to;
        Conn *conns;
};

static Conn *conn_free(Conn *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < 2; i++) {
                event_source_free(c->src[i]);
                if (c->fd[i] >= 0)
                        close(c->fd[i]);
                free(c->pipe[i].buf);
        }
        if (c->prev)
                c->prev->next = c->next;
        else
                c->relay->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c);
        return NULL;
}

/* What each side waits for follows from the buffers: read while the buffer it fills is empty,
 * write while the one it drains is not. */
static void conn_rearm(Conn *c) {
        for (size_t i = 0; i < 2; i++) {
                uint32_t ev = 0;

                if (c->connected && !c->pipe[i].eof && c->pipe[i].len == 0)
                        ev |= EPOLLIN;
                if ((i == 1 && !c->connected) || c->pipe[!i].len > c->pipe[!i].off)
                        ev |= EPOLLOUT;
                (void) event_source_set_io_events(c->src[i], ev);
        }
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

        /* Reported whatever the interest: a side that is gone (reset, or closed both ways) ends
         * the connection, else the loop would wake for it again and again. */
        if (r == 0 && c->connected && (revents & (EPOLLERR | EPOLLHUP)))
                r = -ECONNRESET;
        if (r != 0) {
                conn_free(c);
                return;
        }
        conn_rearm(c);
}

static void on_accept(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Relay *relay = userdata;
        _cleanup_close_ int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), up = -EBADF;
        Conn *c;

        if (client < 0)
                return; /* EAGAIN, or a client gone already: nothing to relay */
        up = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (up < 0)
                return;
        if (connect(up, (const struct sockaddr *) &relay->to, sizeof(relay->to)) < 0 && errno != EINPROGRESS)
                return; /* the client sees its connection closed, as it would a refused one */
        c = xnew0(Conn, 1);
        *c = (Conn){.relay = relay, .fd = {TAKE_FD(client), TAKE_FD(up)}, .next = relay->conns};
        if (relay->conns)
                relay->conns->prev = c;
        relay->conns = c;
        for (size_t i = 0; i < 2; i++) {
                c->pipe[i].buf = xmalloc(RELAY_BUFFER);
                if (event_add_io(relay->event, &c->src[i], c->fd[i], 0, on_conn, c) < 0) {
                        conn_free(c);
                        return;
                }
        }
        conn_rearm(c);
}

int relay_new(Event *e, int listen_fd, const struct sockaddr_in6 *to, Relay **ret) {
        Relay *r = xnew0(Relay, 1);
        int flags = fcntl(listen_fd, F_GETFL), k;

        /* accept() must not block the loop when a client is gone before it is accepted. */
        if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                free(r);
                return negative_errno();
        }
        *r = (Relay){.event = e, .to = *to};
        k = event_add_io(e, &r->listen, listen_fd, EPOLLIN, on_accept, r);
        if (k < 0) {
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
        free(r);
        return NULL;
}
