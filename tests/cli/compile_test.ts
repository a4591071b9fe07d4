import assert from "node:assert/strict";

const script = new URL("../../scripts/compile.ts", import.meta.url).pathname;

async function compile(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", script],
    env,
    stdin: "null",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("deno task compile says exactly what is missing when it cannot build", async () => {
  const missing = await compile({ DENORT_BIN: "/nonexistent/denort" });
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /DENORT_BIN is set to "\/nonexistent\/denort", which does not exist|run `deno task build` first/,
  );
});
