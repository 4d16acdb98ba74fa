/* contract.c - the driver conformance test and the replay hook (see
 * contract.h). Included by test files after <cmocka.h>. */
#include "contract.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "run.h"

static char *fixture_path(const char *relpath)
{
    const char *src = getenv("MKUBE_SOURCE_DIR");
    return xasprintf("%s/tests/fixtures/%s", src && *src ? src : MKUBE_SOURCE_DIR, relpath);
}

char *mk_fixture(const char *relpath)
{
    mk_autofree char *path = fixture_path(relpath);
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *err = NULL;
    if (mk_read_file(path, &b, 0, NULL, &err) < 0)
        fail_msg("cannot read fixture %s: %s", path, err->msg);
    return mk_buf_detach(&b);
}

void mk_golden_check(const char *relpath, const char *text)
{
    mk_autofree char *path = fixture_path(relpath);
    if (getenv("MKUBE_UPDATE_GOLDEN")) {
        struct mk_error *err = NULL;
        if (mk_write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
            fail_msg("cannot write %s: %s", path, err->msg);
        return;
    }
    struct mk_buf b = MK_BUF_INIT;
    struct mk_error *err = NULL;
    if (mk_read_file(path, &b, 0, NULL, &err) < 0)
        fail_msg("cannot read golden %s (MKUBE_UPDATE_GOLDEN=1 writes it): %s", path, err->msg);
    if (strcmp(mk_buf_str(&b), text) != 0) {
        /* show the first differing line */
        const char *a = mk_buf_str(&b), *t = text;
        int line = 1;
        while (*a && *a == *t) {
            if (*a == '\n')
                line++;
            a++, t++;
        }
        fprintf(stderr, "--- got:\n%s--- end\n", text);
        fail_msg("%s differs from the golden file at line %d (MKUBE_UPDATE_GOLDEN=1 rewrites "
                 "it deliberately)",
                 path, line);
    }
    mk_buf_release(&b);
}

/* ---- replay ---- */

static char *replace_all(const char *s, const char *from, const char *to)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    size_t n = from ? strlen(from) : 0;
    while (*s) {
        if (n && strncmp(s, from, n) == 0) {
            mk_buf_adds(&b, to);
            s += n;
        } else {
            mk_buf_add(&b, s, 1);
            s++;
        }
    }
    return mk_buf_detach(&b);
}

static void answer(struct mk_buf *dst, const char *spec)
{
    if (!spec)
        return;
    if (spec[0] == '@') {
        mk_autofree char *text = mk_fixture(spec + 1);
        mk_buf_adds(dst, text);
    } else {
        mk_buf_adds(dst, spec);
    }
}

/* argv as one line; an argument holding quotes or newlines (a PowerShell
 * script) is shown verbatim below it, between <<'SCRIPT' and SCRIPT. */
static char *transcript_line(const char *const *argv)
{
    struct mk_buf head = MK_BUF_INIT, body = MK_BUF_INIT;
    mk_buf_init(&head);
    mk_buf_init(&body);
    for (size_t i = 0; argv[i]; i++) {
        const char *one[] = {argv[i], NULL};
        if (strpbrk(argv[i], "'\n")) {
            mk_buf_addf(&head, "%s<<'SCRIPT'", i ? " " : "");
            mk_buf_addf(&body, "\n%s\nSCRIPT", argv[i]);
        } else {
            mk_autofree char *q = mk_run_argv_string(one);
            mk_buf_addf(&head, "%s%s", i ? " " : "", q);
        }
    }
    mk_buf_adds(&head, mk_buf_str(&body));
    mk_buf_release(&body);
    return mk_buf_detach(&head);
}

static int replay_hook(const char *const *argv, const struct mk_run_opts *opts,
                       struct mk_run_result *res, void *data)
{
    (void)opts;
    struct mk_replay *r = data;
    mk_autofree char *raw = transcript_line(argv);
    mk_autofree char *line = replace_all(raw, r->tmpdir, "$MACHINE");
    mk_buf_addf(&r->transcript, "%s\n", line);
    for (size_t i = 0; i < r->nrules; i++) {
        struct mk_replay_rule *rule = &r->rules[i];
        if (rule->times && r->used[i] >= rule->times)
            continue;
        if (!strstr(line, rule->match))
            continue;
        r->used[i]++;
        res->status = rule->status;
        answer(&res->out, rule->out);
        answer(&res->err, rule->err);
        return 0;
    }
    r->unmatched++;
    mk_buf_adds(&r->transcript, "!! no recorded answer for the command above\n");
    res->status = 1;
    mk_buf_adds(&res->err, "replay: no recorded answer\n");
    return 0;
}

void mk_replay_begin(struct mk_replay *r, const char *tmpdir)
{
    memset(r, 0, sizeof(*r));
    mk_buf_init(&r->transcript);
    if (tmpdir) {
        char *real = realpath(tmpdir, NULL);
        r->tmpdir = real ? real : xstrdup(tmpdir);
    }
    mk_run_set_hook(replay_hook, r);
}

void mk_replay_add(struct mk_replay *r, const char *match, int times, int status, const char *out,
                   const char *err)
{
    assert_true(r->nrules < MK_REPLAY_MAX_RULES);
    r->rules[r->nrules++] = (struct mk_replay_rule){match, times, status, out, err};
}

void mk_replay_step(struct mk_replay *r, const char *title)
{
    if (r)
        mk_buf_addf(&r->transcript, "# %s\n", title);
}

void mk_replay_end(struct mk_replay *r)
{
    mk_run_set_hook(NULL, NULL);
    free(r->tmpdir);
    r->tmpdir = NULL;
    mk_buf_release(&r->transcript);
}

/* ---- the contract ---- */

#define STEP(title) mk_replay_step(o->replay, title)
#define MUST(call, what)                                                                          \
    do {                                                                                          \
        struct mk_error *e_ = NULL;                                                               \
        if ((call) < 0) {                                                                         \
            fprintf(stderr, "%s", o->replay ? mk_buf_str(&o->replay->transcript) : "");          \
            fail_msg("driver %s: %s failed: %s%s%s", d->name, what, e_ ? e_->msg : "(no error)",  \
                     e_ && e_->hint ? " - hint: " : "", e_ && e_->hint ? e_->hint : "");          \
        }                                                                                         \
        mk_error_free(e_);                                                                        \
    } while (0)

static void expect_state(const struct mk_driver *d, const struct mk_contract_opts *o,
                         struct mk_machine *m, enum mk_vm_state want, const char *when)
{
    enum mk_vm_state st = MK_VM_ERROR;
    MUST(mk_machine_state(m, &st, &e_), "state");
    if (st != want)
        fail_msg("driver %s: state %s is %s, expected %s", d->name, when, mk_vm_state_name(st),
                 mk_vm_state_name(want));
}

void mk_driver_contract_run(const struct mk_driver *d, const struct mk_contract_opts *o)
{
    STEP("probe");
    if (d->probe)
        MUST(d->probe(NULL, &e_), "probe");
    struct mk_machine *m = mk_machine_new(d, o->machines_dir, "contract");
    STEP("state before create");
    expect_state(d, o, m, MK_VM_NONEXISTENT, "before create");
    STEP("create");
    MUST(mk_machine_create(m, o->cfg, &e_), "create");
    mk_autofree char *json = xasprintf("%s/machine.json", m->dir);
    assert_true(mk_path_exists(json));
    STEP("state after create");
    expect_state(d, o, m, MK_VM_STOPPED, "after create");
    STEP("start");
    MUST(mk_machine_start(m, &e_), "start");
    STEP("state after start");
    expect_state(d, o, m, MK_VM_RUNNING, "after start");

    STEP("endpoint");
    struct mk_endpoint ep;
    MUST(mk_machine_endpoint(m, &ep, &e_), "endpoint");
    assert_true(ep.host[0]);
    assert_true(ep.guest_ip[0]);
    assert_non_null(ep.ssh_user);
    assert_true(ep.ssh_port && ep.api_port && ep.docker_port);
    if (d->caps & MK_DRV_CAP_PORT_FORWARD) {
        assert_string_equal(ep.host, "127.0.0.1");
        assert_int_equal(ep.ssh_port, mk_machine_forward_port(m, MK_GUEST_SSH_PORT));
        assert_int_equal(ep.api_port, mk_machine_forward_port(m, MK_GUEST_API_PORT));
        assert_int_equal(ep.docker_port, mk_machine_forward_port(m, MK_GUEST_DOCKER_PORT));
    }
    if (d->caps & MK_DRV_CAP_GUEST_IP) {
        assert_string_equal(ep.host, ep.guest_ip);
        assert_int_equal(ep.ssh_port, MK_GUEST_SSH_PORT);
        assert_int_equal(ep.api_port, MK_GUEST_API_PORT);
        assert_int_equal(ep.docker_port, MK_GUEST_DOCKER_PORT);
    }

    STEP("forward");
    unsigned hp = o->forward_host_port, again = 0;
    MUST(mk_machine_forward(m, o->forward_guest_port, &hp, &e_), "forward");
    assert_int_not_equal(hp, 0);
    if (d->caps & MK_DRV_CAP_GUEST_IP)
        assert_int_equal(hp, o->forward_guest_port);
    STEP("forward again (no driver call)");
    MUST(mk_machine_forward(m, o->forward_guest_port, &again, &e_), "second forward");
    assert_int_equal(again, hp);
    struct mk_machine *loaded = NULL;
    MUST(mk_machine_load(o->machines_dir, "contract", &loaded, &e_), "load machine.json");
    assert_non_null(loaded);
    assert_int_equal(mk_machine_forward_port(loaded, o->forward_guest_port), hp);
    mk_machine_free(loaded);

    STEP("stop");
    MUST(mk_machine_stop(m, &e_), "stop");
    STEP("state after stop");
    expect_state(d, o, m, MK_VM_STOPPED, "after stop");
    STEP("remove");
    MUST(mk_machine_remove(m, &e_), "remove");
    assert_false(mk_path_exists(m->dir));
    STEP("state after remove");
    expect_state(d, o, m, MK_VM_NONEXISTENT, "after remove");
    mk_machine_free(m);
}

void mk_driver_contract_null_slots(const struct mk_driver *d, const char *machines_dir)
{
    struct mk_driver empty = {.name = d->name, .description = d->description};
    struct mk_machine *m = mk_machine_new(&empty, machines_dir, "nullslots");
    struct mk_machine_config cfg = {0};
    struct mk_endpoint ep;
    enum mk_vm_state st;
    unsigned port = 0;
    struct mk_error *e = NULL;
#define REFUSED(call, op)                                                                         \
    do {                                                                                          \
        assert_int_equal((call), -1);                                                             \
        assert_non_null(e);                                                                       \
        if (!strstr(e->msg, "\"" op "\" is not supported by driver"))                             \
            fail_msg("null slot %s: unexpected error \"%s\"", op, e->msg);                        \
        mk_error_free(e);                                                                         \
        e = NULL;                                                                                 \
    } while (0)
    REFUSED(mk_machine_create(m, &cfg, &e), "create");
    REFUSED(mk_machine_start(m, &e), "start");
    REFUSED(mk_machine_stop(m, &e), "stop");
    REFUSED(mk_machine_kill(m, &e), "kill");
    REFUSED(mk_machine_remove(m, &e), "remove");
    REFUSED(mk_machine_state(m, &st, &e), "state");
    REFUSED(mk_machine_endpoint(m, &ep, &e), "endpoint");
    REFUSED(mk_machine_forward(m, 30080, &port, &e), "forward");
#undef REFUSED
    mk_machine_free(m); /* NULL release slot */
}

void mk_driver_contract_half_created(const struct mk_driver *d, const struct mk_contract_opts *o)
{
    struct mk_machine *m = mk_machine_new(d, o->machines_dir, "contract");
    STEP("create (fails midway)");
    struct mk_error *e = NULL;
    assert_int_equal(mk_machine_create(m, o->cfg, &e), -1);
    assert_non_null(e);
    mk_error_free(e);
    STEP("remove the half-created machine");
    MUST(mk_machine_remove(m, &e_), "remove after a failed create");
    STEP("state after remove");
    expect_state(d, o, m, MK_VM_NONEXISTENT, "after removing a half-created machine");
    mk_machine_free(m);
}
