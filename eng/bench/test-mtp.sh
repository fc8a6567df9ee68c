#!/usr/bin/env bash
# test-mtp.sh: what running tests in a sandbox costs in Microsoft.Testing.Platform mode (issue 12's benchmark), in one
# run. test.sh's generated suite of 200 passing tests in 20 classes (eng/bench/suite.py), as an xunit v3 test
# application on MTP (xunit.v3.mtp-v2 4.0.2, UseMicrosoftTestingPlatformRunner), built once into two projects that
# differ only in the Sandbox.TestAdapter reference:
#   plain       the application without Sandbox: one process runs the tests
#   controller  the application without Sandbox, with one test host controller extension that does nothing
#               (eng/bench/MtpController.cs: an environment variable provider that sets none): MTP restarts it as a
#               controller and a test host process, as it does for Sandbox's launcher, but starts the test host bare.
#               What the design issue 12 prescribes (a launcher, so a controller and a test host) costs before any
#               sandbox
#   assembly    the application with Sandbox.TestAdapter: the controller restarts it as a test host in a sandbox
#               (MTP mode has only assembly isolation)
# each started directly (`Bench`), and the same three with `dotnet test` in MTP mode (global.json):
#   plain-dotnet-test, controller-dotnet-test, assembly-dotnet-test.
# Target: assembly <= 1.10 x plain. The suite and the projects: eng/bench/suite.sh, as test.sh builds them. Each command runs once first, unmeasured, and is checked (200 passed). Needs root.
# PAIRS (default 15) rounds of each plain/controller/assembly triple, the order rotated every round (eng/bench/suite.py
# pairs, as test.sh measures its plain and assembly). Prints medians and the ratios, of the medians and of the fastest runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pairs=${PAIRS:-15}
. eng/bench/suite.sh
# The controller project's extension is registered the way Sandbox's is, by a TestingPlatformBuilderHook item.
build_suite "<OutputType>Exe</OutputType><UseMicrosoftTestingPlatformRunner>true</UseMicrosoftTestingPlatformRunner>" \
  '<PackageReference Include="xunit.v3.mtp-v2" Version="4.0.2" />' controller "<Compile Include=\"$root/eng/bench/MtpController.cs\" />
    <TestingPlatformBuilderHook Include=\"0D6C2B4E-1F3A-4E5B-8C7D-9A0B1C2D3E4F\" DisplayName=\"Bench.Controller\" TypeFullName=\"Bench.ControllerHook\" />"
# `dotnet test` of the projects below runs them through Microsoft.Testing.Platform.
echo '{ "test": { "runner": "Microsoft.Testing.Platform" } }' > "$work/global.json"

echo "== checking each command once (unmeasured)"
declare -A cmd=(
  [plain]="$work/plain/bin/Release/net10.0/Bench"
  [controller]="$work/controller/bin/Release/net10.0/Bench"
  [assembly]="$work/sandboxed/bin/Release/net10.0/Bench"
  [plain-dotnet-test]="dotnet test --project $work/plain --no-build -c Release"
  [controller-dotnet-test]="dotnet test --project $work/controller --no-build -c Release"
  [assembly-dotnet-test]="dotnet test --project $work/sandboxed --no-build -c Release"
)
for k in plain controller assembly plain-dotnet-test controller-dotnet-test assembly-dotnet-test; do
  log=$work/check-$k.log
  if ! (cd "$work" && ${cmd[$k]}) >"$log" 2>&1 || ! grep -q 'succeeded: 200' "$log"; then
    echo "$k: not 200 passed tests:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done
grep -q 'Sandbox: peak memory' "$work/check-assembly.log" || { echo "assembly: the tests did not run in a sandbox" >&2; exit 1; }
# The controller anchor's extension writes its process id when MTP calls it in a controller process.
(cd "$work" && BENCH_CONTROLLER_MARK=$work/controller.pid ${cmd[controller]}) >/dev/null
[ -s "$work/controller.pid" ] || { echo "controller: no test host controller ran" >&2; exit 1; }

echo "== measuring: plain, controller and assembly in rotating order, $pairs rounds each way of starting them"
cd "$work"
python3 "$root/eng/bench/suite.py" pairs "$work/exe.json" "$pairs" plain "${cmd[plain]}" controller "${cmd[controller]}" \
  assembly "${cmd[assembly]}"
python3 "$root/eng/bench/suite.py" pairs "$work/dotnet-test.json" "$pairs" plain-dotnet-test "${cmd[plain-dotnet-test]}" \
  controller-dotnet-test "${cmd[controller-dotnet-test]}" assembly-dotnet-test "${cmd[assembly-dotnet-test]}"

PYTHONPATH="$root/eng/bench" python3 - "$work/exe.json" "$work/dotnet-test.json" <<'PY'
import sys
import suite
res, med, fastest = suite.table(sys.argv[1:3])
for suffix in ("", "-dotnet-test"):
    plain, controller, sandboxed = (k + suffix for k in ("plain", "controller", "assembly"))
    print(f"{sandboxed} / {plain} = {med[sandboxed] / med[plain]:.2f}, of the fastest runs"
          f" {fastest[sandboxed] / fastest[plain]:.2f}   (target <= 1.10)")
    print(f"  {controller} / {plain} = {med[controller] / med[plain]:.2f}, of the fastest runs"
          f" {fastest[controller] / fastest[plain]:.2f}   (a controller and a bare test host);"
          f" {sandboxed} / {controller} = {med[sandboxed] / med[controller]:.2f}   (the sandbox)")
PY
