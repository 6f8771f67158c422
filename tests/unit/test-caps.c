/* SPDX-License-Identifier: MIT */
#include "test-helpers.h"

#include "caps.h"

/* The kernels of these machines and of the hyperv guests: CAP_CHECKPOINT_RESTORE (40) is the last. */
#define LAST 40

static UnitSpec *spec(const char *security) {
        UnitSpec *u = NULL;
        Diagnostics d = {};
        char yaml[512];

        snprintf(yaml, sizeof(yaml), MINIMAL_UNIT "%s\n", security);
        if (parse_text("u.yaml", yaml, &d, &u) < 0) {
                diagnostics_print(&d, stderr);
                fail();
        }
        diagnostics_done(&d);
        return u;
}

static CapSets sets(const char *security, bool root) {
        _cleanup_(unit_spec_freep) UnitSpec *u = spec(security);
        CapSets s;
        unsigned unsupported = 0;

        assert_int_equal(caps_for_unit(u, root, LAST, &s, &unsupported), 0);
        return s;
}

#define NOTHING ""

static void test_default_is_the_documented_list(void **state) {
        static const unsigned listed[] = { CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_FSETID,
                                           CAP_KILL,   CAP_SETGID,       CAP_SETUID,           CAP_SETPCAP,
                                           CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_SETFCAP };
        static const unsigned never[] = { CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_NET_RAW, CAP_SYS_RAWIO,
                                          CAP_MKNOD,     CAP_AUDIT_WRITE, CAP_NET_ADMIN, CAP_DAC_READ_SEARCH,
                                          CAP_SYS_BOOT,  CAP_BPF,        CAP_PERFMON,    CAP_SYS_TIME };
        uint64_t want = 0;
        CapSets s = sets(NOTHING, true);

        for (size_t i = 0; i < ELEMENTSOF(listed); i++)
                want |= CAP_BIT(listed[i]);
        assert_int_equal(CAPS_DEFAULT, want);
        /* What /proc/self/status shows as CapBnd and CapEff, and docs/security.md quotes. */
        assert_int_equal(CAPS_DEFAULT, 0x00000000800405fbULL);
        for (size_t i = 0; i < ELEMENTSOF(never); i++)
                assert_false(CAPS_DEFAULT & CAP_BIT(never[i]));
        assert_int_equal(s.bounding, CAPS_DEFAULT);
        assert_int_equal(s.effective, CAPS_DEFAULT);
        assert_int_equal(s.permitted, CAPS_DEFAULT);
        assert_int_equal(s.inheritable, 0);
        assert_int_equal(s.ambient, 0);
}

static void test_drop_all(void **state) {
        CapSets s = sets("security: {capabilities: {drop: [ALL]}}", true);
        assert_int_equal(s.bounding | s.effective | s.permitted | s.inheritable | s.ambient, 0);
}

static void test_drop_all_add_one(void **state) {
        CapSets s = sets("security: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}", true);
        assert_int_equal(s.bounding, CAP_BIT(CAP_NET_BIND_SERVICE));
        assert_int_equal(s.effective, CAP_BIT(CAP_NET_BIND_SERVICE));
        assert_int_equal(s.permitted, CAP_BIT(CAP_NET_BIND_SERVICE));
        assert_int_equal(s.inheritable | s.ambient, 0);
}

static void test_add_and_drop_are_relative_to_the_default(void **state) {
        CapSets s = sets("security: {capabilities: {add: [SYS_PTRACE, cap_net_raw], drop: [CHOWN, KILL]}}", true);
        uint64_t want = (CAPS_DEFAULT | CAP_BIT(CAP_SYS_PTRACE) | CAP_BIT(CAP_NET_RAW)) & ~CAP_BIT(CAP_CHOWN) &
                        ~CAP_BIT(CAP_KILL);
        assert_int_equal(s.bounding, want);
        assert_int_equal(s.effective, want);
        /* Adding what the default has, or dropping what it lacks, changes nothing. */
        s = sets("security: {capabilities: {add: [CHOWN], drop: [SYS_ADMIN]}}", true);
        assert_int_equal(s.bounding, CAPS_DEFAULT);
}

static void test_add_all(void **state) {
        CapSets s = sets("security: {capabilities: {add: [ALL]}}", true);
        assert_int_equal(s.bounding, caps_all(LAST));
        assert_int_equal(s.bounding, 0x1ffffffffffULL);
        s = sets("security: {capabilities: {add: [ALL], drop: [SYS_ADMIN]}}", true);
        assert_int_equal(s.bounding, caps_all(LAST) & ~CAP_BIT(CAP_SYS_ADMIN));
        assert_int_equal(s.inheritable | s.ambient, 0);
}

/* What the kernel has at most: ALL means this kernel's all, and an older kernel bounds the set. */
static void test_last_cap_bounds_the_sets(void **state) {
        _cleanup_(unit_spec_freep) UnitSpec *all = spec("security: {capabilities: {add: [ALL]}}");
        _cleanup_(unit_spec_freep) UnitSpec *bpf = spec("security: {capabilities: {add: [BPF]}}");
        unsigned unsupported = 0;
        CapSets s;

        assert_int_equal(caps_for_unit(all, true, CAP_AUDIT_READ, &s, &unsupported), 0);
        assert_int_equal(s.bounding, CAP_BIT(CAP_AUDIT_READ + 1) - 1);
        assert_int_equal(caps_all(63), UINT64_MAX);
        assert_int_equal(caps_all(0), 1);
        /* A capability the unit names that the kernel lacks is an error, not silently left out. */
        assert_int_equal(caps_for_unit(bpf, true, CAP_AUDIT_READ, &s, &unsupported), -EOPNOTSUPP);
        assert_int_equal(unsupported, CAP_BPF);
        assert_int_equal(caps_for_unit(bpf, true, LAST, &s, &unsupported), 0);
        assert_true(s.bounding & CAP_BIT(CAP_BPF));
}

/* A non-root workload keeps the bounding set (what a setuid-root or file-capability binary could
 * get, with no_new_privileges off) and holds nothing: its sets would be empty after execve() of
 * an ordinary file anyway, and inheritable capabilities would let it gain some from files. */
static void test_non_root_holds_nothing(void **state) {
        static const char *const units[] = { NOTHING, "security: {capabilities: {add: [ALL]}}",
                                             "security: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}" };
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                CapSets root = sets(units[i], true), user = sets(units[i], false);
                assert_int_equal(user.bounding, root.bounding);
                assert_int_equal(user.effective | user.permitted | user.inheritable | user.ambient, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_is_the_documented_list),
                cmocka_unit_test(test_drop_all),
                cmocka_unit_test(test_drop_all_add_one),
                cmocka_unit_test(test_add_and_drop_are_relative_to_the_default),
                cmocka_unit_test(test_add_all),
                cmocka_unit_test(test_last_cap_bounds_the_sets),
                cmocka_unit_test(test_non_root_holds_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
