/**
 * The `reef` command: dispatches to one module per subcommand.
 * @module
 */

import { styleText } from "node:util";
import { checkDenoVersion, VERSION } from "../version.ts";
import { type Command, UsageError } from "./command.ts";
import { benchCommand } from "./bench.ts";
import { compileCommand } from "./compile.ts";
import { infoCommand } from "./info.ts";
import { runCommand } from "./run.ts";
import { serveCommand } from "./serve.ts";
import { profileCommand } from "./profile.ts";

/** Every subcommand, in the order `reef --help` lists them. */
export const commands: Command[] = [
  infoCommand,
  compileCommand,
  profileCommand,
  serveCommand,
  runCommand,
  benchCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `reef ${VERSION}: microsecond-scale preemption for concurrent GPU DNN inference

Usage: reef <command> [options]

Commands:
${lines.join("\n")}

Options:
  -h, --help     Show help (also: reef <command> --help)
  -V, --version  Show the version

Environment:
  REEF_LIB       Path of libreef_gpu.so, instead of the built or embedded one`;
}

function printError(message: string): void {
  const color = Deno.stderr.isTerminal() && !Deno.noColor;
  const label = color ? styleText("red", "error", { validateStream: false }) : "error";
  console.error(`${label}: ${message}`);
}

/** Runs `reef` with `args`; resolves to the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(usage());
    return 2;
  }
  if (name === "-h" || name === "--help" || name === "help") {
    console.log(usage());
    return 0;
  }
  if (name === "-V" || name === "--version") {
    console.log(`reef ${VERSION}`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    printError(`Unknown command "${name}"; run \`reef --help\` for the list`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    console.log(command.help);
    return 0;
  }
  try {
    checkDenoVersion();
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      printError(`${error.message}\nRun \`reef ${command.name} --help\` for usage`);
      return 2;
    }
    printError(error instanceof Error ? error.message : String(error));
    if (Deno.env.get("REEF_DEBUG") && error instanceof Error) console.error(error.stack);
    return 1;
  }
}
