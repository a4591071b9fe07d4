// conv_mma.cuh: fp16 convolution (and linear) as an implicit GEMM on tensor cores. NVIDIA only
// (inline PTX: cp.async, ldmatrix, mma.sync m16n8k16); built for sm_90.
//
// Block tile BM x BN (pixels x output channels) over K-tiles of BK; warps tile it WM x WN, each
// warp a grid of m16n8k16 fragments with fp32 accumulators. A (im2col of the input, gathered on
// the fly) and B (the OHWI weights, K contiguous) are copied global -> shared with 16-byte
// cp.async into a STAGES-deep ring, zero-filled where the input is padding or past K, and read
// with ldmatrix from an XOR-swizzled layout (no bank conflicts). One __syncthreads per K-tile;
// the BE check point follows it every CHECK_EVERY K-tiles. Grid: x = M tiles, y = N tiles,
// z = K splits.
//
// Requirements the catalog enforces: CIN % 8 == 0 and the input view's stride and offset % 8
// (a 16-byte chunk never straddles a filter tap and stays aligned), COUT and the output and
// residual views' stride and offset even (paired stores).
#pragma once

#if !defined(__HIPCC__)

#include "check_point.cuh"
#include "gemm_common.cuh"
#include "mma_ptx.cuh"

namespace reef {
namespace mma {

// Physical 16-byte chunk of logical chunk `chunk` in tile row `row` (rows of CPR chunks). The XOR
// spreads the 8 rows an ldmatrix phase reads over all 8 chunk slots of a 128-byte line.
template <int CPR>
__device__ __forceinline__ int swizzle(int row, int chunk) {
  static_assert(CPR == 4 || CPR == 8, "K-tile must be 32 or 64 halves");
  constexpr int kRowShift = CPR == 4 ? 1 : 0;
  return chunk ^ ((row >> kRowShift) & (CPR - 1));
}

}  // namespace mma

template <class G, int BM, int BN, int BK, int WM, int WN, int STAGES, int SPLIT, int ACT,
          bool HAS_BIAS, bool HAS_RES, bool HAS_PRE, int CATALOG_CHECK_EVERY>
__device__ __forceinline__ bool conv_mma_body(
    const Block& b, const __half* __restrict__ x, const __half* __restrict__ w,
    const float* __restrict__ bias, const __half* __restrict__ res,
    const float* __restrict__ pre_scale, const float* __restrict__ pre_shift,
    __half* __restrict__ y, float* __restrict__ ws) {
  constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  constexpr int NT = 32 * kWarpsM * kWarpsN;
  constexpr int MI = WM / 16, NI = WN / 8, CPR = BK / 8;
  constexpr int kRowsPerPass = NT / CPR;  // tile rows one pass of the block's copies covers
  constexpr int A_CHUNKS = BM / kRowsPerPass, B_CHUNKS = BN / kRowsPerPass;
  constexpr int KT = ceil_div(G::K, BK);
  constexpr int KT_PER_SPLIT = ceil_div(KT, SPLIT);
  constexpr int A_HALVES = BM * BK, STAGE_HALVES = (BM + BN) * BK;
#if defined(REEF_MMA_CHECK_SCALE)
  constexpr int CHECK_EVERY = CATALOG_CHECK_EVERY * REEF_MMA_CHECK_SCALE;
#else
  constexpr int CHECK_EVERY = CATALOG_CHECK_EVERY;
#endif
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0, "bad warp tile");
  static_assert(BM % kRowsPerPass == 0 && BN % kRowsPerPass == 0, "tile rows must split evenly");
  static_assert(G::CIN % 8 == 0 && G::IN_STRIDE % 8 == 0 && G::IN_OFF % 8 == 0,
                "input channels and view must be multiples of 8 halves");
  static_assert(G::COUT % 2 == 0 && G::OUT_STRIDE % 2 == 0 && G::OUT_OFF % 2 == 0,
                "output channels and view must be even");
  static_assert(STAGES >= 2, "the pipeline needs two stages at least");
  static_assert(CHECK_EVERY >= 2 && 2 * CHECK_EVERY > STAGES - 1,
                "a flag copy must not land in the slot its group's check is about to read");

  __half* smem = reinterpret_cast<__half*>(dynamic_smem());
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp % kWarpsM, wn = warp / kWarpsM;
  const int m0 = b.x * BM, n0 = b.y * BN;
  const int kt_begin = b.z * KT_PER_SPLIT;
  const int kt_count = min(KT, kt_begin + KT_PER_SPLIT) - kt_begin;

  // Each thread always copies the same chunk column of the same tile rows: their pixel origins
  // are computed once.
  const int copy_chunk = tid % CPR, copy_row = tid / CPR;
  PixelOrigin origin[A_CHUNKS];
  bool row_in_range[A_CHUNKS];
#pragma unroll
  for (int i = 0; i < A_CHUNKS; ++i) {
    const int m = m0 + copy_row + i * kRowsPerPass;
    row_in_range[i] = m < G::M;
    origin[i] = pixel_origin<G>(row_in_range[i] ? m : 0);
  }

  // `k` is the K index of this thread's chunk in the tile: the tile's first K plus copy_chunk * 8.
  auto load_tile = [&](int stage, int k) {
    __half* as = smem + stage * STAGE_HALVES;
    __half* bs = as + A_HALVES;
#pragma unroll
    for (int i = 0; i < A_CHUNKS; ++i) {
      const int row = copy_row + i * kRowsPerPass;
      int channel;
      const __half* src = row_in_range[i] && k < G::K
                              ? im2col_address<G>(x, origin[i], k, channel)
                              : nullptr;
      mma::cp_async16(mma::smem_address(as + row * BK + mma::swizzle<CPR>(row, copy_chunk) * 8),
                      src != nullptr ? src : x, src != nullptr);
    }
#pragma unroll
    for (int i = 0; i < B_CHUNKS; ++i) {
      const int row = copy_row + i * kRowsPerPass;
      const int n = n0 + row;
      const bool valid = n < G::COUT && k < G::K;
      mma::cp_async16(mma::smem_address(bs + row * BK + mma::swizzle<CPR>(row, copy_chunk) * 8),
                      valid ? w + static_cast<size_t>(n) * G::K + k : w, valid);
    }
  };

  // DenseNet's pre-activation, applied by each thread to the chunks it copied itself, once its
  // copies have landed: y = max(x * scale[c] + shift[c], 0) on in-bounds inputs only.
  auto pre_activate = [&](int stage, int k) {
    __half* as = smem + stage * STAGE_HALVES;
#pragma unroll
    for (int i = 0; i < A_CHUNKS; ++i) {
      const int row = copy_row + i * kRowsPerPass;
      int channel;
      if (!row_in_range[i] || k >= G::K) continue;
      if (im2col_address<G>(x, origin[i], k, channel) == nullptr) continue;
      __half* p = as + row * BK + mma::swizzle<CPR>(row, copy_chunk) * 8;
      float v[8], scale_lo[4], scale_hi[4], shift_lo[4], shift_hi[4];
      load_vec<__half, 8>(p, v);
      load_params<4>(pre_scale + channel, scale_lo);
      load_params<4>(pre_scale + channel + 4, scale_hi);
      load_params<4>(pre_shift + channel, shift_lo);
      load_params<4>(pre_shift + channel + 4, shift_hi);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        v[j] = fmaxf(fmaf(v[j], scale_lo[j], shift_lo[j]), 0.0f);
        v[j + 4] = fmaxf(fmaf(v[j + 4], scale_hi[j], shift_hi[j]), 0.0f);
      }
      store_vec<__half, 8>(p, v);
    }
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < NI; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.0f;

  auto compute_tile = [&](int stage) {
    const __half* as = smem + stage * STAGE_HALVES;
    const __half* bs = as + A_HALVES;
#pragma unroll
    for (int ks = 0; ks < BK / 16; ++ks) {
      unsigned af[MI][4], bf[NI / 2][4];
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
        const int row = wm * WM + mi * 16 + (lane & 15);
        const int chunk = ks * 2 + (lane >> 4);
        mma::ldmatrix_x4(af[mi],
                         mma::smem_address(as + row * BK + mma::swizzle<CPR>(row, chunk) * 8));
      }
#pragma unroll
      for (int nj = 0; nj < NI / 2; ++nj) {
        const int row = wn * WN + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
        const int chunk = ks * 2 + ((lane >> 3) & 1);
        mma::ldmatrix_x4(bf[nj],
                         mma::smem_address(bs + row * BK + mma::swizzle<CPR>(row, chunk) * 8));
      }
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < NI; ++ni)
          mma::mma_16816(acc[mi][ni], af[mi], bf[ni / 2][(ni & 1) * 2],
                         bf[ni / 2][(ni & 1) * 2 + 1]);
    }
  };

  // The K indices of this thread's chunks in the tile to read and the tile to load next, kept as
  // induction variables: derived from b.z inside the loop, they made the BE build re-read
  // blockIdx.z and recompute the offset every trip (the flag's exit from the loop kept the
  // compiler from strength-reducing them).
  int k_read = kt_begin * BK + copy_chunk * 8;
  int k_load = k_read;
  // The flag's slots follow the stages; the first checks' flag (trips 0 and CHECK_EVERY) comes
  // with the first tile.
  const PipelineCheck check(smem + STAGES * STAGE_HALVES);
  check.sample(b, 0);
  check.sample(b, 1);
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < kt_count) load_tile(s, k_load);
    mma::cp_async_commit();
    k_load += BK;
  }
  int read_stage = 0, write_stage = STAGES - 1;
  // Trips in groups of CHECK_EVERY, unrolled, so that each copy knows its place in the group: the
  // first trip is the check point (PipelineCheck), the trip STAGES - 1 before the next group's
  // check copies the flag for it, and the others have no check code. Every trip's barrier is
  // plain; the check trip reads its slot after the barrier and branches on it after its MMAs, so
  // the slot's load, the vote and the branch wait behind the trip's work instead of holding up the
  // barrier. CHECK_EVERY comes from the catalog (mmaCheckEvery): more trips per check for the
  // small tiles, whose trips are shortest. A raised flag stops a block within CHECK_EVERY + STAGES
  // trips.
  constexpr int kSampleTrip = (CHECK_EVERY - (STAGES - 1) % CHECK_EVERY) % CHECK_EVERY;
  constexpr int kSampleAhead = (kSampleTrip + STAGES - 1) / CHECK_EVERY;  // groups ahead
  // Every thread reads a group's slot between its check trip's barrier and the next barrier; the
  // copy that refills that slot is issued a group later, or later in the same group, never in the
  // check trip itself.
  static_assert(kSampleAhead == 1 || kSampleTrip > 0, "a flag copy would race the slot's readers");
  for (int t0 = 0, group = 0; t0 < kt_count; t0 += CHECK_EVERY, ++group) {
#pragma unroll
    for (int i = 0; i < CHECK_EVERY; ++i) {
      const int t = t0 + i;
      if (i > 0 && t >= kt_count) break;
      mma::cp_async_wait<STAGES - 2>();
      if constexpr (HAS_PRE) pre_activate(read_stage, k_read);
      __syncthreads();
      const bool raised = i == 0 && check.raised(group & 1);
      // The stage refilled here was last read in trip t - 1, which every thread has finished.
      if (t + STAGES - 1 < kt_count) load_tile(write_stage, k_load);
      if (i == kSampleTrip) check.sample(b, (group + kSampleAhead) & 1);
      mma::cp_async_commit();
      compute_tile(read_stage);
      // A stopping block leaves here: its copies and MMAs wrote shared memory and registers only.
      if (i == 0 && check.stop(raised)) {
        mma::cp_async_wait<0>();
        return false;
      }
      read_stage = read_stage + 1 == STAGES ? 0 : read_stage + 1;
      write_stage = write_stage + 1 == STAGES ? 0 : write_stage + 1;
      k_read += BK;
      k_load += BK;
    }
  }
  mma::cp_async_wait<0>();

#pragma unroll
  for (int mi = 0; mi < MI; ++mi) {
    const int row = m0 + wm * WM + mi * 16 + (lane >> 2);
#pragma unroll
    for (int ni = 0; ni < NI; ++ni) {
      const int n = n0 + wn * WN + ni * 8 + (lane & 3) * 2;
      if (n >= G::COUT) continue;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int m = row + half * 8;
        if (m >= G::M) continue;
        float v[2] = {acc[mi][ni][half * 2], acc[mi][ni][half * 2 + 1]};
        gemm_store<G, __half, 2, SPLIT, ACT, HAS_BIAS, HAS_RES>(v, m, n, b.z, bias, res, y, ws);
      }
    }
  }
  return true;
}

}  // namespace reef

#endif  // !defined(__HIPCC__)
