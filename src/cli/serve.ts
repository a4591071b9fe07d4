/**
 * `reef serve`: the inference server (Open Inference Protocol over HTTP/REST and gRPC) over the
 * REEF scheduler, on the GPU or on the simulated device.
 * @module
 */

import { defaultResourceRoot } from "../model/package.ts";
import { ConfigError, parseServeArgs, SERVE_FLAGS_HELP } from "../server/config.ts";
import { SchedulerBackend } from "../server/scheduler_backend.ts";
import { serve } from "../server/serve.ts";
import { type Command, UsageError } from "./command.ts";

/** `reef serve`. */
export const serveCommand: Command = {
  name: "serve",
  summary: "Serve models over HTTP/REST and gRPC (Open Inference Protocol) with REEF priorities",
  help: `Usage: reef serve [options]

Serves the model packages of a directory through the Open Inference Protocol (KServe v2) over
HTTP/REST and gRPC, scheduled by REEF: requests with parameter "priority" "rt" preempt best-effort
ones ("be", the default); each best-effort client (parameter "client" or header "reef-client")
gets a queue of its own, at most 32 busy at once. Prints the HTTP and gRPC addresses once
listening; SIGINT or SIGTERM stops it gracefully (a second signal fails in-flight requests at once).
On the simulated device (--device sim) outputs are digests of the computation, not values, and the
model platform is "reef_sim". Loaded models cannot be unloaded (the scheduler keeps them).

  --model-dir <dir>               model packages, <dir>/<m>/<m>.json (default resource/;
                                  required with --device sim)
${SERVE_FLAGS_HELP}

Examples:
  reef serve --model resnet50 --mode reef
  reef serve --device sim --model-dir tests/server/fixtures/models --model cnn3 --port 0`,
  async run(args) {
    const { value: modelDir, rest } = takeOption(args, "model-dir");
    const config = await parseServeArgs(rest).catch((error) => {
      throw error instanceof ConfigError ? new UsageError(error.message) : error;
    });
    if (config.device === "sim" && modelDir === undefined) {
      throw new UsageError(
        "Option --device sim needs --model-dir <dir>: the simulated device has no default packages",
      );
    }
    const backend = await SchedulerBackend.open({
      device: config.device,
      modelDir: modelDir ?? defaultResourceRoot(),
      mode: config.mode,
      deviceQueueDepth: config.deviceQueueDepth,
    });
    const server = await serve(config, backend);
    await server.finished;
    return 0;
  },
};

/**
 * Removes `--<name> <value>` or `--<name>=<value>` from `args`, which go on to the config parser.
 * @throws {UsageError} for the flag without a value or given twice.
 */
function takeOption(args: readonly string[], name: string): { value?: string; rest: string[] } {
  const flag = `--${name}`;
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let found: string | undefined;
    if (arg === flag) {
      found = args[++i];
      if (found === undefined || found === "" || found.startsWith("--")) {
        throw new UsageError(`Option ${flag} needs a value`);
      }
    } else if (arg.startsWith(`${flag}=`)) {
      found = arg.slice(flag.length + 1);
      if (found === "") throw new UsageError(`Option ${flag} needs a value`);
    } else {
      rest.push(arg);
      continue;
    }
    if (value !== undefined) throw new UsageError(`Option ${flag} is given more than once`);
    value = found;
  }
  return value === undefined ? { rest } : { value, rest };
}
