/**
 * Tensor contents: conversion between element values (JSON `data`, gRPC typed contents) and the
 * binary format every tensor is stored in (row-major, little-endian; `BOOL` is one byte 0 or 1;
 * a `BYTES` element is a 4-byte little-endian length and the bytes), and size checks.
 * @module
 */

import type { Datatype, Tensor } from "./backend.ts";
import { InferenceError } from "./errors.ts";

/** Bytes per element of each datatype; `BYTES` elements have no fixed size. */
const ELEMENT_BYTES: Record<Datatype, number | undefined> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  BF16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: undefined,
};

/** One element value: numbers, 64-bit integers as bigint, booleans, `BYTES` elements as bytes. */
export type ElementValue = number | bigint | boolean | Uint8Array;

const INTEGER_RANGES: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/** True if `name` is a datatype of the protocol. */
export function isDatatype(name: string): name is Datatype {
  return Object.hasOwn(ELEMENT_BYTES, name);
}

/** Bytes per element of a fixed-size datatype, `undefined` for `BYTES`. */
export function elementBytes(datatype: Datatype): number | undefined {
  return ELEMENT_BYTES[datatype];
}

/**
 * Number of elements of a tensor shape; throws for a dimension that is not a non-negative integer.
 * `what` names the tensor in the error, e.g. `Input "x"`.
 */
export function elementCount(what: string, shape: readonly number[]): number {
  let count = 1;
  for (const [i, dim] of shape.entries()) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: dimension ${i} of shape [${shape.join(",")}] must be a non-negative integer`,
      );
    }
    count *= dim;
  }
  return count;
}

/**
 * Checks that a tensor's byte length fits its datatype and shape: exactly elements × size for
 * fixed-size types; well-formed length-prefixed elements, as many as the shape says, for `BYTES`.
 */
export function checkTensorSize(what: string, tensor: Tensor): void {
  const count = elementCount(what, tensor.shape);
  const size = ELEMENT_BYTES[tensor.datatype];
  if (size === undefined) {
    const elements = splitBytesElements(what, tensor.data);
    if (elements.length !== count) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: shape [${
          tensor.shape.join(",")
        }] needs ${count} BYTES elements, got ${elements.length}`,
      );
    }
    return;
  }
  if (tensor.data.byteLength !== count * size) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: shape [${tensor.shape.join(",")}] of ${tensor.datatype} needs ${
        count * size
      } bytes, got ${tensor.data.byteLength}`,
    );
  }
}

/**
 * Flattens JSON tensor data, nested or flat, in row-major order. A nested array must follow the
 * shape: each level has as many entries as its dimension.
 */
export function flattenJsonData(what: string, data: unknown, shape: readonly number[]): unknown[] {
  if (!Array.isArray(data)) {
    throw new InferenceError("invalid_argument", `${what}: field "data" must be an array`);
  }
  if (!data.some(Array.isArray)) return data;
  const flat: unknown[] = [];
  const walk = (level: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(level)) {
        throw new InferenceError(
          "invalid_argument",
          `${what}: "data${path}" is nested deeper than shape [${shape.join(",")}]`,
        );
      }
      flat.push(level);
      return;
    }
    if (!Array.isArray(level) || level.length !== shape[depth]) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: "data${path}" must be an array of ${shape[depth]} entries to match shape [${
          shape.join(",")
        }]`,
      );
    }
    level.forEach((entry, i) => walk(entry, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, "");
  return flat;
}

/**
 * Packs element values into the binary format. Accepts JSON values (numbers, booleans, strings
 * for `BYTES`) and the typed values of gRPC contents (bigint or decimal strings for 64-bit
 * integers, bytes for `BYTES`). Throws naming the first bad element.
 */
export function packElements(
  what: string,
  datatype: Datatype,
  shape: readonly number[],
  values: readonly unknown[],
): Uint8Array {
  const count = elementCount(what, shape);
  if (values.length !== count) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: shape [${shape.join(",")}] needs ${count} elements, got ${values.length}`,
    );
  }
  const size = ELEMENT_BYTES[datatype];
  if (size === undefined) return packBytesElements(what, values);
  const out = new Uint8Array(count * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    writeElement(what, view, i, datatype, values[i]);
  }
  return out;
}

/** Unpacks a tensor's binary contents into element values (see {@linkcode ElementValue}). */
export function unpackElements(what: string, tensor: Tensor): ElementValue[] {
  const size = ELEMENT_BYTES[tensor.datatype];
  if (size === undefined) return splitBytesElements(what, tensor.data);
  checkTensorSize(what, tensor);
  const { data } = tensor;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = data.byteLength / size;
  const values: ElementValue[] = new Array(count);
  for (let i = 0; i < count; i++) values[i] = readElement(view, i, tensor.datatype);
  return values;
}

/**
 * A tensor's elements as JSON values: 64-bit integers become numbers (exact up to 2^53, like
 * JSON itself), `BYTES` elements become UTF-8 strings.
 */
export function toJsonValues(what: string, tensor: Tensor): (number | boolean | string)[] {
  return unpackElements(what, tensor).map((value) => {
    if (typeof value === "bigint") return Number(value);
    if (value instanceof Uint8Array) return UTF8_DECODER.decode(value);
    return value;
  });
}

/** Splits serialized `BYTES` contents into its elements; throws if a length runs past the end. */
export function splitBytesElements(what: string, data: Uint8Array): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const elements: Uint8Array[] = [];
  let offset = 0;
  while (offset < data.byteLength) {
    if (offset + 4 > data.byteLength) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: BYTES element ${elements.length} has a truncated length prefix at byte ${offset}`,
      );
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > data.byteLength) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: BYTES element ${elements.length} needs ${length} bytes at byte ${offset}, only ${
          data.byteLength - offset
        } remain`,
      );
    }
    elements.push(data.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

function packBytesElements(what: string, values: readonly unknown[]): Uint8Array {
  const encoded = values.map((value, i) => {
    if (typeof value === "string") return UTF8_ENCODER.encode(value);
    if (value instanceof Uint8Array) return value;
    throw new InferenceError(
      "invalid_argument",
      `${what}: element ${i} must be a string for datatype "BYTES", got ${describe(value)}`,
    );
  });
  const total = encoded.reduce((sum, bytes) => sum + 4 + bytes.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const bytes of encoded) {
    view.setUint32(offset, bytes.byteLength, true);
    out.set(bytes, offset + 4);
    offset += 4 + bytes.byteLength;
  }
  return out;
}

function writeElement(
  what: string,
  view: DataView,
  index: number,
  datatype: Datatype,
  value: unknown,
): void {
  const bad = (expected: string): never => {
    throw new InferenceError(
      "invalid_argument",
      `${what}: element ${index} must be ${expected} for datatype "${datatype}", got ${
        describe(value)
      }`,
    );
  };
  switch (datatype) {
    case "BOOL":
      if (typeof value !== "boolean") bad("a boolean");
      view.setUint8(index, value ? 1 : 0);
      return;
    case "FP16":
    case "BF16":
    case "FP32":
    case "FP64": {
      if (typeof value !== "number") bad("a number");
      const number = value as number;
      if (datatype === "FP16") view.setFloat16(index * 2, number, true);
      else if (datatype === "BF16") view.setUint16(index * 2, toBfloat16Bits(number), true);
      else if (datatype === "FP32") view.setFloat32(index * 4, number, true);
      else view.setFloat64(index * 8, number, true);
      return;
    }
    case "INT64":
    case "UINT64": {
      const big = toBigInt(value);
      const signed = datatype === "INT64";
      const fits = big !== undefined &&
        (signed ? BigInt.asIntN(64, big) === big : BigInt.asUintN(64, big) === big);
      if (!fits) bad(signed ? "a signed 64-bit integer" : "an unsigned 64-bit integer");
      if (signed) view.setBigInt64(index * 8, big as bigint, true);
      else view.setBigUint64(index * 8, big as bigint, true);
      return;
    }
    default: {
      const [min, max] = INTEGER_RANGES[datatype] as [number, number];
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        bad(`an integer in [${min}, ${max}]`);
      }
      writeSmallInteger(view, index, datatype, value as number);
    }
  }
}

function writeSmallInteger(view: DataView, index: number, datatype: Datatype, value: number) {
  switch (datatype) {
    case "UINT8":
      return view.setUint8(index, value);
    case "INT8":
      return view.setInt8(index, value);
    case "UINT16":
      return view.setUint16(index * 2, value, true);
    case "INT16":
      return view.setInt16(index * 2, value, true);
    case "UINT32":
      return view.setUint32(index * 4, value, true);
    default:
      return view.setInt32(index * 4, value, true);
  }
}

function readElement(view: DataView, index: number, datatype: Datatype): ElementValue {
  switch (datatype) {
    case "BOOL":
      return view.getUint8(index) !== 0;
    case "UINT8":
      return view.getUint8(index);
    case "INT8":
      return view.getInt8(index);
    case "UINT16":
      return view.getUint16(index * 2, true);
    case "INT16":
      return view.getInt16(index * 2, true);
    case "UINT32":
      return view.getUint32(index * 4, true);
    case "INT32":
      return view.getInt32(index * 4, true);
    case "UINT64":
      return view.getBigUint64(index * 8, true);
    case "INT64":
      return view.getBigInt64(index * 8, true);
    case "FP16":
      return view.getFloat16(index * 2, true);
    case "BF16":
      return fromBfloat16Bits(view.getUint16(index * 2, true));
    case "FP32":
      return view.getFloat32(index * 4, true);
    default:
      return view.getFloat64(index * 8, true);
  }
}

const F32_SCRATCH = new DataView(new ArrayBuffer(4));

/** Rounds a number to bfloat16 (nearest, ties to even), keeping NaN a quiet NaN. */
function toBfloat16Bits(value: number): number {
  F32_SCRATCH.setFloat32(0, value);
  const bits = F32_SCRATCH.getUint32(0);
  if (Number.isNaN(value)) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBfloat16Bits(bits: number): number {
  F32_SCRATCH.setUint32(0, bits << 16);
  return F32_SCRATCH.getFloat32(0);
}

function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string") return `"${value.length > 40 ? value.slice(0, 40) + "…" : value}"`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return String(value);
}
