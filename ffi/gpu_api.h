/* gpu_api.h: the few driver calls reef_gpu.cpp makes, under one set of names for CUDA's driver API
 * and HIP's module API. Each platform lists its library names and its functions; reef_gpu.cpp
 * resolves them at run time (dlopen), so building needs the headers only, never the driver.
 *
 * Build with -DREEF_HIP (and HIP_PLATFORM=amd) for HIP; CUDA otherwise.
 */
#ifndef REEF_GPU_API_H
#define REEF_GPU_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(REEF_HIP)
/* The C API only: HIP's C++ convenience overloads (hipMalloc<T>...) defeat decltype(&hipMalloc). */
#define __HIP_DISABLE_CPP_FUNCTIONS__ 1
#include <hip/hip_runtime_api.h>

#define GPU_PLATFORM 2u
#define GPU_PLATFORM_NAME "HIP"
#define GPU_LIBRARIES {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"}

typedef hipError_t gpu_result;
typedef hipDevice_t gpu_device;
typedef hipCtx_t gpu_context;
typedef hipModule_t gpu_module;
typedef hipFunction_t gpu_function;
typedef hipStream_t gpu_stream;
typedef hipEvent_t gpu_event;
#define GPU_SUCCESS hipSuccess
#define GPU_NOT_READY hipErrorNotReady

/* X(generic name, HIP symbol) */
#define GPU_FUNCTIONS(X)                                                            \
  X(Init, hipInit)                                                                  \
  X(DriverGetVersion, hipDriverGetVersion)                                          \
  X(DeviceGetCount, hipGetDeviceCount)                                              \
  X(DeviceGet, hipDeviceGet)                                                        \
  X(DeviceGetName, hipDeviceGetName)                                                \
  X(DeviceGetAttribute, hipDeviceGetAttribute)                                      \
  X(DeviceTotalMem, hipDeviceTotalMem)                                              \
  X(SetDevice, hipSetDevice)                                                        \
  X(DeviceSynchronize, hipDeviceSynchronize)                                        \
  X(StreamPriorityRange, hipDeviceGetStreamPriorityRange)                           \
  X(MemGetInfo, hipMemGetInfo)                                                      \
  X(ModuleLoadData, hipModuleLoadData)                                              \
  X(ModuleUnload, hipModuleUnload)                                                  \
  X(ModuleGetFunction, hipModuleGetFunction)                                        \
  X(ModuleGetGlobal, hipModuleGetGlobal)                                            \
  X(FuncGetAttribute, hipFuncGetAttribute)                                          \
  X(Occupancy, hipModuleOccupancyMaxActiveBlocksPerMultiprocessor)                  \
  X(MemAlloc, hipMalloc)                                                            \
  X(MemFree, hipFree)                                                               \
  X(MemsetD8, hipMemsetD8)                                                          \
  X(MemsetD32, hipMemsetD32)                                                        \
  X(MemsetD32Async, hipMemsetD32Async)                                              \
  X(MemcpyHtoD, hipMemcpyHtoD)                                                      \
  X(MemcpyDtoH, hipMemcpyDtoH)                                                      \
  X(MemcpyDtoD, hipMemcpyDtoD)                                                      \
  X(MemcpyHtoDAsync, hipMemcpyHtoDAsync)                                            \
  X(MemcpyDtoHAsync, hipMemcpyDtoHAsync)                                            \
  X(MemcpyDtoDAsync, hipMemcpyDtoDAsync)                                            \
  X(HostAlloc, hipHostMalloc)                                                       \
  X(HostFree, hipHostFree)                                                          \
  X(HostGetDevicePointer, hipHostGetDevicePointer)                                  \
  X(StreamCreateWithPriority, hipStreamCreateWithPriority)                          \
  X(StreamDestroy, hipStreamDestroy)                                                \
  X(StreamQuery, hipStreamQuery)                                                    \
  X(StreamSynchronize, hipStreamSynchronize)                                        \
  X(LaunchKernel, hipModuleLaunchKernel)                                            \
  X(StreamWriteValue32, hipStreamWriteValue32)                                      \
  X(StreamWaitValue32, hipStreamWaitValue32)                                        \
  X(EventCreate, hipEventCreateWithFlags)                                           \
  X(EventDestroy, hipEventDestroy)                                                  \
  X(EventRecord, hipEventRecord)                                                    \
  X(EventQuery, hipEventQuery)                                                      \
  X(EventSynchronize, hipEventSynchronize)                                          \
  X(EventElapsedTime, hipEventElapsedTime)                                          \
  X(GetErrorName, hipGetErrorName)                                                  \
  X(GetErrorString, hipGetErrorString)

#define GPU_ATTR_CC_MAJOR hipDeviceAttributeComputeCapabilityMajor
#define GPU_ATTR_CC_MINOR hipDeviceAttributeComputeCapabilityMinor
#define GPU_ATTR_SM_COUNT hipDeviceAttributeMultiprocessorCount
#define GPU_ATTR_WARP_SIZE hipDeviceAttributeWarpSize
#define GPU_ATTR_MAX_THREADS_PER_BLOCK hipDeviceAttributeMaxThreadsPerBlock
#define GPU_ATTR_MAX_THREADS_PER_SM hipDeviceAttributeMaxThreadsPerMultiProcessor
#define GPU_ATTR_REGS_PER_BLOCK hipDeviceAttributeMaxRegistersPerBlock
#define GPU_ATTR_SMEM_PER_BLOCK hipDeviceAttributeMaxSharedMemoryPerBlock
#define GPU_ATTR_SMEM_PER_SM hipDeviceAttributeMaxSharedMemoryPerMultiprocessor
#define GPU_ATTR_CLOCK hipDeviceAttributeClockRate
#define GPU_ATTR_MEM_CLOCK hipDeviceAttributeMemoryClockRate
#define GPU_ATTR_BUS_WIDTH hipDeviceAttributeMemoryBusWidth
#define GPU_ATTR_L2 hipDeviceAttributeL2CacheSize
/* HIP has no separate attributes for these: reef_gpu.cpp derives them. */
#define GPU_HAS_SM_BLOCK_LIMITS 0

#define GPU_FUNC_ATTR_REGS HIP_FUNC_ATTRIBUTE_NUM_REGS
#define GPU_FUNC_ATTR_SMEM HIP_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
#define GPU_FUNC_ATTR_LOCAL HIP_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES
#define GPU_FUNC_ATTR_MAX_THREADS HIP_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
#define GPU_FUNC_ATTR_MAX_DYN_SMEM HIP_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
#define GPU_FUNC_ATTR_PTX HIP_FUNC_ATTRIBUTE_PTX_VERSION
#define GPU_FUNC_ATTR_BINARY HIP_FUNC_ATTRIBUTE_BINARY_VERSION

#define GPU_LAUNCH_PARAM_BUFFER_POINTER HIP_LAUNCH_PARAM_BUFFER_POINTER
#define GPU_LAUNCH_PARAM_BUFFER_SIZE HIP_LAUNCH_PARAM_BUFFER_SIZE
#define GPU_LAUNCH_PARAM_END HIP_LAUNCH_PARAM_END
#define GPU_HOST_ALLOC_MAPPED hipHostMallocMapped
#define GPU_HOST_ALLOC_PORTABLE hipHostMallocPortable
#define GPU_STREAM_NON_BLOCKING hipStreamNonBlocking
#define GPU_EVENT_DEFAULT hipEventDefault
#define GPU_EVENT_DISABLE_TIMING hipEventDisableTiming
#define GPU_WAIT_GEQ hipStreamWaitValueGte
#define GPU_WAIT_EQ hipStreamWaitValueEq

/* Device addresses are pointers in HIP's API. */
#define GPU_PTR(address) ((hipDeviceptr_t)(uintptr_t)(address))
#define GPU_VOID_PTR(address) ((void*)(uintptr_t)(address))

#else /* CUDA */
#include <cuda.h>

#define GPU_PLATFORM 1u
#define GPU_PLATFORM_NAME "CUDA"
#define GPU_LIBRARIES {"libcuda.so.1", "libcuda.so"}

typedef CUresult gpu_result;
typedef CUdevice gpu_device;
typedef CUcontext gpu_context;
typedef CUmodule gpu_module;
typedef CUfunction gpu_function;
typedef CUstream gpu_stream;
typedef CUevent gpu_event;
#define GPU_SUCCESS CUDA_SUCCESS
#define GPU_NOT_READY CUDA_ERROR_NOT_READY

/* X(generic name, CUDA driver symbol): resolved through cuGetProcAddress, which picks the
 * versioned entry point (e.g. cuMemAlloc_v2) that matches these headers. */
#define GPU_FUNCTIONS(X)                                                            \
  X(Init, cuInit)                                                                   \
  X(DriverGetVersion, cuDriverGetVersion)                                           \
  X(DeviceGetCount, cuDeviceGetCount)                                               \
  X(DeviceGet, cuDeviceGet)                                                         \
  X(DeviceGetName, cuDeviceGetName)                                                 \
  X(DeviceGetAttribute, cuDeviceGetAttribute)                                       \
  X(DeviceTotalMem, cuDeviceTotalMem)                                               \
  X(PrimaryCtxRetain, cuDevicePrimaryCtxRetain)                                     \
  X(PrimaryCtxRelease, cuDevicePrimaryCtxRelease)                                   \
  X(CtxSetCurrent, cuCtxSetCurrent)                                                 \
  X(CtxSynchronize, cuCtxSynchronize)                                               \
  X(StreamPriorityRange, cuCtxGetStreamPriorityRange)                               \
  X(MemGetInfo, cuMemGetInfo)                                                       \
  X(ModuleLoadDataEx, cuModuleLoadDataEx)                                           \
  X(ModuleUnload, cuModuleUnload)                                                   \
  X(ModuleGetFunction, cuModuleGetFunction)                                         \
  X(ModuleGetGlobal, cuModuleGetGlobal)                                             \
  X(FuncGetAttribute, cuFuncGetAttribute)                                           \
  X(FuncSetAttribute, cuFuncSetAttribute)                                           \
  X(Occupancy, cuOccupancyMaxActiveBlocksPerMultiprocessor)                         \
  X(MemAlloc, cuMemAlloc)                                                           \
  X(MemFree, cuMemFree)                                                             \
  X(MemsetD8, cuMemsetD8)                                                           \
  X(MemsetD32, cuMemsetD32)                                                         \
  X(MemsetD32Async, cuMemsetD32Async)                                               \
  X(MemcpyHtoD, cuMemcpyHtoD)                                                       \
  X(MemcpyDtoH, cuMemcpyDtoH)                                                       \
  X(MemcpyDtoD, cuMemcpyDtoD)                                                       \
  X(MemcpyHtoDAsync, cuMemcpyHtoDAsync)                                             \
  X(MemcpyDtoHAsync, cuMemcpyDtoHAsync)                                             \
  X(MemcpyDtoDAsync, cuMemcpyDtoDAsync)                                             \
  X(HostAlloc, cuMemHostAlloc)                                                      \
  X(HostFree, cuMemFreeHost)                                                        \
  X(HostGetDevicePointer, cuMemHostGetDevicePointer)                                \
  X(StreamCreateWithPriority, cuStreamCreateWithPriority)                           \
  X(StreamDestroy, cuStreamDestroy)                                                 \
  X(StreamQuery, cuStreamQuery)                                                     \
  X(StreamSynchronize, cuStreamSynchronize)                                         \
  X(LaunchKernel, cuLaunchKernel)                                                   \
  X(StreamWriteValue32, cuStreamWriteValue32)                                       \
  X(StreamWaitValue32, cuStreamWaitValue32)                                         \
  X(EventCreate, cuEventCreate)                                                     \
  X(EventDestroy, cuEventDestroy)                                                   \
  X(EventRecord, cuEventRecord)                                                     \
  X(EventQuery, cuEventQuery)                                                       \
  X(EventSynchronize, cuEventSynchronize)                                           \
  X(EventElapsedTime, cuEventElapsedTime)                                           \
  X(GetErrorName, cuGetErrorName)                                                   \
  X(GetErrorString, cuGetErrorString)

#define GPU_ATTR_CC_MAJOR CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
#define GPU_ATTR_CC_MINOR CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
#define GPU_ATTR_SM_COUNT CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
#define GPU_ATTR_WARP_SIZE CU_DEVICE_ATTRIBUTE_WARP_SIZE
#define GPU_ATTR_MAX_THREADS_PER_BLOCK CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK
#define GPU_ATTR_MAX_THREADS_PER_SM CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR
#define GPU_ATTR_MAX_BLOCKS_PER_SM CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR
#define GPU_ATTR_REGS_PER_BLOCK CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK
#define GPU_ATTR_REGS_PER_SM CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR
#define GPU_ATTR_SMEM_PER_BLOCK CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK
#define GPU_ATTR_SMEM_PER_BLOCK_OPTIN CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
#define GPU_ATTR_SMEM_PER_SM CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
#define GPU_ATTR_CLOCK CU_DEVICE_ATTRIBUTE_CLOCK_RATE
#define GPU_ATTR_MEM_CLOCK CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE
#define GPU_ATTR_BUS_WIDTH CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH
#define GPU_ATTR_L2 CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
#define GPU_HAS_SM_BLOCK_LIMITS 1

#define GPU_FUNC_ATTR_REGS CU_FUNC_ATTRIBUTE_NUM_REGS
#define GPU_FUNC_ATTR_SMEM CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
#define GPU_FUNC_ATTR_LOCAL CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES
#define GPU_FUNC_ATTR_MAX_THREADS CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
#define GPU_FUNC_ATTR_MAX_DYN_SMEM CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
#define GPU_FUNC_ATTR_PTX CU_FUNC_ATTRIBUTE_PTX_VERSION
#define GPU_FUNC_ATTR_BINARY CU_FUNC_ATTRIBUTE_BINARY_VERSION

#define GPU_LAUNCH_PARAM_BUFFER_POINTER CU_LAUNCH_PARAM_BUFFER_POINTER
#define GPU_LAUNCH_PARAM_BUFFER_SIZE CU_LAUNCH_PARAM_BUFFER_SIZE
#define GPU_LAUNCH_PARAM_END CU_LAUNCH_PARAM_END
#define GPU_HOST_ALLOC_MAPPED CU_MEMHOSTALLOC_DEVICEMAP
#define GPU_HOST_ALLOC_PORTABLE CU_MEMHOSTALLOC_PORTABLE
#define GPU_STREAM_NON_BLOCKING CU_STREAM_NON_BLOCKING
#define GPU_EVENT_DEFAULT CU_EVENT_DEFAULT
#define GPU_EVENT_DISABLE_TIMING CU_EVENT_DISABLE_TIMING
#define GPU_WAIT_GEQ CU_STREAM_WAIT_VALUE_GEQ
#define GPU_WAIT_EQ CU_STREAM_WAIT_VALUE_EQ

#define GPU_PTR(address) ((CUdeviceptr)(address))
#define GPU_VOID_PTR(address) ((CUdeviceptr)(address))

#endif

#endif /* REEF_GPU_API_H */
