/* service.h - `mkube service`: NodePort services reached from the host through
 * 127.0.0.1 forwards that the driver adds on demand (QEMU hostfwd_add): no
 * tunnel process is left running and no sudo is needed. The forwards are kept
 * in machine.json, so the driver re-creates them at every start and a URL
 * stays the same across stop/start. The host port is the NodePort itself when
 * that port is free on 127.0.0.1, so the URL reads like minikube's. */
#ifndef MK_SERVICE_H
#define MK_SERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster.h"
#include "error.h"
#include "kapi.h"

#define MK_SERVICE_DEFAULT_WAIT_S 120   /* --wait */
#define MK_SERVICE_DEFAULT_INTERVAL_S 1 /* --interval */

struct mk_svc_port {
    char *name;         /* "" when unnamed */
    char *protocol;     /* "TCP", "UDP", "SCTP" */
    unsigned port;      /* the service port */
    unsigned node_port; /* 0: none */
    unsigned host_port; /* the 127.0.0.1 forward; 0 until mk_svc_forward */
};

struct mk_svc {
    char *ns;
    char *name;
    char *type; /* ClusterIP, NodePort, LoadBalancer, ExternalName */
    struct mk_svc_port *ports;
    size_t nports;
};

/* Parse a v1 Service object. */
int mk_svc_from_json(const json_t *obj, struct mk_svc *out, struct mk_error **err);
void mk_svc_release(struct mk_svc *s);
void mk_svc_free_array(struct mk_svc *v, size_t n);
/* Does any TCP port have a NodePort? */
bool mk_svc_has_node_port(const struct mk_svc *s);
/* Endpoints of an EndpointSliceList that are ready (a missing ready condition
 * counts as ready, as the API says). */
size_t mk_svc_ready_endpoints(const json_t *slices);
/* "http/80" for a named port, "80" otherwise. Caller frees. */
char *mk_svc_port_label(const struct mk_svc_port *p);
/* "http://HOST:PORT" (https with https). Caller frees. */
char *mk_svc_url(const char *host, unsigned port, bool https);

/* GET the service, waiting up to wait_s (polling every interval_s) for it to
 * exist and have a ready endpoint. A service without a NodePort is an error
 * at once (MK_EXIT_USAGE); no ready endpoint in time is MK_EXIT_UNAVAILABLE. */
int mk_svc_get(const struct mk_kapi *k, const char *ns, const char *name, int wait_s,
               int interval_s, struct mk_svc *out, struct mk_error **err);
/* Every service of ns (NULL: all namespaces), in the API's order. */
int mk_svc_list(const struct mk_kapi *k, const char *ns, struct mk_svc **out, size_t *n,
                struct mk_error **err);

/* Make sure every TCP NodePort of svcs has a 127.0.0.1 forward, and fill
 * host_port. Runs under the profile lock and reloads machine.json first, so
 * concurrent `mkube service` runs keep each other's forwards; c->machine is
 * replaced by the reloaded machine. */
int mk_svc_forward(struct mk_cluster *c, struct mk_svc *svcs, size_t n, struct mk_error **err);

/* Open url in the default browser: $BROWSER, else xdg-open, else open (macOS).
 * *opened is false (and *why says why, allocated) when none could; that is
 * not an error (the caller prints the URL), so this returns 0. */
int mk_browser_open(const char *url, bool *opened, char **why, struct mk_error **err);

#endif
