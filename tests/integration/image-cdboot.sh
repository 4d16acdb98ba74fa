#!/bin/bash
# image-cdboot.sh: boot mkube.iso as a CD with no -kernel, as VirtualBox and
# Hyper-V do: SeaBIOS (i440fx, IDE CD, e1000 NIC, SATA data disk) and UEFI
# (OVMF on q35, AHCI CD). Both must reach ssh. Set MKUBE_CDBOOT_UEFI=0 to skip
# the UEFI boot.
TEST_NAME=image-cdboot
. "$(dirname "$0")/image-lib.sh"

setup
DISK="$TMP/data.qcow2"

make_data_disk "$DISK" 2G qcow2
NIC_MODEL=e1000 DISK_IF=ide start_vm bios "$DISK" qcow2 -M pc
wait_ssh
BIOS_SECS=$BOOT_SECS
vm_ssh grep -q 'console=ttyS0' /proc/cmdline || fail "the GRUB menu entry did not pass console=ttyS0"
vm_ssh findmnt -n /mnt/mkube-data >/dev/null || fail "the data disk is not mounted (BIOS boot)"
stop_vm

if [ "${MKUBE_CDBOOT_UEFI:-1}" != 0 ]; then
    make_data_disk "$DISK" 2G qcow2
    NIC_MODEL=e1000 DISK_IF=ide start_vm uefi "$DISK" qcow2 -M q35
    wait_ssh
    UEFI_SECS=$BOOT_SECS
    vm_ssh test -d /sys/firmware/efi || fail "the UEFI boot did not run under EFI"
    vm_ssh findmnt -n /mnt/mkube-data >/dev/null || fail "the data disk is not mounted (UEFI boot)"
    stop_vm
    note "boot-to-ssh from CD: BIOS ${BIOS_SECS}s, UEFI ${UEFI_SECS}s"
else
    note "boot-to-ssh from CD: BIOS ${BIOS_SECS}s (UEFI skipped)"
fi
