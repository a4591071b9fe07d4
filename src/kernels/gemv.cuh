// gemv.cuh: a linear layer with few rows (batch-1 classifiers: VGG's 25088 x 4096 layer, the
// BERT pooler), where the weights are read once and the layer is bound by memory bandwidth.
//
// Each warp owns ROWS output features and streams their weight rows with V-element (16-byte)
// loads marked evict-first, lanes side by side so a warp reads contiguous 512-byte runs; the few
// input rows (M <= 8) are read through L1, where every warp of the block hits them. Lanes keep
// ROWS x M fp32 partial sums, reduced across the warp at the end. No shared memory.
// The K loop runs in chunks of KC elements; a check point (one barrier) sits at each chunk
// boundary, so a block's longest stretch without a check is one chunk of its rows.
// Grid: x = groups of WARPS * ROWS features, y = K splits.
#pragma once

#include "check_point.cuh"
#include "gemm_common.cuh"

namespace reef {

// Loads V elements that nothing will read again soon (weights streamed once).
template <typename T, int V>
__device__ __forceinline__ void load_vec_streaming(const T* p, float (&out)[V]) {
#if defined(__HIPCC__)
  load_vec<T, V>(p, out);
#else
  if constexpr (V * sizeof(T) == 16) {
    Pack<T, V> pk;
    pk.raw = __ldcs(reinterpret_cast<const uint4*>(p));
#pragma unroll
    for (int i = 0; i < V; ++i) out[i] = to_float(pk.e[i]);
  } else {
    load_vec<T, V>(p, out);
  }
#endif
}

template <typename T, class G, int V, int WARPS, int ROWS, int KC, int SPLIT, int ACT,
          bool HAS_BIAS, bool HAS_RES>
__device__ __forceinline__ bool gemv_body(const Block& b, const T* __restrict__ x,
                                          const T* __restrict__ w,
                                          const float* __restrict__ bias,
                                          const T* __restrict__ res, T* __restrict__ y,
                                          float* __restrict__ ws) {
  constexpr int M = G::M, K = G::K;
  constexpr int kSteps = KC / (V * kWarpSize);  // vector loads per lane per row and chunk
  constexpr int kChunks = ceil_div(K, KC);
  constexpr int kChunksPerSplit = ceil_div(kChunks, SPLIT);
  static_assert(KC % (V * kWarpSize) == 0, "chunk must be whole warp-wide vector steps");
  static_assert(K % V == 0 && G::IN_STRIDE % V == 0 && G::IN_OFF % V == 0,
                "input rows and view must be multiples of the vector width");
  static_assert(G::KH == 1 && G::KW == 1, "GEMV takes linear layers only");

  const int tid = threadIdx.x, lane = tid % kWarpSize, warp = tid / kWarpSize;
  const int n_first = (b.x * WARPS + warp) * ROWS;
  const int chunk_begin = b.y * kChunksPerSplit;
  const int chunk_count = min(kChunks, chunk_begin + kChunksPerSplit) - chunk_begin;

  float acc[ROWS][M];
#pragma unroll
  for (int r = 0; r < ROWS; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;

  FlagProbe probe;
  probe.sample(b);
  for (int t = 0; t < chunk_count; ++t) {
    probe.publish(b, t);
    __syncthreads();
    if (b.stopped(t)) return false;
    probe.sample(b);
    const int k_chunk = (chunk_begin + t) * KC;
#pragma unroll 4
    for (int step = 0; step < kSteps; ++step) {
      const int k = k_chunk + (step * kWarpSize + lane) * V;
      if (k >= K) break;
      float wv[ROWS][V];
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        const int n = n_first + r;
        if (n < G::COUT) {
          load_vec_streaming<T, V>(w + static_cast<size_t>(n) * K + k, wv[r]);
        } else {
#pragma unroll
          for (int j = 0; j < V; ++j) wv[r][j] = 0.0f;
        }
      }
#pragma unroll
      for (int m = 0; m < M; ++m) {
        float xv[V];
        load_vec<T, V>(x + m * G::IN_STRIDE + G::IN_OFF + k, xv);
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
#pragma unroll
          for (int j = 0; j < V; ++j) acc[r][m] = fmaf(wv[r][j], xv[j], acc[r][m]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    const int n = n_first + r;
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float v[1] = {warp_sum(acc[r][m])};
      if (lane == 0 && n < G::COUT) {
        gemm_store<G, T, 1, SPLIT, ACT, HAS_BIAS, HAS_RES>(v, m, n, b.y, bias, res, y, ws);
      }
    }
  }
  return true;
}

}  // namespace reef
