// check_point.cuh: check points whose flag load overlaps the math of a main-loop trip: FlagProbe
// (the answer through a shared slot, like Block::poll) and BarrierCheck (CUDA; the answer through
// the trip's barrier, for loops whose trips are shorter than the load).
//
// reef::Block::poll loads the flag and stores it to shared memory in one step, so thread 0 waits
// for the load (an L2 round trip) right before the barrier, and the whole block waits with it.
// FlagProbe splits the same protocol in two: `sample` issues the load early in a trip and keeps
// the value in a register; `publish` stores it later, before a barrier the body already has. The
// shared slots, the trip parity and the answer of Block::stopped are exactly those of Block::poll,
// so a body reads `b.stopped(trip)` after that barrier as usual. A body may publish trip t + 1's
// answer at the end of trip t: slot (t + 1) & 1 was last read in trip t - 1.
// Outside the BE build both steps compile to nothing.
//
// Check points are numbered from 1 (kFirstCheck), for FlagProbe and Block::poll alike:
// enter_block's answer sits in slot 0 and slow threads read it after the entry barrier, so the
// first check point must write slot 1; by the second, every thread has passed the first check
// point's barrier, so slot 0 is free again.
#pragma once

#include "reef_kernel.cuh"

namespace reef {

// Number of a body's first check point (see above): check k of a body uses trip kFirstCheck + k.
constexpr int kFirstCheck = 1;

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

#if !defined(__HIPCC__)
// A check point for main loops whose trip is about as short as the flag load's L2 round trip
// (conv_mma's K-tiles: 0.3-0.5 µs for 32 x 32 tiles on the H100), CUDA only. It rides on the
// trip's own barrier: thread 0 hands the flag value in to __syncthreads_or, so there is no shared
// slot to store and load, and every thread has the answer as the barrier releases. Checks fall on
// even trips; the value handed in was loaded at the previous check, two trips earlier (the first,
// before the body's prologue), so thread 0 never waits for its load. A raised flag stops a block
// within about three trips.
//
// Why not FlagProbe: a shared-memory answer is not visibly the same in every lane, so a loop that
// exits on it loses its uniform registers (its counters and stage offsets move to the vector
// pipes), and thread 0 waits for a load issued one trip earlier. The warp vote below makes the
// answer warp-uniform for ptxas. Measured per design in src/kernels/NOTES.md.
struct BarrierCheck {
  FlagProbe probe;  // thread 0's sampled value (never published to the shared slots)

  // Issues the flag load (thread 0) that the next check hands in. This is the block's check: the
  // trace build closes its stretch here.
  __device__ __forceinline__ void sample(const Block& b) { probe.sample(b); }

  // The barrier of main-loop trip `trip`, with a check point on even trips: true when the block
  // must be abandoned, in every thread alike. Every thread of the block calls it.
  __device__ __forceinline__ bool sync(const Block& b, int trip) {
#if defined(REEF_BUILD_BE)
    if (trip & 1) {
      __syncthreads();
      return false;
    }
    const bool any = __syncthreads_or(first_thread() && probe.value != 0);
    const bool stop = __any_sync(0xffffffffu, any);
    if (!stop) sample(b);
    return stop;
#else
    (void)b;
    (void)trip;
    __syncthreads();
    return false;
#endif
  }
};
#endif

}  // namespace reef
