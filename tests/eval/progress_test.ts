import assert from "node:assert/strict";
import { ProgressReporter, type ProgressSink } from "../../src/eval/progress.ts";

function recorder(isTerminal: boolean): ProgressSink & { output: string[] } {
  const output: string[] = [];
  return { isTerminal, output, write: (text) => output.push(text) };
}

Deno.test("without a terminal, progress is plain lines at the plain interval", () => {
  const sink = recorder(false);
  let now = 0;
  const progress = new ProgressReporter({ label: "A reef", sink, nowMs: () => now });
  progress.update(0, 0, 60);
  now = 5_000;
  progress.update(40, 5, 60);
  now = 10_000;
  progress.update(90, 15, 60);
  progress.finish(400, 60);
  progress.finish(400, 60);
  progress.update(401, 61, 60);
  assert.deepEqual(sink.output, [
    "A reef: 0% (0.0/60.0 s, 0 requests done)\n",
    "A reef: 25% (15.0/60.0 s, 90 requests done)\n",
    "A reef: 100% (60.0/60.0 s, 400 requests done)\n",
  ]);
});

Deno.test("on a terminal, progress is a bar redrawn in place", () => {
  const sink = recorder(true);
  let now = 0;
  const progress = new ProgressReporter({ label: "D wait", sink, nowMs: () => now });
  progress.update(10, 15, 30);
  now = 50;
  progress.update(11, 16, 30);
  now = 100;
  progress.update(20, 45, 30);
  progress.finish(30, 30);
  assert.equal(sink.output.length, 3);
  assert.equal(
    sink.output[0],
    `\rD wait [${"#".repeat(15)}${"-".repeat(15)}]  50% 15.0/30.0 s, 10 requests done\x1b[K`,
  );
  // Elapsed time past the duration is shown but the bar stays full.
  assert.ok(sink.output[1].includes(`[${"#".repeat(30)}] 100% 45.0/30.0 s`));
  assert.ok(sink.output[2].startsWith("\rD wait [") && sink.output[2].endsWith("\x1b[K\n"));
});
