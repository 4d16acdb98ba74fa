/* contract.h - the driver conformance test and the recorded-replay hook it
 * runs on, for cmocka tests of any driver.
 *
 * A test file includes <cmocka.h>, then "contract.c" (the CMake glob only
 * builds tests/unit/test-*.c, so the helper is compiled into each test that
 * includes it). Drivers whose hypervisor cannot run here (VirtualBox,
 * Hyper-V) run the contract against a replay: mk_replay_begin() installs a
 * mk_run hook that records every command line (the temp dir replaced with
 * $MACHINE) and answers from scripted rules. Drivers that can run here
 * (libvirt, qemu) run it with no replay, against the real hypervisor. */
#ifndef MK_TEST_CONTRACT_H
#define MK_TEST_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "driver.h"
#include "buf.h"

/* One scripted answer: the first rule whose match is a substring of the
 * command line (argv joined, temp dir as $MACHINE) and that has uses left
 * answers it. times 0 = any number of times. out/err starting with '@' name a
 * file under tests/fixtures/ whose content is the answer. */
struct mk_replay_rule {
    const char *match;
    int times;
    int status;
    const char *out;
    const char *err;
};

#define MK_REPLAY_MAX_RULES 96

struct mk_replay {
    struct mk_replay_rule rules[MK_REPLAY_MAX_RULES];
    int used[MK_REPLAY_MAX_RULES];
    size_t nrules;
    char *tmpdir;             /* replaced with $MACHINE in the transcript */
    struct mk_buf transcript; /* one command per line, "# step" headers */
    int unmatched;            /* commands no rule answered (answered with status 1) */
};

/* Start recording with rules (copied); tmpdir may be NULL. */
void mk_replay_begin(struct mk_replay *r, const char *tmpdir);
void mk_replay_add(struct mk_replay *r, const char *match, int times, int status, const char *out,
                   const char *err);
void mk_replay_step(struct mk_replay *r, const char *title); /* "# title" in the transcript */
void mk_replay_end(struct mk_replay *r);                     /* unhook and free */

/* Compare text with tests/fixtures/<relpath>; MKUBE_UPDATE_GOLDEN=1 rewrites it. */
void mk_golden_check(const char *relpath, const char *text);
/* Contents of tests/fixtures/<relpath> (caller frees). */
char *mk_fixture(const char *relpath);

struct mk_contract_opts {
    const char *machines_dir;           /* e.g. <tmp>/machines (created by the test) */
    const struct mk_machine_config *cfg;
    unsigned forward_guest_port;        /* NodePort to forward, e.g. 30080 */
    unsigned forward_host_port;         /* wanted host port, 0 = pick */
    struct mk_replay *replay;           /* NULL when the driver runs for real */
};

/* probe -> state Nonexistent -> create -> Stopped -> start -> Running ->
 * endpoint -> forward (twice: same port) -> machine.json keeps it -> stop ->
 * Stopped -> remove -> Nonexistent. Fails the cmocka test at the first broken
 * promise, naming the step. */
void mk_driver_contract_run(const struct mk_driver *d, const struct mk_contract_opts *o);
/* A driver with every slot NULL: each wrapper reports "not supported", none crashes. */
void mk_driver_contract_null_slots(const struct mk_driver *d, const char *machines_dir);
/* create fails midway (the replay or environment arranges it), then remove
 * succeeds and the state is Nonexistent. */
void mk_driver_contract_half_created(const struct mk_driver *d, const struct mk_contract_opts *o);

#endif
