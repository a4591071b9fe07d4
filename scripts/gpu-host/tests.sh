#!/usr/bin/env bash
# GPU run: the scheduler's and the server's GPU tests (issues 4 and 6), the check-interval trace
# build's (issue 8), and the server's request cost (issue 6). From the repository root on the GPU
# host, after `source .device/env.sh`.
source "$(dirname "$0")/steps.sh"
results=${RESULTS:-evaluation/results/h100}
mkdir -p "$results"
prepare
TAIL=20 step scheduler-tests 240 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-scheduler.log" tests/gpu/scheduler_test.ts
TAIL=20 step server-tests 150 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-server.log" tests/gpu/server_test.ts
TAIL=8 step check-interval-test 120 scripts/gpu-host/gpu-log.sh \
  "$results/gpu-tests-check-interval.log" tests/gpu/check_interval_test.ts
step server-bench 60 deno run --allow-all --no-check cli.ts bench server --out "$results"
pack "$results"
