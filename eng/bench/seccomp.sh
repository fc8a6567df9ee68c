#!/usr/bin/env bash
# seccomp.sh: the seccomp benchmarks, in one run.
#   1. Compiling the default profile in the NativeAOT executable: first compile, steady state, filter length.
#   2. A tight getppid loop (10 million calls, a static C program) in a sandbox with no filter, with sandbox's
#      default profile, and under runc with the same profile (which runc compiles with libseccomp).
#   3. The cost of recording a denial: 100,000 calls the default profile denies (acct), answered by the filter
#      itself (no report) and by sandbox's supervisor through seccomp user notification (`run --report`).
# Needs root. Prints nanoseconds per call (median of 5 runs each) and the filters' overhead.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash eng/install-deps.sh --bench
[ -x artifacts/dist/sandbox ] || bash eng/build.sh
S=$root/artifacts/dist/sandbox
work=$(mktemp -d /var/tmp/sandbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$S" seccomp compile default --repeat 1000

cp -a artifacts/rootfs/busybox "$work/rootfs"
cat > "$work/loop.c" <<'C'
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  struct timespec a, b;
  const int denied = argc > 1 && strcmp(argv[1], "acct") == 0;
  const long n = denied ? 100000 : 10000000;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) denied ? syscall(SYS_acct, 0) : syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
C
gcc -O2 -static -o "$work/rootfs/bin/getppid-loop" "$work/loop.c"
mkdir -p "$work/plain" "$work/runc"
"$S" spec --bundle "$work/plain" >/dev/null
"$S" seccomp show default > "$work/default.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
c = json.load(open(f"{w}/plain/config.json"))
c["root"]["path"] = f"{w}/rootfs"
c["process"]["args"] = ["/bin/getppid-loop"]
json.dump(c, open(f"{w}/plain/config.json", "w"), indent=1)
c["linux"]["seccomp"] = json.load(open(f"{w}/default.json"))
json.dump(c, open(f"{w}/runc/config.json", "w"), indent=1)
del c["linux"]["seccomp"]
c["process"]["args"] = ["/bin/getppid-loop", "acct"]
import os
os.makedirs(f"{w}/denied", exist_ok=True)
json.dump(c, open(f"{w}/denied/config.json", "w"), indent=1)
PY
median() { tr ' ' '\n' | grep . | sort -n | sed -n 3p; }
none=""; ours=""; theirs=""
for i in 1 2 3 4 5; do
  none+="$("$S" --root "$work/state" run --seccomp unconfined --bundle "$work/plain" a | tail -1) "
  ours+="$("$S" --root "$work/state" run --seccomp default --bundle "$work/plain" b | tail -1) "
  theirs+="$(runc --root "$work/runc-state" run --bundle "$work/runc" c | tail -1) "
done
n=$(echo "$none" | median); o=$(echo "$ours" | median); t=$(echo "$theirs" | median)
echo "getppid ns/call (median of 5): no filter $n, sandbox default $o, runc with the same profile $t"
python3 -c "n,o,t=$n,$o,$t; print(f'filter overhead: sandbox {o-n:.1f} ns/call, runc {t-n:.1f} ns/call; ratio sandbox/runc {(o-n)/(t-n) if t>n else float(\"nan\"):.2f}')"
filtered=""; recorded=""
for i in 1 2 3 4 5; do
  filtered+="$("$S" --root "$work/state" run --seccomp default --bundle "$work/denied" d | tail -1) "
  recorded+="$("$S" --root "$work/state" run --seccomp default --report "$work/report.json" --bundle "$work/denied" e | tail -1) "
done
f=$(echo "$filtered" | median); r=$(echo "$recorded" | median)
count=$(python3 -c "import json; print(next(d['count'] for d in json.load(open('$work/report.json'))['seccomp']['denied'] if d['syscall'] == 'acct'))")
echo "a denied call (acct), ns/call (median of 5): answered by the filter $f, recorded through the supervisor $r (the report counted $count of 100000)"
