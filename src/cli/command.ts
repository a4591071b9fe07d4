/**
 * What every `reef` subcommand provides, and the errors the CLI turns into exit codes.
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** A subcommand of `reef`. */
export interface Command {
  name: string;
  /** One line for `reef --help`. */
  summary: string;
  /** The command's full help text (usage, options, examples). */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `parseArgs` in strict mode, with its errors turned into {@linkcode UsageError}s. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses a flag value as a number, with a usage error naming the flag. */
export function numberOption(
  name: string,
  value: string | undefined,
  fallback: number,
  check: (n: number) => boolean = (n) => Number.isFinite(n) && n >= 0,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!check(n)) throw new UsageError(`Option --${name} must be a valid number, got "${value}"`);
  return n;
}
