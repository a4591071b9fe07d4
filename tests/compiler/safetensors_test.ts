import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from "../../src/compiler/safetensors.ts";

/** Builds a file by hand: header text as given, then the data bytes. */
function handMade(header: string, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ["half", { dtype: "F16", shape: [3], data: Float16Array.of(1.5, -2, 0.25) }],
    ["w", { dtype: "F32", shape: [2, 2], data: Float32Array.of(1, -2.5, 3.25, 1e-20) }],
    ["d", { dtype: "F64", shape: [1], data: Float64Array.of(Math.PI) }],
    ["i", { dtype: "I32", shape: [2], data: Int32Array.of(-7, 2 ** 31 - 1) }],
    ["count", { dtype: "I64", shape: [], data: BigInt64Array.of(123456789012n) }],
  ]);
}

Deno.test("decodeSafetensors reads a hand-made file, copying misaligned data", () => {
  const data = new Uint8Array(16);
  const view = new DataView(data.buffer);
  view.setFloat32(0, 1.5, true);
  view.setFloat32(4, -3, true);
  view.setBigInt64(8, 42n, true);
  // The 107-byte header puts the data at an odd offset, so the reader must copy it.
  const header =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}';
  const tensors = decodeSafetensors(handMade(header, data), "hand.safetensors");
  assert.deepEqual([...tensors.keys()], ["a", "n"]);
  assert.deepEqual(Array.from(tensors.get("a")!.data as Float32Array), [1.5, -3]);
  assert.deepEqual(tensors.get("n")!.shape, []);
  assert.equal((tensors.get("n")!.data as BigInt64Array)[0], 42n);
});

Deno.test("encodeSafetensors writes the documented layout and round-trips every dtype", () => {
  const bytes = encodeSafetensors(sample(), { format: "pt" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  assert.deepEqual(header.__metadata__, { format: "pt" });
  assert.deepEqual(header.w, {
    dtype: "F32",
    shape: [2, 2],
    data_offsets: [header.w.data_offsets[0], header.w.data_offsets[0] + 16],
  });
  const spans = Object.entries(header).filter(([k]) => k !== "__metadata__")
    .map(([, v]) => (v as { data_offsets: number[] }).data_offsets).sort((a, b) => a[0] - b[0]);
  spans.forEach((s, i) => assert.equal(s[0], i === 0 ? 0 : spans[i - 1][1]));
  assert.equal(bytes.length, 8 + headerLength + spans[spans.length - 1][1]);
  const back = decodeSafetensors(bytes, "mem");
  for (const [name, t] of sample()) {
    const got = back.get(name)!;
    assert.equal(got.dtype, t.dtype);
    assert.deepEqual(got.shape, t.shape);
    assert.deepEqual(
      Array.from(got.data as ArrayLike<unknown>),
      Array.from(t.data as ArrayLike<unknown>),
    );
  }
});

Deno.test("decodeSafetensors rejects malformed files with messages naming the file and tensor", () => {
  const good = encodeSafetensors(sample());
  const f = 'Cannot read safetensors file "m.safetensors": ';
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 3), "m.safetensors"), {
    message: new RegExp(
      `^${f}the file is ${good.length - 3} bytes, too short: tensor "\\w+" ends at data byte`,
    ),
  });
  const longer = new Uint8Array(good.length + 4);
  longer.set(good);
  assert.throws(() => decodeSafetensors(longer, "m.safetensors"), {
    message: new RegExp(`^${f}.*4 bytes too many`),
  });
  assert.throws(
    () => decodeSafetensors(good.subarray(0, 5), "m.safetensors"),
    /too short for the 8-byte header length/,
  );
  const hole = handMade(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    new Uint8Array(8),
  );
  assert.throws(() => decodeSafetensors(hole, "h"), /the data has a hole before tensor "a"/);
  const overlap = handMade(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    new Uint8Array(8),
  );
  assert.throws(() => decodeSafetensors(overlap, "o"), /tensor "b" overlaps another tensor's data/);
  const size = handMade(
    '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
    new Uint8Array(8),
  );
  assert.throws(
    () => decodeSafetensors(size, "s"),
    /tensor "a" \(F32 \[3\]\) needs 12 bytes but its data_offsets span 8/,
  );
  const dtype = handMade(
    '{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}',
    new Uint8Array(8),
  );
  assert.throws(() => decodeSafetensors(dtype, "t"), /tensor "a" has unsupported dtype "BF16"/);
  assert.throws(
    () => decodeSafetensors(handMade("{oops", new Uint8Array(0)), "j"),
    /the header is not valid JSON/,
  );
});

Deno.test("decodeSafetensors checks the expected tensor set, type and shape", () => {
  const bytes = encodeSafetensors(sample());
  const expected = [...sample()].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  assert.equal(decodeSafetensors(bytes, "ok", { expected }).size, 5);
  assert.throws(
    () =>
      decodeSafetensors(bytes, "w.safetensors", {
        expected: [...expected, { name: "fc.bias", dtype: "F32", shape: [2] }],
      }),
    { message: 'Cannot read safetensors file "w.safetensors": tensor "fc.bias" is missing' },
  );
  assert.throws(
    () =>
      decodeSafetensors(bytes, "w.safetensors", {
        expected: expected.filter((e) => e.name !== "d"),
      }),
    { message: 'Cannot read safetensors file "w.safetensors": tensor "d" is not expected' },
  );
  const reshaped = expected.map((e) => e.name === "w" ? { ...e, shape: [4] } : e);
  assert.throws(
    () => decodeSafetensors(bytes, "w.safetensors", { expected: reshaped }),
    {
      message:
        'Cannot read safetensors file "w.safetensors": tensor "w" is F32 [2, 2], expected F32 [4]',
    },
  );
});

Deno.test("writeSafetensors and readSafetensors round-trip through a file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await writeSafetensors(path, sample(), { model: "m" });
    assert.deepEqual(await Deno.readFile(path), encodeSafetensors(sample(), { model: "m" }));
    const back = await readSafetensors(path);
    assert.equal((back.get("d")!.data as Float64Array)[0], Math.PI);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("encodeSafetensors rejects data that does not match the declared shape", () => {
  const bad = new Map<string, SafeTensor>([["x", {
    dtype: "F32",
    shape: [3],
    data: new Float32Array(2),
  }]]);
  assert.throws(() => encodeSafetensors(bad), {
    message: 'Cannot write tensor "x": shape [3] has 3 elements but its data has 2',
  });
});
