import assert from "node:assert/strict";
import { reef } from "../support/cli.ts";

Deno.test("reef with no arguments prints usage on stderr and exits 2", async () => {
  const { code, stderr } = await reef([]);
  assert.equal(code, 2);
  assert.match(stderr, /Usage: reef <command>/);
});

Deno.test("reef --help lists the commands on stdout", async () => {
  const { code, stdout } = await reef(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /info\s+Show the GPUs/);
});

Deno.test("reef --version prints the version", async () => {
  const { code, stdout } = await reef(["--version"]);
  assert.equal(code, 0);
  assert.match(stdout, /^reef \d+\.\d+\.\d+/);
});

Deno.test("an unknown command or option is a usage error (exit 2)", async () => {
  const unknown = await reef(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);
  const option = await reef(["info", "--bogus"]);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /Unknown option '--bogus'/);
});

Deno.test("reef info reports the GPUs, or says clearly that there is none", async () => {
  const { code, stdout, stderr } = await reef(["info"]);
  if (code === 0) {
    assert.match(stdout, /GPU 0: .+\n\s+SMs: \d+/);
  } else {
    assert.equal(code, 1);
    assert.match(stderr, /no usable GPU on this machine/);
    assert.match(stderr, /NO_DRIVER|NO_DEVICE|Cannot load reef's GPU library/);
    assert.doesNotMatch(stderr, /at .*\.ts:\d+/, "no stack trace");
  }
});
