#!/bin/sh
# Installs the Debian 12 packages needed to build cvm-agent and run its test suite,
# fuzzers and benchmarks. Idempotent: when everything is present it does nothing, so
# `make check` and `make demo` can call it every time.
#   --vm   also the VM_PACKAGES that `make check-vm` needs (QEMU, OVMF, the Debian kernel,
#          the initramfs generators, debootstrap): about 400 MB, so plain `make check` skips them.
set -eu

# clevis, clevis-luks, clevis-tpm2: the local-only baseline of tests/bench/bench-unlock.sh.
PACKAGES="
python3-cryptography
build-essential pkg-config clang libclang-rt-14-dev llvm
libtss2-dev libcryptsetup-dev libsystemd-dev libssl-dev libcurl4-openssl-dev libjson-c-dev
libcmocka-dev
openssl jq xxd time man-db python3 jose
swtpm swtpm-tools tpm2-tools ima-evm-utils cryptsetup-bin
clevis clevis-luks clevis-tpm2
"

# tests/vm: QEMU (TCG) + OVMF + the Debian kernel; initramfs-tools (mkinitramfs, with busybox and
# klibc; cryptsetup-initramfs for cryptroot) and dracut-core (dracut without its metapackage,
# which conflicts with initramfs-tools); debootstrap, e2fsprogs and cpio for the guest images;
# curl is copied into the test initramfs.
VM_PACKAGES="
qemu-system-x86 ovmf linux-image-amd64 initramfs-tools busybox klibc-utils cryptsetup-initramfs dracut-core
debootstrap e2fsprogs cpio kmod zstd curl
"

case "${1:-}" in
--vm) PACKAGES="$PACKAGES $VM_PACKAGES" ;;
"") ;;
*)
        echo "usage: $0 [--vm]" >&2
        exit 2
        ;;
esac

missing=""
for p in $PACKAGES; do
        # dpkg-query prints "install ok installed" only for fully installed packages.
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
        exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root, or: apt-get install -y$missing" >&2
        exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
