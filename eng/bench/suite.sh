# suite.sh: the generated suite of test.sh and test-mtp.sh (sourced by both, from the repository's root): a work
# directory, the isolated NuGet cache, the 200 tests (suite.py generate) and two projects built from them that differ
# only in the Sandbox.TestAdapter reference, $work/plain and $work/sandboxed (assembly name Bench, Release).
#
# build_suite PROPERTIES PACKAGES [NAME ITEMS]...: PROPERTIES go into each project's PropertyGroup, PACKAGES
# (PackageReference items) into its ItemGroup. Each NAME ITEMS couple adds a project $work/NAME: plain's, with ITEMS
# in its ItemGroup too. Sets $work (removed on exit) and $version.

build_suite() {
  version=$(sed -n 's:.*<SandboxVersion>\(.*\)</SandboxVersion>.*:\1:p' Directory.Build.props)
  [ -e "artifacts/packages/Sandbox.TestAdapter.$version.nupkg" ] || bash eng/build.sh
  # Not under /tmp, which each sandbox has privately, and not under the repository, whose Directory.Build.props
  # would apply to the generated projects.
  work=$(mktemp -d /var/tmp/sandbox-bench-test.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # The isolated NuGet cache samples/HermeticTests uses, without the Sandbox packages: the newest pack is restored.
  export NUGET_PACKAGES="$PWD/artifacts/nuget"
  rm -rf "$NUGET_PACKAGES/sandbox.build" "$NUGET_PACKAGES/sandbox.testadapter"
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER=1
  unset SANDBOX_DISABLE
  python3 eng/bench/suite.py generate "$work/Tests.cs"
  local properties=$1 packages=$2 name
  shift 2
  declare -A items=([plain]="" [sandboxed]="<PackageReference Include=\"Sandbox.TestAdapter\" Version=\"$version\" />")
  local names=(plain sandboxed)
  while [ $# -ge 2 ]; do
    items[$1]=$2
    names+=("$1")
    shift 2
  done
  for name in "${names[@]}"; do
    mkdir -p "$work/$name"
    cat > "$work/$name/$name.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <AssemblyName>Bench</AssemblyName>
    $properties
  </PropertyGroup>
  <ItemGroup>
    <Compile Include="../Tests.cs" />
    $packages
    ${items[$name]}
  </ItemGroup>
</Project>
XML
    # Sandbox's packages from artifacts/packages, the rest from nuget.org.
    if ! dotnet build "$work/$name" -c Release -nologo -v quiet --source "$PWD/artifacts/packages" \
      --source https://api.nuget.org/v3/index.json >"$work/build-$name.log" 2>&1; then
      echo "the generated project $name did not build:" >&2
      tail -20 "$work/build-$name.log" >&2
      return 1
    fi
  done
}
