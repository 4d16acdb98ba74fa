/* test-driver-contract.c - what every registered driver promises before any
 * hypervisor runs: a unique name the registry finds, every mandatory slot
 * filled, coherent capabilities, and wrappers that refuse (not crash) when a
 * slot is empty. The full lifecycle contract (contract.c) runs per driver in
 * test-virtualbox.c and test-hyperv.c against replays, and can run against
 * libvirt/qemu for real (see docs/drivers.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "contract.c"

static void test_registry(void **state)
{
    size_t n = 0;
    for (size_t i = 0; mk_drivers[i]; i++, n++) {
        const struct mk_driver *d = mk_drivers[i];
        assert_non_null(d->name);
        assert_non_null(d->description);
        assert_ptr_equal(mk_driver_lookup(d->name), d);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(mk_drivers[j]->name, d->name);
    }
    /* libvirt, qemu, virtualbox, hyperv - in auto-selection order */
    assert_true(n >= 4);
    assert_non_null(mk_driver_lookup("virtualbox"));
    assert_non_null(mk_driver_lookup("hyperv"));
    assert_null(mk_driver_lookup("vmware"));
}

static void test_mandatory_slots(void **state)
{
    for (size_t i = 0; mk_drivers[i]; i++) {
        const struct mk_driver *d = mk_drivers[i];
        if (!d->probe || !d->create || !d->start || !d->stop || !d->kill || !d->remove ||
            !d->state || !d->endpoint)
            fail_msg("driver %s leaves a mandatory slot empty", d->name);
        if ((d->caps & MK_DRV_CAP_RUNTIME_FORWARD) && !d->forward)
            fail_msg("driver %s claims runtime forwards without a forward slot", d->name);
        /* the guest is reached either through 127.0.0.1 forwards or at its own address */
        bool fwd = d->caps & MK_DRV_CAP_PORT_FORWARD, ip = d->caps & MK_DRV_CAP_GUEST_IP;
        if (fwd == ip)
            fail_msg("driver %s must have exactly one of PORT_FORWARD and GUEST_IP", d->name);
    }
}

static void test_null_slots_every_driver(void **state)
{
    char tmp[] = "/tmp/mk-contract-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    for (size_t i = 0; mk_drivers[i]; i++)
        mk_driver_contract_null_slots(mk_drivers[i], tmp);
    struct mk_error *err = NULL;
    mk_rm_rf(tmp, &err);
    mk_error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_mandatory_slots),
        cmocka_unit_test(test_null_slots_every_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
