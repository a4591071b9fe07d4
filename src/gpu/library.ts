/**
 * Finds, opens and initialises reef's GPU library (`libreef_gpu.so`), once per process.
 *
 * Search order: `REEF_LIB` (when set, nothing else is tried: an explicit choice that fails must
 * say so), then the library that `deno task build` writes to `build/`; in an executable made by
 * `deno task compile`, that same path resolves to the copy embedded in the executable.
 * @module
 */

import { ReefGpuError } from "./error.ts";
import { ABI_VERSION, type GpuSymbols, Status, type StatusCode, symbols } from "./symbols.ts";

/** File name of the library. */
export const LIBRARY_FILE = "libreef_gpu.so";

/** Where the library is looked for, and why there. */
export interface LibraryCandidate {
  path: string;
  source: string;
}

/** An error opening the library: names every path tried and what to do. */
export class LibraryLoadError extends Error {
  /** Each path tried with the reason it failed. */
  readonly attempts: { candidate: LibraryCandidate; reason: string }[];

  /** Builds the message from the attempts. */
  constructor(attempts: { candidate: LibraryCandidate; reason: string }[]) {
    const lines = attempts.map(({ candidate, reason }) =>
      `  - ${candidate.path} (${candidate.source}): ${reason}`
    );
    super(
      `Cannot load reef's GPU library ${LIBRARY_FILE}. Tried:\n${lines.join("\n")}\n` +
        "Build it with `deno task build` (needs nvcc), or set REEF_LIB to the path of a " +
        `${LIBRARY_FILE} built from this version of reef.`,
    );
    this.name = "LibraryLoadError";
    this.attempts = attempts;
  }
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}

/** The paths the loader tries, in order. */
export function libraryCandidates(override = readEnv("REEF_LIB")): LibraryCandidate[] {
  if (override) return [{ path: override, source: "REEF_LIB" }];
  const built = new URL(`../../build/${LIBRARY_FILE}`, import.meta.url);
  return [{
    path: decodeURIComponent(built.pathname),
    source: "built by `deno task build`, or embedded by `deno task compile`",
  }];
}

let opened: { library: Deno.DynamicLibrary<typeof symbols>; path: string } | undefined;
let initialised: { status: StatusCode; message: string } | undefined;
let ready: GpuSymbols | undefined;

/**
 * Opens the library and checks its ABI version; the result is cached. Throws
 * {@linkcode LibraryLoadError} naming every path tried.
 */
export function openLibrary(
  candidates: LibraryCandidate[] = libraryCandidates(),
): { symbols: GpuSymbols; path: string } {
  if (opened) return { symbols: opened.library.symbols, path: opened.path };
  const attempts: { candidate: LibraryCandidate; reason: string }[] = [];
  for (const candidate of candidates) {
    let library: Deno.DynamicLibrary<typeof symbols>;
    try {
      library = Deno.dlopen(candidate.path, symbols);
    } catch (error) {
      attempts.push({ candidate, reason: error instanceof Error ? error.message : String(error) });
      continue;
    }
    const version = library.symbols.reef_abi_version();
    if (version !== ABI_VERSION) {
      library.close();
      attempts.push({
        candidate,
        reason: `it has ABI version ${version}, this reef needs ${ABI_VERSION} ` +
          "(a library from another version of reef)",
      });
      continue;
    }
    opened = { library, path: candidate.path };
    return { symbols: library.symbols, path: candidate.path };
  }
  throw new LibraryLoadError(attempts);
}

/**
 * The library's symbols with the driver initialised. Throws {@linkcode LibraryLoadError} when the
 * library cannot be opened, and {@linkcode ReefGpuError} (`NO_DRIVER` or `NO_DEVICE`) when this
 * machine has no usable GPU.
 */
export function gpu(): GpuSymbols {
  // The hot path (every launch and flag write) ends here after the first call.
  if (ready) return ready;
  const { symbols: lib } = openLibrary();
  if (!initialised) {
    const message = new Uint8Array(1024);
    const status = lib.reef_init(message, message.length) as StatusCode;
    initialised = { status, message: readCString(message) };
  }
  if (initialised.status !== Status.OK) {
    throw new ReefGpuError("initialise the GPU driver", initialised.status, initialised.message);
  }
  ready = lib;
  return lib;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated UTF-8 copy of `text`, for `const char*` parameters. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text + "\0");
}

/** The text of a NUL-terminated buffer filled by C. */
export function readCString(buffer: Uint8Array): string {
  const end = buffer.indexOf(0);
  return decoder.decode(buffer.subarray(0, end < 0 ? buffer.length : end));
}

/** Handles the library has open (all kinds): tests check it returns to its start value. */
export function liveHandles(): number {
  return Number(openLibrary().symbols.reef_live_handles());
}
