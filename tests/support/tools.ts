/**
 * Whether a build tool (nvcc, hipcc, g++) is on PATH, for tests that need one. Where it is
 * missing, such a test is skipped; but CI sets REEF_REQUIRE_NVCC=1, and there a missing compiler is
 * an error, so that a broken install cannot pass as skipped tests.
 * @module
 */

/** Resolves to true if `program --version` runs. */
export async function toolAvailable(program: string): Promise<boolean> {
  let found = false;
  try {
    found =
      (await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
        .output()).success;
  } catch {
    found = false;
  }
  if (!found && Deno.env.get("REEF_REQUIRE_NVCC") === "1") {
    throw new Error(`${program} is required here (REEF_REQUIRE_NVCC=1) but is not on PATH`);
  }
  if (!found) console.log(`skipping tests that need ${program}: it is not on PATH`);
  return found;
}
