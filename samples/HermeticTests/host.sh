# host.sh: what run.sh here and ../HermeticTests.Mtp/run.sh do on the host around their test runs (sourced by both):
# the isolated NuGet cache and quiet build, the TCP listener on the host's 127.0.0.1 for the Network test, and the
# check that what the tests wrote beside their assembly stayed in their sandboxes. Sourced with the script's own
# arguments, it takes a leading `--results DIR` off them into $results (default artifacts/samples/<the sample's
# directory name>), and sets $root, the repository.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
results="$root/artifacts/samples/$(basename "$here")"
if [ "${1:-}" = "--results" ]; then
  results=$(mkdir -p "$2" && cd "$2" && pwd)
  shift 2
fi

# sample_build DIR: restores (Sandbox packages from artifacts/packages, into an isolated cache) and builds DIR.
sample_build() {
  # An isolated NuGet cache: artifacts/packages' 0.1.0 is rebuilt all the time, so a copy in ~/.nuget/packages would
  # go stale. Its Sandbox packages are dropped before each restore, so the newest pack is what runs.
  export NUGET_PACKAGES="$root/artifacts/nuget"
  rm -rf "$NUGET_PACKAGES/sandbox.build" "$NUGET_PACKAGES/sandbox.testadapter"
  # No MSBuild nodes, build server or compiler server left running after the script.
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER=1
  cd "$1"
  echo "== dotnet build ${1#"$root"/}"
  dotnet build -nologo -v quiet -p:UseSharedCompilation=false
}

# start_listener OUTPUT RESULTS: starts listener.py, its port in OUTPUT/hermetic-listener.port and RESULTS/listener.port,
# and shows that it answers the host; stop_listener (also on EXIT) stops it.
start_listener() {
  portfile="$1/hermetic-listener.port"
  rm -f "$portfile"
  python3 "$root/samples/HermeticTests/listener.py" $$ "$portfile" "$2/listener.port" &
  listener=$!
  trap stop_listener EXIT
  for _ in $(seq 100); do
    [ -s "$portfile" ] && break
    kill -0 "$listener" 2>/dev/null || { echo "run.sh: the listener did not start" >&2; exit 1; }
    sleep 0.1
  done
  local port
  port=$(cat "$portfile")
  # The same connection from the host works: what the sandboxed Network test fails at is the sandbox's doing.
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  read -r greeting <&3
  exec 3<&-
  echo "== listener on the host's 127.0.0.1:$port (pid $listener); from the host it answers: $greeting"
}

stop_listener() {
  kill "$listener" 2>/dev/null || true
  wait "$listener" 2>/dev/null || true
  rm -f "$portfile"
  trap - EXIT
}

# check_output OUTPUT: 0 when the files the FileSystem tests wrote or overwrote beside their assembly did not reach
# the host's OUTPUT (remove OUTPUT/written-in-the-sandbox.txt before the run).
check_output() {
  if [ -e "$1/written-in-the-sandbox.txt" ] || [ -e "$1/fixtures/added-in-the-sandbox.txt" ]; then
    echo "BAD a file a test wrote beside its assembly reached the host's $1"
    return 1
  elif [ "$(cat "$1/fixtures/greeting.txt")" != "written by the build" ]; then
    echo "BAD the file a test overwrote in its sandbox changed in the host's $1/fixtures"
    return 1
  fi
  echo "ok  the files a test wrote or overwrote beside its assembly stayed in its sandbox's copy-on-write layer, not in the host's output"
}
