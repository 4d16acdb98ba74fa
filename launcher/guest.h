/* guest.h - the guest-side scripts compiled into mkube (launcher/guest/*.sh,
 * embedded by launcher/guest/embed.cmake). */
#ifndef MK_GUEST_H
#define MK_GUEST_H

extern const char mk_guest_provision_sh[];
extern const char mk_guest_cluster_sh[];

#endif
