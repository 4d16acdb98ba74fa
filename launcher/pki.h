/* pki.h - the certificates mkube makes with OpenSSL: one CA per installation,
 * the API server and kubeconfig client certs per profile, docker TLS certs.
 *
 * Layout (docs/pki.md):
 *   $MKUBE_HOME/certs/ca.crt, ca.key          CN mkubeCA; kept across profile deletes,
 *                                             handed to kubeadm as the cluster CA
 *   $MKUBE_HOME/certs/ca.pem, cert.pem, key.pem   DOCKER_CERT_PATH for docker-env
 *   $MKUBE_HOME/profiles/<p>/apiserver.crt/.key   serverAuth, SANs from the caller
 *   $MKUBE_HOME/profiles/<p>/client.crt/.key      CN mkube-user, O system:masters
 *   <machine dir>/server.pem, server-key.pem      dockerd's serverAuth cert
 *
 * Keys are RSA 2048, written 0600; certs 0644; all through atomic writes. The
 * CA lasts 10 years, leaves 3. Every ensure function is idempotent: a cert that
 * is valid for 30 more days, signed by the current CA, matches its key and has
 * the requested names and usages is kept byte for byte; anything else is
 * regenerated. A lock on certs/.lock keeps concurrent starts from making two CAs. */
#ifndef MK_PKI_H
#define MK_PKI_H

#include <stdbool.h>

#include "error.h"

#define MK_PKI_CA_CN "mkubeCA"
#define MK_PKI_CA_DAYS 3650
#define MK_PKI_LEAF_DAYS 1095
#define MK_PKI_RENEW_DAYS 30 /* regenerate what expires sooner than this */
#define MK_PKI_LOCK_TIMEOUT_MS 60000

struct mk_cert_req {
    const char *cert_path;
    const char *key_path;
    const char *cn;
    const char *org;        /* subject O, or NULL */
    const char *const *dns; /* NULL-terminated DNS SANs, or NULL */
    const char *const *ips; /* NULL-terminated IPv4/IPv6 SANs, or NULL */
    bool server;            /* EKU serverAuth */
    bool client;            /* EKU clientAuth */
};

/* Create certs_dir (0700) and ca.crt/ca.key in it unless a valid CA is there. */
int mk_pki_ensure_ca(const char *certs_dir, struct mk_error **err);

/* Make sure req->cert_path holds a cert as requested, signed by the CA in
 * certs_dir (which must exist: call mk_pki_ensure_ca first). */
int mk_pki_ensure_leaf(const char *certs_dir, const struct mk_cert_req *req, struct mk_error **err);

/* Why an existing leaf would be regenerated ("" = it would be kept), or -1 when
 * the CA cannot be read. For `mkube status`-like diagnostics and tests. */
int mk_pki_check_leaf(const char *certs_dir, const struct mk_cert_req *req, char **why,
                      struct mk_error **err);

/* Everything a profile needs, under one lock: the CA, the docker client cert
 * and ca.pem in $home/certs, apiserver and client certs in
 * $home/profiles/<profile>, and, when machine_dir is not NULL, dockerd's
 * server cert there. The API server cert carries the fixed names (localhost,
 * control-plane.mkube.internal, kubernetes.default.svc..., the profile name as
 * hostname, 127.0.0.1, 10.96.0.1, 10.0.0.1) plus extra_ips (the guest address). */
int mk_pki_ensure_profile(const char *home, const char *profile, const char *machine_dir,
                          const char *const *extra_ips, struct mk_error **err);

#endif
