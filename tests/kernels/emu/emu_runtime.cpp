// emu_runtime.cpp: the fiber scheduler behind emu_runtime.h. Fibers start with makecontext and
// switch with _setjmp/_longjmp (no signal-mask system call per switch).
#include "emu_runtime.h"

#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

uint3 threadIdx, blockIdx;
dim3 gridDim, blockDim;

namespace emu {

void fatal(const char* what) {
  std::fprintf(stderr, "emulator: %s (block %u,%u,%u thread %u)\n", what, blockIdx.x, blockIdx.y,
               blockIdx.z, threadIdx.x);
  std::exit(3);
}

namespace {

constexpr size_t kStackBytes = 256 * 1024;

struct Fiber {
  ucontext_t start;
  jmp_buf resume;
  std::unique_ptr<char[]> stack;
  bool started = false, done = false;
  ThreadAsync async;
};

struct Warp {
  WarpExchange exchange;
  int op = -1;
  int arrived = 0;
  unsigned generation = 0;
};

std::vector<Fiber> fibers;
std::vector<Warp> warps;
jmp_buf scheduler;
unsigned current = 0, block_threads = 0;
unsigned barrier_arrived = 0, barrier_generation = 0;
bool barrier_or_pending = false, barrier_or_result = false;
bool progress = false;
unsigned long completed_syncs[2] = {0, 0};  // by Sync
Sync flag_kind = Sync::barrier;
unsigned long flag_at = 0;
int* flag_to_set = nullptr;

// Counts a completed barrier or warp collective, and raises the armed flag on its count.
void complete(Sync kind) {
  if (++completed_syncs[static_cast<int>(kind)] == flag_at && kind == flag_kind &&
      flag_to_set != nullptr) {
    *flag_to_set = 1;
  }
}
const std::function<void()>* body = nullptr;

// Back to the scheduler; returns when this fiber is resumed.
void yield() {
  if (_setjmp(fibers[current].resume) == 0) _longjmp(scheduler, 1);
}

void trampoline() {
  (*body)();
  fibers[current].done = true;
  progress = true;
  _longjmp(scheduler, 1);
}

void run_block(unsigned threads) {
  if (fibers.size() < threads) fibers.resize(threads);
  warps.assign((threads + 31) / 32, Warp{});
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = fibers[t];
    if (!f.stack) f.stack.reset(new char[kStackBytes]);
    f.started = f.done = false;
    f.async = ThreadAsync{};
  }
  block_threads = threads;
  barrier_arrived = 0;
  barrier_or_pending = false;
  unsigned finished = 0;
  while (finished < threads) {
    progress = false;
    finished = 0;
    for (unsigned t = 0; t < threads; ++t) {
      Fiber& f = fibers[t];
      if (f.done) {
        ++finished;
        continue;
      }
      current = t;
      threadIdx = uint3{t, 0, 0};
      if (_setjmp(scheduler) == 0) {
        if (!f.started) {
          f.started = true;
          progress = true;
          getcontext(&f.start);
          f.start.uc_stack.ss_sp = f.stack.get();
          f.start.uc_stack.ss_size = kStackBytes;
          f.start.uc_link = nullptr;
          makecontext(&f.start, trampoline, 0);
          setcontext(&f.start);
        } else {
          _longjmp(f.resume, 1);
        }
      }
      if (f.done) ++finished;
    }
    if (!progress && finished < threads) {
      fatal("deadlock: a barrier or warp collective that some threads never reach");
    }
  }
}

}  // namespace

alignas(16) unsigned char shared_memory[kSharedBytes];

unsigned char* shared_base() { return shared_memory; }

unsigned thread_id() { return current; }

void set_flag_after(int* flag, unsigned long count, Sync kind) {
  flag_to_set = flag;
  flag_kind = kind;
  flag_at = flag != nullptr ? completed(kind) + count : 0;
}

unsigned long completed(Sync kind) { return completed_syncs[static_cast<int>(kind)]; }

ThreadAsync& thread_async() { return fibers[current].async; }

void launch(dim3 grid, unsigned threads, size_t shared, const std::function<void()>& kernel) {
  if (threads == 0 || threads > 1024) fatal("bad block size");
  if (shared > kSharedBytes) fatal("too much dynamic shared memory");
  gridDim = grid;
  blockDim = dim3{threads, 1, 1};
  body = &kernel;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = uint3{x, y, z};
        std::memset(shared_memory, 0xFF, kSharedBytes);
        run_block(threads);
      }
  body = nullptr;
}

bool syncthreads_or(bool predicate) {
  const unsigned generation = barrier_generation;
  progress = true;
  barrier_or_pending = barrier_or_pending || predicate;
  if (++barrier_arrived == block_threads) {
    barrier_arrived = 0;
    // Every thread reads the result before it can reach the next barrier, whose last arrival
    // is the next to write it.
    barrier_or_result = barrier_or_pending;
    barrier_or_pending = false;
    ++barrier_generation;
    complete(Sync::barrier);
    return barrier_or_result;
  }
  yield();
  while (barrier_generation == generation) {
    yield();
  }
  progress = true;
  return barrier_or_result;
}

void syncthreads() { syncthreads_or(false); }

void warp_collective(int op, const void* in, size_t in_bytes, void* out, size_t out_bytes,
                     void (*compute)(WarpExchange&)) {
  Warp& w = warps[current / 32];
  const unsigned lane = current % 32;
  const int lanes = static_cast<int>(std::min(32u, block_threads - (current / 32) * 32));
  if (w.arrived == 0) {
    w.op = op;
  } else if (w.op != op) {
    fatal("warp collective mismatch: lanes of one warp called different operations");
  }
  std::memcpy(w.exchange.in[lane], in, in_bytes);
  const unsigned generation = w.generation;
  progress = true;
  if (++w.arrived == lanes) {
    w.exchange.lanes = lanes;
    compute(w.exchange);
    w.arrived = 0;
    ++w.generation;
    complete(Sync::collective);
  } else {
    yield();
    while (w.generation == generation) yield();
    progress = true;
  }
  std::memcpy(out, w.exchange.out[lane], out_bytes);
}

float shfl_xor(float v, int mask) {
  const struct {
    float v;
    int mask;
  } in = {v, mask};
  float r;
  warp_collective(1, &in, sizeof(in), &r, 4, [](WarpExchange& x) {
    int mask0;
    std::memcpy(&mask0, x.in[0] + 4, 4);
    for (int l = 0; l < x.lanes; ++l) {
      int m;
      std::memcpy(&m, x.in[l] + 4, 4);
      const int src = l ^ m;
      if (m != mask0) fatal("lanes of one shuffle use different masks");
      if (src >= x.lanes) fatal("shuffle from a lane outside the warp");
      std::memcpy(x.out[l], x.in[src], 4);
    }
  });
  return r;
}

bool any_sync(unsigned mask, bool predicate) {
  const struct {
    unsigned mask;
    int predicate;
  } in = {mask, predicate ? 1 : 0};
  int r;
  warp_collective(4, &in, sizeof(in), &r, 4, [](WarpExchange& x) {
    unsigned mask0;
    std::memcpy(&mask0, x.in[0], 4);
    if (mask0 != (x.lanes == 32 ? 0xffffffffu : (1u << x.lanes) - 1))
      fatal("a vote's mask must name every lane of the warp");
    int any = 0;
    for (int l = 0; l < x.lanes; ++l) {
      unsigned m;
      int p;
      std::memcpy(&m, x.in[l], 4);
      std::memcpy(&p, x.in[l] + 4, 4);
      if (m != mask0) fatal("lanes of one vote use different masks");
      any |= p;
    }
    for (int l = 0; l < x.lanes; ++l) std::memcpy(x.out[l], &any, 4);
  });
  return r != 0;
}

}  // namespace emu
