#!/usr/bin/env bash
# GPU run: `reef bench <target> --quick --resume` (rt-latency, disb, a figure, ...), cut off at
# LIMIT seconds so that results come back within one device call; run it again to continue.
# From the repository root on the GPU host, after `source .device/env.sh`.
# Usage: scripts/gpu-host/bench.sh <target> [more reef bench options]
source "$(dirname "$0")/steps.sh"
results=${RESULTS:-evaluation/results/h100}
mkdir -p "$results"
prepare
TAIL=30 step "bench-$1" ${LIMIT:-480} deno run --allow-all --no-check cli.ts bench "$@" \
  --quick --resume --out "$results"
pack "$results"
