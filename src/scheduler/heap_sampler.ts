/**
 * V8's sampling heap profiler over `node:inspector`, for finding what a thread allocates: the
 * scheduler's worker runs it when `REEF_WORKER_HEAP_PROFILE` names a file prefix (young-generation
 * collections stall the worker's loop, so allocation there is latency), and
 * `evaluation/scripts/loop_allocation.ts` runs it on the loop's parts in one thread. Profiles are
 * the `.heapprofile` JSON that Chrome DevTools opens.
 * @module
 */

import { Session } from "node:inspector";

/** A node of a sampled allocation profile (the `HeapProfiler.SamplingHeapProfileNode` type). */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  /** Bytes allocated by this function itself, as sampled. */
  selfSize: number;
  children: HeapProfileNode[];
}

/** A sampled allocation profile (the `HeapProfiler.SamplingHeapProfile` type). */
export interface HeapProfile {
  head: HeapProfileNode;
}

/** The sampling heap profiler of the current thread, started. */
export class HeapSampler {
  readonly #session: Session;

  private constructor(session: Session) {
    this.#session = session;
  }

  /**
   * Starts sampling every allocation (objects that died since included), one sample per
   * `intervalBytes` on average.
   */
  static async start(intervalBytes = 4096): Promise<HeapSampler> {
    const session = new Session();
    session.connect();
    const sampler = new HeapSampler(session);
    await sampler.#post("HeapProfiler.enable");
    await sampler.#post("HeapProfiler.startSampling", {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
    return sampler;
  }

  /** Stops sampling and returns the profile. */
  async stop(): Promise<HeapProfile> {
    const { profile } = await this.#post<{ profile: HeapProfile }>("HeapProfiler.stopSampling");
    this.#session.disconnect();
    return profile;
  }

  #post<T>(method: string, params: object = {}): Promise<T> {
    return new Promise((resolve, reject) =>
      this.#session.post(
        method,
        params,
        (error, result) => error ? reject(error) : resolve(result as T),
      )
    );
  }
}

/** Bytes allocated at one site: a function and up to three callers. */
export interface AllocationSite {
  /** `function file:line < caller file:line < ...`, files relative to `root`. */
  site: string;
  bytes: number;
}

/**
 * The profile's sampled bytes by allocation site, largest first. Line numbers are those of the
 * functions' starts in the code V8 ran (Deno's emitted JavaScript), and a function that V8
 * inlined counts as its caller.
 * @param root a URL prefix stripped from file names (the repository root).
 */
export function allocationSites(profile: HeapProfile, root = ""): AllocationSite[] {
  const sites = new Map<string, number>();
  const walk = (node: HeapProfileNode, callers: string[]): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const frame = `${functionName || "(anonymous)"} ${url.replace(root, "")}:${lineNumber + 1}`;
    const frames = [frame, ...callers].slice(0, 4);
    if (node.selfSize > 0) {
      const key = frames.join(" < ");
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, frames);
  };
  walk(profile.head, []);
  return [...sites].map(([site, bytes]) => ({ site, bytes })).sort((a, b) => b.bytes - a.bytes);
}
