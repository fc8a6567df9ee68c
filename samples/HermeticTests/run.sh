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
root=$(cd "$here/../.." && pwd)
results="$root/artifacts/samples/HermeticTests"
if [ "${1:-}" = "--results" ]; then
  results=$(mkdir -p "$2" && cd "$2" && pwd)
  shift 2
fi
# An isolated NuGet cache: artifacts/packages' 0.1.0 is rebuilt all the time, so a copy in ~/.nuget/packages would
# go stale. Its Sandbox packages are dropped before each restore, so the newest pack is what runs.
export NUGET_PACKAGES="$root/artifacts/nuget"
rm -rf "$NUGET_PACKAGES/sandbox.build" "$NUGET_PACKAGES/sandbox.testadapter"
# No MSBuild nodes, build server or compiler server left running after the script.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER=1
cd "$here"
echo "== dotnet build samples/HermeticTests"
dotnet build -nologo -v quiet -p:UseSharedCompilation=false
output="$here/bin/Debug/net10.0"

rm -rf "$results"
mkdir -p "$results"
portfile="$output/hermetic-listener.port"
rm -f "$portfile"
python3 "$here/listener.py" $$ "$portfile" "$results/listener.port" &
listener=$!
stop_listener() {
  kill "$listener" 2>/dev/null || true
  wait "$listener" 2>/dev/null || true
  rm -f "$portfile"
}
trap stop_listener EXIT
for _ in $(seq 100); do
  [ -s "$portfile" ] && break
  kill -0 "$listener" 2>/dev/null || { echo "run.sh: the listener did not start" >&2; exit 1; }
  sleep 0.1
done
port=$(cat "$portfile")
# The same connection from the host works: what the sandboxed Network test fails at is the sandbox's doing.
exec 3<>"/dev/tcp/127.0.0.1/$port"
read -r greeting <&3
exec 3<&-
echo "== listener on the host's 127.0.0.1:$port (pid $listener); from the host it answers: $greeting"

written="$output/written-in-the-sandbox.txt"   # what the FileSystem test writes beside its assembly
rm -f "$written"

echo "== HERMETIC_SAMPLE_SECRET=from-the-host dotnet test $*"
status=0
HERMETIC_SAMPLE_SECRET=from-the-host dotnet test --no-build -nologo \
  --logger "trx;LogFileName=hermetic.trx" --results-directory "$results" "$@" || status=$?
stop_listener
trap - EXIT
echo "== what the sandbox reported (dotnet test exited with $status; $results/hermetic.trx)"
summary=0
python3 "$here/summary.py" "$results/hermetic.trx" || summary=$?
if [ -e "$written" ] || [ -e "$output/fixtures/added-in-the-sandbox.txt" ]; then
  echo "BAD a file a test wrote beside its assembly reached the host's $output"
  summary=1
elif [ "$(cat "$output/fixtures/greeting.txt")" != "written by the build" ]; then
  echo "BAD the file a test overwrote in its sandbox changed in the host's $output/fixtures"
  summary=1
else
  echo "ok  the files a test wrote or overwrote beside its assembly stayed in its sandbox's copy-on-write layer, not in the host's output"
fi
exit "$summary"
