// numeric.cuh: element types, vector loads and stores, activations and warp/block reductions
// shared by every kernel body. Portable: compiles with nvcc and with hipcc (HIP_PLATFORM=amd).
#pragma once

#include "reef_kernel.cuh"

// Lanes per warp (wavefront): gfx906 runs 64-wide wavefronts, NVIDIA GPUs 32-wide warps.
#if defined(__HIPCC__)
#define REEF_WARP_SIZE 64
#else
#define REEF_WARP_SIZE 32
#endif

namespace reef {

constexpr int kWarpSize = REEF_WARP_SIZE;

// Activation codes; the catalog passes these numbers as template arguments.
constexpr int kActNone = 0;
constexpr int kActRelu = 1;
constexpr int kActRelu6 = 2;
constexpr int kActGelu = 3;  // exact form: 0.5 x (1 + erf(x / sqrt 2))
constexpr int kActTanh = 4;

template <int ACT>
__device__ __forceinline__ float activate(float v) {
  if constexpr (ACT == kActRelu) {
    return fmaxf(v, 0.0f);
  } else if constexpr (ACT == kActRelu6) {
    return fminf(fmaxf(v, 0.0f), 6.0f);
  } else if constexpr (ACT == kActGelu) {
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  } else if constexpr (ACT == kActTanh) {
    return tanhf(v);
  } else {
    static_assert(ACT == kActNone, "unknown activation code");
    return v;
  }
}

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// An unsigned type of exactly BYTES bytes, so that a vector moves in one memory instruction.
template <int BYTES>
struct RawBits;
template <>
struct RawBits<2> {
  typedef unsigned short type;
};
template <>
struct RawBits<4> {
  typedef unsigned type;
};
template <>
struct RawBits<8> {
  typedef uint2 type;
};
template <>
struct RawBits<16> {
  typedef uint4 type;
};

// V elements of T viewed as one machine word (V * sizeof(T) must be 2, 4, 8 or 16 bytes).
template <typename T, int V>
union Pack {
  typename RawBits<V * sizeof(T)>::type raw;
  T e[V];
};

// Loads V consecutive elements, aligned to V * sizeof(T), as floats (one instruction).
template <typename T, int V>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[V]) {
  if constexpr (V == 1) {
    out[0] = to_float(*p);
  } else {
    Pack<T, V> pk;
    pk.raw = *reinterpret_cast<const typename RawBits<V * sizeof(T)>::type*>(p);
#pragma unroll
    for (int i = 0; i < V; ++i) out[i] = to_float(pk.e[i]);
  }
}

// Stores V floats as V consecutive elements of T, aligned to V * sizeof(T) (one instruction).
template <typename T, int V>
__device__ __forceinline__ void store_vec(T* p, const float (&v)[V]) {
  if constexpr (V == 1) {
    *p = from_float<T>(v[0]);
  } else {
    Pack<T, V> pk;
#pragma unroll
    for (int i = 0; i < V; ++i) pk.e[i] = from_float<T>(v[i]);
    *reinterpret_cast<typename RawBits<V * sizeof(T)>::type*>(p) = pk.raw;
  }
}

// Loads V consecutive floats (float32 parameters: bias, scale, shift, gamma, beta), aligned to
// min(V, 4) floats: one instruction per 4 floats.
template <int V>
__device__ __forceinline__ void load_params(const float* p, float (&out)[V]) {
  if constexpr (V <= 4) {
    load_vec<float, V>(p, out);
  } else {
    static_assert(V % 4 == 0, "parameter vectors above 4 floats come in float4s");
#pragma unroll
    for (int i = 0; i < V; i += 4) {
      const float4 q = *reinterpret_cast<const float4*>(p + i);
      out[i] = q.x, out[i + 1] = q.y, out[i + 2] = q.z, out[i + 3] = q.w;
    }
  }
}

__device__ __forceinline__ float shfl_xor(float v, int mask) {
#if defined(__HIPCC__)
  return __shfl_xor(v, mask);
#else
  return __shfl_xor_sync(0xffffffffu, v, mask);
#endif
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int m = kWarpSize / 2; m > 0; m >>= 1) v += shfl_xor(v, m);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int m = kWarpSize / 2; m > 0; m >>= 1) v = fmaxf(v, shfl_xor(v, m));
  return v;
}

// Sum over the NT threads of a block, returned to every thread. `scratch` holds NT / warp size
// floats of shared memory; it may be reused once the call returns (the trailing barrier is inside).
template <int NT>
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  constexpr int kWarps = NT / kWarpSize;
  static_assert(NT % kWarpSize == 0, "block size must be a multiple of the warp size");
  v = warp_sum(v);
  if constexpr (kWarps == 1) {
    return v;
  } else {
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < kWarps; ++i) total += scratch[i];
    // Every thread must have read `scratch` before a later call overwrites it.
    __syncthreads();
    return total;
  }
}

// ceil(a / b) for compile-time sizes.
__host__ __device__ constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }

// log2 of a compile-time power of two (so a check interval becomes a shift, never a division).
__host__ __device__ constexpr int log2_exact(int v) { return v <= 1 ? 0 : 1 + log2_exact(v / 2); }

}  // namespace reef
