#!/usr/bin/env bash
# GPU run: `reef bench <target> --quick --resume` for each of a comma-separated list of targets
# (rt-latency, disb, a figure, ...), together cut off at LIMIT seconds so that results come back
# within one device call; run it again to continue. From the repository root on the GPU host,
# after `source .device/env.sh`.
# Usage: scripts/gpu-host/bench.sh <target>[,<target>...] [more reef bench options]
source "$(dirname "$0")/steps.sh"
results=${RESULTS:-evaluation/results/h100}
mkdir -p "$results"
prepare
targets=$1
shift
deadline=$((SECONDS + ${LIMIT:-480}))
for target in ${targets//,/ }; do
  left=$((deadline - SECONDS))
  if [ "$left" -le 10 ]; then echo "=== bench-$target skipped: LIMIT reached" | tee -a "$OUT/steps.log"; continue; fi
  TAIL=30 step "bench-$target" "$left" deno run --allow-all --no-check cli.ts bench "$target" "$@" \
    --quick --resume --out "$results"
done
pack "$results"
