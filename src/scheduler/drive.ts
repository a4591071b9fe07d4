/**
 * Driving a policy: the parts of the scheduler loop that do not depend on where tasks come from.
 * The worker uses them around its rings; tests and what-if studies use {@linkcode runVirtual} to
 * run a whole arrival schedule on the simulator in-process, in virtual time.
 * @module
 */

import type { VirtualClock } from "./device_handle.ts";
import type { ExecDevice } from "./exec_device.ts";
import type { Mode } from "./mode.ts";
import { KernelPadder } from "./padding.ts";
import { SchedulerPolicy } from "./policy.ts";
import type { TaskResult } from "./task.ts";

/**
 * The policy a scheduler runs in `mode` on `device`: with dynamic kernel padding in `reef` mode.
 * @param deviceQueueCap kernels in flight per bounded stream; the policy's default when omitted.
 */
export function createPolicy(
  device: ExecDevice,
  mode: Mode,
  deviceQueueCap?: number,
): SchedulerPolicy {
  return new SchedulerPolicy(device, {
    mode,
    ...(deviceQueueCap === undefined ? {} : { deviceQueueCap }),
    ...(mode === "reef" ? { padder: new KernelPadder() } : {}),
  });
}

/**
 * Steps the policy until a step changes nothing, appending completions to `sink`.
 * @returns whether any step made progress.
 */
export function settle(policy: SchedulerPolicy, sink: TaskResult[]): boolean {
  let any = false;
  while (policy.step(sink)) any = true;
  return any;
}

/**
 * When a virtual device has to be woken next: its next event or the next release, whichever comes
 * first; undefined when neither exists.
 */
export function nextWakeUs(policy: SchedulerPolicy, clock: VirtualClock): number | undefined {
  const event = clock.nextEventUs();
  const release = policy.nextReleaseUs();
  if (event === undefined) return release;
  return release === undefined ? event : Math.min(event, release);
}

/**
 * Runs the policy on a virtual device until every accepted task has completed, jumping from event
 * to event.
 * @param onResult called for each completion, in completion order, before time moves on (a
 * closed-loop client may submit its next task from it).
 * @returns every completion, in order.
 * @throws {Error} if tasks remain but neither the device nor the release queue has anything pending
 * (a scheduling bug: the run would never end).
 */
export function runVirtual(
  policy: SchedulerPolicy,
  clock: VirtualClock & { now(): number },
  onResult?: (result: TaskResult) => void,
): TaskResult[] {
  const results: TaskResult[] = [];
  const batch: TaskResult[] = [];
  for (;;) {
    settle(policy, batch);
    for (const result of batch) {
      results.push(result);
      onResult?.(result);
    }
    const reacted = batch.length > 0;
    batch.length = 0;
    // A completion handler may have submitted work that can start at this very instant.
    if (reacted) continue;
    if (!policy.busy()) return results;
    const wake = nextWakeUs(policy, clock);
    if (wake === undefined) {
      throw new Error(
        `Scheduler stalled at ${clock.now()} µs: tasks remain but nothing is pending on the device`,
      );
    }
    clock.advanceTo(wake);
  }
}
