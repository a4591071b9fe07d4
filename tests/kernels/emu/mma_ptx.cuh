// mma_ptx.cuh for the CPU emulator: replaces src/kernels/mma_ptx.cuh in the emulator's copy of the
// templates. Fragment layouts follow the PTX ISA: ldmatrix .x4 (lanes 8j..8j+7 address the rows
// of matrix j; lane l receives row l / 4, columns 2 (l % 4) and + 1 of each matrix) and
// mma.m16n8k16 .row.col with f16 inputs and f32 accumulators (g = lane / 4, t = lane % 4:
// A {(g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)}, B {(k 2t..2t+1, n g),
// (k 2t+8.., n g)}, C/D {(g, 2t..2t+1), (g+8, 2t..2t+1)}). cp.async copies land when a
// cp.async.wait_group retires their group: the latest moment the hardware allows.
#pragma once

#include "reef_kernel.cuh"

namespace reef {
namespace mma {

inline unsigned smem_address(const void* p) {
  const unsigned char* q = static_cast<const unsigned char*>(p);
  const unsigned char* base = emu::shared_base();
  if (q < base || q >= base + emu::kSharedBytes) emu::fatal("address is not shared memory");
  return static_cast<unsigned>(q - base);
}

inline void cp_async16(unsigned dst, const void* src, bool valid) {
  if (dst % 16 != 0) emu::fatal("misaligned cp.async destination");
  if (valid && reinterpret_cast<uintptr_t>(src) % 16 != 0) emu::fatal("misaligned cp.async source");
  emu::thread_async().open.push_back(emu::AsyncCopy{dst, src, valid});
}

inline void cp_async_commit() {
  emu::ThreadAsync& a = emu::thread_async();
  a.committed.push_back(std::move(a.open));
  a.open.clear();
}

template <int PENDING>
inline void cp_async_wait() {
  emu::ThreadAsync& a = emu::thread_async();
  while (a.committed.size() > static_cast<size_t>(PENDING)) {
    for (const emu::AsyncCopy& c : a.committed.front()) {
      if (c.valid) {
        std::memcpy(emu::shared_base() + c.dst, c.src, 16);
      } else {
        std::memset(emu::shared_base() + c.dst, 0, 16);
      }
    }
    a.committed.erase(a.committed.begin());
  }
}

inline void ldmatrix_x4(unsigned (&r)[4], unsigned address) {
  if (address % 16 != 0) emu::fatal("misaligned ldmatrix row");
  emu::warp_collective(2, &address, 4, r, 16, [](emu::WarpExchange& x) {
    if (x.lanes != 32) emu::fatal("ldmatrix needs a full warp");
    for (int l = 0; l < 32; ++l) {
      unsigned regs[4];
      for (int j = 0; j < 4; ++j) {
        unsigned row;
        std::memcpy(&row, x.in[8 * j + l / 4], 4);
        std::memcpy(&regs[j], emu::shared_base() + row + 4 * (l % 4), 4);
      }
      std::memcpy(x.out[l], regs, 16);
    }
  });
}

inline float half_at(unsigned reg, int which) {
  return check::half_to_float(static_cast<uint16_t>(which == 0 ? reg & 0xffffu : reg >> 16));
}

inline void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  struct Operands {
    unsigned a[4], b[2];
    float c[4];
  } in;
  std::memcpy(in.a, a, 16);
  in.b[0] = b0;
  in.b[1] = b1;
  std::memcpy(in.c, d, 16);
  emu::warp_collective(3, &in, sizeof(in), d, 16, [](emu::WarpExchange& x) {
    if (x.lanes != 32) emu::fatal("mma.sync needs a full warp");
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      Operands o;
      std::memcpy(&o, x.in[l], sizeof(o));
      const int g = l / 4, t = l % 4;
      for (int e = 0; e < 2; ++e) {
        A[g][2 * t + e] = half_at(o.a[0], e);
        A[g + 8][2 * t + e] = half_at(o.a[1], e);
        A[g][2 * t + 8 + e] = half_at(o.a[2], e);
        A[g + 8][2 * t + 8 + e] = half_at(o.a[3], e);
        B[2 * t + e][g] = half_at(o.b[0], e);
        B[2 * t + 8 + e][g] = half_at(o.b[1], e);
        C[g][2 * t + e] = o.c[e];
        C[g + 8][2 * t + e] = o.c[2 + e];
      }
    }
    for (int l = 0; l < 32; ++l) {
      const int g = l / 4, t = l % 4;
      float out[4];
      for (int e = 0; e < 4; ++e) {
        const int row = g + (e / 2) * 8, col = 2 * t + e % 2;
        double acc = C[row][col];
        for (int k = 0; k < 16; ++k) acc += static_cast<double>(A[row][k]) * B[k][col];
        out[e] = static_cast<float>(acc);
      }
      std::memcpy(x.out[l], out, 16);
    }
  });
}

}  // namespace mma
}  // namespace reef
