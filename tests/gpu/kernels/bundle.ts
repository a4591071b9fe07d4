/**
 * Builds a kernel-check bundle from a list of cases (one op each): the generated kernel sources
 * (raw, BE, DKP) per precision, and `manifest.txt`, the plain-text description that
 * `kernel_check.cu` (GPU) and `emu_check.cpp` (CPU emulator) read: each case's op fields (for the
 * float64 reference), its storages with their random ranges, and its launches.
 * @module
 */

import { emitModel, type EmittedModel } from "../../../src/kernels/emit.ts";
import type { KernelOp, Precision, View } from "../../../src/kernels/ops.ts";

/** One check: an op, checked alone with fresh random inputs. */
export interface CheckCase {
  /** Short identifier (letters, digits, `_`). */
  name: string;
  op: KernelOp;
  precision: Precision;
}

/** A storage of one case, with how the checker fills it. */
export interface CaseStorage {
  name: string;
  stype: "float16" | "float32" | "int32";
  elements: number;
  /** `in`: random in [lo, hi]; `out`: poisoned and checked; `ws`: poisoned scratch. */
  role: "in" | "out" | "ws";
  lo: number;
  hi: number;
}

/** A generated bundle: file name -> text, plus the emitted models behind it. */
export interface CheckBundle {
  files: Map<string, string>;
  models: EmittedModel[];
}

/** Options of {@linkcode buildBundle}. */
export interface BundleOptions {
  /**
   * Most cases per module (default: one module per precision). Smaller modules let nvcc compile
   * them in parallel: ptxas time on a DKP build grows faster than its kernel count, and one
   * float16 DKP module of every GPU case took over 10 minutes.
   */
  casesPerModule?: number;
  /** Extension of the compiled binaries the manifest names (default `cubin`). */
  binaryExtension?: string;
}

/** Module name of a precision's `part`-th group of kernels in the bundle. */
export function moduleName(precision: Precision, part: number): string {
  return `${precision === "float16" ? "check_f16" : "check_f32"}_${part}`;
}

const STORAGE_FIELDS = new Set([
  "storage",
  "weight",
  "bias",
  "scale",
  "shift",
  "gamma",
  "beta",
  "ids",
  "word",
  "position",
  "tokenType",
]);

/** Prefixes every storage name in an op, so that cases never share buffers. */
export function prefixStorages<T>(value: T, prefix: string): T {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === "string" && key !== null && STORAGE_FIELDS.has(key)) return prefix + v;
    if (Array.isArray(v)) return v.map((x) => walk(x, null));
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return walk(value, null) as T;
}

/** The op's fields as manifest `field` records (views as `storage,channels,offset`). */
export function opFields(op: KernelOp): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(op)) {
    if (key === "kind") continue;
    if (key === "pre") {
      const pre = value as { scale: string; shift: string } | null;
      out.push(["pre_scale", pre?.scale ?? "-"], ["pre_shift", pre?.shift ?? "-"]);
    } else if (value === null) {
      out.push([key, "-"]);
    } else if (typeof value === "object") {
      const v = value as View;
      out.push([key, `${v.storage},${v.channels},${v.offset}`]);
    } else {
      out.push([key, String(value)]);
    }
  }
  return out;
}

/** The storages an op touches, sized from its shapes, with their random ranges. */
export function opStorages(op: KernelOp, precision: Precision): CaseStorage[] {
  const list: CaseStorage[] = [];
  const act = (name: string, elements: number, role: "in" | "out" = "in") =>
    list.push({ name, stype: precision, elements, role, lo: -1, hi: 1 });
  const f32 = (name: string | null, elements: number, lo: number, hi: number) => {
    if (name !== null) list.push({ name, stype: "float32", elements, role: "in", lo, hi });
  };
  const weight = (name: string, elements: number, fanIn: number) => {
    const a = Math.sqrt(3 / fanIn);
    list.push({ name, stype: precision, elements, role: "in", lo: -a, hi: a });
  };
  const viewed = (v: View | null, pixels: number, role: "in" | "out" = "in") => {
    if (v !== null) act(v.storage, pixels * v.channels, role);
  };
  switch (op.kind) {
    case "conv2d": {
      const fanIn = op.kh * op.kw * (op.cin / op.groups);
      viewed(op.input, op.n * op.h * op.w);
      weight(op.weight, op.cout * fanIn, fanIn);
      f32(op.bias, op.cout, -0.5, 0.5);
      f32(op.pre?.scale ?? null, op.cin, 0.5, 1.5);
      f32(op.pre?.shift ?? null, op.cin, -0.5, 0.5);
      viewed(op.residual, op.n * op.oh * op.ow);
      viewed(op.output, op.n * op.oh * op.ow, "out");
      break;
    }
    case "linear":
      viewed(op.input, op.m);
      weight(op.weight, op.out * op.in, op.in);
      f32(op.bias, op.out, -0.5, 0.5);
      viewed(op.residual, op.m);
      viewed(op.output, op.m, "out");
      break;
    case "pool2d":
      viewed(op.input, op.n * op.h * op.w);
      f32(op.pre?.scale ?? null, op.c, 0.5, 1.5);
      f32(op.pre?.shift ?? null, op.c, -0.5, 0.5);
      viewed(op.output, op.n * op.oh * op.ow, "out");
      break;
    case "global_avgpool":
      viewed(op.input, op.n * op.h * op.w);
      f32(op.pre?.scale ?? null, op.c, 0.5, 1.5);
      f32(op.pre?.shift ?? null, op.c, -0.5, 0.5);
      viewed(op.output, op.n, "out");
      break;
    case "layernorm":
      viewed(op.input, op.rows);
      viewed(op.residual, op.rows);
      f32(op.gamma, op.dim, 0.5, 1.5);
      f32(op.beta, op.dim, -0.5, 0.5);
      viewed(op.output, op.rows, "out");
      break;
    case "embedding":
      list.push({
        name: op.ids,
        stype: "int32",
        elements: op.n * op.seq,
        role: "in",
        lo: 0,
        hi: op.vocab - 1,
      });
      act(op.word, op.vocab * op.dim);
      act(op.position, op.seq * op.dim);
      if (op.tokenType !== null) act(op.tokenType, 2 * op.dim);
      f32(op.gamma, op.dim, 0.5, 1.5);
      f32(op.beta, op.dim, -0.5, 0.5);
      viewed(op.output, op.n * op.seq, "out");
      break;
    case "attention":
      for (const v of [op.q, op.k, op.v]) viewed(v, op.n * op.seq);
      viewed(op.output, op.n * op.seq, "out");
      break;
    case "add":
      viewed(op.a, op.pixels);
      viewed(op.b, op.pixels);
      viewed(op.output, op.pixels, "out");
      break;
  }
  // One buffer may back several views (q, k and v of one QKV buffer): keep the largest.
  const byName = new Map<string, CaseStorage>();
  for (const s of list) {
    const seen = byName.get(s.name);
    if (seen === undefined || seen.elements < s.elements) byName.set(s.name, s);
  }
  return [...byName.values()];
}

/** Emits one model per precision (or per part of one, see `casesPerModule`) and the manifest. */
export function buildBundle(cases: readonly CheckCase[], options: BundleOptions = {}): CheckBundle {
  const { casesPerModule = Infinity, binaryExtension = "cubin" } = options;
  if (!(casesPerModule >= 1)) {
    throw new Error(`casesPerModule must be at least 1, not ${casesPerModule}`);
  }
  const files = new Map<string, string>();
  const models: EmittedModel[] = [];
  const lines = ["reef-kernel-check 1"];
  const prepared = cases.map((c, i) => {
    if (!/^[A-Za-z0-9_]+$/.test(c.name)) {
      throw new Error(`Check case ${i} has an invalid name "${c.name}"`);
    }
    return { ...c, index: i, op: prefixStorages(c.op, `c${i}_`) };
  });
  const groups = (["float16", "float32"] as const).flatMap((precision) => {
    const all = prepared.filter((c) => c.precision === precision);
    const size = Math.min(casesPerModule, all.length);
    return Array.from({ length: size === 0 ? 0 : Math.ceil(all.length / size) }, (_, part) => ({
      precision,
      module: moduleName(precision, part),
      group: all.slice(part * size, (part + 1) * size),
    }));
  });
  for (const { precision, module, group } of groups) {
    const model = emitModel(module, group.map((c) => c.op), { precision });
    models.push(model);
    for (const file of [model.files.raw, model.files.be, model.files.dkp]) {
      files.set(file.fileName, file.text);
    }
    const binary = (f: string) => f.replace(/\.cu$/, `.${binaryExtension}`);
    lines.push(
      `module ${module} ${precision} ${binary(model.files.raw.fileName)} ` +
        `${binary(model.files.be.fileName)} ${binary(model.files.dkp.fileName)}`,
    );
    group.forEach((c, opIndex) => {
      lines.push(`case ${c.index} ${c.name} ${module} ${c.op.kind}`);
      for (const [key, value] of opFields(c.op)) lines.push(`field ${key} ${value}`);
      const storages = opStorages(c.op, precision);
      const launches = model.launches.filter((l) => l.op === opIndex);
      for (const w of model.workspaces) {
        if (launches.some((l) => l.args.includes(w.name))) {
          storages.push({
            name: w.name,
            stype: "float32",
            elements: w.size,
            role: "ws",
            lo: 0,
            hi: 0,
          });
        }
      }
      for (const s of storages) {
        lines.push(`storage ${s.name} ${s.stype} ${s.elements} ${s.role} ${s.lo} ${s.hi}`);
      }
      for (const l of launches) {
        const [gx, gy, gz, bx] = l.launch_params;
        const path = model.functions.find((f) => f.name === l.name)?.spec.path;
        lines.push(
          `launch ${l.name} ${path} ${gx} ${gy} ${gz} ${bx} ${l.shared_memory} ${l.args.length} ` +
            l.args.join(" "),
        );
      }
      lines.push("end");
    });
  }
  files.set("manifest.txt", lines.join("\n") + "\n");
  return { files, models };
}

/** Writes a bundle's files into `dir` (created if needed). */
export async function writeBundle(bundle: CheckBundle, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, text] of bundle.files) await Deno.writeTextFile(`${dir}/${name}`, text);
}
