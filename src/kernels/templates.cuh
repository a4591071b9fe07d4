// templates.cuh: every kernel body template, for generated model sources. A generated source
// defines one REEF_BUILD_* macro and includes this file (reef_kernel.cuh comes through it).
#pragma once

#include "attention.cuh"
#include "conv_mma.cuh"
#include "conv_simt.cuh"
#include "depthwise.cuh"
#include "eltwise.cuh"
#include "gemv.cuh"
#include "layernorm.cuh"
#include "pool.cuh"
#include "splitk.cuh"
