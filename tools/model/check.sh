#!/usr/bin/env bash
# Exhaustive SPIN model checks of nanorun's lock-free protocols (see
# tools/model/README.md):
#   task_state.pml   the task state word (nanorun/task/state.h and users)
#   park_unpark.pml  the no-lost-wakeup park/unpark handshake (executor)
#   join_waker.pml   the JoinHandle's JOIN_WAKER slot
#   stop_gate.pml    the StopGate: a stop request racing the result it stops
#   combinator_hook.pml  a combinator's stop hook racing the input that settles it
#
#   tools/model/check.sh            check the five models (must pass)
#   tools/model/check.sh --mutants  also compile each model's MUTANT_* variants
#                                   (#ifdef'd in the .pml) and require SPIN to
#                                   find an error in every one
#   tools/model/check.sh --keep     keep the work directory (pan sources, trails)
#
# A model passes when every search of it reports "errors: 0" after a complete
# search: not cut by the depth bound (-m), not stopped by the memory bound
# (MEMLIM_MB). Each model gets a safety search (assertions, invalid end
# states); park_unpark also gets a non-progress-cycle search (livelock, -DNP
# with weak fairness).
# Everything is built and run in a temporary directory; nothing is written
# into the repository. Installs Debian's `spin` package if it is missing
# (as root, or through sudo). The last line is "N passed, N failed".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
models=(task_state park_unpark join_waker stop_gate combinator_hook)
depth="${SPIN_DEPTH:-100000}"          # pan -m: max search depth
memlim_mb="${MEMLIM_MB:-2048}"         # pan -DMEMLIM: stop (and fail) past this
mutants=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --mutants) mutants=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

install_spin() {
  command -v spin >/dev/null 2>&1 && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "check.sh: spin is not installed and this is not root (apt-get install spin)" >&2
      return 1
    fi
  fi
  echo "check.sh: installing spin (apt-get install spin)"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends spin >/dev/null; then
    "${sudo[@]}" apt-get update >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends spin >/dev/null
  fi
  command -v spin >/dev/null 2>&1
}

if ! install_spin; then
  echo "check.sh: could not install spin"
  echo "0 passed, ${#models[@]} failed"
  exit 1
fi
if ! command -v gcc >/dev/null 2>&1; then
  echo "check.sh: gcc is needed to compile SPIN's pan.c"
  echo "0 passed, ${#models[@]} failed"
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/nanorun-model.XXXXXX")"
cleanup() {
  if [ "$keep" = 1 ]; then
    echo "check.sh: work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

passed=0
failed=0

# run_pan MODEL DIR SPIN_DEFINES CC_MODE: generate, compile and run pan for
# MODEL in DIR (CC_MODE: safety, or np for non-progress cycles with weak
# fairness); leaves pan's output in DIR/pan.out. Returns non-zero if it could
# not build the verifier.
run_pan() {
  local model="$1" dir="$2" defines="$3" mode="$4" ccflag panflags
  case "$mode" in
    safety) ccflag=-DSAFETY; panflags="" ;;
    np) ccflag=-DNP; panflags="-l -f" ;;
  esac
  mkdir -p "$dir"
  cp "$here/$model.pml" "$dir/"
  (
    cd "$dir"
    # shellcheck disable=SC2086
    spin $defines -a "$model.pml" >spin.out 2>&1 || { cat spin.out; exit 1; }
    if grep -qi "error" spin.out; then cat spin.out; exit 1; fi
    gcc -O2 -w "$ccflag" -DCOLLAPSE -DMEMLIM="$memlim_mb" -o pan pan.c \
      >gcc.out 2>&1 || { cat gcc.out; exit 1; }
    # shellcheck disable=SC2086
    ./pan -m"$depth" $panflags >pan.out 2>&1 || true
  )
}

# The searches each model must pass: "SPIN_DEFINES|MODE" per line.
runs_of() {
  case "$1" in
    park_unpark) printf '%s\n' "|safety" "-DSPURIOUS=0|np" ;;
    *) printf '%s\n' "|safety" ;;
  esac
}

# check_out OUT: prints the problems of a pan run (nothing if it passed).
check_out() {
  local out="$1" reached
  grep -q "errors: 0" "$out" || echo "pan reported errors"
  grep -q "Search not completed" "$out" && echo "search not completed"
  grep -q "max search depth too small" "$out" && echo "depth bound -m$depth too small"
  grep -qiE "out of memory|MEMLIM|memory exhausted" "$out" && echo "memory bound ${memlim_mb} MB reached"
  grep -q "Full statespace search" "$out" || echo "no full state-space search"
  reached=$(field '.*depth reached ([0-9]+),.*' "$out")
  if [ "$reached" != "?" ] && [ "$reached" -ge "$depth" ]; then
    echo "depth reached the bound"
  fi
  return 0
}

field() {  # field REGEX FILE: first match's captured number, or "?"
  sed -nE "s/$1/\1/p" "$2" | head -n1 | grep . || echo "?"
}

echo "SPIN: $(spin -V 2>&1 | head -n1)"
for model in "${models[@]}"; do
  ok=1
  summary=()
  n=0
  while IFS='|' read -r defines mode; do
    n=$((n + 1))
    dir="$work/$model.$n"
    start=$(date +%s.%N)
    if ! run_pan "$model" "$dir" "$defines" "$mode"; then
      echo "FAIL $model ($mode $defines): could not build the verifier"
      ok=0
      continue
    fi
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    out="$dir/pan.out"
    states=$(field '^ *([0-9]+) states, stored.*' "$out")
    reached=$(field '.*depth reached ([0-9]+),.*' "$out")
    mem=$(field '^ *([0-9.]+)[[:space:]]+total actual memory usage.*' "$out")
    mapfile -t problems < <(check_out "$out")
    label="$mode${defines:+ $defines}"
    if [ "${#problems[@]}" -eq 0 ]; then
      summary+=("$label: $states states, depth $reached, ${mem} MB, ${secs} s")
    else
      ok=0
      echo "FAIL $model ($label): $(IFS=';'; echo "${problems[*]}") ($states states, ${secs} s)"
      grep -E "assertion violated|invalid end state \(|^pan:[0-9]|error:|reached -DMEMLIM|out of memory|non-progress cycle" \
        "$out" | grep -v "non-progress cycles" | head -n 5 | sed 's/^/  /' || true
      if [ -e "$dir/$model.pml.trail" ]; then
        echo "  replay (with --keep): cd $dir && spin $defines -t -p -g -l $model.pml"
      fi
    fi
  done < <(runs_of "$model")
  if [ "$ok" = 1 ]; then
    echo "PASS $model: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done

if [ "$mutants" = 1 ]; then
  for model in "${models[@]}"; do
    mapfile -t names < <(grep -oE '^#[[:space:]]*if(n)?def[[:space:]]+MUTANT_[A-Z0-9_]+' \
                           "$here/$model.pml" | awk '{print $NF}' | sort -u)
    for m in "${names[@]}"; do
      dir="$work/$model.$m"
      if ! run_pan "$model" "$dir" "-D$m" safety; then
        echo "FAIL $model -D$m: could not build the verifier"
        failed=$((failed + 1))
        continue
      fi
      out="$dir/pan.out"
      what=$(grep -m1 -E "assertion violated|invalid end state \(" "$out" \
             | sed -E 's/^pan:[0-9]+: //; s/ \(at depth [0-9]+\)//' || true)
      if grep -qE "errors: [1-9]" "$out"; then
        echo "PASS $model -D$m: caught: ${what:-error}"
        passed=$((passed + 1))
      else
        echo "FAIL $model -D$m: the mutant was not caught"
        failed=$((failed + 1))
      fi
    done
  done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
