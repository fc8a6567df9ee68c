#!/usr/bin/env bash
# test-mtp.sh: what running tests in a sandbox costs in Microsoft.Testing.Platform mode (issue 12's benchmark), in one
# run. test.sh's generated suite of 200 passing tests in 20 classes (eng/bench/suite.py), as an xunit v3 test
# application on MTP (xunit.v3.mtp-v2 4.0.2, UseMicrosoftTestingPlatformRunner), built once into two projects that
# differ only in the Sandbox.TestAdapter reference:
#   plain       the application without Sandbox: one process runs the tests
#   assembly    the application with Sandbox.TestAdapter: the controller restarts it as a test host in a sandbox
#               (MTP mode has only assembly isolation)
# each started directly (`Bench`), and the same two with `dotnet test` in MTP mode (global.json):
#   plain-dotnet-test, assembly-dotnet-test.
# Target: assembly <= 1.10 x plain. The suite and the projects: eng/bench/suite.sh, as test.sh builds them. Each command runs once first, unmeasured, and is checked (200 passed). Needs root.
# PAIRS (default 15) of each plain/assembly couple, alternating (eng/bench/suite.py pairs, as test.sh measures its
# plain and assembly). Prints medians and the ratios, of the medians and of the fastest runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pairs=${PAIRS:-15}
. eng/bench/suite.sh
build_suite "<OutputType>Exe</OutputType><UseMicrosoftTestingPlatformRunner>true</UseMicrosoftTestingPlatformRunner>" \
  '<PackageReference Include="xunit.v3.mtp-v2" Version="4.0.2" />'
# `dotnet test` of the projects below runs them through Microsoft.Testing.Platform.
echo '{ "test": { "runner": "Microsoft.Testing.Platform" } }' > "$work/global.json"

echo "== checking each command once (unmeasured)"
declare -A cmd=(
  [plain]="$work/plain/bin/Release/net10.0/Bench"
  [assembly]="$work/sandboxed/bin/Release/net10.0/Bench"
  [plain-dotnet-test]="dotnet test --project $work/plain --no-build -c Release"
  [assembly-dotnet-test]="dotnet test --project $work/sandboxed --no-build -c Release"
)
for k in plain assembly plain-dotnet-test assembly-dotnet-test; do
  log=$work/check-$k.log
  if ! (cd "$work" && ${cmd[$k]}) >"$log" 2>&1 || ! grep -q 'succeeded: 200' "$log"; then
    echo "$k: not 200 passed tests:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done
grep -q 'Sandbox: peak memory' "$work/check-assembly.log" || { echo "assembly: the tests did not run in a sandbox" >&2; exit 1; }

echo "== measuring: plain and assembly alternating, $pairs pairs each way of starting them"
cd "$work"
python3 "$root/eng/bench/suite.py" pairs "$work/exe.json" "$pairs" plain "${cmd[plain]}" assembly "${cmd[assembly]}"
python3 "$root/eng/bench/suite.py" pairs "$work/dotnet-test.json" "$pairs" \
  plain-dotnet-test "${cmd[plain-dotnet-test]}" assembly-dotnet-test "${cmd[assembly-dotnet-test]}"

PYTHONPATH="$root/eng/bench" python3 - "$work/exe.json" "$work/dotnet-test.json" <<'PY'
import sys
import suite
res, med, fastest = suite.table(sys.argv[1:3])
for plain, sandboxed in (("plain", "assembly"), ("plain-dotnet-test", "assembly-dotnet-test")):
    print(f"{sandboxed} / {plain} = {med[sandboxed] / med[plain]:.2f}, of the fastest runs"
          f" {fastest[sandboxed] / fastest[plain]:.2f}   (target <= 1.10)")
PY
