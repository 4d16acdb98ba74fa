#!/bin/bash
# image-lib.sh: helpers shared by the image-*.sh integration tests: boot mkube's
# image in real QEMU (TCG), reach it over ssh on a 127.0.0.1 forward, build a
# data disk the way mkube does (a tar at offset 0 whose first entry is the
# magic file), and clean up every process and file a test made.
# Sourced, not run: running it directly does nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "image-lib.sh: helper sourced by tests/integration/image-*.sh; nothing to run"
    exit 0
fi

set -euo pipefail

readonly IMG_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly IMAGE_DIR="${MKUBE_IMAGE_DIR:-$IMG_REPO/out}"
readonly BOOT_TIMEOUT="${MKUBE_BOOT_TIMEOUT:-240}"
readonly MAGIC_NAME="mkube, please format-me"
TEST_NAME="${TEST_NAME:-$(basename "$0" .sh)}"
T0=$(date +%s)

TMP=""
QEMU_PID=""
SERIAL_LOG=""
SSH_PORT=""

note() { echo "$TEST_NAME: [+$(($(date +%s) - T0))s] $*"; }

fail() {
    echo "$TEST_NAME: FAIL: $*" >&2
    if [ -n "$SERIAL_LOG" ] && [ -f "$SERIAL_LOG" ]; then
        echo "---- last 60 lines of the serial console ($SERIAL_LOG) ----" >&2
        tail -n 60 "$SERIAL_LOG" | tr -d '\r' >&2
        echo "----" >&2
    fi
    exit 1
}

cleanup() {
    local rc=$?
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    [ -n "$TMP" ] && rm -rf "$TMP"
    if [ $rc -eq 0 ]; then
        echo "$TEST_NAME: PASS in $(($(date +%s) - T0))s"
    fi
    exit $rc
}

# Tools: QEMU, qemu-img, OpenSSH client, GNU tar; installed with apt when
# missing and we are root.
need_tools() {
    local missing=() t
    for t in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils ssh:openssh-client \
        ssh-keygen:openssh-client tar:tar "$@"; do
        command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || fail "missing tools (packages: ${missing[*]}); install them first"
    note "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null || fail "cannot install ${missing[*]}"
}

setup() {
    need_tools "$@"
    [ -f "$IMAGE_DIR/mkube.iso" ] ||
        fail "no image: $IMAGE_DIR/mkube.iso is missing (build it with iso/build-image.sh or set MKUBE_IMAGE_DIR)"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    ssh-keygen -q -t ed25519 -N "" -C "$TEST_NAME" -f "$TMP/id_ed25519"
    note "image $IMAGE_DIR/mkube.iso ($(du -h "$IMAGE_DIR/mkube.iso" | cut -f1)), work dir $TMP"
}

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    fail "no free TCP port found on 127.0.0.1"
}

# make_data_disk PATH SIZE FORMAT [HOSTNAME]: a disk that asks the guest to
# format it: GNU tar at offset 0, first entry the magic file, then
# .ssh/authorized_keys and mkube/hostname.
make_data_disk() {
    local path=$1 size=$2 format=$3 host=${4:-} ud="$TMP/userdata"
    rm -rf "$ud"
    mkdir -p "$ud/.ssh" "$ud/mkube"
    echo "mkube data disk: format me" > "$ud/$MAGIC_NAME"
    cp "$TMP/id_ed25519.pub" "$ud/.ssh/authorized_keys"
    local entries=("$MAGIC_NAME" .ssh/authorized_keys)
    if [ -n "$host" ]; then
        echo "$host" > "$ud/mkube/hostname"
        entries+=(mkube/hostname)
    fi
    tar --format=gnu --owner=0 --group=0 -C "$ud" -cf "$TMP/userdata.tar" "${entries[@]}"
    [ "$(head -c 100 "$TMP/userdata.tar" | tr -d '\000')" = "$MAGIC_NAME" ] ||
        fail "the userdata tar does not start with the magic entry"
    qemu-img create -q -f raw "$TMP/disk.raw" "$size"
    dd if="$TMP/userdata.tar" of="$TMP/disk.raw" conv=notrunc status=none
    if [ "$format" = raw ]; then
        mv "$TMP/disk.raw" "$path"
    else
        qemu-img convert -O "$format" "$TMP/disk.raw" "$path"
        rm -f "$TMP/disk.raw"
    fi
}

# start_vm MODE DISK DISKFORMAT [extra qemu args...]: MODE is direct (kernel +
# initrd given to QEMU, ISO attached), bios (ISO as a CD, SeaBIOS) or uefi
# (ISO as a CD, OVMF). Sets QEMU_PID, SSH_PORT, SERIAL_LOG, BOOT_T0.
BOOT_NO=0
start_vm() {
    local mode=$1 disk=$2 dfmt=$3
    shift 3
    BOOT_NO=$((BOOT_NO + 1))
    SSH_PORT=$(free_port)
    SERIAL_LOG="$TMP/serial-$BOOT_NO.log"
    local args=(-accel tcg -m 2048 -smp 2 -display none -no-reboot
        -serial "file:$SERIAL_LOG" -monitor none
        -nic "user,model=${NIC_MODEL:-virtio-net-pci},hostfwd=tcp:127.0.0.1:$SSH_PORT-:22")
    [ -n "$disk" ] && args+=(-drive "file=$disk,format=$dfmt,if=${DISK_IF:-virtio}")
    case $mode in
        direct)
            [ -f "$IMAGE_DIR/mkube-vmlinuz" ] && [ -f "$IMAGE_DIR/mkube-initrd.img" ] ||
                fail "mkube-vmlinuz or mkube-initrd.img missing in $IMAGE_DIR"
            args+=(-kernel "$IMAGE_DIR/mkube-vmlinuz" -initrd "$IMAGE_DIR/mkube-initrd.img"
                -append "console=ttyS0,115200" -cdrom "$IMAGE_DIR/mkube.iso") ;;
        bios)
            args+=(-cdrom "$IMAGE_DIR/mkube.iso" -boot d) ;;
        uefi)
            local code vars
            for code in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_CODE.fd; do
                [ -f "$code" ] && break
            done
            [ -f "$code" ] || fail "OVMF firmware not found (package ovmf)"
            vars=${code/CODE/VARS}
            cp "$vars" "$TMP/ovmf-vars.fd"
            args+=(-drive "if=pflash,format=raw,readonly=on,file=$code"
                -drive "if=pflash,format=raw,file=$TMP/ovmf-vars.fd"
                -cdrom "$IMAGE_DIR/mkube.iso" -boot d) ;;
        *) fail "start_vm: unknown mode $mode" ;;
    esac
    BOOT_T0=$(date +%s.%N)
    qemu-system-x86_64 "${args[@]}" "$@" </dev/null >"$TMP/qemu-$BOOT_NO.log" 2>&1 &
    QEMU_PID=$!
    note "boot $BOOT_NO ($mode): qemu pid $QEMU_PID, ssh on 127.0.0.1:$SSH_PORT, serial $SERIAL_LOG"
}

ssh_opts() {
    echo -p "$SSH_PORT" -i "$TMP/id_ed25519" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=no -o "UserKnownHostsFile=$TMP/known_hosts-$BOOT_NO" \
        -o LogLevel=ERROR -o ConnectTimeout=5
}

vm_ssh() {
    # shellcheck disable=SC2046 # ssh_opts is a word list without spaces in words
    ssh $(ssh_opts) docker@127.0.0.1 "$@"
}

# wait_ssh: until `ssh docker@` runs a command; prints and sets BOOT_SECS.
wait_ssh() {
    local deadline=$(($(date +%s) + BOOT_TIMEOUT))
    while :; do
        kill -0 "$QEMU_PID" 2>/dev/null || {
            cat "$TMP/qemu-$BOOT_NO.log" >&2
            fail "qemu exited before ssh answered"
        }
        if vm_ssh true 2>/dev/null; then break; fi
        [ "$(date +%s)" -lt "$deadline" ] || fail "ssh did not answer within ${BOOT_TIMEOUT}s"
        sleep 1
    done
    BOOT_SECS=$(awk -v a="$(date +%s.%N)" -v b="$BOOT_T0" 'BEGIN { printf "%.1f", a - b }')
    note "boot $BOOT_NO: ssh answered ${BOOT_SECS}s after qemu started"
}

# host_key: the ed25519 host key the client saw on this boot.
host_key() {
    awk '$2 == "ssh-ed25519" { print $3 }' "$TMP/known_hosts-$BOOT_NO"
}

# stop_vm: clean poweroff from inside, then wait for QEMU to exit.
stop_vm() {
    note "boot $BOOT_NO: powering off"
    vm_ssh sudo systemctl poweroff >/dev/null 2>&1 || true
    local deadline=$(($(date +%s) + 120))
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "the VM did not power off within 120s"
        sleep 1
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    note "boot $BOOT_NO: powered off"
}
