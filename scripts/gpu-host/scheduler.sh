#!/usr/bin/env bash
# GPU run: the GPU tests of the foundation and the scheduler (issues 2 and 4), the server's
# request cost (issue 6), the preemption sweeps (issue 4) and DISB A (issue 7), with short windows
# to fit one device call. From the repository root on the GPU host, after `source .device/env.sh`.
# Results: $OUT/results.tar and $OUT/steps.log.
source "$(dirname "$0")/steps.sh"
export results=/tmp/reef-results-2
mkdir -p "$results"
step build 60 deno task build
step compile 90 deno run --allow-all --no-check cli.ts compile vgg19 resnet152 resnet18
step foundation-tests 40 scripts/gpu-host/gpu-log.sh "$results/gpu-tests-foundation.log" \
  tests/gpu/foundation_test.ts tests/gpu/preemption_mechanism_test.ts
TAIL=20 step scheduler-tests 120 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-scheduler.log" tests/gpu/scheduler_test.ts
step server 40 deno run --allow-all --no-check cli.ts bench server --out "$results"
TAIL=30 step preemption 170 deno run --allow-all --no-check cli.ts bench preemption --quick \
  --duration 1 --out "$results"
TAIL=20 step disb-a 60 deno run --allow-all --no-check cli.ts bench A --duration 3 --out "$results"
tar -cf "$OUT/results.tar" -C "$results" .
