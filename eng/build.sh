#!/usr/bin/env bash
# build.sh: installs what the build needs, builds everything, publishes the NativeAOT executables to artifacts/dist
# (`sandbox`, the runtime, and `sandbox-build`, which runs the sandbox.yaml commands `sandbox` hands it), packs the
# packages Sandbox.Build and Sandbox.TestAdapter into artifacts/packages (eng/pack.sh), runs `sandbox` on an example
# bundle made here (artifacts/bundles/hello), and ends with the main job: `dotnet test` of samples/HermeticTests in
# sandboxes (its run.sh), which fails the build unless every test has its expected outcome, and the same tests in
# Microsoft.Testing.Platform mode (samples/HermeticTests.Mtp/run.sh), checked the same way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash eng/install-deps.sh "$@"
dotnet build Sandbox.sln -c Release -v quiet -nologo
dotnet publish src/Sandbox.Cli/Sandbox.Cli.csproj -c Release -o artifacts/dist -v quiet -nologo
dotnet publish src/Sandbox.Cli.Build/Sandbox.Cli.Build.csproj -c Release -o artifacts/dist -v quiet -nologo
if [ "$(uname -m)" = x86_64 ]; then
  # The packages carry linux-arm64 executables too, cross-compiled (eng/install-deps.sh installs the toolchain).
  for project in Sandbox.Cli Sandbox.Cli.Build; do
    dotnet publish "src/$project/$project.csproj" -c Release -r linux-arm64 -o artifacts/dist/linux-arm64 -v quiet -nologo
  done
fi
bash eng/pack.sh
bash eng/make-rootfs.sh artifacts/rootfs/busybox
bundle=artifacts/bundles/hello
rm -rf "$bundle"
mkdir -p "$bundle"
cp samples/hello/config.json "$bundle/config.json"
ln -s "$root/artifacts/rootfs/busybox" "$bundle/rootfs"
echo "== artifacts/dist/sandbox run --bundle $bundle hello"
artifacts/dist/sandbox --root "$root/artifacts/state" run --bundle "$bundle" hello
echo "== samples/HermeticTests/run.sh: dotnet test in sandboxes"
bash samples/HermeticTests/run.sh
echo "== samples/HermeticTests.Mtp/run.sh: the same tests as a Microsoft.Testing.Platform test application, its test host in a sandbox"
bash samples/HermeticTests.Mtp/run.sh
