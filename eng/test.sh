#!/usr/bin/env bash
# test.sh: builds everything (eng/build.sh) and runs every test project. Privileged tests create real
# containers and need root; under CI=true they fail rather than skip without it.
# Ends with one line: "N passed, N failed, N skipped", summed over all test projects.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! bash eng/build.sh; then
  echo "build failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test Sandbox.sln -c Release --no-build -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# VSTest prints one summary per test project: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' |
  awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
projects=$(grep -c -E '^(Passed|Failed)!' "$log")
expected=$(ls tests/*/*.Tests.csproj | wc -l)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$projects" -ne "$expected" ]; then
  echo "only $projects of $expected test projects reported a summary"
  [ "$failed" -eq 0 ] && failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
