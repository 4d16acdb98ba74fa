#!/bin/bash
# build-image.sh: build mkube's bootable VM image (hybrid BIOS/UEFI ISO with a
# squashfs root, plus the kernel and initramfs for direct boot) from Debian
# bookworm packages.
#
# usage: iso/build-image.sh [OUTDIR]        (default OUTDIR: <repo>/out; run as root)
#
# Environment:
#   MKUBE_CACHE          cache root (default /var/cache/mkube); builds are kept in
#                        $MKUBE_CACHE/image/<recipe-sha256>/ and reused
#   MKUBE_NO_CACHE=1     ignore (and do not fill) the cache
#   MKUBE_IMAGE_CACHE_KEEP  how many cache entries to keep, newest first (default 3)
#   SOURCE_DATE_EPOCH    timestamp for every file in the image (default below)
#   MKUBE_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   MKUBE_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
#   TMPDIR               where the scratch tree goes (default /var/tmp)
#   MKUBE_KEEP_WORK=1    keep the scratch tree (root filesystem, initramfs) to debug
#
# Outputs in OUTDIR: mkube.iso, mkube-vmlinuz, mkube-initrd.img, each with .sha256.
# docs/image.md describes the image and its guest contract.
set -euo pipefail

readonly ISO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The recipe is read from a snapshot taken at start (main), so edits made while
# a build runs can never end up in a cache entry keyed by other contents.
RECIPE=$ISO_DIR
readonly REPO_DIR="$(cd "$ISO_DIR/.." && pwd)"
readonly OUTDIR="$(mkdir -p "${1:-$REPO_DIR/out}" && cd "${1:-$REPO_DIR/out}" && pwd)"
readonly CACHE_ROOT="${MKUBE_CACHE:-/var/cache/mkube}/image"
readonly SUITE=bookworm
readonly MIRROR="${MKUBE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR="${MKUBE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# 2025-05-20 00:00:00 UTC, the date of the Debian snapshot the pins come from.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1747699200}"
readonly OUTPUTS=(mkube.iso mkube-vmlinuz mkube-initrd.img)
# Modules the initramfs loads to find the CD and mount the root (plus dependencies).
readonly INITRAMFS_MODULES=(virtio_pci virtio_blk virtio_scsi ata_piix ahci ata_generic
    sd_mod sr_mod hv_vmbus hv_storvsc vmw_pvscsi isofs loop squashfs overlay)

START_TS=$(date +%s)
STAGE_TS=$START_TS

die() { echo "build-image: error: $*" >&2; exit 1; }
stage() {
    local now; now=$(date +%s)
    echo "build-image: [+$((now - START_TS))s] $*"
    STAGE_TS=$now
}

# --- host build dependencies ----------------------------------------------
readonly HOST_PACKAGES=(mmdebstrap squashfs-tools xorriso grub-common grub-pc-bin
    grub-efi-amd64-bin mtools busybox-static cpio kmod zstd gzip coreutils findutils)

install_host_deps() {
    local missing=() p
    for p in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    stage "installing host build dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- cache ------------------------------------------------------------------
# The key covers every recipe file under iso/ (except iso/kubernetes/, which is
# the separate Kubernetes bundle) and the settings that change the output.
recipe_key() {
    (
        cd "$RECIPE"
        find . -path ./kubernetes -prune -o -type f -print | LC_ALL=C sort |
            while IFS= read -r f; do
                printf '%s\n' "$f"
                sha256sum < "$f"
            done
        echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
        echo "MIRROR=$MIRROR SECURITY_MIRROR=$SECURITY_MIRROR"
    ) | sha256sum | cut -d' ' -f1
}

cache_complete() {
    local dir=$1 f
    for f in "${OUTPUTS[@]}"; do
        [ -s "$dir/$f" ] && [ -s "$dir/$f.sha256" ] || return 1
    done
    (cd "$dir" && cat ./*.sha256 | sha256sum --quiet -c -) >/dev/null 2>&1
}

# Hard-link when possible (same filesystem), else copy; never modify the source.
publish() {
    local from=$1 to=$2 f
    for f in "${OUTPUTS[@]}"; do
        for g in "$f" "$f.sha256"; do
            rm -f "$to/$g"
            ln "$from/$g" "$to/$g" 2>/dev/null || cp "$from/$g" "$to/$g"
        done
    done
}

# Keep the newest MKUBE_IMAGE_CACHE_KEEP entries (and always the one just made).
prune_cache() {
    local keep=${MKUBE_IMAGE_CACHE_KEEP:-3} current=$1 n=0 d
    while IFS= read -r d; do
        n=$((n + 1))
        [ "${d##*/}" = "$current" ] && continue
        [ $n -gt "$keep" ] && rm -rf "$d"
    done < <(find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' -printf '%T@ %p\n' |
        sort -rn | cut -d' ' -f2-)
    # Leftovers of killed builds.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -name '.tmp-*' -mmin +120 -exec rm -rf {} + 2>/dev/null || true
}

# --- build stages ---------------------------------------------------------
WORK=""
cleanup() {
    local rc=$?
    if [ -n "$WORK" ] && [ -d "$WORK" ] && [ "${MKUBE_KEEP_WORK:-0}" = 1 ]; then
        echo "build-image: MKUBE_KEEP_WORK=1: keeping $WORK" >&2
    elif [ -n "$WORK" ] && [ -d "$WORK" ]; then
        # Never leave mounts behind from a killed chroot step.
        grep -o " $WORK/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
        rm -rf --one-file-system "$WORK"
    fi
    [ $rc -ne 0 ] && echo "build-image: failed after $(($(date +%s) - START_TS))s" >&2
    exit $rc
}

build_rootfs() {
    local root=$1 include
    include=$(grep -v -e '^#' -e '^[[:space:]]*$' "$RECIPE/packages.txt" | paste -sd, -)
    stage "mmdebstrap: $SUITE root filesystem ($(echo "$include" | tr , '\n' | wc -l) pinned packages)"
    # INITRD=No: the kernel's postinst hooks skip initramfs-tools; mkube has its own.
    INITRD=No DEBIAN_FRONTEND=noninteractive mmdebstrap \
        --quiet --variant=essential --mode=root --format=directory \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='Acquire::Retries "3"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --include="$include" \
        "$SUITE" "$root" \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main"
}

customize_rootfs() {
    local root=$1
    stage "customizing the root filesystem"
    "$RECIPE/rootfs/customize.sh" "$root"
}

# Keep the modules listed in modules.keep plus everything they depend on.
prune_modules() {
    local root=$1 kver=$2 moddir keep_list all_list
    moddir="$root/lib/modules/$kver"
    stage "pruning kernel modules for $kver"
    keep_list=$(mktemp "$WORK/keep.XXXXXX")
    all_list=$(mktemp "$WORK/all.XXXXXX")
    (cd "$moddir" && find kernel -name '*.ko*' | LC_ALL=C sort) > "$all_list"
    local -a pats=()
    mapfile -t pats < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$RECIPE/modules.keep")
    local m p rel
    while IFS= read -r m; do
        rel=${m#kernel/}
        for p in "${pats[@]}"; do
            # shellcheck disable=SC2053 # the pattern is a glob on purpose
            if [[ $p == '!'* ]]; then
                [[ $rel == ${p#!} ]] && break
            elif [[ $rel == $p ]]; then
                echo "$m"; break
            fi
        done
    done < "$all_list" > "$keep_list.direct"
    # modules.dep lists the full (transitive) dependencies of each module.
    awk -F': *' 'NR == FNR { want[$1] = 1; next }
                 ($1 in want) { print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i] }' \
        "$keep_list.direct" "$moddir/modules.dep" | LC_ALL=C sort -u > "$keep_list"
    LC_ALL=C comm -23 "$all_list" "$keep_list" | (cd "$moddir" && xargs -r rm -f)
    find "$moddir/kernel" -depth -type d -empty -delete
    depmod -b "$root" "$kver"
    echo "build-image:   kept $(wc -l < "$keep_list") of $(wc -l < "$all_list") modules ($(du -sh "$moddir" | cut -f1))"
}

build_initramfs() {
    local root=$1 kver=$2 out=$3 ir="$WORK/initramfs" a m
    stage "building the initramfs (busybox + $((${#INITRAMFS_MODULES[@]})) modules and their dependencies)"
    rm -rf "$ir"
    mkdir -p "$ir"/{bin,dev,proc,sys,run,newroot,etc,lib/modules/"$kver"}
    cp /bin/busybox "$ir/bin/busybox"
    for a in sh mount umount mkdir insmod switch_root sleep cat dd echo ls mknod \
        losetup grep sed tr head cut dmesg blkid readlink stat uname; do
        ln -s busybox "$ir/bin/$a"
    done
    install -m 0755 "$RECIPE/initramfs/init" "$ir/init"
    # Load order: each module after its dependencies, as modprobe would.
    for m in "${INITRAMFS_MODULES[@]}"; do
        modprobe -d "$root" -S "$kver" --show-depends "$m" 2>/dev/null |
            awk '$1 == "insmod" { print $2 }' || echo "build-image:   (module $m is built in or absent)" >&2
    done | awk '!seen[$0]++' | sed "s|^$root||; s|^/usr/lib/|/lib/|" > "$ir/etc/modules"
    while IFS= read -r m; do
        mkdir -p "$ir$(dirname "$m")"
        cp "$root$m" "$ir$m"
    done < "$ir/etc/modules"
    find "$ir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    (cd "$ir" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) |
        gzip -9 -n > "$out"
    echo "build-image:   initramfs $(du -h "$out" | cut -f1), $(wc -l < "$ir/etc/modules") modules"
}

build_squashfs() {
    local root=$1 out=$2
    stage "making the squashfs root (zstd)"
    # mksquashfs takes the image and file times from SOURCE_DATE_EPOCH.
    mksquashfs "$root" "$out" -noappend -no-progress -quiet -comp zstd -Xcompression-level 15 \
        -b 128K -wildcards \
        -e 'boot/*' 'proc/*' 'sys/*' 'dev/*' 'run/*' 'tmp/*' 'var/tmp/*' 'var/cache/apt/*' \
           'var/lib/apt/lists/*' 'var/log/*'
    echo "build-image:   rootfs.squashfs $(du -h "$out" | cut -f1)"
}

build_iso() {
    local kernel=$1 initrd=$2 squash=$3 out=$4 tree="$WORK/isotree"
    stage "making the hybrid ISO (grub-mkrescue, BIOS + UEFI)"
    mkdir -p "$tree/boot/grub" "$tree/live"
    cp "$kernel" "$tree/boot/vmlinuz"
    cp "$initrd" "$tree/boot/initrd.img"
    ln "$squash" "$tree/live/rootfs.squashfs" 2>/dev/null || cp "$squash" "$tree/live/rootfs.squashfs"
    cp "$RECIPE/grub.cfg" "$tree/boot/grub/grub.cfg"
    find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    # Byte-for-byte reproducible ISO: grub-mkrescue makes the EFI system
    # partition (efi.img) with mformat, which picks a random FAT volume
    # serial - a shim first in PATH passes one made from SOURCE_DATE_EPOCH;
    # and xorriso stamps the volume dates, the GPT GUIDs and the files
    # grub-mkrescue adds with the time of the build - the options after "--"
    # set them all from SOURCE_DATE_EPOCH (GRUB's own config does not search
    # by the volume UUID: the initramfs finds the root by the label MKUBE).
    mkdir -p "$WORK/shim"
    printf '#!/bin/sh\nexec %s -N %08x "$@"\n' "$(command -v mformat)" \
        $((SOURCE_DATE_EPOCH & 0xffffffff)) >"$WORK/shim/mformat"
    chmod 755 "$WORK/shim/mformat"
    # Only the grub modules the config uses; the rest would only take space.
    PATH="$WORK/shim:$PATH" grub-mkrescue -o "$out" \
        --install-modules="linux normal iso9660 search search_fs_uuid search_label serial terminal echo test all_video gzio part_msdos part_gpt fat configfile" \
        --locales= --fonts= --themes= \
        "$tree" -- -volid MKUBE -joliet off \
        -volume_date uuid "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S00)" \
        -volume_date all_file_dates set_to_mtime \
        -boot_image any gpt_disk_guid=volume_date_uuid \
        -alter_date_r b "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y.%m.%d.%H%M%S)" / -- \
        >"$WORK/grub-mkrescue.log" 2>&1 ||
        { cat "$WORK/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }
    echo "build-image:   mkube.iso $(du -h "$out" | cut -f1)"
}

main() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, chroot and mounts need it); try: sudo $0"
    [ "$(dpkg --print-architecture)" = amd64 ] || die "the image is amd64; build it on an amd64 host"

    mkdir -p "${TMPDIR:-/var/tmp}"
    WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mkube-image.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$WORK/recipe"
    tar -C "$ISO_DIR" --exclude=./kubernetes -cf - . | tar -C "$WORK/recipe" -xf -
    RECIPE=$WORK/recipe

    local key entry
    key=$(recipe_key)
    entry="$CACHE_ROOT/$key"
    if [ "${MKUBE_NO_CACHE:-0}" != 1 ] && cache_complete "$entry"; then
        publish "$entry" "$OUTDIR"
        touch "$entry" # most recently used: kept by prune_cache
        stage "cache hit $key: outputs in $OUTDIR"
        echo "build-image: done in $(($(date +%s) - START_TS))s"
        return 0
    fi

    install_host_deps
    stage "building image (recipe $key) in $WORK"

    local root="$WORK/rootfs" result="$WORK/result" kver kernel
    mkdir -p "$result"
    build_rootfs "$root"

    kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n1)
    [ -n "$kernel" ] || die "no kernel in $root/boot"
    kver=${kernel##*/vmlinuz-}
    cp "$kernel" "$result/mkube-vmlinuz"

    customize_rootfs "$root"
    prune_modules "$root" "$kver"
    build_initramfs "$root" "$kver" "$result/mkube-initrd.img"
    build_squashfs "$root" "$WORK/rootfs.squashfs"
    build_iso "$result/mkube-vmlinuz" "$result/mkube-initrd.img" "$WORK/rootfs.squashfs" "$result/mkube.iso"

    stage "writing checksums"
    local f
    for f in "${OUTPUTS[@]}"; do
        (cd "$result" && sha256sum "$f" > "$f.sha256")
        touch -d "@$SOURCE_DATE_EPOCH" "$result/$f"
    done

    if [ "${MKUBE_NO_CACHE:-0}" != 1 ]; then
        # Fill the cache atomically: a killed build never leaves a half entry.
        mkdir -p "$CACHE_ROOT"
        local tmp_entry
        tmp_entry=$(mktemp -d "$CACHE_ROOT/.tmp-$key.XXXXXX")
        cp -a "$result/." "$tmp_entry/"
        chmod 0755 "$tmp_entry"
        if ! mv -T "$tmp_entry" "$entry" 2>/dev/null; then
            rm -rf "$entry.old"; mv -T "$entry" "$entry.old" 2>/dev/null || true
            mv -T "$tmp_entry" "$entry"; rm -rf "$entry.old"
        fi
        publish "$entry" "$OUTDIR"
        prune_cache "$key"
    else
        publish "$result" "$OUTDIR"
    fi
    stage "outputs in $OUTDIR: $(cd "$OUTDIR" && du -h mkube.iso | cut -f1) ISO"
    echo "build-image: done in $(($(date +%s) - START_TS))s"
}

main "$@"; exit $?  # on one line: bash never reads past it, even if the file is edited while running
