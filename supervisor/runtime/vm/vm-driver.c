/* SPDX-License-Identifier: MIT */
/* The vm driver (driver.h): the workload in a virtual machine (vm.h), whose stop ladder is its
 * own. What is its own besides the Vm: the tap side of the network, and the status' vm.* fields. */
#include <signal.h>

#include "alloc.h"
#include "driver.h"
#include "macro.h"
#include "string-util.h"
#include "vm.h"

extern const IsolationDriver vm_driver;

typedef struct VmInstance {
        DriverInstance base; /* first: the instance's address is its base's */
        Vm *vm;
} VmInstance;

static VmInstance *vm_of(DriverInstance *d) {
        return (VmInstance *) d;
}

/* What status shows of the machine, while it runs. */
static void status_copy(VmInstance *v) {
        InstanceStatus *s = v->base.ctx->status;
        const VmStatus *st = vm_status(v->vm);

        s->pid = st->qemu_pid;
        s->vm.guest_pid = st->guest_pid;
        free(s->vm.accel);
        s->vm.accel = xstrdup(st->kvm ? "kvm" : "tcg");
        s->vm.memory = st->memory;
        s->vm.vcpus = st->vcpus;
        free(s->vm.stop_step);
        s->vm.stop_step = st->stop_step != VM_STOP_NONE ? xstrdup(vm_stop_step_to_string(st->stop_step)) : NULL;
}

static void on_vm_started(Vm *vm, void *userdata) {
        VmInstance *v = userdata;

        status_copy(v);
        v->base.ctx->callbacks.started(&v->base, v->base.ctx->userdata);
}

static void on_vm_changed(Vm *vm, void *userdata) {
        VmInstance *v = userdata;

        status_copy(v);
        v->base.ctx->callbacks.changed(&v->base, v->base.ctx->userdata);
}

static void on_vm_exited(Vm *vm, const VmExit *ex, void *userdata) {
        VmInstance *v = userdata;
        const DriverContext *ctx = v->base.ctx;
        InstanceStatus *s = ctx->status;
        DriverExit e = {
                .code = ex->code,
                .signal = ex->signal,
                /* The guest kernel's OOM killer: the cgroup (QEMU's) does not see it. */
                .oom = ex->oom,
                .setup_failed = !ex->started,
                .reason = ex->reason,
        };

        free(s->vm.end);
        s->vm.end = xstrdup(vm_end_to_string(ex->end));
        s->pid = 0;
        s->vm.guest_pid = 0;
        free(s->vm.stop_step);
        s->vm.stop_step = NULL;
        /* Last: the monitor may free the instance in it. */
        ctx->callbacks.exited(&v->base, &e, ctx->userdata);
}

/* The tap first (network: bridge), then what the machine needs; nothing runs yet. */
static int vm_driver_prepare(const DriverContext *ctx, DriverInstance **ret, SupError **ret_error) {
        VmInstance *v = xzalloc(sizeof(VmInstance));
        VmConfig cfg = {
                .spec = ctx->run_spec,
                .image = ctx->image,
                .dir = ctx->dir,
                .state_dir = ctx->state_dir,
                .sandbox_dir = ctx->sandbox,
                .guest_dir = ctx->options->guest_dir,
                .host_accel = ctx->options->vm_accel,
                .debug = ctx->options->vm_debug,
                .cgroup = ctx->cgroup,
                .seccomp = ctx->seccomp,
                .rlimits = ctx->rlimits,
                .log = ctx->log,
                .callbacks = {.started = on_vm_started, .changed = on_vm_changed, .exited = on_vm_exited},
                .userdata = v,
        };
        int r;

        v->base = (DriverInstance){.driver = &vm_driver, .ctx = ctx};
        cfg.net_fd = -EBADF;
        if (ctx->net) {
                DriverTap tap;

                r = ctx->net->attach_tap(ctx->net->userdata, &tap, ret_error);
                if (r < 0) {
                        free(v);
                        return r;
                }
                cfg.net_fd = tap.fd;
                memcpy(cfg.mac, tap.mac, sizeof(cfg.mac));
                cfg.address = tap.address;
                cfg.prefix = tap.prefix;
                cfg.gateway = tap.gateway;
                cfg.address6 = tap.address6;
                cfg.prefix6 = tap.prefix6;
                cfg.gateway6 = tap.gateway6;
        }
        /* The tap's fd is the Vm's from here on (QEMU's once it runs: the tap lives as long as
         * QEMU), also when this fails. */
        r = vm_prepare(ctx->event, &cfg, &v->vm, ret_error);
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = &v->base;
        return 0;
}

static int vm_driver_start(DriverInstance *d, SupError **ret_error) {
        VmInstance *v = vm_of(d);
        const DriverContext *ctx = d->ctx;
        int r;

        r = vm_launch(v->vm, ret_error);
        if (r < 0)
                return r;
        free(ctx->status->vm.end);
        ctx->status->vm.end = NULL;
        status_copy(v);
        /* Once QEMU runs: whether its cgroup gets a CPU quota depends on the accelerator
         * vm_prepare() chose. The guest's command is seconds away still. Nothing here fails a
         * hyperv start (resources.h says why). */
        (void) driver_apply_resources(ctx, ctx->spec, vm_status(v->vm)->kvm ? RESOURCES_QEMU_KVM : RESOURCES_QEMU_TCG,
                                      NULL);
        return 0;
}

static void vm_driver_stop(DriverInstance *d) {
        vm_stop(vm_of(d)->vm);
}

static void vm_driver_kill(DriverInstance *d) {
        vm_kill(vm_of(d)->vm);
}

/* Nothing outlives QEMU but its cgroup, which is the monitor's. */
static bool vm_driver_cleanup(DriverInstance *d) {
        return true;
}

static DriverInstance *vm_driver_free(DriverInstance *d) {
        VmInstance *v;

        if (!d)
                return NULL;
        v = vm_of(d);
        vm_free(v->vm);
        free(v);
        return NULL;
}

static int vm_driver_update(DriverInstance *d, const UnitSpec *new, SupError **ret_error) {
        VmInstance *v = vm_of(d);

        return driver_apply_resources(d->ctx, new, vm_status(v->vm)->kvm ? RESOURCES_QEMU_KVM : RESOURCES_QEMU_TCG,
                                      ret_error);
}

/* The number of vCPUs a unit gets for cpus (vm-qemu.h's rule, before the host's CPUs cap it:
 * equal here means equal there). */
static uint32_t vcpus_for(uint32_t cpus_milli) {
        return cpus_milli == 0 ? 1 : (cpus_milli + 999) / 1000;
}

/* io_weight is a cgroup write, and cpus a CPU quota on QEMU while the number of vCPUs stays; guest
 * RAM and vCPUs are the machine's, and pids the guest's own cgroup's (guest-cgroup.h), all fixed
 * at its start. */
static bool vm_driver_is_live(const UnitSpec *old, const UnitSpec *new, const char *field) {
        if (streq(field, "resources.io_weight"))
                return true;
        if (streq(field, "resources.cpus"))
                return vcpus_for(old->resources.cpus_milli) == vcpus_for(new->resources.cpus_milli);
        return false;
}

typedef struct VmPs {
        DriverPsCallback callback;
        void *userdata;
} VmPs;

static void on_guest_ps(Vm *vm, int error, json_t *processes, void *userdata) {
        VmPs *ps = userdata;
        _cleanup_free_ char *message = NULL;

        if (error < 0)
                message = xasprintf("the guest did not answer (%s)", strerror(-error));
        ps->callback(error, message, processes, ps->userdata);
        free(ps);
}

/* The guest's processes, with guest PIDs, from sup-init: the answer comes later. */
static int vm_driver_ps(DriverInstance *d, DriverPsCallback callback, void *userdata) {
        VmPs *ps = xzalloc(sizeof(VmPs));
        int r;

        *ps = (VmPs){.callback = callback, .userdata = userdata};
        r = vm_ps(vm_of(d)->vm, on_guest_ps, ps);
        if (r < 0)
                free(ps);
        return r;
}

static int vm_driver_signal(DriverInstance *d, int sig, SupError **ret_error) {
        VmInstance *v = vm_of(d);

        if (!v->vm)
                return sup_error_make(ret_error, -ENOTCONN, "the virtual machine is not running");
        return vm_signal(v->vm, sig, ret_error);
}

/* Through sup-init in the guest (vm_exec()). This driver's DriverExec is vm-exec.h's VmExec. */
static int vm_driver_exec(DriverInstance *d, const ExecRequest *req, const ExecCallbacks *cb, void *userdata,
                          DriverExec **ret, SupError **ret_error) {
        VmInstance *v = vm_of(d);
        VmExec *x;
        int r;

        if (!v->vm)
                return sup_error_make(ret_error, -ENOTCONN, "the virtual machine is not running");
        r = vm_exec(v->vm, req, cb, userdata, &x, ret_error);
        if (r < 0)
                return r;
        *ret = (DriverExec *) x;
        return 0;
}

static DriverExec *vm_driver_exec_cancel(DriverExec *x) {
        return (DriverExec *) vm_exec_cancel((VmExec *) x);
}

static int vm_driver_exec_resize(DriverExec *x, unsigned short rows, unsigned short cols) {
        return vm_exec_resize((VmExec *) x, rows, cols);
}

const IsolationDriver vm_driver = {
        .name = "vm",
        .pid_namespace = "guest",
        .usage_of = "qemu",
        .stop_ladder = true,
        .layer_disks = true,
        .prepare = vm_driver_prepare,
        .start = vm_driver_start,
        .stop = vm_driver_stop,
        .kill = vm_driver_kill,
        .cleanup = vm_driver_cleanup,
        .free = vm_driver_free,
        .update = vm_driver_update,
        .is_live = vm_driver_is_live,
        .ps = vm_driver_ps,
        .signal = vm_driver_signal,
        .exec = vm_driver_exec,
        .exec_cancel = vm_driver_exec_cancel,
        .exec_resize = vm_driver_exec_resize,
        .leave = vm_builders_end,
};
