/**
 * GPU time of a piece of work, without the host's launch cost: the work is queued behind a gate
 * (a stream wait on a device word), bracketed by timing events, and released at once, so the
 * events measure only the GPU executing it.
 * @module
 */

import type { Device } from "./device.ts";
import type { Buffer } from "./memory.ts";
import type { Event, Stream } from "./stream.ts";

/** Times work enqueued on its {@linkcode GatedTimer.stream}; close it (or `using`) when done. */
export class GatedTimer implements Disposable {
  /** The stream to enqueue the timed work on (the device's lowest priority). */
  readonly stream: Stream;
  /** A highest-priority stream, free for the caller's own control writes. */
  readonly control: Stream;
  #gate: Buffer;
  #start: Event;
  #end: Event;
  #epoch = 0;

  /** Creates the streams, the gate word and the events on `device`. */
  constructor(device: Device) {
    const { least, greatest } = device.streamPriorityRange();
    this.stream = device.createStream({ priority: least });
    this.control = device.createStream({ priority: greatest });
    this.#gate = device.alloc(4);
    this.#gate.fill(0);
    this.#start = device.createEvent({ timing: true });
    this.#end = device.createEvent({ timing: true });
  }

  /**
   * Runs `enqueue` (which must enqueue its work on {@linkcode GatedTimer.stream}) `repeats` times
   * after two warm-ups, and returns the median GPU time in µs.
   */
  time(repeats: number, enqueue: () => void): number {
    const samples: number[] = [];
    for (let r = -2; r < repeats; r++) {
      this.#epoch++;
      this.stream.waitU32(this.#gate.address, this.#epoch, "geq");
      this.#start.record(this.stream);
      enqueue();
      this.#end.record(this.stream);
      this.control.writeU32(this.#gate.address, this.#epoch);
      this.#end.synchronize();
      if (r >= 0) samples.push(this.#end.elapsedSince(this.#start) * 1000);
    }
    samples.sort((a, b) => a - b);
    const mid = samples.length >> 1;
    return samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  }

  /** Releases the streams, the gate and the events. */
  close(): void {
    this.#end.close();
    this.#start.close();
    this.#gate.close();
    this.control.close();
    this.stream.close();
  }

  /** Same as {@linkcode GatedTimer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
