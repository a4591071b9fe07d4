// emu_check.cpp: runs one module of a kernel-check bundle (tests/gpu/kernels/bundle.ts) on the
// CPU emulator. Per case:
// - raw build against the float64 reference (relative L2 error, every window element written,
//   nothing written outside the window);
// - DKP build through reef_dkp_run with fewer proxy blocks than virtual blocks: bit-exact;
// - padding launches: each launch's padding launch runs on a copy of the buffers while its own
//   blocks, as the BE blocks of two padded launches, run on the buffers: both bit-exact;
// - BE build with the flag clear: bit-exact, no launch marked stopped; with the flag set: nothing
//   written, every launch marked;
// - BE abort: for each launch, the flag is raised at a few of its barriers (one inside the
//   first block's main loop); re-running from that launch with the flag clear (the scheduler's
//   restore) must give the raw output bit for bit. A body that stops in some threads only
//   deadlocks at its next barrier: fatal here.
//
//   emu_check <manifest.txt> <module> [seed]
//
// The three entry points below are generated per module (emu_raw/dkp/be_<module>.cpp).
#include <cinttypes>
#include <cstdio>
#include <string>
#include <utility>

#include "../../gpu/kernels/check_common.h"
#include "emu_runtime.h"

bool emu_run_raw(const std::string& name, void* const* args, dim3 grid, unsigned threads,
                 size_t shared);
bool emu_run_dkp(const std::string& name, const void* params, dim3 grid, unsigned threads,
                 size_t shared, unsigned proxy_blocks);
bool emu_run_pad(const std::string& name, void* const* rt_args, const void* be_params, dim3 grid,
                 unsigned threads, size_t shared, unsigned first, unsigned count);
bool emu_run_be(const std::string& name, const int* flag, unsigned* mark, void* const* args,
                dim3 grid, unsigned threads, size_t shared);

namespace {

void poison_outputs(check::Buffers& bufs) {
  for (auto& [name, b] : bufs) {
    if (b.storage->role != "in") std::fill(b.bytes.begin(), b.bytes.end(), 0xFF);
  }
}

std::vector<void*> pointers(const check::Launch& l, check::Buffers& bufs) {
  std::vector<void*> out;
  for (const std::string& a : l.args) out.push_back(bufs.at(a).bytes.data());
  return out;
}

bool run_case(const check::Case& c, const std::string& precision, uint64_t seed) {
  std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(c.index + 1)));
  check::Buffers bufs = check::make_buffers(c, rng);
  for (const check::Launch& l : c.launches) {
    std::vector<void*> args = pointers(l, bufs);
    if (!emu_run_raw(l.kernel, args.data(), dim3{l.grid[0], l.grid[1], l.grid[2]}, l.block,
                     l.smem)) {
      std::printf("FAIL %s: kernel %s is not in the raw build\n", c.name.c_str(), l.kernel.c_str());
      return false;
    }
  }
  const check::Expected expected = check::reference(c, bufs);
  const check::Buffer& out = bufs.at(expected.output.storage);
  const check::Comparison cmp = check::compare(expected, out);
  const std::vector<uint8_t> raw_bytes = out.bytes;

  poison_outputs(bufs);
  for (const check::Launch& l : c.launches) {
    std::vector<void*> params = pointers(l, bufs);
    const unsigned proxy_blocks = l.blocks() > 1 ? (l.blocks() + 1) / 2 : 1;
    if (!emu_run_dkp(l.kernel, params.data(), dim3{l.grid[0], l.grid[1], l.grid[2]}, l.block,
                     l.smem, proxy_blocks)) {
      std::printf("FAIL %s: kernel %s is not in the DKP build\n", c.name.c_str(), l.kernel.c_str());
      return false;
    }
  }
  const bool dkp_same = bufs.at(expected.output.storage).bytes == raw_bytes;

  poison_outputs(bufs);
  check::Buffers rt_bufs = bufs;
  for (const check::Launch& l : c.launches) {
    std::vector<void*> rt_args = pointers(l, rt_bufs);
    std::vector<void*> be_params = pointers(l, bufs);
    const unsigned n = l.blocks(), half = n / 2;
    for (const auto& [first, count] : {std::pair{0u, half}, std::pair{half, n - half}}) {
      if (count == 0) continue;
      if (!emu_run_pad(l.kernel, rt_args.data(), be_params.data(),
                       dim3{l.grid[0], l.grid[1], l.grid[2]}, l.block, l.smem, first, count)) {
        emu::fatal("a kernel's padding launch is missing from the DKP build");
      }
    }
  }
  const bool pad_same = bufs.at(expected.output.storage).bytes == raw_bytes &&
                        rt_bufs.at(expected.output.storage).bytes == raw_bytes;

  // BE, flag clear, then set.
  alignas(16) int flag_bytes[4] = {};  // a flag allocation is 16 bytes (PipelineCheck copies 16)
  int& flag = flag_bytes[0];
  // Runs launch i of the BE build and returns its stop mark (zeroed before the launch).
  auto run_be = [&](size_t i) {
    const check::Launch& l = c.launches[i];
    std::vector<void*> args = pointers(l, bufs);
    unsigned mark = 0;
    if (!emu_run_be(l.kernel, flag_bytes, &mark, args.data(), dim3{l.grid[0], l.grid[1], l.grid[2]},
                    l.block, l.smem)) {
      emu::fatal("a kernel is missing from the BE build");
    }
    return mark;
  };
  poison_outputs(bufs);
  bool unmarked = true;
  std::vector<unsigned long> barriers(c.launches.size()), collectives(c.launches.size());
  for (size_t i = 0; i < c.launches.size(); ++i) {
    const unsigned long barriers_before = emu::completed(emu::Sync::barrier);
    const unsigned long collectives_before = emu::completed(emu::Sync::collective);
    unmarked = unmarked && run_be(i) == 0;
    barriers[i] = emu::completed(emu::Sync::barrier) - barriers_before;
    collectives[i] = emu::completed(emu::Sync::collective) - collectives_before;
  }
  const bool be_same = bufs.at(expected.output.storage).bytes == raw_bytes;
  poison_outputs(bufs);
  flag = 1;
  bool flagged = true;
  for (size_t i = 0; i < c.launches.size(); ++i) flagged = flagged && run_be(i) == 1;
  flagged = flagged && check::all_poison(bufs.at(expected.output.storage));

  // BE abort inside launch i, then restore from launch i. The flag rises at its 2nd barrier
  // (inside the first block's main loop where it has one), at its middle barrier and one later;
  // and at its first warp collective, so that in a body whose warps check on their own (no
  // barrier: EntryCheck::stop) the first warp goes on while the others stop.
  bool restored = true;
  for (size_t i = 0; i < c.launches.size(); ++i) {
    const std::pair<emu::Sync, unsigned long> triggers[] = {
        {emu::Sync::barrier, 2ul},
        {emu::Sync::barrier, barriers[i] / 2},
        {emu::Sync::barrier, barriers[i] / 2 + 1},
        {emu::Sync::collective, 1ul},
    };
    for (const auto& [kind, at] : triggers) {
      const unsigned long count = kind == emu::Sync::barrier ? barriers[i] : collectives[i];
      if (at == 0 || at > count) continue;
      poison_outputs(bufs);
      flag = 0;
      for (size_t j = 0; j < i; ++j) run_be(j);
      emu::set_flag_after(&flag, at, kind);
      run_be(i);
      emu::set_flag_after(nullptr, 0);
      flag = 0;
      for (size_t j = i; j < c.launches.size(); ++j) run_be(j);
      restored = restored && bufs.at(expected.output.storage).bytes == raw_bytes;
    }
  }

  const bool ok = cmp.ok(check::tolerance(precision)) && dkp_same && pad_same && be_same &&
                  unmarked && flagged && restored;
  std::printf(
      "%s %s [%s %s x%zu] relL2=%.2e maxAbs=%.2e unwritten=%zu outside=%zu dkp=%s pad=%s be=%s "
      "unmarked=%s flag-set=%s abort-restore=%s\n",
      ok ? "PASS" : "FAIL", c.name.c_str(), precision.c_str(), c.kind.c_str(), c.launches.size(),
      cmp.rel_l2, cmp.max_abs, cmp.bad_window, cmp.bad_outside, dkp_same ? "bit-exact" : "DIFFERS",
      pad_same ? "bit-exact" : "DIFFERS",
      be_same ? "bit-exact" : "DIFFERS", unmarked ? "ok" : "MARKED", flagged ? "ok" : "WRONG",
      restored ? "ok" : "WRONG");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <manifest.txt> <module> [seed]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line per case as it finishes
  const uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 1;
  try {
    const check::Manifest manifest = check::read_manifest(argv[1]);
    const check::Module& module = manifest.module(argv[2]);
    int passed = 0, failed = 0;
    for (const check::Case& c : manifest.cases) {
      if (c.module != module.name) continue;
      (run_case(c, module.precision, seed) ? passed : failed)++;
    }
    std::printf("emulator %s seed %" PRIu64 ": %d passed, %d failed\n", module.name.c_str(), seed,
                passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emu_check: %s\n", e.what());
    return 2;
  }
}
