/* vboxparse.c - reading VBoxManage output and error texts (see vboxparse.h). */
#include "vboxparse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../launcher/buf.h"

int mk_vbox_parse_version(const char *out, struct mk_vbox_version *v)
{
    memset(v, 0, sizeof(*v));
    if (!out)
        return -1;
    /* the version is the last line that starts with a digit */
    const char *found = NULL;
    for (const char *line = out; line && *line;) {
        while (*line == '\r' || *line == '\n' || *line == ' ' || *line == '\t')
            line++;
        if (isdigit((unsigned char)*line))
            found = line;
        line = strchr(line, '\n');
    }
    if (!found)
        return -1;
    unsigned a = 0, b = 0, c = 0;
    int used = 0;
    if (sscanf(found, "%u.%u.%u%n", &a, &b, &c, &used) != 3)
        return -1;
    v->major = a;
    v->minor = b;
    v->patch = c;
    /* "r161095", "_Ubuntur161033", "_RPMFusionr160000": the revision follows the last 'r' */
    const char *end = found + used;
    const char *eol = end + strcspn(end, "\r\n");
    for (const char *p = eol; p > end; p--) {
        if (p[-1] == 'r' && isdigit((unsigned char)*p)) {
            v->revision = (unsigned)strtoul(p, NULL, 10);
            break;
        }
    }
    return 0;
}

bool mk_vbox_version_supported(const struct mk_vbox_version *v)
{
    return v->major > MK_VBOX_MIN_MAJOR ||
           (v->major == MK_VBOX_MIN_MAJOR && v->minor >= MK_VBOX_MIN_MINOR);
}

/* Does line start with key followed by '=' (key possibly quoted)? Returns
 * the value start or NULL. */
static const char *match_key(const char *line, const char *key)
{
    size_t n = strlen(key);
    if (*line == '"') {
        if (strncmp(line + 1, key, n) == 0 && line[n + 1] == '"' && line[n + 2] == '=')
            return line + n + 3;
        return NULL;
    }
    if (strncmp(line, key, n) == 0 && line[n] == '=')
        return line + n + 1;
    return NULL;
}

char *mk_vbox_info_get(const char *out, const char *key)
{
    for (const char *line = out; line && *line;) {
        const char *val = match_key(line, key);
        const char *eol = line + strcspn(line, "\n");
        if (val) {
            struct mk_buf b = MK_BUF_INIT;
            mk_buf_init(&b);
            if (*val == '"') {
                for (const char *p = val + 1; p < eol && *p != '"'; p++) {
                    if (*p == '\\' && p + 1 < eol)
                        p++;
                    mk_buf_add(&b, p, 1);
                }
            } else {
                size_t len = (size_t)(eol - val);
                while (len && (val[len - 1] == '\r' || val[len - 1] == ' '))
                    len--;
                mk_buf_add(&b, val, len);
            }
            return mk_buf_detach(&b);
        }
        line = *eol ? eol + 1 : NULL;
    }
    return NULL;
}

static const struct {
    const char *word;
    enum mk_vm_state state;
    bool live;
} vbox_states[] = {
    {"running", MK_VM_RUNNING, true},
    {"poweroff", MK_VM_STOPPED, false},
    {"saved", MK_VM_STOPPED, false},
    {"aborted", MK_VM_ERROR, false},
    {"aborted-saved", MK_VM_ERROR, false},
    {"paused", MK_VM_STARTING, true},
    {"starting", MK_VM_STARTING, true},
    {"restoring", MK_VM_STARTING, true},
    {"teleportingin", MK_VM_STARTING, true},
    {"stopping", MK_VM_RUNNING, true},
    {"saving", MK_VM_RUNNING, true},
    {"livesnapshotting", MK_VM_RUNNING, true},
    {"teleporting", MK_VM_RUNNING, true},
    {"teleportingpausedvm", MK_VM_RUNNING, true},
    {"gurumeditation", MK_VM_ERROR, true},
    {"stuck", MK_VM_ERROR, true},
    {"onlinesnapshotting", MK_VM_RUNNING, true},
};

int mk_vbox_parse_state(const char *out, enum mk_vm_state *st, char **raw)
{
    char *word = mk_vbox_info_get(out, "VMState");
    if (raw)
        *raw = NULL;
    if (!word || !*word) {
        free(word);
        return -1;
    }
    *st = MK_VM_ERROR; /* a state this driver does not know */
    for (size_t i = 0; i < MK_ARRAY_SIZE(vbox_states); i++)
        if (strcmp(vbox_states[i].word, word) == 0)
            *st = vbox_states[i].state;
    if (raw)
        *raw = word;
    else
        free(word);
    return 0;
}

bool mk_vbox_state_is_live(const char *raw)
{
    for (size_t i = 0; raw && i < MK_ARRAY_SIZE(vbox_states); i++)
        if (strcmp(vbox_states[i].word, raw) == 0)
            return vbox_states[i].live;
    return false;
}

/* Split "a,b,,d" into at most n fields (empty fields kept). */
static int split_commas(char *s, char **fields, int n)
{
    int k = 0;
    while (k < n) {
        fields[k++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return k;
}

int mk_vbox_parse_forwards(const char *out, struct mk_vbox_rule *rules, int max)
{
    int n = 0;
    for (int i = 0; i < 64 && n < max; i++) {
        char key[32];
        snprintf(key, sizeof(key), "Forwarding(%d)", i);
        mk_autofree char *val = mk_vbox_info_get(out, key);
        if (!val)
            break;
        char *f[6];
        if (split_commas(val, f, 6) != 6)
            continue;
        struct mk_vbox_rule *r = &rules[n];
        memset(r, 0, sizeof(*r));
        snprintf(r->name, sizeof(r->name), "%s", f[0]);
        snprintf(r->proto, sizeof(r->proto), "%s", f[1]);
        snprintf(r->host_ip, sizeof(r->host_ip), "%s", f[2]);
        r->host_port = (unsigned)strtoul(f[3], NULL, 10);
        snprintf(r->guest_ip, sizeof(r->guest_ip), "%s", f[4]);
        r->guest_port = (unsigned)strtoul(f[5], NULL, 10);
        n++;
    }
    return n;
}

int mk_vbox_hostinfo_hwvirt(const char *out)
{
    const char *key = "Processor supports HW virtualization:";
    const char *p = out ? strstr(out, key) : NULL;
    if (!p)
        return -1;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    return strncmp(p, "yes", 3) == 0 ? 1 : 0;
}

enum mk_vbox_err mk_vbox_classify_error(const char *t)
{
    if (!t || !*t)
        return MK_VBOX_ERR_OTHER;
    if (strstr(t, "VERR_VMX_IN_VMX_ROOT_MODE") || strstr(t, "VERR_SVM_IN_USE") ||
        strstr(t, "is being used by another hypervisor"))
        return MK_VBOX_ERR_VMX_ROOT;
    if (strstr(t, "VERR_VMX_NO_VMX") || strstr(t, "VERR_SVM_NO_SVM") ||
        strstr(t, "VERR_VMX_MSR_ALL_VMX_DISABLED") || strstr(t, "VERR_VMX_MSR_VMX_DISABLED") ||
        strstr(t, "VERR_SVM_DISABLED") || strstr(t, "VERR_NEM_NOT_AVAILABLE") ||
        strstr(t, "VT-x is not available") || strstr(t, "AMD-V is not available"))
        return MK_VBOX_ERR_NO_HWVIRT;
    if (strstr(t, "Could not find a registered machine") || strstr(t, "VBOX_E_OBJECT_NOT_FOUND"))
        return MK_VBOX_ERR_NOT_FOUND;
    if (strstr(t, "is already locked") || strstr(t, "object is not ready") ||
        (strstr(t, "VBOX_E_INVALID_OBJECT_STATE") && strstr(t, "lock")))
        return MK_VBOX_ERR_LOCKED;
    if (strstr(t, "is not currently running") || strstr(t, "is not running"))
        return MK_VBOX_ERR_NOT_RUNNING;
    if (strstr(t, "already exists"))
        return MK_VBOX_ERR_EXISTS;
    return MK_VBOX_ERR_OTHER;
}

char *mk_vbox_error_message(const char *t)
{
    if (!t)
        return NULL;
    const char *tag = "error: ";
    const char *last = NULL;
    for (const char *line = t; *line;) {
        const char *eol = line + strcspn(line, "\n");
        const char *e = strstr(line, tag);
        if (e && e < eol && strncmp(e + strlen(tag), "Details:", 8) != 0 &&
            strncmp(e + strlen(tag), "Context:", 8) != 0) {
            const char *m = e + strlen(tag);
            size_t len = (size_t)(eol - m);
            while (len && (m[len - 1] == '\r' || m[len - 1] == ' '))
                len--;
            return xstrndup(m, len);
        }
        const char *s = line;
        while (s < eol && isspace((unsigned char)*s))
            s++;
        if (s < eol)
            last = line;
        line = *eol ? eol + 1 : eol;
    }
    if (!last)
        return NULL;
    size_t len = strcspn(last, "\n");
    while (len && (last[len - 1] == '\r' || last[len - 1] == ' '))
        len--;
    return xstrndup(last, len);
}
