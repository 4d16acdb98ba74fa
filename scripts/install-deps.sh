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
    openssh-client openssh-server openssl iproute2 socat zstd curl jq xz-utils unzip
    # the walkthrough builds FROM scratch with a static busybox; the docker-env
    # unit test evaluates its output in each of these shells
    busybox-static zsh fish tcsh
)
# The Kubernetes bundle (iso/kubernetes) builds with Go >= 1.26, newer than
# Debian's golang: when missing, the toolchain comes from the Go module proxy
# as the golang.org/toolchain module (what `GOTOOLCHAIN` downloads too).
GO_VERSION="${MKUBE_GO_VERSION:-1.26.8}"
GO_PREFIX="${MKUBE_GO_PREFIX:-/usr/local/go}"
GOPROXY_URL="${GOPROXY:-https://proxy.golang.org}"
GOPROXY_URL="${GOPROXY_URL%%,*}"

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

# The walkthrough test drives the VM's dockerd with a docker CLI; Debian's
# comes with docker.io (any docker CLI already on PATH will do).
command -v docker >/dev/null || PACKAGES+=(docker.io)

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

# go_ok GO: is GO at least $GO_VERSION?
go_ok() {
    local have
    have=$("$1" env GOVERSION 2>/dev/null) || return 1
    have=${have#go}
    [ "$(printf '%s\n%s\n' "$GO_VERSION" "$have" | sort -V | head -n1)" = "$GO_VERSION" ]
}

ensure_go() {
    local g
    for g in "$(command -v go || true)" "$GO_PREFIX/bin/go"; do
        if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then
            log "Go $("$g" env GOVERSION) at $g"
            return 0
        fi
    done
    local mod="golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip"
    log "installing Go $GO_VERSION into $GO_PREFIX from $GOPROXY_URL"
    local tmp
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/go.zip" "$GOPROXY_URL/$mod" || die "cannot download $GOPROXY_URL/$mod"
    unzip -q "$tmp/go.zip" -d "$tmp/x" || die "cannot unpack the Go toolchain"
    local root
    root=$(find "$tmp/x" -mindepth 2 -maxdepth 2 -type d -name 'toolchain@*' | head -n1)
    [ -x "$root/bin/go" ] || die "no bin/go in the Go toolchain module"
    chmod -R a+rX "$root"
    chmod a+x "$root"/bin/* "$root"/pkg/tool/*/* 2>/dev/null || true
    as_root rm -rf "$GO_PREFIX"
    as_root mkdir -p "$(dirname "$GO_PREFIX")"
    as_root mv "$root" "$GO_PREFIX"
    rm -rf "$tmp"
    if [ "$GO_PREFIX" = /usr/local/go ]; then
        as_root ln -sf /usr/local/go/bin/go /usr/local/bin/go
        as_root ln -sf /usr/local/go/bin/gofmt /usr/local/bin/gofmt
    fi
    go_ok "$GO_PREFIX/bin/go" || die "the installed Go does not run"
    log "Go $("$GO_PREFIX/bin/go" env GOVERSION) installed"
}
ensure_go

# /dev/kvm as Debian's udev rule leaves it: root:kvm 0660, and libvirt's
# QEMU user (libvirt-qemu) is in group kvm. Where udev did not set it up
# (containers, some sandboxes) it stays root-only 0600. libvirtd then finds
# KVM "not available" to its QEMU user while its probe of QEMU saw KVM, drops
# its cached QEMU capabilities at every lookup and probes QEMU again: about a
# minute per domain define. mkube's own KVM probe decides KVM or TCG either way.
if [ -c /dev/kvm ] && getent group kvm >/dev/null &&
    [ "$(stat -c %G:%a /dev/kvm)" = root:600 ]; then
    as_root chgrp kvm /dev/kvm && as_root chmod 0660 /dev/kvm &&
        log "/dev/kvm: group kvm, mode 0660 (what udev sets on Debian)"
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
