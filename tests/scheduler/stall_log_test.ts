import assert from "node:assert/strict";
import { StallLog } from "../../src/scheduler/stall_log.ts";

Deno.test("a gap of at least the threshold between two passes is a stall; a pause is not", () => {
  const log = new StallLog(500, 8);
  log.pass(1_000);
  log.pass(1_499); // 499 µs: under the threshold
  log.pass(2_000); // 501 µs
  log.pause(); // the loop waits on purpose
  log.pass(90_000);
  log.pass(90_010);
  assert.deepEqual(log.stalls(), [{ atUs: 1_499, durationUs: 501 }]);
  assert.equal(log.recorded, 1);
});

Deno.test("the log keeps the last stalls, oldest first, and counts every one", () => {
  const log = new StallLog(100, 3);
  for (let k = 0; k < 5; k++) log.pass(k * 1_000);
  assert.equal(log.recorded, 4);
  assert.deepEqual(log.stalls(), [
    { atUs: 1_000, durationUs: 1_000 },
    { atUs: 2_000, durationUs: 1_000 },
    { atUs: 3_000, durationUs: 1_000 },
  ]);
  assert.deepEqual(new StallLog(100, 3).stalls(), []);
});

Deno.test("the log refuses a threshold or capacity it cannot use", () => {
  assert.throws(() => new StallLog(0, 8), { message: 'Stall threshold must be positive, got "0"' });
  assert.throws(() => new StallLog(500, 0), {
    message: 'Stall log capacity must be a positive integer, got "0"',
  });
  assert.throws(() => new StallLog(500, 1.5), RangeError);
});
