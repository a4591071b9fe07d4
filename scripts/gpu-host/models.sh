#!/usr/bin/env bash
# GPU run: the zoo's correctness and speed (issue 3) and the H100 profiles of the DISB models
# (committed under resource/). From the repository root on the GPU host, after
# `source .device/env.sh`. Results: $OUT/results.tar (models.json, models-correctness.log,
# profiles) and $OUT/steps.log.
source "$(dirname "$0")/steps.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
results=/tmp/reef-results
mkdir -p "$results"
step build 60 deno task build
TAIL=40 step models 540 deno run --allow-all --no-check cli.ts bench models --out "$results"
TAIL=8 step profiles 50 deno run --allow-all --no-check cli.ts profile \
  vgg19 resnet152 densenet201 inception_v3 distilbert resnet50 mobilenet_v2
tar -cf "$OUT/results.tar" -C "$results" . resource/*/*.profile.json 2>/dev/null ||
  tar -cf "$OUT/results.tar" -C "$results" .
tar -rf "$OUT/results.tar" resource/*/*.profile.json 2>/dev/null
