#!/usr/bin/env bash
# fuzz.sh [COUNT]: the long fuzz run. In process, the fuzz tests CI runs with a small count get COUNT (default 20000)
# config.json mutations, COUNT/4 seccomp profiles and COUNT/2 sandbox.yaml files (SANDBOX_FUZZ_COUNT). Then a sample
# of the config.json and profile mutations (SANDBOX_FUZZ_BINARY of each, default 300) goes through the published
# executable: `sandbox run` and `sandbox seccomp compile`, each under a timeout. An exit of 134 (SIGABRT: an unhandled
# exception in a NativeAOT program) or 139 (SIGSEGV), or "Unhandled exception" on stderr, is a crash; a timeout a hang.
# Runs containers for real: run it as root, after eng/build.sh (artifacts/dist/sandbox, artifacts/rootfs/busybox).
# Ends with the figures and exits non-zero if anything crashed or hung.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-20000}
sample=${SANDBOX_FUZZ_BINARY:-300}
exe=$root/artifacts/dist/sandbox
for need in "$exe" artifacts/rootfs/busybox/bin/busybox; do
  [ -e "$need" ] || { echo "fuzz.sh: $need is missing: run eng/build.sh first" >&2; exit 2; }
done
work=$(mktemp -d /tmp/sandbox-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

for project in Runtime Seccomp Spec; do
  dotnet build "tests/Sandbox.$project.Tests" -c Release -v quiet -nologo >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "fuzz.sh: the build failed" >&2; exit 2; }
done

export SANDBOX_FUZZ_COUNT=$count SANDBOX_FUZZ_SUMMARY=$work/summary SANDBOX_FUZZ_SAMPLE_DIR=$work/samples SANDBOX_FUZZ_SAMPLE_COUNT=$sample
failed=0
for project in Runtime Seccomp Spec; do
  echo "in process: tests/Sandbox.$project.Tests (SANDBOX_FUZZ_COUNT=$count)"
  dotnet test "tests/Sandbox.$project.Tests" -c Release --no-build -nologo --filter "FullyQualifiedName~FuzzTests" >"$work/test.log" 2>&1 ||
    { grep -v '^\s*at ' "$work/test.log" | tail -40; failed=1; }
done
unset SANDBOX_FUZZ_SAMPLE_DIR SANDBOX_FUZZ_SAMPLE_COUNT

# The container's root: one copy for all runs, since mount destinations get created in it.
cp -a artifacts/rootfs/busybox "$work/rootfs"
mkdir -p "$work/state"

# run_binary NAME DIR CMD...: runs CMD for each file in DIR ({} is the file); counts crashes, hangs and exit codes.
run_binary() {
  local name=$1 dir=$2; shift 2
  local n=0 crashed=0 hung=0 f rc
  declare -A exits=()
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    local args=("${@//\{\}/$f}")
    args=("${args[@]//\{id\}/fuzz-$n}")
    timeout -k 5 60 "${args[@]}" </dev/null >/dev/null 2>"$work/err"
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      hung=$((hung + 1)); echo "  hang: $f" >&2; cp "$f" "/tmp/sandbox-fuzz-hang-$name-$n" 2>/dev/null
    elif [ "$rc" -eq 134 ] || [ "$rc" -eq 139 ] || grep -q 'Unhandled exception' "$work/err"; then
      crashed=$((crashed + 1)); echo "  crash (exit $rc): $f: $(head -c 300 "$work/err")" >&2
      cp "$f" "/tmp/sandbox-fuzz-crash-$name-$n" 2>/dev/null
    fi
    exits[$rc]=$(( ${exits[$rc]:-0} + 1 ))
  done
  local summary="" code
  for code in $(printf '%s\n' "${!exits[@]}" | sort -n); do summary+=" $code×${exits[$code]}"; done
  echo "binary $name $n $crashed $hung$summary" >>"$work/summary"
}

# Each config.json sample becomes a bundle whose rootfs is the shared copy.
for f in "$work"/samples/config.json/*; do
  [ -e "$f" ] || continue
  b=$work/bundles/$(basename "$f")
  mkdir -p "$b"
  cp "$f" "$b/config.json"
  ln -s "$work/rootfs" "$b/rootfs"
done
echo "binary: $(ls "$work/bundles" 2>/dev/null | wc -l) config.json files through sandbox run"
run_binary "sandbox-run" "$work/bundles" "$exe" --root "$work/state" run --timeout 30s --bundle {} {id}
echo "binary: $(ls "$work/samples/seccomp" 2>/dev/null | wc -l) profiles through sandbox seccomp compile"
run_binary "seccomp-compile" "$work/samples/seccomp" "$exe" seccomp compile {}
leftover=$(ls "$work/state" | wc -l)

echo
echo "target               inputs  crashed  hung  accepted (in process) / exit codes (binary: code×count)"
total_bad=0
while read -r kind a b c d rest; do
  if [ "$kind" = binary ]; then
    printf '%-20s %6s  %7s  %4s  %s\n' "$a" "$b" "$c" "$d" "$rest"; total_bad=$((total_bad + c + d))
  else
    printf '%-20s %6s  %7s  %4s  %s\n' "$kind" "$a" "$b" "$c" "$d"; total_bad=$((total_bad + b + c))
  fi
done <"$work/summary"
[ "$leftover" -eq 0 ] || echo "state entries left under --root: $leftover"
if [ "$total_bad" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FAILED ($total_bad crashed or hung)"
  exit 1
fi
echo "fuzz.sh: no crash, no hang"
