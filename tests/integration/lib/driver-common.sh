# driver-common.sh - the driver integration scenario shared by driver-qemu.sh
# and driver-libvirt.sh (sourced; set DRIVER first). Real QEMU (TCG here),
# real libvirtd, the real ssh client; the guest is reached through
# 127.0.0.1 forwards only.
#
# Knobs: MKUBE_IMAGE_DIR (default <repo>/out), MKUBE_TEST_SSH_TIMEOUT (s, 900),
# MKUBE_TEST_CDROM=0 skips the CD-ROM boot measurement.

set -euo pipefail

SRC=${MKUBE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
IMG=${MKUBE_IMAGE_DIR:-$SRC/out}
SSH_TIMEOUT=${MKUBE_TEST_SSH_TIMEOUT:-900}
: "${MKUBE_BIN:?set MKUBE_BIN to the built mkube (ctest does)}"
DRVTEST=$(dirname "$MKUBE_BIN")/mkube-drvtest

say() { printf '# %s\n' "$*" >&2; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

for f in mkube.iso mkube-vmlinuz mkube-initrd.img; do
    [ -r "$IMG/$f" ] || fail "the VM image is missing: $IMG/$f (build it: cmake --build <dir> --target image, or set MKUBE_IMAGE_DIR)"
done
[ -x "$DRVTEST" ] || fail "$DRVTEST is missing (build the mkube-drvtest target)"
for tool in ssh ssh-keygen ss socat qemu-system-x86_64 qemu-img; do
    command -v "$tool" >/dev/null || fail "$tool is needed by this test"
done

# short path: the QMP unix socket lives in the machine folder (108-byte limit)
TMP=$(mktemp -d /tmp/mkdrv.XXXXXX)
export MKUBE_HOME=$TMP/home
KNOWN=$TMP/known_hosts
ssh-keygen -q -t ed25519 -N '' -C mkube-driver-test -f "$TMP/id" </dev/null
NAMES=()

# pid of the QEMU process behind machine $1, or nothing
qemu_pid() {
    local name=$1
    if [ "$DRIVER" = qemu ]; then
        local p
        p=$(cat "$MKUBE_HOME/machines/$name/qemu.pid" 2>/dev/null) || return 0
        alive "$p" && grep -q "$MKUBE_HOME/machines/$name/qmp.sock" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
    else
        cat "/run/libvirt/qemu/mkube-$name.pid" 2>/dev/null || true
    fi
    return 0
}

cleanup() {
    local rc=$?
    set +e
    for n in "${NAMES[@]}"; do
        "$DRVTEST" remove "$n" >/dev/null 2>&1
        if [ "$DRIVER" = libvirt ]; then
            virsh -q -c qemu:///system destroy "mkube-$n" >/dev/null 2>&1
            virsh -q -c qemu:///system undefine --nvram "mkube-$n" >/dev/null 2>&1
        fi
    done
    [ -n "${BLOCKER_PID:-}" ] && kill "$BLOCKER_PID" 2>/dev/null
    [ $rc -ne 0 ] && for n in "${NAMES[@]}"; do
        [ -f "$MKUBE_HOME/machines/$n/console.log" ] &&
            { echo "--- console of $n (tail)"; tail -n 30 "$MKUBE_HOME/machines/$n/console.log"; }
    done >&2
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT INT TERM

drv() { "$DRVTEST" "$@"; }
field() { drv endpoint "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
state_is() {
    local got
    got=$(drv state "$1")
    [ "$got" = "$2" ] || fail "machine $1: state $got, expected $2"
}

ssh_guest() {
    local name=$1
    shift
    ssh -i "$TMP/id" -p "$(field "$name" ssh_port)" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile="$KNOWN" -o BatchMode=yes -o ConnectTimeout=10 \
        -o LogLevel=ERROR docker@127.0.0.1 "$@"
}

# wait until the guest answers SSH; prints the seconds waited
wait_ssh() {
    local name=$1 start=$SECONDS
    while [ $((SECONDS - start)) -lt "$SSH_TIMEOUT" ]; do
        if ssh_guest "$name" true </dev/null 2>/dev/null; then
            echo $((SECONDS - start))
            return 0
        fi
        st=$(drv state "$name")
        [ "$st" = Running ] || [ "$st" = Starting ] || fail "machine $name is $st while waiting for SSH"
        sleep 3
    done
    fail "machine $name: no SSH within ${SSH_TIMEOUT}s"
}

# every TCP listener of the QEMU process is on 127.0.0.1; prints their count
check_loopback_only() {
    local name=$1 pid
    pid=$(qemu_pid "$name")
    [ -n "$pid" ] || fail "machine $name: no QEMU process"
    local lines
    lines=$(ss -ltnpH | grep "pid=$pid," || true)
    [ -n "$lines" ] || fail "machine $name: QEMU (pid $pid) listens on nothing"
    if echo "$lines" | awk '{print $4}' | grep -v '^127\.0\.0\.1:' >/dev/null; then
        echo "$lines" >&2
        fail "machine $name: QEMU listens beyond 127.0.0.1"
    fi
    echo "$lines" | wc -l
}

listening() { ss -ltnH "sport = :$1" | grep -q .; }
# a live process (a zombie left for init to reap does not count)
alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit !($3 == "Z" || $3 == "X") }' "/proc/$1/stat" 2>/dev/null; }

create() {
    local name=$1
    shift
    NAMES+=("$name")
    drv create "$name" -d "$DRIVER" --iso "$IMG/mkube.iso" --pubkey-file "$TMP/id.pub" \
        --memory 2048 --cpus 2 "$@"
}

run_scenario() {
    local m=drv-$DRIVER t0 t_ssh
    say "driver $DRIVER: create + start (direct kernel boot)"
    t0=$SECONDS
    create "$m" --kernel "$IMG/mkube-vmlinuz" --initrd "$IMG/mkube-initrd.img"
    state_is "$m" Stopped
    drv start "$m"
    state_is "$m" Running
    t_ssh=$(wait_ssh "$m")
    local direct_total=$((SECONDS - t0))
    say "MEASURE $DRIVER direct-kernel create->ssh: ${direct_total}s (ssh wait ${t_ssh}s)"
    ssh_guest "$m" 'test "$(id -un)" = docker' || fail "ssh user is not docker"
    local n
    n=$(check_loopback_only "$m")
    say "QEMU listeners, all on 127.0.0.1: $n"
    [ "$n" -ge 3 ] || fail "expected the SSH/API/docker forwards, found $n listeners"
    local ep_before
    ep_before=$(drv endpoint "$m")

    say "runtime forward to guest port 30080"
    ssh_guest "$m" 'nohup socat TCP-LISTEN:30080,fork,reuseaddr SYSTEM:"echo hello-from-guest" >/dev/null 2>&1 </dev/null &'
    local hp
    hp=$(drv forward "$m" 30080)
    [ "$(drv forward "$m" 30080)" = "$hp" ] || fail "a second forward of 30080 picked another port"
    local got="" i
    for i in $(seq 1 20); do
        got=$(timeout 10 socat -T5 - "TCP:127.0.0.1:$hp" </dev/null 2>/dev/null || true)
        [ "$got" = hello-from-guest ] && break
        sleep 1
    done
    [ "$got" = hello-from-guest ] || fail "runtime forward 127.0.0.1:$hp -> guest 30080 answered '$got'"
    check_loopback_only "$m" >/dev/null

    say "stop"
    drv stop "$m"
    state_is "$m" Stopped
    [ -z "$(qemu_pid "$m")" ] || fail "QEMU still runs after stop"
    listening "$(field "$m" ssh_port)" && fail "the SSH forward still listens after stop"

    say "start again: same ports, runtime forward re-added, key still there (data disk kept)"
    t0=$SECONDS
    drv start "$m"
    [ "$(drv endpoint "$m")" = "$ep_before" ] || fail "endpoint changed across stop/start"
    listening "$hp" || fail "the runtime forward $hp was not re-added at start"
    t_ssh=$(wait_ssh "$m")
    say "MEASURE $DRIVER restart->ssh: $((SECONDS - t0))s"
    check_loopback_only "$m" >/dev/null

    say "fault: kill -9 QEMU under a running machine"
    local pid
    pid=$(qemu_pid "$m")
    kill -9 "$pid"
    for i in $(seq 1 50); do alive "$pid" || break; sleep 0.2; done
    sleep 1
    local st
    st=$(drv state "$m")
    [ "$st" = Stopped ] || [ "$st" = Error ] || fail "after kill -9 the state is $st"
    say "state after kill -9: $st"

    say "taken port: something else listens on the old SSH port; start moves it"
    local old_ssh
    old_ssh=$(field "$m" ssh_port)
    socat "TCP-LISTEN:$old_ssh,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo blocker" &
    BLOCKER_PID=$!
    for i in $(seq 1 50); do listening "$old_ssh" && break; sleep 0.1; done
    drv start "$m" 2>"$TMP/start.err"
    grep -q "port $old_ssh (guest port 22) is taken" "$TMP/start.err" || fail "no warning about the taken port: $(cat "$TMP/start.err")"
    [ "$(field "$m" ssh_port)" != "$old_ssh" ] || fail "the SSH port did not move"
    state_is "$m" Running
    t_ssh=$(wait_ssh "$m")
    say "recovered after kill -9, SSH on the new port $(field "$m" ssh_port)"
    kill "$BLOCKER_PID"
    BLOCKER_PID=

    say "delete"
    local ports
    ports=$(drv endpoint "$m" | tr ' ' '\n' | sed -n 's/_port=/ /p' | awk '{print $2}')
    pid=$(qemu_pid "$m")
    drv remove "$m"
    state_is "$m" Nonexistent
    [ ! -e "$MKUBE_HOME/machines/$m" ] || fail "the machine folder is left behind"
    [ -z "$pid" ] || ! alive "$pid" || fail "QEMU (pid $pid) survives delete"
    for p in $ports $hp; do listening "$p" && fail "port $p still listens after delete"; done
    if [ "$DRIVER" = libvirt ]; then
        virsh -q -c qemu:///system dominfo "mkube-$m" >/dev/null 2>&1 && fail "the domain is left behind"
    fi

    say "a create killed halfway, then delete"
    local h=drv-$DRIVER-half
    NAMES+=("$h")
    # the program itself in the background, not the drv function (a subshell)
    "$DRVTEST" create "$h" -d "$DRIVER" --iso "$IMG/mkube.iso" --pubkey-file "$TMP/id.pub" &
    local cpid=$!
    # kill it inside the driver's create: the wrapper saves machine.json just
    # before the driver makes the disks (and libvirt defines the domain)
    local until=$((SECONDS + 60))
    while alive "$cpid" && [ ! -e "$MKUBE_HOME/machines/$h/machine.json" ] && [ $SECONDS -lt $until ]; do
        sleep 0.01
    done
    sleep "${HALF_CREATE_DELAY:-0}"
    if kill -9 "$cpid" 2>/dev/null; then
        say "create killed; left behind: $(cd "$MKUBE_HOME/machines/$h" 2>/dev/null && ls | tr '\n' ' ')"
    else
        say "create finished before the kill (nothing half-made this time)"
    fi
    wait "$cpid" 2>/dev/null || true
    drv remove "$h"
    state_is "$h" Nonexistent
    [ ! -e "$MKUBE_HOME/machines/$h" ] || fail "the half-created machine folder is left behind"
    if [ "$DRIVER" = libvirt ]; then
        sleep 1
        virsh -q -c qemu:///system dominfo "mkube-$h" >/dev/null 2>&1 && fail "the half-created domain is left behind"
    fi

    if [ "${MKUBE_TEST_CDROM:-1}" != 0 ]; then
        say "CD-ROM boot (no direct kernel)"
        local c=drv-$DRIVER-cd
        t0=$SECONDS
        create "$c"
        drv start "$c"
        t_ssh=$(wait_ssh "$c")
        say "MEASURE $DRIVER cdrom create->ssh: $((SECONDS - t0))s (ssh wait ${t_ssh}s)"
        drv remove "$c"
        state_is "$c" Nonexistent
    fi
    say "driver $DRIVER: all checks passed"
}
