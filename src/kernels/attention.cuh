// attention.cuh: fused multi-head self-attention core, softmax(Q K^T * scale) V per head, no
// mask. SIMT with fp32 math, portable.
//
// A block owns QT query rows of one head of one sequence. It stages the head's K ([SEQ][HEAD_DIM],
// fp32) and its Q rows in shared memory and computes the scores (thread per key, QT dot products
// from float4 reads); then V replaces K in the same region while a warp per row runs the softmax
// (the probabilities stay unnormalised, each row keeps 1 / sum); then P V (thread per output
// column, rows strided by NT / HEAD_DIM). The scores never leave shared memory, and sharing one
// region for K and V keeps the block under 48 KB at SEQ 128, HEAD_DIM 64.
// Shared memory floats: K then V [SEQ][HEAD_DIM + 4], Q [QT][HEAD_DIM], P [QT][SEQ + 4],
// 1/sum [QT]. The check point sits on the barrier after staging.
// Grid: x = SEQ / QT query tiles, y = heads, z = sequences. The scale travels as float32 bits.
#pragma once

#include "check_point.cuh"
#include "numeric.cuh"

namespace reef {

template <typename T, int SEQ, int HEAD_DIM, int Q_STRIDE, int Q_OFF, int K_STRIDE, int K_OFF,
          int V_STRIDE, int V_OFF, int OUT_STRIDE, int OUT_OFF, int VL, int QT, int NT,
          int SCALE_BITS>
__device__ __forceinline__ bool attention_body(const Block& b, const T* __restrict__ q,
                                               const T* __restrict__ k,
                                               const T* __restrict__ v,
                                               T* __restrict__ y) {
  constexpr int K_PITCH = HEAD_DIM + 4, P_PITCH = SEQ + 4;
  constexpr int kRowStep = NT / HEAD_DIM;  // output rows one pass of the threads covers
  constexpr int kWarps = NT / kWarpSize;
  static_assert(HEAD_DIM % 4 == 0 && HEAD_DIM % VL == 0 && SEQ % 4 == 0 && SEQ % QT == 0,
                "head dimension and sequence must be multiples of 4");
  static_assert(NT % HEAD_DIM == 0 && QT % kRowStep == 0, "threads must tile the output rows");
  static_assert(Q_STRIDE % VL == 0 && Q_OFF % VL == 0 && K_STRIDE % VL == 0 && K_OFF % VL == 0 &&
                    V_STRIDE % VL == 0 && V_OFF % VL == 0,
                "views must stay aligned to the load width");

  float* ks = reinterpret_cast<float*>(dynamic_smem());
  float* vs = ks;  // V overwrites K once the scores are done
  float* qs = ks + SEQ * K_PITCH;
  float* ps = qs + QT * HEAD_DIM;
  float* row_inv = ps + QT * P_PITCH;
  const int tid = threadIdx.x;
  const int q0 = b.x * QT, head_off = b.y * HEAD_DIM;
  const size_t seq_row = static_cast<size_t>(b.z) * SEQ;
  // The flag load overlaps the staging below; its answer goes out at the check point after it.
  FlagProbe probe;
  probe.sample(b);

  // Stage K (all keys of the head) and the block's Q rows as fp32.
  constexpr int kVecsPerRow = HEAD_DIM / VL;
  for (int i = tid; i < SEQ * kVecsPerRow; i += NT) {
    const int j = i / kVecsPerRow, d = (i % kVecsPerRow) * VL;
    float kv[VL];
    load_vec<T, VL>(k + (seq_row + j) * K_STRIDE + K_OFF + head_off + d, kv);
#pragma unroll
    for (int e = 0; e < VL; ++e) ks[j * K_PITCH + d + e] = kv[e];
  }
  for (int i = tid; i < QT * kVecsPerRow; i += NT) {
    const int r = i / kVecsPerRow, d = (i % kVecsPerRow) * VL;
    float qv[VL];
    load_vec<T, VL>(q + (seq_row + q0 + r) * Q_STRIDE + Q_OFF + head_off + d, qv);
#pragma unroll
    for (int e = 0; e < VL; ++e) qs[r * HEAD_DIM + d + e] = qv[e];
  }
  probe.publish(b, 0);
  __syncthreads();
  if (b.stopped(0)) return false;

  // Scores: thread per key j, all QT rows.
  const float scale = __int_as_float(SCALE_BITS);
  for (int j = tid; j < SEQ; j += NT) {
    float acc[QT];
#pragma unroll
    for (int r = 0; r < QT; ++r) acc[r] = 0.0f;
#pragma unroll 4
    for (int d = 0; d < HEAD_DIM; d += 4) {
      const float4 kv = *reinterpret_cast<const float4*>(ks + j * K_PITCH + d);
#pragma unroll
      for (int r = 0; r < QT; ++r) {
        const float4 qv = *reinterpret_cast<const float4*>(qs + r * HEAD_DIM + d);
        acc[r] = fmaf(kv.x, qv.x, fmaf(kv.y, qv.y, fmaf(kv.z, qv.z, fmaf(kv.w, qv.w, acc[r]))));
      }
    }
#pragma unroll
    for (int r = 0; r < QT; ++r) ps[r * P_PITCH + j] = acc[r] * scale;
  }
  __syncthreads();

  // V replaces K (every thread is past the scores); meanwhile a warp per row runs the softmax:
  // the probabilities stay unnormalised, 1 / sum goes to row_inv.
  for (int i = tid; i < SEQ * kVecsPerRow; i += NT) {
    const int j = i / kVecsPerRow, d = (i % kVecsPerRow) * VL;
    float vv[VL];
    load_vec<T, VL>(v + (seq_row + j) * V_STRIDE + V_OFF + head_off + d, vv);
#pragma unroll
    for (int e = 0; e < VL; ++e) vs[j * K_PITCH + d + e] = vv[e];
  }
  const int lane = tid % kWarpSize, warp = tid / kWarpSize;
  for (int r = warp; r < QT; r += kWarps) {
    float* row = ps + r * P_PITCH;
    float peak = -INFINITY;
    for (int j = lane; j < SEQ; j += kWarpSize) peak = fmaxf(peak, row[j]);
    peak = warp_max(peak);
    float sum = 0.0f;
    for (int j = lane; j < SEQ; j += kWarpSize) {
      const float e = __expf(row[j] - peak);
      row[j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    if (lane == 0) row_inv[r] = 1.0f / sum;
  }
  __syncthreads();

  // P V: thread per output column d, rows r0, r0 + kRowStep, ...
  const int d = tid % HEAD_DIM, r0 = tid / HEAD_DIM;
  constexpr int kRows = QT / kRowStep;
  float acc[kRows];
#pragma unroll
  for (int i = 0; i < kRows; ++i) acc[i] = 0.0f;
#pragma unroll 2
  for (int j = 0; j < SEQ; j += 4) {
    const float v0 = vs[j * K_PITCH + d], v1 = vs[(j + 1) * K_PITCH + d];
    const float v2 = vs[(j + 2) * K_PITCH + d], v3 = vs[(j + 3) * K_PITCH + d];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const float4 p = *reinterpret_cast<const float4*>(ps + (r0 + i * kRowStep) * P_PITCH + j);
      acc[i] = fmaf(p.x, v0, fmaf(p.y, v1, fmaf(p.z, v2, fmaf(p.w, v3, acc[i]))));
    }
  }
#pragma unroll
  for (int i = 0; i < kRows; ++i) {
    const int r = r0 + i * kRowStep;
    y[(seq_row + q0 + r) * OUT_STRIDE + OUT_OFF + head_off + d] =
        from_float<T>(acc[i] * row_inv[r]);
  }
  return true;
}

}  // namespace reef
