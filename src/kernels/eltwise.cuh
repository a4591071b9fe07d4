// eltwise.cuh: element-wise y = act(a + b) over two channel windows of the same shape. SIMT,
// portable, memory-bound; thread per CV-channel vector, grid: x = blocks of NT. Its one check
// point sits before its writes (EntryCheck).
#pragma once

#include "check_point.cuh"
#include "numeric.cuh"

namespace reef {

template <typename T, int PIXELS, int C, int A_STRIDE, int A_OFF, int B_STRIDE, int B_OFF,
          int OUT_STRIDE, int OUT_OFF, int CV, int NT, int ACT>
__device__ __forceinline__ bool add_body(const Block& b, const T* __restrict__ a,
                                         const T* __restrict__ bb, T* __restrict__ y) {
  constexpr int kGroups = C / CV;
  static_assert(C % CV == 0 && A_STRIDE % CV == 0 && A_OFF % CV == 0 && B_STRIDE % CV == 0 &&
                    B_OFF % CV == 0 && OUT_STRIDE % CV == 0 && OUT_OFF % CV == 0,
                "channel vectors must stay aligned");
  const int i = b.x * NT + threadIdx.x;
  const bool active = i < PIXELS * kGroups;
  EntryCheck check;
  check.sample(b);
  const int p = i / kGroups, c = (i % kGroups) * CV;
  float va[CV], vb[CV];
  if (active) {
    load_vec<T, CV>(a + static_cast<size_t>(p) * A_STRIDE + A_OFF + c, va);
    load_vec<T, CV>(bb + static_cast<size_t>(p) * B_STRIDE + B_OFF + c, vb);
#pragma unroll
    for (int j = 0; j < CV; ++j) va[j] = activate<ACT>(va[j] + vb[j]);
  }
  if (check.stop()) return false;
  if (active) store_vec<T, CV>(y + static_cast<size_t>(p) * OUT_STRIDE + OUT_OFF + c, va);
  return true;
}

}  // namespace reef
