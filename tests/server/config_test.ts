import assert from "node:assert/strict";
import {
  ConfigError,
  loadServeConfigFile,
  parseServeArgs,
  resolveServeConfig,
} from "../../src/server/config.ts";

async function withConfigFile(content: string, run: (path: string) => Promise<void>) {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, content);
    await run(path);
  } finally {
    await Deno.remove(path);
  }
}

async function rejectsWith(promise: Promise<unknown>, message: string) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("resolveServeConfig fills every default", () => {
  assert.deepEqual(resolveServeConfig({}), {
    host: "127.0.0.1",
    port: 8000,
    grpcPort: 8001,
    models: [],
    device: "gpu",
    mode: "reef",
    deviceQueueDepth: 2,
    clientQueue: "connection",
    shutdownGraceMs: 10_000,
    limits: { maxRequestBytes: 67_108_864, maxQueuedPerClient: 256, requestTimeoutMs: 30_000 },
  });
});

Deno.test("flags override the config file field by field", async () => {
  await withConfigFile(
    JSON.stringify({
      port: 9000,
      models: ["resnet50"],
      device: "sim",
      limits: { maxRequestBytes: 1024, requestTimeoutMs: 500 },
    }),
    async (path) => {
      const config = await parseServeArgs([
        "--config",
        path,
        "--port",
        "9100",
        "--model",
        "bert,vgg19",
        "--model",
        "densenet",
        "--max-request-bytes",
        "2048",
        "--mode",
        "stream-prio",
      ]);
      assert.equal(config.port, 9100);
      assert.equal(config.device, "sim");
      assert.equal(config.mode, "stream-prio");
      assert.deepEqual(config.models, ["bert", "vgg19", "densenet"]);
      assert.deepEqual(config.limits, {
        maxRequestBytes: 2048,
        maxQueuedPerClient: 256,
        requestTimeoutMs: 500,
      });
    },
  );
});

Deno.test("config file errors name the file, the field and the value", async () => {
  await withConfigFile(JSON.stringify({ limits: { maxRequestBytes: 0 } }), async (path) => {
    await rejectsWith(
      loadServeConfigFile(path),
      `Invalid config "${path}": field "limits.maxRequestBytes" must be at least 1, got 0`,
    );
  });
  await withConfigFile(JSON.stringify({ device: "tpu" }), async (path) => {
    await rejectsWith(
      parseServeArgs(["--config", path]),
      `Invalid config "${path}": field "device" must be one of "gpu", "sim", got "tpu"`,
    );
  });
  await withConfigFile(JSON.stringify({ models: ["a", 3] }), async (path) => {
    await rejectsWith(
      loadServeConfigFile(path),
      `Invalid config "${path}": field "models[1]" must be a string, got 3`,
    );
  });
  await withConfigFile(JSON.stringify({ prot: 1 }), async (path) => {
    await rejectsWith(
      loadServeConfigFile(path),
      `Invalid config "${path}": field "prot" is not a known field`,
    );
  });
  await withConfigFile("{ port: 1 }", async (path) => {
    await assert.rejects(
      loadServeConfigFile(path),
      new RegExp(`^ConfigError: Cannot load config "${path}": invalid JSON \\(`),
    );
  });
  await assert.rejects(
    loadServeConfigFile("/nonexistent/reef.json"),
    /^ConfigError: Cannot read config "\/nonexistent\/reef.json": /,
  );
});

Deno.test("flag errors name the flag and the value", async () => {
  await rejectsWith(
    parseServeArgs(["--port", "70000"]),
    `Invalid flag "--port": field "port" must be at most 65535, got 70000`,
  );
  await rejectsWith(
    parseServeArgs(["--shutdown-grace-ms", "3000000000"]),
    `Invalid flag "--shutdown-grace-ms": field "shutdownGraceMs" must be at most 2147483647, got 3000000000`,
  );
  await rejectsWith(
    parseServeArgs(["--request-timeout-ms", "soon"]),
    `Invalid flag "--request-timeout-ms": must be an integer, got "soon"`,
  );
  await rejectsWith(
    parseServeArgs(["--model", "a,,b"]),
    `Invalid flag "--model": field "models[1]" must not be empty, got ""`,
  );
  await assert.rejects(
    parseServeArgs(["--prot", "1"]),
    /^ConfigError: Invalid arguments: Unknown option '--prot'/,
  );
});
