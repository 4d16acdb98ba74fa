/* hypervparse.c - reading the hyperv driver's PowerShell output (see hypervparse.h). */
#include "hypervparse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../launcher/buf.h"

char *mk_ps_quote(const char *s)
{
    struct mk_buf b = MK_BUF_INIT;
    mk_buf_init(&b);
    mk_buf_adds(&b, "'");
    for (; s && *s; s++)
        mk_buf_adds(&b, *s == '\'' ? "''" : (char[]){*s, 0});
    mk_buf_adds(&b, "'");
    return mk_buf_detach(&b);
}

/* Microsoft.HyperV.PowerShell.VMState (values as in Msvm_ComputerSystem.EnabledState) */
static const struct {
    const char *name;
    long value;
    enum mk_vm_state state;
} hv_states[] = {
    {"Other", 1, MK_VM_ERROR},
    {"Running", 2, MK_VM_RUNNING},
    {"Off", 3, MK_VM_STOPPED},
    {"Stopping", 4, MK_VM_RUNNING},
    {"Saved", 6, MK_VM_STOPPED},
    {"Paused", 9, MK_VM_STARTING},
    {"Starting", 10, MK_VM_STARTING},
    {"Reset", 11, MK_VM_STARTING},
    {"Saving", 32773, MK_VM_RUNNING},
    {"Pausing", 32776, MK_VM_RUNNING},
    {"Resuming", 32777, MK_VM_STARTING},
    {"FastSaved", 32779, MK_VM_STOPPED},
    {"FastSaving", 32780, MK_VM_RUNNING},
};

enum mk_vm_state mk_hv_state_from_name(const char *name)
{
    for (size_t i = 0; name && i < MK_ARRAY_SIZE(hv_states); i++)
        if (strcasecmp(hv_states[i].name, name) == 0)
            return hv_states[i].state;
    return MK_VM_ERROR; /* RunningCritical, OffCritical, ...: storage or host trouble */
}

const char *mk_hv_state_name(long value)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(hv_states); i++)
        if (hv_states[i].value == value)
            return hv_states[i].name;
    return NULL;
}

static bool blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

int mk_hv_parse_state(const char *out, bool *exists, enum mk_vm_state *st, char **raw)
{
    if (raw)
        *raw = NULL;
    *exists = false;
    if (blank(out))
        return 0;
    const char *p = out;
    while (isspace((unsigned char)*p))
        p++;
    char *name = NULL;
    if (*p == '{' || *p == '[') {
        json_error_t jerr;
        json_t *root = json_loads(p, 0, &jerr);
        json_t *obj = json_is_array(root) ? json_array_get(root, 0) : root;
        json_t *s = json_object_get(obj, "State");
        char num[32];
        if (json_is_string(s)) {
            name = xstrdup(json_string_value(s));
        } else if (json_is_integer(s)) {
            const char *n = mk_hv_state_name((long)json_integer_value(s));
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(s));
            name = xstrdup(n ? n : num);
        }
        json_decref(root);
        if (!name)
            return -1;
    } else {
        size_t len = strcspn(p, "\r\n");
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        name = xstrndup(p, len);
    }
    *exists = true;
    *st = mk_hv_state_from_name(name);
    if (raw)
        *raw = name;
    else
        free(name);
    return 0;
}

static bool usable_ipv4(const char *s, size_t len)
{
    unsigned a, b, c, d;
    char tail;
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4)
        return false;
    if (a > 255 || b > 255 || c > 255 || d > 255)
        return false;
    if (a == 0 || a == 127 || (a == 169 && b == 254) || a >= 224)
        return false;
    return true;
}

int mk_hv_pick_ipv4(const char *out, char *ip, size_t len)
{
    if (!out)
        return -1;
    const char *p = out;
    while (isspace((unsigned char)*p))
        p++;
    int rc = -1;
    if (*p == '[' || *p == '"') {
        json_t *root = json_loads(p, JSON_DECODE_ANY, NULL);
        size_t i;
        json_t *v;
        if (json_is_string(root)) {
            const char *s = json_string_value(root);
            if (usable_ipv4(s, strlen(s)) && strlen(s) < len) {
                snprintf(ip, len, "%s", s);
                rc = 0;
            }
        }
        json_array_foreach(root, i, v)
        {
            const char *s = json_string_value(v);
            if (rc < 0 && s && usable_ipv4(s, strlen(s)) && strlen(s) < len) {
                snprintf(ip, len, "%s", s);
                rc = 0;
            }
        }
        json_decref(root);
        return rc;
    }
    for (const char *line = p; *line;) {
        while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\n')
            line++;
        size_t n = strcspn(line, " \t\r\n");
        if (n && usable_ipv4(line, n) && n < len) {
            memcpy(ip, line, n);
            ip[n] = '\0';
            return 0;
        }
        line += n;
    }
    return -1;
}

static void copy_json_str(char *dst, size_t len, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        snprintf(dst, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, len, "%lld", (long long)json_integer_value(v));
    else
        dst[0] = '\0';
}

int mk_hv_parse_switches(const char *json, struct mk_hv_switch *sw, int max)
{
    if (blank(json))
        return 0;
    json_t *root = json_loads(json, 0, NULL);
    if (!root)
        return -1;
    json_t *one = json_is_object(root) ? root : NULL;
    size_t count = one ? 1 : json_array_size(root);
    int n = 0;
    for (size_t i = 0; i < count && n < max; i++) {
        json_t *o = one ? one : json_array_get(root, i);
        if (!json_is_object(o))
            continue;
        copy_json_str(sw[n].name, sizeof(sw[n].name), o, "Name");
        copy_json_str(sw[n].id, sizeof(sw[n].id), o, "Id");
        copy_json_str(sw[n].type, sizeof(sw[n].type), o, "SwitchType");
        /* VMSwitchType: Private 0, Internal 1, External 2 */
        if (strcmp(sw[n].type, "2") == 0)
            snprintf(sw[n].type, sizeof(sw[n].type), "External");
        n++;
    }
    json_decref(root);
    return n;
}

int mk_hv_choose_switch(const struct mk_hv_switch *sw, int n, const char *wanted,
                        struct mk_error **err)
{
    if (wanted && *wanted) {
        for (int i = 0; i < n; i++)
            if (strcmp(sw[i].name, wanted) == 0)
                return i;
        mk_error_set(err, MK_EXIT_USAGE, "Hyper-V has no virtual switch named \"%s\"", wanted);
        mk_error_hint(err, "list the switches with Get-VMSwitch, or leave --hyperv-switch out to "
                           "use the Default Switch");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (strcasecmp(sw[i].id, MK_HV_DEFAULT_SWITCH_ID) == 0)
            return i;
    for (int i = 0; i < n; i++)
        if (strcasecmp(sw[i].type, "External") == 0)
            return i;
    mk_error_set(err, MK_EXIT_DRIVER,
                 "Hyper-V has neither the Default Switch nor an External virtual switch");
    mk_error_hint(err, "create an External switch in Hyper-V Manager (Virtual Switch Manager) "
                       "and pass --hyperv-switch=<name>");
    return -1;
}

static int tri(const char *v)
{
    if (strncasecmp(v, "true", 4) == 0)
        return 1;
    if (strncasecmp(v, "false", 5) == 0)
        return 0;
    return -1;
}

void mk_hv_parse_probe(const char *out, struct mk_hv_probe *p)
{
    p->module_count = p->admin = p->hyperv_admin = -1;
    for (const char *line = out; line && *line;) {
        const char *eol = line + strcspn(line, "\n");
        if (strncmp(line, "module=", 7) == 0)
            p->module_count = atoi(line + 7);
        else if (strncmp(line, "admin=", 6) == 0)
            p->admin = tri(line + 6);
        else if (strncmp(line, "hyperv-admins=", 14) == 0)
            p->hyperv_admin = tri(line + 14);
        line = *eol ? eol + 1 : eol;
    }
}

enum mk_hv_err mk_hv_classify_error(const char *t)
{
    if (!t)
        return MK_HV_ERR_OTHER;
    /* without rights Hyper-V says the object "was not found" (category
     * ObjectNotFound): test for that before the real "unable to find" */
    if (strstr(t, "encountered an error trying to access an object") ||
        strstr(t, "required permission") || strstr(t, "UnauthorizedAccessException") ||
        strstr(t, "Access is denied") || strstr(t, "PermissionDenied"))
        return MK_HV_ERR_PERMISSION;
    if (strstr(t, "is not recognized as the name of a cmdlet") ||
        strstr(t, "CommandNotFoundException"))
        return MK_HV_ERR_NO_CMDLET;
    /* the message is localized; the error id is not */
    if (strstr(t, "unable to find a virtual machine with name") ||
        strstr(t, "InvalidParameter,Microsoft.HyperV.PowerShell.Commands."))
        return MK_HV_ERR_NOT_FOUND;
    return MK_HV_ERR_OTHER;
}

char *mk_hv_error_message(const char *t)
{
    for (const char *line = t; line && *line;) {
        const char *eol = line + strcspn(line, "\n");
        const char *s = line;
        while (s < eol && isspace((unsigned char)*s))
            s++;
        size_t len = (size_t)(eol - s);
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (len) {
            /* "Hyper-V\Get-VM : Hyper-V was unable to find ..." -> the message */
            const char *sep = strstr(s, " : ");
            if (sep && sep < s + len && !memchr(s, ' ', (size_t)(sep - s))) {
                len -= (size_t)(sep + 3 - s);
                s = sep + 3;
            }
            return xstrndup(s, len);
        }
        line = *eol ? eol + 1 : eol;
    }
    return NULL;
}
