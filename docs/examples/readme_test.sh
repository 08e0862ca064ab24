#!/usr/bin/env bash
# Runs the README example and checks that README.md still shows exactly the
# code that was compiled (between BEGIN README / END README, indentation aside).
set -euo pipefail
binary="$1" source="$2" readme="$3"
"$binary" | tee /dev/stderr | grep -q "all steps ok"
sed -n '/BEGIN README/,/END README/p' "$source" | sed '1d;$d' | sed 's/^  //' > "${TEST_TMPDIR:-/tmp}/snippet.txt"
while IFS= read -r line; do
  [[ -z "$line" ]] && continue
  grep -qxF -- "$line" "$readme" || { echo "README.md lacks: $line"; exit 1; }
done < "${TEST_TMPDIR:-/tmp}/snippet.txt"
