import assert from "node:assert/strict";
import type { Datatype } from "../../src/server/backend.ts";
import { InferenceError } from "../../src/server/errors.ts";
import {
  checkTensorSize,
  flattenJsonData,
  packElements,
  splitBytesElements,
  toJsonValues,
  unpackElements,
} from "../../src/server/tensor.ts";

const roundTrip = (datatype: Datatype, values: unknown[]) => {
  const data = packElements("T", datatype, [values.length], values);
  return {
    data,
    values: unpackElements("T", { name: "T", datatype, shape: [values.length], data }),
  };
};

Deno.test("packElements writes little-endian bytes of every fixed-size datatype", () => {
  assert.deepEqual([...roundTrip("BOOL", [true, false]).data], [1, 0]);
  assert.deepEqual([...roundTrip("UINT16", [0x0102]).data], [0x02, 0x01]);
  assert.deepEqual([...roundTrip("INT32", [-2]).data], [0xfe, 0xff, 0xff, 0xff]);
  assert.deepEqual([...roundTrip("FP32", [1]).data], [0, 0, 0x80, 0x3f]);
  assert.deepEqual([...roundTrip("FP16", [1.5]).data], [0x00, 0x3e]);
  assert.deepEqual([...roundTrip("BF16", [1]).data], [0x80, 0x3f]);
  assert.deepEqual([...roundTrip("INT8", [-1]).data], [0xff]);
});

Deno.test("unpackElements reverses packElements", () => {
  const cases: [Datatype, unknown[]][] = [
    ["BOOL", [true, false, true]],
    ["UINT8", [0, 255]],
    ["UINT16", [0, 65535]],
    ["UINT32", [0, 4294967295]],
    ["INT8", [-128, 127]],
    ["INT16", [-32768, 32767]],
    ["INT32", [-2147483648, 2147483647]],
    ["FP32", [0.5, -2.25]],
    ["FP64", [Math.PI, -1e300]],
    ["FP16", [0.5, -65504]],
    ["BF16", [2, -0.5]],
  ];
  for (const [datatype, values] of cases) {
    assert.deepEqual(roundTrip(datatype, values).values, values, datatype);
  }
});

Deno.test("64-bit integers stay exact beyond 2^53 as bigints and decimal strings", () => {
  const big = 9007199254740993n;
  assert.deepEqual(roundTrip("INT64", [big, "-9223372036854775808", 5]).values, [
    big,
    -9223372036854775808n,
    5n,
  ]);
  assert.deepEqual(roundTrip("UINT64", ["18446744073709551615"]).values, [18446744073709551615n]);
  assert.throws(
    () => roundTrip("UINT64", [-1]),
    /element 0 must be an unsigned 64-bit integer for datatype "UINT64", got -1/,
  );
  assert.throws(() => roundTrip("INT64", [9223372036854775808n]), /signed 64-bit/);
});

Deno.test("BF16 rounds to nearest even and keeps NaN", () => {
  // 1 + 2^-8 lies halfway between bfloat16 1 and 1 + 2^-7: ties go to the even mantissa (1).
  assert.deepEqual(roundTrip("BF16", [1 + 2 ** -8]).values, [1]);
  assert.deepEqual(roundTrip("BF16", [1 + 3 * 2 ** -8]).values, [1 + 2 ** -6]);
  assert.ok(Number.isNaN(roundTrip("BF16", [NaN]).values[0] as number));
});

Deno.test("BYTES elements are length-prefixed and round-trip as strings", () => {
  const { data } = roundTrip("BYTES", ["hé", ""]);
  assert.deepEqual([...data], [3, 0, 0, 0, 0x68, 0xc3, 0xa9, 0, 0, 0, 0]);
  const tensor = { name: "S", datatype: "BYTES" as const, shape: [2], data };
  assert.deepEqual(toJsonValues("S", tensor), ["hé", ""]);
  assert.deepEqual(splitBytesElements("S", data).map((bytes) => bytes.length), [3, 0]);
  assert.throws(
    () => splitBytesElements("S", new Uint8Array([5, 0, 0, 0, 1])),
    /S: BYTES element 0 needs 5 bytes at byte 4, only 1 remain/,
  );
  assert.throws(() => splitBytesElements("S", new Uint8Array([1, 0])), /truncated length prefix/);
});

Deno.test("packElements names the first bad element and the expected type", () => {
  const bad: [Datatype, unknown[], RegExp][] = [
    [
      "UINT8",
      [1, 256],
      /T: element 1 must be an integer in \[0, 255\] for datatype "UINT8", got 256/,
    ],
    ["INT32", [1.5], /element 0 must be an integer/],
    ["FP32", ["1"], /element 0 must be a number for datatype "FP32", got "1"/],
    ["BOOL", [1], /element 0 must be a boolean/],
    ["BYTES", [3], /element 0 must be a string for datatype "BYTES"/],
    ["FP16", [[1]], /got an array/],
  ];
  for (const [datatype, values, message] of bad) {
    assert.throws(() => packElements("T", datatype, [values.length], values), (error) => {
      assert.ok(error instanceof InferenceError);
      assert.equal(error.kind, "invalid_argument");
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => packElements("T", "FP32", [2, 2], [1, 2, 3]),
    /T: shape \[2,2\] needs 4 elements, got 3/,
  );
  assert.throws(() => packElements("T", "FP32", [-1], []), /dimension 0 of shape \[-1\]/);
});

Deno.test("flattenJsonData accepts flat or shape-following nested data only", () => {
  assert.deepEqual(flattenJsonData("T", [1, 2, 3, 4], [2, 2]), [1, 2, 3, 4]);
  assert.deepEqual(flattenJsonData("T", [[1, 2], [3, 4]], [2, 2]), [1, 2, 3, 4]);
  assert.deepEqual(flattenJsonData("T", [[[1], [2]]], [1, 2, 1]), [1, 2]);
  assert.throws(
    () => flattenJsonData("T", [[1, 2, 3], [4]], [2, 2]),
    /T: "data\[0\]" must be an array of 2 entries to match shape \[2,2\]/,
  );
  assert.throws(() => flattenJsonData("T", [[[1]]], [1, 1]), /"data\[0\]\[0\]" is nested deeper/);
  assert.throws(() => flattenJsonData("T", { a: 1 }, [1]), /field "data" must be an array/);
});

Deno.test("checkTensorSize compares byte length with datatype and shape", () => {
  const tensor = { name: "X", datatype: "FP32" as const, shape: [2, 3], data: new Uint8Array(24) };
  checkTensorSize("X", tensor);
  assert.throws(
    () => checkTensorSize("X", { ...tensor, data: new Uint8Array(20) }),
    /X: shape \[2,3\] of FP32 needs 24 bytes, got 20/,
  );
  const bytes = packElements("S", "BYTES", [1], ["a"]);
  assert.throws(
    () => checkTensorSize("S", { name: "S", datatype: "BYTES", shape: [2], data: bytes }),
    /S: shape \[2\] needs 2 BYTES elements, got 1/,
  );
});
