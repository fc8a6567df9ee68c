#!/usr/bin/env bash
# test.sh: what running tests in sandboxes costs (issue 10's benchmark), in one run. A generated suite of 200
# passing xunit v2 tests in 20 classes, built once into two projects that differ only in the Sandbox.TestAdapter
# reference, each command `dotnet test --no-build`:
#   plain       the project without Sandbox: the framework's adapter in testhost
#   unsandboxed the same project with SANDBOX_DISABLE=1: the adapter starts its agent outside any sandbox, which runs
#               the framework's adapter; the cost of the design (a second .NET process hosting the framework's
#               adapter, results streamed back) without the sandbox
#   assembly    with Sandbox.TestAdapter, `-- Sandbox.Isolation=assembly`: one sandbox
#   class       `-- Sandbox.Isolation=class`: one sandbox per class (20)
#   test        `-- Sandbox.Isolation=test`: one sandbox per test (200)
#   agent-bare  the agent started outside a sandbox, as the adapter starts it (`dotnet exec --runtimeconfig
#               T.runtimeconfig.json --depsfile T.deps.json Sandbox.TestAgent.dll` in the output directory), handling
#               one request, `runSources` filtered to one test, then its stdin closed: what starting an agent for
#               one test costs without any sandbox
# Targets: assembly <= 1.10 x plain (unsandboxed / plain says how much of it the agent's process takes before any
# sandbox); test isolation's cost per test, (test - assembly) / 200, <= 1.3 x agent-bare.
# Each `dotnet test` command runs once first, unmeasured, and is checked (200 passed). Sandboxes run as many at once
# as the default says (Sandbox.Parallel: one per CPU). Needs root.
# RUNS (default 3) measured runs of class and test (the agent 10x as many); plain, unsandboxed and assembly run in
# rounds of one each, PAIRS (default 15) rounds, the order rotated every round: their difference is a tenth of a run,
# and this machine's load drifts over seconds, so runs of one measured after all runs of the other would charge the
# drift to one of them (3 runs each in a row gave 1.37x in one run of this script, 12 each right after 1.04x, and 15
# alternating pairs then 1.21x). Prints
# medians and the two ratios, of the medians and of the fastest runs (the machine's other load only ever adds).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${RUNS:-3}
pairs=${PAIRS:-15}
bash eng/install-deps.sh --bench
. eng/bench/suite.sh
build_suite "<Nullable>enable</Nullable>" '
    <PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.0.1" />
    <PackageReference Include="xunit" Version="2.9.3" />
    <PackageReference Include="xunit.runner.visualstudio" Version="3.1.5" />'
out=$work/sandboxed/bin/Release/net10.0

echo "== checking each command once (unmeasured)"
declare -A cmd=(
  [plain]="dotnet test $work/plain --no-build -c Release -nologo"
  [unsandboxed]="env SANDBOX_DISABLE=1 dotnet test $work/sandboxed --no-build -c Release -nologo"
  [assembly]="dotnet test $work/sandboxed --no-build -c Release -nologo -- Sandbox.Isolation=assembly"
  [class]="dotnet test $work/sandboxed --no-build -c Release -nologo -- Sandbox.Isolation=class"
  [test]="dotnet test $work/sandboxed --no-build -c Release -nologo -- Sandbox.Isolation=test"
)
for k in plain unsandboxed assembly class test; do
  log=$work/check-$k.log
  if ! ${cmd[$k]} >"$log" 2>&1 || ! grep -q 'Passed: *200, Skipped: *0, Total: *200' "$log"; then
    echo "$k: not 200 passed tests:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done
request=$work/request.json
printf '{"t":"runSources","v":1,"sources":["%s"],"filter":"FullyQualifiedName=Bench.C01.T01"}\n' "$out/Bench.dll" > "$request"
agent="dotnet exec --runtimeconfig $out/Bench.runtimeconfig.json --depsfile $out/Bench.deps.json $out/Sandbox.TestAgent.dll < $request"
(cd "$out" && eval "$agent") > "$work/agent.log" 2>&1 || true
if ! grep -q '"t":"result"' "$work/agent.log" || ! grep -q '"t":"done"' "$work/agent.log" || grep -q '"error":' "$work/agent.log"; then
  echo "agent-bare: the agent did not run the one test:" >&2
  tail -20 "$work/agent.log" >&2
  exit 1
fi

echo "== measuring: plain, unsandboxed and assembly in rotating order, $pairs rounds"
python3 eng/bench/suite.py pairs "$work/pairs.json" "$pairs" plain "${cmd[plain]}" unsandboxed "${cmd[unsandboxed]}" \
  assembly "${cmd[assembly]}"
echo "== measuring: class and test, $runs runs each (the test isolation's take a while: 200 sandboxes a run)"
hyperfine -N --warmup 0 --runs "$runs" --export-json "$work/test.json" \
  -n class "${cmd[class]}" -n test "${cmd[test]}" >/dev/null
# In the output directory, as the adapter starts it; through a shell for the redirection (hyperfine subtracts the
# shell's own start).
(cd "$out" && hyperfine --warmup 3 --runs "$((runs * 10))" --export-json "$work/agent.json" -n agent-bare "$agent" >/dev/null)

# The same test isolation one sandbox at a time, once (200 sandboxes in a row): the per-test cost without the
# overlap that Parallel (one per CPU) gives.
hyperfine -N --warmup 0 --runs 1 --export-json "$work/serial.json" \
  -n test-serial "${cmd[test]} Sandbox.Parallel=1" >/dev/null

PYTHONPATH=eng/bench python3 - "$work/pairs.json" "$work/test.json" "$work/agent.json" "$work/serial.json" <<'PY'
import sys
import suite
res, med, fastest = suite.table(sys.argv[1:5])
plain, unsandboxed, assembly, klass, test, agent = (med[k] for k in ("plain", "unsandboxed", "assembly", "class", "test", "agent-bare"))
print(f"assembly / plain = {assembly / plain:.2f}, of the fastest runs {fastest['assembly'] / fastest['plain']:.2f}   (target <= 1.10)")
print(f"unsandboxed / plain = {unsandboxed / plain:.2f}, of the fastest runs {fastest['unsandboxed'] / fastest['plain']:.2f}"
      f"   (the agent's process, no sandbox); assembly / unsandboxed = {assembly / unsandboxed:.2f}   (the sandbox)")
print(f"class isolation's cost per class: (class - assembly) / 20 = {(klass - assembly) / 20 * 1000:.0f} ms")
per_test = (test - assembly) / 200
print(f"test isolation's cost per test: (test - assembly) / 200 = {per_test * 1000:.0f} ms;"
      f" bare agent start {agent * 1000:.0f} ms; ratio {per_test / agent:.2f},"
      f" of the fastest runs {(fastest['test'] - fastest['assembly']) / 200 / fastest['agent-bare']:.2f}   (target <= 1.30)")
serial = (med["test-serial"] - assembly) / 200
print(f"the same, one sandbox at a time (Sandbox.Parallel=1, one run): {serial * 1000:.0f} ms per test; ratio {serial / agent:.2f}")
PY
