/**
 * Reads an HTTP request body under a size limit and a deadline. The limit is enforced as bytes
 * arrive (a declared `Content-Length` over it is refused before reading), and a body that trickles
 * in fails at the deadline; each request reads its own body, so a slow client delays nobody else.
 * @module
 */

import { InferenceError } from "./errors.ts";

/** Limits on reading one body. */
export interface BodyLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** `performance.now()` by which the whole body must have arrived. */
  deadline: number;
  /** Aborts the read (server shutdown); the read fails as "unavailable". */
  signal?: AbortSignal;
}

/** Reads the whole body of `request`, or throws an {@linkcode InferenceError} saying why not. */
export async function readBody(request: Request, limits: BodyLimits): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limits.maxBytes) {
    throw tooLarge(limits.maxBytes, `declares ${declared} bytes`);
  }
  if (request.body === null) return new Uint8Array(0);

  const reader = request.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const remaining = Math.max(0, limits.deadline - performance.now());
    timer = setTimeout(
      () =>
        reject(
          new InferenceError(
            "request_timeout",
            `Request body did not arrive before the request deadline (${Math.round(remaining)} ms)`,
          ),
        ),
      remaining,
    );
    onAbort = () =>
      reject(
        new InferenceError("unavailable", "Request refused: the server is shutting down"),
      );
    if (limits.signal?.aborted) onAbort();
    limits.signal?.addEventListener("abort", onAbort, { once: true });
  });
  // The race below may finish first; this keeps the losing rejection from being unhandled.
  stopped.catch(() => {});

  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await Promise.race([reader.read(), stopped]);
      if (done) break;
      total += value.byteLength;
      if (total > limits.maxBytes) throw tooLarge(limits.maxBytes, `reached ${total} bytes`);
      chunks.push(value);
    }
  } catch (error) {
    // Cancelling tells the runtime to stop receiving the rest of an abandoned body.
    reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) limits.signal?.removeEventListener("abort", onAbort);
  }
  return concat(chunks, total);
}

function tooLarge(maxBytes: number, detail: string): InferenceError {
  return new InferenceError(
    "payload_too_large",
    `Request body exceeds the limit of ${maxBytes} bytes (it ${detail})`,
  );
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
