// The check-interval trace build (issue 8) on the GPU: ResNet-18's traced BE kernels write the raw
// build's outputs, and each kernel's longest stretch without a flag check is positive, no longer
// than the kernel itself (timed alone with events), and for long convolutions well inside it.
import assert from "node:assert/strict";
import { compileModel, compileTraceBuild } from "../../src/compiler/compile.ts";
import { Device } from "../../src/gpu/mod.ts";
import { LoadedModel } from "../../src/model/executor.ts";
import { readPackage } from "../../src/model/package.ts";
import { packageWeights } from "../../src/model/weights.ts";
import { gpuTest } from "./support.ts";

gpuTest("the trace build measures a check interval within each kernel's duration", async () => {
  const root = await Deno.makeTempDir({ prefix: "reef-check-interval-" });
  try {
    const { paths } = await compileModel("resnet18", { root });
    const traceBinary = await compileTraceBuild(paths);
    const pkg = await readPackage(paths);
    using device = Device.open(0);
    using flag = device.allocPreemptFlag();
    using stream = device.createStream();
    using model = await LoadedModel.load(device, paths, pkg, await packageWeights(paths, pkg), {
      traceBinary,
    });
    using instance = model.createInstance(flag.address);
    const n = model.kernels.length;
    const input = pkg.inputs![0]!;
    assert.equal(input.datatype, "FP16");
    const data = new Uint8Array(
      new Float16Array(input.shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i)).buffer,
    );
    const outputsOf = (build: "raw" | "be") => {
      instance.upload(stream, input, data);
      if (build === "be") instance.resetStopMarks(stream, 0, n);
      instance.launch(stream, 0, n, build);
      stream.synchronizeSync();
      return pkg.outputs!.map((o) => instance.download(stream, o.storage));
    };
    const raw = outputsOf("raw");
    const traced = outputsOf("be");
    assert.deepEqual(traced, raw, "the trace build's outputs equal raw");
    const intervals = instance.readCheckIntervalsUs(stream);
    const marks = instance.readStopMarks(stream);
    // Each kernel alone, timed with events, on the raw build.
    using start = device.createEvent({ timing: true });
    using end = device.createEvent({ timing: true });
    for (let k = 0; k < n; k++) {
      const kernel = model.kernels[k]!;
      assert.equal(marks[k], 0, `kernel ${k}: no block stopped`);
      start.record(stream);
      instance.launch(stream, k, k + 1, "raw");
      end.record(stream);
      stream.synchronizeSync();
      const kernelUs = end.elapsedSince(start) * 1000;
      assert.ok(intervals[k]! > 0, `kernel ${k} (${kernel.call.name}): no interval`);
      // The traced block ran inside a traced kernel, a little slower than raw: 2x slack.
      assert.ok(
        intervals[k]! <= 2 * kernelUs + 5,
        `kernel ${k} (${kernel.call.name}): interval ${intervals[k]} µs, kernel ${kernelUs} µs`,
      );
      // A convolution checks at its K-tiles, so a long one stops well inside its run: the trace
      // must see those checks, not only block entry and end.
      if (kernel.call.name.endsWith("_conv") && kernelUs >= 8) {
        assert.ok(
          intervals[k]! < kernelUs / 2,
          `kernel ${k} (${kernel.call.name}): interval ${intervals[k]} µs of ${kernelUs} µs`,
        );
      }
    }
    const worst = Math.max(...intervals);
    console.log(`resnet18: check interval max ${worst.toFixed(2)} µs over ${n} kernels`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
