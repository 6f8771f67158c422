/* SPDX-License-Identifier: MIT */
#include "image-jobs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "macro.h"
#include "process-util.h"
#include "socket-util.h"
#include "string-util.h"

/* A reply larger than this is a broken child, not a store: a prune of a million layers lists
 * about 100 MiB; the control socket would not send more than JSON_FRAME_MAX_REPLY anyway. */
#define IMAGE_JOB_MAX_REPLY (256U * 1024U * 1024U)
/* Workers at once: a member of the socket's group may ask to inspect many names; each is a fork. */
#define IMAGE_JOBS_MAX 16U

typedef struct Waiter {
        ImageJobDone done;
        void *userdata;
        struct Waiter *next;
} Waiter;

typedef struct Job {
        ImageJobs *jobs;
        ImageJobKind kind;
        char *key, *description;
        pid_t pid;
        int pidfd, out_fd;
        EventSource *pidfd_source, *out_source;
        int wait_status; /* once exited */
        bool exited;
        char *buf;
        size_t used, size;
        bool overflow;
        Waiter *waiters;
        struct Job *next;
} Job;

struct ImageJobs {
        Event *event;
        char *store_dir;
        Job *jobs;
        Events *events;
};

json_t *image_job_reply(json_t *result) {
        return json_pack("{s:o}", "result", result ?: json_null());
}

json_t *image_job_error(const char *code, const char *message) {
        return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

int image_jobs_new(Event *e, const char *store_dir, ImageJobs **ret) {
        ImageJobs *j = xzalloc(sizeof(ImageJobs));
        j->event = e;
        j->store_dir = xstrdup(store_dir);
        *ret = j;
        return 0;
}

void image_jobs_set_events(ImageJobs *j, Events *ev) {
        j->events = ev;
}

static void job_unlink(Job *job) {
        for (Job **p = &job->jobs->jobs; *p; p = &(*p)->next)
                if (*p == job) {
                        *p = job->next;
                        break;
                }
}

static void job_free(Job *job) {
        event_source_free(job->pidfd_source);
        event_source_free(job->out_source);
        if (job->pidfd >= 0)
                close(job->pidfd);
        if (job->out_fd >= 0)
                close(job->out_fd);
        while (job->waiters) {
                Waiter *w = job->waiters;
                job->waiters = w->next;
                free(w);
        }
        free(job->buf);
        free(job->key);
        free(job->description);
        free(job);
}

/* Every waiter gets the reply; the job is gone afterwards. */
static void job_finish(Job *job, const json_t *reply) {
        job_unlink(job);
        if (job->kind == IMAGE_JOB_PULL)
                events_emit_image_pull(job->jobs->events, job->key, reply);
        for (Waiter *w = job->waiters; w; w = w->next)
                w->done(reply, w->userdata);
        job_free(job);
}

/* Both over (the pipe at its end, the child reaped): the child's reply, or why there is none. */
static void job_maybe_done(Job *job) {
        _cleanup_free_ char *why = NULL;
        json_t *reply = NULL;

        if (!job->exited || job->out_fd >= 0)
                return;
        if (!job->overflow && job->used > 0)
                reply = json_loadb(job->buf, job->used, 0, NULL);
        if (!json_is_object(reply) || (!json_object_get(reply, "result") && !json_object_get(reply, "error"))) {
                json_decref(reply);
                if (WIFSIGNALED(job->wait_status))
                        why = xasprintf("the worker process of %s was killed by signal %d", job->description,
                                        WTERMSIG(job->wait_status));
                else
                        why = xasprintf("the worker process of %s exited with status %d without a reply%s",
                                        job->description, WEXITSTATUS(job->wait_status),
                                        job->overflow ? " (its output was too large)" : "");
                log_warning("%s", why);
                reply = image_job_error("failed", why);
        }
        job_finish(job, reply);
        json_decref(reply);
}

static void on_job_output(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Job *job = userdata;

        for (;;) {
                ssize_t n;

                if (job->size - job->used < 4096) {
                        job->size = MAX(job->size * 2, (size_t) 65536);
                        job->buf = xrealloc(job->buf, job->size);
                }
                n = read(fd, job->buf + job->used, job->size - job->used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0)
                        break;
                /* Read on to the end, keeping nothing: the child must not block on a full pipe. */
                if (job->used + (size_t) n > IMAGE_JOB_MAX_REPLY) {
                        job->overflow = true;
                        job->used = 0;
                        continue;
                }
                job->used += (size_t) n;
        }
        job->out_source = event_source_free(job->out_source);
        close(job->out_fd);
        job->out_fd = -EBADF;
        job_maybe_done(job);
}

static void on_job_exit(EventSource *s, int fd, uint32_t revents, void *userdata) {
        Job *job = userdata;
        int status = 0;

        if (waitpid(job->pid, &status, WNOHANG) <= 0)
                return;
        job->wait_status = status;
        job->exited = true;
        job->pidfd_source = event_source_free(job->pidfd_source);
        job_maybe_done(job);
}

/* The child: what the store says, as one JSON object on fd 3. */
_noreturn_ static void job_child(const char *store_dir, int out_fd, pid_t parent, ImageJobWork work, const void *args) {
        sigset_t none;
        json_t *reply;

        /* supd blocks the signals its signalfd takes: unblocked, so that a TERM ends the worker
         * (and what it runs inherits no blocked mask). Its reply has nobody to go to once supd is
         * gone. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(1);
        /* Nothing of supd's but the pipe: not its lock on the run directory (a supd started while
         * a pull runs must get it), nor its sockets. */
        if (dup2(out_fd, 3) < 0)
                _exit(1);
        (void) close_range(4, ~0U, 0);
        reply = work(store_dir, args);
        if (!reply || json_dumpfd(reply, 3, JSON_COMPACT) < 0)
                _exit(1);
        _exit(0);
}

static const Job *job_excluding(const ImageJobs *j, ImageJobKind kind) {
        for (const Job *job = j->jobs; job; job = job->next)
                if ((kind == IMAGE_JOB_PRUNE && job->kind != IMAGE_JOB_READ) ||
                    (kind == IMAGE_JOB_PULL && job->kind == IMAGE_JOB_PRUNE))
                        return job;
        return NULL;
}

static void job_add_waiter(Job *job, ImageJobDone done, void *userdata) {
        Waiter *w = xzalloc(sizeof(Waiter)), **p = &job->waiters;

        while (*p)
                p = &(*p)->next;
        *w = (Waiter){.done = done, .userdata = userdata};
        *p = w;
}

int image_jobs_run(ImageJobs *j, ImageJobKind kind, const char *key, const char *description, ImageJobWork work,
                   const void *args, ImageJobDone done, void *userdata, const char **ret_busy) {
        const Job *busy;
        Job *job;
        int out[2], r;
        unsigned n;
        pid_t parent = getpid();

        if (key)
                for (job = j->jobs; job; job = job->next)
                        if (job->key && streq(job->key, key)) {
                                job_add_waiter(job, done, userdata);
                                return 0;
                        }
        n = 0;
        for (job = j->jobs; job; job = job->next)
                n++;
        if (n >= IMAGE_JOBS_MAX)
                return -EAGAIN;
        busy = job_excluding(j, kind);
        if (busy) {
                if (ret_busy)
                        *ret_busy = busy->description;
                return -EBUSY;
        }

        if (pipe2(out, O_CLOEXEC) < 0)
                return negative_errno();
        job = xzalloc(sizeof(Job));
        *job = (Job){.jobs = j, .kind = kind, .pidfd = -EBADF, .out_fd = -EBADF};
        job->pid = fork();
        if (job->pid < 0) {
                r = negative_errno();
                close(out[0]);
                close(out[1]);
                free(job);
                return r;
        }
        if (job->pid == 0)
                job_child(j->store_dir, out[1], parent, work, args);
        close(out[1]);
        job->out_fd = out[0];
        job->key = key ? xstrdup(key) : NULL;
        job->description = xstrdup(description);
        job_add_waiter(job, done, userdata);
        job->next = j->jobs;
        j->jobs = job;

        /* The pidfd pins the child: it cannot be reaped or its pid reused but by us. */
        job->pidfd = pidfd_open(job->pid, 0);
        r = job->pidfd < 0 ? negative_errno() : fd_set_nonblock(job->out_fd, 1);
        if (r >= 0)
                r = event_add_io(j->event, &job->out_source, job->out_fd, EPOLLIN, on_job_output, job);
        if (r >= 0)
                r = event_add_io(j->event, &job->pidfd_source, job->pidfd, EPOLLIN, on_job_exit, job);
        if (r < 0) {
                (void) kill(job->pid, SIGKILL);
                (void) waitpid(job->pid, NULL, 0);
                job_unlink(job);
                job_free(job);
                return r;
        }
        log_debug("image store: %s (worker %d)", description, (int) job->pid);
        return 0;
}

ImageJobs *image_jobs_free(ImageJobs *j) {
        json_t *reply;

        if (!j)
                return NULL;
        reply = image_job_error("failed", "supd is exiting");
        while (j->jobs) {
                Job *job = j->jobs;
                (void) kill(job->pid, SIGTERM);
                (void) waitpid(job->pid, NULL, 0);
                job_finish(job, reply);
        }
        json_decref(reply);
        free(j->store_dir);
        free(j);
        return NULL;
}
