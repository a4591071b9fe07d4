// emu_runtime.h: just enough of the CUDA execution model, on the CPU, to run the kernel templates
// unchanged (raw and DKP builds). Each block runs its threads as fibers on one OS thread; a
// fiber yields at __syncthreads and at warp collectives (shuffles, and in mma_ptx.cuh the
// ldmatrix/mma.sync emulation), so barriers and warp-synchronous code keep their meaning.
// Stricter than the hardware where it helps find bugs: a barrier that some thread never reaches
// (exited or diverged) is reported as a deadlock, a warp collective whose lanes disagree on the
// operation is an error, shared memory starts as NaN poison in every block.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(16) float4 {
  float x, y, z, w;
};

// The executing fiber's indices; the scheduler rewrites them at every switch.
extern uint3 threadIdx, blockIdx;
extern dim3 gridDim, blockDim;

namespace emu {

// Dynamic shared memory available to one block.
constexpr size_t kSharedBytes = 227 * 1024;

// The running block's dynamic shared memory (16-byte aligned, NaN-poisoned at block start).
unsigned char* shared_base();

// Index of the running fiber within its block (= threadIdx.x).
unsigned thread_id();

// Prints what went wrong and exits with status 3 (fibers cannot unwind into the scheduler).
[[noreturn]] void fatal(const char* what);

// Runs `kernel` for every block of `grid` (x fastest), `threads` fibers per block, with
// `shared` bytes of dynamic shared memory. A deadlock or a malformed warp collective is fatal.
void launch(dim3 grid, unsigned threads, size_t shared, const std::function<void()>& kernel);

void syncthreads();
// A barrier that also returns whether any thread of the block passed true.
bool syncthreads_or(bool predicate);

// A warp collective: every lane of the calling warp deposits `in`; once all have, `compute`
// maps the deposits to per-lane results, and each lane receives its own in `out`. `op` names the
// operation, so lanes that diverge onto different collectives are caught.
struct WarpExchange {
  unsigned char in[32][64];
  unsigned char out[32][64];
  int lanes;
};
void warp_collective(int op, const void* in, size_t in_bytes, void* out, size_t out_bytes,
                     void (*compute)(WarpExchange&));

float shfl_xor(float v, int mask);
bool any_sync(unsigned mask, bool predicate);

// What set_flag_after counts: barriers, or warp collectives (for bodies with no barrier).
enum class Sync { barrier, collective };

// Makes the `count`th barrier (or warp collective) completed from now, counted over the next
// launches and every block, set *flag = 1, as the host would while a BE kernel runs; a null flag
// disarms it.
void set_flag_after(int* flag, unsigned long count, Sync kind = Sync::barrier);

// Barriers (or warp collectives) completed since the program started (to size a set_flag_after).
unsigned long completed(Sync kind);

// Per-fiber scratch for emulating asynchronous copies (see mma_ptx.cuh).
struct AsyncCopy {
  unsigned dst;
  const void* src;
  bool valid;
};
struct ThreadAsync {
  std::vector<AsyncCopy> open;
  std::vector<std::vector<AsyncCopy>> committed;
};
ThreadAsync& thread_async();

}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }
inline int __syncthreads_or(int predicate) { return emu::syncthreads_or(predicate != 0); }
inline float __shfl_xor_sync(unsigned, float v, int mask) { return emu::shfl_xor(v, mask); }
inline int __any_sync(unsigned mask, int predicate) { return emu::any_sync(mask, predicate != 0); }
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  const unsigned old = *p;
  *p += v;
  return old;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
template <typename T>
inline T __ldcs(const T* p) {
  return *p;
}
