// layernorm.cuh: layer norm over the last dimension (with BERT's post-norm residual) and BERT's
// embedding block (word + position + token type 0, then layer norm). SIMT, portable.
//
// One block per row: each thread holds PER vectors of V elements of the row in registers, the
// mean and then the variance of (x - mean) are block sums (two passes over registers: no
// cancellation), and the row is written once. Rows are a few KB: one check point before the
// writes suffices, its flag load issued at block entry (EntryCheck).
// eps travels as the bits of a float32 template argument (EPS_BITS).
#pragma once

#include "check_point.cuh"
#include "numeric.cuh"

namespace reef {

// Normalises a row held as v[PER][V] (elements (i * NT + tid) * V + j, those < DIM valid) and
// stores gamma * (v - mean) / sqrt(var + eps) + beta to `out`, unless `check` stops the block
// first (false).
template <typename T, int DIM, int V, int PER, int NT, int EPS_BITS>
__device__ __forceinline__ bool normalize_row(float (&v)[PER][V], const float* __restrict__ gamma,
                                              const float* __restrict__ beta, T* __restrict__ out,
                                              float* scratch, const EntryCheck& check) {
  const int tid = threadIdx.x;
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    if ((i * NT + tid) * V >= DIM) continue;
#pragma unroll
    for (int j = 0; j < V; ++j) sum += v[i][j];
  }
  const float mean = block_sum<NT>(sum, scratch) * (1.0f / DIM);
  float squares = 0.0f;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    if ((i * NT + tid) * V >= DIM) continue;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float d = v[i][j] - mean;
      squares = fmaf(d, d, squares);
    }
  }
  const float variance = block_sum<NT>(squares, scratch) * (1.0f / DIM);
  const float inv_std = rsqrtf(variance + __int_as_float(EPS_BITS));
  if (check.stop()) return false;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int d = (i * NT + tid) * V;
    if (d >= DIM) continue;
    float g[V], be[V], o[V];
    load_params<V>(gamma + d, g);
    load_params<V>(beta + d, be);
#pragma unroll
    for (int j = 0; j < V; ++j) o[j] = fmaf((v[i][j] - mean) * inv_std, g[j], be[j]);
    store_vec<T, V>(out + d, o);
  }
  return true;
}

// y[row] = layernorm(x[row] + res[row]); grid: x = rows. Shared memory: NT / warp size floats.
template <typename T, int DIM, int IN_STRIDE, int IN_OFF, int RES_STRIDE, int RES_OFF,
          int OUT_STRIDE, int OUT_OFF, int V, int NT, bool HAS_RES, int EPS_BITS>
__device__ __forceinline__ bool layernorm_body(const Block& b, const T* __restrict__ x,
                                               const T* __restrict__ res,
                                               const float* __restrict__ gamma,
                                               const float* __restrict__ beta,
                                               T* __restrict__ y) {
  constexpr int PER = ceil_div(DIM, V * NT);
  static_assert(DIM % V == 0 && IN_STRIDE % V == 0 && IN_OFF % V == 0 && OUT_STRIDE % V == 0 &&
                    OUT_OFF % V == 0 && (!HAS_RES || (RES_STRIDE % V == 0 && RES_OFF % V == 0)),
                "row vectors must stay aligned");
  const int row = b.x, tid = threadIdx.x;
  EntryCheck check;
  check.sample(b);
  float v[PER][V];
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int d = (i * NT + tid) * V;
    if (d >= DIM) continue;
    load_vec<T, V>(x + static_cast<size_t>(row) * IN_STRIDE + IN_OFF + d, v[i]);
    if constexpr (HAS_RES) {
      float r[V];
      load_vec<T, V>(res + static_cast<size_t>(row) * RES_STRIDE + RES_OFF + d, r);
#pragma unroll
      for (int j = 0; j < V; ++j) v[i][j] += r[j];
    }
  }
  return normalize_row<T, DIM, V, PER, NT, EPS_BITS>(
      v, gamma, beta, y + static_cast<size_t>(row) * OUT_STRIDE + OUT_OFF,
      reinterpret_cast<float*>(dynamic_smem()), check);
}

// BERT embeddings for token row = n * SEQ + s: word[ids[row]] + position[s] (+ token_type[0]),
// then layer norm; grid: x = rows. Ids outside [0, VOCAB) are clamped so that a bad input can
// never read outside the table. Shared memory: NT / warp size floats.
template <typename T, int SEQ, int DIM, int VOCAB, int OUT_STRIDE, int OUT_OFF, int V, int NT,
          bool HAS_TYPE, int EPS_BITS>
__device__ __forceinline__ bool embedding_body(const Block& b, const int* __restrict__ ids,
                                               const T* __restrict__ word,
                                               const T* __restrict__ position,
                                               const T* __restrict__ token_type,
                                               const float* __restrict__ gamma,
                                               const float* __restrict__ beta,
                                               T* __restrict__ y) {
  constexpr int PER = ceil_div(DIM, V * NT);
  static_assert(DIM % V == 0 && OUT_STRIDE % V == 0 && OUT_OFF % V == 0,
                "row vectors must stay aligned");
  const int row = b.x, tid = threadIdx.x;
  EntryCheck check;
  check.sample(b);
  const int s = row % SEQ;
  const int id = min(max(ids[row], 0), VOCAB - 1);
  float v[PER][V];
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int d = (i * NT + tid) * V;
    if (d >= DIM) continue;
    float p[V];
    load_vec<T, V>(word + static_cast<size_t>(id) * DIM + d, v[i]);
    load_vec<T, V>(position + static_cast<size_t>(s) * DIM + d, p);
#pragma unroll
    for (int j = 0; j < V; ++j) v[i][j] += p[j];
    if constexpr (HAS_TYPE) {
      load_vec<T, V>(token_type + d, p);
#pragma unroll
      for (int j = 0; j < V; ++j) v[i][j] += p[j];
    }
  }
  return normalize_row<T, DIM, V, PER, NT, EPS_BITS>(
      v, gamma, beta, y + static_cast<size_t>(row) * OUT_STRIDE + OUT_OFF,
      reinterpret_cast<float*>(dynamic_smem()), check);
}

}  // namespace reef
