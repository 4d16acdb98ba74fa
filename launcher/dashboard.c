/* dashboard.c - the dashboard addon's target service, its URL through the
 * local API proxy, and the wait for its deployments (dashboard.h). */
#include "dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"

#define POLL_INTERVAL_S 2

void mk_dashboard_target_release(struct mk_dashboard_target *t)
{
    free(t->ns);
    free(t->service);
    free(t->port);
    memset(t, 0, sizeof(*t));
}

/* A DNS label, a service reference like "https:name:" or a port name/number:
 * letters, digits, '-', '.', ':' only, so nothing needs escaping in a path. */
static bool path_safe(const char *s, bool allow_colon)
{
    if (!s || !*s || strlen(s) > 253)
        return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || (allow_colon && *p == ':');
        if (!ok)
            return false;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int mk_dashboard_target_from_json(const json_t *addon, const char *path,
                                  struct mk_dashboard_target *t, struct mk_error **err)
{
    memset(t, 0, sizeof(*t));
    const json_t *d = json_object_get(addon, "dashboard");
    const char *ns = json_string_value(json_object_get(d, "namespace"));
    const char *svc = json_string_value(json_object_get(d, "service"));
    const json_t *port = json_object_get(d, "port");
    if (!json_is_object(d) || !path_safe(ns, false) || !path_safe(svc, true))
        return mk_error_set(err, MK_EXIT_CONFIG,
                            "%s: \"dashboard\" must name the UI's \"namespace\" and \"service\"",
                            path);
    if (json_is_integer(port) && json_integer_value(port) > 0 && json_integer_value(port) < 65536)
        t->port = xasprintf("%lld", (long long)json_integer_value(port));
    else if (json_is_string(port) && path_safe(json_string_value(port), false))
        t->port = xstrdup(json_string_value(port));
    else if (!port)
        t->port = xstrdup("");
    else
        return mk_error_set(err, MK_EXIT_CONFIG,
                            "%s: \"dashboard\".\"port\" must be a port number or name", path);
    t->ns = xstrdup(ns);
    t->service = xstrdup(svc);
    return 0;
}

int mk_dashboard_target_load(const char *addons_dir, struct mk_dashboard_target *t,
                             struct mk_error **err)
{
    memset(t, 0, sizeof(*t));
    mk_autofree char *path = xasprintf("%s/%s/addon.json", addons_dir, MK_DASHBOARD_ADDON);
    if (!mk_path_exists(path)) {
        mk_error_set(err, MK_EXIT_NOT_IMPLEMENTED,
                     "no dashboard addon is available: no upstream Kubernetes web UI could be "
                     "built for this release");
        return mk_error_hint(err, "see docs/dashboard.md; the API itself is served by "
                                  "'mkube kubectl -- proxy'");
    }
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return mk_error_set(err, MK_EXIT_CONFIG, "cannot parse %s: line %d: %s", path, je.line,
                            je.text);
    int rc = mk_dashboard_target_from_json(j, path, t, err);
    json_decref(j);
    return rc;
}

char *mk_dashboard_proxy_path(const struct mk_dashboard_target *t)
{
    if (!*t->port)
        return xasprintf("/api/v1/namespaces/%s/services/%s/proxy/", t->ns, t->service);
    return xasprintf("/api/v1/namespaces/%s/services/%s:%s/proxy/", t->ns, t->service, t->port);
}

char *mk_dashboard_url(unsigned proxy_port, const struct mk_dashboard_target *t)
{
    mk_autofree char *path = mk_dashboard_proxy_path(t);
    return xasprintf("http://127.0.0.1:%u%s", proxy_port, path);
}

static json_int_t int_at(const json_t *obj, const char *a, const char *b, json_int_t dflt)
{
    const json_t *v = json_object_get(json_object_get(obj, a), b);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool mk_dashboard_deployments_ready(const json_t *list, char **waiting)
{
    *waiting = NULL;
    const json_t *items = json_object_get(list, "items");
    if (!json_is_array(items) || json_array_size(items) == 0)
        return false;
    size_t i;
    const json_t *d;
    json_array_foreach(items, i, d)
    {
        json_int_t want = int_at(d, "spec", "replicas", 1);
        json_int_t gen = int_at(d, "metadata", "generation", 0);
        json_int_t seen = int_at(d, "status", "observedGeneration", -1);
        json_int_t updated = int_at(d, "status", "updatedReplicas", 0);
        json_int_t avail = int_at(d, "status", "availableReplicas", 0);
        if (seen < gen || updated < want || avail < want) {
            const char *name =
                json_string_value(json_object_get(json_object_get(d, "metadata"), "name"));
            *waiting = xstrdup(name ? name : "?");
            return false;
        }
    }
    return true;
}

int mk_dashboard_wait(const struct mk_kapi *k, const char *ns, int wait_s, struct mk_error **err)
{
    mk_autofree char *path = xasprintf("/apis/apps/v1/namespaces/%s/deployments", ns);
    time_t end = time(NULL) + wait_s;
    mk_autofree char *last = NULL;
    for (;;) {
        json_t *list = NULL;
        struct mk_error *e = NULL;
        mk_autofree char *waiting = NULL;
        bool ready = false;
        if (mk_kapi_get_json(k, path, &list, &e) == 0) {
            ready = mk_dashboard_deployments_ready(list, &waiting);
            json_decref(list);
            free(last);
            last = waiting ? xasprintf("deployment %s/%s is not available yet", ns, waiting)
                           : xasprintf("namespace %s has no deployment yet", ns);
        } else {
            free(last);
            last = xstrdup(e->msg);
            mk_error_free(e);
        }
        if (ready)
            return 0;
        mk_debug(1, "dashboard: %s", last);
        if (time(NULL) >= end)
            break;
        struct timespec ts = {.tv_sec = POLL_INTERVAL_S};
        nanosleep(&ts, NULL);
    }
    mk_error_set(err, MK_EXIT_UNAVAILABLE, "the dashboard did not become ready in %d s: %s", wait_s,
                 last);
    return mk_error_hint(err, "look at its pods: mkube kubectl -- -n %s get pods", ns);
}
