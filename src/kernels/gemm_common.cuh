// gemm_common.cuh: the geometry of a convolution seen as an implicit GEMM, and the epilogue that
// every GEMM-shaped body (tensor-core, SIMT, GEMV, split-K reduce) shares.
//
// GEMM view (ops.ts): M = n * oh * ow output pixels, N = cout, K = kh * kw * cin with k ordered
// (r, s, c) like the OHWI weights, so W is an N x K matrix with K contiguous. A linear layer is
// the 1x1 case with h = m rows, w = 1. Views: pixel p of the input lives at
// x[p * IN_STRIDE + IN_OFF + c]; output and residual rows likewise with their own stride/offset.
#pragma once

#include "numeric.cuh"

namespace reef {

template <int N_, int H_, int W_, int CIN_, int IN_STRIDE_, int IN_OFF_, int COUT_, int OUT_STRIDE_,
          int OUT_OFF_, int RES_STRIDE_, int RES_OFF_, int KH_, int KW_, int SH_, int SW_, int PH_,
          int PW_, int DH_, int DW_, int OH_, int OW_>
struct ConvGeom {
  static constexpr int N = N_, H = H_, W = W_, CIN = CIN_, IN_STRIDE = IN_STRIDE_,
                       IN_OFF = IN_OFF_;
  static constexpr int COUT = COUT_, OUT_STRIDE = OUT_STRIDE_, OUT_OFF = OUT_OFF_;
  static constexpr int RES_STRIDE = RES_STRIDE_, RES_OFF = RES_OFF_;
  static constexpr int KH = KH_, KW = KW_, SH = SH_, SW = SW_, PH = PH_, PW = PW_, DH = DH_,
                       DW = DW_;
  static constexpr int OH = OH_, OW = OW_;
  static constexpr int M = N * OH * OW;
  static constexpr int K = KH * KW * CIN;
};

// Where an output row's input window starts: image base pixel and the top-left input position.
struct PixelOrigin {
  int image;  // n * H * W: the first pixel of the image
  int ih0, iw0;
};

template <class G>
__device__ __forceinline__ PixelOrigin pixel_origin(int m) {
  const int ow = m % G::OW;
  const int t = m / G::OW;
  const int oh = t % G::OH;
  const int n = t / G::OH;
  return PixelOrigin{n * G::H * G::W, oh * G::SH - G::PH, ow * G::SW - G::PW};
}

// The input element behind GEMM entry (m, k), or null when it is zero padding.
// k = (r * KW + s) * CIN + c, k >= 0: the divisions are unsigned, which saves a main loop the
// sign corrections of signed division by a constant.
template <class G, typename T>
__device__ __forceinline__ const T* im2col_address(const T* x, const PixelOrigin& o, int k,
                                                   int& channel) {
  const unsigned uk = static_cast<unsigned>(k);
  const int c = static_cast<int>(uk % G::CIN);
  const unsigned rs = uk / G::CIN;
  const int s = static_cast<int>(rs % G::KW);
  const int r = static_cast<int>(rs / G::KW);
  const int ih = o.ih0 + r * G::DH;
  const int iw = o.iw0 + s * G::DW;
  channel = c;
  if (ih < 0 || ih >= G::H || iw < 0 || iw >= G::W) return nullptr;
  return x + (o.image + ih * G::W + iw) * G::IN_STRIDE + G::IN_OFF + c;
}

// Finishes V consecutive outputs (m, n..n+V-1) of a GEMM-shaped body in place: bias, residual and
// activation.
template <class G, typename T, int V, int ACT, bool HAS_BIAS, bool HAS_RES>
__device__ __forceinline__ void gemm_epilogue(float (&v)[V], int m, int n,
                                              const float* __restrict__ bias,
                                              const T* __restrict__ res) {
  if constexpr (HAS_BIAS) {
    float bv[V];
    load_params<V>(bias + n, bv);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] += bv[i];
  }
  if constexpr (HAS_RES) {
    float rv[V];
    load_vec<T, V>(res + m * G::RES_STRIDE + G::RES_OFF + n, rv);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] += rv[i];
  }
#pragma unroll
  for (int i = 0; i < V; ++i) v[i] = activate<ACT>(v[i]);
}

// Stores V finished outputs (m, n..n+V-1) to the output view.
template <class G, typename T, int V>
__device__ __forceinline__ void gemm_store_output(const float (&v)[V], int m, int n,
                                                  T* __restrict__ y) {
  store_vec<T, V>(y + m * G::OUT_STRIDE + G::OUT_OFF + n, v);
}

// Writes V consecutive outputs (m, n..n+V-1) of a GEMM-shaped body: with SPLIT > 1 the raw fp32
// partial sums of split `split` go to the workspace [SPLIT][M][COUT] (the reduce kernel finishes
// them); otherwise they are finished (gemm_epilogue) and stored in T.
template <class G, typename T, int V, int SPLIT, int ACT, bool HAS_BIAS, bool HAS_RES>
__device__ __forceinline__ void gemm_store(float (&v)[V], int m, int n, int split,
                                           const float* __restrict__ bias,
                                           const T* __restrict__ res, T* __restrict__ y,
                                           float* __restrict__ ws) {
  if constexpr (SPLIT > 1) {
    store_vec<float, V>(ws + (static_cast<size_t>(split) * G::M + m) * G::COUT + n, v);
  } else {
    (void)split;
    (void)ws;
    gemm_epilogue<G, T, V, ACT, HAS_BIAS, HAS_RES>(v, m, n, bias, res);
    gemm_store_output<G, T, V>(v, m, n, y);
  }
}

}  // namespace reef
