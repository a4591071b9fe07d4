// `reef run` against a server whose outputs are values, not the simulator's digests (a server over
// the fake backend): it shows the largest values of numeric outputs and the first ones of others.
import assert from "node:assert/strict";
import { reef } from "../support/cli.ts";
import { startTestServer } from "./helpers.ts";

Deno.test("reef run shows the values of outputs from a server that is not simulated", async () => {
  await using t = await startTestServer();
  // Zero inputs echo back: FP32 zeros are numbers; booleans, 64-bit integers and strings are not.
  const echo = await reef(["run", "echo", "--url", t.url, "--count", "2", "--priority", "rt"]);
  assert.equal(echo.code, 0, echo.stderr);
  assert.match(echo.stdout, /Y FP32 \[1,4\]: top 4: \[0\] 0\.0000, \[1\] 0\.0000/);
  assert.doesNotMatch(echo.stdout, /digest|simulated/);
  assert.match(echo.stdout, /2 inferences of "echo" \(rt\) to http:\/\/127\.0\.0\.1:\d+: 2 ok/);
  const types = await reef(["run", "types", "--grpc", t.server.grpcAddress, "--count", "1"]);
  assert.equal(types.code, 0, types.stderr);
  assert.match(types.stdout, /B BOOL \[2\]: first 2: false, false/);
  assert.match(types.stdout, /I64 INT64 \[2\]: first 2: 0, 0/);
  assert.match(types.stdout, /S BYTES \[2\]: first 2: "", ""/);
  assert.match(types.stdout, /F64 FP64 \[2\]: top 2: \[0\] 0\.0000, \[1\] 0\.0000/);
});
