#!/usr/bin/env bash
# kill.sh [COUNT]: the long version of KillTests: COUNT (default 1000) `sandbox run`/`create` processes killed with
# SIGKILL at random moments of their start, then the count of what they left (processes, state directories,
# cgroups, callers' stdout held open). Needs root and a build (eng/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-1000}
echo "== $count runs killed at random moments (0-80 ms after start)"
start=$(date +%s)
if SANDBOX_KILL_COUNT=$count dotnet test tests/Sandbox.EndToEnd.Tests -c Release --no-build -nologo \
     --filter "FullyQualifiedName~KillTests" >"${TMPDIR:-/tmp}/sandbox-kill.log" 2>&1; then
  echo "$count killed runs ($(( $(date +%s) - start )) s): 0 processes, 0 state directories, 0 cgroups left; no caller's stdout held open"
else
  grep -E "Error Message|left|Collection|hung|Assert" -A2 "${TMPDIR:-/tmp}/sandbox-kill.log"
  exit 1
fi
