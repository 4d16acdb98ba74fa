#!/bin/bash
# customize.sh ROOT: turn the mmdebstrap tree at ROOT into mkube's guest root:
# install the overlay files (units, configs, scripts), the docker user, the
# CNI layout and the services to start; remove what must differ per machine
# (SSH host keys, machine-id) and what a VM never needs (/boot, initramfs
# tooling, caches). Called by build-image.sh as root.
set -euo pipefail

readonly ROOT=${1:?usage: customize.sh ROOT}
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

# Files: copied with their modes, owned by root.
cp -a --no-preserve=ownership "$HERE/overlay/." "$ROOT/"
chmod 0440 "$ROOT/etc/sudoers.d/mkube"
chmod 0755 "$ROOT/usr/libexec/mkube/"*

# The docker user: uid 1000, primary group docker (created by docker.io),
# passwordless sudo (etc/sudoers.d/mkube). Its password is "*": no password
# login, yet not "locked" (a locked account would be refused by sshd).
in_root useradd --uid 1000 --gid docker --create-home --home-dir /home/docker \
    --shell /bin/bash --comment "mkube" docker
in_root usermod --password '*' docker
chmod 0755 "$ROOT/home/docker"
install -d -m 0700 -o 1000 -g "$(in_root getent group docker | cut -d: -f3)" "$ROOT/home/docker/.ssh"

# CNI plugins: Debian installs them in /usr/lib/cni; kubelet and most CNI
# manifests look in /opt/cni/bin.
mkdir -p "$ROOT/opt/cni/bin" "$ROOT/etc/cni/net.d"
for p in "$ROOT"/usr/lib/cni/*; do
    ln -sf "/usr/lib/cni/${p##*/}" "$ROOT/opt/cni/bin/${p##*/}"
done

# resolv.conf names the DHCP DNS servers directly (no 127.0.0.53 stub).
ln -sf /run/systemd/resolve/resolv.conf "$ROOT/etc/resolv.conf"

echo mkube > "$ROOT/etc/hostname"
: > "$ROOT/etc/fstab"

# Services.
in_root systemctl enable mkube-data.service mkube-forward-accept.service mkube-node.service \
    systemd-networkd.service systemd-resolved.service ssh.service \
    docker.service docker.socket containerd.service >/dev/null 2>&1
in_root systemctl disable e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    dpkg-db-backup.timer apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
# apparmor.service would compile every profile in /etc/apparmor.d at each boot
# (10+ s under TCG) for two profiles a VM never uses; dockerd loads its own
# docker-default profile with apparmor_parser when it starts.
in_root systemctl mask apparmor.service >/dev/null 2>&1
# Nothing to fsck or remount (squashfs + tmpfs), no swap, no hardware clock
# to sync.
in_root systemctl mask systemd-remount-fs.service systemd-firstboot.service \
    swap.target >/dev/null 2>&1 || true
# Each of these costs seconds under TCG for nothing a VM uses (the kernel loads
# fuse, dm-mod and configfs on demand; no DRM, no pstore); no getty on the
# (invisible) VGA screen: the serial console keeps one.
in_root systemctl mask modprobe@drm.service modprobe@efi_pstore.service \
    modprobe@dm_mod.service modprobe@fuse.service systemd-pstore.service \
    getty@tty1.service >/dev/null 2>&1

# Per-machine identity is made at boot.
rm -f "$ROOT"/etc/ssh/ssh_host_*
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"

# The kernel and initramfs live outside the root (on the ISO / given to QEMU).
rm -rf "$ROOT"/boot/* "$ROOT"/initrd.img* "$ROOT"/vmlinuz*
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* \
    "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/lib/dpkg/*-old "$ROOT"/tmp/* "$ROOT"/var/tmp/*

# Record what is inside, for support and licence questions.
mkdir -p "$ROOT/usr/share/mkube"
in_root dpkg-query -W -f='${Package}=${Version}\n' | LC_ALL=C sort > "$ROOT/usr/share/mkube/packages.manifest"
echo "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-unset}" > "$ROOT/usr/share/mkube/build-info"
