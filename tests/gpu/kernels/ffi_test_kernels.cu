// Kernels for tests/gpu/foundation_test.ts: they exercise the binding's launch path, parameter
// layouts, stream priorities, events and device-side observation of a flag.
#include <cstdint>

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
  return t;
}

// y[i] = a * x[i] + y[i]: a float, two pointers and an int.
extern "C" __global__ void axpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

// Writes each thread's linear id over a 3-D grid of 3-D blocks, so a test sees every index.
extern "C" __global__ void index3d(unsigned* out) {
  unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = block * threads + thread;
}

// Echoes parameters of mixed sizes and alignments.
extern "C" __global__ void layout(int a, unsigned long long b, float c, unsigned d, long long* out) {
  out[0] = a;
  out[1] = (long long)b;
  out[2] = (long long)(c * 1000.0f);
  out[3] = d;
}

// Spins for `ns` nanoseconds of GPU time, then stamps its end.
extern "C" __global__ void spin(unsigned long long ns, unsigned long long* end) {
  unsigned long long start = global_ns();
  while (global_ns() - start < ns) {
  }
  if (threadIdx.x == 0) atomicMax(end, global_ns());
}

// Waits until another stream writes a non-zero flag (or 2 s pass), then reports what it saw.
extern "C" __global__ void wait_flag(const int* flag, int* seen) {
  unsigned long long start = global_ns();
  int value = 0;
  while (value == 0 && global_ns() - start < 2000000000ull) {
    asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(value) : "l"(flag));
  }
  *seen = value;
}

// For the launch-cost benchmark: does nothing.
extern "C" __global__ void empty() {}
