/**
 * Reads the function prototypes of `ffi/reef_gpu.h`, for tests that check the binding against it.
 * @module
 */

/** One C prototype: name, result type and parameter types. */
export interface Prototype {
  name: string;
  result: string;
  parameters: string[];
}

/** The header's path. */
export const HEADER = new URL("../../ffi/reef_gpu.h", import.meta.url);

/** Parses every `reef_*` function declaration of the header. */
export function readPrototypes(text = Deno.readTextFileSync(HEADER)): Prototype[] {
  const withoutComments = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const pattern = /^\s*([A-Za-z_][\w ]*?\**)\s*\b(reef_\w+)\s*\(([^)]*)\)\s*;/gm;
  const prototypes: Prototype[] = [];
  for (const match of withoutComments.matchAll(pattern)) {
    const [, result, name, list] = match;
    const parameters = list!.trim() === "void"
      ? []
      : list!.split(",").map((p) =>
        p.trim().replace(/\s+/g, " ").replace(/\s*\w+$/, "").replace(/\s+\*/g, "*")
      );
    prototypes.push({ name: name!, result: result!.trim(), parameters });
  }
  return prototypes;
}

/** The Deno FFI type a C type must be bound as. */
export function ffiType(cType: string): string {
  if (cType.endsWith("*")) {
    // Handles (reef_x*) go by pointer; out-parameters and data by buffer.
    return /^(const )?reef_(device|module|kernel|buffer|host_buffer|stream|event)\*$/.test(cType) ||
        cType === "const void*"
      ? "pointer"
      : "buffer";
  }
  const scalars: Record<string, string> = {
    "uint32_t": "u32",
    "int32_t": "i32",
    "uint64_t": "u64",
    "int64_t": "i64",
    "uint8_t": "u8",
    "reef_status": "i32",
    "void": "void",
  };
  const type = scalars[cType];
  if (!type) throw new Error(`No FFI type for C type "${cType}"`);
  return type;
}
