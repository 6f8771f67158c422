/* SPDX-License-Identifier: MIT */
#include "events.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

#define JOURNAL_FILE     "journal"
#define JOURNAL_OLD_FILE "journal.1"
/* What is read of a journal file at most, its end (keep lines of a few hundred bytes each). */
#define JOURNAL_MAX_BYTES (64U * 1024U * 1024U)
/* A seq beyond this is not ours: 2^53, what every JSON reader holds exactly (a JavaScript number),
 * and centuries at a million events a second. A damaged line that jumped to INT64_MAX would carry
 * on from there: the next events' seqs past json_int_t's end, negative in JSON, and every line after
 * them refused at the next load. */
#define EVENTS_SEQ_MAX (UINT64_C(1) << 53)

typedef struct EventEntry {
        uint64_t seq;
        usec_t time;
        char *text;       /* the event as one line of JSON, without the newline */
        const char *unit; /* in text's allocation, after it; NULL: the event is about no unit */
} EventEntry;

typedef struct Subscriber {
        Events *events;
        JsonConn *conn;
        uint64_t client_id;
        json_t *request; /* the reply is owed until the replay is sent; NULL after */
        usec_t since;    /* the events before it are skipped; 0 once one at or after it came */
        char **units;    /* NULL: every event */
        bool follow;
        /* Positions count every event the ring ever took (Events.pushed), not seqs: a journal
         * loaded with gaps in its seqs (lines dropped) still gives each event one position. */
        uint64_t cursor;                      /* the next event to consider */
        uint64_t replay_end;                  /* the ring's end when it subscribed: the reply goes once it is there */
        uint64_t lost, lost_first, lost_last; /* events that left the ring unsent (their seqs) */
        struct Subscriber *next;
} Subscriber;

struct Events {
        EventEntry *ring; /* keep entries; the oldest at (pushed - n) % keep */
        size_t keep, n;
        uint64_t pushed;
        uint64_t next_seq;
        char *journal_path, *old_path; /* NULL: memory only */
        int journal_fd;
        size_t journal_lines;
        off_t journal_size;
        bool journal_failing; /* warned; quiet until a write succeeds again */
        Subscriber *subscribers;
};

static void entry_done(EventEntry *e) {
        free(e->text);
        *e = (EventEntry){};
}

static EventEntry *entry_at(const Events *ev, uint64_t pos) {
        return &ev->ring[pos % ev->keep];
}

/* Whether s is to be sent e. The events before since are skipped, the new ones too (a since in the
 * future: from then on, as docs/events.md says), until the first at or after it: from there every
 * event goes, so that the realtime clock stepped back by NTP loses a follower nothing. */
static bool subscriber_wants(Subscriber *s, const EventEntry *e) {
        if (s->since > 0) {
                if (e->time < s->since)
                        return false;
                s->since = 0;
        }
        return !s->units || (e->unit && strv_contains(s->units, e->unit));
}

/* Takes text; unit is copied into its allocation (one allocation an event, not two: 32 bytes less
 * for each of the thousands of events kept). Events that leave the ring unsent count as lost for
 * the subscribers that wanted them. */
static void ring_push(Events *ev, uint64_t seq, usec_t t, const char *unit, char *text) {
        size_t n = strlen(text);
        if (ev->n == ev->keep) {
                uint64_t oldest = ev->pushed - ev->n;
                EventEntry *e = entry_at(ev, oldest);

                for (Subscriber *s = ev->subscribers; s; s = s->next) {
                        if (s->cursor > oldest)
                                continue;
                        if (subscriber_wants(s, e)) {
                                if (s->lost == 0) {
                                        s->lost_first = e->seq;
                                        log_warning("events: client %llu does not keep up; its events are dropped",
                                                    (unsigned long long) s->client_id);
                                }
                                s->lost++;
                                s->lost_last = e->seq;
                        }
                        s->cursor = oldest + 1;
                }
                entry_done(e);
                ev->n--;
        }
        if (unit) {
                text = xrealloc(text, n + 1 + strlen(unit) + 1);
                strcpy(text + n + 1, unit);
        }
        *entry_at(ev, ev->pushed) =
                (EventEntry){.seq = seq, .time = t, .text = text, .unit = unit ? text + n + 1 : NULL};
        ev->pushed++;
        ev->n++;
        ev->next_seq = seq + 1;
}

/* ---- the journal ---- */

static int journal_open(Events *ev) {
        struct stat st;
        int fd = open(ev->journal_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        ev->journal_fd = fd;
        ev->journal_size = st.st_size;
        return 0;
}

/* journal becomes journal.1 (the one before goes), and a new journal begins. */
static int journal_rotate(Events *ev) {
        if (ev->journal_fd >= 0)
                close(ev->journal_fd);
        ev->journal_fd = -EBADF;
        if (rename(ev->journal_path, ev->old_path) < 0 && errno != ENOENT)
                return negative_errno();
        ev->journal_lines = 0;
        return journal_open(ev);
}

static void journal_append(Events *ev, const char *text) {
        _cleanup_free_ char *line = xasprintf("%s\n", text);
        size_t len = strlen(line);
        ssize_t n;
        int r = 0;

        if (!ev->journal_path)
                return;
        if (ev->journal_lines >= ev->keep)
                r = journal_rotate(ev);
        else if (ev->journal_fd < 0)
                r = journal_open(ev);
        if (r >= 0) {
                /* One write of a small line to a regular file: the page cache takes it whole or
                 * the disk is full. A short write is cut off again, so that the next line does not
                 * continue a torn one. */
                n = write(ev->journal_fd, line, len);
                if (n < 0)
                        r = negative_errno();
                else if ((size_t) n != len) {
                        r = -ENOSPC;
                        (void) ftruncate(ev->journal_fd, ev->journal_size);
                }
        }
        if (r < 0) {
                if (!ev->journal_failing)
                        log_warning("events: cannot write %s (%s); events are kept in memory only until it can be",
                                    ev->journal_path, strerror(-r));
                ev->journal_failing = true;
                return;
        }
        if (ev->journal_failing)
                log_info("events: %s is written again", ev->journal_path);
        ev->journal_failing = false;
        ev->journal_size += (off_t) len;
        ev->journal_lines++;
}

/* One line of a journal file: an event, or NULL (why in *ret_why). */
static json_t *parse_line(const char *line, size_t len, uint64_t after, usec_t *ret_time, const char **ret_why) {
        json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *seq = json_object_get(o, "seq"), *unit = json_object_get(o, "unit");

        *ret_why = NULL;
        if (!json_is_object(o))
                *ret_why = "not a JSON object";
        else if (!json_is_integer(json_object_get(o, "v")) || !json_is_string(json_object_get(o, "type")) ||
                 !json_is_integer(seq) || json_integer_value(seq) <= 0 ||
                 (uint64_t) json_integer_value(seq) > EVENTS_SEQ_MAX ||
                 (unit && !json_is_string(unit) && !json_is_null(unit)))
                *ret_why = "not an event";
        else if ((uint64_t) json_integer_value(seq) <= after)
                *ret_why = "its seq is not after the line before";
        else if (timestamp_from_json(json_object_get(o, "time"), ret_time) < 0 || *ret_time == 0)
                *ret_why = "its time is not a timestamp";
        if (*ret_why) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* The last max bytes of a regular file at most, from its first whole line: a journal larger than
 * JOURNAL_MAX_BYTES (--events-keep in the hundred thousands, or a damaged one) still gives its newest
 * events, in bounded memory. *ret_start: where buf begins in the file. */
static int read_tail(int fd, size_t max, char **ret, size_t *ret_size, off_t *ret_start) {
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t want, size = 0, skip = 0;
        off_t start;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        start = st.st_size > (off_t) max ? st.st_size - (off_t) max : 0;
        want = (size_t) (st.st_size - start);
        buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        while (size < want) {
                ssize_t n = pread(fd, buf + size, want - size, start + (off_t) size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (start > 0) { /* the line cut in two is not an event */
                const char *nl = memchr(buf, '\n', size);
                skip = nl ? (size_t) (nl - buf) + 1 : size;
        }
        memmove(buf, buf + skip, size - skip);
        buf[size - skip] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = size - skip;
        *ret_start = start + (off_t) skip;
        return 0;
}

/* Loads one journal file into the ring. A line that is not an event is skipped with a warning
 * (the first few); a torn last line (no newline: a crash while it was written) is dropped, and
 * cut off the file if it is the current journal (cut_torn), so that the next line starts clean. */
static void journal_load_file(Events *ev, const char *path, bool cut_torn, size_t *ret_lines) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0, lines = 0, bad = 0;
        off_t start = 0;
        int r;

        *ret_lines = 0;
        /* Not through a symlink, as the journal is written (journal_open()): its torn line would be
         * cut off whatever file the link points to. Read through the fd, then, and cut with it. */
        fd = open(path, (cut_torn ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return;
        if (fd < 0)
                r = negative_errno();
        else
                r = read_tail(fd, JOURNAL_MAX_BYTES, &buf, &size, &start);
        if (r >= 0 && start > 0)
                log_warning("events: %s is larger than %u bytes; only the lines in its last %u bytes are replayed",
                            path, JOURNAL_MAX_BYTES, JOURNAL_MAX_BYTES);
        if (r < 0) {
                log_warning("events: cannot read %s (%s); its events are not replayed", path, strerror(-r));
                return;
        }
        for (size_t off = 0; off < size;) {
                const char *nl = memchr(buf + off, '\n', size - off), *why;
                size_t len;
                usec_t t;
                json_t *o;

                if (!nl) {
                        log_warning("events: %s ends in a torn line (%zu bytes, a crash while it was written); "
                                    "dropped",
                                    path, size - off);
                        if (cut_torn && ftruncate(fd, start + (off_t) off) < 0)
                                log_warning("events: cannot cut the torn line off %s: %m", path);
                        break;
                }
                len = (size_t) (nl - (buf + off));
                lines++;
                o = len > 0 ? parse_line(buf + off, len, ev->next_seq - 1, &t, &why) : NULL;
                if (o) {
                        const char *unit = json_string_value(json_object_get(o, "unit"));
                        ring_push(ev, (uint64_t) json_integer_value(json_object_get(o, "seq")), t, unit,
                                  xstrndup(buf + off, len));
                        json_decref(o);
                } else if (len > 0 && ++bad <= 3)
                        log_warning("events: %s:%zu: skipped (%s)", path, lines, why);
                off += len + 1;
        }
        if (bad > 3)
                log_warning("events: %s: %zu lines skipped in all", path, bad);
        *ret_lines = lines;
}

int events_new(const char *dir, size_t keep, Events **ret) {
        Events *ev = xzalloc(sizeof(Events));
        size_t lines = 0;
        int r;

        ev->keep = MAX(keep, (size_t) EVENTS_KEEP_MIN);
        ev->ring = xnew0(EventEntry, ev->keep);
        ev->next_seq = 1;
        ev->journal_fd = -EBADF;
        if (dir) {
                r = mkdir_p(dir, 0700);
                if (r < 0)
                        log_warning("events: cannot create %s (%s); events are kept in memory only", dir, strerror(-r));
                ev->journal_path = path_join(dir, JOURNAL_FILE);
                ev->old_path = path_join(dir, JOURNAL_OLD_FILE);
                journal_load_file(ev, ev->old_path, false, &lines);
                journal_load_file(ev, ev->journal_path, true, &lines);
                ev->journal_lines = lines;
                /* Opened at the first event (journal_append()): a failure here is its failure. */
                if (ev->n > 0)
                        log_info("events: %zu kept from before, the last seq %llu", ev->n,
                                 (unsigned long long) (ev->next_seq - 1));
        }
        *ret = ev;
        return 0;
}

static void subscriber_free(Subscriber *s) {
        for (Subscriber **p = &s->events->subscribers; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        json_conn_set_drain_handler(s->conn, NULL, NULL);
        json_decref(s->request);
        strv_free(s->units);
        free(s);
}

Events *events_free(Events *ev) {
        if (!ev)
                return NULL;
        /* The connections may be gone already (the control server frees them without telling):
         * they are not touched. */
        while (ev->subscribers) {
                Subscriber *s = ev->subscribers;
                ev->subscribers = s->next;
                json_decref(s->request);
                strv_free(s->units);
                free(s);
        }
        for (size_t k = 0; k < ev->keep; k++)
                entry_done(&ev->ring[k]);
        free(ev->ring);
        if (ev->journal_fd >= 0)
                close(ev->journal_fd);
        free(ev->journal_path);
        free(ev->old_path);
        free(ev);
        return NULL;
}

/* ---- subscribers ---- */

static void send_event(Subscriber *s, json_t *data) {
        json_t *frame = json_pack("{s:s, s:o}", "event", "event", "data", data);
        (void) json_conn_send(s->conn, frame);
        json_decref(frame);
}

/* Sends what the subscriber has not had, as far as its budget goes (the drain handler carries on
 * from there); then, once the replay is out, the reply. Frees a subscription that is over. */
static void pump(Subscriber *s) {
        Events *ev = s->events;

        for (;;) {
                uint64_t oldest = ev->pushed - ev->n;
                const EventEntry *e;
                char now_text[64];

                if (json_conn_output_pending(s->conn) >= EVENTS_OUTPUT_BUDGET)
                        return;
                if (s->lost > 0) {
                        send_event(s, json_pack("{s:i, s:s, s:s, s:I, s:I, s:I}", "v", EVENTS_SCHEMA_VERSION, "time",
                                                format_timestamp(now(CLOCK_REALTIME), now_text, sizeof(now_text)),
                                                "type", "lost", "count", (json_int_t) s->lost, "first_seq",
                                                (json_int_t) s->lost_first, "last_seq", (json_int_t) s->lost_last));
                        s->lost = 0;
                        continue;
                }
                s->cursor = MAX(s->cursor, oldest);
                if (s->cursor >= ev->pushed)
                        break;
                e = entry_at(ev, s->cursor);
                if (subscriber_wants(s, e)) {
                        json_t *data = json_loads(e->text, 0, NULL);
                        if (data)
                                send_event(s, data);
                }
                s->cursor++;
        }
        if (s->request && s->cursor >= s->replay_end) {
                (void) json_conn_reply(s->conn, s->request, json_pack("{s:I}", "next_seq", (json_int_t) ev->next_seq));
                json_decref(s->request);
                s->request = NULL;
                if (!s->follow)
                        subscriber_free(s);
        }
}

static void on_drained(JsonConn *c, void *userdata) {
        pump(userdata);
}

int events_subscribe(Events *ev, JsonConn *conn, uint64_t client_id, const json_t *request, usec_t since, char **units,
                     bool follow) {
        Subscriber *s;

        /* The connection's drain handler is one subscriber's. */
        for (s = ev->subscribers; s; s = s->next)
                if (s->client_id == client_id)
                        return -EBUSY;
        s = xzalloc(sizeof(Subscriber));

        *s = (Subscriber){
                .events = ev,
                .conn = conn,
                .client_id = client_id,
                .request = json_incref((json_t *) request),
                .since = since == USEC_INFINITY ? 0 : since,
                .units = units,
                .follow = follow,
                .cursor = since == USEC_INFINITY ? ev->pushed : ev->pushed - ev->n,
                .replay_end = ev->pushed,
                .next = ev->subscribers,
        };
        ev->subscribers = s;
        json_conn_set_drain_handler(conn, on_drained, s);
        pump(s);
        return 0;
}

void events_unsubscribe(Events *ev, uint64_t client_id) {
        for (Subscriber *s = ev ? ev->subscribers : NULL, *next; s; s = next) {
                next = s->next;
                if (s->client_id == client_id)
                        subscriber_free(s);
        }
}

void events_drop_subscribers(Events *ev) {
        while (ev && ev->subscribers)
                subscriber_free(ev->subscribers);
}

/* ---- events ---- */

void events_emit(Events *ev, const char *type, const char *unit, json_t *fields) {
        char t_text[64];
        usec_t t;
        json_t *o;
        char *text;

        if (!ev) {
                json_decref(fields);
                return;
        }
        /* To the millisecond, as the time is written: a replay --since a time that was printed
         * finds the event printed with it. */
        t = now(CLOCK_REALTIME) / USEC_PER_MSEC * USEC_PER_MSEC;
        o = json_pack("{s:i, s:I, s:s, s:s, s:s?}", "v", EVENTS_SCHEMA_VERSION, "seq", (json_int_t) ev->next_seq,
                      "time", format_timestamp(t, t_text, sizeof(t_text)), "type", type, "unit", unit);
        if (fields)
                (void) json_object_update_missing(o, fields);
        json_decref(fields);
        text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (!text)
                return;
        journal_append(ev, text);
        ring_push(ev, ev->next_seq, t, unit, text);
        for (Subscriber *s = ev->subscribers, *next; s; s = next) {
                next = s->next;
                pump(s);
        }
}

static json_t *string_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

void events_emit_status(Events *ev, const char *unit, const InstanceStatus *old, const InstanceStatus *new,
                        const char *policy) {
        if (!ev)
                return;
        /* A pull before a start: begun, or over (a failure fails the start). */
        if (old && !old->pull.reference && new->pull.reference)
                events_emit(ev, "pull", unit,
                            json_pack("{s:s, s:s}", "reference", new->pull.reference, "result", "started"));
        else if (old && old->pull.reference &&
                 (!new->pull.reference || !streq(old->pull.reference, new->pull.reference)))
                events_emit(
                        ev, "pull", unit,
                        json_pack("{s:s, s:s, s:o}", "reference", old->pull.reference, "result",
                                  new->state == INSTANCE_FAILED || new->state == INSTANCE_BACKOFF ? "failed" : "done",
                                  "error",
                                  string_or_null(new->state == INSTANCE_FAILED || new->state == INSTANCE_BACKOFF
                                                         ? new->reason
                                                         : NULL)));
        /* A new exit (not one a first status tells of: an adopted monitor's last run). */
        if (old && new->has_exit && (!old->has_exit || old->exited_at != new->exited_at)) {
                _cleanup_free_ char *sig = new->exit_signal > 0 ? format_signal(new->exit_signal) : NULL;
                events_emit(ev, "exit", unit,
                            json_pack("{s:o, s:o, s:b}", "exit_code",
                                      new->exit_signal > 0 ? json_null() : json_integer(new->exit_code), "signal",
                                      string_or_null(sig), "oom", new->oom));
        }
        if (!old || old->state != new->state)
                events_emit(ev, "state", unit,
                            json_pack("{s:o, s:s, s:o}", "from",
                                      string_or_null(old ? instance_state_to_string(old->state) : NULL), "to",
                                      instance_state_to_string(new->state), "reason", string_or_null(new->reason)));
        if (old && new->state == INSTANCE_BACKOFF &&
            (old->state != INSTANCE_BACKOFF || old->next_restart_at != new->next_restart_at)) {
                usec_t t = now(CLOCK_REALTIME);
                events_emit(
                        ev, "restart", unit,
                        json_pack("{s:o, s:o, s:I, s:I, s:o}", "reason", string_or_null(new->restart_reason), "policy",
                                  string_or_null(policy), "attempt", (json_int_t) new->restarts + 1, "delay_ms",
                                  (json_int_t) (new->next_restart_at > t ? (new->next_restart_at - t) / USEC_PER_MSEC
                                                                         : 0),
                                  "at", timestamp_to_json(new->next_restart_at)));
        }
        if (old && old->health.enabled && new->health.enabled && old->health.state != new->health.state)
                events_emit(ev, "health", unit,
                            json_pack("{s:s, s:s, s:I}", "from", health_state_to_string(old->health.state), "to",
                                      health_state_to_string(new->health.state), "failing_streak",
                                      (json_int_t) new->health.failing_streak));
}

void events_emit_reload(Events *ev, const Plan *plan, size_t n_units, const Diagnostics *refused) {
        static const char *const keys[_ACTION_TYPE_MAX] = {
                [ACTION_START] = "started",
                [ACTION_REPLACE] = "replaced",
                [ACTION_REMOVE] = "removed",
                [ACTION_UPDATE] = "updated",
        };
        size_t changed = 0;
        json_t *o;

        if (!ev)
                return;
        if (!plan) {
                json_t *all = diagnostics_to_json(refused), *errors = json_array();
                for (size_t k = 0; k < json_array_size(all) && k < EVENTS_RELOAD_ERRORS_MAX; k++)
                        json_array_append(errors, json_array_get(all, k));
                json_decref(all);
                events_emit(ev, "reload", NULL,
                            json_pack("{s:s, s:I, s:o}", "result", "refused", "error_count",
                                      (json_int_t) diagnostics_count(refused), "errors", errors));
                return;
        }
        o = json_pack("{s:s, s:[], s:[], s:[], s:[]}", "result", "applied", "started", "replaced", "updated",
                      "removed");
        for (size_t k = 0; k < plan->n_actions; k++) {
                json_array_append_new(json_object_get(o, keys[plan->actions[k].type]),
                                      json_string(plan->actions[k].unit));
                changed += plan->actions[k].type != ACTION_REMOVE;
        }
        json_object_set_new(o, "unchanged", json_integer((json_int_t) (n_units > changed ? n_units - changed : 0)));
        events_emit(ev, "reload", NULL, o);
}

void events_emit_image_pull(Events *ev, const char *key, const json_t *reply) {
        const char *ref = key ? startswith(key, "pull ") : NULL;
        json_t *result = json_object_get(reply, "result"), *err = json_object_get(reply, "error");
        _cleanup_free_ char *reference = ref ? xstrndup(ref, strcspn(ref, " ")) : NULL;

        if (!ev)
                return;
        if (err || !result)
                events_emit(ev, "pull", NULL,
                            json_pack("{s:o, s:s, s:o}", "reference", string_or_null(reference), "result", "failed",
                                      "error", string_or_null(json_string_value(json_object_get(err, "message")))));
        else
                events_emit(ev, "pull", NULL,
                            json_pack("{s:o, s:s, s:O?}", "reference", string_or_null(reference), "result", "done",
                                      "digest", json_object_get(result, "digest")));
}

uint64_t events_next_seq(const Events *ev) {
        return ev->next_seq;
}

size_t events_count(const Events *ev) {
        return ev->n;
}
