// cuda_fp16.h for the CPU emulator: reef_kernel.cuh includes <cuda_fp16.h> first, so this shim
// also brings in the emulated execution model. __half is the IEEE binary16 bit pattern, converted
// with round-to-nearest-even exactly like the device.
#pragma once

#include "../../gpu/kernels/check_common.h"
#include "emu_runtime.h"

struct __half {
  unsigned short bits;
};

inline float __half2float(__half h) { return check::half_to_float(h.bits); }
inline __half __float2half_rn(float f) { return __half{check::float_to_half(f)}; }
