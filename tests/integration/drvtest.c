/* drvtest.c - mkube-drvtest: drive one machine through the driver layer
 * (drivers/driver.h wrappers) from shell integration tests, without the CLI.
 *
 *   mkube-drvtest create NAME -d DRIVER --iso ISO [--kernel K --initrd I]
 *                 [--pubkey-file F] [--cpus N] [--memory MIB] [--disk MIB]
 *                 [--accel auto|kvm|tcg] [--uri URI] [--ssh-port P]
 *   mkube-drvtest start|stop|kill|remove|state|endpoint NAME
 *   mkube-drvtest forward NAME GUEST_PORT [HOST_PORT]
 *   mkube-drvtest probe DRIVER
 *   mkube-drvtest accel [--kernel K]          resolve auto (cached) and print it
 *   mkube-drvtest boot-files ISO              extract kernel+initrd, print paths
 *
 * Machines live in $MKUBE_HOME/machines. Errors print like mkube's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "buf.h"
#include "driver.h"
#include "error.h"
#include "fsutil.h"
#include "image.h"
#include "log.h"

static int usage(void)
{
    fputs("usage: mkube-drvtest create|start|stop|kill|remove|state|endpoint|forward NAME ...\n"
          "       mkube-drvtest probe DRIVER | accel [--kernel K] | boot-files ISO\n",
          stderr);
    return 64;
}

static int do_create(const char *machines, int argc, char **argv, struct mk_error **err)
{
    static const struct option opts[] = {
        {"driver", required_argument, 0, 'd'}, {"iso", required_argument, 0, 'i'},
        {"kernel", required_argument, 0, 'k'}, {"initrd", required_argument, 0, 'r'},
        {"pubkey-file", required_argument, 0, 'p'}, {"cpus", required_argument, 0, 'c'},
        {"memory", required_argument, 0, 'm'}, {"disk", required_argument, 0, 's'},
        {"accel", required_argument, 0, 'a'}, {"uri", required_argument, 0, 'u'},
        {"ssh-port", required_argument, 0, 'P'}, {0, 0, 0, 0},
    };
    struct mk_machine_config cfg = {.cpus = 2, .memory_mib = 2048, .disk_mib = 20000};
    const char *driver = NULL, *pubfile = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': driver = optarg; break;
        case 'i': cfg.iso_path = optarg; break;
        case 'k': cfg.kernel_path = optarg; break;
        case 'r': cfg.initrd_path = optarg; break;
        case 'p': pubfile = optarg; break;
        case 'c': cfg.cpus = (unsigned)atoi(optarg); break;
        case 'm': cfg.memory_mib = strtoull(optarg, NULL, 10); break;
        case 's': cfg.disk_mib = strtoull(optarg, NULL, 10); break;
        case 'a':
            if (mk_accel_parse(optarg, &cfg.accel, err) < 0)
                return -1;
            break;
        case 'u': cfg.libvirt_uri = optarg; break;
        case 'P': cfg.ssh_port = (unsigned)atoi(optarg); break;
        default: return mk_error_set(err, MK_EXIT_USAGE, "bad create option");
        }
    }
    if (optind >= argc)
        return mk_error_set(err, MK_EXIT_USAGE, "create needs a NAME");
    const char *name = argv[optind];
    const struct mk_driver *d = driver ? mk_driver_lookup(driver) : mk_driver_autoselect(&cfg, err);
    if (!d)
        return driver ? mk_error_set(err, MK_EXIT_USAGE, "unknown driver \"%s\"", driver) : -1;
    struct mk_buf key = MK_BUF_INIT;
    if (pubfile && mk_read_file(pubfile, &key, 65536, NULL, err) < 0) {
        mk_buf_release(&key);
        return -1;
    }
    mk_buf_rtrim(&key);
    cfg.ssh_pubkey = pubfile ? mk_buf_str(&key) : NULL;
    struct mk_machine *m = mk_machine_new(d, machines, name);
    int rc = mk_machine_create(m, &cfg, err);
    if (rc == 0)
        printf("created %s (driver %s, accel %s)\n", name, d->name, mk_accel_name(m->accel));
    mk_machine_free(m);
    mk_buf_release(&key);
    return rc;
}

static int do_machine(const char *machines, const char *verb, int argc, char **argv,
                      struct mk_error **err)
{
    if (argc < 1)
        return mk_error_set(err, MK_EXIT_USAGE, "%s needs a NAME", verb);
    struct mk_machine *m = NULL;
    if (mk_machine_load(machines, argv[0], &m, err) < 0)
        return -1;
    if (!m) {
        if (strcmp(verb, "state") == 0) {
            puts(mk_vm_state_name(MK_VM_NONEXISTENT));
            return 0;
        }
        if (strcmp(verb, "remove") == 0) {
            /* a create killed before machine.json: nothing but the folder */
            mk_autofree char *dir = xasprintf("%s/%s", machines, argv[0]);
            return mk_rm_rf(dir, err);
        }
        return mk_error_set(err, MK_EXIT_PROFILE_NOT_FOUND, "machine \"%s\" does not exist",
                            argv[0]);
    }
    int rc = -1;
    if (strcmp(verb, "start") == 0) {
        rc = mk_machine_start(m, err);
    } else if (strcmp(verb, "stop") == 0) {
        rc = mk_machine_stop(m, err);
    } else if (strcmp(verb, "kill") == 0) {
        rc = mk_machine_kill(m, err);
    } else if (strcmp(verb, "remove") == 0) {
        rc = mk_machine_remove(m, err);
    } else if (strcmp(verb, "state") == 0) {
        enum mk_vm_state st;
        rc = mk_machine_state(m, &st, err);
        if (rc == 0)
            puts(mk_vm_state_name(st));
    } else if (strcmp(verb, "endpoint") == 0) {
        struct mk_endpoint ep;
        rc = mk_machine_endpoint(m, &ep, err);
        if (rc == 0)
            printf("host=%s ssh_port=%u api_port=%u docker_port=%u user=%s guest_ip=%s\n",
                   ep.host, ep.ssh_port, ep.api_port, ep.docker_port, ep.ssh_user, ep.guest_ip);
    } else if (strcmp(verb, "forward") == 0) {
        if (argc < 2) {
            rc = mk_error_set(err, MK_EXIT_USAGE, "forward needs NAME GUEST_PORT [HOST_PORT]");
        } else {
            unsigned host = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
            rc = mk_machine_forward(m, (unsigned)atoi(argv[1]), &host, err);
            if (rc == 0)
                printf("%u\n", host);
        }
    } else {
        rc = mk_error_set(err, MK_EXIT_USAGE, "unknown verb \"%s\"", verb);
    }
    mk_machine_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const char *v = getenv("MKUBE_DRVTEST_VERBOSE");
    mk_log_init(v ? atoi(v) : 0, false);
    if (argc < 2)
        return usage();
    const char *home = getenv("MKUBE_HOME");
    if (!home || !*home) {
        fputs("mkube-drvtest: set MKUBE_HOME\n", stderr);
        return 64;
    }
    mk_autofree char *machines = xasprintf("%s/machines", home);
    mk_autofree char *cache = xasprintf("%s/cache", home);
    struct mk_error *err = NULL;
    int rc = -1;
    const char *verb = argv[1];
    if (strcmp(verb, "create") == 0) {
        rc = do_create(machines, argc - 1, argv + 1, &err);
    } else if (strcmp(verb, "probe") == 0 && argc > 2) {
        const struct mk_driver *d = mk_driver_lookup(argv[2]);
        rc = d ? d->probe(NULL, &err) : mk_error_set(&err, 64, "unknown driver \"%s\"", argv[2]);
        if (rc == 0)
            puts("usable");
    } else if (strcmp(verb, "accel") == 0) {
        const char *kernel = argc > 3 && strcmp(argv[2], "--kernel") == 0 ? argv[3] : NULL;
        enum mk_accel a;
        rc = mk_accel_resolve(cache, kernel, MK_ACCEL_AUTO, &a, &err);
        if (rc == 0)
            puts(mk_accel_name(a));
    } else if (strcmp(verb, "boot-files") == 0 && argc > 2) {
        char *k = NULL, *i = NULL;
        rc = mk_image_boot_files(argv[2], cache, &k, &i, &err);
        if (rc == 0)
            printf("%s\n%s\n", k, i);
        free(k);
        free(i);
    } else {
        rc = do_machine(machines, verb, argc - 2, argv + 2, &err);
    }
    if (rc < 0) {
        int code = mk_error_report(err);
        mk_error_free(err);
        return code;
    }
    return 0;
}
