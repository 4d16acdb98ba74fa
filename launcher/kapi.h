/* kapi.h - a small Kubernetes API client over libcurl: GET/POST JSON with the
 * profile's client certificate. Used by the waits, status and service. */
#ifndef MK_KAPI_H
#define MK_KAPI_H

#include <jansson.h>
#include <time.h>

#include "buf.h"
#include "error.h"

struct mk_kapi {
    char *server; /* https://127.0.0.1:PORT */
    char *ca_path;
    char *cert_path;
    char *key_path;
    int timeout_ms; /* per request; 0 = 10 s */
};

/* GET path; *code gets the HTTP status (0 when the connection failed, then
 * err says why and -1 is returned). */
int mk_kapi_get(const struct mk_kapi *k, const char *path, long *code, struct mk_buf *body,
                struct mk_error **err);
/* GET path expecting 200 and a JSON body. */
int mk_kapi_get_json(const struct mk_kapi *k, const char *path, json_t **out,
                     struct mk_error **err);
/* Request with a JSON body (method "POST", "PATCH" with merge-patch, "DELETE"). */
int mk_kapi_send_json(const struct mk_kapi *k, const char *method, const char *path,
                      const char *json_body, long *code, struct mk_buf *resp,
                      struct mk_error **err);
void mk_kapi_release(struct mk_kapi *k);
/* RFC 3339 UTC as the API server writes it ("2026-11-28T14:07:05Z", with or
 * without fractions) to a time_t; -1 on anything else. */
int mk_kapi_parse_time(const char *s, time_t *out);

#endif
