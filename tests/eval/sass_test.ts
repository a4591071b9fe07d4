import assert from "node:assert/strict";
import { parseSass, selectKernels, summarize } from "../../evaluation/scripts/sass.ts";

const SOURCE = `// m: BE build of 2 kernels, float16, target cuda.
#define REEF_BUILD_BE
#include "templates.cuh"

extern "C" __global__ void __launch_bounds__(256, 1)
k0_pool(const int* reef_flag, unsigned* reef_mark, const __half* __restrict__ x) {
  body0();
}

extern "C" __global__ void __launch_bounds__(128, 1)
k1_reduce(const int* reef_flag, unsigned* reef_mark, const float* __restrict__ ws) {
  body1();
}
`;

Deno.test("selectKernels keeps the preamble and the named kernels, in the order asked", () => {
  const text = selectKernels(SOURCE, ["k1_reduce"]);
  assert.ok(text.startsWith("// m: BE build"));
  assert.ok(text.includes("#define REEF_BUILD_BE") && text.includes("body1();"));
  assert.ok(!text.includes("k0_pool") && !text.includes("body0();"));
  assert.equal(selectKernels(SOURCE, null), SOURCE);
  assert.throws(() => selectKernels(SOURCE, ["k9_conv"]), /no kernel "k9_conv"/);
  assert.throws(() => selectKernels("int x;", null), /defines no kernel/);
});

// Session 9's split-K reduce, as nvdisasm prints it: the flag (R2) is tested before the branch to
// the slice loads, so every warp waits for it first.
const NVDISASM = `
//--------------------- .text.k11_reduce          --------------------------
	.section	.text.k11_reduce,"ax",@progbits
.text.k11_reduce:
        /*0030*/                   LOP3.LUT P0, R4, R0, 0x1f, RZ, 0xc0, !PT ;
        /*0050*/              @!P0 LDG.E.STRONG.GPU R2, [R2.64] ;
        /*00a0*/                   ISETP.GT.AND P2, PT, R0, 0x187ff, PT ;
        /*00f0*/                   ISETP.NE.AND P1, PT, R2, RZ, !P0 ;
        /*0100*/                   IMAD.SHL.U32 R2, R7, 0x4, RZ ;
        /*0120*/               @P2 BRA \`(.L_x_1) ;
        /*0180*/                   LDG.E.128.CONSTANT R4, [R22.64] ;
        /*0190*/                   LDG.E.128.CONSTANT R8, [R22.64+0x188000] ;
        /*0290*/                   VOTE.ANY P1, P1 ;
        /*0310*/                   LDG.E.128.CONSTANT R4, [R4.64] ;
        /*0420*/                   STG.E.64 [R2.64], R8 ;
        /*0490*/                   EXIT ;
        /*04a0*/                   BRA \`(.L_x_4);
        /*04b0*/                   NOP;
`;

// Session 10's, as cuobjdump prints it (two kernels): the flag (R24) read after the loads.
const CUOBJDUMP = `
		Function : k11_reduce
	.headerflags	@"EF_CUDA_TEXMODE_UNIFIED EF_CUDA_64BIT_ADDRESS EF_CUDA_SM90"
        /*0100*/              @!P0 LDG.E.STRONG.GPU R24, [R16.64] ;   /* 0x0000000410188981 */
                                                                      /* 0x000ea8000c1ef900 */
        /*0160*/                   LDG.E.128.CONSTANT R4, [R28.64] ;  /* 0x000000041c047981 */
        /*0170*/                   LDG.E.128.CONSTANT R8, [R28.64+0x188000] ;
        /*01b0*/                   LDG.E.128.CONSTANT R20, [R20.64] ;
        /*01d0*/                   ISETP.NE.AND P1, PT, R24, RZ, !P0 ;
        /*01f0*/                   VOTE.ANY P1, P1 ;
        /*03f0*/                   STG.E.64 [R2.64], R20 ;
        /*0460*/                   EXIT ;
		Function : k12_copy
        /*0000*/                   STS [R19+UR5], R12 ;
        /*0010*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*0020*/                   EXIT ;
`;

Deno.test("parseSass reads nvdisasm's and cuobjdump's listings, without the padding at the end", () => {
  const old = parseSass(NVDISASM);
  assert.deepEqual([...old.keys()], ["k11_reduce"]);
  assert.equal(old.get("k11_reduce")!.length, 12);
  assert.equal(old.get("k11_reduce")![1], "@!P0 LDG.E.STRONG.GPU R2, [R2.64]");
  assert.equal(old.get("k11_reduce")!.at(-1), "EXIT");
  const current = parseSass(CUOBJDUMP);
  assert.deepEqual([...current.keys()], ["k11_reduce", "k12_copy"]);
  assert.equal(current.get("k11_reduce")!.length, 8);
  assert.equal(current.get("k12_copy")![0], "STS [R19+UR5], R12");
});

Deno.test("summarize counts the body's loads on each side of the flag's first read", () => {
  const old = summarize(parseSass(NVDISASM).get("k11_reduce")!);
  assert.deepEqual(old, {
    instructions: 12,
    barriers: 0,
    votes: 1,
    loadsBeforeFlagUse: 0,
    loadsAfterFlagUse: 3,
  });
  const current = summarize(parseSass(CUOBJDUMP).get("k11_reduce")!);
  assert.equal(current.loadsBeforeFlagUse, 3);
  assert.equal(current.loadsAfterFlagUse, 0);
  const noFlag = summarize(parseSass(CUOBJDUMP).get("k12_copy")!);
  assert.equal(noFlag.barriers, 1);
  assert.equal(noFlag.loadsBeforeFlagUse, null);
  // A store reads its first operand: the flag published to shared memory is a use.
  const published = summarize([
    "@!P0 LDG.E.STRONG.GPU R12, [R4.64]",
    "@!P0 STS [R19+UR5], R12",
    "LDG.E.EF.128 R8, [R24.64]",
  ]);
  assert.equal(published.loadsBeforeFlagUse, 0);
  assert.equal(published.loadsAfterFlagUse, 1);
});
