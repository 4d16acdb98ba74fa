/* guest.h - the guest-side shell scripts compiled into mkube (launcher/guest,
 * embedded by launcher/guest/embed.cmake). */
#ifndef MK_GUEST_H
#define MK_GUEST_H

extern const char mk_guest_provision_sh[];
extern const char mk_guest_cluster_sh[];

#endif
