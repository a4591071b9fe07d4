// splitk.cuh: the second launch of a split-K GEMM. The first launch writes each K slice's fp32
// partial sums to a workspace [SPLIT][M][COUT] (plain stores, no atomics, so both launches stay
// idempotent); this one adds the slices in a fixed order, then bias, residual and activation,
// and stores the output view. Thread per V consecutive output channels; grid: x = blocks of NT.
// Its one check point sits before its writes (EntryCheck).
//
// Why every load comes before the check, in one branch-free stretch: the kernel is one memory
// round trip long (3-5 µs), so whatever ptxas puts between the flag load and the slice loads, or
// between the check and the bias load, is a second round trip. With the loads behind
// `if (active)`, ptxas tested the flag in the entry block, so each warp waited for the flag
// before it issued a slice load; with the epilogue after the check it issued the bias load only
// after the vote (SASS, src/kernels/NOTES.md, session 10). Threads past the end read the last
// vector instead, and store nothing.
#pragma once

#include "check_point.cuh"
#include "gemm_common.cuh"

namespace reef {

template <typename T, class G, int SPLIT, int V, int NT, int ACT, bool HAS_BIAS, bool HAS_RES>
__device__ __forceinline__ bool splitk_reduce_body(const Block& b, const float* __restrict__ ws,
                                                   const float* __restrict__ bias,
                                                   const T* __restrict__ res,
                                                   T* __restrict__ y) {
  constexpr int kVectorsPerRow = G::COUT / V;
  static_assert(G::COUT % V == 0, "output channels must be whole vectors");
  constexpr int kThreads = G::M * kVectorsPerRow;
  const int i = b.x * NT + threadIdx.x;
  const bool active = i < kThreads;
  EntryCheck check;
  check.sample(b);
  const int t = active ? i : kThreads - 1;
  const int m = t / kVectorsPerRow, n = (t % kVectorsPerRow) * V;
  float sum[V];
  load_vec<float, V>(ws + static_cast<size_t>(m) * G::COUT + n, sum);
#pragma unroll
  for (int s = 1; s < SPLIT; ++s) {
    float part[V];
    load_vec<float, V>(ws + (static_cast<size_t>(s) * G::M + m) * G::COUT + n, part);
#pragma unroll
    for (int j = 0; j < V; ++j) sum[j] += part[j];
  }
  gemm_epilogue<G, T, V, ACT, HAS_BIAS, HAS_RES>(sum, m, n, bias, res);
  if (check.stop()) return false;
  if (active) gemm_store_output<G, T, V>(sum, m, n, y);
  return true;
}

}  // namespace reef
