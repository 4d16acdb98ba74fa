/* service.c - NodePort services, their forwards and URLs, the browser (see service.h). */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "log.h"
#include "profile.h"
#include "run.h"

#define LOCK_TIMEOUT_MS 15000
#define BROWSER_TIMEOUT_MS 15000

static char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return xstrdup(s ? s : dflt);
}

int mk_svc_from_json(const json_t *obj, struct mk_svc *out, struct mk_error **err)
{
    memset(out, 0, sizeof(*out));
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *spec = json_object_get(obj, "spec");
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (!json_is_object(obj) || !name || !json_is_object(spec))
        return mk_error_set(err, MK_EXIT_FAILURE, "the API returned a malformed Service object");
    out->name = xstrdup(name);
    out->ns = str_or(meta, "namespace", "default");
    out->type = str_or(spec, "type", "ClusterIP");
    const json_t *ports = json_object_get(spec, "ports");
    size_t n = json_is_array(ports) ? json_array_size(ports) : 0;
    out->ports = xcalloc(n + 1, sizeof(*out->ports));
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(ports, i);
        struct mk_svc_port *sp = &out->ports[out->nports++];
        sp->name = str_or(p, "name", "");
        sp->protocol = str_or(p, "protocol", "TCP");
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        sp->port = port > 0 && port <= 65535 ? (unsigned)port : 0;
        sp->node_port = np > 0 && np <= 65535 ? (unsigned)np : 0;
    }
    return 0;
}

void mk_svc_release(struct mk_svc *s)
{
    for (size_t i = 0; i < s->nports; i++) {
        free(s->ports[i].name);
        free(s->ports[i].protocol);
    }
    free(s->ports);
    free(s->ns);
    free(s->name);
    free(s->type);
    memset(s, 0, sizeof(*s));
}

void mk_svc_free_array(struct mk_svc *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mk_svc_release(&v[i]);
    free(v);
}

static bool forwardable(const struct mk_svc_port *p)
{
    return p->node_port && mk_streq(p->protocol, "TCP");
}

bool mk_svc_has_node_port(const struct mk_svc *s)
{
    for (size_t i = 0; i < s->nports; i++)
        if (forwardable(&s->ports[i]))
            return true;
    return false;
}

size_t mk_svc_ready_endpoints(const json_t *slices)
{
    size_t ready = 0, i, j;
    const json_t *slice, *ep;
    json_array_foreach(json_object_get(slices, "items"), i, slice)
    {
        json_array_foreach(json_object_get(slice, "endpoints"), j, ep)
        {
            const json_t *r = json_object_get(json_object_get(ep, "conditions"), "ready");
            if (!r || json_is_null(r) || json_is_true(r))
                ready++;
        }
    }
    return ready;
}

char *mk_svc_port_label(const struct mk_svc_port *p)
{
    return *p->name ? xasprintf("%s/%u", p->name, p->port) : xasprintf("%u", p->port);
}

char *mk_svc_url(const char *host, unsigned port, bool https)
{
    return xasprintf("%s://%s:%u", https ? "https" : "http", host, port);
}

/* ---- the API ---- */

static void sleep_s(int s)
{
    struct timespec ts = {s, 0};
    nanosleep(&ts, NULL);
}

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* GET a service: 1 found (out filled), 0 not found, -1 error. */
static int fetch_svc(const struct mk_kapi *k, const char *ns, const char *name, struct mk_svc *out,
                     struct mk_error **err)
{
    mk_autofree char *path = xasprintf("/api/v1/namespaces/%s/services/%s", ns, name);
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    if (mk_kapi_get(k, path, &code, &body, err) < 0)
        return -1;
    if (code == 404)
        return 0;
    if (code != 200) {
        mk_buf_rtrim(&body);
        return mk_error_set(err, MK_EXIT_FAILURE, "GET %s: HTTP %ld: %.200s", path, code,
                            mk_buf_str(&body));
    }
    json_error_t je;
    json_t *j = json_loadb(mk_buf_str(&body), body.len, 0, &je);
    if (!j)
        return mk_error_set(err, MK_EXIT_FAILURE, "GET %s: invalid JSON: %s", path, je.text);
    int r = mk_svc_from_json(j, out, err);
    json_decref(j);
    return r < 0 ? -1 : 1;
}

static int ready_endpoints(const struct mk_kapi *k, const char *ns, const char *name, size_t *ready,
                           struct mk_error **err)
{
    mk_autofree char *path = xasprintf("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices"
                                       "?labelSelector=kubernetes.io%%2Fservice-name%%3D%s",
                                       ns, name);
    json_t *j = NULL;
    if (mk_kapi_get_json(k, path, &j, err) < 0)
        return -1;
    *ready = mk_svc_ready_endpoints(j);
    json_decref(j);
    return 0;
}

int mk_svc_get(const struct mk_kapi *k, const char *ns, const char *name, int wait_s,
               int interval_s, struct mk_svc *out, struct mk_error **err)
{
    time_t deadline = now_s() + wait_s;
    if (interval_s < 1)
        interval_s = 1;
    bool said = false;
    memset(out, 0, sizeof(*out));
    for (;;) {
        int r = fetch_svc(k, ns, name, out, err);
        if (r < 0)
            return -1;
        if (r == 1) {
            if (!mk_svc_has_node_port(out)) {
                mk_error_set(err, MK_EXIT_USAGE, "service %s/%s has no node port (type %s)", ns,
                             name, out->type);
                mk_svc_release(out);
                return mk_error_hint(err, "expose it with: kubectl expose ... --type=NodePort");
            }
            size_t ready = 0;
            if (ready_endpoints(k, ns, name, &ready, err) < 0) {
                mk_svc_release(out);
                return -1;
            }
            if (ready > 0)
                return 0;
            mk_svc_release(out);
        }
        if (now_s() >= deadline)
            break;
        if (!said) {
            mk_step("Waiting for service %s/%s%s ...", ns, name,
                    r == 1 ? " to have a running pod" : " to exist");
            said = true;
        }
        sleep_s(interval_s);
    }
    /* one last look to say what is missing */
    int r = fetch_svc(k, ns, name, out, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "service %s/%s was not found", ns, name);
        return mk_error_hint(err, "list the services with: mkube service list -n %s", ns);
    }
    mk_svc_release(out);
    mk_error_set(err, MK_EXIT_UNAVAILABLE, "service %s/%s has no running pod after %d s", ns, name,
                 wait_s);
    return mk_error_hint(err, "see why with: kubectl get pods -n %s; or wait longer with --wait",
                         ns);
}

int mk_svc_list(const struct mk_kapi *k, const char *ns, struct mk_svc **out, size_t *n,
                struct mk_error **err)
{
    *out = NULL;
    *n = 0;
    mk_autofree char *path =
        ns ? xasprintf("/api/v1/namespaces/%s/services", ns) : xstrdup("/api/v1/services");
    json_t *j = NULL;
    if (mk_kapi_get_json(k, path, &j, err) < 0)
        return -1;
    const json_t *items = json_object_get(j, "items");
    size_t count = json_is_array(items) ? json_array_size(items) : 0;
    struct mk_svc *v = xcalloc(count + 1, sizeof(*v));
    for (size_t i = 0; i < count; i++) {
        if (mk_svc_from_json(json_array_get(items, i), &v[i], err) < 0) {
            mk_svc_free_array(v, i);
            json_decref(j);
            return -1;
        }
    }
    json_decref(j);
    *out = v;
    *n = count;
    return 0;
}

/* ---- forwards ---- */

int mk_svc_forward(struct mk_cluster *c, struct mk_svc *svcs, size_t n, struct mk_error **err)
{
    int lockfd = -1, rc = -1;
    if (mk_profile_lock(c->home, c->name, LOCK_TIMEOUT_MS, &lockfd, err) < 0)
        return mk_error_wrap(err, "cannot add a forward to \"%s\"", c->name);
    struct mk_machine *m = NULL;
    if (mk_machine_load(c->machines_dir, c->name, &m, err) < 0)
        goto cleanup;
    if (!m) {
        mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "profile \"%s\" has no VM", c->name);
        goto cleanup;
    }
    mk_machine_free(c->machine);
    c->machine = m;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < svcs[i].nports; j++) {
            struct mk_svc_port *p = &svcs[i].ports[j];
            if (!forwardable(p))
                continue;
            unsigned host = mk_machine_forward_port(m, p->node_port);
            if (!host) {
                /* the NodePort number itself when it is free, for a familiar URL */
                host = mk_port_free(p->node_port) ? p->node_port : 0;
                if (mk_machine_forward(m, p->node_port, &host, err) < 0)
                    goto cleanup;
                mk_debug(1, "forward 127.0.0.1:%u -> guest %u for %s/%s", host, p->node_port,
                         svcs[i].ns, svcs[i].name);
            }
            p->host_port = host;
        }
    }
    rc = 0;
cleanup:
    mk_profile_unlock(lockfd);
    return rc;
}

/* ---- the browser ---- */

int mk_browser_open(const char *url, bool *opened, char **why, struct mk_error **err)
{
    *opened = false;
    *why = NULL;
    const char *browser = getenv("BROWSER");
    const char *prog = NULL;
    if (browser && *browser && mk_run_have(browser))
        prog = browser;
    else if (mk_run_have("xdg-open"))
        prog = "xdg-open";
    else if (mk_run_have("open"))
        prog = "open";
    if (!prog) {
        *why = xstrdup("no browser opener was found (set $BROWSER, or install xdg-utils)");
        return 0;
    }
    const char *argv[] = {prog, url, NULL};
    struct mk_run_opts o = {
        .capture_stdout = true, .capture_stderr = true, .timeout_ms = BROWSER_TIMEOUT_MS};
    struct mk_run_result r;
    mk_run_result_init(&r);
    struct mk_error *e = NULL;
    if (mk_run(argv, &o, &r, &e) < 0) {
        *why = xasprintf("%s failed: %s", prog, e->msg);
        mk_error_free(e);
    } else if (r.status != 0) {
        mk_buf_rtrim(&r.err);
        const char *last = strrchr(mk_buf_str(&r.err), '\n');
        last = last ? last + 1 : mk_buf_str(&r.err);
        *why = *last ? xasprintf("%s exited with status %d: %s", prog, r.status, last)
                     : xasprintf("%s exited with status %d", prog, r.status);
    } else {
        *opened = true;
    }
    mk_run_result_release(&r);
    (void)err;
    return 0;
}
