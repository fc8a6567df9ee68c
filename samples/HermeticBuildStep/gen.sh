# gen.sh OUTDIR [--stamp]: writes OUTDIR/Greetings.cs with one constant per templates/*.txt, in name order.
# With --stamp it also embeds the time it ran, which makes it a step that is not reproducible.
set -eu
out=$1
{
  echo "static class Greetings"
  echo "{"
  for t in $(ls templates/*.txt | LC_ALL=C sort); do
    name=$(basename "$t" .txt)
    printf '    public const string %s = "%s";\n' "$(echo "$name" | sed 's/^./\U&/')" "$(cat "$t")"
  done
  if [ "${2:-}" = "--stamp" ]; then
    printf '    public const string GeneratedAt = "%s";\n' "$(date +%s.%N)"
  fi
  echo "}"
} > "$out/Greetings.cs"
