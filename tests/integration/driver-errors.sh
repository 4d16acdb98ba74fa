#!/bin/bash
# driver-errors.sh - the drivers' errors reach the user of the built binaries
# (`mkube start`, and mkube-drvtest for what only the driver layer shows):
#   1. libvirtd not running (no socket at the URI), and the socket refusing a
#      user outside the libvirt group: the URI is named, the hint says what to do
#   2. qemu-system-x86_64, then qemu-img, missing from PATH
#   3. out of disk space (a small tmpfs, full and nearly full, in a private
#      mount namespace): a clear error, nothing half-made, and the retry the
#      hint asks for gets past the create
#   4. the ISO missing, or not matching its .sha256
#   5. no port: a taken --ssh-port, and a used-up local port range (in a
#      private network namespace)
# Each: a non-zero exit, one "mkube: <what>: <why>" line on stderr followed by
# its "hint:" line where the code gives one, nothing on stdout, no machine
# left for the next start to trip on, and no QEMU run. No VM boots: mkube
# gets a PATH whose qemu-system-x86_64 only records that it was called (and
# fails); qemu-img is the real one. Case 3, the port range of case 5 and the
# permission case need root (namespaces, setpriv); without it they are
# skipped, saying so, as are the start cases without the built bundle.
source "$(dirname "$0")/../cli/cli-lib.sh"

DRVTEST=$(dirname "$BIN")/mkube-drvtest
BUNDLE_DIR=${MKUBE_BUNDLE_DIR:-$SRC/out}
SKIPPED=()
HOLDER=""

die() {
    echo "$TEST_NAME: $*" >&2
    exit 1
}
skip() {
    SKIPPED+=("$1")
    echo "$TEST_NAME: skipped: $1" >&2
}
# shellcheck disable=SC2317
cleanup() {
    [ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

[ -x "$DRVTEST" ] || die "$DRVTEST is missing (build the mkube-drvtest target)"
ENV=$(command -v env)
QEMU_IMG=$(command -v qemu-img) || die "qemu-img is needed by this test"
command -v python3 >/dev/null || die "python3 is needed by this test (sockets, ports)"

export KUBECONFIG="$TMP/kubeconfig"
export MKUBE_DATADIR="$TMP/data"
chmod 711 "$TMP" # the permission case runs as nobody

# $TMP/bin: the PATH of every mkube run. Its qemu-system-x86_64 fails at once
# and leaves a line in $QEMU_RAN: only the retry of case 3 may reach it.
QEMU_RAN="$TMP/qemu-ran"
mkdir -p "$TMP/bin" "$TMP/noqemu" "$TMP/noimg" "$TMP/data" "$TMP/nodata" "$TMP/baddata"
cat >"$TMP/bin/qemu-system-x86_64" <<EOF
#!/bin/sh
echo "\$*" >>"$QEMU_RAN"
echo "qemu-system-x86_64: a stand-in: this test boots no VM" >&2
exit 1
EOF
chmod 755 "$TMP/bin/qemu-system-x86_64"
ln -s "$QEMU_IMG" "$TMP/bin/qemu-img"
ln -s "$QEMU_IMG" "$TMP/noqemu/qemu-img"
ln -s "$TMP/bin/qemu-system-x86_64" "$TMP/noimg/qemu-system-x86_64"

# the "installed" image: not an ISO, and no .sha256, so it is not verified;
# the bundle is the built one (start opens it before it creates the machine)
echo "not an ISO image" >"$TMP/data/mkube.iso"
HAVE_BUNDLE=0
for f in "$BUNDLE_DIR"/mkube-bundle-*.tar.zst "$BUNDLE_DIR"/mkube-bundle-*.tar.zst.sha256; do
    [ -e "$f" ] && ln -s "$f" "$TMP/data/" && HAVE_BUNDLE=1
done
START=(start --driver=qemu --direct-boot=false --accel=tcg)

# run PATHDIR CMD...: CMD with PATH=PATHDIR; stdout in $OUT, stderr in $ERR
run() {
    local path=$1
    shift
    PATH=$path "$@" >"$OUT" 2>"$ERR"
    RC=$?
}

# re TEXT: TEXT as a literal in an extended regular expression
re() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# expect_error LABEL CODE WHAT [HINT]: exit CODE, nothing on stdout, exactly
# one error line on stderr and it is "mkube: WHAT" (ERE, whole line), then the
# line after it is "hint: HINT..." (ERE, start of line), or no hint at all
# when HINT is not given
expect_error() {
    local label=$1 code=$2 what=$3 hint=${4:-}
    expect_rc "$code" "$label"
    if [ ! -s "$OUT" ]; then ok; else fail "$label: stdout is not empty: $(head -c 200 "$OUT")"; fi
    local n
    n=$(grep -c '^mkube: ' "$ERR")
    if [ "$n" -eq 1 ]; then ok; else fail "$label: $n error lines, want 1"; fi
    expect_err_has "^mkube: $what\$" "$label"
    local after
    after=$(grep -A1 '^mkube: ' "$ERR" | sed -n 2p)
    if [ -n "$hint" ]; then
        if grep -Eq -- "^hint: $hint" <<<"$after"; then ok; else fail "$label: the line after the error is '$after', want /^hint: $hint/"; fi
    else
        if ! grep -q '^hint: ' "$ERR"; then ok; else fail "$label: an unexpected hint: $(grep '^hint: ' "$ERR")"; fi
    fi
}

# expect_no_qemu LABEL: the stand-in QEMU was not run, and no QEMU of this
# test's machines runs
expect_no_qemu() {
    if [ ! -e "$QEMU_RAN" ]; then ok; else fail "$1: QEMU was started: $(cat "$QEMU_RAN")"; fi
    if ! pgrep -f "qemu-system-x86_64.*$TMP" >/dev/null; then ok; else fail "$1: a QEMU process is left"; fi
}

# expect_no_machine LABEL HOME PROFILE: a failed first start left no machine
# and no profile for the next start to take as existing
expect_no_machine() {
    if [ ! -e "$2/machines/$3/machine.json" ]; then ok; else fail "$1: machines/$3/machine.json is left"; fi
    if [ ! -e "$2/profiles/$3/config.json" ]; then ok; else fail "$1: the profile $3 was saved"; fi
}

# hold_ports FILE PORT...: listen on 127.0.0.1:PORT (0: any) in the
# background (pid in $HOLDER), the ports taken written to FILE
hold_ports() {
    local file=$1
    shift
    python3 -c '
import socket, sys, time
held = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(p)))
    s.listen()
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held), flush=True)
time.sleep(300)' "$@" >"$file" &
    HOLDER=$!
    local _
    for _ in $(seq 1 50); do
        [ -s "$file" ] && return 0
        sleep 0.1
    done
    return 1
}

# ns_load NAME: a step run inside a namespace (see ns_step) as $OUT/$ERR/$RC
ns_load() {
    cp "$TMP/ns-$1.out" "$OUT"
    cp "$TMP/ns-$1.err" "$ERR"
    RC=$(cat "$TMP/ns-$1.rc")
}
# the helper the namespace scripts source: ns_step NAME CMD... records CMD's
# output and status for ns_load
cat >"$TMP/ns-lib.sh" <<'EOF'
ns_step() {
    local n=$1
    shift
    PATH="$TMP/bin" "$@" >"$TMP/ns-$n.out" 2>"$TMP/ns-$n.err"
    echo $? >"$TMP/ns-$n.rc"
}
EOF
export TMP BIN

if [ "$HAVE_BUNDLE" = 0 ]; then
    skip "the mkube start cases past the image (no bundle in $BUNDLE_DIR: build it, or set MKUBE_BUNDLE_DIR)"
fi

# ---- 1. libvirtd unreachable ------------------------------------------------
URI="qemu+unix:///system?socket=$TMP/none.sock"
LIBVIRT_DOWN="cannot connect to libvirt at $(re "$URI"): .*No such file or directory"
START_LIBVIRTD="start libvirtd \(sudo systemctl start libvirtd, or libvirtd -d\)"
if [ "$HAVE_BUNDLE" = 1 ]; then
    # the driver probe must try the URI given, not qemu:///system
    run "$TMP/bin" "$BIN" -p lv start --driver=libvirt --libvirt-uri="$URI"
    expect_error "start, libvirtd down" 80 "driver \"libvirt\" cannot run here: $LIBVIRT_DOWN" "$START_LIBVIRTD"
    expect_no_machine "start, libvirtd down" "$MKUBE_HOME" lv
    expect_no_qemu "start, libvirtd down"
fi
run "$TMP/bin" "$DRVTEST" create lv -d libvirt --iso "$TMP/data/mkube.iso" --uri "$URI"
expect_error "drvtest create, libvirtd down" 80 "cannot create machine \"lv\": $LIBVIRT_DOWN" "$START_LIBVIRTD"
run "$TMP/bin" "$DRVTEST" state lv
expect_out_eq Nonexistent "drvtest state after a failed create"
expect_no_qemu "drvtest create, libvirtd down"

# a socket only root may use, as libvirtd's is to a user outside the libvirt group
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    SOCK="$TMP/denied.sock"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
    chmod 600 "$SOCK"
    NHOME="$TMP/nobody"
    mkdir -p "$NHOME"
    chown 65534:65534 "$NHOME"
    chmod 755 "$TMP/bin" "$TMP/data"
    chmod 644 "$TMP/data/mkube.iso"
    URI="qemu+unix:///system?socket=$SOCK"
    run "$TMP/bin" "$(command -v setpriv)" --reuid=65534 --regid=65534 --clear-groups "$ENV" HOME="$NHOME" MKUBE_HOME="$NHOME" \
        "$DRVTEST" create lvp -d libvirt --iso "$TMP/data/mkube.iso" --uri "$URI"
    expect_error "drvtest create, socket permission denied" 80 \
        "cannot create machine \"lvp\": cannot connect to libvirt at $(re "$URI"): .*Permission denied" \
        "add yourself to the libvirt group \(sudo usermod -aG libvirt \\\$USER, then log in again\), or use --libvirt-uri=qemu:///session"
    if [ ! -e "$NHOME/machines/lvp/machine.json" ]; then ok; else fail "permission denied: machine.json is left"; fi
else
    skip "libvirt socket permission denied (needs root and setpriv)"
fi

# ---- 2. qemu missing --------------------------------------------------------
if [ "$HAVE_BUNDLE" = 1 ]; then
    run "$TMP/noqemu" "$BIN" -p noqemu "${START[@]}"
    expect_error "start, no qemu-system-x86_64" 80 \
        "driver \"qemu\" cannot run here: qemu-system-x86_64 was not found in PATH" \
        "install QEMU \(apt-get install qemu-system-x86 qemu-utils\)"
    expect_no_machine "start, no qemu-system-x86_64" "$MKUBE_HOME" noqemu
    run "$TMP/noimg" "$BIN" -p noimg "${START[@]}"
    expect_error "start, no qemu-img" 80 "driver \"qemu\" cannot run here: qemu-img was not found in PATH" \
        "install qemu-utils \(apt-get install qemu-utils\)"
    expect_no_machine "start, no qemu-img" "$MKUBE_HOME" noimg
    expect_no_qemu "start, qemu missing"
fi

# ---- 3. out of disk space ---------------------------------------------------
# $MKUBE_HOME/machines on an 80 MiB tmpfs seen only by this namespace: full,
# then nearly full (10 MiB free), then emptied for the retry
M="$MKUBE_HOME/machines"
if [ "$HAVE_BUNDLE" = 0 ]; then
    :
elif [ "$(id -u)" = 0 ] && mkdir -p "$M" && unshare --mount --propagation private true 2>/dev/null; then
    cat >"$TMP/ns-disk.sh" <<'EOF'
. "$TMP/ns-lib.sh"
M="$MKUBE_HOME/machines"
mount -t tmpfs -o size=80m,mode=0700 mkube-test "$M" || exit 90
fill() {
    rm -f "$M/filler"
    dd if=/dev/zero of="$M/filler" bs=1M count="$1" status=none 2>/dev/null
}
START=(start --driver=qemu --direct-boot=false --accel=tcg)
fill 100
ns_step full "$BIN" -p full "${START[@]}"
ls -A "$M/full" >"$TMP/ns-full.ls" 2>/dev/null
fill 70
ns_step disk "$BIN" -p disk "${START[@]}"
ls -A "$M/disk" >"$TMP/ns-disk.ls" 2>/dev/null
ls -A "$MKUBE_HOME/profiles/disk" >"$TMP/ns-disk.profile" 2>/dev/null
[ ! -e "$TMP/qemu-ran" ] || mv "$TMP/qemu-ran" "$TMP/ns-disk.qemu"
rm -f "$M/filler"
ns_step retry "$BIN" -p disk "${START[@]}"
EOF
    unshare --mount --propagation private bash "$TMP/ns-disk.sh"
    nsrc=$?
    if [ "$nsrc" = 90 ]; then
        skip "out of disk space (cannot mount a tmpfs)"
    else
        ns_load full
        expect_error "start, disk full" 1 "cannot write $(re "$M/full/id_ed25519"): No space left on device"
        # an empty key left behind would fail every later start
        if [ ! -s "$TMP/ns-full.ls" ]; then ok; else fail "disk full: left in machines/full: $(cat "$TMP/ns-full.ls")"; fi
        ns_load disk
        expect_error "start, disk nearly full" 1 \
            "cannot create the VM: cannot create machine \"disk\": out of disk space: $(re "$M/disk") has [0-9]+ MiB free" \
            "free some space \(mkube delete unused profiles\), then retry"
        if ! grep -qx machine.json "$TMP/ns-disk.ls"; then ok; else fail "disk nearly full: machine.json is left"; fi
        if ! grep -qx config.json "$TMP/ns-disk.profile"; then ok; else fail "disk nearly full: the profile was saved"; fi
        if [ ! -e "$TMP/ns-disk.qemu" ]; then ok; else fail "out of disk space: QEMU was started: $(cat "$TMP/ns-disk.qemu")"; fi
        # the retry creates the machine and boots it: the stand-in QEMU
        # fails, and that is the error (not "the data disk is missing")
        ns_load retry
        expect_error "start after freeing space" 1 \
            "cannot start machine \"disk\": qemu-system-x86_64 exited with status 1.*"
        if [ "$(grep -c -- '-name mkube-disk ' "$QEMU_RAN" 2>/dev/null)" = 1 ]; then ok; else fail "the retry did not boot the machine once"; fi
        rm -f "$QEMU_RAN"
        expect_no_qemu "out of disk space"
    fi
else
    skip "out of disk space (needs root and unshare --mount)"
fi

# ---- 4. the ISO missing or corrupt ------------------------------------------
echo "not the image the checksum is of" >"$TMP/baddata/mkube.iso"
WANT=$(echo "the image" | sha256sum | cut -d' ' -f1)
HAVE=$(sha256sum "$TMP/baddata/mkube.iso" | cut -d' ' -f1)
echo "$WANT  mkube.iso" >"$TMP/baddata/mkube.iso.sha256"
run "$TMP/bin" "$ENV" MKUBE_DATADIR="$TMP/baddata" "$BIN" -p iso "${START[@]}"
expect_error "start, ISO corrupt" 1 \
    "$(re "$TMP/baddata/mkube.iso") is corrupt: sha256 $HAVE, expected $WANT \(from $(re "$TMP/baddata/mkube.iso.sha256")\)" \
    "download or rebuild the image again"
if [ ! -e "$MKUBE_HOME/machines/iso" ]; then ok; else fail "ISO corrupt: a machine folder was made"; fi
expect_no_machine "start, ISO corrupt" "$MKUBE_HOME" iso

# an mkube installed on this host (the README's first command installs its
# image into the built-in data folder, which ctest passes on) is found after
# MKUBE_DATADIR: then there is no "missing" to see
if [ -e "${MKUBE_INSTALLED_DATADIR:-/nonexistent}/mkube.iso" ]; then
    skip "start, ISO missing (an installed image is in $MKUBE_INSTALLED_DATADIR)"
else
    run "$TMP/bin" "$ENV" MKUBE_DATADIR="$TMP/nodata" "$BIN" -p iso "${START[@]}"
    expect_error "start, ISO missing" 1 \
        "cannot find mkube\.iso: not in $(re "$TMP/nodata") \(MKUBE_DATADIR\), not installed in $(re "${MKUBE_INSTALLED_DATADIR:-/usr/local/share/mkube}") and not in the cache $(re "$MKUBE_HOME/cache/artifacts")" \
        "build and install it \(cmake --build build --target image bundle && cmake --install build\), or pass --iso-url"
    expect_no_machine "start, ISO missing" "$MKUBE_HOME" iso
fi

run "$TMP/bin" "$DRVTEST" create isom -d qemu --iso "$TMP/nodata/mkube.iso"
expect_error "drvtest create, ISO missing" 1 \
    "the ISO image $(re "$TMP/nodata/mkube.iso") cannot be read: No such file or directory" \
    "build the image \(cmake --build <dir> --target image\) or pass the right path"
run "$TMP/bin" "$DRVTEST" state isom
expect_out_eq Nonexistent "drvtest state after the ISO was missing"
expect_no_qemu "ISO missing or corrupt"

# ---- 5. no port ---------------------------------------------------------------
if [ "$HAVE_BUNDLE" = 1 ]; then
    hold_ports "$TMP/held" 0 || die "cannot hold a port for the taken-port case"
    P=$(cat "$TMP/held")
    run "$TMP/bin" "$BIN" -p port "${START[@]}" --ssh-port="$P"
    expect_error "start, --ssh-port taken" 64 \
        "cannot create the VM: port $P on 127\.0\.0\.1 is already in use \(wanted for guest port 22\)"
    expect_no_machine "start, --ssh-port taken" "$MKUBE_HOME" port
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    HOLDER=""

    # every port of the ephemeral range taken: a network namespace whose
    # range is 40000-40001, both held
    if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
        cat >"$TMP/ns-ports.sh" <<EOF
. "\$TMP/ns-lib.sh"
$(declare -f hold_ports)
echo "40000 40001" >/proc/sys/net/ipv4/ip_local_port_range || exit 90
hold_ports "\$TMP/held2" 40000 40001 || exit 91
ns_step ports "\$BIN" -p ports ${START[*]}
kill "\$HOLDER"
EOF
        unshare --net bash "$TMP/ns-ports.sh"
        nsrc=$?
        if [ "$nsrc" = 0 ]; then
            ns_load ports
            expect_error "start, local port range used up" 1 \
                "cannot create the VM: cannot pick a free port on 127\.0\.0\.1: Address already in use" \
                "every port of net\.ipv4\.ip_local_port_range is taken: stop the programs holding them, or widen the range"
            expect_no_machine "start, local port range used up" "$MKUBE_HOME" ports
        else
            skip "used-up local port range (namespace setup failed: $nsrc)"
        fi
    else
        skip "used-up local port range (needs root and unshare --net)"
    fi
    expect_no_qemu "no port"
fi

[ ${#SKIPPED[@]} -eq 0 ] || printf '%s: skipped: %s\n' "$TEST_NAME" "${SKIPPED[@]}"
finish
