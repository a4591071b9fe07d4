#!/usr/bin/env bash
# GPU run: the DISB models' profiles (kernel times and padding slowdowns, committed under
# resource/), and two diagnostics of evaluation/scripts/: where the BE build's GPU time goes
# (be_overhead.ts) and what the host spends per device call in REEF mode (preempt_trace.ts). From
# the repository root on the GPU host, after `source .device/env.sh`.
# Usage: scripts/gpu-host/diagnostics.sh [<part>[,<part>...]]   parts: be-overhead, profiles,
#        trace (default: all, in that order)
# Results: $OUT/results-diagnostics.tar (JSON files and the profiles) and $OUT/steps.log.
source "$(dirname "$0")/steps.sh"
results=/tmp/reef-results
mkdir -p "$results"
prepare
parts=${1:-be-overhead,profiles,trace}
for part in ${parts//,/ }; do
  case $part in
    be-overhead) TAIL=16 step be-overhead 240 deno run --allow-all --no-check \
      evaluation/scripts/be_overhead.ts "$results/be-overhead.json" \
      resnet152 densenet201 inception_v3 distilbert vgg19 ;;
    profiles) TAIL=8 step profiles 300 deno run --allow-all --no-check cli.ts profile \
      vgg19 resnet152 densenet201 inception_v3 distilbert resnet50 mobilenet_v2 ;;
    trace) TAIL=40 step trace-reef 60 deno run --allow-all --no-check \
      evaluation/scripts/preempt_trace.ts "$results/preempt-trace-reef.json" --mode reef \
      --rt resnet152 --be resnet152 --period-us 3000 --doorbell watcher ;;
    *) echo "diagnostics.sh: unknown part \"$part\"" >&2; exit 2 ;;
  esac
done
tar -cf "$OUT/results-diagnostics.tar" -C "$results" .
tar -rf "$OUT/results-diagnostics.tar" resource/*/*.profile.json
ls -la "$OUT"
