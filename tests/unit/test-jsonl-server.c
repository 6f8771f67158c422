/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonl-server.h"
#include "socket-util.h"

/* What the handlers saw, for the test to check. */
typedef struct Seen {
        unsigned calls;
        void *userdata;
        uint64_t client_id; /* of the last "later" request, answered by the test afterwards */
        json_t *request;
        unsigned out_of_fds;
        int out_of_fds_error;
} Seen;

static Seen seen;

static void do_echo(JsonlClient *c, json_t *msg, void *userdata) {
        seen.calls++;
        seen.userdata = userdata;
        (void) json_conn_reply(jsonl_client_conn(c), msg, json_incref(json_object_get(msg, "params")));
}

/* A reply owed until later (supd's top waiting for a monitor, the monitor's for a guest). */
static void do_later(JsonlClient *c, json_t *msg, void *userdata) {
        seen.calls++;
        seen.client_id = jsonl_client_id(c);
        json_decref(seen.request);
        seen.request = json_incref(msg);
}

static void on_out_of_fds(int error, void *userdata) {
        seen.out_of_fds++;
        seen.out_of_fds_error = error;
}

static const JsonlMethod methods[] = {
        {"echo", do_echo, 0},
        {"later", do_later, 0},
        {"act", do_echo, JSONL_METHOD_ROOT_ONLY},
        {},
};

typedef struct Fixture {
        char dir[64];
        char *path;
        Event *event;
        JsonlServer *server;
} Fixture;

static void fixture_start(Fixture *f, JsonlServerConfig cfg) {
        _cleanup_sup_error_ SupError *error = NULL;

        json_decref(seen.request);
        seen = (Seen){};
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-jsonl-server.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->path = xasprintf("%s/s.sock", f->dir);
        assert_int_equal(event_new(&f->event), 0);
        cfg.path = f->path;
        cfg.methods = methods;
        cfg.on_out_of_fds = on_out_of_fds;
        if (!cfg.userdata)
                cfg.userdata = f;
        if (cfg.group == 0)
                cfg.group = (gid_t) -1;
        assert_int_equal(jsonl_server_new(f->event, &cfg, &f->server, &error), 0);
        assert_null(error);
}

static void fixture_stop(Fixture *f) {
        f->server = jsonl_server_free(f->server);
        f->event = event_free(f->event);
        assert_int_equal(rm_rf(f->dir), 0);
        free(f->path);
        json_decref(seen.request);
        seen.request = NULL;
}

static int client(Fixture *f) {
        int fd = unix_connect(f->path, 1);
        assert_true(fd >= 0);
        return fd;
}

static void send_line(int fd, const char *line) {
        assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t) strlen(line));
}

/* Runs the loop until fd has a whole line to read (NULL: it was closed without one). The bound
 * on the iterations only keeps a broken server from hanging the test. */
static json_t *next_message(Fixture *f, int fd) {
        char buf[65536];
        size_t used = 0;

        for (int i = 0; i < 500; i++) {
                ssize_t n = recv(fd, buf + used, 1, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN)) {
                        assert_int_equal(used, 0);
                        return NULL;
                }
                if (n > 0) {
                        used++;
                        if (buf[used - 1] == '\n')
                                return json_loadb(buf, used - 1, 0, NULL);
                        assert_true(used < sizeof(buf));
                        i--;
                        continue;
                }
                assert_int_equal(event_run(f->event, 10 * USEC_PER_MSEC), 0);
        }
        fail_msg("no message and no close");
        return NULL;
}

static const char *error_code(const json_t *reply) {
        return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

/* Each method reaches its own handler with the server's userdata; what names no method, or a
 * method that is not in the table, is answered with an error and the connection goes on. */
static void test_dispatch_through_the_table(void **state) {
        Fixture f = {};
        json_t *r;
        int fd;

        fixture_start(&f, (JsonlServerConfig){});
        fd = client(&f);

        send_line(fd, "{\"id\":1,\"method\":\"echo\",\"params\":{\"x\":7}}\n");
        r = next_message(&f, fd);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"), "x")), 7);
        assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
        assert_ptr_equal(seen.userdata, &f);
        json_decref(r);

        send_line(fd, "{\"id\":2,\"method\":\"nosuch\"}\n");
        r = next_message(&f, fd);
        assert_string_equal(error_code(r), "unknown-method");
        json_decref(r);

        send_line(fd, "{\"id\":3}\n");
        r = next_message(&f, fd);
        assert_string_equal(error_code(r), "bad-request");
        json_decref(r);

        /* The server's own uid is privileged: root-only methods are served (as root, or as
         * whoever runs this test). */
        send_line(fd, "{\"id\":4,\"method\":\"act\",\"params\":{}}\n");
        r = next_message(&f, fd);
        assert_null(error_code(r));
        json_decref(r);
        assert_int_equal(seen.calls, 2);

        close(fd);
        fixture_stop(&f);
}

/* A reply owed after the handler returned: it finds its client by id while it is there, and
 * nothing (no dangling pointer) once the client has gone; ids are not reused. */
static void test_deferred_reply_finds_its_client(void **state) {
        Fixture f = {};
        JsonlClient *c;
        uint64_t first;
        json_t *r;
        int fd;

        fixture_start(&f, (JsonlServerConfig){});
        fd = client(&f);
        send_line(fd, "{\"id\":9,\"method\":\"later\"}\n");
        for (int i = 0; i < 100 && seen.calls == 0; i++)
                assert_int_equal(event_run(f.event, 10 * USEC_PER_MSEC), 0);
        c = jsonl_server_find_client(f.server, seen.client_id);
        assert_non_null(c);
        assert_int_equal(json_conn_reply(jsonl_client_conn(c), seen.request, json_string("done")), 0);
        r = next_message(&f, fd);
        assert_string_equal(json_string_value(json_object_get(r, "result")), "done");
        json_decref(r);

        first = seen.client_id;
        send_line(fd, "{\"id\":10,\"method\":\"later\"}\n");
        close(fd);
        for (int i = 0; i < 100 && jsonl_server_n_clients(f.server) > 0; i++)
                assert_int_equal(event_run(f.event, 10 * USEC_PER_MSEC), 0);
        assert_int_equal(jsonl_server_n_clients(f.server), 0);
        assert_null(jsonl_server_find_client(f.server, seen.client_id));
        assert_null(jsonl_server_find_client(NULL, seen.client_id));

        fd = client(&f);
        send_line(fd, "{\"id\":11,\"method\":\"later\"}\n");
        for (int i = 0; i < 100 && seen.client_id == first; i++)
                assert_int_equal(event_run(f.event, 10 * USEC_PER_MSEC), 0);
        assert_true(seen.client_id > first);
        close(fd);
        fixture_stop(&f);
}

/* Events go to every client. */
static void test_broadcast_reaches_every_client(void **state) {
        Fixture f = {};
        json_t *ev = json_pack("{s:s}", "event", "status"), *r;
        int a, b;

        fixture_start(&f, (JsonlServerConfig){});
        a = client(&f);
        b = client(&f);
        for (int i = 0; i < 100 && jsonl_server_n_clients(f.server) < 2; i++)
                assert_int_equal(event_run(f.event, 10 * USEC_PER_MSEC), 0);
        jsonl_server_broadcast(f.server, ev);
        jsonl_server_broadcast(NULL, ev);
        r = next_message(&f, a);
        assert_true(json_equal(r, ev));
        json_decref(r);
        r = next_message(&f, b);
        assert_true(json_equal(r, ev));
        json_decref(r);
        json_decref(ev);
        close(a);
        close(b);
        fixture_stop(&f);
}

/* Out of file descriptors, a pending connection left in the queue keeps the listener readable:
 * the loop would spin at 100 % and nobody would be served, root included. The reserved fd lets
 * the server take it off the queue and close it; the next client, once fds are back, is served
 * (the reserve was taken again); the log hears of it once, not once per refused client. */
static void test_out_of_fds_turns_clients_away(void **state) {
        Fixture f = {};
        struct rlimit old, tight;
        json_t *r;
        int a, b, c, probe;

        fixture_start(&f, (JsonlServerConfig){});
        a = client(&f);
        b = client(&f);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        /* Every descriptor number from the lowest free one up is out of reach. */
        probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(probe >= 0);
        close(probe);
        tight = (struct rlimit){.rlim_cur = (rlim_t) probe, .rlim_max = old.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);

        assert_null(next_message(&f, a)); /* turned away: closed at once */
        assert_null(next_message(&f, b));
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        assert_int_equal(seen.out_of_fds, 1);
        assert_int_equal(seen.out_of_fds_error, -EMFILE);
        assert_int_equal(jsonl_server_n_clients(f.server), 0);

        c = client(&f);
        send_line(c, "{\"id\":1,\"method\":\"echo\"}\n");
        r = next_message(&f, c);
        assert_non_null(r);
        assert_null(error_code(r));
        json_decref(r);

        /* The reserve is back: out of fds again, the next client is turned away again. */
        close(c);
        close(a);
        a = client(&f);
        probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
        close(probe);
        tight.rlim_cur = (rlim_t) probe;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
        assert_null(next_message(&f, a));
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        close(a);
        close(b);
        fixture_stop(&f);
}

/* A client that connects and never asks anything holds a connection (and an fd) forever unless
 * the idle timeout closes it; it is told why. */
static void test_idle_client_is_closed(void **state) {
        Fixture f = {};
        json_t *r;
        int fd;

        fixture_start(&f,
                      (JsonlServerConfig){.idle_timeout = 50 * USEC_PER_MSEC, .request_timeout = 20 * USEC_PER_MSEC});
        fd = client(&f);
        r = next_message(&f, fd);
        assert_string_equal(error_code(r), "timeout");
        json_decref(r);
        assert_null(next_message(&f, fd));
        close(fd);
        fixture_stop(&f);
}

/* Without an idle timeout (the monitor's socket: supd's connection is idle most of the time),
 * a quiet client stays. */
static void test_no_idle_timeout_keeps_quiet_clients(void **state) {
        Fixture f = {};
        json_t *r;
        int fd;

        fixture_start(&f, (JsonlServerConfig){});
        fd = client(&f);
        for (int i = 0; i < 10; i++)
                assert_int_equal(event_run(f.event, 10 * USEC_PER_MSEC), 0);
        send_line(fd, "{\"id\":1,\"method\":\"echo\"}\n");
        r = next_message(&f, fd);
        assert_null(error_code(r));
        json_decref(r);
        close(fd);
        fixture_stop(&f);
}

/* In a child that drops to uid 65534 (in group when in_group): what it gets from the server,
 * written to out as lines "STEP REPLY". The parent runs the loop meanwhile. */
static void as_nobody(Fixture *f, gid_t group, bool in_group, int out) {
        json_t *reply = NULL;
        int fds[JSONL_MAX_PER_UID + 1];
        gid_t gid = in_group ? group : 65534;

        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(65534, 65534, 65534) < 0)
                _exit(100);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                /* A stranger asks for what is not root's: the connection itself is refused. */
                const char *method = i == 0 && in_group ? "act" : "echo";
                int r;

                fds[i] = unix_connect(f->path, 0);
                if (fds[i] < 0) {
                        dprintf(out, "%zu connect %s\n", i, strerror(-fds[i]));
                        _exit(0);
                }
                r = json_call(fds[i], method, NULL, 5 * USEC_PER_SEC, &reply);
                if (r < 0) {
                        dprintf(out, "%zu %s\n", i, strerror(-r));
                        _exit(0);
                }
                dprintf(out, "%zu %s\n", i, error_code(reply) ?: "ok");
                json_decref(reply);
                if (!in_group)
                        break;
        }
        _exit(0);
}

static char *run_as_nobody(Fixture *f, gid_t group, bool in_group) {
        char *text = xzalloc(65536);
        size_t used = 0;
        int p[2], status;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                as_nobody(f, group, in_group, p[1]);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], text + used, 65535 - used);
                if (n > 0) {
                        used += (size_t) n;
                        continue;
                }
                if (n == 0)
                        break;
                assert_int_equal(errno, EAGAIN);
                assert_int_equal(event_run(f->event, 10 * USEC_PER_MSEC), 0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        close(p[0]);
        return text;
}

/* The credentials decide, not the file mode: a stranger is refused even through a socket opened
 * by hand; a member of the group may use what is not root's, and may hold JSONL_MAX_PER_UID
 * connections (a flood from one user leaves room for everyone else, root above all). */
static void test_unprivileged_peers(void **state) {
        const gid_t group = 4242;
        _cleanup_free_ char *stranger = NULL, *member = NULL, *want = NULL;
        Fixture f = {};

        if (geteuid() != 0)
                skip();
        fixture_start(&f, (JsonlServerConfig){.group = group});
        {
                struct stat st;
                assert_int_equal(stat(f.path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0660);
                assert_int_equal(st.st_gid, group);
        }
        assert_int_equal(chmod(f.dir, 0755), 0);

        assert_int_equal(chmod(f.path, 0666), 0);
        stranger = run_as_nobody(&f, group, false);
        assert_string_equal(stranger, "0 permission-denied\n");
        assert_int_equal(chmod(f.path, 0660), 0);

        member = run_as_nobody(&f, group, true);
        want = xstrdup("0 permission-denied\n");
        for (unsigned i = 1; i < JSONL_MAX_PER_UID; i++) {
                char *more = xasprintf("%s%u ok\n", want, i);
                free(want);
                want = more;
        }
        {
                char *more = xasprintf("%s%u too-many-connections\n", want, JSONL_MAX_PER_UID);
                free(want);
                want = more;
        }
        assert_string_equal(member, want);
        fixture_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dispatch_through_the_table),
                cmocka_unit_test(test_deferred_reply_finds_its_client),
                cmocka_unit_test(test_broadcast_reaches_every_client),
                cmocka_unit_test(test_out_of_fds_turns_clients_away),
                cmocka_unit_test(test_idle_client_is_closed),
                cmocka_unit_test(test_no_idle_timeout_keeps_quiet_clients),
                cmocka_unit_test(test_unprivileged_peers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
