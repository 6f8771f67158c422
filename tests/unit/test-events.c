/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event-line.h"
#include "events.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

static void emit_n(Events *ev, const char *unit, unsigned n) {
        for (unsigned k = 0; k < n; k++)
                events_emit(ev, "test", unit, json_pack("{s:i}", "k", (int) k));
}

/* The events of a journal file, in order (an empty array when there is none). */
static json_t *read_journal(const char *dir, const char *file) {
        _cleanup_free_ char *path = path_join(dir, file), *buf = NULL;
        json_t *list = json_array();
        size_t size = 0;

        if (read_full_file(path, 1U << 24, &buf, &size) < 0)
                return list;
        for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                json_t *o = json_loadb(line, (size_t) (nl - line), 0, NULL);
                assert_non_null(o); /* every line whole: no torn one left for the next to continue */
                json_array_append_new(list, o);
        }
        return list;
}

static void write_text(const char *dir, const char *file, const char *text) {
        _cleanup_free_ char *path = path_join(dir, file);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

/* The ring keeps the last keep events, numbered on. */
static void test_ring_keeps_the_last(void **state) {
        Events *ev = NULL;

        assert_int_equal(events_new(NULL, 1, &ev), 0); /* at least EVENTS_KEEP_MIN */
        emit_n(ev, "a", 40);
        assert_int_equal(events_count(ev), EVENTS_KEEP_MIN);
        assert_int_equal(events_next_seq(ev), 41);
        events_emit(NULL, "test", NULL, json_object()); /* no stream: nothing, and no leak */
        events_free(ev);
}

/* A later supd replays the journal and numbers on: the seqs continue across a restart, and the
 * two files rotate so that they hold between keep and twice keep events. */
static void test_journal_across_a_restart(void **state) {
        _cleanup_free_ char *dir = make_tree();
        json_t *cur, *old;
        Events *ev = NULL;

        assert_int_equal(events_new(dir, 16, &ev), 0);
        emit_n(ev, "a", 40);
        events_free(ev);
        cur = read_journal(dir, "journal");
        old = read_journal(dir, "journal.1");
        assert_int_equal(json_array_size(cur), 8);
        assert_int_equal(json_array_size(old), 16);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(old, 0), "seq")), 17);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 7), "seq")), 40);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 7), "v")), EVENTS_SCHEMA_VERSION);
        assert_string_equal(json_string_value(json_object_get(json_array_get(cur, 7), "unit")), "a");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 7), "k")), 39);
        json_decref(cur);
        json_decref(old);

        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 16);
        assert_int_equal(events_next_seq(ev), 41);
        emit_n(ev, "a", 1);
        events_free(ev);
        cur = read_journal(dir, "journal");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 8), "seq")), 41);
        json_decref(cur);
        (void) rm_rf(dir);
}

/* Lines that are no event (garbage, a seq that does not go up, a time that is none) are skipped,
 * never the rest; a torn last line (a crash mid-write) is cut off the file, so that the next
 * event starts a line of its own. */
static void test_damaged_journal(void **state) {
        _cleanup_free_ char *dir = make_tree();
        Events *ev = NULL;
        json_t *cur;

        write_text(dir, "journal.1",
                   "{\"v\":1,\"seq\":1,\"time\":\"2026-12-06T15:00:00.000Z\",\"type\":\"x\",\"unit\":null}\n"
                   "garbage\n"
                   "\n"
                   "{\"v\":1,\"seq\":2,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\",\"unit\":\"a\"}\n"
                   "{\"v\":1,\"seq\":2,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\",\"unit\":\"a\"}\n"
                   "{\"v\":1,\"seq\":3,\"time\":\"yesterday\",\"type\":\"x\",\"unit\":\"a\"}\n"
                   "{\"v\":1,\"seq\":4,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\",\"unit\":7}\n"
                   "[1,2,3]\n"
                   "{\"v\":1,\"seq\":5,\"time\":\"2026-12-06T15:00:02.000Z\",\"type\":\"x\",\"unit\":\"b\"}\n");
        write_text(dir, "journal",
                   "{\"v\":1,\"seq\":6,\"time\":\"2026-12-06T15:00:03.000Z\",\"type\":\"x\",\"unit\":\"b\"}\n"
                   "{\"v\":1,\"seq\":7,\"ti");
        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 4); /* 1, 2, 5, 6 */
        assert_int_equal(events_next_seq(ev), 7);
        emit_n(ev, "c", 1);
        events_free(ev);
        cur = read_journal(dir, "journal"); /* asserts every line is whole */
        assert_int_equal(json_array_size(cur), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 1), "seq")), 7);
        json_decref(cur);

        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 5);
        events_free(ev);
        (void) rm_rf(dir);
}

/* A damaged line whose seq jumps to INT64_MAX (or past what JSON readers hold exactly) is skipped:
 * taken, it would carry the seqs on past json_int_t's end, the next events' seqs negative and the
 * journal refused line by line at the next load. */
static void test_journal_seq_out_of_range(void **state) {
        _cleanup_free_ char *dir = make_tree();
        Events *ev = NULL;
        json_t *cur;

        write_text(dir, "journal",
                   "{\"v\":1,\"seq\":1,\"time\":\"2026-12-06T15:00:00.000Z\",\"type\":\"x\",\"unit\":null}\n"
                   "{\"v\":1,\"seq\":9223372036854775807,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\"}\n"
                   "{\"v\":1,\"seq\":9007199254740993,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\"}\n"
                   "{\"v\":1,\"seq\":2,\"time\":\"2026-12-06T15:00:02.000Z\",\"type\":\"x\",\"unit\":\"b\"}\n");
        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 2); /* 1, 2 */
        assert_int_equal(events_next_seq(ev), 3);
        emit_n(ev, "c", 2);
        events_free(ev);
        cur = read_journal(dir, "journal");
        assert_int_equal(json_array_size(cur), 6);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, 5), "seq")), 4);
        json_decref(cur);

        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 4);
        assert_int_equal(events_next_seq(ev), 5);
        events_free(ev);
        (void) rm_rf(dir);
}

/* A journal that is a symlink is not followed, to read or to cut its torn line: it would cut the
 * last line off whatever file the link points to. */
static void test_journal_symlink_not_followed(void **state) {
        _cleanup_free_ char *dir = make_tree(), *target = path_join(dir, "target"), *link = NULL, *link_old = NULL,
                            *text = NULL;
        const char *content = "{\"v\":1,\"seq\":1,\"time\":\"2026-12-06T15:00:00.000Z\",\"type\":\"x\",\"unit\":null}\n"
                              "no newline at the end";
        Events *ev = NULL;
        size_t size = 0;

        write_text(dir, "target", content);
        link = path_join(dir, "journal");
        link_old = path_join(dir, "journal.1");
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(symlink(target, link_old), 0);
        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 0);
        emit_n(ev, "a", 1); /* not appended to the target either (O_NOFOLLOW) */
        events_free(ev);
        assert_int_equal(read_full_file(target, 4096, &text, &size), 0);
        assert_string_equal(text, content);
        (void) rm_rf(dir);
}

/* A journal file larger than what is read of it (64 MiB: --events-keep in the hundred thousands,
 * or a damaged one: here a hole of zeros with no newline) gives its newest events, not none. */
static void test_journal_too_large(void **state) {
        _cleanup_free_ char *dir = make_tree(), *path = path_join(dir, "journal");
        const char *tail = "\n{\"v\":1,\"seq\":41,\"time\":\"2026-12-06T15:00:00.000Z\",\"type\":\"x\"}\n"
                           "{\"v\":1,\"seq\":42,\"time\":\"2026-12-06T15:00:01.000Z\",\"type\":\"x\"}\n";
        Events *ev = NULL;
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 65 * 1024 * 1024), 0); /* sparse: costs no disk */
        assert_int_equal(lseek(fd, 0, SEEK_END), 65 * 1024 * 1024);
        assert_int_equal(write(fd, tail, strlen(tail)), (ssize_t) strlen(tail));
        close(fd);
        assert_int_equal(events_new(dir, 16, &ev), 0);
        assert_int_equal(events_count(ev), 2);
        assert_int_equal(events_next_seq(ev), 43);
        events_free(ev);
        (void) rm_rf(dir);
}

/* A journal that cannot be written (here: RLIMIT_FSIZE, as a full disk, with short writes): the
 * ring goes on; what was written stays whole, and the journal is written again once it can be. */
static void test_journal_cannot_be_written(void **state) {
        _cleanup_free_ char *dir = make_tree();
        struct rlimit saved, small = {.rlim_cur = 1000, .rlim_max = RLIM_INFINITY};
        size_t written;
        Events *ev = NULL;
        json_t *cur;

        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        small.rlim_max = saved.rlim_max;
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(events_new(dir, 64, &ev), 0);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
        emit_n(ev, "a", 30);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        assert_int_equal(events_count(ev), 30);
        cur = read_journal(dir, "journal");
        written = json_array_size(cur);
        assert_true(written > 0 && written < 30);
        json_decref(cur);
        emit_n(ev, "a", 2); /* and written again */
        events_free(ev);
        cur = read_journal(dir, "journal");
        assert_int_equal(json_array_size(cur), written + 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(cur, written + 1), "seq")), 32);
        json_decref(cur);
        signal(SIGXFSZ, SIG_DFL);
        (void) rm_rf(dir);
}

/* ---- subscribers, over a socket pair ---- */

static void on_message(JsonConn *c, json_t *msg, void *userdata) {
}

static void on_close(JsonConn *c, int error, void *userdata) {
}

typedef struct Reader {
        int fd;
        char buf[1 << 16];
        size_t used;
} Reader;

/* The next frame from the reader's end, running the loop until one is there (NULL: none within
 * a second). */
static json_t *next_frame(Event *e, Reader *r) {
        for (int k = 0; k < 200; k++) {
                char *nl = memchr(r->buf, '\n', r->used);
                ssize_t n;

                if (nl) {
                        json_t *o = json_loadb(r->buf, (size_t) (nl - r->buf), 0, NULL);
                        r->used -= (size_t) (nl - r->buf) + 1;
                        memmove(r->buf, nl + 1, r->used);
                        assert_non_null(o);
                        return o;
                }
                n = read(r->fd, r->buf + r->used, sizeof(r->buf) - r->used);
                if (n > 0)
                        r->used += (size_t) n;
                /* supd's side writes what the read made room for (its drain handler). */
                assert_int_equal(event_run(e, n > 0 ? 0 : 5 * USEC_PER_MSEC), 0);
        }
        return NULL;
}

static void open_pair(Event **e, JsonConn **c, Reader *r) {
        int sv[2], small = 4096;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* A small socket buffer: the reader falls behind after a few events, not thousands. */
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(event_new(e), 0);
        assert_int_equal(json_conn_new(*e, sv[0], 4096, on_message, on_close, NULL, c), 0);
        r->fd = sv[1];
        r->used = 0;
        assert_int_equal(fcntl(r->fd, F_SETFL, O_NONBLOCK), 0);
}

static int64_t seq_of(const json_t *frame) {
        return json_integer_value(json_object_get(json_object_get(frame, "data"), "seq"));
}

static const char *type_of(const json_t *frame) {
        return json_string_value(json_object_get(json_object_get(frame, "data"), "type"));
}

/* A reader that does not read while thousands of events happen: supd's output to it stays within
 * the budget (it never blocks, never piles up), and when it reads again it gets the replay, the
 * reply, what was queued, one "lost" record counting exactly the events that left the ring, and
 * every event after. */
static void test_a_reader_that_does_not_read(void **state) {
        json_t *req = json_pack("{s:i, s:s}", "id", 7, "method", "events"), *f;
        Events *ev = NULL;
        Event *e = NULL;
        JsonConn *c = NULL;
        Reader r;
        int64_t expect = 1, lost = 0;
        bool replied = false;

        open_pair(&e, &c, &r);
        assert_int_equal(events_new(NULL, 16, &ev), 0);
        emit_n(ev, "a", 5);
        assert_int_equal(events_subscribe(ev, c, 1, req, 0, NULL, true), 0);
        assert_int_equal(events_subscribe(ev, c, 1, req, 0, NULL, true), -EBUSY); /* one per connection */
        for (int k = 0; k < 2000; k++) {
                emit_n(ev, "a", 1);
                assert_true(json_conn_output_pending(c) < EVENTS_OUTPUT_BUDGET + 1024);
        }
        while (expect <= 2005 && (f = next_frame(e, &r))) {
                if (json_object_get(f, "id")) {
                        assert_int_equal(json_integer_value(json_object_get(f, "id")), 7);
                        assert_int_equal(expect, 6); /* after the replay of the 5 kept, before the new ones */
                        replied = true;
                } else if (streq(type_of(f), "lost")) {
                        json_t *d = json_object_get(f, "data");
                        assert_int_equal(lost, 0); /* one record for the whole gap */
                        lost = json_integer_value(json_object_get(d, "count"));
                        assert_int_equal(json_integer_value(json_object_get(d, "first_seq")), expect);
                        expect += lost;
                        assert_int_equal(json_integer_value(json_object_get(d, "last_seq")), expect - 1);
                } else
                        assert_int_equal(seq_of(f), expect++);
                json_decref(f);
        }
        assert_true(replied);
        assert_true(lost > 1000);
        assert_int_equal(expect, 2006);

        events_unsubscribe(ev, 1);
        events_free(ev);
        json_conn_free(c);
        close(r.fd);
        event_free(e);
        json_decref(req);
}

/* --unit and --since: only the units asked for, only from since; without follow the reply ends
 * the subscription. */
static void test_filter_and_replay_only(void **state) {
        json_t *req = json_pack("{s:i, s:s}", "id", 1, "method", "events"), *f;
        Events *ev = NULL;
        Event *e = NULL;
        JsonConn *c = NULL;
        Reader r;
        char **units = NULL;

        open_pair(&e, &c, &r);
        assert_int_equal(events_new(NULL, 16, &ev), 0);
        emit_n(ev, "a", 2);
        emit_n(ev, "b", 2);
        events_emit(ev, "reload", NULL, NULL);
        strv_push(&units, xstrdup("b"));
        assert_int_equal(events_subscribe(ev, c, 1, req, 0, units, false), 0);
        f = next_frame(e, &r);
        assert_int_equal(seq_of(f), 3);
        json_decref(f);
        f = next_frame(e, &r);
        assert_int_equal(seq_of(f), 4);
        json_decref(f);
        f = next_frame(e, &r);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(f, "result"), "next_seq")), 6);
        json_decref(f);
        emit_n(ev, "b", 1); /* the subscription is over */
        assert_null(next_frame(e, &r));

        /* since: after every event kept (the clock's next millisecond): none of them */
        assert_int_equal(events_subscribe(ev, c, 2, req, now(CLOCK_REALTIME) + USEC_PER_MSEC, NULL, false), 0);
        f = next_frame(e, &r);
        assert_non_null(json_object_get(f, "result"));
        json_decref(f);

        /* since in the future, followed: the events before it are not sent either (they were, when
         * since only applied to the replay) */
        assert_int_equal(events_subscribe(ev, c, 3, req, now(CLOCK_REALTIME) + 3600 * USEC_PER_SEC, NULL, true), 0);
        f = next_frame(e, &r);
        assert_non_null(json_object_get(f, "result"));
        json_decref(f);
        emit_n(ev, "b", 2);
        assert_null(next_frame(e, &r));
        events_unsubscribe(ev, 3);

        /* since in the past, followed: the replay from it, then every new event */
        assert_int_equal(events_count(ev), 8);
        assert_int_equal(events_subscribe(ev, c, 4, req, 1, NULL, true), 0);
        for (int64_t seq = 1; seq <= 9; seq++) {
                f = next_frame(e, &r);
                if (seq == 9) {
                        assert_non_null(json_object_get(f, "result"));
                        json_decref(f);
                        emit_n(ev, "a", 1);
                        f = next_frame(e, &r);
                }
                assert_int_equal(seq_of(f), seq);
                json_decref(f);
        }
        events_unsubscribe(ev, 4);

        events_free(ev);
        json_conn_free(c);
        close(r.fd);
        event_free(e);
        json_decref(req);
}

/* What a monitor's new status turns into, in order: a new exit, the state change, the restart the
 * policy backs off to; a health change; a first status only its state. */
static void test_status_events(void **state) {
        _cleanup_free_ char *dir = make_tree();
        InstanceStatus old = {.state = INSTANCE_RUNNING, .health = {.enabled = true, .state = HEALTH_STARTING}},
                       new = old;
        Events *ev = NULL;
        json_t *j, *x;

        new.state = INSTANCE_BACKOFF;
        new.has_exit = true;
        new.exit_code = -1;
        new.exit_signal = 9;
        new.oom = true;
        new.exited_at = 1000;
        new.restarts = 2;
        new.next_restart_at = now(CLOCK_REALTIME) + 5 * USEC_PER_SEC;
        new.restart_reason = (char *) "the command was killed by signal 9 (the OOM killer)";
        new.health.state = HEALTH_HEALTHY;
        assert_int_equal(events_new(dir, 64, &ev), 0);
        events_emit_status(ev, "web", &old, &new, "always");
        events_emit_status(ev, "web", &old, &old, "always"); /* nothing changed: nothing */
        events_emit_status(ev, "db", NULL, &new, "always");
        events_free(ev);
        j = read_journal(dir, "journal");
        assert_int_equal(json_array_size(j), 5);
        x = json_array_get(j, 0);
        assert_string_equal(json_string_value(json_object_get(x, "type")), "exit");
        assert_true(json_is_null(json_object_get(x, "exit_code")));
        assert_string_equal(json_string_value(json_object_get(x, "signal")), "SIGKILL");
        assert_true(json_is_true(json_object_get(x, "oom")));
        x = json_array_get(j, 1);
        assert_string_equal(json_string_value(json_object_get(x, "type")), "state");
        assert_string_equal(json_string_value(json_object_get(x, "from")), "running");
        assert_string_equal(json_string_value(json_object_get(x, "to")), "backoff");
        x = json_array_get(j, 2);
        assert_string_equal(json_string_value(json_object_get(x, "type")), "restart");
        assert_int_equal(json_integer_value(json_object_get(x, "attempt")), 3);
        assert_string_equal(json_string_value(json_object_get(x, "policy")), "always");
        assert_in_range(json_integer_value(json_object_get(x, "delay_ms")), 4000, 5000);
        assert_string_equal(json_string_value(json_object_get(x, "reason")), new.restart_reason);
        x = json_array_get(j, 3);
        assert_string_equal(json_string_value(json_object_get(x, "type")), "health");
        assert_string_equal(json_string_value(json_object_get(x, "to")), "healthy");
        x = json_array_get(j, 4);
        assert_string_equal(json_string_value(json_object_get(x, "unit")), "db");
        assert_string_equal(json_string_value(json_object_get(x, "type")), "state");
        assert_true(json_is_null(json_object_get(x, "from")));
        json_decref(j);
        (void) rm_rf(dir);
}

/* --since and --until take RFC 3339 times: the offset is required, the fraction is not. */
static void test_parse_timestamp(void **state) {
        static const char *const bad[] = {
                "2026-12-06T15:38:12",
                "2026-12-06",
                "yesterday",
                "2026-02-30T00:00:00Z",
                "2026-12-06T24:00:00Z",
                "2026-12-06T15:38:12.Z",
                "2026-12-06T15:38:12Zx",
                "2026-12-06T15:38:12+1:00",
                "",
        };
        usec_t t, u;

        assert_int_equal(parse_timestamp("2026-12-06T15:38:12Z", &t), 0);
        assert_int_equal(t, 1796571492ULL * USEC_PER_SEC);
        assert_int_equal(parse_timestamp("2026-12-06 16:38:12.277+01:00", &u), 0);
        assert_int_equal(u, t + 277 * USEC_PER_MSEC);
        assert_int_equal(parse_timestamp("2026-12-06t15:38:12.1234567z", &u), 0);
        assert_int_equal(u, t + 123456);
        assert_int_equal(parse_timestamp("2024-02-29T00:00:00-00:30", &u), 0);
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                assert_int_equal(parse_timestamp(bad[k], &u), -EINVAL);
        /* What format_timestamp() writes, parsed back. */
        {
                char buf[64];
                assert_int_equal(parse_timestamp(format_timestamp(t + 5 * USEC_PER_MSEC, buf, sizeof(buf)), &u), 0);
                assert_int_equal(u, t + 5 * USEC_PER_MSEC);
        }
}

/* supctl events' human line: the strings of an event are not supd's own (a refused reload's
 * message quotes the unit file; a reason, an error, a unit name from a damaged journal): a newline
 * in them must not start a line of its own that reads as another event, nor an escape sequence
 * reach the terminal. */
static void test_human_line_is_one_line(void **state) {
        json_t *evs[] = {
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "time", "2026-12-06T15:00:00.000Z", "type", "state", "unit",
                          "web", "from", "running", "to", "failed", "reason",
                          "boom\n2026-12-06T15:00:01.000Z db state running -> stopped\x1b[2J"),
                json_pack("{s:s, s:s, s:s, s:I, s:[{s:s, s:i, s:i, s:s}]}", "time", "2026-12-06T15:00:00.000Z", "type",
                          "reload", "result", "refused", "error_count", (json_int_t) 1, "errors", "file", "a\r.yaml",
                          "line", 1, "column", 1, "message", "unexpected \"x\n2026-12-06T15:00:01.000Z supd\""),
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", "2026-12-06T15:00:00.000Z\n", "type", "pull\t", "unit",
                          "a\nb", "reference", "r\x07", "error",
                          "e\xc2\x9b"
                          "2J"),
        };

        for (size_t k = 0; k < ELEMENTSOF(evs); k++) {
                _cleanup_free_ char *line = event_format_line(evs[k]);
                assert_non_null(strstr(line, "2026-12-06T15:00:00.000Z"));
                for (const char *p = line; *p; p++)
                        assert_true((unsigned char) *p >= 0x20 && *p != 0x7f);
                assert_null(strstr(line, "\xc2\x9b"));
                json_decref(evs[k]);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ring_keeps_the_last),
                cmocka_unit_test(test_journal_across_a_restart),
                cmocka_unit_test(test_damaged_journal),
                cmocka_unit_test(test_journal_seq_out_of_range),
                cmocka_unit_test(test_journal_symlink_not_followed),
                cmocka_unit_test(test_journal_too_large),
                cmocka_unit_test(test_journal_cannot_be_written),
                cmocka_unit_test(test_a_reader_that_does_not_read),
                cmocka_unit_test(test_filter_and_replay_only),
                cmocka_unit_test(test_status_events),
                cmocka_unit_test(test_parse_timestamp),
                cmocka_unit_test(test_human_line_is_one_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
