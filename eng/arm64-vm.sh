#!/usr/bin/env bash
# arm64-vm.sh SANDBOX WORKDIR: runs containers with an arm64 `sandbox` executable (the one eng/build.sh
# cross-compiles into artifacts/dist/linux-arm64) in an emulated arm64 machine: qemu-system-aarch64 (TCG, no KVM
# needed) boots Debian bookworm's arm64 kernel with an initramfs made here, whose /init runs the checks below and
# powers off. qemu-user (tests/Sandbox.Build.Tasks.Tests/PackageLayoutTests.cs) cannot clone namespaces; this can.
#
# What runs in the machine, each printed as lines `NAME| output` (the container's stdout and stderr), `NAME exit=N`
# (sandbox's exit code) and `NAME report=JSON` (its RunReport, --report, on one line):
#   doctor     `sandbox doctor` on a kernel with cgroup v2 only (overlay loaded from the kernel's overlay.ko)
#   basic      a root run of a busybox bundle `sandbox spec` wrote: uid, hostname, pid, `ls /`, a write to the
#              read-only rootfs, `exit 7`
#   seccomp    mount and unshare under the default profile: refused, and named in the report
#   memory     a 16 MiB allocation under an 8 MiB linux.resources.memory.limit: OOM-killed
#   pids       background sleeps under linux.resources.pids.limit 10: the 10th fork fails
#   rootless   uid 1000 runs a `sandbox spec --rootless` bundle in a user namespace
# The output between the markers is printed here; the exit code is 0 when the machine got to the end marker
# (whatever the checks printed: tests/Sandbox.Build.Tasks.Tests/Arm64MachineTests.cs judges them), 1 otherwise.
#
# The kernel, busybox-static and libc6 (the loader and the libraries `sandbox` links) are arm64 .debs from Debian's
# mirror, fetched with a private apt state (the host's dpkg architectures are left alone) into a cache,
# $SANDBOX_ARM64_VM_CACHE (default artifacts/arm64-vm), once: delete it to fetch the newest ones again.
# SANDBOX_ARM64_VM_TIMEOUT (seconds, default 300) bounds the machine's run; qemu is killed when it is over.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sandbox=${1:?usage: arm64-vm.sh SANDBOX WORKDIR}
work=${2:?usage: arm64-vm.sh SANDBOX WORKDIR}
cache=${SANDBOX_ARM64_VM_CACHE:-$root/artifacts/arm64-vm}
vm_timeout=${SANDBOX_ARM64_VM_TIMEOUT:-300}
# The cloud kernel: fewer drivers to probe than linux-image-arm64, so it boots faster under TCG (measured on a busy
# 2-core x86_64 machine, qemu's start to the poweroff of an init that does nothing, four runs each alternating: 11 to
# 19 s against 13 to 26 s), it is a third of the download (21 MB against 60 MB), and it has what is needed here
# (cgroup v2, seccomp, user namespaces, landlock, the PL011 console of qemu's virt machine).
flavor=cloud-arm64
for tool in qemu-system-aarch64 cpio dpkg-deb apt-get gzip flock readelf; do
  command -v "$tool" >/dev/null || { echo "arm64-vm.sh: $tool is missing: run eng/install-deps.sh" >&2; exit 1; }
done
[ -f "$sandbox" ] || { echo "arm64-vm.sh: $sandbox does not exist" >&2; exit 1; }
case $(od -An -tu2 -j18 -N2 "$sandbox" | tr -d ' ') in
  183) ;; # EM_AARCH64
  *) echo "arm64-vm.sh: $sandbox is not an arm64 ELF executable" >&2; exit 1 ;;
esac

# 1. The arm64 packages, unpacked into $cache/$flavor once (a lock keeps concurrent runs from fetching twice).
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
pkgs=$cache/$flavor
if [ ! -e "$pkgs/ready" ]; then
  rm -rf "$pkgs" "$cache/apt" "$cache"/.unpack.* # what an interrupted fetch left
  apt_dir=$cache/apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$apt_dir/parts"
  # Debian's own sources (also on a host that is not Debian bookworm), checked with Debian's archive keys.
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$apt_dir/sources.list" <<EOF
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
  apt=(-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_dir/parts" -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o APT::Sandbox::User=root -o Debug::NoLocking=1)
  apt-get "${apt[@]}" -qq update
  # linux-image-cloud-arm64 is a metapackage: the kernel is the versioned package it depends on.
  kernel=$(apt-cache "${apt[@]}" depends "linux-image-$flavor" | awk '/Depends: linux-image-/ { print $2; exit }')
  (cd "$apt_dir/debs" && apt-get "${apt[@]}" -qq download "$kernel" busybox-static libc6)
  tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
  for deb in "$apt_dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$tmp/x"
  done
  mkdir -p "$tmp/out/lib"
  cp "$tmp"/x/boot/vmlinuz-* "$tmp/out/vmlinuz"
  cp "$tmp/x/bin/busybox" "$tmp/out/busybox"
  # overlay.ko depends on no other module (its modinfo depends= is empty), so one insmod loads it.
  cp "$tmp"/x/lib/modules/*/kernel/fs/overlayfs/overlay.ko "$tmp/out/overlay.ko"
  cp -L "$tmp"/x/lib/aarch64-linux-gnu/{ld-linux-aarch64.so.1,libc.so.6,libm.so.6} "$tmp/out/lib/"
  printf '%s\n' "$apt_dir"/debs/*.deb | xargs -n1 basename >"$tmp/out/packages"
  mv "$tmp/out" "$pkgs"
  rm -rf "$tmp" "$apt_dir"
  touch "$pkgs/ready"
fi
flock -u 9

# 2. The initramfs: busybox, the loader and libraries, sandbox and sandbox-build, overlay.ko, the busybox rootfs and the two inits.
mkdir -p "$work"
work=$(cd "$work" && pwd)
initrd=$work/initrd
rm -rf "$initrd"
mkdir -p "$initrd"/{bin,sbin,usr/bin,usr/sbin,lib/aarch64-linux-gnu,lib/modules,etc,proc,sys,dev,run,tmp,newroot,rootfs}
cp "$pkgs/busybox" "$initrd/bin/busybox"
cp "$pkgs"/lib/* "$initrd/lib/aarch64-linux-gnu/"
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$initrd/lib/ld-linux-aarch64.so.1"
# `sandbox spec` runs sandbox-build, which belongs beside sandbox.
build=$(dirname "$sandbox")/sandbox-build
[ -f "$build" ] || { echo "arm64-vm.sh: $build does not exist (sandbox spec runs it): eng/build.sh publishes both" >&2; exit 1; }
# Every library the two need must be here: fail now, not with a loader error in the machine.
for exe in "$sandbox" "$build"; do
  for lib in $(LC_ALL=C readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$initrd/lib/aarch64-linux-gnu/$lib" ] || { echo "arm64-vm.sh: $exe needs $lib, which the initramfs lacks" >&2; exit 1; }
  done
done
cp "$sandbox" "$initrd/bin/sandbox"
cp "$build" "$initrd/bin/sandbox-build"
chmod 755 "$initrd/bin/sandbox" "$initrd/bin/sandbox-build"
cp "$pkgs/overlay.ko" "$initrd/lib/modules/"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' >"$initrd/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$initrd/etc/group"
# The containers' rootfs, as eng/make-rootfs.sh makes it (its applet links are made in the machine, by the arm64 busybox).
mkdir -p "$initrd"/rootfs/{bin,dev,etc,proc,sys,tmp,root,usr/bin,usr/sbin,sbin}
cp "$pkgs/busybox" "$initrd/rootfs/bin/busybox"
cp "$initrd/etc/passwd" "$initrd/etc/group" "$initrd/rootfs/etc/"
chmod 1777 "$initrd/rootfs/tmp" "$initrd/tmp"

# The first init copies the initramfs into a tmpfs and switches to it: pivot_root(2) refuses to move the initramfs
# (rootfs) root, so a container could not be started on it.
cat >"$initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t tmpfs -o size=400m tmpfs /newroot
for entry in /*; do
  [ "$entry" = /newroot ] || /bin/busybox cp -a "$entry" /newroot/
done
exec /bin/busybox switch_root /newroot /bin/checks
EOF

# The checks' two helpers, in a file that root's checks and uid 1000's shell source. Bundles come from `sandbox spec`
# (run as the caller: --rootless maps the caller's uid), edited with awk: the process's args become `sh -c SCRIPT`
# (a SCRIPT without double quotes or backslashes: it goes into a JSON string as it is), the hostname arm64-box,
# and RESOURCES, if given, is linux.resources.
cat >"$initrd/etc/checks.sh" <<'EOF'
# bundle NAME SCRIPT [RESOURCES]: writes /bundles/NAME; $SPEC_FLAGS are spec's options.
bundle() {
  mkdir -p "/bundles/$1"
  ln -s /rootfs "/bundles/$1/rootfs"
  sandbox spec --bundle "/bundles/$1" $SPEC_FLAGS || echo "$1 spec failed"
  S=$2 R=${3:-} awk '
    args { print "      \"sh\", \"-c\", \"" ENVIRON["S"] "\""; args = 0; next }
    /^    "args": \[$/ { args = 1 }
    /^  "hostname": / { sub(/: ".*"/, ": \"arm64-box\"") }
    { print }
    /^  "linux": \{$/ && ENVIRON["R"] != "" { print "    \"resources\": " ENVIRON["R"] "," }
  ' "/bundles/$1/config.json" >"/bundles/$1/config.new" && mv "/bundles/$1/config.new" "/bundles/$1/config.json"
}

# run NAME [RUN OPTIONS]: `sandbox run` of /bundles/NAME with state in $STATE; prints its exit code, output and report.
run() {
  name=$1
  shift
  sandbox --root "$STATE" run --timeout 60s --report "$STATE.$name.json" "$@" --bundle "/bundles/$name" "$name" >"$STATE.$name.out" 2>&1
  echo "$name exit=$?"
  sed "s/^/$name| /" "$STATE.$name.out"
  [ -e "$STATE.$name.json" ] && echo "$name report=$(tr -d '\n' <"$STATE.$name.json")"
}
EOF

cat >"$initrd/bin/checks" <<'EOF'
#!/bin/busybox sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs /run
dmesg -n 1 # the OOM killer's messages must not cut into the output
hostname arm64-vm
insmod /lib/modules/overlay.ko
chroot /rootfs /bin/busybox --install -s /bin # the applet links, in one process (not a fork for each)
mkdir -m 1777 /bundles
. /etc/checks.sh

echo "=== sandbox-arm64-vm begin ==="
echo "machine: $(uname -srm)"
echo "uptime: $(cut -d' ' -f1 /proc/uptime) s at the first check"
sandbox doctor 2>&1 | sed 's/^/doctor| /'
SPEC_FLAGS= STATE=/run/sandbox
bundle basic 'echo uid=$(id -u); echo hostname=$(hostname); echo pid=$$; echo ls= $(ls /); touch /written 2>/dev/null && echo write=ok || echo write=refused; exit 7'
run basic
bundle seccomp 'mount -t tmpfs none /tmp 2>&1; unshare -n true 2>&1; echo end'
run seccomp --seccomp default
# (memory: dd, the container's first process, reads 16 MiB from /dev/zero into one buffer under an 8 MiB limit)
bundle memory 'exec dd if=/dev/zero of=/dev/null bs=16M count=1' '{"memory": {"limit": 8388608}}'
run memory
bundle pids 'i=0; while [ $i -lt 20 ]; do i=$((i+1)); sleep 5 & echo started $i; done' '{"pids": {"limit": 10}}'
run pids
# uid 1000, no capabilities: its own bundle (spec --rootless maps uid 1000 to 0) and a state root it owns.
mkdir -p /tmp/user && chown 1000:1000 /tmp/user
su -s /bin/sh user -c '. /etc/checks.sh; SPEC_FLAGS=--rootless STATE=/tmp/user/state
  bundle rootless "echo uid=\$(id -u); echo uid_map= \$(cat /proc/self/uid_map); echo pid=\$\$; echo ls= \$(ls /)"
  run rootless'
echo "uptime: $(cut -d' ' -f1 /proc/uptime) s at the end"
echo "=== sandbox-arm64-vm end ==="
poweroff -f
EOF
chmod 755 "$initrd/init" "$initrd/bin/checks"
(cd "$initrd" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/initrd.gz"
rm -rf "$initrd"

# 3. Boot it. qemu runs in the background so that an interrupted script still kills it (the trap).
log=$work/console.log
timeout -k 5 "$vm_timeout" qemu-system-aarch64 -M virt -cpu max -smp 2 -m 1024 -nographic -no-reboot -nic none \
  -kernel "$pkgs/vmlinuz" -initrd "$work/initrd.gz" -append "console=ttyAMA0 rdinit=/init panic=-1 quiet" \
  </dev/null >"$log" 2>&1 &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true' EXIT
trap 'exit 1' INT TERM HUP # so that the EXIT trap runs then too
wait "$qemu" || echo "arm64-vm.sh: qemu-system-aarch64 ended with exit code $? (124: the ${vm_timeout} s timeout)" >&2
trap - EXIT INT TERM HUP
tr -d '\r' <"$log" | sed -n '/^=== sandbox-arm64-vm begin ===$/,/^=== sandbox-arm64-vm end ===$/p'
if ! tr -d '\r' <"$log" | grep -q '^=== sandbox-arm64-vm end ===$'; then
  echo "arm64-vm.sh: the machine did not get to the end of its checks; its console ($log):" >&2
  tr -d '\r' <"$log" | tail -n 40 >&2
  exit 1
fi
