/* vhd.h - a fixed-size VHD holding the data-disk tar, written from C.
 *
 * A fixed VHD is the raw disk followed by a 512-byte footer (Microsoft's
 * "Virtual Hard Disk Image Format Specification"), so the hyperv driver makes
 * the boot2docker-style disk (disk.h) without running anything on the host:
 * mk_disk_create_raw, then the footer. Hyper-V's Convert-VHD turns it into a
 * dynamic VHDX and Resize-VHD grows it. QEMU reads the same file as "vpc". */
#ifndef MK_VHD_H
#define MK_VHD_H

#include <stdint.h>

#include "../launcher/error.h"

#define MK_VHD_FOOTER_SIZE 512

struct mk_vhd_geometry {
    unsigned cylinders, heads, sectors;
};
/* The CHS geometry the specification derives from a size in bytes. */
void mk_vhd_geometry(uint64_t size_bytes, struct mk_vhd_geometry *g);

/* The footer of a fixed disk of size_bytes (a multiple of 512): timestamp is
 * seconds since 2000-01-01 00:00 UTC, uuid 16 bytes. */
void mk_vhd_footer(unsigned char out[MK_VHD_FOOTER_SIZE], uint64_t size_bytes, uint32_t timestamp,
                   const unsigned char uuid[16]);

/* A fixed VHD at path: size_mib MiB starting with the tar, then the footer. */
int mk_vhd_create_fixed(const char *path, uint64_t size_mib, const char *pubkey_line,
                        const char *hostname, struct mk_error **err);

#endif
