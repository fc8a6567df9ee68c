#!/usr/bin/env bash
# make-rootfs.sh DIR: a minimal root filesystem made of a static busybox and its applet links.
set -euo pipefail
dir=${1:?usage: make-rootfs.sh DIR}
bb=$(command -v busybox)
if [ -x "$dir/bin/busybox" ] && cmp -s "$bb" "$dir/bin/busybox"; then
  exit 0
fi
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$(dirname "$dir")/.rootfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,etc,proc,sys,tmp,root,usr/bin,usr/sbin,sbin}
cp "$bb" "$tmp/bin/busybox"
for applet in $("$bb" --list); do
  [ -e "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
chmod 1777 "$tmp/tmp"
chmod 755 "$tmp"
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp" "$dir"
trap - EXIT
