/* apiproxy.h - a local authenticated proxy to the API server, like `kubectl
 * proxy`: plain HTTP on 127.0.0.1 only, forwarded over TLS (OpenSSL) with the
 * profile's client certificate. `mkube dashboard` serves the UI's service
 * proxy path through it.
 *
 * Every client connection gets its own thread and its own upstream TLS
 * connection, and carries one request: the proxy checks and rewrites the
 * request head (Host must name the proxy itself; only API paths; the client's
 * Authorization and Impersonate-* headers are dropped; `Connection: close`),
 * passes the body, then streams the response back as it comes until the API
 * server closes. A `Connection: Upgrade` request (websocket/SPDY exec, attach,
 * logs) keeps its upgrade headers; after `101 Switching Protocols` the two
 * sockets are spliced until either side closes. */
#ifndef MK_APIPROXY_H
#define MK_APIPROXY_H

#include <stdbool.h>

#include "error.h"

struct mk_apiproxy_config {
    const char *upstream;  /* "https://HOST:PORT" of the API server */
    const char *ca_path;   /* the CA that signed the API server's certificate */
    const char *cert_path; /* client certificate and key presented upstream */
    const char *key_path;
    unsigned port;       /* port on 127.0.0.1 to listen on; 0 = any free one */
    int idle_timeout_ms; /* a client that sends no complete request head in
                            this long is dropped; 0 = 60 s */
    int max_conns;       /* connections at once, beyond that 503; 0 = 256 */
};

struct mk_apiproxy;

/* Load the certificates, listen on 127.0.0.1:cfg->port and start serving (an
 * accept thread). The config strings are copied. A port already in use is
 * MK_EXIT_USAGE. */
int mk_apiproxy_start(const struct mk_apiproxy_config *cfg, struct mk_apiproxy **out,
                      struct mk_error **err);
/* The port the proxy listens on (the kernel's choice when cfg->port was 0). */
unsigned mk_apiproxy_port(const struct mk_apiproxy *p);
/* Connections served so far (accepted, whatever the outcome). */
unsigned long mk_apiproxy_served(const struct mk_apiproxy *p);
/* Stop: close the listening socket and every open connection (streams and
 * spliced upgrades included), join every thread, free p. NULL is a no-op. */
void mk_apiproxy_stop(struct mk_apiproxy *p);

/* Exposed for tests: is host (a Host header value) one the proxy answers to
 * when it listens on port? "127.0.0.1:PORT", "localhost:PORT", also without
 * the port when port is 80. */
bool mk_apiproxy_host_ok(const char *host, unsigned port);
/* Is path (the request target) forwarded? /api, /apis, /version, /openapi,
 * /healthz, /livez, /readyz and what is below them; no "..". */
bool mk_apiproxy_path_ok(const char *path);

#endif
