/* SPDX-License-Identifier: MIT */
/* The QMP client against a real QEMU: no guest, no root, no KVM.
 *
 *   qemu-system-x86_64 -nodefaults -no-user-config -display none -machine none \
 *           -qmp unix:PATH,server=on,wait=off -S
 *
 * starts paused with no machine at all, which is enough for QMP. The test connects (QEMU creates
 * the socket some time after exec: the client retries), negotiates, runs query-status and
 * query-version, measures the round trip of 1000 query-status calls one after the other (printed,
 * not judged: a measurement), runs cont / stop / system_powerdown and sees RESUME / STOP /
 * POWERDOWN, sends quit and sees SHUTDOWN and the end of the connection, and reaps QEMU.
 *
 * Skips (exit 77) without qemu-system-x86_64, unless SUP_TESTS_MUST_WORK=1. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "alloc.h"
#include "check.h"
#include "fileio.h"
#include "macro.h"
#include "qmp.h"

#define QEMU_BINARY "qemu-system-x86_64"
#define ROUND_TRIPS 1000

/* A command that must succeed: on failure, what QEMU said. */
#define CHECK_CALL(t, command, c)                                                                             \
        do {                                                                                                  \
                int _r = call((t), (command), NULL, (c), NULL);                                               \
                if (_r < 0) {                                                                                 \
                        fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, (command), strerror(-_r), \
                                (c)->desc ?: "");                                                             \
                        return -1;                                                                            \
                }                                                                                             \
        } while (0)

typedef struct Call {
        bool done;
        int error;
        json_t *result;
        char *desc;
        uint64_t t_end_ns;
} Call;

typedef struct Test {
        Event *e;
        Qmp *q;
        bool ready, closed;
        int closed_error;
        char *closed_reason;
        json_t *events; /* [{"event": name, "data": {...}}] in the order received */
} Test;

static uint64_t now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void on_ready(Qmp *q, void *userdata) {
        ((Test *) userdata)->ready = true;
}

static void on_event(Qmp *q, const QmpEvent *ev, void *userdata) {
        Test *t = userdata;
        json_array_append_new(t->events, json_pack("{s:s, s:O}", "event", ev->name, "data", ev->data));
}

static void on_closed(Qmp *q, int error, const char *reason, void *userdata) {
        Test *t = userdata;
        t->closed = true;
        t->closed_error = error;
        t->closed_reason = xstrdup(reason);
}

static void on_call_done(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                         void *userdata) {
        Call *c = userdata;

        c->t_end_ns = now_ns();
        c->done = true;
        c->error = error;
        c->result = json_incref(result);
        c->desc = error_desc ? xasprintf("%s%s%s", error_class ?: "", error_class ? ": " : "", error_desc) : NULL;
}

/* Runs the loop until flag is set, at most timeout_ms. */
static int run_until(Test *t, const bool *flag, unsigned timeout_ms) {
        uint64_t deadline = now_ns() + (uint64_t) timeout_ms * 1000000ULL;

        while (!*flag) {
                if (now_ns() > deadline)
                        return -ETIMEDOUT;
                int r = event_run(t->e, 50 * USEC_PER_MSEC);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One command, waited for on the loop; *ret_ns is its round trip. */
static int call(Test *t, const char *command, json_t *args, Call *c, uint64_t *ret_ns) {
        uint64_t t0;
        int r;

        *c = (Call){};
        t0 = now_ns();
        r = qmp_command(t->q, command, args, 10 * USEC_PER_SEC, on_call_done, c);
        if (r < 0)
                return r;
        r = run_until(t, &c->done, 15000);
        if (r < 0)
                return r;
        if (ret_ns)
                *ret_ns = c->t_end_ns - t0;
        return c->error;
}

static void call_done(Call *c) {
        json_decref(c->result);
        free(c->desc);
}

static bool saw_event(Test *t, const char *name) {
        size_t i;
        json_t *ev;

        json_array_foreach(t->events, i, ev)
                if (streq(json_string_value(json_object_get(ev, "event")), name))
                        return true;
        return false;
}

static const json_t *find_event(Test *t, const char *name) {
        size_t i;
        json_t *ev;

        json_array_foreach(t->events, i, ev)
                if (streq(json_string_value(json_object_get(ev, "event")), name))
                        return json_object_get(ev, "data");
        return NULL;
}

static int wait_event(Test *t, const char *name) {
        uint64_t deadline = now_ns() + 10000000000ULL;

        while (!saw_event(t, name)) {
                if (now_ns() > deadline || t->closed)
                        return -ETIMEDOUT;
                (void) event_run(t->e, 50 * USEC_PER_MSEC);
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static pid_t spawn_qemu(const char *qemu, const char *socket_path, const char *log_path) {
        _cleanup_free_ char *qmp = xasprintf("unix:%s,server=on,wait=off", socket_path);
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        /* QEMU goes with the test, whatever happens to the test. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (null < 0 || log < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
                _exit(127);
        execlp(qemu, qemu, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "none", "-qmp", qmp, "-S",
               (char *) NULL);
        _exit(127);
}

static int reap(pid_t pid, unsigned timeout_ms, int *ret_status) {
        uint64_t deadline = now_ns() + (uint64_t) timeout_ms * 1000000ULL;

        for (;;) {
                pid_t r = waitpid(pid, ret_status, WNOHANG);
                if (r == pid)
                        return 0;
                if (r < 0)
                        return -errno;
                if (now_ns() > deadline)
                        return -ETIMEDOUT;
                struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                (void) nanosleep(&ts, NULL);
        }
}

static int run(Test *t, const char *dir, pid_t *qemu_pid) {
        static const QmpCallbacks callbacks = {.ready = on_ready, .event = on_event, .closed = on_closed};
        _cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir), *log = xasprintf("%s/qemu.log", dir);
        _cleanup_free_ uint64_t *rtt = xnew(uint64_t, ROUND_TRIPS);
        const QmpVersion *v;
        const json_t *shutdown;
        uint64_t t0, total = 0;
        Call c;
        int r, status;

        t0 = now_ns();
        *qemu_pid = spawn_qemu(QEMU_BINARY, sock, log);
        CHECK(*qemu_pid > 0);
        CHECK(qmp_new(t->e, &callbacks, t, &t->q) >= 0);
        CHECK(qmp_connect(t->q, sock, 10 * USEC_PER_SEC) >= 0);
        r = run_until(t, &t->ready, 15000);
        if (r < 0 || !t->ready) {
                fprintf(stderr, "no QMP: %s; see %s\n", t->closed_reason ?: strerror(-r), log);
                return -1;
        }
        v = qmp_get_version(t->q);
        CHECK(v);
        printf("QEMU %u.%u.%u (%s): QMP ready %.1f ms after exec\n", v->major, v->minor, v->micro, v->package,
               (double) (now_ns() - t0) / 1e6);

        /* -S: paused before the (empty) machine ever ran. */
        CHECK_CALL(t, "query-status", &c);
        CHECK(streq(json_string_value(json_object_get(c.result, "status")) ?: "", "prelaunch"));
        CHECK(json_is_false(json_object_get(c.result, "running")));
        call_done(&c);

        /* The greeting and query-version agree. */
        CHECK_CALL(t, "query-version", &c);
        CHECK(json_integer_value(json_object_get(json_object_get(c.result, "qemu"), "major")) == v->major);
        CHECK(json_integer_value(json_object_get(json_object_get(c.result, "qemu"), "minor")) == v->minor);
        CHECK(json_integer_value(json_object_get(json_object_get(c.result, "qemu"), "micro")) == v->micro);
        CHECK(streq(json_string_value(json_object_get(c.result, "package")) ?: "", v->package));
        call_done(&c);

        /* What a command QEMU lacks looks like. */
        CHECK(call(t, "sup-no-such-command", NULL, &c, NULL) == -EOPNOTSUPP);
        call_done(&c);

        for (unsigned i = 0; i < ROUND_TRIPS; i++) {
                CHECK(call(t, "query-status", NULL, &c, &rtt[i]) == 0);
                call_done(&c);
                total += rtt[i];
        }
        qsort(rtt, ROUND_TRIPS, sizeof(uint64_t), cmp_u64);
        printf("QMP round trip, %u x query-status: min %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms, "
               "mean %.3f ms\n",
               ROUND_TRIPS, (double) rtt[0] / 1e6, (double) rtt[ROUND_TRIPS / 2] / 1e6,
               (double) rtt[ROUND_TRIPS * 99 / 100] / 1e6, (double) rtt[ROUND_TRIPS - 1] / 1e6,
               (double) total / ROUND_TRIPS / 1e6);

        /* Run state changes come as events, each before the reply to the command that caused it. */
        CHECK_CALL(t, "cont", &c);
        call_done(&c);
        CHECK(saw_event(t, "RESUME"));
        CHECK_CALL(t, "query-status", &c);
        CHECK(json_is_true(json_object_get(c.result, "running")));
        call_done(&c);
        CHECK_CALL(t, "stop", &c);
        call_done(&c);
        CHECK(saw_event(t, "STOP"));
        CHECK_CALL(t, "system_powerdown", &c);
        call_done(&c);
        CHECK(wait_event(t, "POWERDOWN") == 0);

        /* quit: SHUTDOWN (from the host, by QMP), the reply, then the end of the connection. */
        r = call(t, "quit", NULL, &c, NULL);
        CHECK(r == 0 || r == -ECONNRESET);
        printf("quit: %s\n", r == 0 ? "answered before QEMU went" : "QEMU went without answering");
        call_done(&c);
        CHECK(run_until(t, &t->closed, 10000) == 0);
        printf("closed: %d (%s)\n", t->closed_error, t->closed_reason);
        CHECK(t->closed_error == 0);
        shutdown = find_event(t, "SHUTDOWN");
        CHECK(shutdown);
        CHECK(json_is_false(json_object_get(shutdown, "guest")));
        CHECK(streq(json_string_value(json_object_get(shutdown, "reason")) ?: "", "host-qmp-quit"));

        CHECK(reap(*qemu_pid, 10000, &status) == 0);
        *qemu_pid = 0;
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        {
                char *s = json_dumps(t->events, JSON_COMPACT);
                printf("events: %s\n", s);
                free(s);
        }
        return 0;
}

static bool have_program(const char *name) {
        const char *path = getenv("PATH") ?: "/usr/bin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);

        for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

int main(void) {
        bool must_work = streq(getenv("SUP_TESTS_MUST_WORK") ?: "", "1");
        char dir[] = "/tmp/sup-test-qmp-qemu-XXXXXX";
        Test t = {};
        pid_t qemu = 0;
        int r;

        if (!have_program(QEMU_BINARY)) {
                printf("skip: no %s (apt-get install qemu-system-x86)%s\n", QEMU_BINARY,
                       must_work ? "; SUP_TESTS_MUST_WORK=1: a skip is a failure" : "");
                return must_work ? EXIT_FAILURE : 77;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        t.events = json_array();
        if (event_new(&t.e) < 0)
                return EXIT_FAILURE;

        r = run(&t, dir, &qemu);

        qmp_free(t.q);
        if (qemu > 0) {
                int status;
                (void) kill(qemu, SIGKILL);
                (void) waitpid(qemu, &status, 0);
        }
        {
                _cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir), *log = xasprintf("%s/qemu.log", dir);
                _cleanup_free_ char *text = NULL;
                if (r < 0 && read_full_file(log, 1 << 20, &text, NULL) >= 0)
                        fprintf(stderr, "QEMU's output:\n%s", text);
                (void) unlink(sock);
                (void) unlink(log);
                (void) rmdir(dir);
        }
        json_decref(t.events);
        free(t.closed_reason);
        event_free(t.e);
        printf("%s\n", r < 0 ? "FAIL" : "OK");
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
