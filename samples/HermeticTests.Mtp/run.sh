#!/usr/bin/env bash
# run.sh: builds and runs the HermeticTests.Mtp sample (README.md here), the Microsoft.Testing.Platform twin of
# ../HermeticTests, and says what the sandbox reported. Around the runs it does what ../HermeticTests/run.sh does
# (../HermeticTests/host.sh: isolated NuGet cache, a listener on the host's 127.0.0.1, the check of the output
# directory); the runs are the test application itself:
#   1. every test but Memory's, with HERMETIC_SAMPLE_SECRET=from-the-host, into RESULTS/hermetic.trx (xunit's TRX,
#      which Sandbox gives the run's usage line and RunReport), checked by ../HermeticTests/summary.py;
#   2. Memory's alone: the OOM killer ends the whole test host (one sandbox per run in this mode), and Sandbox
#      names the cause (SBX5024) with the figures.
# Exit status 0 when every test had its expected outcome and the second run was reported OOM-killed.
#
# Usage: samples/HermeticTests.Mtp/run.sh [--results DIR] [TEST_APPLICATION_ARGS...]
#   --results DIR   where the TRX (hermetic.trx), the RunReports and the listener's port go
#                   (default artifacts/samples/HermeticTests.Mtp)
#   e.g. run.sh --sandbox-timeout 5m
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../HermeticTests/host.sh"
sample_build "$here"
output="$here/bin/Debug/net10.0"
app="$output/HermeticTests.Mtp"

rm -rf "$results"
mkdir -p "$results"
start_listener "$output" "$results"
rm -f "$output/written-in-the-sandbox.txt"

echo "== HERMETIC_SAMPLE_SECRET=from-the-host ${app#"$root"/} --filter-not-class HermeticTests.Memory $*"
status=0
HERMETIC_SAMPLE_SECRET=from-the-host "$app" --filter-not-class HermeticTests.Memory \
  --report-xunit-trx --report-xunit-trx-filename hermetic.trx --results-directory "$results" "$@" || status=$?
stop_listener
echo "== what the sandbox reported (the test application exited with $status; $results/hermetic.trx)"
summary=0
python3 "$root/samples/HermeticTests/summary.py" "$results/hermetic.trx" --without HermeticTests.Memory.Allocating_past_the_memory_limit_is_OOM_killed || summary=$?
check_output "$output" || summary=1

echo "== ${app#"$root"/} --filter-class HermeticTests.Memory $*"
oom=0
"$app" --filter-class HermeticTests.Memory --results-directory "$results/memory" "$@" > "$results/memory.log" 2>&1 || oom=$?
grep -E "SBX5024|didn't exit gracefully" "$results/memory.log" || true
if [ "$oom" -eq 7 ] && grep -q "SBX5024: the test host's sandbox ended it: killed by the OOM killer" "$results/memory.log"; then
  echo "ok  the Memory test's test host was OOM-killed, and Sandbox said so with its figures (exit code 7)"
else
  echo "BAD the Memory run exited with $oom without Sandbox's SBX5024 OOM report (see $results/memory.log)"
  summary=1
fi
exit "$summary"
