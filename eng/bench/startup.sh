#!/usr/bin/env bash
# startup.sh: how long it takes to run /bin/true in a fresh sandbox, against the anchors, in one run.
#   sandbox run   a bundle with all namespaces (user, pid, network, ipc, uts, mount, cgroup), pivot_root, /proc, /dev
#   bwrap         --unshare-all --ro-bind ROOTFS / --proc /proc --dev /dev /bin/true
#   crun, runc    run of the same bundle
#   limits        the same bundle with memory (256 MiB), CPU (0.5) and pids (100) limits: sandbox and runc
#   floor         eng/bench/floor: the least a C# NativeAOT program can do for the same run (no config, no checks),
#                 and the same program with no argument (the NativeAOT runtime's own start and exit): the lower
#                 bound of any C# sandbox on this machine, measured in the same run as the anchors
#   baseline      with BASELINE=PATH, that `sandbox` too, on the same bundle: a change's before and after in one run
#                 (SANDBOX=PATH names the one measured as sandbox; default artifacts/dist/sandbox)
# Everything runs inside one private mount namespace with /sys/fs/cgroup/unified unmounted, which crun needs on
# this hybrid cgroup layout; runc and the others are unaffected. Needs root. Prints medians, ratios and the
# peak RSS of the `sandbox` process. RUNS runs of each command (default 300), in ROUNDS rotating rounds (default 10).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${RUNS:-300}
rounds=${ROUNDS:-10}
bash eng/install-deps.sh --bench
[ -n "${SANDBOX:-}" ] || [ -x artifacts/dist/sandbox ] || bash eng/build.sh
dotnet publish eng/bench/floor/Floor.csproj -c Release -o artifacts/bench/floor -v quiet -nologo >/dev/null
bash eng/make-rootfs.sh artifacts/rootfs/busybox
work=$(mktemp -d /tmp/sandbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
mkdir -p "$bundle"
cat > "$bundle/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": { "args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"], "user": { "uid": 0, "gid": 0 },
               "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] },
               "noNewPrivileges": true },
  "root": { "path": "$root/artifacts/rootfs/busybox", "readonly": true },
  "hostname": "bench",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"] }
  ],
  "linux": {
    "namespaces": [ { "type": "user" }, { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "mount" }, { "type": "cgroup" } ],
    "uidMappings": [ { "containerID": 0, "hostID": 0, "size": 65536 } ],
    "gidMappings": [ { "containerID": 0, "hostID": 0, "size": 65536 } ]
  }
}
JSON
limited=$work/limited
mkdir -p "$limited"
python3 - "$bundle/config.json" "$limited/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["resources"] = {"memory": {"limit": 268435456}, "cpu": {"quota": 50000, "period": 100000}, "pids": {"limit": 100}}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
S=${SANDBOX:-$root/artifacts/dist/sandbox}
B=${BASELINE:-}
F=$root/artifacts/bench/floor/floor
rootfs=$root/artifacts/rootfs/busybox
state=$work/state
mkdir -p "$state/sandbox" "$state/runc" "$state/crun"
export S B F rootfs bundle limited state runs rounds work
unshare -m bash -c '
  set -euo pipefail
  mount --make-rprivate /
  umount /sys/fs/cgroup/unified 2>/dev/null || true
  names=(bare sandbox bwrap crun runc sandbox-limits runc-limits floor nativeaot-empty)
  declare -A cmd=(
    [bare]="/bin/true"
    [sandbox]="$S --root $state/sandbox run --bundle $bundle b"
    [bwrap]="bwrap --unshare-all --ro-bind $rootfs / --proc /proc --dev /dev /bin/true"
    [crun]="crun --root $state/crun run --bundle $bundle b"
    [runc]="runc --root $state/runc run --bundle $bundle b"
    [sandbox-limits]="$S --root $state/sandbox run --bundle $limited l"
    [runc-limits]="runc --root $state/runc run --bundle $limited l"
    [floor]="$F $rootfs"
    [nativeaot-empty]="$F"
  )
  if [ -n "$B" ]; then
    names+=(sandbox-baseline)
    cmd[sandbox-baseline]="$B --root $state/sandbox run --bundle $bundle b"
  fi
  for name in "${names[@]}"; do
    ${cmd[$name]} || { echo "failed: ${cmd[$name]}" >&2; exit 1; }
  done
  # In ROUNDS rounds of RUNS/ROUNDS runs of each command, the order rotated by one every round: the speed of this machine
  # drifts over tens of seconds (one run of this script measured the floor 10.75 ms, the next 13.94), and commands
  # measured one after another, all runs of each at once, charged that drift to whichever came later.
  n=${#names[@]}
  for ((r = 0; r < rounds; r++)); do
    for ((i = 0; i < n; i++)); do
      name=${names[$(((i + r) % n))]}
      hyperfine -N --warmup 5 --runs "$((runs / rounds))" --export-json "$work/round-$r-$name.json" -n "$name" "${cmd[$name]}" >/dev/null
    done
  done
  for i in $(seq 20); do /usr/bin/time -f %M "$S" --root "$state/sandbox" run --bundle "$bundle" b 2>>"$work/rss.txt"; done
  for i in $(seq 20); do /usr/bin/time -f %M "$F" "$rootfs" 2>>"$work/rss-floor.txt"; done
  for i in $(seq 20); do /usr/bin/time -f %M bwrap --unshare-all --ro-bind "$rootfs" / --proc /proc --dev /dev /bin/true 2>>"$work/rss-bwrap.txt"; done
'
python3 - "$work" "$work/rss.txt" "$work/rss-floor.txt" "$work/rss-bwrap.txt" <<'PY'
import glob, json, statistics, sys
times = {}
for path in sorted(glob.glob(sys.argv[1] + "/round-*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
order = ["bare", "sandbox", "sandbox-baseline", "bwrap", "crun", "runc", "sandbox-limits", "runc-limits", "floor", "nativeaot-empty"]
res = {k: {"times": times[k], "mean": statistics.mean(times[k]), "stddev": statistics.stdev(times[k])} for k in order if k in times}
med = {k: statistics.median(v["times"]) * 1000 for k, v in res.items()}
print(f"{'command':<10} {'median ms':>10} {'mean ms':>9} {'stddev':>7}")
for k, v in res.items():
    print(f"{k:<10} {med[k]:>10.2f} {v['mean']*1000:>9.2f} {v['stddev']*1000:>7.2f}")
s = med["sandbox"]
if "sandbox-baseline" in med:
    print(f"sandbox - baseline = {s - med['sandbox-baseline']:.2f} ms   (the change, measured in this run)")
print(f"sandbox / floor = {s / med['floor']:.2f}   (target <= 1.5, issue 11)")
print(f"sandbox / crun  = {s / med['crun']:.2f}   (target <= 0.75, issue 11)")
print(f"sandbox / bwrap = {s / med['bwrap']:.2f}   (the first start-up issues' 0.70, re-aimed by issue 11 to the floor)")
print(f"sandbox / runc  = {s / med['runc']:.2f}")
sl = med["sandbox-limits"]
print(f"limits add {sl - s:.2f} ms to sandbox's median (target <= 1 ms); sandbox-limits / runc-limits = {sl / med['runc-limits']:.2f} (target <= 0.50)")
print(f"floor / bwrap   = {med['floor'] / med['bwrap']:.2f}   (the C# lower bound; NativeAOT start and exit alone: {med['nativeaot-empty']:.2f} ms, bare /bin/true {med['bare']:.2f} ms)")
print(f"sandbox - floor = {s - med['floor']:.2f} ms   (what sandbox adds over the least a C# program can do)")
rss = {}
for label, path in (("sandbox", sys.argv[2]), ("floor", sys.argv[3]), ("bwrap", sys.argv[4])):
    values = sorted(int(x) for x in open(path).read().split())
    rss[label] = statistics.median(values)
    print(f"{label} peak RSS: median {rss[label]/1024:.2f} MiB, max {values[-1]/1024:.2f} MiB")
print(f"peak RSS sandbox / floor = {rss['sandbox'] / rss['floor']:.2f}   (target <= 2, issue 11)")
PY
