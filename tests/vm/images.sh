# shellcheck shell=bash
# Guest images for the VM tests, built once and cached (source after lib.sh).
#
#   vm_kernel                      sets VM_KVER and VM_KERNEL: the Debian kernel (linux-image-amd64)
#   vm_initrd_tools [OVERLAY...]   sets VM_INITRD: an initramfs built by the real mkinitramfs with
#                                  tests/vm/initramfs-tools as its configuration directory (our test
#                                  hook + boot script), then each OVERLAY directory copied over it
#                                  (e.g. the product's initramfs/initramfs-tools hook and scripts)
#   vm_initrd_dracut [MODULE_DIR...] the same with dracut (dracut-core) and tests/vm/dracut
#   vm_data_disk OUT DIR [MB]      an ext4 image holding DIR's files (mke2fs -d; no mount, no root)
#
# Cache: $VM_CACHE (default $CVM_BUILDDIR/vm-cache, else build/vm-cache), one file per distinct
# set of inputs: the key hashes every input file's content (the agent binary, the hook and guest
# scripts, the overlays) and the versions of the kernel and the packages that generate the image.
# A changed input gives a new key, so a stale image is never used; `make clean` drops the cache.

: "${VM_CACHE:=${CVM_BUILDDIR:-$VM_SRC_DIR/build}/vm-cache}"

# vm_kernel: the newest Debian kernel under /boot that has its modules (the container's own
# /boot may hold another kernel without them).
vm_kernel() {
        local k v best=
        for k in /boot/vmlinuz-*; do
                [ -r "$k" ] || continue
                v=${k#/boot/vmlinuz-}
                [ -f "/lib/modules/$v/modules.dep" ] || continue
                case $v in *-amd64) ;; *) continue ;; esac
                best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n1)
        done
        [ -n "$best" ] || vm_skip "no Debian kernel with modules under /boot (install linux-image-amd64)"
        VM_KVER=$best
        VM_KERNEL=/boot/vmlinuz-$best
}

# vm_cache_key: sha256 over the content of the files/directories given and the strings after
# "--"; prints the first 16 hex digits.
vm_cache_key() {
        local x
        {
                while [ $# -gt 0 ] && [ "$1" != -- ]; do
                        if [ -d "$1" ]; then
                                (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
                                        xargs -0 sha256sum; find . -type f -perm -u+x | LC_ALL=C sort)
                        else
                                sha256sum <"$1"
                        fi
                        shift
                done
                [ "${1:-}" = -- ] && shift
                for x in "$@"; do
                        echo "$x"
                done
        } | sha256sum | cut -c1-16
}

vm_pkg_version() {
        dpkg-query -W -f='${Package}=${Version} ' "$@" 2>/dev/null
}

# vm_initrd_tools [OVERLAY...]: sets VM_INITRD (cached), VM_INITRD_SECONDS (0 when cached).
vm_initrd_tools() {
        local key out conf overlay start log
        : "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
        command -v mkinitramfs >/dev/null || vm_skip "mkinitramfs not installed (initramfs-tools)"
        [ -n "${VM_KVER:-}" ] || vm_kernel
        # The host's hooks and boot scripts (cryptroot from cryptsetup-initramfs, ...) and their
        # configuration go into the image as well.
        key=$(vm_cache_key "$CVM_AGENT" "$VM_LIB_DIR/initramfs-tools" "$VM_LIB_DIR/guest" "$@" /usr/bin/jq \
                /usr/share/initramfs-tools $(ls -d /etc/cryptsetup-initramfs 2>/dev/null) -- \
                "$VM_KVER" "$(vm_pkg_version initramfs-tools-core busybox klibc-utils "linux-image-$VM_KVER" \
                        jq curl tpm2-tools cryptsetup-bin cryptsetup-initramfs libc6)" "overlays=$*")
        out=$VM_CACHE/initrd-tools-$VM_KVER-$key.img
        VM_INITRD=$out
        VM_INITRD_SECONDS=0
        mkdir -p "$VM_CACHE"
        # One builder at a time per cache; a second test waits for the first one's image.
        exec 9>"$VM_CACHE/.lock"
        flock -w 600 9 || vm_die "cache lock $VM_CACHE/.lock busy for 10 minutes"
        if [ -s "$out" ]; then
                flock -u 9
                vm_log "initramfs (cached): $out"
                return 0
        fi
        start=$(vm_now)
        conf=$VM_TMP/initramfs-tools.conf
        rm -rf "$conf"
        cp -a "$VM_LIB_DIR/initramfs-tools" "$conf"
        for overlay in "$@"; do
                cp -a "$overlay/." "$conf/" || vm_die "cannot copy overlay $overlay"
        done
        log=$VM_TMP/mkinitramfs.log
        # TMPDIR: mkinitramfs stages the image there; keep it off a possibly small /var/tmp.
        if ! CVM_VMTEST_AGENT=$CVM_AGENT CVM_VMTEST_GUEST=$VM_LIB_DIR/guest TMPDIR=$VM_TMP \
                timeout 600 mkinitramfs -d "$conf" -o "$out.tmp" "$VM_KVER" >"$log" 2>&1; then
                rm -f "$out.tmp"
                flock -u 9
                vm_die "mkinitramfs failed: $(tail -n 20 "$log")"
        fi
        mv "$out.tmp" "$out"
        flock -u 9
        VM_INITRD_SECONDS=$(vm_elapsed "$start")
        vm_log "initramfs built in ${VM_INITRD_SECONDS}s: $out ($(du -k "$out" | cut -f1) KiB)"
        # Old images of the same flavour and kernel are dead weight once a new one exists.
        find "$VM_CACHE" -maxdepth 1 -name "initrd-tools-$VM_KVER-*.img" ! -name "${out##*/}" -mmin +60 -delete 2>/dev/null
        return 0
}

# vm_initrd_dracut [MODULE_DIR...]: sets VM_INITRD (cached), VM_INITRD_SECONDS (0 when cached):
# an initramfs built by dracut (dracut-core) from the host's modules plus tests/vm/dracut/ (our
# test module 59cvmvmtest: the agent, the scenario tools, a unit running cvm.vmtest.initrd=NAME)
# and each MODULE_DIR given (e.g. the product's initramfs/dracut/5Xname: included by name).
# The host's /etc/dracut.conf* are ignored, the module and driver lists are explicit.
VM_DRACUT_MODULES="systemd systemd-initrd dracut-systemd base fs-lib rootfs-block udev-rules crypt dm cvmvmtest"
VM_DRACUT_DRIVERS="virtio_pci virtio_blk virtio_net ext4 dm_mod dm_crypt xts"

vm_initrd_dracut() {
        local key out base m start log mods=$VM_DRACUT_MODULES name
        : "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
        command -v dracut >/dev/null || vm_skip "dracut not installed (dracut-core)"
        [ -n "${VM_KVER:-}" ] || vm_kernel
        key=$(vm_cache_key "$CVM_AGENT" "$VM_LIB_DIR/dracut" "$VM_LIB_DIR/guest" "$@" /usr/bin/jq -- \
                "$VM_KVER" "$mods" "$VM_DRACUT_DRIVERS" "modules=$*" \
                "$(vm_pkg_version dracut-core systemd udev cryptsetup-bin "linux-image-$VM_KVER" jq curl tpm2-tools libc6)")
        out=$VM_CACHE/initrd-dracut-$VM_KVER-$key.img
        VM_INITRD=$out
        VM_INITRD_SECONDS=0
        mkdir -p "$VM_CACHE"
        exec 9>"$VM_CACHE/.lock"
        flock -w 600 9 || vm_die "cache lock $VM_CACHE/.lock busy for 10 minutes"
        if [ -s "$out" ]; then
                flock -u 9
                vm_log "initramfs (dracut, cached): $out"
                return 0
        fi
        start=$(vm_now)
        # A private dracut base directory: the host's files and modules, plus ours, so nothing is
        # installed into /usr/lib/dracut.
        base=$VM_TMP/dracut-base
        rm -rf "$base"
        mkdir -p "$base/modules.d" "$VM_TMP/dracut-conf.d"
        for m in /usr/lib/dracut/*; do
                [ "${m##*/}" = modules.d ] || ln -s "$m" "$base/"
        done
        for m in /usr/lib/dracut/modules.d/*; do
                ln -s "$m" "$base/modules.d/"
        done
        cp -a "$VM_LIB_DIR"/dracut/* "$base/modules.d/"
        for m in "$@"; do
                cp -a "$m" "$base/modules.d/"
                name=${m##*/}
                mods="$mods ${name#[0-9][0-9]}"
        done
        log=$VM_TMP/dracut.log
        if ! dracutbasedir=$base CVM_VMTEST_AGENT=$CVM_AGENT CVM_VMTEST_GUEST=$VM_LIB_DIR/guest \
                timeout 900 dracut --force --no-hostonly --no-hostonly-cmdline --kver "$VM_KVER" \
                --conf /dev/null --confdir "$VM_TMP/dracut-conf.d" --tmpdir "$VM_TMP" --compress zstd \
                --modules "$mods" --drivers "$VM_DRACUT_DRIVERS" "$out.tmp" >"$log" 2>&1; then
                rm -f "$out.tmp"
                flock -u 9
                vm_die "dracut failed: $(grep -E 'ERROR|FATAL|dracut\[E\]' "$log" | tail -n 10; tail -n 5 "$log")"
        fi
        mv "$out.tmp" "$out"
        flock -u 9
        VM_INITRD_SECONDS=$(vm_elapsed "$start")
        vm_log "initramfs (dracut) built in ${VM_INITRD_SECONDS}s: $out ($(du -k "$out" | cut -f1) KiB)"
        find "$VM_CACHE" -maxdepth 1 -name "initrd-dracut-$VM_KVER-*.img" ! -name "${out##*/}" -mmin +60 -delete 2>/dev/null
        return 0
}

# vm_data_disk OUT DIR [MB]: an ext4 filesystem image with DIR's content (no loop device).
vm_data_disk() {
        local out=$1 dir=$2 mb=${3:-32}
        command -v mke2fs >/dev/null || vm_skip "mke2fs not installed (e2fsprogs)"
        rm -f "$out"
        mke2fs -q -t ext4 -d "$dir" -L cvmdata "$out" "${mb}M" >/dev/null 2>&1 ||
                vm_die "mke2fs -d $dir failed"
}
