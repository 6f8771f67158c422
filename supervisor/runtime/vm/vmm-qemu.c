/* SPDX-License-Identifier: MIT */
/* QEMU as the Vmm (vmm.h): found and probed by vm-host.c, its command line from vm-qemu.c, its
 * control channel QMP (qmp.c). */
#include "alloc.h"
#include "macro.h"
#include "path-util.h"
#include "qmp.h"
#include "string-util.h"
#include "vm-host.h"
#include "vm-qemu.h"
#include "vmm.h"

/* A QMP command is answered at once unless QEMU is stuck; the ladder's timers cover the rest. */
#define QMP_COMMAND_TIMEOUT (5 * USEC_PER_SEC)

struct VmmHost {
        VmHost host;
};

struct VmmControl {
        Qmp *qmp;
        VmmCallbacks callbacks;
        void *userdata;
};

static VmmHost *qemu_host_free(VmmHost *h) {
        if (!h)
                return NULL;
        vm_host_done(&h->host);
        free(h);
        return NULL;
}

static int qemu_host_open(const VmmHostRequest *req, VmmHost **ret, bool *ret_kvm, SupError **ret_error) {
        _cleanup_free_ char *cache = path_join(req->state_dir, "vm/host.json"), *why = NULL;
        VmmHost *h = xzalloc(sizeof(VmmHost));
        bool kvm = false;
        int r;

        h->host.kvm = -1;
        r = vm_host_detect(cache, req->kernel, &h->host, ret_error);
        if (r < 0) {
                qemu_host_free(h);
                return r;
        }
        if (vm_accel_choose(req->unit_accel, req->host_accel, &h->host, &kvm, &why) == VM_ACCEL_CHOICE_NEEDS_PROBE) {
                log_writer_printf(req->log, "sup",
                                  "finding out whether KVM works on this host (once: the verdict is kept in %s)",
                                  cache);
                (void) vm_host_probe_kvm(&h->host, cache, req->kernel);
                free(why);
                why = NULL;
                (void) vm_accel_choose(req->unit_accel, req->host_accel, &h->host, &kvm, &why);
        }
        log_writer_printf(req->log, "sup", "accelerator: %s (%s)", kvm ? "kvm" : "tcg", why);
        *ret = h;
        *ret_kvm = kvm;
        return 0;
}

static int qemu_command_line(const VmmHost *h, const VmLaunch *l, char ***ret, SupError **ret_error) {
        _cleanup_strv_free_ char **args = NULL;
        char **argv = NULL;
        VmLaunch q = *l;
        int r;

        q.tsc_khz = h->host.tsc_khz;
        q.sandbox = h->host.sandbox;
        r = vm_qemu_args(&q, &args);
        if (r >= 0)
                vm_qemu_incoming_args(&q, &args);
        if (r == -E2BIG)
                return sup_error_make(ret_error, r,
                                      "image.layers and mounts: %zu layers and %zu host directories, and vm.machine: "
                                      "microvm has room for %u disks of layers and directories (use vm.machine: q35)",
                                      l->n_layers, l->n_shares, VM_MICROVM_MAX_LAYERS);
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot make QEMU's command line");
        strv_push(&argv, xstrdup(h->host.qemu));
        STRV_FOREACH(a, args)
                strv_push(&argv, xstrdup(*a));
        *ret = argv;
        return 0;
}

static void on_qmp_event(Qmp *q, const QmpEvent *ev, void *userdata) {
        VmmControl *c = userdata;

        switch (ev->type) {
        case QMP_EVENT_GUEST_PANICKED:
                c->callbacks.panicked(c->userdata);
                break;
        case QMP_EVENT_SHUTDOWN:
                c->callbacks.shutdown(ev->shutdown.reason, c->userdata);
                break;
        case QMP_EVENT_POWERDOWN:
        case QMP_EVENT_RESET:
        case QMP_EVENT_STOP:
        case QMP_EVENT_RESUME:
        case QMP_EVENT_OTHER:
        case _QMP_EVENT_TYPE_MAX:
        case _QMP_EVENT_TYPE_INVALID:
                break;
        }
}

static void on_qmp_closed(Qmp *q, int error, const char *reason, void *userdata) {
        VmmControl *c = userdata;
        _cleanup_free_ char *s = NULL;

        if (error == 0)
                return;
        s = xasprintf("QMP: %s", reason ? reason : strerror(-error));
        c->callbacks.error(s, c->userdata);
}

static void on_qmp_reply(Qmp *q, int error, json_t *result, const char *error_class, const char *error_desc,
                         void *userdata) {
        VmmControl *c = userdata;
        _cleanup_free_ char *s = NULL;

        if (error >= 0 || error == -ECONNRESET || error == -ECANCELED)
                return;
        s = xasprintf("QMP: %s", error_desc ? error_desc : strerror(-error));
        c->callbacks.error(s, c->userdata);
}

static VmmControl *qemu_control_free(VmmControl *c) {
        if (!c)
                return NULL;
        qmp_free(c->qmp);
        free(c);
        return NULL;
}

static int qemu_control_open(Event *e, const char *path, usec_t timeout, const VmmCallbacks *cb, void *userdata,
                             VmmControl **ret) {
        VmmControl *c = xzalloc(sizeof(VmmControl));
        int r;

        c->callbacks = *cb;
        c->userdata = userdata;
        r = qmp_new(e, &(QmpCallbacks){.event = on_qmp_event, .closed = on_qmp_closed}, c, &c->qmp);
        if (r >= 0)
                r = qmp_connect(c->qmp, path, timeout);
        if (r < 0) {
                qemu_control_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

static bool qemu_control_ready(const VmmControl *c) {
        return c && qmp_is_ready(c->qmp);
}

static void qemu_powerdown(VmmControl *c) {
        (void) qmp_command(c->qmp, "system_powerdown", NULL, QMP_COMMAND_TIMEOUT, on_qmp_reply, c);
}

static void qemu_quit(VmmControl *c) {
        (void) qmp_command(c->qmp, "quit", NULL, QMP_COMMAND_TIMEOUT, on_qmp_reply, c);
}

const Vmm vmm_qemu = {
        .name = "qemu",
        .control_socket = "qmp.sock",
        .powerdown_how = "QMP system_powerdown",
        .quit_how = "QMP quit",
        .host_open = qemu_host_open,
        .host_free = qemu_host_free,
        .command_line = qemu_command_line,
        .control_open = qemu_control_open,
        .control_ready = qemu_control_ready,
        .powerdown = qemu_powerdown,
        .quit = qemu_quit,
        .control_free = qemu_control_free,
};
