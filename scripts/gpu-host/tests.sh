#!/usr/bin/env bash
# GPU run: the GPU tests of the scheduler and server (issues 4 and 6), of padding (issue 5), of
# the check-interval trace build and of every generated kernel against float64 (issue 8), and the
# server's request cost (issue 6). From the repository root on the GPU host, after
# `source .device/env.sh`.
# Usage: scripts/gpu-host/tests.sh [<part>[,<part>...]]   parts: scheduler, server, padding,
#        check-interval, kernels, server-bench (default: all, in that order)
source "$(dirname "$0")/steps.sh"
results=${RESULTS:-evaluation/results/h100}
mkdir -p "$results"
prepare
parts=${1:-scheduler,server,padding,check-interval,kernels,server-bench}
for part in ${parts//,/ }; do
  case $part in
    scheduler) TAIL=20 step scheduler-tests 240 scripts/gpu-host/gpu-log.sh \
      "$results/gpu-tests-scheduler.log" tests/gpu/scheduler_test.ts ;;
    server) TAIL=20 step server-tests 150 scripts/gpu-host/gpu-log.sh \
      "$results/gpu-tests-server.log" tests/gpu/server_test.ts ;;
    padding) TAIL=20 step padding-tests 300 scripts/gpu-host/gpu-log.sh \
      "$results/gpu-tests-padding.log" tests/gpu/padding_test.ts ;;
    check-interval) TAIL=8 step check-interval-test 120 scripts/gpu-host/gpu-log.sh \
      "$results/gpu-tests-check-interval.log" tests/gpu/check_interval_test.ts ;;
    kernels) TAIL=12 step kernel-check 420 scripts/gpu-host/gpu-log.sh \
      "$results/gpu-tests-kernels.log" tests/gpu/kernels/kernel_check_test.ts ;;
    server-bench) step server-bench 60 deno run --allow-all --no-check cli.ts bench server \
      --out "$results" ;;
    *) echo "tests.sh: unknown part \"$part\"" >&2; exit 2 ;;
  esac
done
pack "$results"
