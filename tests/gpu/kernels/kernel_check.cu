// kernel_check.cu: standalone GPU check of the generated kernels (CUDA runtime API only; the
// kernel binaries are loaded at run time with cudaLibraryLoadFromFile, as the executor does).
//
//   kernel_check <manifest.txt> [--seed N] [--reps N] [--filter TEXT] [--no-timing] [--list]
//                [--reference]
//
// --list parses the manifest and prints its cases and launches without touching a GPU.
// --reference computes every case's inputs and float64 reference on the CPU, without a GPU, and
// prints the seconds each took: CI runs it, since a reference that takes minutes per case keeps
// the GPU check from finishing within its time on the GPU host.
// For every case of the manifest (tests/gpu/kernels/bundle.ts), with fresh random inputs:
// 1. raw build vs the float64 CPU reference: relative L2 error (< 1e-2 fp16, < 1e-5 fp32), every
//    element of the output window written (outputs are poisoned with NaN first), nothing written
//    outside the window;
// 2. BE build, flag clear: bit-identical to raw, no launch sets its stop mark;
// 3. BE build, flag set: writes nothing, every launch sets its stop mark;
// 4. DKP build through reef_dkp_run (half as many proxy blocks as virtual blocks): bit-identical;
// 5. timing with events, median of --reps runs: raw warm (inputs in L2), raw cold (L2 flushed by a
//    256 MB memset before each run), BE and DKP warm.
// One line per case, a summary, exit status 1 if any case failed (2 on a CUDA error).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "check_common.h"

#define CHECK(call)                                                                   \
  do {                                                                                \
    const cudaError_t status_ = (call);                                               \
    if (status_ != cudaSuccess) {                                                     \
      std::fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call, \
                   cudaGetErrorName(status_), cudaGetErrorString(status_));           \
      std::exit(2);                                                                   \
    }                                                                                 \
  } while (0)

namespace {

struct Options {
  std::string manifest, filter;
  uint64_t seed = 0;
  int reps = 50;
  bool timing = true;
  bool list = false;
  bool reference = false;
};

struct Libraries {
  cudaLibrary_t raw = nullptr, be = nullptr, dkp = nullptr;
};

cudaLibrary_t load_library(const std::string& path) {
  cudaLibrary_t lib;
  const cudaError_t status =
      cudaLibraryLoadFromFile(&lib, path.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0);
  if (status != cudaSuccess) {
    std::fprintf(stderr, "cannot load \"%s\": %s\n", path.c_str(), cudaGetErrorString(status));
    std::exit(2);
  }
  return lib;
}

cudaKernel_t get_kernel(cudaLibrary_t lib, const std::string& name, size_t smem, int device) {
  cudaKernel_t k;
  CHECK(cudaLibraryGetKernel(&k, lib, name.c_str()));
  CHECK(cudaKernelSetAttributeForDevice(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(std::max<size_t>(smem, 48 * 1024)),
                                        device));
  return k;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// A preempt flag's allocation, as src/gpu/device.ts makes it: conv_mma's PipelineCheck copies all 16
// bytes into shared memory with one cp.async.
constexpr size_t kFlagBytes = 16;

// Whether --filter lets the case run.
bool selected(const Options& o, const check::Case& c) {
  return o.filter.empty() || c.name.find(o.filter) != std::string::npos;
}

// The random source of a case's inputs: its own stream of the run's seed.
std::mt19937_64 case_rng(const Options& o, const check::Case& c) {
  return std::mt19937_64(o.seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(c.index + 1)));
}

// Device copies of a case's storages.
struct DeviceCase {
  std::map<std::string, void*> ptr;
  void* flag = nullptr;         // int, in a 16-byte allocation (kFlagBytes)
  unsigned* marks = nullptr;    // one stop mark per launch
  std::vector<void*> params;    // DKP params per launch (device arrays of pointers)

  ~DeviceCase() {
    for (auto& [name, p] : ptr) cudaFree(p);
    for (void* p : params) cudaFree(p);
    cudaFree(flag);
    cudaFree(marks);
  }
};

class Checker {
 public:
  Checker(const Options& o, const check::Manifest& m) : opt_(o), manifest_(m) {
    CHECK(cudaGetDevice(&device_));
    CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CHECK(cudaEventCreate(&start_));
    CHECK(cudaEventCreate(&stop_));
    CHECK(cudaMalloc(&flush_, kFlushBytes));
    for (const check::Module& mod : m.modules) {
      Libraries lib;
      lib.raw = load_library(m.dir + "/" + mod.raw);
      lib.be = load_library(m.dir + "/" + mod.be);
      lib.dkp = load_library(m.dir + "/" + mod.dkp);
      libs_[mod.name] = lib;
    }
  }

  ~Checker() {
    cudaFree(flush_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream_);
    for (auto& [name, lib] : libs_) {
      cudaLibraryUnload(lib.raw);
      cudaLibraryUnload(lib.be);
      cudaLibraryUnload(lib.dkp);
    }
  }

  bool run(const check::Case& c) {
    const check::Module& mod = manifest_.module(c.module);
    const Libraries& lib = libs_.at(mod.name);
    std::mt19937_64 rng = case_rng(opt_, c);
    check::Buffers host = check::make_buffers(c, rng);
    DeviceCase dev;
    for (const check::Storage& s : c.storages) {
      CHECK(cudaMalloc(&dev.ptr[s.name], s.bytes()));
      CHECK(cudaMemcpy(dev.ptr[s.name], host.at(s.name).bytes.data(), s.bytes(),
                       cudaMemcpyHostToDevice));
    }
    CHECK(cudaMalloc(&dev.flag, kFlagBytes));
    CHECK(cudaMemset(dev.flag, 0, kFlagBytes));
    CHECK(cudaMalloc(&dev.marks, sizeof(unsigned) * c.launches.size()));

    size_t max_smem = 0;
    std::vector<cudaKernel_t> raw, be;
    std::vector<void*> bodies;
    for (const check::Launch& l : c.launches) {
      raw.push_back(get_kernel(lib.raw, l.kernel, l.smem, device_));
      be.push_back(get_kernel(lib.be, l.kernel, l.smem, device_));
      void* symbol = nullptr;
      size_t bytes = 0;
      CHECK(cudaLibraryGetGlobal(&symbol, &bytes, lib.dkp, (l.kernel + "_body").c_str()));
      void* fn = nullptr;
      CHECK(cudaMemcpy(&fn, symbol, sizeof(fn), cudaMemcpyDeviceToHost));
      bodies.push_back(fn);
      std::vector<void*> pointers = args_of(l, dev);
      void* params = nullptr;
      CHECK(cudaMalloc(&params, sizeof(void*) * pointers.size()));
      CHECK(cudaMemcpy(params, pointers.data(), sizeof(void*) * pointers.size(),
                       cudaMemcpyHostToDevice));
      dev.params.push_back(params);
      max_smem = std::max<size_t>(max_smem, l.smem);
    }
    const cudaKernel_t proxy = get_kernel(lib.dkp, "reef_dkp_run", max_smem, device_);

    // 1. Raw vs the reference.
    launch_raw(c, raw, dev);
    CHECK(cudaStreamSynchronize(stream_));
    const check::Expected expected = check::reference(c, host);
    const std::string out_name = expected.output.storage;
    download(c, dev, host);
    const check::Comparison cmp = check::compare(expected, host.at(out_name));
    const std::vector<uint8_t> raw_bytes = host.at(out_name).bytes;

    // 2. BE, flag clear.
    poison(c, dev);
    set_flag(dev, 0);
    launch_be(c, be, dev);
    CHECK(cudaStreamSynchronize(stream_));
    download(c, dev, host);
    const bool be_same = host.at(out_name).bytes == raw_bytes;
    const bool unmarked = marks_equal(c, dev, 0);

    // 3. BE, flag set.
    poison(c, dev);
    set_flag(dev, 1);
    launch_be(c, be, dev);
    CHECK(cudaStreamSynchronize(stream_));
    download(c, dev, host);
    const bool flag_ok = check::all_poison(host.at(out_name)) && marks_equal(c, dev, 1);
    set_flag(dev, 0);

    // 4. DKP.
    poison(c, dev);
    launch_dkp(c, proxy, bodies, dev);
    CHECK(cudaStreamSynchronize(stream_));
    download(c, dev, host);
    const bool dkp_same = host.at(out_name).bytes == raw_bytes;

    const bool ok =
        cmp.ok(check::tolerance(mod.precision)) && be_same && unmarked && flag_ok && dkp_same;
    std::printf("%s %-28s [%s %s", ok ? "PASS" : "FAIL", c.name.c_str(),
                mod.precision == "float16" ? "f16" : "f32", c.kind.c_str());
    for (size_t i = 0; i < c.launches.size(); ++i) {
      const check::Launch& l = c.launches[i];
      cudaFuncAttributes attr;
      CHECK(cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(raw[i])));
      int per_sm = 0;
      CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &per_sm, reinterpret_cast<const void*>(raw[i]), static_cast<int>(l.block), l.smem));
      std::printf(" | %s %s %ux%ux%u b%u smem%u regs%d local%zu occ%d", l.kernel.c_str(),
                  l.path.c_str(), l.grid[0], l.grid[1], l.grid[2], l.block, l.smem, attr.numRegs,
                  attr.localSizeBytes, per_sm);
    }
    std::printf("] relL2=%.2e unwritten=%zu outside=%zu be=%s unmarked=%s flag-set=%s dkp=%s",
                cmp.rel_l2, cmp.bad_window, cmp.bad_outside, be_same ? "ok" : "DIFFERS",
                unmarked ? "ok" : "MARKED", flag_ok ? "ok" : "WRONG", dkp_same ? "ok" : "DIFFERS");
    if (opt_.timing) {
      const double warm = time_us(c, [&] { launch_raw(c, raw, dev); }, false);
      const double cold = time_us(c, [&] { launch_raw(c, raw, dev); }, true);
      const double be_us = time_us(c, [&] { launch_be(c, be, dev); }, false);
      const double dkp_us = time_us(c, [&] { launch_dkp(c, proxy, bodies, dev); }, false);
      std::printf(" raw=%.2fus cold=%.2fus be=%.2fus(%+.1f%%) dkp=%.2fus", warm, cold, be_us,
                  warm > 0 ? 100.0 * (be_us - warm) / warm : 0.0, dkp_us);
    }
    std::printf("\n");
    std::fflush(stdout);
    return ok;
  }

 private:
  static constexpr size_t kFlushBytes = 256u << 20;

  std::vector<void*> args_of(const check::Launch& l, DeviceCase& dev) {
    std::vector<void*> out;
    for (const std::string& a : l.args) out.push_back(dev.ptr.at(a));
    return out;
  }

  void launch_raw(const check::Case& c, const std::vector<cudaKernel_t>& k, DeviceCase& dev) {
    for (size_t i = 0; i < c.launches.size(); ++i) {
      const check::Launch& l = c.launches[i];
      std::vector<void*> pointers = args_of(l, dev);
      std::vector<void*> args;
      for (void*& p : pointers) args.push_back(&p);
      CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(k[i]), grid_of(l), dim3(l.block),
                             args.data(), l.smem, stream_));
      CHECK(cudaGetLastError());
    }
  }

  void launch_be(const check::Case& c, const std::vector<cudaKernel_t>& k, DeviceCase& dev) {
    CHECK(cudaMemsetAsync(dev.marks, 0, sizeof(unsigned) * c.launches.size(), stream_));
    for (size_t i = 0; i < c.launches.size(); ++i) {
      const check::Launch& l = c.launches[i];
      std::vector<void*> pointers = args_of(l, dev);
      void* flag = dev.flag;
      void* mark = dev.marks + i;
      std::vector<void*> args = {&flag, &mark};
      for (void*& p : pointers) args.push_back(&p);
      CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(k[i]), grid_of(l), dim3(l.block),
                             args.data(), l.smem, stream_));
      CHECK(cudaGetLastError());
    }
  }

  void launch_dkp(const check::Case& c, cudaKernel_t proxy, const std::vector<void*>& bodies,
                  DeviceCase& dev) {
    for (size_t i = 0; i < c.launches.size(); ++i) {
      const check::Launch& l = c.launches[i];
      void* fn = bodies[i];
      void* params = dev.params[i];
      unsigned gx = l.grid[0], gy = l.grid[1], gz = l.grid[2];
      void* args[] = {&fn, &params, &gx, &gy, &gz};
      const unsigned blocks = std::max(1u, (l.blocks() + 1) / 2);
      CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(proxy), dim3(blocks), dim3(l.block),
                             args, l.smem, stream_));
      CHECK(cudaGetLastError());
    }
  }

  static dim3 grid_of(const check::Launch& l) { return dim3(l.grid[0], l.grid[1], l.grid[2]); }

  void poison(const check::Case& c, DeviceCase& dev) {
    for (const check::Storage& s : c.storages) {
      if (s.role != "in") CHECK(cudaMemsetAsync(dev.ptr.at(s.name), 0xFF, s.bytes(), stream_));
    }
  }

  void set_flag(DeviceCase& dev, int value) {
    CHECK(cudaMemcpy(dev.flag, &value, sizeof(int), cudaMemcpyHostToDevice));
  }

  void download(const check::Case& c, DeviceCase& dev, check::Buffers& host) {
    for (const check::Storage& s : c.storages) {
      if (s.role == "out") {
        CHECK(cudaMemcpy(host.at(s.name).bytes.data(), dev.ptr.at(s.name), s.bytes(),
                         cudaMemcpyDeviceToHost));
      }
    }
  }

  // Whether every launch's stop mark is `expected`.
  bool marks_equal(const check::Case& c, DeviceCase& dev, unsigned expected) {
    std::vector<unsigned> marks(c.launches.size());
    CHECK(cudaMemcpy(marks.data(), dev.marks, sizeof(unsigned) * marks.size(),
                     cudaMemcpyDeviceToHost));
    for (unsigned mark : marks) {
      if (mark != expected) return false;
    }
    return true;
  }

  template <typename Launches>
  double time_us(const check::Case& c, Launches launches, bool cold) {
    (void)c;
    for (int i = 0; i < 3; ++i) launches();
    CHECK(cudaStreamSynchronize(stream_));
    std::vector<double> samples;
    for (int r = 0; r < opt_.reps; ++r) {
      if (cold) CHECK(cudaMemsetAsync(flush_, r & 0xFF, kFlushBytes, stream_));
      CHECK(cudaEventRecord(start_, stream_));
      launches();
      CHECK(cudaEventRecord(stop_, stream_));
      CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      samples.push_back(1000.0 * ms);
    }
    return median(samples);
  }

  const Options& opt_;
  const check::Manifest& manifest_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  void* flush_ = nullptr;
  std::map<std::string, Libraries> libs_;
};

Options parse(int argc, char** argv) {
  Options o;
  o.seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "option %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seed") {
      o.seed = std::stoull(value());
    } else if (a == "--reps") {
      o.reps = std::max(1, std::stoi(value()));
    } else if (a == "--filter") {
      o.filter = value();
    } else if (a == "--no-timing") {
      o.timing = false;
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--reference") {
      o.reference = true;
    } else if (o.manifest.empty() && a[0] != '-') {
      o.manifest = a;
    } else {
      std::fprintf(stderr, "unknown argument \"%s\"\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.manifest.empty()) {
    std::fprintf(stderr,
                 "usage: kernel_check <manifest.txt> [--seed N] [--reps N] [--filter TEXT] "
                 "[--no-timing] [--list] [--reference]\n");
    std::exit(2);
  }
  return o;
}

// --reference: every case's inputs and float64 reference on the CPU, timed; fails on a reference
// value that is not finite.
int time_references(const Options& opt, const check::Manifest& manifest) {
  int cases = 0, bad = 0;
  for (const check::Case& c : manifest.cases) {
    if (!selected(opt, c)) continue;
    const auto start = std::chrono::steady_clock::now();
    std::mt19937_64 rng = case_rng(opt, c);
    const check::Buffers host = check::make_buffers(c, rng);
    const check::Expected expected = check::reference(c, host);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    const bool finite = std::all_of(expected.values.begin(), expected.values.end(),
                                    [](double v) { return std::isfinite(v); });
    std::printf("reference %-28s %zu values%s in %.2f s\n", c.name.c_str(),
                expected.values.size(), finite ? "" : " NOT FINITE", took.count());
    ++cases;
    if (!finite) ++bad;
  }
  std::printf("kernel_check: %d references, %d not finite\n", cases, bad);
  return cases > 0 && bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  check::Manifest manifest;
  try {
    manifest = check::read_manifest(opt.manifest);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_check: %s\n", e.what());
    return 2;
  }
  if (opt.list) {
    for (const check::Case& c : manifest.cases) {
      std::printf("%s %s %s:", c.name.c_str(), c.module.c_str(), c.kind.c_str());
      for (const check::Launch& l : c.launches) {
        std::printf(" %s(%s %ux%ux%u b%u smem%u)", l.kernel.c_str(), l.path.c_str(), l.grid[0],
                    l.grid[1], l.grid[2], l.block, l.smem);
      }
      std::printf("\n");
    }
    std::printf("%zu cases in %zu modules\n", manifest.cases.size(), manifest.modules.size());
    return manifest.cases.empty() ? 1 : 0;
  }
  // One line per case as it ends, also into a pipe: a hang then shows where it is.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (opt.reference) {
    try {
      return time_references(opt, manifest);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kernel_check: %s\n", e.what());
      return 2;
    }
  }
  CHECK(cudaSetDevice(0));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs, cc %d.%d, %zu KB smem/block opt-in; seed %llu; %d reps\n",
              prop.name, prop.multiProcessorCount, prop.major, prop.minor,
              prop.sharedMemPerBlockOptin / 1024, static_cast<unsigned long long>(opt.seed),
              opt.reps);
  int passed = 0, failed = 0;
  try {
    Checker checker(opt, manifest);
    for (const check::Case& c : manifest.cases) {
      if (!selected(opt, c)) continue;
      std::fprintf(stderr, "running %s\n", c.name.c_str());
      (checker.run(c) ? passed : failed)++;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_check: %s\n", e.what());
    return 2;
  }
  std::printf("kernel_check: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
