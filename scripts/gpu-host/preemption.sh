#!/usr/bin/env bash
# GPU run: the scheduler's GPU tests (issue 4) and the preemption sweeps (issue 4) with 1-s
# windows. Brings back the summaries and figure data, not the per-request run files (over the
# device tool's 16 MB). From the repository root on the GPU host, after `source .device/env.sh`.
source "$(dirname "$0")/steps.sh"
export results=/tmp/reef-results-3
mkdir -p "$results"
step build 60 deno task build
TAIL=30 step preemption 170 deno run --allow-all --no-check cli.ts bench preemption --quick \
  --duration 1 --out "$results"
TAIL=20 step scheduler-tests 130 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-scheduler.log" tests/gpu/scheduler_test.ts
(cd "$results" && tar -cf "$OUT/results.tar" --exclude=./runs .)
ls -la "$OUT"
