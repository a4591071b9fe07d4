// runtime.cu: kernels the scheduler itself launches (not part of any model).
//
// reef_watcher: the fast preemption doorbell measured in shared/docs/h100-probes.md. One thread of
// a persistent kernel on its own high-priority stream polls a word in host-mapped pinned memory and
// copies each new value into the device-memory flag that BE kernels read; the host signals with a
// plain store (about 1.5 µs one way) instead of a stream operation (7 µs median, 30 µs p99). It
// acknowledges each value, so the host can tell the flag has landed, and exits when `quit` is set.
#include <cstdint>

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ int load_system(const int* p) {
  int v;
  asm volatile("ld.relaxed.sys.global.s32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}

// Host-mapped control block, laid out as reef's GpuExecDevice writes it.
struct WatcherControl {
  int request;   // the flag value the host wants (host writes)
  int ack;       // the last value the watcher copied (watcher writes)
  int quit;      // non-zero: exit (host writes)
  int pad;
  unsigned long long seen_ns;  // global time the watcher saw the last change
};

extern "C" __global__ void reef_watcher(WatcherControl* control, int* flag) {
  if (threadIdx.x != 0) return;
  int last = load_system(&control->request);
  *flag = last;
  __threadfence();
  control->ack = last;
  __threadfence_system();
  while (!load_system(&control->quit)) {
    const int value = load_system(&control->request);
    if (value != last) {
      const unsigned long long t = global_ns();
      asm volatile("st.relaxed.gpu.global.s32 [%0], %1;" ::"l"(flag), "r"(value));
      __threadfence();
      control->seen_ns = t;
      asm volatile("st.relaxed.sys.global.s32 [%0], %1;" ::"l"(&control->ack), "r"(value));
      __threadfence_system();
      last = value;
    }
  }
}

