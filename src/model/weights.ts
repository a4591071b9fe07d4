/**
 * The weight storage of a model package, reproduced from how it was compiled: the zoo graph with
 * its seeded synthetic `state_dict` (or a safetensors weights file in PyTorch naming), folded and
 * laid out by the compiler's lowering exactly as `reef compile` did.
 *
 * Synthesising and folding VGG-19's 143 M parameters takes seconds, and every scheduler a benchmark
 * creates loads its models again, so the result is cached next to the package
 * (`<m>.weights.bin`, a build output), keyed by everything that determines it; a key mismatch or
 * damaged file is simply recomputed.
 * @module
 */

import { planLowering } from "../compiler/lower.ts";
import { loadWeights, type StateDict, synthesizeWeights } from "../compiler/weights.ts";
import { buildModel } from "../compiler/zoo/mod.ts";
import { syntheticWeights } from "../eval/synthetic.ts";
import { VERSION } from "../version.ts";
import type { Weights } from "./executor.ts";
import type { ModelPackage, PackagePaths } from "./package.ts";

/** The last synthesised state dict: an fp16 and an fp32 package of one model share it. */
let lastStateDict: { key: string; params: StateDict } | undefined;

async function stateDict(
  compiled: NonNullable<ModelPackage["model"]>,
  paths: PackagePaths,
): Promise<StateDict> {
  const graph = buildModel(compiled.zoo, { batch: compiled.batch });
  if (compiled.weights_file) {
    return await loadWeights(`${paths.dir}/${compiled.weights_file}`, graph);
  }
  const key = `${compiled.zoo}/${compiled.batch}/${compiled.seed}`;
  if (lastStateDict?.key !== key) {
    lastStateDict = { key, params: synthesizeWeights(graph, compiled.seed) };
  }
  return lastStateDict.params;
}

async function cacheKey(paths: PackagePaths, pkg: ModelPackage): Promise<string> {
  const file = pkg.model?.weights_file;
  const stat = file ? await Deno.stat(`${paths.dir}/${file}`) : undefined;
  return JSON.stringify({
    reef: VERSION,
    model: pkg.model,
    storage: pkg.storage.length,
    file: stat ? [stat.size, stat.mtime?.getTime()] : null,
  });
}

/** Reads `<m>.weights.bin` if it was written for exactly this package. */
async function readCache(path: string, key: string): Promise<Weights | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) return undefined;
  const headerLength = view.getUint32(0, true);
  if (8 + headerLength > bytes.length) return undefined;
  let header: { key: string; entries: [string, number, number][] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return undefined;
  }
  if (header.key !== key) return undefined;
  const weights = new Map<string, Uint8Array>();
  for (const [name, offset, length] of header.entries) {
    const start = 8 + headerLength + offset;
    if (start + length > bytes.length) return undefined;
    weights.set(name, bytes.subarray(start, start + length));
  }
  return weights;
}

/** Writes the cache atomically (a temporary file renamed), so readers never see half a file. */
async function writeCache(path: string, key: string, weights: Weights): Promise<void> {
  const entries: [string, number, number][] = [];
  let size = 0;
  for (const [name, bytes] of weights) {
    entries.push([name, size, bytes.byteLength]);
    size += bytes.byteLength;
  }
  const header = new TextEncoder().encode(JSON.stringify({ key, entries }));
  const out = new Uint8Array(8 + header.length + size);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 8);
  let offset = 8 + header.length;
  for (const bytes of weights.values()) {
    out.set(bytes, offset);
    offset += bytes.byteLength;
  }
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, out);
  await Deno.rename(temporary, path);
}

/** The bytes of every weight storage of `pkg`, keyed by storage name. */
export async function packageWeights(paths: PackagePaths, pkg: ModelPackage): Promise<Weights> {
  const compiled = pkg.model;
  if (!compiled) {
    throw new Error(
      `${paths.json} has no "model" field, so its weights cannot be reproduced: recompile it with ` +
        "`reef compile`",
    );
  }
  if (compiled.zoo === "synthetic") return syntheticWeights();
  const cache = `${paths.dir}/${paths.name}.weights.bin`;
  const key = await cacheKey(paths, pkg);
  const cached = await readCache(cache, key);
  if (cached) return cached;
  const graph = buildModel(compiled.zoo, { batch: compiled.batch });
  const values = planLowering(graph, { precision: compiled.precision })
    .materialize(await stateDict(compiled, paths));
  const weights = new Map<string, Uint8Array>();
  for (const [name, array] of values) {
    weights.set(name, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }
  try {
    await writeCache(cache, key, weights);
  } catch {
    // A read-only package folder only costs the next load the same computation.
  }
  return weights;
}
