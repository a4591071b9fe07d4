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

# One nvcc per source, at most one per core: the bundle has dozens of sources (39 for the GPU
# cases), and all at once would swamp a small machine.
compile() { # compile <source>
  "$nvcc" -cubin -gencode=arch=compute_90,code=sm_90 -O3 -std=c++17 -lineinfo \
    -I "$root/src/kernels" -Xptxas -v "$1" -o "${1%.cu}.cubin" 2>"${1%.cu}.ptxas.txt"
}
jobs_max=$(nproc)
status=0
sources=0
start=$SECONDS
"$nvcc" -O2 -std=c++17 -o "$dir/kernel_check" "$here/kernel_check.cu" &
# Largest first (the DKP builds), so that the longest compilations do not start last.
for src in $(ls -S "$dir"/check_f*.cu); do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || status=1; done
  compile "$src" &
  sources=$((sources + 1))
done
while (($(jobs -rp | wc -l) > 0)); do wait -n || status=1; done
if [[ $status -ne 0 ]]; then
  echo "run.sh: a compilation failed; see $dir/*.ptxas.txt" >&2
  exit 1
fi
echo "run.sh: compiled $sources sources in $((SECONDS - start)) s, $jobs_max at a time" >&2
# Device bodies of the DKP build report their ABI register saves as spills: not listed.
for report in "$dir"/check_f*.ptxas.txt; do
  [[ $report == *.trans.ptxas.txt ]] && continue
  if grep -H "bytes spill stores" "$report" | grep -v " 0 bytes spill stores" >&2; then
    echo "run.sh: the kernels above spill registers" >&2
  fi
done
exec "$dir/kernel_check" "$dir/manifest.txt" "$@"
