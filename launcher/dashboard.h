/* dashboard.h - `mkube dashboard`: make sure the dashboard addon runs, serve
 * its UI through the local API proxy (apiproxy.h) at the API server's service
 * proxy path, as minikube does. Which service is the UI is said by the addon:
 * addons/dashboard/addon.json carries, besides the usual fields (addons.h),
 *   "dashboard": {"namespace": "kubernetes-dashboard",
 *                 "service": "kubernetes-dashboard", "port": "80"}
 * ("port": a port number or name; "https:NAME:" style service references
 * go in "service" as the API server spells them). See docs/dashboard.md. */
#ifndef MK_DASHBOARD_H
#define MK_DASHBOARD_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"
#include "kapi.h"

#define MK_DASHBOARD_ADDON "dashboard"
#define MK_DASHBOARD_DEFAULT_WAIT_S 300

struct mk_dashboard_target {
    char *ns;
    char *service;
    char *port; /* "" when the service has a single port and none is named */
};

/* The target from addons_dir/dashboard/addon.json. No such addon is
 * MK_EXIT_NOT_IMPLEMENTED with a hint to docs/dashboard.md (mkube ships none
 * while no upstream UI can be built); a malformed "dashboard" object is
 * MK_EXIT_CONFIG. */
int mk_dashboard_target_load(const char *addons_dir, struct mk_dashboard_target *t,
                             struct mk_error **err);
/* Parse the "dashboard" object of an addon.json already loaded. */
int mk_dashboard_target_from_json(const json_t *addon, const char *path,
                                  struct mk_dashboard_target *t, struct mk_error **err);
void mk_dashboard_target_release(struct mk_dashboard_target *t);

/* "/api/v1/namespaces/NS/services/SVC:PORT/proxy/" (SVC alone without port),
 * the components percent-encoded where needed. Caller frees. */
char *mk_dashboard_proxy_path(const struct mk_dashboard_target *t);
/* "http://127.0.0.1:PORT" + the proxy path. Caller frees. */
char *mk_dashboard_url(unsigned proxy_port, const struct mk_dashboard_target *t);

/* Are all Deployments of a DeploymentList available (updated, ready replicas
 * as many as wanted, current generation observed)? An empty list is not.
 * *waiting gets the name of the first one that is not (allocated) or NULL. */
bool mk_dashboard_deployments_ready(const json_t *list, char **waiting);
/* Poll the deployments of ns every 2 s until they are ready, up to wait_s;
 * a timeout is MK_EXIT_UNAVAILABLE naming the deployment waited for. */
int mk_dashboard_wait(const struct mk_kapi *k, const char *ns, int wait_s, struct mk_error **err);

#endif
