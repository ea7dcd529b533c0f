# shellcheck shell=bash
# The Debian root filesystem of the VM tests, on a LUKS2 disk (source after lib.sh and images.sh).
#
#   vm_rootfs    sets VM_ROOTFS_EXT4 (the plain ext4 image), VM_ROOTFS_LUKS (the same filesystem
#                encrypted in place into a LUKS2 image), VM_ROOTFS_UUID (its LUKS UUID),
#                VM_ROOTFS_PASSPHRASE (its keyslot 0: the recovery passphrase of the tests) and
#                VM_ROOTFS_SECONDS (build time, 0 when cached). Tests boot a sparse copy of
#                VM_ROOTFS_LUKS (cp --sparse=always) and may change its header (keyslots, tokens):
#                cryptsetup edits a LUKS2 header in an image file without device-mapper.
#
# Contents: debootstrap --variant=minbase of bookworm from the machine's configured Debian mirror,
# with systemd, udev, cryptsetup-bin and the runtime libraries cvm-agent links against; /etc/fstab
# and /etc/crypttab for /dev/mapper/root; cvm-vmtest.service, which runs the scenario named by
# cvm.vmtest=NAME from a payload disk (label "cvmpayload", see vm_payload_disk). No kernel inside:
# the tests boot the host's Debian kernel directly (-kernel) with an initramfs built on the host.
#
# No device-mapper on the host: the filesystem is made from the tree by mke2fs -d and encrypted by
# `cryptsetup reencrypt --encrypt` on the image file (userspace crypto). The keyslot uses PBKDF2
# with 1000 iterations so that an unlock under TCG takes milliseconds: a test key, not a real one.
#
# Cache: $VM_CACHE/rootfs-KEY.{ext4,luks}, KEY over the builder, tests/vm/rootfs/, the package
# list, the mirror and debootstrap's version. Cold build: debootstrap (~1 min plus the download).

VM_ROOTFS_SUITE=bookworm
VM_ROOTFS_PASSPHRASE=cvm-vmtest-recovery
# Runtime libraries of cvm-agent (the Makefile's PKGS) and tools the scenarios use.
VM_ROOTFS_PACKAGES="systemd systemd-sysv udev cryptsetup-bin kmod ca-certificates
libtss2-esys-3.0.2-0 libtss2-mu0 libtss2-tctildr0 libtss2-tcti-device0 libcryptsetup12
libtss2-rc0 libtss2-sys1 libsystemd0 libssl3 libcurl4 libjson-c5"

# The Debian mirror apt uses on this machine (deb822 or one-line sources), for debootstrap.
vm_debian_mirror() {
        local uri
        if [ -n "${VM_DEBIAN_MIRROR:-}" ]; then
                echo "$VM_DEBIAN_MIRROR"
                return
        fi
        uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && u != "" && / bookworm( |$)/ { print u; exit }' \
                /etc/apt/sources.list.d/*.sources 2>/dev/null)
        [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
        echo "${uri:-http://deb.debian.org/debian}"
}

# Packages that own the libraries $CVM_AGENT links directly (its DT_NEEDED entries; debootstrap
# resolves their own dependencies), so a new library in the agent makes a new root filesystem
# rather than a failing boot. Exact paths only: a basename match would also find multiarch
# copies (libc6-i386).
vm_agent_lib_packages() {
        local so path cand owner
        [ -x "${CVM_AGENT:-}" ] || return 0
        for so in $(objdump -p "$CVM_AGENT" 2>/dev/null | awk '$1 == "NEEDED" { print $2 }'); do
                path=$(ldd "$CVM_AGENT" 2>/dev/null | awk -v so="$so" '$1 == so && $3 ~ /^\// { print $3 }')
                [ -n "$path" ] || continue
                for cand in "$path" "$(readlink -f "$path")" "/usr${path#/usr}" "${path#/usr}"; do
                        owner=$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1)
                        [ -n "$owner" ] && { echo "$owner"; break; }
                done
        done | sort -u
}

# Writes the test configuration into the debootstrapped tree $1 (LUKS UUID $2).
vm_rootfs_customize() {
        local t=$1 uuid=$2 u
        echo cvmtest >"$t/etc/hostname"
        printf '127.0.0.1\tlocalhost\n127.0.1.1\tcvmtest\n' >"$t/etc/hosts"
        printf '/dev/mapper/root\t/\text4\tdefaults\t0\t1\n' >"$t/etc/fstab"
        printf 'root\tUUID=%s\tnone\tluks,discard\n' "$uuid" >"$t/etc/crypttab"
        # systemd creates a fresh machine id on the first boot of every copy.
        : >"$t/etc/machine-id"
        install -D -m 0755 "$VM_LIB_DIR/rootfs/boot-run" "$t/usr/local/lib/cvm-vmtest/boot-run"
        install -D -m 0644 "$VM_LIB_DIR/rootfs/cvm-vmtest.service" "$t/etc/systemd/system/cvm-vmtest.service"
        mkdir -p "$t/etc/systemd/system/multi-user.target.wants"
        ln -sf /etc/systemd/system/cvm-vmtest.service "$t/etc/systemd/system/multi-user.target.wants/"
        # Nothing periodic or interactive: timers would only add work to a short test boot, and a
        # getty on ttyS0 would hang up the console under the scenario (its writes then fail).
        for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
                dpkg-db-backup.timer getty@.service serial-getty@.service getty-static.service \
                systemd-timesyncd.service; do
                ln -sf /dev/null "$t/etc/systemd/system/$u"
        done
        # Downloaded packages and lists: not needed in the image.
        rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/* "$t"/var/log/*.log
}

vm_rootfs() {
        local key pkgs mirror base tree log start uuid mb
        for t in debootstrap mke2fs cryptsetup; do
                command -v "$t" >/dev/null || vm_skip "$t not installed (make check-vm installs it)"
        done
        mirror=$(vm_debian_mirror)
        pkgs=$(printf '%s\n' $VM_ROOTFS_PACKAGES $(vm_agent_lib_packages) | sort -u | tr '\n' ',' | sed 's/,$//')
        key=$(vm_cache_key "$VM_LIB_DIR/rootfs.sh" "$VM_LIB_DIR/rootfs" -- "$VM_ROOTFS_SUITE" "$mirror" "$pkgs" \
                "$(vm_pkg_version debootstrap cryptsetup-bin e2fsprogs)")
        base=$VM_CACHE/rootfs-$VM_ROOTFS_SUITE-$key
        VM_ROOTFS_EXT4=$base.ext4
        VM_ROOTFS_LUKS=$base.luks
        VM_ROOTFS_SECONDS=0
        mkdir -p "$VM_CACHE"
        exec 9>"$VM_CACHE/.lock"
        flock -w 900 9 || vm_die "cache lock $VM_CACHE/.lock busy for 15 minutes"
        if [ -s "$VM_ROOTFS_LUKS" ] && [ -s "$base.uuid" ]; then
                VM_ROOTFS_UUID=$(cat "$base.uuid")
                flock -u 9
                vm_log "root filesystem (cached): $VM_ROOTFS_LUKS"
                return 0
        fi
        start=$(vm_now)
        tree=$base.tree
        log=$VM_TMP/debootstrap.log
        rm -rf "$tree"
        vm_log "debootstrap $VM_ROOTFS_SUITE from $mirror (minbase + $pkgs)"
        if ! timeout 1200 debootstrap --variant=minbase --include="$pkgs" --components=main \
                "$VM_ROOTFS_SUITE" "$tree" "$mirror" >"$log" 2>&1; then
                # debootstrap leaves /proc etc. mounted in the tree when it fails halfway.
                for m in proc sys dev/pts dev; do umount "$tree/$m" 2>/dev/null; done
                rm -rf "$tree"
                flock -u 9
                vm_die "debootstrap failed: $(tail -n 20 "$log")"
        fi
        uuid=$(cat /proc/sys/kernel/random/uuid)
        vm_rootfs_customize "$tree" "$uuid"
        # Size: the tree plus a third, plus room for the tests' own files.
        mb=$(($(du -sm "$tree" | cut -f1) * 4 / 3 + 128))
        rm -f "$base.ext4.tmp" "$base.luks.tmp"
        mke2fs -q -t ext4 -d "$tree" -L cvmroot "$base.ext4.tmp" "${mb}M" >"$log" 2>&1 ||
                { flock -u 9; vm_die "mke2fs -d failed: $(tail -n 5 "$log")"; }
        rm -rf "$tree"
        # In-place encryption needs room for the header: grow the image by 32 MiB first.
        cp --sparse=always "$base.ext4.tmp" "$base.luks.tmp"
        truncate -s +32M "$base.luks.tmp"
        if ! printf '%s' "$VM_ROOTFS_PASSPHRASE" | cryptsetup reencrypt --encrypt --type luks2 \
                --reduce-device-size 32M --uuid "$uuid" --label cvmroot --key-file - \
                --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode "$base.luks.tmp" >"$log" 2>&1; then
                rm -f "$base.ext4.tmp" "$base.luks.tmp"
                flock -u 9
                vm_die "cryptsetup reencrypt --encrypt failed: $(tail -n 5 "$log")"
        fi
        mv "$base.ext4.tmp" "$VM_ROOTFS_EXT4"
        mv "$base.luks.tmp" "$VM_ROOTFS_LUKS"
        echo "$uuid" >"$base.uuid"
        VM_ROOTFS_UUID=$uuid
        flock -u 9
        VM_ROOTFS_SECONDS=$(vm_elapsed "$start")
        vm_log "root filesystem built in ${VM_ROOTFS_SECONDS}s: $VM_ROOTFS_LUKS (${mb} MiB, $(du -m "$VM_ROOTFS_LUKS" | cut -f1) MiB used)"
        # Superseded root filesystems (~800 MiB each) go once they are an hour old.
        find "$VM_CACHE" -maxdepth 1 -name "rootfs-$VM_ROOTFS_SUITE-*" ! -name "${base##*/}.*" -mmin +60 -delete 2>/dev/null
        return 0
}

# vm_payload_disk OUT [FILE...]: the ext4 disk (label "cvmpayload") cvm-vmtest.service runs from:
# the guest runner and scenarios (tests/vm/guest), the cvm-agent under test, and FILEs.
vm_payload_disk() {
        local out=$1 dir
        shift
        dir=$VM_TMP/payload.d
        rm -rf "$dir"
        mkdir -p "$dir"
        cp -p "$VM_LIB_DIR"/guest/* "$dir/"
        [ -n "${CVM_AGENT:-}" ] && cp -p "$CVM_AGENT" "$dir/cvm-agent"
        [ $# -gt 0 ] && cp -p "$@" "$dir/"
        rm -f "$out"
        mke2fs -q -t ext4 -d "$dir" -L cvmpayload "$out" 64M >/dev/null 2>&1 || vm_die "mke2fs -d $dir failed"
}
