// reef_gpu.cpp: the implementation of reef_gpu.h over the driver named by gpu_api.h.
//
// Every handle starts with an Object header: a magic number and kind (so a stale or foreign pointer
// is rejected instead of dereferenced), and the handle's last error message behind a mutex (calls
// on one handle may come from several threads). Children count themselves in their parent, so a
// device or module cannot be closed under live handles: that is reported, not crashed on.
#include "reef_gpu.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "gpu_api.h"

namespace {

constexpr uint32_t kMagic = 0x52454546u;  // "REEF"
enum Kind : uint32_t { kDevice = 1, kModule, kKernel, kBuffer, kHostBuffer, kStream, kEvent };

std::atomic<int64_t> g_live{0};

struct Object {
  uint32_t magic = kMagic;
  Kind kind;
  std::mutex mutex;
  char message[1024] = {0};
  explicit Object(Kind k) : kind(k) { g_live.fetch_add(1); }
  ~Object() {
    magic = 0;
    g_live.fetch_sub(1);
  }
};

void copy_message(char* out, uint32_t capacity, const char* text) {
  if (out == nullptr || capacity == 0) return;
  snprintf(out, capacity, "%s", text);
}

void set_message(Object* object, const char* format, ...) {
  std::lock_guard<std::mutex> lock(object->mutex);
  va_list args;
  va_start(args, format);
  vsnprintf(object->message, sizeof object->message, format, args);
  va_end(args);
}

template <typename T>
bool valid(const T* handle, Kind kind) {
  return handle != nullptr && handle->magic == kMagic && handle->kind == kind;
}

// ---- the driver's entry points, resolved at run time ----

struct Api {
#define REEF_DECLARE(generic, symbol) decltype(&::symbol) generic = nullptr;
  GPU_FUNCTIONS(REEF_DECLARE)
#undef REEF_DECLARE
};

Api api;
std::mutex g_init_mutex;
bool g_initialized = false;
reef_status g_init_status = REEF_ERROR_NOT_INITIALIZED;
char g_init_message[1024] = "reef_init() has not been called";

const char* error_name(gpu_result result) {
  if (api.GetErrorName == nullptr) return "unknown";
#if defined(REEF_HIP)
  return api.GetErrorName(result);
#else
  const char* name = nullptr;
  return api.GetErrorName(result, &name) == GPU_SUCCESS && name ? name : "unknown";
#endif
}

const char* error_string(gpu_result result) {
  if (api.GetErrorString == nullptr) return "";
#if defined(REEF_HIP)
  return api.GetErrorString(result);
#else
  const char* text = nullptr;
  return api.GetErrorString(result, &text) == GPU_SUCCESS && text ? text : "";
#endif
}

reef_status status_of(gpu_result result) {
  switch (result) {
#if defined(REEF_HIP)
    case hipErrorOutOfMemory: return REEF_ERROR_OUT_OF_MEMORY;
    case hipErrorInvalidImage:
    case hipErrorNoBinaryForGpu:
    case hipErrorInvalidKernelFile: return REEF_ERROR_INVALID_IMAGE;
    case hipErrorNotFound: return REEF_ERROR_NOT_FOUND;
    case hipErrorLaunchOutOfResources:
    case hipErrorInvalidConfiguration: return REEF_ERROR_LAUNCH;
    case hipErrorNoDevice:
    case hipErrorInvalidDevice: return REEF_ERROR_NO_DEVICE;
    case hipErrorInvalidValue: return REEF_ERROR_INVALID_ARGUMENT;
#else
    case CUDA_ERROR_OUT_OF_MEMORY: return REEF_ERROR_OUT_OF_MEMORY;
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return REEF_ERROR_INVALID_IMAGE;
    case CUDA_ERROR_NOT_FOUND: return REEF_ERROR_NOT_FOUND;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return REEF_ERROR_LAUNCH;
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_INVALID_DEVICE: return REEF_ERROR_NO_DEVICE;
    case CUDA_ERROR_INVALID_VALUE: return REEF_ERROR_INVALID_ARGUMENT;
#endif
    default: return REEF_ERROR_DRIVER;
  }
}

// Records "<operation>: <driver error name>: <text>" in the handle and returns its status.
reef_status fail(Object* object, const char* operation, gpu_result result) {
  set_message(object, "%s failed: %s (%d): %s", operation, error_name(result), (int)result,
              error_string(result));
  return status_of(result);
}

reef_status invalid(Object* object, const char* text) {
  if (object != nullptr) set_message(object, "%s", text);
  return REEF_ERROR_INVALID_ARGUMENT;
}

#define REEF_CALL(object, operation, expression)                  \
  do {                                                            \
    gpu_result reef_result_ = (expression);                       \
    if (reef_result_ != GPU_SUCCESS) return fail((object), (operation), reef_result_); \
  } while (0)

bool load_driver(char* message, uint32_t capacity) {
  const char* names[] = GPU_LIBRARIES;
  void* library = nullptr;
  char tried[768] = {0};
  for (const char* name : names) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
    size_t used = strlen(tried);
    snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", name);
  }
  if (library == nullptr) {
    char text[1024];
    snprintf(text, sizeof text,
             "No %s driver found (tried %s): this machine has no GPU driver installed, or it is "
             "not on the library path",
             GPU_PLATFORM_NAME, tried);
    copy_message(message, capacity, text);
    return false;
  }
#if defined(REEF_HIP)
#define REEF_RESOLVE(generic, symbol)                                   \
  api.generic = reinterpret_cast<decltype(api.generic)>(dlsym(library, #symbol)); \
  if (api.generic == nullptr) missing = #symbol;
  const char* missing = nullptr;
  GPU_FUNCTIONS(REEF_RESOLVE)
#else
  auto get_proc = reinterpret_cast<decltype(&::cuGetProcAddress)>(
      dlsym(library, "cuGetProcAddress_v2"));
  if (get_proc == nullptr) {
    copy_message(message, capacity,
                 "The CUDA driver is too old: it has no cuGetProcAddress_v2 (CUDA 12 or newer "
                 "is required)");
    return false;
  }
  const char* missing = nullptr;
#define REEF_RESOLVE(generic, symbol)                                                   \
  {                                                                                     \
    void* function = nullptr;                                                           \
    CUdriverProcAddressQueryResult found;                                               \
    if (get_proc(#symbol, &function, CUDA_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &found) \
            != CUDA_SUCCESS || function == nullptr)                                     \
      missing = #symbol;                                                                \
    api.generic = reinterpret_cast<decltype(api.generic)>(function);                    \
  }
  GPU_FUNCTIONS(REEF_RESOLVE)
#endif
#undef REEF_RESOLVE
  if (missing != nullptr) {
    char text[256];
    snprintf(text, sizeof text, "The %s driver lacks the entry point %s: it is too old",
             GPU_PLATFORM_NAME, missing);
    copy_message(message, capacity, text);
    return false;
  }
  return true;
}

}  // namespace

// ---- handle types ----

struct reef_device : Object {
  int32_t ordinal = 0;
  gpu_device device{};
  gpu_context context{};
  std::atomic<int64_t> children{0};
  reef_device() : Object(kDevice) {}
};

// Handles owned by a device: they hold it open.
struct DeviceChild : Object {
  reef_device* device;
  DeviceChild(Kind kind, reef_device* owner) : Object(kind), device(owner) {
    device->children.fetch_add(1);
  }
  ~DeviceChild() { device->children.fetch_sub(1); }
};

struct reef_module : DeviceChild {
  gpu_module module{};
  std::atomic<int64_t> kernels{0};
  explicit reef_module(reef_device* owner) : DeviceChild(kModule, owner) {}
};

struct reef_kernel : Object {
  reef_module* module;
  gpu_function function{};
  char name[256] = {0};
  explicit reef_kernel(reef_module* owner) : Object(kKernel), module(owner) {
    module->kernels.fetch_add(1);
  }
  ~reef_kernel() { module->kernels.fetch_sub(1); }
};

struct reef_buffer : DeviceChild {
  uint64_t address = 0;
  uint64_t size = 0;
  explicit reef_buffer(reef_device* owner) : DeviceChild(kBuffer, owner) {}
};

struct reef_host_buffer : DeviceChild {
  void* host = nullptr;
  uint64_t device_address = 0;
  explicit reef_host_buffer(reef_device* owner) : DeviceChild(kHostBuffer, owner) {}
};

struct reef_stream : DeviceChild {
  gpu_stream stream{};
  explicit reef_stream(reef_device* owner) : DeviceChild(kStream, owner) {}
};

struct reef_event : DeviceChild {
  gpu_event event{};
  explicit reef_event(reef_device* owner) : DeviceChild(kEvent, owner) {}
};

namespace {

// Makes the device current on this thread: every entry point calls it first.
gpu_result make_current(const reef_device* device) {
#if defined(REEF_HIP)
  return api.SetDevice(device->ordinal);
#else
  return api.CtxSetCurrent(device->context);
#endif
}

#define REEF_CURRENT(object, device) REEF_CALL(object, "make the context current", make_current(device))

bool ready() {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  return g_initialized;
}

}  // namespace

// ---- library ----

extern "C" uint32_t reef_abi_version(void) { return REEF_GPU_ABI_VERSION; }
extern "C" int64_t reef_live_handles(void) { return g_live.load(); }
extern "C" uint32_t reef_device_properties_size(void) { return sizeof(reef_device_properties); }
extern "C" uint32_t reef_kernel_attributes_size(void) { return sizeof(reef_kernel_attributes); }
extern "C" uint32_t reef_platform(void) { return GPU_PLATFORM; }

extern "C" reef_status reef_init(char* message, uint32_t capacity) {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (!g_initialized && g_init_status == REEF_ERROR_NOT_INITIALIZED) {
    // Lazy module loading makes a kernel's first launch load its code, which deadlocks behind a
    // persistent kernel (the preemption watcher) and adds jitter to the first RT launch.
    setenv("CUDA_MODULE_LOADING", "EAGER", 0);
    // A hardware queue per stream: with the default of 8, streams beyond the eighth share one,
    // and a flag write or an RT launch can wait there behind queued BE kernels. Suspected from the
    // H100 sweeps (WAIT and unbounded RESET quiesced in 30 ms with 8 BE streams, 0.2-0.3 ms with
    // 6); not measured yet. 32 is the driver's maximum. (HIP's analogue, GPU_MAX_HW_QUEUES, is
    // left at its default: untested.)
    setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", 0);
    if (!load_driver(g_init_message, sizeof g_init_message)) {
      g_init_status = REEF_ERROR_NO_DRIVER;
    } else {
      gpu_result result = api.Init(0);
      if (result != GPU_SUCCESS) {
        snprintf(g_init_message, sizeof g_init_message,
                 "The %s driver is installed but failed to initialise: %s (%d): %s%s",
                 GPU_PLATFORM_NAME, error_name(result), (int)result, error_string(result),
                 status_of(result) == REEF_ERROR_NO_DEVICE ? " (no GPU is present)" : "");
        g_init_status = status_of(result) == REEF_ERROR_NO_DEVICE ? REEF_ERROR_NO_DEVICE
                                                                  : REEF_ERROR_NO_DRIVER;
      } else {
        g_initialized = true;
        g_init_status = REEF_OK;
        snprintf(g_init_message, sizeof g_init_message, "ok");
      }
    }
  }
  copy_message(message, capacity, g_init_message);
  return g_init_status;
}

extern "C" reef_status reef_driver_version(int32_t* version) {
  if (!ready()) return REEF_ERROR_NOT_INITIALIZED;
  if (version == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  int value = 0;
  if (api.DriverGetVersion(&value) != GPU_SUCCESS) return REEF_ERROR_DRIVER;
  *version = value;
  return REEF_OK;
}

extern "C" reef_status reef_device_count(int32_t* count) {
  if (!ready()) return REEF_ERROR_NOT_INITIALIZED;
  if (count == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  int value = 0;
  gpu_result result = api.DeviceGetCount(&value);
  if (result != GPU_SUCCESS) return status_of(result);
  *count = value;
  return REEF_OK;
}

extern "C" reef_status reef_last_error(const void* handle, char* message, uint32_t capacity) {
  auto object = static_cast<Object*>(const_cast<void*>(handle));
  if (object == nullptr || object->magic != kMagic) {
    copy_message(message, capacity, "not a live reef handle");
    return REEF_ERROR_INVALID_ARGUMENT;
  }
  std::lock_guard<std::mutex> lock(object->mutex);
  copy_message(message, capacity, object->message);
  return REEF_OK;
}

// ---- devices ----

extern "C" reef_status reef_device_open(int32_t ordinal, char* message, uint32_t capacity,
                                        reef_device** out) {
  if (!ready()) {
    copy_message(message, capacity, "reef_init() has not succeeded");
    return REEF_ERROR_NOT_INITIALIZED;
  }
  if (out == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  int count = 0;
  (void)api.DeviceGetCount(&count);
  if (ordinal < 0 || ordinal >= count) {
    char text[160];
    snprintf(text, sizeof text, "No GPU with ordinal %d: this machine has %d", ordinal, count);
    copy_message(message, capacity, text);
    return REEF_ERROR_NO_DEVICE;
  }
  auto device = new reef_device();
  device->ordinal = ordinal;
  gpu_result result = api.DeviceGet(&device->device, ordinal);
#if !defined(REEF_HIP)
  if (result == GPU_SUCCESS) result = api.PrimaryCtxRetain(&device->context, device->device);
#endif
  if (result == GPU_SUCCESS) result = make_current(device);
  if (result != GPU_SUCCESS) {
    char text[512];
    snprintf(text, sizeof text, "Cannot open GPU %d: %s (%d): %s", ordinal, error_name(result),
             (int)result, error_string(result));
    copy_message(message, capacity, text);
    delete device;
    return status_of(result);
  }
  *out = device;
  return REEF_OK;
}

extern "C" reef_status reef_device_close(reef_device* device) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  int64_t children = device->children.load();
  if (children != 0) {
    set_message(device, "Cannot close the device: %lld handles it owns are still open",
                (long long)children);
    return REEF_ERROR_INVALID_ARGUMENT;
  }
#if !defined(REEF_HIP)
  (void)api.PrimaryCtxRelease(device->device);
#endif
  delete device;
  return REEF_OK;
}

extern "C" reef_status reef_device_properties_get(reef_device* device,
                                                  reef_device_properties* p) {
  if (!valid(device, kDevice) || p == nullptr) return invalid(device, "invalid argument");
  REEF_CURRENT(device, device);
  memset(p, 0, sizeof *p);
  REEF_CALL(device, "get the device name",
            api.DeviceGetName(p->name, (int)sizeof p->name, device->device));
  size_t total = 0;
  REEF_CALL(device, "get the memory size", api.DeviceTotalMem(&total, device->device));
  p->total_memory = total;
  p->ordinal = device->ordinal;
  struct {
    int32_t* field;
    decltype(GPU_ATTR_SM_COUNT) attribute;
  } attributes[] = {
      {&p->compute_major, GPU_ATTR_CC_MAJOR},
      {&p->compute_minor, GPU_ATTR_CC_MINOR},
      {&p->sm_count, GPU_ATTR_SM_COUNT},
      {&p->warp_size, GPU_ATTR_WARP_SIZE},
      {&p->max_threads_per_block, GPU_ATTR_MAX_THREADS_PER_BLOCK},
      {&p->max_threads_per_sm, GPU_ATTR_MAX_THREADS_PER_SM},
      {&p->registers_per_block, GPU_ATTR_REGS_PER_BLOCK},
      {&p->shared_memory_per_block, GPU_ATTR_SMEM_PER_BLOCK},
      {&p->shared_memory_per_sm, GPU_ATTR_SMEM_PER_SM},
      {&p->clock_khz, GPU_ATTR_CLOCK},
      {&p->memory_clock_khz, GPU_ATTR_MEM_CLOCK},
      {&p->memory_bus_width, GPU_ATTR_BUS_WIDTH},
      {&p->l2_cache_bytes, GPU_ATTR_L2},
#if GPU_HAS_SM_BLOCK_LIMITS
      {&p->max_blocks_per_sm, GPU_ATTR_MAX_BLOCKS_PER_SM},
      {&p->registers_per_sm, GPU_ATTR_REGS_PER_SM},
      {&p->shared_memory_per_block_optin, GPU_ATTR_SMEM_PER_BLOCK_OPTIN},
#endif
  };
  for (auto& entry : attributes) {
    int value = 0;
    REEF_CALL(device, "get a device attribute",
              api.DeviceGetAttribute(&value, entry.attribute, device->device));
    *entry.field = value;
  }
#if !GPU_HAS_SM_BLOCK_LIMITS
  // HIP reports no such limits; these are what a CDNA/GCN compute unit allows.
  p->max_blocks_per_sm = p->max_threads_per_sm / p->warp_size;
  p->registers_per_sm = p->registers_per_block;
  p->shared_memory_per_block_optin = p->shared_memory_per_block;
#endif
  return REEF_OK;
}

extern "C" reef_status reef_device_stream_priority_range(reef_device* device, int32_t* least,
                                                         int32_t* greatest) {
  if (!valid(device, kDevice) || least == nullptr || greatest == nullptr)
    return invalid(device, "invalid argument");
  REEF_CURRENT(device, device);
  int lo = 0, hi = 0;
  REEF_CALL(device, "get the stream priority range", api.StreamPriorityRange(&lo, &hi));
  *least = lo;
  *greatest = hi;
  return REEF_OK;
}

extern "C" reef_status reef_device_memory_info(reef_device* device, uint64_t* free_bytes,
                                               uint64_t* total_bytes) {
  if (!valid(device, kDevice) || free_bytes == nullptr || total_bytes == nullptr)
    return invalid(device, "invalid argument");
  REEF_CURRENT(device, device);
  size_t free_ = 0, total = 0;
  REEF_CALL(device, "get memory information", api.MemGetInfo(&free_, &total));
  *free_bytes = free_;
  *total_bytes = total;
  return REEF_OK;
}

extern "C" reef_status reef_device_synchronize(reef_device* device) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
#if defined(REEF_HIP)
  REEF_CALL(device, "synchronize the device", api.DeviceSynchronize());
#else
  REEF_CALL(device, "synchronize the device", api.CtxSynchronize());
#endif
  return REEF_OK;
}

// ---- modules and kernels ----

extern "C" reef_status reef_module_load(reef_device* device, const void* image, uint64_t size,
                                        reef_module** out) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  if (image == nullptr || size < 4 || out == nullptr)
    return invalid(device, "Cannot load a module: the image is empty");
  REEF_CURRENT(device, device);
  auto module = new reef_module(device);
#if defined(REEF_HIP)
  gpu_result result = api.ModuleLoadData(&module->module, image);
  const char* log = "";
#else
  // The driver reads a PTX image up to its NUL: refuse text that lacks one instead of overreading.
  const auto bytes = static_cast<const unsigned char*>(image);
  const bool elf = bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
  const bool fatbin = bytes[0] == 0x50 && bytes[1] == 0xed && bytes[2] == 0x55 && bytes[3] == 0xba;
  if (!elf && !fatbin && bytes[size - 1] != 0) {
    delete module;
    set_message(device,
                "Cannot load a module: the image is neither a cubin, a fatbin nor NUL-terminated "
                "PTX text");
    return REEF_ERROR_INVALID_IMAGE;
  }
  char log[2048] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {log, reinterpret_cast<void*>(static_cast<uintptr_t>(sizeof log))};
  gpu_result result = api.ModuleLoadDataEx(&module->module, image, 2, options, values);
#endif
  if (result != GPU_SUCCESS) {
    delete module;
    set_message(device, "Cannot load a module of %llu bytes: %s (%d): %s%s%s",
                (unsigned long long)size, error_name(result), (int)result, error_string(result),
                log[0] ? ": " : "", log);
    return status_of(result);
  }
  *out = module;
  return REEF_OK;
}

extern "C" reef_status reef_module_unload(reef_module* module) {
  if (!valid(module, kModule)) return REEF_ERROR_INVALID_ARGUMENT;
  int64_t kernels = module->kernels.load();
  if (kernels != 0) {
    set_message(module, "Cannot unload the module: %lld of its kernels are still open",
                (long long)kernels);
    return REEF_ERROR_INVALID_ARGUMENT;
  }
  REEF_CURRENT(module, module->device);
  REEF_CALL(module, "unload the module", api.ModuleUnload(module->module));
  delete module;
  return REEF_OK;
}

extern "C" reef_status reef_module_global(reef_module* module, const char* name,
                                          uint64_t* address, uint64_t* size) {
  if (!valid(module, kModule) || name == nullptr || address == nullptr || size == nullptr)
    return invalid(module, "invalid argument");
  REEF_CURRENT(module, module->device);
  size_t bytes = 0;
#if defined(REEF_HIP)
  hipDeviceptr_t pointer = nullptr;
#else
  CUdeviceptr pointer = 0;
#endif
  gpu_result result = api.ModuleGetGlobal(&pointer, &bytes, module->module, name);
  if (result != GPU_SUCCESS) {
    set_message(module, "No global named \"%s\" in the module: %s", name, error_name(result));
    return status_of(result) == REEF_ERROR_DRIVER ? REEF_ERROR_NOT_FOUND : status_of(result);
  }
  *address = (uint64_t)(uintptr_t)pointer;
  *size = bytes;
  return REEF_OK;
}

extern "C" reef_status reef_kernel_get(reef_module* module, const char* name, reef_kernel** out) {
  if (!valid(module, kModule) || name == nullptr || out == nullptr)
    return invalid(module, "invalid argument");
  REEF_CURRENT(module, module->device);
  gpu_function function{};
  gpu_result result = api.ModuleGetFunction(&function, module->module, name);
  if (result != GPU_SUCCESS) {
    set_message(module, "No kernel named \"%s\" in the module: %s", name, error_name(result));
    return status_of(result) == REEF_ERROR_DRIVER ? REEF_ERROR_NOT_FOUND : status_of(result);
  }
  auto kernel = new reef_kernel(module);
  kernel->function = function;
  snprintf(kernel->name, sizeof kernel->name, "%s", name);
  *out = kernel;
  return REEF_OK;
}

extern "C" reef_status reef_kernel_release(reef_kernel* kernel) {
  if (!valid(kernel, kKernel)) return REEF_ERROR_INVALID_ARGUMENT;
  delete kernel;
  return REEF_OK;
}

extern "C" reef_status reef_kernel_attributes_get(reef_kernel* kernel,
                                                  reef_kernel_attributes* a) {
  if (!valid(kernel, kKernel) || a == nullptr) return invalid(kernel, "invalid argument");
  REEF_CURRENT(kernel, kernel->module->device);
  memset(a, 0, sizeof *a);
  struct {
    int32_t* field;
    decltype(GPU_FUNC_ATTR_REGS) attribute;
  } attributes[] = {
      {&a->registers, GPU_FUNC_ATTR_REGS},
      {&a->static_shared_memory, GPU_FUNC_ATTR_SMEM},
      {&a->local_memory, GPU_FUNC_ATTR_LOCAL},
      {&a->max_threads_per_block, GPU_FUNC_ATTR_MAX_THREADS},
      {&a->max_dynamic_shared_memory, GPU_FUNC_ATTR_MAX_DYN_SMEM},
      {&a->ptx_version, GPU_FUNC_ATTR_PTX},
      {&a->binary_version, GPU_FUNC_ATTR_BINARY},
  };
  for (auto& entry : attributes) {
    int value = 0;
    REEF_CALL(kernel, "get a kernel attribute",
              api.FuncGetAttribute(&value, entry.attribute, kernel->function));
    *entry.field = value;
  }
  return REEF_OK;
}

extern "C" reef_status reef_kernel_set_max_dynamic_shared_memory(reef_kernel* kernel,
                                                                 int32_t bytes) {
  if (!valid(kernel, kKernel) || bytes < 0) return invalid(kernel, "invalid argument");
  REEF_CURRENT(kernel, kernel->module->device);
#if defined(REEF_HIP)
  // AMD GPUs give every kernel its whole LDS budget without an opt-in.
  (void)bytes;
#else
  gpu_result result = api.FuncSetAttribute(
      kernel->function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
  if (result != GPU_SUCCESS) {
    set_message(kernel, "Cannot allow kernel \"%s\" %d bytes of dynamic shared memory: %s: %s",
                kernel->name, bytes, error_name(result), error_string(result));
    return REEF_ERROR_LAUNCH;
  }
#endif
  return REEF_OK;
}

extern "C" reef_status reef_kernel_occupancy(reef_kernel* kernel, int32_t block_size,
                                             uint64_t dynamic_shared_memory,
                                             int32_t* blocks_per_sm) {
  if (!valid(kernel, kKernel) || block_size <= 0 || blocks_per_sm == nullptr)
    return invalid(kernel, "invalid argument");
  REEF_CURRENT(kernel, kernel->module->device);
  int blocks = 0;
  REEF_CALL(kernel, "compute occupancy",
            api.Occupancy(&blocks, kernel->function, block_size, dynamic_shared_memory));
  *blocks_per_sm = blocks;
  return REEF_OK;
}

// ---- memory ----

extern "C" reef_status reef_buffer_alloc(reef_device* device, uint64_t size, reef_buffer** out) {
  if (!valid(device, kDevice) || out == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  if (size == 0) return invalid(device, "Cannot allocate a buffer of 0 bytes");
  REEF_CURRENT(device, device);
#if defined(REEF_HIP)
  void* pointer = nullptr;
  gpu_result result = api.MemAlloc(&pointer, size);
#else
  CUdeviceptr pointer = 0;
  gpu_result result = api.MemAlloc(&pointer, size);
#endif
  if (result != GPU_SUCCESS) {
    set_message(device, "Cannot allocate %llu bytes of device memory: %s: %s",
                (unsigned long long)size, error_name(result), error_string(result));
    return status_of(result);
  }
  auto buffer = new reef_buffer(device);
  buffer->address = (uint64_t)(uintptr_t)pointer;
  buffer->size = size;
  *out = buffer;
  return REEF_OK;
}

extern "C" reef_status reef_buffer_free(reef_buffer* buffer) {
  if (!valid(buffer, kBuffer)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(buffer, buffer->device);
  REEF_CALL(buffer, "free device memory", api.MemFree(GPU_VOID_PTR(buffer->address)));
  delete buffer;
  return REEF_OK;
}

extern "C" reef_status reef_buffer_address(reef_buffer* buffer, uint64_t* address) {
  if (!valid(buffer, kBuffer) || address == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  *address = buffer->address;
  return REEF_OK;
}

extern "C" reef_status reef_host_alloc(reef_device* device, uint64_t size, uint32_t flags,
                                       reef_host_buffer** out) {
  if (!valid(device, kDevice) || out == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  if (size == 0) return invalid(device, "Cannot allocate a host buffer of 0 bytes");
  REEF_CURRENT(device, device);
  void* host = nullptr;
  unsigned driver_flags = GPU_HOST_ALLOC_PORTABLE;
  if (flags & REEF_HOST_MAPPED) driver_flags |= GPU_HOST_ALLOC_MAPPED;
  gpu_result result = api.HostAlloc(&host, size, driver_flags);
  if (result != GPU_SUCCESS) {
    set_message(device, "Cannot allocate %llu bytes of pinned host memory: %s: %s",
                (unsigned long long)size, error_name(result), error_string(result));
    return status_of(result);
  }
  auto buffer = new reef_host_buffer(device);
  buffer->host = host;
  if (flags & REEF_HOST_MAPPED) {
#if defined(REEF_HIP)
    void* pointer = nullptr;
#else
    CUdeviceptr pointer = 0;
#endif
    result = api.HostGetDevicePointer(&pointer, host, 0);
    if (result != GPU_SUCCESS) {
      (void)api.HostFree(host);
      delete buffer;
      return fail(device, "map pinned host memory into the device", result);
    }
    buffer->device_address = (uint64_t)(uintptr_t)pointer;
  }
  *out = buffer;
  return REEF_OK;
}

extern "C" reef_status reef_host_free(reef_host_buffer* buffer) {
  if (!valid(buffer, kHostBuffer)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(buffer, buffer->device);
  REEF_CALL(buffer, "free pinned host memory", api.HostFree(buffer->host));
  delete buffer;
  return REEF_OK;
}

extern "C" reef_status reef_host_pointers(reef_host_buffer* buffer, void** host,
                                          uint64_t* device) {
  if (!valid(buffer, kHostBuffer) || host == nullptr || device == nullptr)
    return REEF_ERROR_INVALID_ARGUMENT;
  *host = buffer->host;
  *device = buffer->device_address;
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_htod(reef_device* device, uint64_t dst, const void* src,
                                        uint64_t size) {
  if (!valid(device, kDevice) || (src == nullptr && size != 0)) return invalid(device, "invalid argument");
  REEF_CURRENT(device, device);
  REEF_CALL(device, "copy to the device",
            api.MemcpyHtoD(GPU_PTR(dst), const_cast<void*>(src), size));
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_dtoh(reef_device* device, void* dst, uint64_t src,
                                        uint64_t size) {
  if (!valid(device, kDevice) || (dst == nullptr && size != 0)) return invalid(device, "invalid argument");
  REEF_CURRENT(device, device);
  REEF_CALL(device, "copy from the device", api.MemcpyDtoH(dst, GPU_PTR(src), size));
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_dtod(reef_device* device, uint64_t dst, uint64_t src,
                                        uint64_t size) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
  REEF_CALL(device, "copy on the device", api.MemcpyDtoD(GPU_PTR(dst), GPU_PTR(src), size));
  return REEF_OK;
}

extern "C" reef_status reef_memset_d8(reef_device* device, uint64_t dst, uint8_t value,
                                      uint64_t count) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
  REEF_CALL(device, "fill device memory", api.MemsetD8(GPU_PTR(dst), value, count));
  return REEF_OK;
}

extern "C" reef_status reef_memset_d32(reef_device* device, uint64_t dst, uint32_t value,
                                       uint64_t count) {
  if (!valid(device, kDevice)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
  REEF_CALL(device, "fill device memory", api.MemsetD32(GPU_PTR(dst), value, count));
  return REEF_OK;
}

// ---- streams ----

extern "C" reef_status reef_stream_create(reef_device* device, int32_t priority,
                                          reef_stream** out) {
  if (!valid(device, kDevice) || out == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
  gpu_stream stream{};
  gpu_result result = api.StreamCreateWithPriority(&stream, GPU_STREAM_NON_BLOCKING, priority);
  if (result != GPU_SUCCESS) return fail(device, "create a stream", result);
  auto handle = new reef_stream(device);
  handle->stream = stream;
  *out = handle;
  return REEF_OK;
}

extern "C" reef_status reef_stream_destroy(reef_stream* stream) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "destroy the stream", api.StreamDestroy(stream->stream));
  delete stream;
  return REEF_OK;
}

extern "C" reef_status reef_stream_query(reef_stream* stream) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  gpu_result result = api.StreamQuery(stream->stream);
  if (result == GPU_SUCCESS) return REEF_OK;
  if (result == GPU_NOT_READY) return REEF_NOT_READY;
  return fail(stream, "query the stream", result);
}

extern "C" reef_status reef_stream_synchronize(reef_stream* stream) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "synchronize the stream", api.StreamSynchronize(stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_htod_async(reef_stream* stream, uint64_t dst, const void* src,
                                              uint64_t size) {
  if (!valid(stream, kStream) || (src == nullptr && size != 0)) return invalid(stream, "invalid argument");
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "copy to the device",
            api.MemcpyHtoDAsync(GPU_PTR(dst), const_cast<void*>(src), size, stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_dtoh_async(reef_stream* stream, void* dst, uint64_t src,
                                              uint64_t size) {
  if (!valid(stream, kStream) || (dst == nullptr && size != 0)) return invalid(stream, "invalid argument");
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "copy from the device",
            api.MemcpyDtoHAsync(dst, GPU_PTR(src), size, stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_memcpy_dtod_async(reef_stream* stream, uint64_t dst, uint64_t src,
                                              uint64_t size) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "copy on the device",
            api.MemcpyDtoDAsync(GPU_PTR(dst), GPU_PTR(src), size, stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_memset_d32_async(reef_stream* stream, uint64_t dst, uint32_t value,
                                             uint64_t count) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "fill device memory",
            api.MemsetD32Async(GPU_PTR(dst), value, count, stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_launch(reef_stream* stream, reef_kernel* kernel, uint32_t grid_x,
                                   uint32_t grid_y, uint32_t grid_z, uint32_t block_x,
                                   uint32_t block_y, uint32_t block_z, uint32_t shared_memory,
                                   const void* params, uint32_t params_size) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  if (!valid(kernel, kKernel)) return invalid(stream, "Cannot launch: not a live kernel handle");
  if (params == nullptr && params_size != 0)
    return invalid(stream, "Cannot launch: a parameter size without a parameter buffer");
  REEF_CURRENT(stream, stream->device);
  size_t size = params_size;
  void* extra[] = {GPU_LAUNCH_PARAM_BUFFER_POINTER, const_cast<void*>(params),
                   GPU_LAUNCH_PARAM_BUFFER_SIZE, &size, GPU_LAUNCH_PARAM_END};
  gpu_result result =
      api.LaunchKernel(kernel->function, grid_x, grid_y, grid_z, block_x, block_y, block_z,
                       shared_memory, stream->stream, nullptr, params_size ? extra : nullptr);
  if (result != GPU_SUCCESS) {
    set_message(stream,
                "Cannot launch kernel \"%s\" with grid (%u, %u, %u), block (%u, %u, %u) and %u "
                "bytes of shared memory: %s (%d): %s",
                kernel->name, grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_memory,
                error_name(result), (int)result, error_string(result));
    reef_status status = status_of(result);
    return status == REEF_ERROR_INVALID_ARGUMENT || status == REEF_ERROR_DRIVER ? REEF_ERROR_LAUNCH
                                                                                 : status;
  }
  return REEF_OK;
}

extern "C" reef_status reef_stream_write_u32(reef_stream* stream, uint64_t address,
                                             uint32_t value) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(stream, stream->device);
  REEF_CALL(stream, "write a value from the stream",
            api.StreamWriteValue32(stream->stream, GPU_VOID_PTR(address), value, 0));
  return REEF_OK;
}

extern "C" reef_status reef_stream_wait_u32(reef_stream* stream, uint64_t address, uint32_t value,
                                            uint32_t condition) {
  if (!valid(stream, kStream)) return REEF_ERROR_INVALID_ARGUMENT;
  if (condition != REEF_WAIT_GEQ && condition != REEF_WAIT_EQ)
    return invalid(stream, "Unknown wait condition");
  REEF_CURRENT(stream, stream->device);
  const unsigned flags = condition == REEF_WAIT_EQ ? GPU_WAIT_EQ : GPU_WAIT_GEQ;
#if defined(REEF_HIP)
  REEF_CALL(stream, "wait for a value on the stream",
            api.StreamWaitValue32(stream->stream, GPU_VOID_PTR(address), value, flags, 0xffffffffu));
#else
  REEF_CALL(stream, "wait for a value on the stream",
            api.StreamWaitValue32(stream->stream, GPU_VOID_PTR(address), value, flags));
#endif
  return REEF_OK;
}

// ---- events ----

extern "C" reef_status reef_event_create(reef_device* device, uint32_t flags, reef_event** out) {
  if (!valid(device, kDevice) || out == nullptr) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(device, device);
  gpu_event event{};
  const unsigned driver_flags =
      (flags & REEF_EVENT_TIMING) ? GPU_EVENT_DEFAULT : GPU_EVENT_DISABLE_TIMING;
  REEF_CALL(device, "create an event", api.EventCreate(&event, driver_flags));
  auto handle = new reef_event(device);
  handle->event = event;
  *out = handle;
  return REEF_OK;
}

extern "C" reef_status reef_event_destroy(reef_event* event) {
  if (!valid(event, kEvent)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(event, event->device);
  REEF_CALL(event, "destroy the event", api.EventDestroy(event->event));
  delete event;
  return REEF_OK;
}

extern "C" reef_status reef_event_record(reef_event* event, reef_stream* stream) {
  if (!valid(event, kEvent)) return REEF_ERROR_INVALID_ARGUMENT;
  if (!valid(stream, kStream)) return invalid(event, "Cannot record: not a live stream handle");
  REEF_CURRENT(event, event->device);
  REEF_CALL(event, "record the event", api.EventRecord(event->event, stream->stream));
  return REEF_OK;
}

extern "C" reef_status reef_event_query(reef_event* event) {
  if (!valid(event, kEvent)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(event, event->device);
  gpu_result result = api.EventQuery(event->event);
  if (result == GPU_SUCCESS) return REEF_OK;
  if (result == GPU_NOT_READY) return REEF_NOT_READY;
  return fail(event, "query the event", result);
}

extern "C" reef_status reef_event_synchronize(reef_event* event) {
  if (!valid(event, kEvent)) return REEF_ERROR_INVALID_ARGUMENT;
  REEF_CURRENT(event, event->device);
  REEF_CALL(event, "synchronize the event", api.EventSynchronize(event->event));
  return REEF_OK;
}

extern "C" reef_status reef_event_elapsed_ms(reef_event* start, reef_event* end,
                                             float* milliseconds) {
  if (!valid(start, kEvent)) return REEF_ERROR_INVALID_ARGUMENT;
  if (!valid(end, kEvent) || milliseconds == nullptr) return invalid(start, "invalid argument");
  REEF_CURRENT(start, start->device);
  REEF_CALL(start, "measure the time between events",
            api.EventElapsedTime(milliseconds, start->event, end->event));
  return REEF_OK;
}
