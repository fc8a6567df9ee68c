#!/usr/bin/env bash
# pack.sh: packs Sandbox.Build (the MSBuild package, docs/msbuild.md) and Sandbox.TestAdapter (docs/testing.md) into artifacts/packages with the executables
# eng/build.sh published to artifacts/dist. The version is SandboxVersion in Directory.Build.props.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for exe in sandbox sandbox-build; do
  if [ ! -x "artifacts/dist/$exe" ]; then
    echo "pack.sh: artifacts/dist/$exe is missing: run eng/build.sh (or its publish steps) first" >&2
    exit 1
  fi
done
mkdir -p artifacts/packages
# The task assembly (loaded by every build that uses SandboxExec), the adapter (loaded by every testhost), the agent
# (started for every sandbox) and the MTP launcher are packed ReadyToRun-compiled for this machine's architecture:
# their code is not JIT-compiled at each start (about 0.1 s of CPU an agent, measured with eng/bench/test.sh's agent),
# and the build node's tiering thread has less to recompile while the steps run (3-4 ms less a SandboxExec step on a
# 2-core machine, eng/bench/build-step.sh). Elsewhere the runtime JIT-compiles the IL they still carry.
rid=linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
r2r=$root/artifacts/ready-to-run
rm -rf "$r2r"
dotnet publish tasks/Sandbox.Build.Tasks/Sandbox.Build.Tasks.csproj -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true \
  -o "$r2r/tasks" -v quiet -nologo
dotnet pack tasks/Sandbox.Build.Tasks/Sandbox.Build.Tasks.csproj -c Release -o artifacts/packages -v quiet -nologo \
  -p:SandboxDistDirectory="$root/artifacts/dist" -p:SandboxTaskAssemblyDirectory="$r2r/tasks/"
for part in agent:Sandbox.TestAgent adapter:Sandbox.TestAdapter mtp:Sandbox.TestAdapter.Mtp; do
  dotnet publish "src/${part#*:}/${part#*:}.csproj" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true     -o "$r2r/${part%%:*}" -v quiet -nologo
done
dotnet pack src/Sandbox.TestAdapter/Sandbox.TestAdapter.csproj -c Release -o artifacts/packages -v quiet -nologo   -p:SandboxReadyToRunDirectory="$r2r/"
ls artifacts/packages/Sandbox.Build.*.nupkg artifacts/packages/Sandbox.TestAdapter.*.nupkg
