#!/bin/bash
# image-no-magic.sh: a disk without the mkube magic tar and without an ext4
# "mkube-data" file system must never be formatted: boot with a raw disk full
# of random bytes (and a second one holding a foreign tar) and check every
# byte is unchanged afterwards, while the VM still boots (without persistence).
TEST_NAME=image-no-magic
. "$(dirname "$0")/image-lib.sh"

setup
RANDOM_DISK="$TMP/random.raw"
TAR_DISK="$TMP/othertar.raw"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$RANDOM_DISK"
mkdir -p "$TMP/other/.ssh"
echo "not mkube" > "$TMP/other/readme"
cp "$TMP/id_ed25519.pub" "$TMP/other/.ssh/authorized_keys"
tar --format=gnu -C "$TMP/other" -cf "$TMP/other.tar" readme .ssh/authorized_keys
qemu-img create -q -f raw "$TAR_DISK" 64M
dd if="$TMP/other.tar" of="$TAR_DISK" conv=notrunc status=none
SUM_RANDOM=$(sha256sum < "$RANDOM_DISK")
SUM_TAR=$(sha256sum < "$TAR_DISK")

# The key cannot reach the VM without a data disk, so check over the serial
# console log and a poweroff by ACPI instead of ssh.
start_vm direct "$RANDOM_DISK" raw -drive "file=$TAR_DISK,format=raw,if=virtio"
deadline=$(($(date +%s) + BOOT_TIMEOUT))
until grep -q 'mkube-data: warning: nothing will persist' "$SERIAL_LOG" 2>/dev/null; do
    kill -0 "$QEMU_PID" 2>/dev/null || fail "qemu exited early"
    grep -q 'carries the mkube magic' "$SERIAL_LOG" 2>/dev/null &&
        fail "the guest took a disk without the magic for a data disk"
    [ "$(date +%s)" -lt "$deadline" ] || fail "mkube-data did not report within ${BOOT_TIMEOUT}s"
    sleep 1
done
note "guest reported: $(grep -a 'mkube-data: warning: no data disk' "$SERIAL_LOG" | tr -d '\r' | head -n1)"
# Let the rest of the boot run (sshd, docker) before stopping, so any late
# writer would have had its chance.
deadline=$(($(date +%s) + BOOT_TIMEOUT))
# (QEMU accepts on the forward at once; only sshd sends the "SSH-" banner.)
until [ "$(timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT && head -c 4 <&3" 2>/dev/null)" = SSH- ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "sshd never answered"
    sleep 1
done
note "sshd answers $(awk -v a="$(date +%s.%N)" -v b="$BOOT_T0" 'BEGIN { printf "%.1f", a - b }')s after start (no data disk)"
sleep 5
kill "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=""

[ "$(sha256sum < "$RANDOM_DISK")" = "$SUM_RANDOM" ] || fail "the random-content disk was modified"
[ "$(sha256sum < "$TAR_DISK")" = "$SUM_TAR" ] || fail "the disk holding a foreign tar was modified"
grep -q 'carries the mkube magic' "$SERIAL_LOG" && fail "the guest took a disk without the magic for a data disk"
note "both disks are byte-for-byte unchanged"
