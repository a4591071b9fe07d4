#!/usr/bin/env bash
# Builds and runs the standalone kernel check on a CUDA GPU (sm_90).
#
#   tests/gpu/kernels/run.sh [bundle-dir] [kernel_check options...]
#
# The bundle directory (default build/kernel_check) is generated with Deno when it has no
# manifest.txt (or when REGENERATE=1); generate it elsewhere and copy it over when the GPU host
# has no Deno. Needs nvcc (NVCC overrides); compiler reports go to <dir>/*.ptxas.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dir=${1:-$root/build/kernel_check}
shift || true
nvcc=${NVCC:-nvcc}

if [[ ! -f $dir/manifest.txt || -n ${REGENERATE:-} ]]; then
  deno run --no-lock -A "$here/generate.ts" "$dir"
fi

pids=()
for src in "$dir"/check_f*.cu; do
  "$nvcc" -cubin -gencode=arch=compute_90,code=sm_90 -O3 -std=c++17 -lineinfo \
    -I "$root/src/kernels" -Xptxas -v "$src" -o "${src%.cu}.cubin" 2>"${src%.cu}.ptxas.txt" &
  pids+=($!)
done
"$nvcc" -O2 -std=c++17 -o "$dir/kernel_check" "$here/kernel_check.cu" &
pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status -ne 0 ]]; then
  echo "run.sh: a compilation failed; see $dir/*.ptxas.txt" >&2
  exit 1
fi
# Device bodies of the DKP build report their ABI register saves as spills: not listed.
if grep -H "bytes spill stores" "$dir"/check_f16.ptxas.txt "$dir"/check_f16.be.ptxas.txt \
  "$dir"/check_f32.ptxas.txt "$dir"/check_f32.be.ptxas.txt 2>/dev/null |
  grep -v " 0 bytes spill stores" >&2; then
  echo "run.sh: the kernels above spill registers" >&2
fi
exec "$dir/kernel_check" "$dir/manifest.txt" "$@"
