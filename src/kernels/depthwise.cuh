// depthwise.cuh: depthwise convolution (groups = cin = cout, MobileNet), SIMT, portable.
//
// Memory-bound: each output needs KH*KW inputs of its own channel and no reduction over channels,
// so there is no GEMM to feed. A block owns CTILE channels and PTILE output pixels; it stages its
// channels' filter taps in shared memory as [tap][channel] floats, then each thread produces CV
// channels (one 2- to 16-byte vector) of one pixel per pass, PR pixels per pass. Every load and
// store is a CV-wide vector along the channels, so a warp's accesses are contiguous.
// Grid: x = pixel tiles, y = channel tiles. Blocks are short (a few passes), so their one check
// point is the barrier after the taps are staged, its flag load issued at block entry.
#pragma once

#include "check_point.cuh"
#include "gemm_common.cuh"

namespace reef {

template <typename T, class G, int CV, int CTILE, int PTILE, int NT, int ACT, bool HAS_BIAS,
          bool HAS_RES, bool HAS_PRE>
__device__ __forceinline__ bool depthwise_body(const Block& b, const T* __restrict__ x,
                                               const T* __restrict__ w,
                                               const float* __restrict__ bias,
                                               const T* __restrict__ res,
                                               const float* __restrict__ pre_scale,
                                               const float* __restrict__ pre_shift,
                                               T* __restrict__ y) {
  constexpr int TAPS = G::KH * G::KW;
  constexpr int C = G::COUT;
  constexpr int kGroups = CTILE / CV;     // threads per pixel
  constexpr int kPixelRows = NT / kGroups;  // pixels per pass
  static_assert(G::CIN == G::COUT, "depthwise convolution keeps the channel count");
  static_assert(CTILE % CV == 0 && NT % kGroups == 0, "channel tile must split over the threads");
  static_assert(C % CV == 0 && G::IN_STRIDE % CV == 0 && G::IN_OFF % CV == 0 &&
                    G::OUT_STRIDE % CV == 0 && G::OUT_OFF % CV == 0,
                "channel vectors must stay aligned");

  float* taps = reinterpret_cast<float*>(dynamic_smem());  // [TAPS][CTILE]
  const int tid = threadIdx.x;
  const int c0 = b.y * CTILE, p0 = b.x * PTILE;
  EntryCheck check;
  check.sample(b);
  for (int i = tid; i < TAPS * CTILE; i += NT) {
    const int local = i / TAPS, tap = i % TAPS;  // i follows the OHWI layout: coalesced reads
    const int c = c0 + local;
    taps[tap * CTILE + local] = c < C ? to_float(w[c * TAPS + tap]) : 0.0f;
  }
  if (check.sync()) return false;

  const int group = tid % kGroups;
  const int c = c0 + group * CV;
  if (c >= C) return true;
  float bias_v[CV], scale[CV], shift[CV];  // scale and shift are read only with HAS_PRE
#pragma unroll
  for (int j = 0; j < CV; ++j) bias_v[j] = 0.0f;
  if constexpr (HAS_BIAS) load_params<CV>(bias + c, bias_v);
  if constexpr (HAS_PRE) {
    load_params<CV>(pre_scale + c, scale);
    load_params<CV>(pre_shift + c, shift);
  }
  const int p_end = min(p0 + PTILE, G::M);
  for (int p = p0 + tid / kGroups; p < p_end; p += kPixelRows) {
    const PixelOrigin o = pixel_origin<G>(p);
    float acc[CV];
#pragma unroll
    for (int j = 0; j < CV; ++j) acc[j] = bias_v[j];
#pragma unroll
    for (int r = 0; r < G::KH; ++r) {
      const int ih = o.ih0 + r * G::DH;
      if (ih < 0 || ih >= G::H) continue;
#pragma unroll
      for (int s = 0; s < G::KW; ++s) {
        const int iw = o.iw0 + s * G::DW;
        if (iw < 0 || iw >= G::W) continue;
        float v[CV];
        load_vec<T, CV>(x + (o.image + ih * G::W + iw) * G::IN_STRIDE + G::IN_OFF + c, v);
        const float* tap = taps + (r * G::KW + s) * CTILE + group * CV;
        if constexpr (HAS_PRE) {
#pragma unroll
          for (int j = 0; j < CV; ++j) v[j] = fmaxf(fmaf(v[j], scale[j], shift[j]), 0.0f);
        }
#pragma unroll
        for (int j = 0; j < CV; ++j) acc[j] = fmaf(v[j], tap[j], acc[j]);
      }
    }
    // The bias is in acc already.
    gemm_epilogue<G, T, CV, ACT, false, HAS_RES>(acc, p, c, nullptr, res);
    gemm_store_output<G, T, CV>(acc, p, c, y);
  }
  return true;
}

}  // namespace reef
