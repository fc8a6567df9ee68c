#!/usr/bin/env bash
# build-step.sh: what a hermetic build step costs (issue 13's benchmark), in one run.
#   step      a generator step (sleep 0.1; read an input, write an output) run STEPS times (default 50) in one
#             `dotnet msbuild` through Exec (bare) and through SandboxExec (sandboxed), minus an empty target's build:
#             the cost per step
#   no-op     `dotnet build --no-restore` of a project already built, whose generator target is up to date: with
#             Sandbox.Build and SandboxExec, and the same project with Exec and without the package; and the same two
#             with one more package reference each (Newtonsoft.Json): a project's first package reference costs NuGet's
#             targets tens of ms in every build, whichever package it is, and most projects have one already
# Targets: per-step sandboxed <= 1.2 x bare for a step of >= 100 ms; no-op with the package <= 1.05 x without.
# The measured commands alternate, PAIRS (default 5) rounds of the steps and NOOP_PAIRS (default 40) of the no-op
# builds (a tenth of a second apart in 1.5 s: five rounds did not settle them, and with 15 the control pair, one more
# package in both projects, still read 0.98-1.10 from run to run), since this machine's load drifts over
# seconds; prints medians and the ratios of the medians and of the fastest runs. Needs artifacts/packages (eng/pack.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
steps=${STEPS:-50}
pairs=${PAIRS:-5}
noop_pairs=${NOOP_PAIRS:-40}
version=$(sed -n 's:.*<SandboxVersion>\(.*\)</SandboxVersion>.*:\1:p' Directory.Build.props)
[ -e "artifacts/packages/Sandbox.Build.$version.nupkg" ] || { echo "build-step.sh: run eng/pack.sh first" >&2; exit 1; }

work="$root/artifacts/bench/build-step"
rm -rf "$work"
mkdir -p "$work/sandboxed" "$work/plain" "$work/sandboxed-pkg" "$work/plain-pkg"
cat > "$work/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="local" value="$root/artifacts/packages" /><add key="nuget.org" value="https://api.nuget.org/v3/index.json" /></packageSources></configuration>
XML
echo '<Project />' > "$work/Directory.Build.props"
echo '<Project />' > "$work/Directory.Packages.props"
export NUGET_PACKAGES="$work/nuget" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER=1
items=$(seq -s ';' 1 "$steps")
for kind in sandboxed plain sandboxed-pkg plain-pkg; do
  other=""
  [ "${kind%-pkg}" = "$kind" ] || other='<PackageReference Include="Newtonsoft.Json" Version="13.0.4" />'
  if [ "${kind%-pkg}" = sandboxed ]; then
    reference="<PackageReference Include=\"Sandbox.Build\" Version=\"$version\" />$other"
    generate='<SandboxExec Command="sh gen.sh" Inputs="gen.sh;in.txt" Outputs="obj/Generated.cs" />'
  else
    reference=$other
    generate='<Exec Command="sh gen.sh" />'
  fi
  cat > "$work/$kind/$kind.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup>$reference<Step Include="$items" /><Compile Include="obj/Generated.cs" /></ItemGroup>
  <Target Name="Generate" BeforeTargets="CoreCompile" Inputs="gen.sh;in.txt" Outputs="obj/Generated.cs">$generate</Target>
  <Target Name="Nothing" />
  <Target Name="Bare"><Exec Command="sleep 0.1; cat in.txt > bare-%(Step.Identity).txt" /></Target>
  <Target Name="Sandboxed"><SandboxExec Command="sleep 0.1; cat in.txt > sbx-%(Step.Identity).txt" Inputs="in.txt" Outputs="sbx-%(Step.Identity).txt" /></Target>
</Project>
XML
  echo 'mkdir -p obj; printf "static class Generated { public const string Text = \"%s\"; }\n" "$(cat in.txt)" > obj/Generated.cs' > "$work/$kind/gen.sh"
  echo 'Console.WriteLine(Generated.Text);' > "$work/$kind/Program.cs"
  echo 'generated' > "$work/$kind/in.txt"
  (cd "$work/$kind" && dotnet build -nologo -v:q -p:ImplicitUsings=enable >/dev/null)
done
# Unmeasured first runs: the task's bundle is built, the tools are in the page cache.
(cd "$work/sandboxed" && dotnet msbuild -t:Sandboxed -v:q -nologo >/dev/null && dotnet msbuild -t:Bare -v:q -nologo >/dev/null)

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
results="$work/times.txt"
: > "$results"
for _ in $(seq "$pairs"); do
  for t in Nothing Bare Sandboxed; do
    echo "$t $(cd "$work/sandboxed" && seconds dotnet msbuild -t:$t -v:q -nologo)" >> "$results"
  done
done
kinds=(plain sandboxed plain-pkg sandboxed-pkg)
for i in $(seq "$noop_pairs"); do
  for j in 0 1 2 3; do
    kind=${kinds[$(((i + j) % 4))]}
    echo "noop-$kind $(cd "$work/$kind" && seconds dotnet build --no-restore -nologo -v:q -p:ImplicitUsings=enable)" >> "$results"
  done
done
python3 - "$results" "$steps" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    runs.setdefault(name, []).append(float(value))
steps = int(sys.argv[2])
for pick, f in (("median", statistics.median), ("fastest", min)):
    m = {k: f(v) for k, v in runs.items()}
    bare = (m["Bare"] - m["Nothing"]) / steps
    sandboxed = (m["Sandboxed"] - m["Nothing"]) / steps
    print(f"{pick:8} per step: bare {bare * 1000:.0f} ms, SandboxExec {sandboxed * 1000:.0f} ms, ratio {sandboxed / bare:.2f} (target <= 1.2)")
    print(f"{pick:8} no-op build: without the package {m['noop-plain']:.2f} s, with it {m['noop-sandboxed']:.2f} s, ratio {m['noop-sandboxed'] / m['noop-plain']:.2f} (target <= 1.05)")
    print(f"{pick:8}   with another package in both: {m['noop-plain-pkg']:.2f} s and {m['noop-sandboxed-pkg']:.2f} s, ratio {m['noop-sandboxed-pkg'] / m['noop-plain-pkg']:.2f}")
PY
