// splitk.cuh: the second launch of a split-K GEMM. The first launch writes each K slice's fp32
// partial sums to a workspace [SPLIT][M][COUT] (plain stores, no atomics, so both launches stay
// idempotent); this one adds the slices in a fixed order, then bias, residual and activation,
// and stores the output view. Thread per V consecutive output channels; grid: x = blocks of NT.
// Its one check point sits before its writes (EntryCheck).
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
  const int i = b.x * NT + threadIdx.x;
  const bool active = i < G::M * kVectorsPerRow;
  EntryCheck check;
  check.sample(b);
  const int m = i / kVectorsPerRow, n = (i % kVectorsPerRow) * V;
  float sum[V];
  if (active) {
    load_vec<float, V>(ws + static_cast<size_t>(m) * G::COUT + n, sum);
#pragma unroll
    for (int s = 1; s < SPLIT; ++s) {
      float part[V];
      load_vec<float, V>(ws + (static_cast<size_t>(s) * G::M + m) * G::COUT + n, part);
#pragma unroll
      for (int j = 0; j < V; ++j) sum[j] += part[j];
    }
  }
  if (check.stop()) return false;
  if (active) gemm_store<G, T, V, 1, ACT, HAS_BIAS, HAS_RES>(sum, m, n, 0, bias, res, y, nullptr);
  return true;
}

}  // namespace reef
