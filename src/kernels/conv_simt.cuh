// conv_simt.cuh: convolution (and linear) as an implicit GEMM on the fp32 FMA units. The path for
// fp32 models, for fp16 shapes the tensor-core path does not take (cin = 3 first layers,
// unaligned channel windows) and the portable path for AMD GPUs. Any shape, any view.
//
// Block tile BM x BN, K-tiles of BK, each thread a TM x TN register tile. Operands are gathered
// element by element (consecutive threads take consecutive k, which is contiguous in memory),
// converted to fp32 and staged through registers into a double-buffered shared tile stored
// k-major ([BK][BM + 4]: float4 reads along m, the padding breaks the store bank conflicts).
// One __syncthreads per K-tile; the BE check point sits on it every CHECK_MASK + 1 tiles.
// Grid: x = M tiles, y = N tiles, z = K splits.
#pragma once

#include "check_point.cuh"
#include "gemm_common.cuh"

namespace reef {

template <typename T, class G, int BM, int BN, int BK, int TM, int TN, int SPLIT, int ACT,
          bool HAS_BIAS, bool HAS_RES, bool HAS_PRE, int CHECK_MASK>
__device__ __forceinline__ bool conv_simt_body(const Block& b, const T* __restrict__ x,
                                               const T* __restrict__ w,
                                               const float* __restrict__ bias,
                                               const T* __restrict__ res,
                                               const float* __restrict__ pre_scale,
                                               const float* __restrict__ pre_shift,
                                               T* __restrict__ y, float* __restrict__ ws) {
  constexpr int kThreadsN = BN / TN, kThreadsM = BM / TM;
  constexpr int NT = kThreadsN * kThreadsM;
  constexpr int kRowsPerPass = NT / BK;  // tile rows one pass of the block's loads covers
  constexpr int A_LOADS = BM / kRowsPerPass, B_LOADS = BN / kRowsPerPass;
  constexpr int A_PITCH = BM + 4, B_PITCH = BN + 4;
  constexpr int KT = ceil_div(G::K, BK);
  constexpr int KT_PER_SPLIT = ceil_div(KT, SPLIT);
  static_assert(NT % BK == 0 && BM % kRowsPerPass == 0 && BN % kRowsPerPass == 0,
                "tile must split evenly over the threads");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tile must be made of float4 reads");
  static_assert((CHECK_MASK & (CHECK_MASK + 1)) == 0, "check interval must be a power of two");

  float* as = reinterpret_cast<float*>(dynamic_smem());  // [2][BK][A_PITCH]
  float* bs = as + 2 * BK * A_PITCH;                     // [2][BK][B_PITCH]
  const int tid = threadIdx.x;
  const int tn = tid % kThreadsN, tm = tid / kThreadsN;
  const int m0 = b.x * BM, n0 = b.y * BN;
  const int kt_begin = b.z * KT_PER_SPLIT;
  const int kt_count = min(KT, kt_begin + KT_PER_SPLIT) - kt_begin;

  // Each thread always loads the same k column of the same tile rows.
  const int load_k = tid % BK, load_row = tid / BK;
  PixelOrigin origin[A_LOADS];
  bool row_in_range[A_LOADS];
#pragma unroll
  for (int i = 0; i < A_LOADS; ++i) {
    const int m = m0 + load_row + i * kRowsPerPass;
    row_in_range[i] = m < G::M;
    origin[i] = pixel_origin<G>(row_in_range[i] ? m : 0);
  }

  float a_next[A_LOADS], b_next[B_LOADS];
  auto load_tile = [&](int kt) {
    const int k = kt * BK + load_k;
#pragma unroll
    for (int i = 0; i < A_LOADS; ++i) {
      float v = 0.0f;
      int channel;
      const T* src = row_in_range[i] && k < G::K ? im2col_address<G>(x, origin[i], k, channel)
                                                 : nullptr;
      if (src != nullptr) {
        v = to_float(*src);
        if constexpr (HAS_PRE) v = fmaxf(fmaf(v, pre_scale[channel], pre_shift[channel]), 0.0f);
      }
      a_next[i] = v;
    }
#pragma unroll
    for (int i = 0; i < B_LOADS; ++i) {
      const int n = n0 + load_row + i * kRowsPerPass;
      b_next[i] = n < G::COUT && k < G::K ? to_float(w[static_cast<size_t>(n) * G::K + k]) : 0.0f;
    }
  };
  auto store_tile = [&](int buffer) {
    float* a = as + buffer * BK * A_PITCH + load_k * A_PITCH;
    float* bb = bs + buffer * BK * B_PITCH + load_k * B_PITCH;
#pragma unroll
    for (int i = 0; i < A_LOADS; ++i) a[load_row + i * kRowsPerPass] = a_next[i];
#pragma unroll
    for (int i = 0; i < B_LOADS; ++i) bb[load_row + i * kRowsPerPass] = b_next[i];
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  FlagProbe probe;
  probe.sample(b);
  if (kt_count > 0) {
    load_tile(kt_begin);
    store_tile(0);
  }
  for (int t = 0; t < kt_count; ++t) {
    const bool check = (t & CHECK_MASK) == 0;
    const int check_index = t >> log2_exact(CHECK_MASK + 1);
    if (check) probe.publish(b, check_index);
    __syncthreads();
    if (check) {
      if (b.stopped(check_index)) return false;
      probe.sample(b);
    }
    const bool more = t + 1 < kt_count;
    if (more) load_tile(kt_begin + t + 1);  // global loads in flight during the math below
    const float* a = as + (t & 1) * BK * A_PITCH + tm * TM;
    const float* bb = bs + (t & 1) * BK * B_PITCH + tn * TN;
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 q = *reinterpret_cast<const float4*>(a + kk * A_PITCH + i);
        av[i] = q.x, av[i + 1] = q.y, av[i + 2] = q.z, av[i + 3] = q.w;
      }
#pragma unroll
      for (int j = 0; j < TN; j += 4) {
        const float4 q = *reinterpret_cast<const float4*>(bb + kk * B_PITCH + j);
        bv[j] = q.x, bv[j + 1] = q.y, bv[j + 2] = q.z, bv[j + 3] = q.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    // The other buffer was last read in trip t - 1, which every thread has finished.
    if (more) store_tile((t + 1) & 1);
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + tm * TM + i;
    if (m >= G::M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tn * TN + j;
      if (n >= G::COUT) continue;
      float v[1] = {acc[i][j]};
      gemm_store<G, T, 1, SPLIT, ACT, HAS_BIAS, HAS_RES>(v, m, n, b.z, bias, res, y, ws);
    }
  }
  return true;
}

}  // namespace reef
