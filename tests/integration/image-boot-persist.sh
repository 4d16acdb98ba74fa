#!/bin/bash
# image-boot-persist.sh: boot mkube's kernel + initrd directly (ISO attached)
# with a fresh data disk carrying the magic tar; check ssh as docker, docker
# and containerd active, the data disk formatted and mounted, the hostname from
# the tar; write a file under /data, power off cleanly, boot again and check
# the file survived, the disk was not reformatted and the SSH host key is the
# same. Real QEMU (TCG). Image from MKUBE_IMAGE_DIR (default <repo>/out).
TEST_NAME=image-boot-persist
. "$(dirname "$0")/image-lib.sh"

setup
DISK="$TMP/data.qcow2"
make_data_disk "$DISK" 4G qcow2 mkube-persist
note "data disk $DISK (qcow2, 4 GiB) with the magic tar"

# --- first boot: the guest formats the disk
start_vm direct "$DISK" qcow2
wait_ssh
FIRST_BOOT=$BOOT_SECS
[ "$(vm_ssh id -un)" = docker ] || fail "ssh did not log in as docker"
[ "$(vm_ssh id -u)" = 1000 ] || fail "the docker user is not uid 1000"
vm_ssh sudo -n true || fail "passwordless sudo does not work for docker"
for unit in docker containerd; do
    # docker starts after sshd; give it time under TCG.
    for _ in $(seq 1 60); do
        [ "$(vm_ssh systemctl is-active $unit)" = active ] && break
        sleep 2
    done
    [ "$(vm_ssh systemctl is-active $unit)" = active ] ||
        fail "$unit is not active: $(vm_ssh sudo systemctl status $unit --no-pager 2>&1 | tail -n 15)"
done
note "docker and containerd are active"
vm_ssh findmnt -n -o SOURCE,FSTYPE /mnt/mkube-data | grep -q ext4 ||
    fail "/mnt/mkube-data is not an ext4 mount: $(vm_ssh findmnt /mnt/mkube-data; vm_ssh sudo journalctl -u mkube-data --no-pager | tail -n 20)"
for d in /var/lib/docker /data /etc/kubernetes /home/docker /var/lib/kubelet; do
    vm_ssh findmnt -n "$d" >/dev/null || fail "$d is not mounted from the data disk"
done
[ "$(vm_ssh hostname)" = mkube-persist ] || fail "hostname is '$(vm_ssh hostname)', expected mkube-persist (from mkube/hostname)"
vm_ssh docker info --format '{{.CgroupDriver}}' 2>/dev/null | grep -qx systemd ||
    vm_ssh sudo docker info --format '{{.CgroupDriver}}' | grep -qx systemd ||
    fail "dockerd does not use the systemd cgroup driver"
# A container really runs (runc, cgroups v2 + systemd driver, AppArmor,
# overlay2 on the data disk): import a one-binary image made from busybox.
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
    mkdir -p "$TMP/ctr/bin"
    cp /bin/busybox "$TMP/ctr/bin/busybox"
    tar -C "$TMP/ctr" -c bin | vm_ssh docker import - mkube-test:1 >/dev/null ||
        fail "docker import failed"
    out=$(vm_ssh docker run --rm mkube-test:1 /bin/busybox echo container-ok 2>&1) ||
        fail "docker run failed: $out"
    [ "$out" = container-ok ] || fail "docker run printed '$out'"
    note "docker run works (imported busybox image)"
else
    note "skipping docker run: no static /bin/busybox on this host (package busybox-static)"
fi
vm_ssh "grep -q '^nameserver ' /etc/resolv.conf" || fail "/etc/resolv.conf names no DNS server"
vm_ssh "grep -q '^nameserver 127\.' /etc/resolv.conf" && fail "/etc/resolv.conf names a loopback DNS server"
[ "$(vm_ssh cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward is off"
[ "$(vm_ssh cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] ||
    fail "net.bridge.bridge-nf-call-iptables is not 1 (br_netfilter not loaded?)"
UUID1=$(vm_ssh 'sudo blkid -s UUID -o value "$(findmnt -n -o SOURCE /mnt/mkube-data)"')
STAMP1=$(vm_ssh cat /mnt/mkube-data/mkube/formatted-at)
[ -n "$UUID1" ] || fail "cannot read the data disk's UUID"
KEY1=$(host_key)
[ -n "$KEY1" ] || fail "no ed25519 host key seen on the first boot"
vm_ssh "sudo sh -c 'echo persist-$$ > /data/mkube-test && sync'"
note "first boot: data disk UUID $UUID1, wrote /data/mkube-test"
stop_vm

# --- second boot: everything must still be there
start_vm direct "$DISK" qcow2
wait_ssh
SECOND_BOOT=$BOOT_SECS
[ "$(vm_ssh cat /data/mkube-test)" = "persist-$$" ] || fail "/data/mkube-test did not survive the reboot"
UUID2=$(vm_ssh 'sudo blkid -s UUID -o value "$(findmnt -n -o SOURCE /mnt/mkube-data)"')
[ "$UUID1" = "$UUID2" ] || fail "the data disk was reformatted (UUID $UUID1 -> $UUID2)"
[ "$(vm_ssh cat /mnt/mkube-data/mkube/formatted-at)" = "$STAMP1" ] || fail "the data disk's format stamp changed"
[ "$(host_key)" = "$KEY1" ] || fail "the SSH host key changed across the reboot"
[ "$(vm_ssh hostname)" = mkube-persist ] || fail "the hostname did not persist"
for _ in $(seq 1 60); do
    [ "$(vm_ssh systemctl is-active docker)" = active ] && break
    sleep 2
done
[ "$(vm_ssh systemctl is-active docker)" = active ] || fail "docker is not active after the reboot"

# dockerd adds tcp/2376 with --tlsverify once certificates are in
# /var/lib/mkube/docker-tls (on the data disk) and docker is restarted.
if command -v openssl >/dev/null; then
    P="$TMP/pki"
    mkdir -p "$P"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=mkube-test-ca -keyout "$P/ca-key.pem" -out "$P/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=mkube \
        -keyout "$P/server-key.pem" -out "$P/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$P/server.ext"
    openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca-key.pem" -CAcreateserial \
        -days 2 -extfile "$P/server.ext" -out "$P/server.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client \
        -keyout "$P/key.pem" -out "$P/client.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$P/client.ext"
    openssl x509 -req -in "$P/client.csr" -CA "$P/ca.pem" -CAkey "$P/ca-key.pem" -CAcreateserial \
        -days 2 -extfile "$P/client.ext" -out "$P/cert.pem" 2>/dev/null
    tar -C "$P" -c ca.pem server.pem server-key.pem cert.pem key.pem |
        vm_ssh 'sudo mkdir -p /var/lib/mkube/docker-tls /tmp/client && sudo tar -x -C /tmp/client &&
            cd /tmp/client && sudo cp ca.pem server.pem server-key.pem /var/lib/mkube/docker-tls/ &&
            sudo systemctl restart docker' || fail "installing the docker TLS certificates failed"
    out=$(vm_ssh 'cd /tmp/client && sudo docker --tlsverify --tlscacert ca.pem --tlscert cert.pem --tlskey key.pem \
        -H tcp://127.0.0.1:2376 version --format "{{.Server.Version}}"' 2>&1) ||
        fail "dockerd does not answer on tcp/2376 with TLS: $out"
    note "dockerd answers on tcp://0.0.0.0:2376 with --tlsverify (server $out)"
else
    note "skipping the docker TLS check: no openssl on this host"
fi
stop_vm
note "boot-to-ssh: first boot (formats the disk) ${FIRST_BOOT}s, second boot ${SECOND_BOOT}s"
