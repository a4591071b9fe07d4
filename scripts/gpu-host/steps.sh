# Sourced by the scripts in scripts/gpu-host/: `step <name> <seconds> <command...>` runs a command
# under a time limit with unbuffered output, appended to $OUT/steps.log, so a hang costs one step,
# not the whole run (the device tool brings back at most 8 files from $OUT).
set -uo pipefail
OUT=${OUT:-/tmp/reef-out}
mkdir -p "$OUT"
call_start=$(mktemp)
export DENO_NO_UPDATE_CHECK=1
step() { # step <name> <seconds> <command...>
  local name=$1 secs=$2
  shift 2
  { echo "=== $name (limit ${secs}s): \$ $*"; echo "# $(date -u +%FT%TZ)"; } | tee -a "$OUT/steps.log"
  local t0=$SECONDS
  timeout -k 5 "$secs" "$@" 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' | tee -a "$OUT/steps.log" \
    | tail -n "${TAIL:-12}"
  echo "=== $name rc=${PIPESTATUS[0]} in $((SECONDS - t0))s" | tee -a "$OUT/steps.log"
}

# prepare: builds the FFI library and runtime kernels, and unpacks model packages compiled on the
# development machine when the device call carried them (.device/resource.tar.xz, made by
# scripts/pack-models.sh), which saves compiling them on the GPU host;
# without it, `reef bench` compiles each zoo model on first use.
prepare() {
  step build 120 deno task build
  if [ -f .device/resource.tar.xz ]; then step unpack-models 60 tar -xJf .device/resource.tar.xz; fi
}

# pack <results dir>: brings back what this call wrote there: the summaries and figure data
# ($OUT/results-<script>.tar) and the per-run JSON files, compressed ($OUT/runs-<script>.tar.xz), which
# `reef bench --resume` reads.
pack() {
  (cd "$1" && find . -path ./runs -prune -o -type f -newer "$call_start" -print) \
    | tar -cf "$OUT/results-$(basename "$0" .sh).tar" -C "$1" -T -
  if [ -d "$1/runs" ]; then
    (cd "$1" && find runs -name '*.json' -newer "$call_start") | tar -cf - -C "$1" -T - \
      | xz -T0 >"$OUT/runs-$(basename "$0" .sh).tar.xz"
  fi
  ls -la "$OUT"
}
