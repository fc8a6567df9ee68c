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
dotnet pack tasks/Sandbox.Build.Tasks/Sandbox.Build.Tasks.csproj -c Release -o artifacts/packages -v quiet -nologo \
  -p:SandboxDistDirectory="$root/artifacts/dist"
# The agent is built first: the adapter's nuspec packs its dll from the agent's output.
dotnet build src/Sandbox.TestAgent/Sandbox.TestAgent.csproj -c Release -v quiet -nologo
dotnet pack src/Sandbox.TestAdapter/Sandbox.TestAdapter.csproj -c Release -o artifacts/packages -v quiet -nologo
ls artifacts/packages/Sandbox.Build.*.nupkg artifacts/packages/Sandbox.TestAdapter.*.nupkg
