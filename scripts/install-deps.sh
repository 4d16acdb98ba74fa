#!/bin/bash
# install-deps.sh: install everything mkube needs to build and test from Debian
# packages, then make sure libvirtd (and virtlogd) run. Idempotent, and quick
# when all is there: apt-get runs only for packages dpkg does not list as
# installed. Needs root (or sudo) only when something is missing.
#
# usage: scripts/install-deps.sh
set -euo pipefail

PACKAGES=(
    # build
    build-essential cmake ninja-build pkg-config clang-format
    libvirt-dev libcurl4-openssl-dev libarchive-dev libyaml-dev libssl-dev libssh-dev
    libjansson-dev libcmocka-dev
    # run and test: libvirt with QEMU, the tools the tests drive for real
    libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
    openssh-client openssh-server openssl iproute2 socat zstd curl jq xz-utils
)

log() { echo "install-deps: $*"; }
die() {
    echo "install-deps: error: $*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

# one dpkg-query for all: "name status" for those dpkg knows
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$NF == "installed" && $(NF-1) == "ok" { print $1 }' || true)
missing=()
for p in "${PACKAGES[@]}"; do
    grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} packages are installed"
else
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    log "installed ${#missing[@]} packages"
fi

# libvirtd: the system instance the libvirt driver talks to (qemu:///system)
libvirt_up() {
    [ -S /run/libvirt/libvirt-sock ] && pgrep -x libvirtd >/dev/null
}
if libvirt_up; then
    log "libvirtd is running"
    exit 0
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    as_root systemctl start virtlogd.socket libvirtd.socket libvirtd.service || true
else
    pgrep -x virtlogd >/dev/null || as_root virtlogd -d
    pgrep -x libvirtd >/dev/null || as_root libvirtd -d
fi
for _ in $(seq 1 50); do
    if libvirt_up; then
        log "libvirtd started"
        exit 0
    fi
    sleep 0.2
done
die "libvirtd did not come up (try: libvirtd -d; virsh -c qemu:///system version)"
