// check_point.cuh: check points whose flag load overlaps the body's work: FlagProbe (the answer
// through a shared slot, like Block::poll), EntryCheck (for short bodies with one check point: the
// answer on a barrier they have, or per warp) and PipelineCheck (the flag carried by a cp.async
// pipeline, for loops whose trips are shorter than a flag load: conv_mma).
//
// reef::Block::poll loads the flag and stores it to shared memory in one step, so thread 0 waits
// for the load (an L2 round trip) right before the barrier, and the whole block waits with it.
// FlagProbe splits the same protocol in two: `sample` issues the load early in a trip and keeps
// the value in a register; `publish` stores it later, before a barrier the body already has. The
// shared slots, the trip parity and the answer of Block::stopped are exactly those of Block::poll,
// so a body reads `b.stopped(trip)` after that barrier as usual. A body may publish trip t + 1's
// answer at the end of trip t: slot (t + 1) & 1 was last read in trip t - 1.
// Outside the BE build both steps compile to nothing.
#pragma once

#include "reef_kernel.cuh"
#if !defined(__HIPCC__)
#include "mma_ptx.cuh"
#endif

namespace reef {

struct FlagProbe {
  int value;

  __device__ __forceinline__ FlagProbe() : value(0) {}

  // Issues the flag load (thread 0); nothing waits for it until `publish`. This is the block's
  // check: the trace build closes its stretch here.
  __device__ __forceinline__ void sample(const Block& b) {
#if defined(REEF_BUILD_BE)
    if (first_thread()) {
      value = poll_flag(b.flag);
#if defined(REEF_CHECK_TRACE)
      trace_check();
#endif
    }
#else
    (void)b;
#endif
  }

  // At a check point, before the body's __syncthreads: makes the sampled value the answer of
  // b.stopped(trip) after that barrier.
  __device__ __forceinline__ void publish(const Block& b, int trip) const {
#if defined(REEF_BUILD_BE)
    if (first_thread()) b.stop[trip & 1] = value;
#else
    (void)b;
    (void)trip;
#endif
  }
};

#if defined(REEF_BUILD_BE)
// A barrier that tells every thread whether any thread passed true (__syncthreads_or; EntryCheck
// passes each warp's sampled flag). A warp vote tells ptxas that the answer is the same in every
// lane, so that a loop exiting on it keeps its uniform registers (HIP has no such distinction).
// Every thread of the block calls it.
__device__ __forceinline__ bool barrier_any(bool predicate) {
  const bool any = __syncthreads_or(predicate) != 0;
#if defined(__HIPCC__)
  return any;
#else
  return warp_any(any);
#endif
}
#endif

// The check point of a short body (pooling, split-K reduce, layer norm, embedding, add,
// depthwise), CUDA and HIP. Lane 0 of every warp loads the flag at block entry, ahead of the
// body's own loads, and one check before the body's first global write answers on it:
// - `sync`, on a barrier the body has anyway: the answer of the whole block (__syncthreads_or);
// - `stop`, for a body with no barrier before its writes and none after: each warp's own answer
//   (a warp vote), with no barrier. Some warps of a block may write their share while others
//   stop; the kernel's stop mark (block_end) then sends it back whole on restore, and a kernel
//   queued behind a preemption still writes nothing, since the flag was raised before it began.
// Session 7's `stop` was a barrier of its own, which held every warp of a 3-5 µs kernel until the
// slowest had loaded (split-K reduce 6-13%, src/kernels/NOTES.md).
struct EntryCheck {
  int value;  // lane 0's sampled flag, in every warp

  __device__ __forceinline__ EntryCheck() : value(0) {}

  // Issues the flag load (lane 0 of each warp) that the check hands in. This is the block's
  // check: the trace build closes its stretch here (thread 0).
  __device__ __forceinline__ void sample(const Block& b) {
#if defined(REEF_BUILD_BE)
    if (lane_zero()) value = poll_flag(b.flag);
#if defined(REEF_CHECK_TRACE)
    if (first_thread()) trace_check();
#endif
#else
    (void)b;
#endif
  }

  // A barrier the body has in every build, with a check point in the BE build: true when the block
  // must be abandoned, in every thread alike. Every thread of the block calls it.
  __device__ __forceinline__ bool sync() const {
#if defined(REEF_BUILD_BE) && !defined(REEF_ABLATE_EXIT)
    return barrier_any(lane_zero() && value != 0);
#else
    __syncthreads();
    return false;
#endif
  }

  // A check point with no barrier, in the BE build only: true when the calling warp must leave,
  // in every lane of the warp alike. Every thread of the warp calls it; no barrier may follow it.
  __device__ __forceinline__ bool stop() const {
#if defined(REEF_BUILD_BE) && !defined(REEF_ABLATE_EXIT)
    return warp_any(lane_zero() && value != 0);
#else
    return false;
#endif
  }
};

#if !defined(__HIPCC__)
// The check point of a cp.async pipeline (conv_mma, CUDA): the flag travels with the tiles. Thread
// 0 copies it (16 bytes from the flag: reef's flag allocations are 16 bytes) into a shared slot
// as part of a trip's copy group, STAGES - 1 trips before the check that reads it, when the
// pipeline's own cp.async.wait_group has retired that group and the trip's barrier has made it
// visible to every thread. Every thread then reads the slot (`raised`) and, once the trip's work
// is issued, the block leaves on it (`stop`). Two slots alternate between checks, so a copy never
// lands in a slot that a check still reads.
//
// Why this shape: every trip keeps the plain barrier it has in the raw build, and nothing of the
// check sits between the loop's cp.async.wait_group and that barrier. Session 7's check (thread 0
// read the slot, then __syncthreads_or and a vote) put a shared load and a barrier reduction on
// that path, in a loop whose blocks run 4 warps to an SM: the SASS of the raw and BE loops
// differed in nothing else (src/kernels/NOTES.md, session 8).
struct PipelineCheck {
  int* slots;  // two 16-byte slots: ints 0 and 4

  // `slot_memory`: 32 bytes of dynamic shared memory, 16-byte aligned, that the body sets aside in
  // every build, so that the three builds share one `shared_memory` size (catalog.ts adds them:
  // MMA_FLAG_SLOT_BYTES).
  __device__ __forceinline__ explicit PipelineCheck(void* slot_memory)
      : slots(static_cast<int*>(slot_memory)) {}

  // Thread 0 copies the flag into `slot` (0 or 1) with the copy group committed next. This is the
  // block's check: the trace build closes its stretch here.
  __device__ __forceinline__ void sample(const Block& b, int slot) const {
#if defined(REEF_BUILD_BE)
    if (first_thread()) {
#if defined(REEF_ABLATE_POLL)
      slots[slot * 4] = 0;
#else
      mma::cp_async16(mma::smem_address(slots + slot * 4), b.flag, true);
#endif
#if defined(REEF_CHECK_TRACE)
      trace_check();
#endif
    }
#else
    (void)b;
    (void)slot;
#endif
  }

  // The value copied into `slot`, as every thread reads it after the barrier that follows the
  // cp.async.wait_group retiring its group, and before the next barrier. Always false outside the
  // BE build.
  __device__ __forceinline__ bool raised(int slot) const {
#if defined(REEF_BUILD_BE)
    return slots[slot * 4] != 0;
#else
    (void)slot;
    return false;
#endif
  }

  // Whether the block must be abandoned, given what every thread read with `raised`: the same
  // answer in every thread. A warp vote tells ptxas that it is the same in every lane, so that the
  // loop exiting on it keeps its uniform registers. Every thread of the block calls it.
  __device__ __forceinline__ bool stop(bool raised) const {
#if defined(REEF_BUILD_BE) && !defined(REEF_ABLATE_EXIT)
    return warp_any(raised);
#else
    (void)raised;  // always false outside the BE build
    return false;
#endif
  }
};
#endif

}  // namespace reef
