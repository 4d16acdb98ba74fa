/* image.h - the mkube VM image (mkube.iso): checks, and the kernel and initrd
 * read out of it for direct kernel boot.
 *
 * The ISO carries /boot/vmlinuz and /boot/initrd.img. libarchive reads them
 * from the ISO9660 filesystem into <cache_dir>/iso/<key>/, where key is the
 * ISO's sha256 (from <iso>.sha256 when it is there, else computed), so an
 * image is read once and a new image never reuses an old kernel. */
#ifndef MK_IMAGE_H
#define MK_IMAGE_H

#include "error.h"

#define MK_IMAGE_KERNEL "boot/vmlinuz"
#define MK_IMAGE_INITRD "boot/initrd.img"

/* The ISO exists, is readable and matches <iso>.sha256 when that file exists. */
int mk_image_verify(const char *iso_path, struct mk_error **err);

/* Extract (or find cached) kernel and initrd; *kernel and *initrd are paths the
 * caller frees. */
int mk_image_boot_files(const char *iso_path, const char *cache_dir, char **kernel, char **initrd,
                        struct mk_error **err);

#endif
