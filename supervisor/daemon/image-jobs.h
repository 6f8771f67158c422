/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "event.h"
#include "events.h"

/* supd's work on the image store (image-store.h), off its event loop. A pull takes as long as the
 * registry does, a prune as long as removing a tree of files does, and any of them may wait on
 * the store's lock while a monitor unpacks: none of that may hold up status, reloads or the
 * monitors' messages. So each piece of work is a child process (forked: it has the request in
 * its memory) that calls the store's function and writes one JSON object to a pipe, the reply
 * the control socket sends: {"result": ...} or {"error": {"code", "message"}}. The loop reads
 * the pipe as it fills (a prune's list may be larger than a pipe holds) and watches the child's
 * exit with a pidfd; when both are over, the waiters get the reply.
 *
 * Jobs with the same key are one job: a second `supctl image pull REF` while REF is being pulled
 * waits for the running pull and gets its reply. A prune and a pull never run at once (a prune
 * would remove the blobs a pull is writing): the second is refused, -EBUSY, with the running
 * job's description for the message. Listing and inspecting run beside anything. */

typedef struct ImageJobs ImageJobs;

typedef enum ImageJobKind {
        IMAGE_JOB_READ,  /* ls, inspect, forget: beside anything */
        IMAGE_JOB_PULL,  /* beside other pulls, never beside a prune */
        IMAGE_JOB_PRUNE, /* alone */
} ImageJobKind;

/* Runs in the child: returns the reply object (a new reference). */
typedef json_t *(*ImageJobWork)(const char *store_dir, const void *args);
/* On the loop, once per waiter: reply is borrowed. */
typedef void (*ImageJobDone)(const json_t *reply, void *userdata);

int image_jobs_new(Event *e, const char *store_dir, ImageJobs **ret);
/* Kills the children still running and reaps them; their waiters get an error reply. */
ImageJobs *image_jobs_free(ImageJobs *j);

/* Starts work(store_dir, args) in a child, or joins the running job with the same key (key
 * NULL: never joined). done(reply, userdata) is called later, never from within this call.
 * -EBUSY: a job of a kind that excludes this one runs; *ret_busy (if given) says which
 * ("a pull of REF"), valid until the loop runs again. -EAGAIN: too many jobs run already. */
int image_jobs_run(ImageJobs *j, ImageJobKind kind, const char *key, const char *description, ImageJobWork work,
                   const void *args, ImageJobDone done, void *userdata, const char **ret_busy);

/* A finished pull (IMAGE_JOB_PULL) goes to ev's stream too, once whatever its waiters (ev NULL:
 * none). A pull's key starts with "pull REFERENCE ". */
void image_jobs_set_events(ImageJobs *j, Events *ev);

/* The reply objects a work function builds. */
json_t *image_job_reply(json_t *result);
json_t *image_job_error(const char *code, const char *message);
