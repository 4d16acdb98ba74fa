/* libvirt.h - what the libvirt driver exposes besides mk_driver_libvirt: the
 * domain XML it defines, for golden-file tests and `virsh dumpxml` readers.
 *
 * The domain of machine NAME is called "mkube-NAME". */
#ifndef MK_LIBVIRT_H
#define MK_LIBVIRT_H

#include <stdbool.h>
#include <sys/types.h>

#include "driver.h"

#define MK_LIBVIRT_DEFAULT_URI "qemu:///system"

struct mk_libvirt_xml_opts {
    /* qemu:///system: QEMU runs with a static DAC label of uid:gid (the
     * invoking user) and no relabeling, so it reads the user's 0700 home and
     * never chowns the user's files. Session URIs need no label. */
    bool system;
    uid_t uid;
    gid_t gid;
    const char *uuid; /* keep an existing domain's UUID when redefining, or NULL */
};

char *mk_libvirt_domain_name(const struct mk_machine *m);
char *mk_libvirt_domain_xml(const struct mk_machine *m, const struct mk_libvirt_xml_opts *o);

#endif
