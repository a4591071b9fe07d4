// pool.cuh: max and average pooling, and global average pooling, NHWC, SIMT, portable.
// Memory-bound and short per block: their one check point sits before their writes, its flag
// load issued at block entry, ahead of their reads (EntryCheck).
#pragma once

#include "check_point.cuh"
#include "gemm_common.cuh"

namespace reef {

// Applies the optional pre-activation max(v * scale + shift, 0) to one loaded vector.
template <int CV, bool HAS_PRE>
__device__ __forceinline__ void pre_activate(float (&v)[CV], const float (&scale)[CV],
                                             const float (&shift)[CV]) {
  if constexpr (HAS_PRE) {
#pragma unroll
    for (int j = 0; j < CV; ++j) v[j] = fmaxf(fmaf(v[j], scale[j], shift[j]), 0.0f);
  }
}

// The pooled CV channels from channel c of output pixel p, into acc.
template <typename T, class G, bool IS_MAX, bool COUNT_PAD, bool HAS_PRE, int CV>
__device__ __forceinline__ void pool_window(const T* __restrict__ x,
                                            const float* __restrict__ pre_scale,
                                            const float* __restrict__ pre_shift, int p, int c,
                                            float (&acc)[CV]) {
  const PixelOrigin o = pixel_origin<G>(p);
  float scale[CV], shift[CV];  // read only with HAS_PRE
  if constexpr (HAS_PRE) {
    load_params<CV>(pre_scale + c, scale);
    load_params<CV>(pre_shift + c, shift);
  }
#pragma unroll
  for (int j = 0; j < CV; ++j) acc[j] = IS_MAX ? -INFINITY : 0.0f;
  const int h_begin = max(o.ih0, 0), h_end = min(o.ih0 + G::KH, G::H);
  const int w_begin = max(o.iw0, 0), w_end = min(o.iw0 + G::KW, G::W);
  for (int ih = h_begin; ih < h_end; ++ih) {
    for (int iw = w_begin; iw < w_end; ++iw) {
      float v[CV];
      load_vec<T, CV>(x + (o.image + ih * G::W + iw) * G::IN_STRIDE + G::IN_OFF + c, v);
      pre_activate<CV, HAS_PRE>(v, scale, shift);
#pragma unroll
      for (int j = 0; j < CV; ++j) acc[j] = IS_MAX ? fmaxf(acc[j], v[j]) : acc[j] + v[j];
    }
  }
  if constexpr (!IS_MAX) {
    int count;
    if constexpr (COUNT_PAD) {
      count = (min(o.ih0 + G::KH, G::H + G::PH) - o.ih0) *
              (min(o.iw0 + G::KW, G::W + G::PW) - o.iw0);
    } else {
      count = (h_end - h_begin) * (w_end - w_begin);
    }
    const float inv = 1.0f / static_cast<float>(count);
#pragma unroll
    for (int j = 0; j < CV; ++j) acc[j] *= inv;
  }
}

// Window pooling. G is a ConvGeom with CIN = COUT = C (dilation 1; the residual fields unused).
// Thread per (output pixel, CV channels); grid: x = blocks of NT. Average pooling divides like
// PyTorch: by the window clipped to the padded input (count_include_pad) or to the input.
template <typename T, class G, bool IS_MAX, bool COUNT_PAD, bool HAS_PRE, int CV, int NT>
__device__ __forceinline__ bool pool2d_body(const Block& b, const T* __restrict__ x,
                                            const float* __restrict__ pre_scale,
                                            const float* __restrict__ pre_shift,
                                            T* __restrict__ y) {
  constexpr int kGroups = G::COUT / CV;
  static_assert(G::COUT % CV == 0 && G::IN_STRIDE % CV == 0 && G::IN_OFF % CV == 0 &&
                    G::OUT_STRIDE % CV == 0 && G::OUT_OFF % CV == 0,
                "channel vectors must stay aligned");
  const int i = b.x * NT + threadIdx.x;
  const bool active = i < G::M * kGroups;
  EntryCheck check;
  check.sample(b);
  const int p = i / kGroups, c = (i % kGroups) * CV;
  float acc[CV];
  if (active) pool_window<T, G, IS_MAX, COUNT_PAD, HAS_PRE, CV>(x, pre_scale, pre_shift, p, c, acc);
  if (check.stop()) return false;
  if (active) store_vec<T, CV>(y + p * G::OUT_STRIDE + G::OUT_OFF + c, acc);
  return true;
}

// Mean over the HW pixels of each image, per channel: [N, HW, C] -> [N, C]. A block owns CG
// channel vectors of one image; R thread rows share its pixels and their sums meet in shared
// memory ([R][CG * CV] floats). NT = CG * R; grid: x = channel-vector groups, y = images.
template <typename T, int HW, int C, int IN_STRIDE, int IN_OFF, int OUT_STRIDE, int OUT_OFF,
          bool HAS_PRE, int CV, int CG, int R>
__device__ __forceinline__ bool global_avgpool_body(const Block& b, const T* __restrict__ x,
                                                    const float* __restrict__ pre_scale,
                                                    const float* __restrict__ pre_shift,
                                                    T* __restrict__ y) {
  static_assert(C % CV == 0 && IN_STRIDE % CV == 0 && IN_OFF % CV == 0 && OUT_STRIDE % CV == 0 &&
                    OUT_OFF % CV == 0,
                "channel vectors must stay aligned");
  float* partial = reinterpret_cast<float*>(dynamic_smem());
  const int group = threadIdx.x % CG, row = threadIdx.x / CG;
  const int c = (b.x * CG + group) * CV;
  const bool active = c < C;
  EntryCheck check;
  check.sample(b);
  float scale[CV], shift[CV];  // read only with HAS_PRE
  if (HAS_PRE && active) {
    load_params<CV>(pre_scale + c, scale);
    load_params<CV>(pre_shift + c, shift);
  }
  float acc[CV];
#pragma unroll
  for (int j = 0; j < CV; ++j) acc[j] = 0.0f;
  if (active) {
    const T* image = x + static_cast<size_t>(b.y) * HW * IN_STRIDE + IN_OFF + c;
    for (int p = row; p < HW; p += R) {
      float v[CV];
      load_vec<T, CV>(image + p * IN_STRIDE, v);
      pre_activate<CV, HAS_PRE>(v, scale, shift);
#pragma unroll
      for (int j = 0; j < CV; ++j) acc[j] += v[j];
    }
  }
  if constexpr (R > 1) {
#pragma unroll
    for (int j = 0; j < CV; ++j) partial[row * CG * CV + group * CV + j] = acc[j];
    if (check.sync()) return false;
    if (row != 0) return true;
    for (int r = 1; r < R; ++r) {
#pragma unroll
      for (int j = 0; j < CV; ++j) acc[j] += partial[r * CG * CV + group * CV + j];
    }
  } else {
    if (check.stop()) return false;
  }
  if (!active) return true;
#pragma unroll
  for (int j = 0; j < CV; ++j) acc[j] *= 1.0f / static_cast<float>(HW);
  store_vec<T, CV>(y + static_cast<size_t>(b.y) * OUT_STRIDE + OUT_OFF + c, acc);
  return true;
}

}  // namespace reef
