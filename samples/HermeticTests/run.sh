#!/usr/bin/env bash
# run.sh: builds and runs the HermeticTests sample (README.md here) in sandboxes and says what the sandbox reported.
# Restores Sandbox.TestAdapter from artifacts/packages (eng/pack.sh) into an isolated NuGet cache, starts a TCP
# listener on the host's 127.0.0.1 for the Network test, runs `dotnet test` with a TRX logger, stops the listener,
# and prints each test's outcome, the first line of its failure message and the sandbox's usage line.
# Exit status 0 when every test had its expected outcome (the Network and Memory tests are expected to fail).
#
# Usage: samples/HermeticTests/run.sh [--results DIR] [DOTNET_TEST_ARGS...]
#   --results DIR   where the TRX (hermetic.trx) and the listener's port go (default artifacts/samples/HermeticTests)
#   e.g. run.sh -- Sandbox.Isolation=class
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/host.sh"
sample_build "$here"
output="$here/bin/Debug/net10.0"

rm -rf "$results"
mkdir -p "$results"
start_listener "$output" "$results"

written="$output/written-in-the-sandbox.txt"   # what the FileSystem test writes beside its assembly
rm -f "$written"

echo "== HERMETIC_SAMPLE_SECRET=from-the-host dotnet test $*"
status=0
HERMETIC_SAMPLE_SECRET=from-the-host dotnet test --no-build -nologo \
  --logger "trx;LogFileName=hermetic.trx" --results-directory "$results" "$@" || status=$?
stop_listener
echo "== what the sandbox reported (dotnet test exited with $status; $results/hermetic.trx)"
summary=0
python3 "$here/summary.py" "$results/hermetic.trx" || summary=$?
check_output "$output" || summary=1
exit "$summary"
