#!/usr/bin/env bash
# Installs what building and testing Sandbox needs on Debian/Ubuntu: the NativeAOT linker toolchain (and on x86_64 the
# cross toolchain for the linux-arm64 executables),
# busybox-static for test root filesystems, libseccomp-dev for the tests that compare our seccomp filters with libseccomp's (and check its header),
# python3 (samples/HermeticTests' listener and TRX summary, the benchmarks' figures),
# the emulated arm64 machine eng/arm64-vm.sh boots to run containers with the arm64 `sandbox`,
# runc (the tests run the configs `runc spec` writes under both runtimes and compare), podman (its end-to-end tests run
# containers with sandbox as podman's runtime: conmon, overlay storage, pods), and the benchmark anchors
# (bubblewrap, crun, runc, hyperfine).
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
# `sandbox` is linked statically (src/Sandbox.Cli/Sandbox.Cli.csproj): glibc's static archives, and binutils' objcopy
# to strip it.
[ -e "/usr/lib/$(uname -m)-linux-gnu/libc.a" ] || need+=(libc6-dev)
command -v objcopy >/dev/null || need+=(binutils)
command -v busybox >/dev/null && busybox --list >/dev/null 2>&1 && file -L "$(command -v busybox)" 2>/dev/null | grep -q static || need+=(busybox-static)
[ -e /usr/lib/x86_64-linux-gnu/libz.so ] || [ -e /usr/lib/aarch64-linux-gnu/libz.so ] || need+=(zlib1g-dev)
[ -e /usr/include/seccomp.h ] || need+=(libseccomp-dev)
command -v runc >/dev/null || need+=(runc)
command -v podman >/dev/null || need+=(podman)
if [ "${1:-}" = "--bench" ]; then
  for t in bwrap:bubblewrap crun:crun runc:runc hyperfine:hyperfine; do
    command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
  done
fi
# On x86_64, the linux-arm64 executables are cross-compiled (NativeAOT links them with clang and lld against
# Debian's arm64 cross libc) and smoke-tested under qemu-aarch64.
if [ "$(uname -m)" = x86_64 ]; then
  command -v clang >/dev/null || need+=(clang)
  command -v ld.lld >/dev/null || need+=(lld)
  command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
  [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-dev-arm64-cross)
  command -v aarch64-linux-gnu-objcopy >/dev/null || need+=(binutils-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
fi
command -v file >/dev/null || need+=(file)
command -v python3 >/dev/null || need+=(python3)
# eng/arm64-vm.sh (tests/Sandbox.Build.Tasks.Tests/Arm64MachineTests.cs): qemu-system-aarch64, cpio for the
# initramfs, and Debian's archive keys to check the arm64 packages it fetches. qemu-system-arm goes in without its
# recommendations (a GUI, firmware and block drivers the machine does not use).
lean=()
command -v qemu-system-aarch64 >/dev/null || lean+=(qemu-system-arm)
command -v cpio >/dev/null || need+=(cpio)
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ $((${#need[@]} + ${#lean[@]})) -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install these packages first (as root): ${need[*]} ${lean[*]}" >&2
    exit 1
  fi
  echo "installing: ${need[*]} ${lean[*]}"
  apt-get update -qq
  [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ ${#lean[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
fi
