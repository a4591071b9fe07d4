#!/usr/bin/env bash
# On the GPU host, from the repository root, after `source .device/env.sh`. Each step runs under a
# time limit with unbuffered logs, so a hang costs one step, not the whole run. The device tool
# brings back at most 8 files from $OUT: every step's log goes to $OUT/steps.log.
set -uo pipefail
OUT=${OUT:-/tmp/reef-out}
mkdir -p "$OUT"
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
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
step build 60 deno task build
step foundation 90 deno test --allow-all --no-check tests/gpu/foundation_test.ts
step mechanism 120 deno test --allow-all --no-check tests/gpu/preemption_mechanism_test.ts
step ffi 45 deno run --allow-all --no-check cli.ts bench ffi --out "$OUT/ffi-bench.json"
TAIL=30 step kernels 110 bash tests/gpu/kernels/run.sh /tmp/reef-kernel-check
TAIL=30 step models 170 deno run --allow-all --no-check cli.ts bench models \
  --models resnet18,mobilenet_v2,distilbert --repeats 20 --aborts 3 --out "$OUT"
