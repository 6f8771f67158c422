/* SPDX-License-Identifier: MIT */
/* supd's image store work in worker processes (daemon/image-jobs.c), with work functions of the
 * test's own in place of the store's: what reaches the waiters, and when. */
#include "test-helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "image-jobs.h"
#include "macro.h"

typedef struct Got {
        int calls;
        json_t *reply;
} Got;

static void on_done(const json_t *reply, void *userdata) {
        Got *g = userdata;
        g->calls++;
        json_decref(g->reply);
        g->reply = json_deep_copy(reply);
}

/* Runs the loop until every got has its reply (or a minute passes: a hang fails). */
static void run_until_done(Event *e, Got *got, size_t n) {
        usec_t deadline = now(CLOCK_MONOTONIC) + 60 * USEC_PER_SEC;

        for (;;) {
                bool all = true;
                for (size_t k = 0; k < n; k++)
                        all = all && got[k].calls > 0;
                if (all)
                        return;
                assert_true(now(CLOCK_MONOTONIC) < deadline);
                assert_int_equal(event_run(e, 100 * USEC_PER_MSEC), 0);
        }
}

static const char *error_message(const json_t *reply) {
        return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

static json_t *work_echo(const char *store_dir, const void *args) {
        return image_job_reply(json_pack("{s:s, s:s}", "store", store_dir, "said", (const char *) args));
}

/* The reply is the child's, and comes through the loop, never from within the run call. */
static void test_reply_from_the_worker(void **state) {
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got = {};

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_READ, NULL, "echo", work_echo, "hello", on_done, &got, NULL), 0);
        assert_int_equal(got.calls, 0);
        run_until_done(e, &got, 1);
        assert_int_equal(got.calls, 1);
        assert_string_equal(json_string_value(json_object_get(json_object_get(got.reply, "result"), "said")), "hello");
        assert_string_equal(json_string_value(json_object_get(json_object_get(got.reply, "result"), "store")),
                            "/store");
        json_decref(got.reply);
        image_jobs_free(j);
        event_free(e);
}

static json_t *work_big(const char *store_dir, const void *args) {
        size_t n = 4U << 20;
        char *s = xmalloc(n + 1);
        json_t *r;

        memset(s, 'x', n);
        s[n] = 0;
        r = image_job_reply(json_pack("{s:s}", "big", s));
        free(s);
        return r;
}

/* A reply larger than a pipe holds (a prune of many layers): read as it comes, or the worker
 * would block on its write and never exit, and the loop wait for its exit forever. */
static void test_reply_larger_than_a_pipe(void **state) {
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got = {};

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_PRUNE, NULL, "big", work_big, NULL, on_done, &got, NULL), 0);
        run_until_done(e, &got, 1);
        const char *big = json_string_value(json_object_get(json_object_get(got.reply, "result"), "big"));
        assert_non_null(big);
        assert_int_equal(strlen(big), 4U << 20);
        json_decref(got.reply);
        image_jobs_free(j);
        event_free(e);
}

static json_t *work_count(const char *store_dir, const void *args) {
        int fd = open(args, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "x", 1) != 1)
                return NULL;
        close(fd);
        return image_job_reply(json_string("pulled"));
}

/* Two pulls of one reference: one worker, both requesters answered. */
static void test_same_key_is_one_job(void **state) {
        char path[] = "/tmp/test-image-jobs.XXXXXX";
        _cleanup_free_ char *text = NULL;
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got[3] = {};
        size_t n;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, "pull a", "a pull of a", work_count, path, on_done, &got[0], NULL),
                0);
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, "pull a", "a pull of a", work_count, path, on_done, &got[1], NULL),
                0);
        /* Another reference is another pull, beside it. */
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, "pull b", "a pull of b", work_count, path, on_done, &got[2], NULL),
                0);
        run_until_done(e, got, 3);
        for (size_t k = 0; k < 3; k++) {
                assert_int_equal(got[k].calls, 1);
                assert_string_equal(json_string_value(json_object_get(got[k].reply, "result")), "pulled");
                json_decref(got[k].reply);
        }
        assert_int_equal(read_full_file(path, 100, &text, &n), 0);
        assert_int_equal(n, 2);
        (void) unlink(path);
        image_jobs_free(j);
        event_free(e);
}

/* A prune would remove the blobs a pull is writing: while one runs, the other is refused, named. */
static void test_prune_and_pull_exclude_each_other(void **state) {
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got[4] = {};
        const char *busy = NULL;

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, "pull a", "a pull of a", work_echo, "a", on_done, &got[0], NULL), 0);
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_PRUNE, NULL, "a prune", work_echo, "p", on_done, &got[1], &busy),
                         -EBUSY);
        assert_string_equal(busy, "a pull of a");
        /* Listing runs beside anything. */
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_READ, "ls", "listing", work_echo, "ls", on_done, &got[2], NULL),
                         0);
        while (got[0].calls == 0 || got[2].calls == 0)
                assert_int_equal(event_run(e, 100 * USEC_PER_MSEC), 0);
        assert_int_equal(got[1].calls, 0);

        assert_int_equal(image_jobs_run(j, IMAGE_JOB_PRUNE, NULL, "a prune", work_echo, "p", on_done, &got[1], NULL),
                         0);
        busy = NULL;
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, "pull b", "a pull of b", work_echo, "b", on_done, &got[3], &busy),
                -EBUSY);
        assert_string_equal(busy, "a prune");
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_PRUNE, NULL, "a prune", work_echo, "p", on_done, &got[3], &busy),
                         -EBUSY);
        run_until_done(e, &got[1], 1);
        for (size_t k = 0; k < 3; k++)
                json_decref(got[k].reply);
        image_jobs_free(j);
        event_free(e);
}

static json_t *work_crash(const char *store_dir, const void *args) {
        (void) raise(SIGKILL);
        return NULL;
}

static json_t *work_nothing(const char *store_dir, const void *args) {
        return NULL;
}

/* A worker that dies or says nothing: its waiters get an error saying so, never a hang. */
static void test_a_worker_without_a_reply(void **state) {
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got[2] = {};

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_PULL, NULL, "a pull of x", work_crash, NULL, on_done, &got[0], NULL), 0);
        assert_int_equal(image_jobs_run(j, IMAGE_JOB_READ, NULL, "listing", work_nothing, NULL, on_done, &got[1], NULL),
                         0);
        run_until_done(e, got, 2);
        assert_non_null(strstr(error_message(got[0].reply), "a pull of x was killed by signal 9"));
        assert_non_null(strstr(error_message(got[1].reply), "listing exited with status 1 without a reply"));
        json_decref(got[0].reply);
        json_decref(got[1].reply);
        image_jobs_free(j);
        event_free(e);
}

_noreturn_ static json_t *work_forever(const char *store_dir, const void *args) {
        for (;;)
                pause();
}

/* A bounded number of workers; supd's exit kills those left and answers their waiters. */
static void test_bounded_and_freed(void **state) {
        Event *e = NULL;
        ImageJobs *j = NULL;
        Got got[17] = {};

        assert_int_equal(event_new(&e), 0);
        assert_int_equal(image_jobs_new(e, "/store", &j), 0);
        for (int k = 0; k < 16; k++) {
                char key[16];
                snprintf(key, sizeof(key), "inspect %d", k);
                assert_int_equal(
                        image_jobs_run(j, IMAGE_JOB_READ, key, key, work_forever, NULL, on_done, &got[k], NULL), 0);
        }
        assert_int_equal(
                image_jobs_run(j, IMAGE_JOB_READ, "one more", "one more", work_forever, NULL, on_done, &got[16], NULL),
                -EAGAIN);
        image_jobs_free(j);
        for (int k = 0; k < 16; k++) {
                assert_int_equal(got[k].calls, 1);
                assert_string_equal(error_message(got[k].reply), "supd is exiting");
                json_decref(got[k].reply);
        }
        assert_int_equal(got[16].calls, 0);
        event_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reply_from_the_worker),
                cmocka_unit_test(test_reply_larger_than_a_pipe),
                cmocka_unit_test(test_same_key_is_one_job),
                cmocka_unit_test(test_prune_and_pull_exclude_each_other),
                cmocka_unit_test(test_a_worker_without_a_reply),
                cmocka_unit_test(test_bounded_and_freed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
