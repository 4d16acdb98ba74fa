/* pki.c - CA, API server, client and docker TLS certificates with OpenSSL 3 (see pki.h). */
#include "pki.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "log.h"

#define RSA_BITS 2048
#define BACKDATE_SECS (24 * 3600) /* tolerate a guest clock behind the host's */

/* Fill *err with msg plus the newest OpenSSL reason, and clear OpenSSL's queue. */
static int ssl_error(struct mk_error **err, const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256] = "unknown openssl error";
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    if (path)
        return mk_error_set(err, MK_EXIT_FAILURE, "%s %s: %s", what, path, reason);
    return mk_error_set(err, MK_EXIT_FAILURE, "%s: %s", what, reason);
}

/* ---- files ---- */

/* Read a PEM cert or key. A missing file is not an error: *out stays NULL. */
static int load_pem(const char *path, bool is_key, void **out, struct mk_error **err)
{
    struct mk_buf b = MK_BUF_INIT;
    bool missing = false;
    int ret = -1;
    mk_autoerror struct mk_error *rerr = NULL;

    *out = NULL;
    mk_buf_init(&b);
    if (mk_read_file(path, &b, 1 << 20, &missing, &rerr) < 0) {
        if (missing)
            ret = 0;
        else
            mk_error_set(err, rerr->code, "%s", rerr->msg);
        goto cleanup;
    }
    BIO *bio = BIO_new_mem_buf(b.buf, (int)b.len);
    if (is_key)
        *out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    else
        *out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error(); /* unreadable content is reported as "invalid", not fatal */
    ret = 0;
cleanup:
    mk_buf_release(&b);
    return ret;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, struct mk_error **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = cert ? PEM_write_bio_X509(bio, cert)
                  : PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
    if (!ok) {
        BIO_free(bio);
        return ssl_error(err, "cannot encode", path);
    }
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    int r = mk_write_file_atomic(path, data, (size_t)len, cert ? 0644 : 0600, err);
    BIO_free(bio);
    return r;
}

static int write_same_bytes(const char *src, const char *dst, mode_t mode, struct mk_error **err)
{
    struct mk_buf a = MK_BUF_INIT, b = MK_BUF_INIT;
    int ret = -1;
    mk_buf_init(&a);
    mk_buf_init(&b);
    if (mk_read_file(src, &a, 1 << 20, NULL, err) < 0)
        goto cleanup;
    if (mk_read_file(dst, &b, 1 << 20, NULL, NULL) == 0 && a.len == b.len &&
        memcmp(a.buf, b.buf, a.len) == 0) {
        ret = 0;
        goto cleanup;
    }
    ret = mk_write_file_atomic(dst, a.buf, a.len, mode, err);
cleanup:
    mk_buf_release(&a);
    mk_buf_release(&b);
    return ret;
}

/* ---- building certificates ---- */

static int set_serial(X509 *x)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    raw[0] &= 0x7f; /* positive */
    raw[0] |= 0x40; /* and 128 bits long in practice: no leading zero byte */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = serial && X509_set_serialNumber(x, serial);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int set_subject(X509 *x, const char *cn, const char *org)
{
    X509_NAME *name = X509_get_subject_name(x);
    if (org && !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1,
                                           -1, 0))
        return -1;
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0))
        return -1;
    return 0;
}

static bool dns_name_ok(const char *s)
{
    if (!*s || strlen(s) > 253)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '*' || *p == '_'))
            return false;
    return true;
}

/* IPv4 or IPv6 text to bytes; returns the length (4 or 16) or 0. */
static int ip_bytes(const char *s, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 16;
    return 0;
}

static int validate_req(const struct mk_cert_req *req, struct mk_error **err)
{
    unsigned char ip[16];
    for (size_t i = 0; req->dns && req->dns[i]; i++)
        if (!dns_name_ok(req->dns[i]))
            return mk_error_set(err, MK_EXIT_USAGE, "invalid DNS name '%s' for certificate %s",
                                req->dns[i], req->cert_path);
    for (size_t i = 0; req->ips && req->ips[i]; i++)
        if (!ip_bytes(req->ips[i], ip))
            return mk_error_set(err, MK_EXIT_USAGE, "invalid IP address '%s' for certificate %s",
                                req->ips[i], req->cert_path);
    return 0;
}

static int add_sans(X509 *x, const struct mk_cert_req *req)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    int ret = -1;
    for (size_t i = 0; req->dns && req->dns[i]; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, req->dns[i], -1);
        GENERAL_NAME_set0_value(gn, GEN_DNS, s);
        sk_GENERAL_NAME_push(names, gn);
    }
    for (size_t i = 0; req->ips && req->ips[i]; i++) {
        unsigned char raw[16];
        int n = ip_bytes(req->ips[i], raw);
        GENERAL_NAME *gn = GENERAL_NAME_new();
        ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(s, raw, n);
        GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
        sk_GENERAL_NAME_push(names, gn);
    }
    if (sk_GENERAL_NAME_num(names) == 0 ||
        X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1)
        ret = 0;
    GENERAL_NAMES_free(names);
    return ret;
}

/* A new cert for key: self-signed CA when ca is NULL, else a leaf per req. */
static X509 *make_cert(EVP_PKEY *key, const struct mk_cert_req *req, X509 *ca, EVP_PKEY *ca_key)
{
    X509 *x = X509_new();
    bool is_ca = ca == NULL;
    X509 *issuer = is_ca ? x : ca;
    bool ok = x && X509_set_version(x, 2) && set_serial(x) == 0 &&
              set_subject(x, is_ca ? MK_PKI_CA_CN : req->cn, is_ca ? NULL : req->org) == 0 &&
              X509_set_issuer_name(x, X509_get_subject_name(issuer)) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECS) &&
              X509_time_adj_ex(X509_getm_notAfter(x), is_ca ? MK_PKI_CA_DAYS : MK_PKI_LEAF_DAYS, 0,
                               NULL) &&
              X509_set_pubkey(x, key);
    /* a leaf never outlives its CA */
    if (ok && !is_ca && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca)) > 0)
        ok = X509_set1_notAfter(x, X509_get0_notAfter(ca));
    if (ok && is_ca)
        ok =
            add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
            add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") == 0;
    if (ok && !is_ca) {
        const char *eku = req->server && req->client ? "serverAuth,clientAuth"
                          : req->server              ? "serverAuth"
                                                     : "clientAuth";
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0 &&
             ((!req->server && !req->client) || add_ext(x, issuer, NID_ext_key_usage, eku) == 0) &&
             add_sans(x, req) == 0;
    }
    ok = ok && add_ext(x, x, NID_subject_key_identifier, "hash") == 0 &&
         add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") == 0 &&
         X509_sign(x, is_ca ? key : ca_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* ---- checking existing certificates ---- */

static bool expires_soon(X509 *x)
{
    time_t limit = time(NULL) + (time_t)MK_PKI_RENEW_DAYS * 86400;
    return X509_cmp_time(X509_get0_notAfter(x), &limit) <= 0;
}

static bool name_entry_is(X509 *x, int nid, const char *want)
{
    char have[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), nid, have, sizeof(have));
    if (!want)
        return n < 0;
    return n >= 0 && strcmp(have, want) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The SANs as a sorted, de-duplicated list of "DNS:name" / "IP:hex". */
static char **san_list_cert(X509 *x)
{
    char **v = xcalloc(1, sizeof(*v));
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            mk_autofree char *s = xasprintf("DNS:%.*s", ASN1_STRING_length(gn->d.dNSName),
                                            (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
            v = mk_strv_push(v, s);
        } else if (gn->type == GEN_IPADD) {
            struct mk_buf b = MK_BUF_INIT;
            mk_buf_init(&b);
            mk_buf_adds(&b, "IP:");
            const unsigned char *p = ASN1_STRING_get0_data(gn->d.iPAddress);
            for (int j = 0; j < ASN1_STRING_length(gn->d.iPAddress); j++)
                mk_buf_addf(&b, "%02x", p[j]);
            v = mk_strv_push(v, b.buf);
            mk_buf_release(&b);
        } else {
            v = mk_strv_push(v, "OTHER");
        }
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    return v;
}

static char **san_list_req(const struct mk_cert_req *req)
{
    char **v = xcalloc(1, sizeof(*v));
    for (size_t i = 0; req->dns && req->dns[i]; i++) {
        mk_autofree char *s = xasprintf("DNS:%s", req->dns[i]);
        v = mk_strv_push(v, s);
    }
    for (size_t i = 0; req->ips && req->ips[i]; i++) {
        unsigned char raw[16];
        int n = ip_bytes(req->ips[i], raw);
        struct mk_buf b = MK_BUF_INIT;
        mk_buf_init(&b);
        mk_buf_adds(&b, "IP:");
        for (int j = 0; j < n; j++)
            mk_buf_addf(&b, "%02x", raw[j]);
        v = mk_strv_push(v, b.buf);
        mk_buf_release(&b);
    }
    return v;
}

static bool same_set(char **a, char **b)
{
    size_t na = mk_strv_len(a), nb = mk_strv_len(b);
    qsort(a, na, sizeof(*a), cmp_str);
    qsort(b, nb, sizeof(*b), cmp_str);
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && i > 0 && strcmp(a[i], a[i - 1]) == 0) {
            i++;
            continue;
        }
        if (j < nb && j > 0 && strcmp(b[j], b[j - 1]) == 0) {
            j++;
            continue;
        }
        if (i >= na || j >= nb || strcmp(a[i], b[j]) != 0)
            return false;
        i++;
        j++;
    }
    return true;
}

/* Why the leaf at req must be regenerated, or NULL when it is fine. */
static const char *leaf_problem(const struct mk_cert_req *req, X509 *ca, X509 *cert, EVP_PKEY *key)
{
    if (!cert)
        return "missing or unreadable certificate";
    if (!key)
        return "missing or unreadable key";
    if (X509_check_private_key(cert, key) != 1)
        return "key does not match the certificate";
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
    if (X509_check_issued(ca, cert) != X509_V_OK || X509_verify(cert, ca_pub) != 1)
        return "not signed by the current CA";
    if (expires_soon(cert))
        return "expires within 30 days";
    if (!name_entry_is(cert, NID_commonName, req->cn) ||
        !name_entry_is(cert, NID_organizationName, req->org))
        return "subject differs";
    uint32_t want = (req->server ? XKU_SSL_SERVER : 0) | (req->client ? XKU_SSL_CLIENT : 0);
    uint32_t have = X509_get_extended_key_usage(cert);
    if (have == UINT32_MAX)
        have = 0;
    if ((have & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) != want)
        return "extended key usage differs";
    mk_autostrv char **a = san_list_cert(cert);
    mk_autostrv char **b = san_list_req(req);
    if (!same_set(a, b))
        return "subject alternative names differ";
    return NULL;
}

/* ---- the CA ---- */

struct ca {
    X509 *cert;
    EVP_PKEY *key;
};

static void ca_release(struct ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = NULL;
    ca->key = NULL;
}

static int load_ca(const char *certs_dir, struct ca *ca, struct mk_error **err)
{
    mk_autofree char *crt = xasprintf("%s/ca.crt", certs_dir);
    mk_autofree char *key = xasprintf("%s/ca.key", certs_dir);
    if (load_pem(crt, false, (void **)&ca->cert, err) < 0 ||
        load_pem(key, true, (void **)&ca->key, err) < 0) {
        ca_release(ca);
        return -1;
    }
    return 0;
}

static const char *ca_problem(const struct ca *ca)
{
    if (!ca->cert || !ca->key)
        return "missing or unreadable";
    if (X509_check_private_key(ca->cert, ca->key) != 1)
        return "key does not match the certificate";
    if (X509_check_ca(ca->cert) < 1)
        return "not a CA certificate";
    if (expires_soon(ca->cert))
        return "expires within 30 days";
    return NULL;
}

/* With certs/.lock held: load the CA, creating it when missing or unusable. */
static int ensure_ca_locked(const char *certs_dir, struct ca *ca, struct mk_error **err)
{
    mk_autofree char *crt = xasprintf("%s/ca.crt", certs_dir);
    mk_autofree char *keyp = xasprintf("%s/ca.key", certs_dir);
    bool existed = mk_path_exists(crt) || mk_path_exists(keyp);
    if (load_ca(certs_dir, ca, err) < 0)
        return -1;
    const char *why = ca_problem(ca);
    if (!why)
        return 0;
    if (existed)
        mk_warn("the mkube CA in %s is %s: making a new one (clusters will get new certificates)",
                certs_dir, why);
    ca_release(ca);
    mk_debug(1, "generating CA %s", crt);
    ca->key = EVP_RSA_gen(RSA_BITS);
    if (!ca->key)
        return ssl_error(err, "cannot generate the CA key for", crt);
    ca->cert = make_cert(ca->key, NULL, NULL, NULL);
    if (!ca->cert) {
        ssl_error(err, "cannot create the CA certificate", crt);
        ca_release(ca);
        return -1;
    }
    if (write_pem(keyp, NULL, ca->key, err) < 0 || write_pem(crt, ca->cert, NULL, err) < 0) {
        ca_release(ca);
        return -1;
    }
    return 0;
}

static int lock_certs(const char *certs_dir, int *fd, struct mk_error **err)
{
    if (mk_mkdir_p(certs_dir, 0700, err) < 0)
        return -1;
    mk_autofree char *lock = xasprintf("%s/.lock", certs_dir);
    return mk_lock(lock, MK_PKI_LOCK_TIMEOUT_MS, fd, err);
}

int mk_pki_ensure_ca(const char *certs_dir, struct mk_error **err)
{
    int fd = -1;
    struct ca ca = {0};
    if (lock_certs(certs_dir, &fd, err) < 0)
        return -1;
    int r = ensure_ca_locked(certs_dir, &ca, err);
    ca_release(&ca);
    mk_unlock(fd);
    return r;
}

/* ---- leaves ---- */

static int leaf_with_ca(const struct ca *ca, const struct mk_cert_req *req, struct mk_error **err)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int ret = -1;

    if (validate_req(req, err) < 0)
        return -1;
    if (load_pem(req->cert_path, false, (void **)&cert, err) < 0 ||
        load_pem(req->key_path, true, (void **)&key, err) < 0)
        goto cleanup;
    const char *why = leaf_problem(req, ca->cert, cert, key);
    if (!why) {
        ret = 0;
        goto cleanup;
    }
    mk_debug(1, "generating %s: %s", req->cert_path, why);
    X509_free(cert);
    EVP_PKEY_free(key);
    cert = NULL;
    key = EVP_RSA_gen(RSA_BITS);
    if (!key) {
        ssl_error(err, "cannot generate a key for", req->cert_path);
        goto cleanup;
    }
    cert = make_cert(key, req, ca->cert, ca->key);
    if (!cert) {
        ssl_error(err, "cannot create certificate", req->cert_path);
        goto cleanup;
    }
    /* key first: a crash in between leaves a mismatch, which the next run repairs */
    if (write_pem(req->key_path, NULL, key, err) < 0 ||
        write_pem(req->cert_path, cert, NULL, err) < 0)
        goto cleanup;
    ret = 0;
cleanup:
    X509_free(cert);
    EVP_PKEY_free(key);
    return ret;
}

static int read_ca_for_leaf(const char *certs_dir, struct ca *ca, struct mk_error **err)
{
    if (load_ca(certs_dir, ca, err) < 0)
        return -1;
    const char *why = ca_problem(ca);
    if (why) {
        ca_release(ca);
        return mk_error_set(err, MK_EXIT_FAILURE, "the CA in %s is %s", certs_dir, why);
    }
    return 0;
}

int mk_pki_ensure_leaf(const char *certs_dir, const struct mk_cert_req *req, struct mk_error **err)
{
    int fd = -1;
    struct ca ca = {0};
    int ret = -1;
    if (lock_certs(certs_dir, &fd, err) < 0)
        return -1;
    if (read_ca_for_leaf(certs_dir, &ca, err) < 0)
        goto cleanup;
    ret = leaf_with_ca(&ca, req, err);
cleanup:
    ca_release(&ca);
    mk_unlock(fd);
    return ret;
}

int mk_pki_check_leaf(const char *certs_dir, const struct mk_cert_req *req, char **why,
                      struct mk_error **err)
{
    struct ca ca = {0};
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int ret = -1;
    if (read_ca_for_leaf(certs_dir, &ca, err) < 0)
        return -1;
    if (load_pem(req->cert_path, false, (void **)&cert, err) < 0 ||
        load_pem(req->key_path, true, (void **)&key, err) < 0)
        goto cleanup;
    const char *p = leaf_problem(req, ca.cert, cert, key);
    *why = xstrdup(p ? p : "");
    ret = 0;
cleanup:
    X509_free(cert);
    EVP_PKEY_free(key);
    ca_release(&ca);
    return ret;
}

/* ---- a whole profile ---- */

int mk_pki_ensure_profile(const char *home, const char *profile, const char *machine_dir,
                          const char *const *extra_ips, struct mk_error **err)
{
    mk_autofree char *certs = xasprintf("%s/certs", home);
    mk_autofree char *pdir = xasprintf("%s/profiles/%s", home, profile);
    mk_autofree char *api_crt = xasprintf("%s/apiserver.crt", pdir);
    mk_autofree char *api_key = xasprintf("%s/apiserver.key", pdir);
    mk_autofree char *cl_crt = xasprintf("%s/client.crt", pdir);
    mk_autofree char *cl_key = xasprintf("%s/client.key", pdir);
    mk_autofree char *ca_crt = xasprintf("%s/ca.crt", certs);
    mk_autofree char *ca_pem = xasprintf("%s/ca.pem", certs);
    mk_autofree char *dk_crt = xasprintf("%s/cert.pem", certs);
    mk_autofree char *dk_key = xasprintf("%s/key.pem", certs);
    mk_autostrv char **dns = NULL, **ips = NULL, **docker_dns = NULL, **docker_ips = NULL;
    static const char *const api_dns[] = {
        "localhost",
        "control-plane.mkube.internal",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    };
    static const char *const api_ips[] = {"127.0.0.1", "10.96.0.1", "10.0.0.1"};
    struct ca ca = {0};
    int fd = -1, ret = -1;

    for (size_t i = 0; i < MK_ARRAY_SIZE(api_dns); i++)
        dns = mk_strv_push(dns, api_dns[i]);
    dns = mk_strv_push(dns, profile); /* the guest's hostname */
    for (size_t i = 0; i < MK_ARRAY_SIZE(api_ips); i++)
        ips = mk_strv_push(ips, api_ips[i]);
    docker_dns = mk_strv_push(docker_dns, "localhost");
    docker_dns = mk_strv_push(docker_dns, profile);
    docker_ips = mk_strv_push(docker_ips, "127.0.0.1");
    for (size_t i = 0; extra_ips && extra_ips[i]; i++) {
        ips = mk_strv_push(ips, extra_ips[i]);
        docker_ips = mk_strv_push(docker_ips, extra_ips[i]);
    }

    if (mk_mkdir_p(pdir, 0700, err) < 0)
        return mk_error_wrap(err, "cannot prepare certificates for profile %s", profile);
    if (machine_dir && mk_mkdir_p(machine_dir, 0700, err) < 0)
        return mk_error_wrap(err, "cannot prepare certificates for profile %s", profile);
    if (lock_certs(certs, &fd, err) < 0)
        goto cleanup;
    if (ensure_ca_locked(certs, &ca, err) < 0)
        goto cleanup;

    const struct mk_cert_req reqs[] = {
        {api_crt, api_key, "kube-apiserver", NULL, (const char *const *)dns,
         (const char *const *)ips, true, false},
        {cl_crt, cl_key, "mkube-user", "system:masters", NULL, NULL, false, true},
        {dk_crt, dk_key, "mkube-docker-client", NULL, NULL, NULL, false, true},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(reqs); i++)
        if (leaf_with_ca(&ca, &reqs[i], err) < 0)
            goto cleanup;
    if (write_same_bytes(ca_crt, ca_pem, 0644, err) < 0)
        goto cleanup;
    if (machine_dir) {
        mk_autofree char *sv_crt = xasprintf("%s/server.pem", machine_dir);
        mk_autofree char *sv_key = xasprintf("%s/server-key.pem", machine_dir);
        const struct mk_cert_req sv = {sv_crt,
                                       sv_key,
                                       profile,
                                       NULL,
                                       (const char *const *)docker_dns,
                                       (const char *const *)docker_ips,
                                       true,
                                       false};
        if (leaf_with_ca(&ca, &sv, err) < 0)
            goto cleanup;
    }
    ret = 0;
cleanup:
    ca_release(&ca);
    mk_unlock(fd);
    if (ret < 0)
        mk_error_wrap(err, "cannot prepare certificates for profile %s", profile);
    return ret;
}
