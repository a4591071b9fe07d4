/**
 * The safetensors format (the documented weights-file format of reef): an 8-byte little-endian
 * header length, a JSON header mapping each tensor name to `{dtype, shape, data_offsets}` (byte
 * offsets into the data that follows, which they cover without holes), then the raw
 * little-endian data. PyTorch reads the files with `safetensors.torch.load_file`.
 * @module
 */

import { formatShape, numel } from "./ir.ts";

/** Element types reef reads and writes, with safetensors' names. */
export type SafeDType = "F16" | "F32" | "F64" | "I32" | "I64";

/** Typed array holding a tensor's elements. */
export type SafeArray = Float16Array | Float32Array | Float64Array | Int32Array | BigInt64Array;

/** One tensor of a safetensors file. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: readonly number[];
  data: SafeArray;
}

/** A tensor a reader expects to find (name, type, shape). */
export interface ExpectedTensor {
  name: string;
  dtype: SafeDType;
  shape: readonly number[];
}

const ELEMENT_BYTES: Record<SafeDType, number> = { F16: 2, F32: 4, F64: 8, I32: 4, I64: 8 };

/** Headers larger than this are rejected, as the reference implementation does. */
const MAX_HEADER_BYTES = 100_000_000;

/** Key of the optional string-to-string metadata map in the header. */
const METADATA_KEY = "__metadata__";

function arrayFor(
  dtype: SafeDType,
  buffer: ArrayBuffer,
  byteOffset: number,
  length: number,
): SafeArray {
  switch (dtype) {
    case "F16":
      return new Float16Array(buffer, byteOffset, length);
    case "F32":
      return new Float32Array(buffer, byteOffset, length);
    case "F64":
      return new Float64Array(buffer, byteOffset, length);
    case "I32":
      return new Int32Array(buffer, byteOffset, length);
    case "I64":
      return new BigInt64Array(buffer, byteOffset, length);
  }
}

function isDType(value: unknown): value is SafeDType {
  return typeof value === "string" && Object.hasOwn(ELEMENT_BYTES, value);
}

/** Orders tensors by decreasing element size so that every tensor starts aligned to its size. */
function layout(tensors: ReadonlyMap<string, SafeTensor>): { name: string; tensor: SafeTensor }[] {
  const entries = [...tensors].map(([name, tensor]) => ({ name, tensor }));
  return entries.sort((a, b) => ELEMENT_BYTES[b.tensor.dtype] - ELEMENT_BYTES[a.tensor.dtype]);
}

function checkTensor(name: string, tensor: SafeTensor): void {
  const n = numel(tensor.shape);
  if (tensor.data.length !== n) {
    throw new Error(
      `Cannot write tensor "${name}": shape ${
        formatShape(tensor.shape)
      } has ${n} elements but its data has ${tensor.data.length}`,
    );
  }
  if (tensor.data.BYTES_PER_ELEMENT !== ELEMENT_BYTES[tensor.dtype]) {
    throw new Error(
      `Cannot write tensor "${name}": its data does not hold ${tensor.dtype} elements`,
    );
  }
}

/** Serialises the header (padded with spaces to a multiple of 8 bytes) and returns the data order. */
function encodeHeader(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Record<string, string>,
): { header: Uint8Array; order: { name: string; tensor: SafeTensor }[] } {
  const order = layout(tensors);
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json[METADATA_KEY] = metadata;
  let offset = 0;
  for (const { name, tensor } of order) {
    checkTensor(name, tensor);
    const end = offset + tensor.data.byteLength;
    json[name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, order };
}

function bytesOf(data: SafeArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Encodes tensors (and optional string metadata) as one safetensors byte array. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const { header, order } = encodeHeader(tensors, metadata);
  let size = header.length;
  for (const { tensor } of order) size += tensor.data.byteLength;
  const out = new Uint8Array(size);
  out.set(header, 0);
  let offset = header.length;
  for (const { tensor } of order) {
    out.set(bytesOf(tensor.data), offset);
    offset += tensor.data.byteLength;
  }
  return out;
}

/**
 * Writes tensors to a safetensors file at `path`, streaming the data so that large models are
 * not copied into one buffer first.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const { header, order } = encodeHeader(tensors, metadata);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writeAll = async (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += await file.write(bytes.subarray(done));
  };
  await writeAll(header);
  for (const { tensor } of order) await writeAll(bytesOf(tensor.data));
}

/** Options of {@linkcode decodeSafetensors}. */
export interface DecodeOptions {
  /**
   * Tensors the file must hold, exactly: a missing or extra tensor, or one of another type or
   * shape, is an error.
   */
  expected?: readonly ExpectedTensor[];
}

/**
 * Decodes a safetensors byte array. `file` names the source in error messages. Tensors whose data
 * is aligned are views of `bytes`; others are copied.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
  options: DecodeOptions = {},
): Map<string, SafeTensor> {
  const fail = (message: string): never => {
    throw new Error(`Cannot read safetensors file "${file}": ${message}`);
  };
  if (bytes.length < 8) {
    fail(`the file is ${bytes.length} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = Number(view.getBigUint64(0, true));
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.length) {
    fail(`the header length ${headerBytes} does not fit in the file of ${bytes.length} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)),
    );
  } catch (error) {
    fail(
      `the header is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("the header is not a JSON object");
  }
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const ranges: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) continue;
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    if (!isDType(dtype)) fail(`tensor "${name}" has unsupported dtype "${String(dtype)}"`);
    const dims = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0)
      ? shape as number[]
      : fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    const [begin, end] = Array.isArray(offsets) && offsets.length === 2 &&
        offsets.every((o) => Number.isSafeInteger(o) && o >= 0) && offsets[0] <= offsets[1]
      ? offsets as number[]
      : fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    const type = dtype as SafeDType;
    const expectedBytes = numel(dims) * ELEMENT_BYTES[type];
    if (end - begin !== expectedBytes) {
      fail(
        `tensor "${name}" (${type} ${
          formatShape(dims)
        }) needs ${expectedBytes} bytes but its data_offsets span ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      fail(
        `the file is ${bytes.length} bytes, too short: tensor "${name}" ends at data byte ${end} but the data holds ${dataBytes} bytes`,
      );
    }
    ranges.push({ name, begin, end });
    const absolute = bytes.byteOffset + dataStart + begin;
    const length = numel(dims);
    const data = absolute % ELEMENT_BYTES[type] === 0
      ? arrayFor(type, bytes.buffer as ArrayBuffer, absolute, length)
      : arrayFor(type, bytes.slice(dataStart + begin, dataStart + end).buffer, 0, length);
    tensors.set(name, { dtype: type, shape: dims, data });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const r of ranges) {
    if (r.begin !== covered) {
      fail(
        r.begin < covered
          ? `tensor "${r.name}" overlaps another tensor's data`
          : `the data has a hole before tensor "${r.name}"`,
      );
    }
    covered = r.end;
  }
  if (covered !== dataBytes) {
    fail(
      `the file is ${bytes.length} bytes, but its header describes ${dataStart + covered} (${
        dataBytes - covered
      } bytes too many)`,
    );
  }
  if (options.expected) checkExpected(tensors, options.expected, fail);
  return tensors;
}

function checkExpected(
  tensors: ReadonlyMap<string, SafeTensor>,
  expected: readonly ExpectedTensor[],
  fail: (message: string) => never,
): void {
  const names = new Set<string>();
  for (const e of expected) {
    names.add(e.name);
    const t = tensors.get(e.name) ?? fail(`tensor "${e.name}" is missing`);
    if (t.dtype !== e.dtype || formatShape(t.shape) !== formatShape(e.shape)) {
      fail(
        `tensor "${e.name}" is ${t.dtype} ${formatShape(t.shape)}, expected ${e.dtype} ${
          formatShape(e.shape)
        }`,
      );
    }
  }
  for (const name of tensors.keys()) if (!names.has(name)) fail(`tensor "${name}" is not expected`);
}

/** Reads and decodes the safetensors file at `path` (see {@linkcode decodeSafetensors}). */
export async function readSafetensors(
  path: string,
  options: DecodeOptions = {},
): Promise<Map<string, SafeTensor>> {
  return decodeSafetensors(await Deno.readFile(path), path, options);
}
