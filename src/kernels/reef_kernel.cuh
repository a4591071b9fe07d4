// reef_kernel.cuh: the contract between kernel bodies and the three builds of every kernel.
//
// A kernel is written once, as a device function template (its *body*):
//
//   template <...> __device__ bool conv_body(const reef::Block& b, <pointer args>...);
//
// It returns true when it has done all of the block's work and false when it stopped at a check
// point because the preempt flag was set: in every thread of the block alike, or, after
// EntryCheck::stop, in every thread of a warp alike (check_point.cuh). A generated model source
// includes this header after defining exactly one of the build macros, and wraps each body:
//
//   REEF_BUILD_RAW  extern "C" __global__ void k(args...)          // the reference build
//   REEF_BUILD_BE   extern "C" __global__ void k(const int* reef_flag, unsigned* reef_mark, args...)
//                   flag checked at every check point of the body (the first comes before the
//                   body's first global write: lazy eviction of queued kernels); a block that
//                   stops at one sets *reef_mark to 1, so the host can tell exactly which
//                   kernels of a preempted task completed: those it launched whose mark is 0.
//   REEF_BUILD_DKP  __device__ bool k_dkp(const reef::Block&, const void* params), the body behind a
//                   function pointer with a virtual block index, run by the profiler's proxy and
//                   by other kernels' padding launches (`k_pad`, src/kernels/emit.ts).
//
// REEF_CHECK_TRACE, defined with REEF_BUILD_BE (CUDA only), instruments the BE build to measure its
// check interval: thread 0 of every block times the stretches from block entry to the first check,
// between checks, and from the last check to the block's end (%globaltimer, ns), and a block that
// finishes raises the kernel's slot to its longest stretch. `reef_mark` then points at 16 bytes per
// kernel: the stop mark, 4 bytes of padding, and the slot (unsigned long long).
//
// Ablation switches, defined with REEF_BUILD_BE by evaluation/scripts/be_overhead.ts only: each
// drops one part of the check so that its GPU time can be told apart from the rest's. Such a build
// cannot be preempted, and nothing else ever builds one.
//   REEF_ABLATE_POLL   check points answer "run" with no flag load (their barriers stay)
//   REEF_ABLATE_EXIT   no check point reads its answer: the read, the vote and the exit branch
//                      go, the flag's copy or load stays where something keeps it (cp.async in
//                      PipelineCheck, the shared store in FlagProbe; ptxas drops EntryCheck's
//                      load, whose value nothing reads then), and the barriers stay
// And one spacing switch, by the same script: unlike the ablations its build stays preemptible.
//   REEF_MMA_CHECK_SCALE=n   conv_mma checks every n * CHECK_EVERY K-tiles, so that the cost of
//                            each check can be told from that of the loop's shape
//
// Rules every body follows, so that all three builds stay valid:
// - 1-D thread blocks of a compile-time size; the grid may be 1-, 2- or 3-D and is read from
//   b.x, b.y, b.z (never blockIdx), and the grid size from b.gx, b.gy, b.gz (never gridDim).
// - Shared memory only through reef::dynamic_smem() (dynamic shared memory, no static
//   __shared__ arrays), so a proxy can host any body with the larger kernel's allocation.
// - Check points sit at natural tile boundaries, next to a __syncthreads the body already has:
//       b.poll(it);          // thread 0 samples the flag (it = the loop trip, for parity)
//       __syncthreads();
//       if (b.stopped(it)) return false;
//   No division and no extra barrier in the inner loop. A body may poll every 2^k trips (mask).
//   check_point.cuh has three refinements of this pattern: FlagProbe, EntryCheck and
//   PipelineCheck.
// - A check point before the first global write (the BE build has no entry check), and every
//   thread of the block (of the warp, for EntryCheck::stop) reaches each check point: no early
//   return in front of one.
// - Idempotent: a body never reads memory it writes.
#pragma once

#if defined(__HIPCC__)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#else
#include <cuda_fp16.h>
#endif

#if (defined(REEF_BUILD_RAW) + defined(REEF_BUILD_BE) + defined(REEF_BUILD_DKP)) != 1
#error "define exactly one of REEF_BUILD_RAW, REEF_BUILD_BE, REEF_BUILD_DKP"
#endif
#if (defined(REEF_ABLATE_POLL) || defined(REEF_ABLATE_EXIT) || defined(REEF_MMA_CHECK_SCALE)) && \
    !defined(REEF_BUILD_BE)
#error "REEF_ABLATE_POLL, REEF_ABLATE_EXIT and REEF_MMA_CHECK_SCALE apply to the BE build only"
#endif
#if defined(REEF_CHECK_TRACE) && (!defined(REEF_BUILD_BE) || defined(__HIPCC__))
#error "REEF_CHECK_TRACE instruments the CUDA BE build: define REEF_BUILD_BE, build with nvcc"
#endif

namespace reef {

// A relaxed, device-scope load: sees the control stream's or watcher's write without a fence.
__device__ __forceinline__ int load_flag(const int* flag) {
#if defined(__HIPCC__)
  return __hip_atomic_load(flag, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
#else
  int v;
  asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(flag));
  return v;
#endif
}

// The flag as a check point sees it (REEF_ABLATE_POLL: never raised).
__device__ __forceinline__ int poll_flag(const int* flag) {
#if defined(REEF_ABLATE_POLL)
  (void)flag;
  return 0;
#else
  return load_flag(flag);
#endif
}

__device__ __forceinline__ bool first_thread() { return threadIdx.x == 0; }

// Lane 0 of the calling warp (a wavefront of 64 on AMD).
__device__ __forceinline__ bool lane_zero() {
#if defined(__HIPCC__)
  return threadIdx.x % warpSize == 0;
#else
  return (threadIdx.x & 31u) == 0;
#endif
}

// Whether any lane of the calling warp passed true; every lane of the warp calls it.
__device__ __forceinline__ bool warp_any(bool predicate) {
#if defined(__HIPCC__)
  return __any(predicate) != 0;
#else
  return __any_sync(0xffffffffu, predicate) != 0;
#endif
}

#if defined(REEF_CHECK_TRACE)
// The block's last check time and longest stretch so far, ns; thread 0's (one per block: a
// __shared__ variable of a device function is a single per-block variable).
__device__ __forceinline__ unsigned long long* trace_times() {
  __shared__ unsigned long long times[2];
  return times;
}

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Thread 0, at a check: closes the stretch since the last one.
__device__ __forceinline__ void trace_check() {
  unsigned long long* t = trace_times();
  const unsigned long long now = global_ns();
  if (now - t[0] > t[1]) t[1] = now - t[0];
  t[0] = now;
}
#endif

// Dynamic shared memory, 16-byte aligned; its size is the kernel's `shared_memory` entry.
__device__ __forceinline__ unsigned char* dynamic_smem() {
  extern __shared__ __align__(16) unsigned char reef_smem[];
  return reef_smem;
}

// What a body knows about its block: the (virtual) block index, the grid, and the preempt flag.
struct Block {
  unsigned x, y, z;
  unsigned gx, gy, gz;
#if defined(REEF_BUILD_BE)
  const int* flag;
  int* stop;  // two __shared__ ints: one per trip parity, so thread 0 never overwrites a value
              // that a slow thread of the previous trip has yet to read
#endif

  // At a check point, before the body's own __syncthreads: thread 0 samples the flag.
  __device__ __forceinline__ void poll(int trip) const {
#if defined(REEF_BUILD_BE)
    if (first_thread()) {
      stop[trip & 1] = poll_flag(flag);
#if defined(REEF_CHECK_TRACE)
      trace_check();
#endif
    }
#else
    (void)trip;
#endif
  }

  // After that __syncthreads: whether to abandon the block (the same answer in every thread).
  __device__ __forceinline__ bool stopped(int trip) const {
#if defined(REEF_BUILD_BE) && !defined(REEF_ABLATE_EXIT)
    return stop[trip & 1] != 0;
#else
    (void)trip;
    return false;
#endif
  }
};

#if defined(REEF_BUILD_RAW)
// The block context of a raw launch.
__device__ __forceinline__ Block launch_block() {
  return Block{blockIdx.x, blockIdx.y, blockIdx.z, gridDim.x, gridDim.y, gridDim.z};
}
#endif

#if defined(REEF_BUILD_BE)
// The block context of a BE launch. There is no check at block entry: every body reaches a check
// point before its first global write, so a block of a kernel queued behind a preemption leaves
// there, having written nothing (lazy eviction), with no L2 round trip and no barrier in front of
// its first loads.
__device__ __forceinline__ Block launch_block(const int* flag) {
  __shared__ int stop[2];
#if defined(REEF_CHECK_TRACE)
  if (first_thread()) {
    trace_times()[0] = global_ns();
    trace_times()[1] = 0;
  }
#endif
  return Block{blockIdx.x, blockIdx.y, blockIdx.z, gridDim.x, gridDim.y, gridDim.z, flag, stop};
}

// Ends a block: one that stopped at a check point marks its kernel; one that finished writes
// nothing, so a kernel that runs to the end has no atomic and no store of the protocol's. Session
// 7 counted finished blocks instead, an atomicAdd per block on one address per kernel; building
// without it saved up to 0.8% of a model and up to 4% of a short kernel (be_overhead.ts). The host
// reads the marks only once the stream is idle, so no fence is needed.
// Every thread calls it with its body's answer, which may differ between warps (EntryCheck::stop).
__device__ __forceinline__ void block_end(unsigned* mark, bool finished) {
  if (!finished && lane_zero()) *mark = 1u;
#if defined(REEF_CHECK_TRACE)
  if (finished && first_thread()) {
    trace_check();
    atomicMax(reinterpret_cast<unsigned long long*>(mark) + 1, trace_times()[1]);
  }
#endif
}
#endif

#if defined(REEF_BUILD_DKP)
// A body behind a pointer: `params` points at the kernel's packed arguments in device memory.
typedef bool (*Body)(const Block&, const void* params);

// Maps a linear block index onto a grid, x fastest (the order raw launches dispatch in).
__device__ __forceinline__ Block virtual_block(unsigned linear, unsigned gx, unsigned gy,
                                               unsigned gz) {
  const unsigned x = linear % gx, yz = linear / gx;
  return Block{x, yz % gy, yz / gy, gx, gy, gz};
}
#endif

}  // namespace reef
