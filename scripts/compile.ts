/**
 * `deno task compile`: writes `dist/reef`, one executable with the FFI library, the runtime kernels,
 * the kernel headers (for `reef compile`), the evaluation's scripts and the model packages embedded.
 *
 * `deno compile` writes the program into `denort`, a runtime binary it downloads for the exact Deno
 * version. On an air-gapped machine, set `DENORT_BIN` to a `denort` of that version brought from a
 * connected machine (see README.md, "Air-gapped GPU hosts").
 * @module
 */

const root = new URL("../", import.meta.url).pathname;
const version = Deno.version.deno;
const target = "x86_64-unknown-linux-gnu";
const denortUrl = `https://dl.deno.land/release/v${version}/denort-${target}.zip`;

function exists(path: string): boolean {
  try {
    Deno.statSync(`${root}${path}`);
    return true;
  } catch {
    return false;
  }
}

const library = "build/libreef_gpu.so";
if (!exists(library)) {
  console.error(`compile: ${library} is missing: run \`deno task build\` first`);
  Deno.exit(1);
}
const denort = Deno.env.get("DENORT_BIN");
if (denort !== undefined) {
  try {
    Deno.statSync(denort);
  } catch {
    console.error(`compile: DENORT_BIN is set to "${denort}", which does not exist`);
    Deno.exit(1);
  }
}

// Everything the program reads or imports by path at run time: the scheduler's worker and device
// factories (imported by URL), the gRPC service definition, kernel headers for `reef compile`,
// the evaluation's workloads, figure scripts and PyTorch scripts, and the model packages.
const includes = [
  "build/",
  "src/scheduler/worker.ts",
  "src/scheduler/gpu_factory.ts",
  "src/gpu/sim/factory.ts",
  "src/server/grpc_predict_v2.proto",
  "src/kernels/",
  "evaluation/workloads/",
  "evaluation/scripts/",
  "evaluation/lib/",
  ...[...Deno.readDirSync(`${root}evaluation`)].filter((e) => /^fig\d+$/.test(e.name)).map((e) =>
    `evaluation/${e.name}/`
  ),
  "resource/",
].filter(exists);
const args = [
  "compile",
  "--allow-all",
  "--no-check",
  ...includes.flatMap((path) => ["--include", path]),
  "--output",
  "dist/reef",
  "cli.ts",
];
console.error(`compile: deno ${args.join(" ")}${denort ? ` (DENORT_BIN=${denort})` : ""}`);
const result = await new Deno.Command(Deno.execPath(), {
  args,
  cwd: root,
  stdout: "inherit",
  stderr: "piped",
}).output();
const stderr = new TextDecoder().decode(result.stderr);
if (result.code !== 0) {
  console.error(stderr.trim());
  if (!denort && /denort|dl\.deno\.land|download/i.test(stderr)) {
    console.error(
      `\ncompile: deno compile needs denort ${version} and could not download it (no internet ` +
        `here?). On a connected machine, download ${denortUrl}, unzip it, copy \`denort\` here ` +
        `and run again with DENORT_BIN=/path/to/denort.`,
    );
  } else if (denort) {
    console.error(
      `\ncompile: deno compile failed with DENORT_BIN=${denort}: it must be the denort ` +
        `binary of Deno ${version} (not the deno binary itself).`,
    );
  }
  Deno.exit(1);
}
console.error(`compile: wrote ${root}dist/reef`);
