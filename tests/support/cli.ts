/**
 * Runs the `reef` CLI in a child process, as a user would.
 * @module
 */

const cli = new URL("../../cli.ts", import.meta.url).pathname;

/** The exit code and output of one `reef` run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `reef <args>` with extra environment variables. */
export async function reef(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--frozen", "-A", cli, ...args],
    env,
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}
