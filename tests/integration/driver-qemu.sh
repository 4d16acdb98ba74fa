#!/bin/bash
# driver-qemu.sh - the qemu driver (no daemon) end to end under real QEMU:
# create, SSH through the 127.0.0.1 forward, a runtime forward, stop/start
# with the same ports, kill -9 recovery, a taken port, delete leaving nothing,
# a half-killed create, and CD-ROM vs direct kernel boot timings.
DRIVER=qemu
. "$(dirname "$0")/lib/driver-common.sh"
export MKUBE_STOP_TIMEOUT=${MKUBE_STOP_TIMEOUT:-90}
run_scenario
