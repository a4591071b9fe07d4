/**
 * The symbol table of `ffi/reef_gpu.h`: the only place that knows the C ABI. Every entry carries
 * its C prototype; `tests/gpu_binding/symbols_test.ts` parses the header and checks that this
 * table agrees with it.
 * @module
 */

/** The ABI version this binding was written for (`REEF_GPU_ABI_VERSION`). */
export const ABI_VERSION = 1;

/** `reef_status`: the result of every call. */
export const Status = {
  OK: 0,
  NOT_READY: 1,
  NO_DRIVER: 2,
  NO_DEVICE: 3,
  INVALID_ARGUMENT: 4,
  OUT_OF_MEMORY: 5,
  INVALID_IMAGE: 6,
  NOT_FOUND: 7,
  LAUNCH: 8,
  DRIVER: 9,
  NOT_INITIALIZED: 10,
} as const;

/** A `reef_status` value. */
export type StatusCode = typeof Status[keyof typeof Status];

/** `REEF_HOST_MAPPED`: pinned host memory also mapped into the device's address space. */
export const HOST_MAPPED = 1;
/** `REEF_EVENT_TIMING`: an event that records timestamps. */
export const EVENT_TIMING = 1;
/** `REEF_WAIT_GEQ` and `REEF_WAIT_EQ`: conditions of `reef_stream_wait_u32`. */
export const WAIT_GEQ = 0;
export const WAIT_EQ = 1;

const status = "i32";

/** The FFI symbols, in the header's order. */
export const symbols = {
  // uint32_t reef_abi_version(void)
  reef_abi_version: { parameters: [], result: "u32" },
  // int64_t reef_live_handles(void)
  reef_live_handles: { parameters: [], result: "i64" },
  // uint32_t reef_device_properties_size(void)
  reef_device_properties_size: { parameters: [], result: "u32" },
  // uint32_t reef_kernel_attributes_size(void)
  reef_kernel_attributes_size: { parameters: [], result: "u32" },
  // reef_status reef_init(char* message, uint32_t capacity)
  reef_init: { parameters: ["buffer", "u32"], result: status },
  // uint32_t reef_platform(void)
  reef_platform: { parameters: [], result: "u32" },
  // reef_status reef_driver_version(int32_t* version)
  reef_driver_version: { parameters: ["buffer"], result: status },
  // reef_status reef_device_count(int32_t* count)
  reef_device_count: { parameters: ["buffer"], result: status },
  // reef_status reef_last_error(const void* handle, char* message, uint32_t capacity)
  reef_last_error: { parameters: ["pointer", "buffer", "u32"], result: status },

  // reef_status reef_device_open(int32_t ordinal, char* message, uint32_t capacity, reef_device** device)
  reef_device_open: { parameters: ["i32", "buffer", "u32", "buffer"], result: status },
  // reef_status reef_device_close(reef_device* device)
  reef_device_close: { parameters: ["pointer"], result: status },
  // reef_status reef_device_properties_get(reef_device* device, reef_device_properties* properties)
  reef_device_properties_get: { parameters: ["pointer", "buffer"], result: status },
  // reef_status reef_device_stream_priority_range(reef_device* device, int32_t* least, int32_t* greatest)
  reef_device_stream_priority_range: {
    parameters: ["pointer", "buffer", "buffer"],
    result: status,
  },
  // reef_status reef_device_memory_info(reef_device* device, uint64_t* free_bytes, uint64_t* total_bytes)
  reef_device_memory_info: { parameters: ["pointer", "buffer", "buffer"], result: status },
  // reef_status reef_device_synchronize(reef_device* device)
  reef_device_synchronize: { parameters: ["pointer"], result: status, nonblocking: true },

  // reef_status reef_module_load(reef_device* device, const void* image, uint64_t size, reef_module** module)
  reef_module_load: { parameters: ["pointer", "buffer", "u64", "buffer"], result: status },
  // reef_status reef_module_unload(reef_module* module)
  reef_module_unload: { parameters: ["pointer"], result: status },
  // reef_status reef_module_global(reef_module* module, const char* name, uint64_t* address, uint64_t* size)
  reef_module_global: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: status },
  // reef_status reef_kernel_get(reef_module* module, const char* name, reef_kernel** kernel)
  reef_kernel_get: { parameters: ["pointer", "buffer", "buffer"], result: status },
  // reef_status reef_kernel_release(reef_kernel* kernel)
  reef_kernel_release: { parameters: ["pointer"], result: status },
  // reef_status reef_kernel_attributes_get(reef_kernel* kernel, reef_kernel_attributes* attributes)
  reef_kernel_attributes_get: { parameters: ["pointer", "buffer"], result: status },
  // reef_status reef_kernel_set_max_dynamic_shared_memory(reef_kernel* kernel, int32_t bytes)
  reef_kernel_set_max_dynamic_shared_memory: { parameters: ["pointer", "i32"], result: status },
  // reef_status reef_kernel_occupancy(reef_kernel* kernel, int32_t block_size, uint64_t dynamic_shared_memory, int32_t* blocks_per_sm)
  reef_kernel_occupancy: { parameters: ["pointer", "i32", "u64", "buffer"], result: status },

  // reef_status reef_buffer_alloc(reef_device* device, uint64_t size, reef_buffer** buffer)
  reef_buffer_alloc: { parameters: ["pointer", "u64", "buffer"], result: status },
  // reef_status reef_buffer_free(reef_buffer* buffer)
  reef_buffer_free: { parameters: ["pointer"], result: status },
  // reef_status reef_buffer_address(reef_buffer* buffer, uint64_t* address)
  reef_buffer_address: { parameters: ["pointer", "buffer"], result: status },
  // reef_status reef_host_alloc(reef_device* device, uint64_t size, uint32_t flags, reef_host_buffer** buffer)
  reef_host_alloc: { parameters: ["pointer", "u64", "u32", "buffer"], result: status },
  // reef_status reef_host_free(reef_host_buffer* buffer)
  reef_host_free: { parameters: ["pointer"], result: status },
  // reef_status reef_host_pointers(reef_host_buffer* buffer, void** host, uint64_t* device)
  reef_host_pointers: { parameters: ["pointer", "buffer", "buffer"], result: status },
  // reef_status reef_memcpy_htod(reef_device* device, uint64_t dst, const void* src, uint64_t size)
  reef_memcpy_htod: { parameters: ["pointer", "u64", "buffer", "u64"], result: status },
  // reef_status reef_memcpy_dtoh(reef_device* device, void* dst, uint64_t src, uint64_t size)
  reef_memcpy_dtoh: { parameters: ["pointer", "buffer", "u64", "u64"], result: status },
  // reef_status reef_memcpy_dtod(reef_device* device, uint64_t dst, uint64_t src, uint64_t size)
  reef_memcpy_dtod: { parameters: ["pointer", "u64", "u64", "u64"], result: status },
  // reef_status reef_memset_d8(reef_device* device, uint64_t dst, uint8_t value, uint64_t count)
  reef_memset_d8: { parameters: ["pointer", "u64", "u8", "u64"], result: status },
  // reef_status reef_memset_d32(reef_device* device, uint64_t dst, uint32_t value, uint64_t count)
  reef_memset_d32: { parameters: ["pointer", "u64", "u32", "u64"], result: status },

  // reef_status reef_stream_create(reef_device* device, int32_t priority, reef_stream** stream)
  reef_stream_create: { parameters: ["pointer", "i32", "buffer"], result: status },
  // reef_status reef_stream_destroy(reef_stream* stream)
  reef_stream_destroy: { parameters: ["pointer"], result: status },
  // reef_status reef_stream_query(reef_stream* stream)
  reef_stream_query: { parameters: ["pointer"], result: status },
  // reef_status reef_stream_synchronize(reef_stream* stream)
  reef_stream_synchronize: { parameters: ["pointer"], result: status },
  // The same function, run on Deno's thread pool so that awaiting it leaves the event loop free.
  reef_stream_synchronize_nonblocking: {
    name: "reef_stream_synchronize",
    parameters: ["pointer"],
    result: status,
    nonblocking: true,
  },
  // reef_status reef_memcpy_htod_async(reef_stream* stream, uint64_t dst, const void* src, uint64_t size)
  reef_memcpy_htod_async: { parameters: ["pointer", "u64", "buffer", "u64"], result: status },
  // reef_status reef_memcpy_dtoh_async(reef_stream* stream, void* dst, uint64_t src, uint64_t size)
  reef_memcpy_dtoh_async: { parameters: ["pointer", "buffer", "u64", "u64"], result: status },
  // reef_status reef_memcpy_dtod_async(reef_stream* stream, uint64_t dst, uint64_t src, uint64_t size)
  reef_memcpy_dtod_async: { parameters: ["pointer", "u64", "u64", "u64"], result: status },
  // reef_status reef_memset_d32_async(reef_stream* stream, uint64_t dst, uint32_t value, uint64_t count)
  reef_memset_d32_async: { parameters: ["pointer", "u64", "u32", "u64"], result: status },
  // reef_status reef_launch(reef_stream* stream, reef_kernel* kernel, uint32_t grid_x, uint32_t grid_y,
  //     uint32_t grid_z, uint32_t block_x, uint32_t block_y, uint32_t block_z, uint32_t shared_memory,
  //     const void* params, uint32_t params_size)
  reef_launch: {
    parameters: [
      "pointer",
      "pointer",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "buffer",
      "u32",
    ],
    result: status,
  },
  // reef_status reef_stream_write_u32(reef_stream* stream, uint64_t address, uint32_t value)
  reef_stream_write_u32: { parameters: ["pointer", "u64", "u32"], result: status },
  // reef_status reef_stream_wait_u32(reef_stream* stream, uint64_t address, uint32_t value, uint32_t condition)
  reef_stream_wait_u32: { parameters: ["pointer", "u64", "u32", "u32"], result: status },

  // reef_status reef_event_create(reef_device* device, uint32_t flags, reef_event** event)
  reef_event_create: { parameters: ["pointer", "u32", "buffer"], result: status },
  // reef_status reef_event_destroy(reef_event* event)
  reef_event_destroy: { parameters: ["pointer"], result: status },
  // reef_status reef_event_record(reef_event* event, reef_stream* stream)
  reef_event_record: { parameters: ["pointer", "pointer"], result: status },
  // reef_status reef_event_query(reef_event* event)
  reef_event_query: { parameters: ["pointer"], result: status },
  // reef_status reef_event_synchronize(reef_event* event)
  reef_event_synchronize: { parameters: ["pointer"], result: status },
  // reef_status reef_event_elapsed_ms(reef_event* start, reef_event* end, float* milliseconds)
  reef_event_elapsed_ms: { parameters: ["pointer", "pointer", "buffer"], result: status },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound functions of an opened library. */
export type GpuSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];
