#!/usr/bin/env bash
# On the GPU host (the `device` tool's H100), from the repository root, after
# `source .device/env.sh`: builds reef, runs the foundation and preemption-mechanism GPU tests,
# the FFI benchmark, and the PyTorch fp16 baselines. Writes everything under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/reef-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
deno task build >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }

log="$OUT/gpu-tests-foundation.log"
cmd="deno task test:gpu tests/gpu/foundation_test.ts tests/gpu/preemption_mechanism_test.ts"
{ echo "\$ $cmd"; echo "# $(date -u +%FT%TZ) on $(nvidia-smi --query-gpu=name --format=csv,noheader)"; } >"$log"
deno test --allow-all tests/gpu/foundation_test.ts tests/gpu/preemption_mechanism_test.ts 2>&1 \
  | sed 's/\x1b\[[0-9;]*m//g' | tee -a "$log"

deno task bench ffi --out "$OUT/ffi-bench.json" 2>&1 | tail -12

python3 evaluation/scripts/torch_models.py --precision float16 \
  --models resnet18,resnet50,resnet152,vgg19,densenet201,inception_v3,mobilenet_v2,bert_base,distilbert \
  >"$OUT/torch-fp16.json" 2>"$OUT/torch.err" || tail -20 "$OUT/torch.err"
cat "$OUT/torch-fp16.json"
