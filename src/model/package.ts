/**
 * The model package: `resource/<m>/<m>.json` in REEF's format (storage, kernels in launch order
 * with `launch_params` and `args`, shared memory), with reef's additions, and
 * `<m>.profile.json` (REEF's profile format). Both are validated with zod; an error names the file
 * and the field.
 *
 * reef's additions to REEF's model JSON, all optional so that REEF's own files parse:
 * - `model`: how the package was compiled (zoo model, batch, precision, weight seed), which is what
 *   the loader needs to regenerate the weights deterministically;
 * - `inputs` / `outputs`: tensors with their storage, logical shape and layout;
 * - `binaries`: the compiled raw, BE and (optional: synthetic models have none) DKP modules,
 *   relative to the package folder.
 * As in REEF, every kernel argument is a storage index.
 * @module
 */

import { z } from "zod";

/** Element types a storage entry may have, with their sizes in bytes. */
export const STORAGE_TYPES = {
  float32: 4,
  float16: 2,
  int32: 4,
  int64: 8,
  byte: 1,
  uint1: 1,
} as const;

/** A storage element type. */
export type StorageTypeName = keyof typeof STORAGE_TYPES;

const int = (what: string) =>
  z.number({ error: `must be ${what}` }).int({ error: `must be ${what}` });
const positive = int("a positive integer").positive({ error: "must be a positive integer" });
const nonNegative = int("a non-negative integer").nonnegative({
  error: "must be a non-negative integer",
});
const text = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" });

const storageSchema = z.object({
  name: text,
  /** Number of elements. */
  size: nonNegative,
  stype: z.enum(Object.keys(STORAGE_TYPES) as [StorageTypeName, ...StorageTypeName[]], {
    error: `must be one of ${Object.keys(STORAGE_TYPES).join(", ")}`,
  }),
});

const kernelSchema = z.object({
  name: text,
  launch_params: z.array(positive, { error: "must be 6 positive integers" }).length(6, {
    error: "must be 6 positive integers [gx, gy, gz, bx, by, bz]",
  }),
  args: z.array(nonNegative, { error: "must be an array of storage indices" }),
});

const tensorSchema = z.object({
  name: text,
  storage: text,
  shape: z.array(positive, { error: "must be an array of positive integers" }),
  /** Open Inference Protocol datatype, e.g. FP16, FP32, INT32. */
  datatype: z.enum(["FP16", "FP32", "INT32", "INT64"], {
    error: "must be FP16, FP32, INT32 or INT64",
  }),
  /** How the storage orders the logical shape: NCHW shapes are stored NHWC. */
  layout: z.enum(["NHWC", "ROW_MAJOR"], { error: "must be NHWC or ROW_MAJOR" }),
});

const modelSchema = z.object({
  /** The zoo model it was compiled from. */
  zoo: text,
  batch: positive,
  precision: z.enum(["float16", "float32"], { error: "must be float16 or float32" }),
  /** Seed of the synthetic weights (when no weights file was given). */
  seed: nonNegative,
  /** A safetensors weights file in PyTorch naming, relative to the package, if not synthetic. */
  weights_file: text.optional(),
  /** reef's version that wrote the package. */
  reef_version: text,
});

/** The schema of `<m>.json`. */
export const packageSchema = z.object({
  storage: z.array(storageSchema, { error: "must be an array" }),
  kernels: z.array(kernelSchema, { error: "must be an array" }).min(1, {
    error: "must list at least one kernel",
  }),
  args: z.array(nonNegative).optional(),
  shared_memory: z.record(z.string(), nonNegative, {
    error: "must map kernel names to bytes",
  }),
  model: modelSchema.optional(),
  inputs: z.array(tensorSchema).optional(),
  outputs: z.array(tensorSchema).optional(),
  binaries: z.object({ raw: text, be: text, dkp: text.optional() }).optional(),
});

/** A model package as read from `<m>.json`. */
export type ModelPackage = z.infer<typeof packageSchema>;
/** One storage entry. */
export type StorageEntry = z.infer<typeof storageSchema>;
/** One kernel call. */
export type KernelCall = z.infer<typeof kernelSchema>;
/** An input or output tensor. */
export type TensorSpec = z.infer<typeof tensorSchema>;

const kernelProfileSchema = z.object({
  /** Standalone time of the kernel, µs. */
  total_latency: z.number({ error: "must be a number of µs" }).nonnegative(),
  /** Time of one wave with j+1 blocks resident per SM, µs, for j = 0 .. occupancy-1. */
  latency: z.array(z.number().nonnegative(), { error: "must be an array of µs" }),
});

/** The schema of `<m>.profile.json`: REEF's format plus reef's optional fields. */
export const profileSchema = z.object({
  /** Standalone time of one inference, µs. */
  model_latency: z.number({ error: "must be a number of µs" }).nonnegative(),
  kernel_latency: z.record(z.string(), kernelProfileSchema, {
    error: "must map kernel names to profiles",
  }),
  /** Resident blocks per SM of each kernel on the profiled device. */
  blocks_per_sm: z.record(z.string(), positive).optional(),
  /**
   * What padding costs each kernel it may pad: its GPU time padded with BE blocks that fit in its
   * profiled time over its time alone, minus 1, the worst over sampled BE kernels of the same
   * model (src/scheduler/padding_profile.ts).
   */
  padding_slowdown: z.record(
    z.string(),
    z.number({ error: "must be a number" }).min(-1, { error: "must be at least -1" }),
    { error: "must map kernel names to numbers" },
  ).optional(),
  /** The device and command that produced the profile. */
  device: z.string().optional(),
  command: z.string().optional(),
});

/** A kernel profile file. */
export type ModelProfile = z.infer<typeof profileSchema>;

/** A package or profile that failed validation: names the file and the field. */
export class PackageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "PackageError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    "",
  );
}

function parseWith<T>(schema: z.ZodType<T>, text: string, file: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PackageError(
      `Cannot read ${file}: it is not valid JSON (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = fieldPath(issue.path);
    throw new PackageError(
      `Invalid ${file}: field "${field || "(root)"}" ${issue.message}`,
    );
  }
  return result.data;
}

/**
 * Checks what the schema cannot: arguments index existing storage, every kernel has a shared
 * memory entry, inputs and outputs name existing storage.
 */
function checkReferences(pkg: ModelPackage, file: string): void {
  const fail = (field: string, message: string): never => {
    throw new PackageError(`Invalid ${file}: field "${field}" ${message}`);
  };
  pkg.kernels.forEach((kernel, i) => {
    kernel.args.forEach((arg, j) => {
      if (arg >= pkg.storage.length) {
        fail(
          `kernels[${i}].args[${j}]`,
          `is ${arg}, but there are ${pkg.storage.length} storage entries`,
        );
      }
    });
    if (!(kernel.name in pkg.shared_memory)) {
      fail(`shared_memory`, `has no entry for kernel "${kernel.name}" (kernels[${i}])`);
    }
  });
  // REEF's own files repeat names (every intermediate is "null"), so storage is addressed by
  // index; a name used to find an input or output must still be unique.
  const counts = new Map<string, number>();
  for (const { name } of pkg.storage) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const [list, tensors] of [["inputs", pkg.inputs], ["outputs", pkg.outputs]] as const) {
    tensors?.forEach((tensor, i) => {
      const count = counts.get(tensor.storage) ?? 0;
      if (count === 0) fail(`${list}[${i}].storage`, `names unknown storage "${tensor.storage}"`);
      if (count > 1) {
        fail(`${list}[${i}].storage`, `names storage "${tensor.storage}", which is not unique`);
      }
    });
  }
}

/** Parses and checks the text of a model JSON; `file` names it in errors. */
export function parsePackage(text: string, file: string): ModelPackage {
  const pkg = parseWith(packageSchema, text, file);
  checkReferences(pkg, file);
  return pkg;
}

/** Parses the text of a profile JSON; `file` names it in errors. */
export function parseProfile(text: string, file: string): ModelProfile {
  return parseWith(profileSchema, text, file);
}

/** A kernel call's grid and block, from its `launch_params` (the schema checks there are six). */
export function launchDimensions(
  call: KernelCall,
): { grid: [number, number, number]; block: [number, number, number] } {
  const [gx, gy, gz, bx, by, bz] = call.launch_params as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { grid: [gx, gy, gz], block: [bx, by, bz] };
}

/** Size in bytes of a storage entry. */
export function storageBytes(entry: StorageEntry): number {
  return entry.size * STORAGE_TYPES[entry.stype];
}

/** Size in bytes of the storage a tensor of `pkg` names (parsing checked that it exists). */
export function tensorBytes(pkg: ModelPackage, tensor: TensorSpec): number {
  return storageBytes(pkg.storage.find((entry) => entry.name === tensor.storage)!);
}

/** Where a model's files are: `<dir>/<name>.json`, `<dir>/<name>.profile.json`, binaries. */
export interface PackagePaths {
  dir: string;
  name: string;
  json: string;
  profile: string;
}

/** The paths of model `name` in `resource/` (or another root): `<root>/<name>/<name>.json`. */
export function packagePaths(name: string, root = defaultResourceRoot()): PackagePaths {
  return packagePathsIn(`${root}/${name}`, name);
}

/** The paths of a package of model `name` kept in folder `dir`. */
export function packagePathsIn(dir: string, name: string): PackagePaths {
  return { dir, name, json: `${dir}/${name}.json`, profile: `${dir}/${name}.profile.json` };
}

/** The `resource/` folder of this checkout (or of the compiled executable). */
export function defaultResourceRoot(): string {
  return decodeURIComponent(new URL("../../resource", import.meta.url).pathname);
}

/** Reads and validates a package from disk, with errors naming the file. */
export async function readPackage(paths: PackagePaths): Promise<ModelPackage> {
  let text: string;
  try {
    text = await Deno.readTextFile(paths.json);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new PackageError(
        `No model package "${paths.name}" at ${paths.json}: run \`reef compile ${paths.name}\` first`,
      );
    }
    throw error;
  }
  return parsePackage(text, paths.json);
}

/** Reads and validates a profile from disk, or returns undefined if there is none. */
export async function readProfile(paths: PackagePaths): Promise<ModelProfile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(paths.profile);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseProfile(text, paths.profile);
}
