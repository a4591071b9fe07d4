// `reef serve --device gpu` on a zoo model compiled on the fly: outputs over HTTP and gRPC equal
// the in-process scheduler's for the same input, real-time and best-effort; `reef run` shows
// them; the server benchmark runs.
import assert from "node:assert/strict";
import { compileModel } from "../../src/compiler/compile.ts";
import { runServerBench } from "../../src/eval/server_bench.ts";
import type { Priority, Tensor, TensorMeta } from "../../src/server/backend.ts";
import { ReefClient } from "../../src/server/client.ts";
import { GPU_PLATFORM, SchedulerBackend } from "../../src/server/scheduler_backend.ts";
import { reef } from "../support/cli.ts";
import { spawnServe } from "../server/sim_helpers.ts";
import { gpuTest } from "./support.ts";

const MODEL = "resnet18";

/** A deterministic FP16 input in [-1, 1] for each of the model's inputs. */
function inputsFor(metas: readonly TensorMeta[]): Tensor[] {
  return metas.map((meta) => {
    assert.equal(meta.datatype, "FP16", `input "${meta.name}"`);
    const count = meta.shape.reduce((product, dim) => product * dim, 1);
    const view = new DataView(new ArrayBuffer(count * 2));
    for (let i = 0; i < count; i++) view.setFloat16(i * 2, Math.sin(i * 0.37), true);
    return { ...meta, data: new Uint8Array(view.buffer) };
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

gpuTest("reef serve --device gpu returns the in-process outputs over HTTP and gRPC", async () => {
  const root = await Deno.makeTempDir({ prefix: "reef-server-gpu-" });
  try {
    await compileModel(MODEL, { root });
    const expected = new Map<Priority, Map<string, Tensor>>();
    let inputs: Tensor[];
    {
      await using backend = await SchedulerBackend.open({
        device: "gpu",
        modelDir: root,
        mode: "reef",
      });
      assert.equal(backend.simulated, false);
      await backend.load(MODEL);
      const meta = backend.metadata(MODEL)!;
      assert.equal(meta.platform, GPU_PLATFORM);
      inputs = inputsFor(meta.inputs);
      for (const priority of ["rt", "be"] as const) {
        const result = await backend.infer({
          model: MODEL,
          inputs: new Map(inputs.map((tensor) => [tensor.name, tensor])),
          priority,
          client: "reference",
        });
        expected.set(priority, result.outputs);
      }
    }

    await using serve = await spawnServe([
      "--device",
      "gpu",
      "--model-dir",
      root,
      "--model",
      MODEL,
    ]);
    for (const client of [ReefClient.http(serve.url), ReefClient.grpc(serve.grpc)]) {
      using _ = client;
      for (const priority of ["rt", "be"] as const) {
        const reply = await client.infer(MODEL, inputs, { priority });
        const want = expected.get(priority)!;
        assert.deepEqual([...reply.outputs.keys()], [...want.keys()]);
        for (const [name, tensor] of want) {
          const got = reply.outputs.get(name)!;
          assert.deepEqual(got.shape, tensor.shape);
          assert.ok(
            sameBytes(got.data, tensor.data),
            `output "${name}" (${priority}) differs from the in-process run`,
          );
        }
      }
    }

    const run = await reef(["run", MODEL, "--url", serve.url, "--count", "20", "--priority", "rt"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /FP16 \[1,1000\]: top 5: \[\d+\] /);
    assert.match(run.stdout, /20 ok, 0 failed/);
    serve.child.kill("SIGTERM");
    assert.equal((await serve.child.status).code, 0);

    const bench = await runServerBench({
      device: "gpu",
      modelDir: root,
      model: MODEL,
      command: "tests/gpu/server_test.ts",
      count: 30,
      warmup: 5,
    });
    assert.doesNotMatch(bench.device, /simulated/);
    for (const p50 of [bench.inprocess_ms_p50, bench.http_ms_p50, bench.grpc_ms_p50]) {
      assert.ok(p50 > 0, JSON.stringify(bench));
    }
    console.log(`server bench (smoke run, not a result): ${JSON.stringify(bench)}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
