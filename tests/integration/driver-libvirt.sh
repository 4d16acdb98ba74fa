#!/bin/bash
# driver-libvirt.sh - the libvirt driver end to end under a real libvirtd
# (qemu:///system; started here if it is not running) and QEMU: the same
# scenario as driver-qemu.sh, plus the domain must be gone after delete.
DRIVER=libvirt
. "$(dirname "$0")/lib/driver-common.sh"
if ! virsh -q -c qemu:///system version >/dev/null 2>&1; then
    say "starting virtlogd and libvirtd"
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
    for i in $(seq 1 50); do virsh -q -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
fi
"$DRVTEST" probe libvirt >/dev/null || fail "libvirt is not usable"
run_scenario
