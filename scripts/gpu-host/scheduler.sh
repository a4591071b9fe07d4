#!/usr/bin/env bash
# GPU run: the GPU tests of the foundation and the scheduler (issues 2 and 4), the server's
# request cost (issue 6), the preemption sweeps (issue 4) and DISB A in quick mode (issue 7).
# Needs the packages that scripts/gpu-host/models.sh compiled into resource/ on the same machine.
# Results: $OUT/results.tar and $OUT/steps.log.
source "$(dirname "$0")/steps.sh"
export results=/tmp/reef-results-2
mkdir -p "$results"
step build 60 deno task build
step foundation-tests 40 scripts/gpu-host/gpu-log.sh "$results/gpu-tests-foundation.log" \
  tests/gpu/foundation_test.ts tests/gpu/preemption_mechanism_test.ts
TAIL=20 step scheduler-tests 150 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-scheduler.log" tests/gpu/scheduler_test.ts
step server 45 deno run --allow-all --no-check cli.ts bench server --out "$results"
TAIL=30 step preemption 240 deno run --allow-all --no-check cli.ts bench preemption --quick \
  --out "$results"
TAIL=20 step disb-a 110 deno run --allow-all --no-check cli.ts bench A --quick --out "$results"
tar -cf "$OUT/results.tar" -C "$results" .
