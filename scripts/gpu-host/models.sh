#!/usr/bin/env bash
# GPU run: the zoo's correctness and speed (issue 3), the FFI cost (issue 2), and the H100 profiles
# of the DISB models, which are committed under resource/. From the repository root on the GPU
# host, after `source .device/env.sh`.
source "$(dirname "$0")/steps.sh"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
step build 60 deno task build
step ffi 45 deno run --allow-all --no-check cli.ts bench ffi --out "$OUT/ffi-bench.json"
TAIL=40 step models 330 deno run --allow-all --no-check cli.ts bench models --out "$OUT"
TAIL=8 step profiles 100 deno run --allow-all --no-check cli.ts profile \
  vgg19 resnet152 densenet201 inception_v3 distilbert resnet50
tar -cf "$OUT/profiles.tar" resource/*/*.profile.json 2>/dev/null
TAIL=40 step kernels 110 bash tests/gpu/kernels/run.sh /tmp/reef-kernel-check
