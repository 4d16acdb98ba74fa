/* validate.c - input checking and normalisation (see validate.h). */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "driver.h"

/* Binary unit -> shift relative to KiB (so that "k" needs no fraction). */
static const struct {
    const char *unit;
    unsigned shift_kib;
} size_units[] = {
    {"", 10},  {"m", 10},  {"mb", 10},  {"mib", 10}, {"k", 0},   {"kb", 0},   {"kib", 0},
    {"g", 20}, {"gb", 20}, {"gib", 20}, {"t", 30},   {"tb", 30}, {"tib", 30},
};

static int size_syntax(const char *s, const char *what, struct mk_error **err)
{
    return mk_error_set(err, MK_EXIT_USAGE,
                        "invalid %s \"%s\": expected a number with an optional unit "
                        "(2048, 2048mb, 2g)",
                        what, s);
}

int mk_parse_size_mib_what(const char *s, const char *what, uint64_t *mib, struct mk_error **err)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return size_syntax(s ? s : "", what, err);
    const char *p = s;
    uint64_t whole = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (whole > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            whole = whole * 10 + d;
    }
    uint64_t frac = 0, frac_scale = 1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return size_syntax(s, what, err);
        for (; isdigit((unsigned char)*p); p++) {
            if (frac_scale < 1000000000u) { /* nine digits are plenty */
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
        }
    }
    int unit = -1;
    for (size_t i = 0; i < MK_ARRAY_SIZE(size_units); i++)
        if (strcasecmp(p, size_units[i].unit) == 0)
            unit = (int)i;
    if (unit < 0)
        return size_syntax(s, what, err);
    unsigned shift = size_units[unit].shift_kib;
    if (overflow || whole > (UINT64_MAX >> shift))
        return mk_error_set(err, MK_EXIT_USAGE, "invalid %s \"%s\": the number is too large", what,
                            s);
    uint64_t kib = (whole << shift) + (frac << shift) / frac_scale;
    if (kib / 1024 == 0)
        return mk_error_set(err, MK_EXIT_USAGE, "invalid %s \"%s\": must be at least 1 MiB", what,
                            s);
    *mib = kib / 1024;
    return 0;
}

int mk_parse_size_mib(const char *s, uint64_t *mib, struct mk_error **err)
{
    return mk_parse_size_mib_what(s, "size", mib, err);
}

uint64_t mk_host_memory_mib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return UINT64_MAX; /* unknown: do not reject */
    return (uint64_t)pages * (uint64_t)page / (1024 * 1024);
}

unsigned mk_host_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* shown: how the value appears in messages ("\"4g\"" or "4096 MiB") */
static int check_memory(uint64_t mib, const char *shown, struct mk_error **err)
{
    if (mib < MK_MIN_MEMORY_MIB)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid memory size %s: less than the minimum of %u MiB", shown,
                            MK_MIN_MEMORY_MIB);
    uint64_t host = mk_host_memory_mib();
    if (mib > host)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid memory size %s: more than this host has (%" PRIu64 " MiB)",
                            shown, host);
    return 0;
}

static int check_disk(uint64_t mib, const char *shown, struct mk_error **err)
{
    if (mib < MK_MIN_DISK_MIB)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid disk size %s: less than the minimum of %u MiB", shown,
                            MK_MIN_DISK_MIB);
    return 0;
}

int mk_validate_memory(uint64_t mib, struct mk_error **err)
{
    mk_autofree char *shown = xasprintf("%" PRIu64 " MiB", mib);
    return check_memory(mib, shown, err);
}

int mk_validate_disk(uint64_t mib, struct mk_error **err)
{
    mk_autofree char *shown = xasprintf("%" PRIu64 " MiB", mib);
    return check_disk(mib, shown, err);
}

int mk_parse_memory(const char *s, uint64_t *mib, struct mk_error **err)
{
    uint64_t v;
    if (mk_parse_size_mib_what(s, "memory size", &v, err) < 0)
        return -1;
    mk_autofree char *shown = xasprintf("\"%s\"", s);
    if (check_memory(v, shown, err) < 0)
        return -1;
    *mib = v;
    return 0;
}

int mk_parse_disk(const char *s, uint64_t *mib, struct mk_error **err)
{
    uint64_t v;
    if (mk_parse_size_mib_what(s, "disk size", &v, err) < 0)
        return -1;
    mk_autofree char *shown = xasprintf("\"%s\"", s);
    if (check_disk(v, shown, err) < 0)
        return -1;
    *mib = v;
    return 0;
}

int mk_validate_cpus(unsigned long n, struct mk_error **err)
{
    unsigned host = mk_host_cpus();
    if (n < 1 || n > host)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid number of CPUs %lu: this host allows 1 to %u", n, host);
    return 0;
}

int mk_parse_cpus(const char *s, unsigned *cpus, struct mk_error **err)
{
    const char *p = s ? s : "";
    bool digits = *p != '\0';
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            digits = false;
    if (!digits || strlen(p) > 6)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid number of CPUs \"%s\": expected a whole number", p);
    unsigned long n = strtoul(p, NULL, 10);
    if (mk_validate_cpus(n, err) < 0)
        return -1;
    *cpus = (unsigned)n;
    return 0;
}

int mk_validate_profile_name(const char *name, struct mk_error **err)
{
    const char *n = name ? name : "";
    size_t len = strlen(n);
    bool ok =
        len >= 1 && len <= 63 && (islower((unsigned char)n[0]) || isdigit((unsigned char)n[0]));
    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (!(c >= 'a' && c <= 'z') && !isdigit(c) && c != '-')
            ok = false;
    }
    if (!ok)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid profile name \"%s\": use 1 to 63 lowercase letters, digits "
                            "and dashes, starting with a letter or digit",
                            n);
    return 0;
}

/* One version component: 1-5 digits, no leading zero. */
static const char *version_number(const char *p)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    if (p[0] == '0' && isdigit((unsigned char)p[1]))
        return NULL;
    size_t n = 0;
    while (isdigit((unsigned char)p[n]))
        n++;
    return n <= 5 ? p + n : NULL;
}

int mk_validate_k8s_version(const char *s, char **normalized, struct mk_error **err)
{
    const char *in = s ? s : "";
    const char *p = in;
    if (*p == 'v' || *p == 'V')
        p++;
    const char *core = p;
    bool ok = true;
    for (int i = 0; ok && i < 3; i++) {
        p = version_number(p);
        if (!p)
            ok = false;
        else if (i < 2 && *p++ != '.')
            ok = false;
    }
    if (ok && *p == '-') { /* pre-release: -rc.1, -alpha.0 */
        const char *q = p + 1;
        ok = *q != '\0';
        for (; ok && *q; q++)
            if (!isalnum((unsigned char)*q) && *q != '.')
                ok = false;
    } else if (ok && *p != '\0') {
        ok = false;
    }
    if (!ok)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid Kubernetes version \"%s\": expected vMAJOR.MINOR.PATCH "
                            "(e.g. v1.37.2)",
                            in);
    if (normalized)
        *normalized = xasprintf("v%s", core);
    return 0;
}

int mk_validate_driver(const char *name, struct mk_error **err)
{
    const char *n = name ? name : "";
    if (!*n || mk_driver_lookup(n))
        return 0;
    mk_autobuf struct mk_buf known = MK_BUF_INIT;
    for (size_t i = 0; mk_drivers[i]; i++)
        mk_buf_addf(&known, "%s%s", i ? ", " : "", mk_drivers[i]->name);
    return mk_error_set(err, MK_EXIT_USAGE, "invalid driver \"%s\": expected one of %s", n,
                        mk_buf_str(&known));
}

int mk_validate_runtime(const char *name, struct mk_error **err)
{
    const char *n = name ? name : "";
    if (strcmp(n, "docker") == 0 || strcmp(n, "containerd") == 0)
        return 0;
    return mk_error_set(err, MK_EXIT_USAGE,
                        "invalid container runtime \"%s\": expected docker or containerd", n);
}

int mk_parse_duration_s(const char *s, unsigned *secs, struct mk_error **err)
{
    const char *p = s ? s : "";
    uint64_t total = 0;
    bool ok = isdigit((unsigned char)*p);
    bool plain = true;
    while (ok && *p) {
        uint64_t n = 0;
        if (!isdigit((unsigned char)*p)) {
            ok = false;
            break;
        }
        for (; isdigit((unsigned char)*p); p++) {
            n = n * 10 + (uint64_t)(*p - '0');
            if (n > UINT_MAX)
                ok = false;
        }
        uint64_t mult = 1;
        if (*p == 'h')
            mult = 3600;
        else if (*p == 'm')
            mult = 60;
        else if (*p == 's')
            mult = 1;
        else if (*p != '\0' || !plain)
            ok = false;
        if (*p)
            p++;
        plain = false;
        total += n * mult;
        if (total > UINT_MAX)
            ok = false;
    }
    if (!ok)
        return mk_error_set(err, MK_EXIT_USAGE,
                            "invalid duration \"%s\": expected seconds or a duration such as "
                            "900s, 15m, 1h30m",
                            s ? s : "");
    if (total == 0)
        return mk_error_set(err, MK_EXIT_USAGE, "invalid duration \"%s\": must be more than 0", s);
    *secs = (unsigned)total;
    return 0;
}

int mk_parse_bool(const char *s, bool *b, struct mk_error **err)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    const char *v = s ? s : "";
    for (size_t i = 0; i < MK_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return mk_error_set(err, MK_EXIT_USAGE, "invalid boolean \"%s\": expected true or false", v);
}

int mk_parse_port(const char *s, bool allow_zero, unsigned *port, struct mk_error **err)
{
    const char *v = s ? s : "";
    bool ok = *v && strlen(v) <= 5;
    for (const char *q = v; ok && *q; q++)
        if (!isdigit((unsigned char)*q))
            ok = false;
    unsigned long n = ok ? strtoul(v, NULL, 10) : 0;
    if (!ok || n > 65535 || (n == 0 && !allow_zero))
        return mk_error_set(err, MK_EXIT_USAGE, "invalid port \"%s\": expected %s to 65535", v,
                            allow_zero ? "0 (pick a free one)" : "1");
    *port = (unsigned)n;
    return 0;
}

int mk_validate_url(const char *s, const char *what, struct mk_error **err)
{
    const char *v = s ? s : "";
    static const char *const schemes[] = {"http://", "https://", "file://"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(schemes); i++)
        if (strncasecmp(v, schemes[i], strlen(schemes[i])) == 0 && strlen(v) > strlen(schemes[i]))
            return 0;
    if (*v && !strstr(v, "://") && !strchr(v, '\n'))
        return 0; /* a plain path */
    return mk_error_set(err, MK_EXIT_USAGE,
                        "invalid %s \"%s\": expected an http://, https:// or file:// URL or a "
                        "path",
                        what, v);
}
