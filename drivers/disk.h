/* disk.h - the data disk: a raw or qcow2 image whose first bytes are a tar
 * (the boot2docker convention, with mkube's magic).
 *
 * The tar's first entry is a regular file named "mkube, please format-me";
 * then .ssh/authorized_keys (the user's public key, mode 0600) and
 * mkube/hostname. On first boot the guest sees the magic, keeps the tar's
 * files, formats the disk as ext4 (label mkube-data) and restores them; later
 * boots just mount it. The rest of the disk is a hole, so a 20 GB disk costs a
 * few KiB until the guest writes. VirtualBox (convertfromraw) and Hyper-V
 * reuse mk_disk_write_tar / mk_disk_create_raw. */
#ifndef MK_DISK_H
#define MK_DISK_H

#include <stdint.h>

#include "../launcher/error.h"

#define MK_DISK_MAGIC "mkube, please format-me"

/* Write the tar at the current offset of fd (libarchive, ustar format). */
int mk_disk_write_tar(int fd, const char *pubkey_line, const char *hostname,
                      struct mk_error **err);
/* A sparse raw image of size_mib MiB starting with the tar. */
int mk_disk_create_raw(const char *path, uint64_t size_mib, const char *pubkey_line,
                       const char *hostname, struct mk_error **err);
/* The same as qcow2 (raw written beside it, converted with qemu-img, removed). */
int mk_disk_create(const char *path_qcow2, uint64_t size_mib, const char *pubkey_line,
                   const char *hostname, struct mk_error **err);

#endif
