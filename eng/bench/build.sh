#!/usr/bin/env bash
# build.sh: the sandbox.yaml benchmarks, in one run.
#   1. Building the dotnet base: cold (empty cache, no bundle) and warm (nothing changed).
#   2. A .NET hello world: bare, in a sandbox built from sandbox.yaml (run --bundle), and under bwrap with the host
#      root bound read-only; prints each tool's overhead over bare and the ratio of the two overheads.
#   3. In the same run, the overhead of eng/bench/floor (the least a C# NativeAOT program does to run a program in
#      the namespaces of the startup benchmark) over bare: on the same hello world, in the bundle's rootfs with the
#      bundle's mounts (.NET, the app, /tmp, /sys, /dev/shm, /dev/mqueue) and environment (issue 11's target:
#      sandbox's overhead <= 1.5x this),
#      and on /bin/true in the busybox rootfs. The lower bound of any C# sandbox's overhead.
# Needs root. Prints medians and ratios; for the hello world also the ratio by round (each command minus the same
# round's bare run, the median over rounds), which the bare run's own spread moves less.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${RUNS:-30}
bash eng/install-deps.sh --bench
[ -x artifacts/dist/sandbox ] && [ -x artifacts/dist/sandbox-build ] || bash eng/build.sh
S=$root/artifacts/dist/sandbox
bash eng/make-rootfs.sh artifacts/rootfs/busybox
dotnet publish eng/bench/floor/Floor.csproj -c Release -o artifacts/bench/floor -v quiet -nologo >/dev/null
F=$root/artifacts/bench/floor/floor

# Not under /tmp (bwrap gets a private /tmp, as the sandbox does, and must still see the app), and not under
# the repository, whose Directory.Build.props would apply to the test app.
work=$(mktemp -d /var/tmp/sandbox-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/hello"
cat > "$work/hello/hello.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
</Project>
XML
echo 'System.Console.WriteLine("hello");' > "$work/hello/Program.cs"
dotnet build "$work/hello" -c Release -o "$work/app" -nologo -v quiet >/dev/null
cat > "$work/sandbox.yaml" <<'YAML'
version: 1
base: dotnet
seccomp: unconfined
mounts:
  - source: ./app
    target: /app
command: [dotnet, /app/hello.dll]
YAML
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")

export SANDBOX_CACHE=$work/cache
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/build.json" \
  --prepare "rm -rf $work/cache $work/bundle" -n cold "$S build $work/sandbox.yaml -o $work/bundle" >/dev/null
"$S" build "$work/sandbox.yaml" -o "$work/bundle" >/dev/null
# The floor on the same program: the bundle's rootfs, its mounts and its environment; the program by its path (the
# floor execs without a PATH search).
floor_hello="$F $work/bundle/rootfs$(python3 - "$work/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
binds = "".join(f" --bind {m['source']} {m['destination']}" for m in c["mounts"] if m.get("type") == "bind")
# The other filesystems the bundle mounts; /proc and a tmpfs /dev the floor always mounts.
other = "".join(f" --fs {m['type']} {m['destination']}" for m in c["mounts"]
                if m.get("type") not in ("bind", "proc") and m["destination"] not in ("/proc", "/dev"))
print(binds + other + "".join(f" --env {e}" for e in c["process"]["env"]), end="")
PY
) -- $dotnet_root/dotnet /app/hello.dll"
[ "$($floor_hello)" = hello ] || { echo "the floor did not run the hello world: $floor_hello" >&2; exit 1; }
hyperfine -N --warmup 5 --runs "$((runs * 5))" --export-json "$work/warm.json" \
  -n warm "$S build $work/sandbox.yaml -o $work/bundle" >/dev/null

# The overheads on the hello world are a few ms of ~80: measured in rotating order (eng/bench/suite.py pairs), 3 x
# RUNS rounds, so the machine's drift over seconds falls on all four alike.
python3 eng/bench/suite.py pairs "$work/hello.json" "$((runs * 3))" bare "dotnet $work/app/hello.dll" \
  sandbox "$S --root $work/state run --bundle $work/bundle h" \
  bwrap "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp dotnet $work/app/hello.dll" \
  floor-hello "$floor_hello"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/true.json" \
  -n true "/bin/true" \
  -n floor "$F $root/artifacts/rootfs/busybox" >/dev/null

python3 - "$work" <<'PY'
import json, statistics, sys
w = sys.argv[1]
def med(f):
    return {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(f"{w}/{f}"))["results"]}
b, m, h, t = med("build.json"), med("warm.json"), med("hello.json"), med("true.json")
print(f"dotnet base build: cold {b['cold']:.1f} ms (target <= 2000), warm {m['warm']:.1f} ms (target <= 50)")
print(f"hello world: bare {h['bare']:.1f} ms, sandbox {h['sandbox']:.1f} ms, bwrap {h['bwrap']:.1f} ms, floor {h['floor-hello']:.1f} ms")
so, bo, fh = (h[k] - h['bare'] for k in ("sandbox", "bwrap", "floor-hello"))
print(f"overhead: sandbox {so:.1f} ms, bwrap {bo:.1f} ms, ratio {so / bo:.2f} (target <= 0.70)")
print(f"floor overhead on the same program (C# lower bound: the bundle's rootfs, mounts and environment): {fh:.1f} ms;"
      f" sandbox's / the floor's = {so / fh:.2f} (target <= 1.5, issue 11)")
# The same from each round's own runs (the rounds are what the rotation pairs): the median over rounds of a command's
# time minus that round's bare run. The bare run's spread (a few ms each way) cancels instead of landing on the ratio.
rounds = {r["command"]: r["times"] for r in json.load(open(f"{w}/hello.json"))["results"]}
def paired(k, base="bare"):
    return statistics.median(x - y for x, y in zip(rounds[k], rounds[base])) * 1000
ps, pf = paired("sandbox"), paired("floor-hello")
print(f"paired by round: sandbox's overhead {ps:.1f} ms, the floor's {pf:.1f} ms, ratio {ps / pf:.2f}"
      f" (sandbox - floor {paired('sandbox', 'floor-hello'):.1f} ms)")
fo = t['floor'] - t['true']
print(f"floor overhead (C# lower bound, /bin/true in the same namespaces): {fo:.1f} ms = {fo / bo:.2f} of bwrap's; the target leaves {0.7 * bo - fo:.1f} ms for everything else")
PY
