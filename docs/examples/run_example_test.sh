#!/usr/bin/env bash
# Runs an example binary and fails unless it exits 0 and reports success.
set -euo pipefail
output=$("$1")
echo "$output"
grep -q "all steps ok" <<<"$output"
