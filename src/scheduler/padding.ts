/**
 * Dynamic kernel padding (DKP), REEF's second mechanism: while RT work runs, each RT kernel is
 * launched together with BE blocks that run on the SMs it leaves idle, in one launch (the kernel's
 * padding launch, src/kernels/emit.ts), so BE work progresses without delaying RT work.
 *
 * Selection is REEF's first fit over the waiting BE tasks, repaired:
 * - only the task's next kernel is considered, with the RT kernel's block size (a block of a padding
 *   launch runs either body with all its threads, so no thread sits out a barrier);
 * - BE blocks go only to SMs that the RT kernel leaves free, one per SM at a time: REEF's CU
 *   partition. The block scheduler places blocks in index order, spreading the RT blocks (the
 *   first ones) one per SM, then the BE blocks on the SMs left; it cannot be told to keep BE
 *   blocks off SMs running RT blocks once every SM has one, so an RT kernel of at least one block
 *   per SM is never padded. On the H100, filling every idle slot instead (BE blocks beside RT
 *   blocks) raised RT p99 by 12-75% in fig. 15 (evaluation/README.md);
 * - an RT kernel whose measured padding cost (`paddingSlowdown`, from `reef profile`) is over
 *   {@linkcode PADDING_SLOWDOWN_LIMIT} is launched alone: for it, padding costs RT latency that the
 *   profile's times do not show (contention for memory and the SM's issue slots). So the choice
 *   is made per kernel, between padding and none; STREAM-PRIO, the third candidate, never beat
 *   padding on RT latency on the H100 (evaluation/results/h100/dkp.json);
 * - the padded launch must fit on the device (the device's occupancy of the padding launch with
 *   the larger shared memory; REEF's own calculation ignored shared memory), which keeps the RT
 *   kernel's one wave;
 * - as many rounds of BE blocks as fit in the RT kernel's profiled time, a block taking its
 *   profiled time with one block per SM (REEF's `latency` table, else its time per wave);
 * - a BE block longer than the RT kernel may still ride alone if what it adds fits in the RT
 *   inference's overrun budget, {@linkcode PADDING_OVERRUN_SHARE} of its time over all its
 *   kernels. Without it a BE task whose next kernel has long blocks (a stem convolution: one wave
 *   of 25 µs blocks) waits for an RT kernel longer than any there is, and starves;
 * - progress is exact: the caller's cursor advances by the blocks launched, and the policy reports
 *   a BE task finished only once the RT stream has run its last padded block.
 * @module
 */

import type { ExecDevice, InstanceId, KernelInfo, ModelInfo, StreamId } from "./exec_device.ts";

/**
 * Share of an RT inference's standalone time that padding may add to it, over all its kernels.
 * Each launch of RT kernels gets this share of those kernels' profiled time, so an inference
 * launched in parts (its first kernel alone after a preemption, then the rest) gets no more than
 * one launched at once.
 */
export const PADDING_OVERRUN_SHARE = 0.02;

/**
 * Most measured padding cost (`KernelInfo.paddingSlowdown`) an RT kernel may have and still be
 * padded: REEF's goal for RT latency under sharing is within 2% of running alone.
 */
export const PADDING_SLOWDOWN_LIMIT = 0.02;

/** A BE task the padder may take blocks from; the padder advances it past what it launches. */
export interface PaddingCursor {
  readonly model: ModelInfo;
  readonly instance: InstanceId;
  /** Next kernel not done (every kernel before it is). */
  kernel: number;
  /** Next block of that kernel not launched in a padded launch. */
  block: number;
}

/** RT kernels [from, to) of an instance, to launch in order. */
export interface RtKernelLaunch {
  readonly device: ExecDevice;
  readonly stream: StreamId;
  readonly instance: InstanceId;
  readonly model: ModelInfo;
  readonly from: number;
  readonly to: number;
  /** BE tasks held back by the RT work, in queue order (earlier queues first). */
  readonly cursors: readonly PaddingCursor[];
}

/** Launches RT kernels, possibly padded with BE blocks. */
export interface RtKernelPadder {
  /** Enqueues the RT kernels on the launch's stream and advances the cursors it pads from. */
  launchRtKernels(launch: RtKernelLaunch): void;
  /**
   * Mean selection time per RT kernel of each {@linkcode RtKernelPadder.launchRtKernels} call that
   * had BE work to choose from, µs, oldest first (each kernel's selection is timed on its own).
   */
  selectionTimesUs(): number[];
  /** RT kernels launched padded with BE blocks so far. */
  paddedKernels(): number;
}

/** What {@linkcode choosePadding} picked: blocks [cursor.block, cursor.block + blocks). */
export interface PaddingChoice {
  readonly cursor: PaddingCursor;
  readonly blocks: number;
  /** Resident blocks per SM of the padded launch. */
  readonly occupancy: number;
  /** What the BE block adds to the RT kernel's time, µs (0 when its rounds fit in it). */
  readonly overrunUs: number;
}

/** The device facts selection needs. */
export type PaddingDevice = Pick<ExecDevice, "smCount" | "paddedOccupancy">;

/**
 * Whether padding may ever pad a kernel of `blocks` blocks on a device of `sms` SMs: only one that
 * leaves an SM free of its blocks (see the module notes).
 */
export function leavesSmsFree(blocks: number, sms: number): boolean {
  return blocks < sms;
}

/**
 * The time of one block of `be` with `occupancy` blocks per SM, µs: its profiled wave time at that
 * occupancy (the last one profiled, if fewer), else its standalone time per wave; NaN when
 * unknown.
 */
export function beBlockUs(be: KernelInfo, occupancy: number, sms: number): number {
  if (be.waveUs.length > 0) return be.waveUs[Math.min(occupancy, be.waveUs.length) - 1]!;
  return be.timeUs > 0 ? be.timeUs / Math.ceil(be.blocks / (sms * be.blocksPerSm)) : NaN;
}

/**
 * First fit: the first cursor whose next kernel can ride in RT kernel `kernel` of `rtModel`, with
 * how many of its blocks; undefined when none can (see the module notes for the rules).
 * @param overrunUs What padding may still add to the RT inference, µs.
 */
export function choosePadding(
  device: PaddingDevice,
  rtModel: ModelInfo,
  kernel: number,
  cursors: readonly PaddingCursor[],
  overrunUs = 0,
): PaddingChoice | undefined {
  const rt = rtModel.kernels[kernel]!;
  const sms = device.smCount;
  if (!(rt.timeUs > 0) || !leavesSmsFree(rt.blocks, sms)) return undefined;
  if ((rt.paddingSlowdown ?? 0) > PADDING_SLOWDOWN_LIMIT) return undefined;
  const free = sms - rt.blocks;
  for (const cursor of cursors) {
    const be = cursor.model.kernels[cursor.kernel];
    if (be === undefined || be.threads !== rt.threads) continue;
    const occupancy = device.paddedOccupancy(
      rtModel.id,
      kernel,
      cursor.model.id,
      Math.max(rt.sharedMemory, be.sharedMemory),
    );
    if (occupancy < 1) continue;
    const blockUs = beBlockUs(be, 1, sms);
    if (!(blockUs > 0)) continue;
    const rounds = Math.floor(rt.timeUs / blockUs);
    if (rounds >= 1) {
      const blocks = Math.min(free * rounds, be.blocks - cursor.block);
      return { cursor, blocks, occupancy, overrunUs: 0 };
    }
    const overrun = blockUs - rt.timeUs;
    if (overrun > overrunUs) continue;
    return {
      cursor,
      blocks: Math.min(free, be.blocks - cursor.block),
      occupancy,
      overrunUs: overrun,
    };
  }
  return undefined;
}

/** Moves a cursor past `blocks` padded blocks of its kernel. */
export function advanceCursor(cursor: PaddingCursor, blocks: number): void {
  cursor.block += blocks;
  if (cursor.block >= cursor.model.kernels[cursor.kernel]!.blocks) {
    cursor.kernel++;
    cursor.block = 0;
  }
}

/** The padder of `reef` mode: {@linkcode choosePadding} per RT kernel, padded or plain launch. */
export class KernelPadder implements RtKernelPadder {
  readonly #selectionUs: number[] = [];
  #padded = 0;

  launchRtKernels(launch: RtKernelLaunch): void {
    const { device, stream, instance, model, cursors, from, to } = launch;
    if (cursors.length === 0 || to <= from) {
      device.launch(stream, instance, from, to, "raw");
      return;
    }
    let selectionMs = 0;
    let overrunUs = 0;
    for (let kernel = from; kernel < to; kernel++) overrunUs += model.kernels[kernel]!.timeUs;
    overrunUs *= PADDING_OVERRUN_SHARE;
    for (let kernel = from; kernel < to; kernel++) {
      const start = performance.now();
      const choice = choosePadding(device, model, kernel, cursors, overrunUs);
      selectionMs += performance.now() - start;
      if (choice === undefined) {
        device.launch(stream, instance, kernel, kernel + 1, "raw");
        continue;
      }
      const { cursor, blocks } = choice;
      overrunUs -= choice.overrunUs;
      device.launchPadded(stream, instance, kernel, {
        instance: cursor.instance,
        kernel: cursor.kernel,
        first: cursor.block,
        blocks,
      });
      advanceCursor(cursor, blocks);
      this.#padded++;
    }
    this.#selectionUs.push((selectionMs * 1000) / (to - from));
  }

  selectionTimesUs(): number[] {
    return [...this.#selectionUs];
  }

  paddedKernels(): number {
    return this.#padded;
  }
}
