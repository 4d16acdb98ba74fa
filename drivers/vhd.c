/* vhd.c - fixed VHD files for the hyperv driver's data disk (see vhd.h). */
#include "vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"

#define VHD_EPOCH 946684800 /* 2000-01-01 00:00:00 UTC as a Unix time */

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

void mk_vhd_geometry(uint64_t size_bytes, struct mk_vhd_geometry *g)
{
    uint64_t total = size_bytes / 512;
    uint64_t spt, heads, cth;
    if (total > 65535ull * 16 * 255)
        total = 65535ull * 16 * 255;
    if (total >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    g->cylinders = (unsigned)(cth / heads);
    g->heads = (unsigned)heads;
    g->sectors = (unsigned)spt;
}

void mk_vhd_footer(unsigned char f[MK_VHD_FOOTER_SIZE], uint64_t size_bytes, uint32_t timestamp,
                   const unsigned char uuid[16])
{
    struct mk_vhd_geometry g;
    mk_vhd_geometry(size_bytes, &g);
    memset(f, 0, MK_VHD_FOOTER_SIZE);
    memcpy(f, "conectix", 8);
    put_be(f + 8, 0x00000002, 4);           /* features: reserved bit always set */
    put_be(f + 12, 0x00010000, 4);          /* file format version 1.0 */
    put_be(f + 16, 0xffffffffffffffffull, 8); /* data offset: none for a fixed disk */
    put_be(f + 24, timestamp, 4);
    memcpy(f + 28, "mkub", 4);              /* creator application */
    put_be(f + 32, 0x00010000, 4);          /* creator version */
    memcpy(f + 36, "Wi2k", 4);              /* creator host OS: Windows */
    put_be(f + 40, size_bytes, 8);          /* original size */
    put_be(f + 48, size_bytes, 8);          /* current size */
    put_be(f + 56, g.cylinders, 2);
    f[58] = (unsigned char)g.heads;
    f[59] = (unsigned char)g.sectors;
    put_be(f + 60, 2, 4);                   /* disk type: fixed */
    memcpy(f + 68, uuid, 16);
    uint32_t sum = 0;
    for (int i = 0; i < MK_VHD_FOOTER_SIZE; i++)
        sum += f[i];
    put_be(f + 64, ~sum, 4);
}

int mk_vhd_create_fixed(const char *path, uint64_t size_mib, const char *pubkey_line,
                        const char *hostname, struct mk_error **err)
{
    if (mk_disk_create_raw(path, size_mib, pubkey_line, hostname, err) < 0)
        return -1;
    unsigned char uuid[16], footer[MK_VHD_FOOTER_SIZE];
    if (RAND_bytes(uuid, sizeof(uuid)) != 1)
        memset(uuid, 0x5a, sizeof(uuid));
    uuid[6] = (unsigned char)((uuid[6] & 0x0f) | 0x40); /* a version 4 UUID */
    uuid[8] = (unsigned char)((uuid[8] & 0x3f) | 0x80);
    time_t now = time(NULL);
    mk_vhd_footer(footer, size_mib << 20, (uint32_t)(now > VHD_EPOCH ? now - VHD_EPOCH : 0), uuid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        mk_error_errno(err, errno, "cannot open the disk %s", path);
        goto fail;
    }
    if (lseek(fd, (off_t)(size_mib << 20), SEEK_SET) < 0 ||
        write(fd, footer, sizeof(footer)) != (ssize_t)sizeof(footer) || fsync(fd) < 0) {
        mk_error_errno(err, errno, "cannot write the VHD footer of %s", path);
        close(fd);
        goto fail;
    }
    close(fd);
    return 0;
fail:
    unlink(path);
    return -1;
}
