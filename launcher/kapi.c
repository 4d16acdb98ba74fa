/* kapi.c - Kubernetes API requests through libcurl with client-cert TLS (see kapi.h). */
#include "kapi.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct mk_buf *b = data;
    if (mk_buf_add(b, ptr, size * nmemb) < 0)
        return 0;
    return size * nmemb;
}

static int request(const struct mk_kapi *k, const char *method, const char *path,
                   const char *json_body, long *code, struct mk_buf *body, struct mk_error **err)
{
    static bool inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    *code = 0;
    CURL *c = curl_easy_init();
    if (!c)
        return mk_error_set(err, MK_EXIT_FAILURE, "cannot initialise libcurl");
    mk_autofree char *url = xasprintf("%s%s", k->server, path);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (json_body) {
        hdr = curl_slist_append(hdr, mk_streq(method, "PATCH")
                                         ? "Content-Type: application/merge-patch+json"
                                         : "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_path);
    curl_easy_setopt(c, CURLOPT_SSLCERT, k->cert_path);
    curl_easy_setopt(c, CURLOPT_SSLKEY, k->key_path);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(k->timeout_ms ? k->timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return mk_error_set(err, MK_EXIT_UNAVAILABLE, "cannot reach the API server at %s: %s",
                            k->server, *errbuf ? errbuf : curl_easy_strerror(rc));
    return 0;
}

int mk_kapi_get(const struct mk_kapi *k, const char *path, long *code, struct mk_buf *body,
                struct mk_error **err)
{
    return request(k, "GET", path, NULL, code, body, err);
}

int mk_kapi_get_json(const struct mk_kapi *k, const char *path, json_t **out, struct mk_error **err)
{
    mk_autobuf struct mk_buf body = MK_BUF_INIT;
    long code = 0;
    if (request(k, "GET", path, NULL, &code, &body, err) < 0)
        return -1;
    if (code != 200) {
        mk_buf_rtrim(&body);
        return mk_error_set(err, MK_EXIT_FAILURE, "GET %s: HTTP %ld: %.200s", path, code,
                            mk_buf_str(&body));
    }
    json_error_t je;
    *out = json_loadb(body.buf ? body.buf : "", body.len, 0, &je);
    if (!*out)
        return mk_error_set(err, MK_EXIT_FAILURE, "GET %s: invalid JSON: %s", path, je.text);
    return 0;
}

int mk_kapi_send_json(const struct mk_kapi *k, const char *method, const char *path,
                      const char *json_body, long *code, struct mk_buf *resp, struct mk_error **err)
{
    return request(k, method, path, json_body, code, resp, err);
}

void mk_kapi_release(struct mk_kapi *k)
{
    free(k->server);
    free(k->ca_path);
    free(k->cert_path);
    free(k->key_path);
    memset(k, 0, sizeof(*k));
}

int mk_kapi_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    int n = 0;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *rest = s + n;
    if (*rest == '.') /* fractions (MicroTime) are dropped */
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (strcmp(rest, "Z") != 0) /* the API server writes UTC only */
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}
