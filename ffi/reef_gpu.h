/* reef_gpu.h: reef's C ABI over the GPU driver (CUDA driver API, or HIP's module API).
 *
 * Rules that every function follows:
 * - It returns a reef_status. Only REEF_OK and REEF_NOT_READY (a query whose work is pending) are not
 *   errors; on an error, the message is kept in the handle the call was made on (its first handle
 *   argument) and read back with reef_last_error(). Nothing is thread-local: a call may run on any
 *   thread (Deno runs nonblocking FFI calls on a thread pool).
 * - It makes the device's context current on the calling thread before touching the driver.
 * - Out-parameters come last. Device addresses are uint64_t.
 * - Every handle counts in reef_live_handles() from its creation to its release.
 *
 * The library loads the driver (libcuda.so.1, or libamdhip64.so) at run time, on reef_init(), so it
 * opens on a machine with no GPU and reports that through reef_init's status and message.
 */
#ifndef REEF_GPU_H
#define REEF_GPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of this header; the binding refuses any other version. */
#define REEF_GPU_ABI_VERSION 1

typedef enum reef_status {
  REEF_OK = 0,
  REEF_NOT_READY = 1,              /* a query found work still pending: not an error */
  REEF_ERROR_NO_DRIVER = 2,        /* the driver library could not be loaded or initialised */
  REEF_ERROR_NO_DEVICE = 3,        /* no GPU, or the ordinal is out of range */
  REEF_ERROR_INVALID_ARGUMENT = 4, /* a bad argument, detected before or by the driver */
  REEF_ERROR_OUT_OF_MEMORY = 5,
  REEF_ERROR_INVALID_IMAGE = 6,    /* module bytes that are not a valid cubin, fatbin or PTX */
  REEF_ERROR_NOT_FOUND = 7,        /* no function or global of that name in the module */
  REEF_ERROR_LAUNCH = 8,           /* a launch the driver rejected (configuration or resources) */
  REEF_ERROR_DRIVER = 9,           /* any other driver error: the message has the driver's text */
  REEF_ERROR_NOT_INITIALIZED = 10  /* reef_init() has not succeeded */
} reef_status;

typedef struct reef_device reef_device;
typedef struct reef_module reef_module;
typedef struct reef_kernel reef_kernel;
typedef struct reef_buffer reef_buffer;
typedef struct reef_host_buffer reef_host_buffer;
typedef struct reef_stream reef_stream;
typedef struct reef_event reef_event;

/* Filled by reef_device_properties(); its size is reef_device_properties_size(). */
typedef struct reef_device_properties {
  char name[256];
  uint64_t total_memory;           /* bytes */
  int32_t ordinal;
  int32_t compute_major;
  int32_t compute_minor;
  int32_t sm_count;
  int32_t warp_size;
  int32_t max_threads_per_block;
  int32_t max_threads_per_sm;
  int32_t max_blocks_per_sm;
  int32_t registers_per_block;
  int32_t registers_per_sm;
  int32_t shared_memory_per_block;       /* without opt-in */
  int32_t shared_memory_per_block_optin; /* the most a kernel can be allowed */
  int32_t shared_memory_per_sm;
  int32_t clock_khz;
  int32_t memory_clock_khz;
  int32_t memory_bus_width;              /* bits */
  int32_t l2_cache_bytes;
  int32_t reserved;                      /* keeps the size a multiple of 8 */
} reef_device_properties;

/* Filled by reef_kernel_attributes(); its size is reef_kernel_attributes_size(). */
typedef struct reef_kernel_attributes {
  int32_t registers;                   /* per thread */
  int32_t static_shared_memory;        /* bytes per block */
  int32_t local_memory;                /* bytes per thread (spills and stack) */
  int32_t max_threads_per_block;       /* the most this kernel can be launched with */
  int32_t max_dynamic_shared_memory;   /* current opt-in limit, bytes */
  int32_t ptx_version;                 /* major*10+minor; 0 where the platform has none */
  int32_t binary_version;              /* major*10+minor */
  int32_t reserved;
} reef_kernel_attributes;

/* Flags of reef_host_alloc(). */
#define REEF_HOST_MAPPED 1u            /* also map into the device's address space */

/* Flags of reef_event_create(). */
#define REEF_EVENT_TIMING 1u           /* records timestamps for reef_event_elapsed_ms() */

/* Conditions of reef_stream_wait_u32(). */
#define REEF_WAIT_GEQ 0u               /* (int32)(*addr - value) >= 0 */
#define REEF_WAIT_EQ 1u

/* ---- library ---- */
uint32_t reef_abi_version(void);
int64_t reef_live_handles(void);
uint32_t reef_device_properties_size(void);
uint32_t reef_kernel_attributes_size(void);
/* Loads and initialises the driver; idempotent. The message says why it failed. */
reef_status reef_init(char* message, uint32_t capacity);
/* The platform: 1 for CUDA, 2 for HIP. */
uint32_t reef_platform(void);
reef_status reef_driver_version(int32_t* version);
reef_status reef_device_count(int32_t* count);
/* Copies the handle's last error message (NUL-terminated, truncated to capacity). */
reef_status reef_last_error(const void* handle, char* message, uint32_t capacity);

/* ---- devices ---- */
reef_status reef_device_open(int32_t ordinal, char* message, uint32_t capacity,
                             reef_device** device);
reef_status reef_device_close(reef_device* device);
reef_status reef_device_properties_get(reef_device* device, reef_device_properties* properties);
/* least is the lowest priority (a larger number on CUDA), greatest the highest. */
reef_status reef_device_stream_priority_range(reef_device* device, int32_t* least,
                                              int32_t* greatest);
reef_status reef_device_memory_info(reef_device* device, uint64_t* free_bytes,
                                    uint64_t* total_bytes);
reef_status reef_device_synchronize(reef_device* device);

/* ---- modules and kernels ---- */
/* image: cubin, fatbin or NUL-terminated PTX bytes. */
reef_status reef_module_load(reef_device* device, const void* image, uint64_t size,
                             reef_module** module);
reef_status reef_module_unload(reef_module* module);
reef_status reef_module_global(reef_module* module, const char* name, uint64_t* address,
                               uint64_t* size);
reef_status reef_kernel_get(reef_module* module, const char* name, reef_kernel** kernel);
reef_status reef_kernel_release(reef_kernel* kernel);
reef_status reef_kernel_attributes_get(reef_kernel* kernel, reef_kernel_attributes* attributes);
reef_status reef_kernel_set_max_dynamic_shared_memory(reef_kernel* kernel, int32_t bytes);
/* Resident blocks per SM for a block size and dynamic shared memory (occupancy). */
reef_status reef_kernel_occupancy(reef_kernel* kernel, int32_t block_size,
                                  uint64_t dynamic_shared_memory, int32_t* blocks_per_sm);

/* ---- memory ---- */
reef_status reef_buffer_alloc(reef_device* device, uint64_t size, reef_buffer** buffer);
reef_status reef_buffer_free(reef_buffer* buffer);
reef_status reef_buffer_address(reef_buffer* buffer, uint64_t* address);
reef_status reef_host_alloc(reef_device* device, uint64_t size, uint32_t flags,
                            reef_host_buffer** buffer);
reef_status reef_host_free(reef_host_buffer* buffer);
/* host: the CPU address; device: its device address if mapped, else 0. */
reef_status reef_host_pointers(reef_host_buffer* buffer, void** host, uint64_t* device);

/* Synchronous copies and fills (on the device's context, ordered after all prior work). */
reef_status reef_memcpy_htod(reef_device* device, uint64_t dst, const void* src, uint64_t size);
reef_status reef_memcpy_dtoh(reef_device* device, void* dst, uint64_t src, uint64_t size);
reef_status reef_memcpy_dtod(reef_device* device, uint64_t dst, uint64_t src, uint64_t size);
reef_status reef_memset_d8(reef_device* device, uint64_t dst, uint8_t value, uint64_t count);
reef_status reef_memset_d32(reef_device* device, uint64_t dst, uint32_t value, uint64_t count);

/* ---- streams ---- */
reef_status reef_stream_create(reef_device* device, int32_t priority, reef_stream** stream);
reef_status reef_stream_destroy(reef_stream* stream);
/* REEF_OK when all its work is done, REEF_NOT_READY otherwise. */
reef_status reef_stream_query(reef_stream* stream);
reef_status reef_stream_synchronize(reef_stream* stream);
/* Asynchronous copies and fills, ordered on the stream. Host memory should be pinned. */
reef_status reef_memcpy_htod_async(reef_stream* stream, uint64_t dst, const void* src,
                                   uint64_t size);
reef_status reef_memcpy_dtoh_async(reef_stream* stream, void* dst, uint64_t src, uint64_t size);
reef_status reef_memcpy_dtod_async(reef_stream* stream, uint64_t dst, uint64_t src,
                                   uint64_t size);
reef_status reef_memset_d32_async(reef_stream* stream, uint64_t dst, uint32_t value,
                                  uint64_t count);
/* params: the kernel's arguments packed with their natural alignment, params_size bytes. */
reef_status reef_launch(reef_stream* stream, reef_kernel* kernel, uint32_t grid_x, uint32_t grid_y,
                        uint32_t grid_z, uint32_t block_x, uint32_t block_y, uint32_t block_z,
                        uint32_t shared_memory, const void* params, uint32_t params_size);
/* Writes value to a 32-bit word of device memory once prior work on the stream is done. */
reef_status reef_stream_write_u32(reef_stream* stream, uint64_t address, uint32_t value);
/* Holds the stream's later work until the word satisfies the condition (REEF_WAIT_*). */
reef_status reef_stream_wait_u32(reef_stream* stream, uint64_t address, uint32_t value,
                                 uint32_t condition);

/* ---- events ---- */
reef_status reef_event_create(reef_device* device, uint32_t flags, reef_event** event);
reef_status reef_event_destroy(reef_event* event);
reef_status reef_event_record(reef_event* event, reef_stream* stream);
/* REEF_OK when the recorded work is done, REEF_NOT_READY otherwise. */
reef_status reef_event_query(reef_event* event);
reef_status reef_event_synchronize(reef_event* event);
reef_status reef_event_elapsed_ms(reef_event* start, reef_event* end, float* milliseconds);

#ifdef __cplusplus
}
#endif

#endif /* REEF_GPU_H */
