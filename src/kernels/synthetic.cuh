// synthetic.cuh: REEF's bench_kernel for reef: blocks that run a fixed number of trips of serial
// FMA work, with a check point per trip, so a benchmark can set how long a BE kernel runs and how
// often it can stop. The output depends only on the block, thread and input, so a kernel re-run
// after a preemption writes exactly what an uninterrupted run writes.
#pragma once

#include "reef_kernel.cuh"

template <int THREADS, int TRIPS, int WORK>
__device__ bool synthetic_body(const reef::Block& b, const float* in, float* out) {
  const unsigned block = b.x + b.gx * (b.y + b.gy * b.z);
  const unsigned index = block * THREADS + threadIdx.x;
  float a = in[threadIdx.x % 32] + 1e-6f * (index % 1024);
  const float m = 1.0001f;
  for (int trip = 0; trip < TRIPS; ++trip) {
    b.poll(trip);
    __syncthreads();
    if (b.stopped(trip)) return false;
#pragma unroll 4
    for (int i = 0; i < WORK; ++i) a = fmaf(a, m, 1e-7f);
  }
  out[index] = a;
  return true;
}
