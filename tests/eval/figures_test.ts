import assert from "node:assert/strict";
import { join } from "node:path";
import { FIGURE_IDS, FIGURES, figureSpec } from "../../src/eval/figure_catalog.ts";
import {
  EVALUATION_DIR,
  GnuplotError,
  renderFigure,
  runGnuplotScript,
} from "../../src/eval/figures.ts";

const SAMPLES = join(import.meta.dirname as string, "fixtures", "figures");
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the catalog lists every figure once, with its script and sample data", async () => {
  assert.deepEqual(FIGURES.map((f) => f.id), [...FIGURE_IDS]);
  for (const figure of FIGURES) {
    await Deno.stat(join(EVALUATION_DIR, figure.script));
    const header = (await Deno.readTextFile(join(SAMPLES, `fig${figure.id}.csv`))).split("\n")[0];
    assert.equal(header, figure.columns.join(","), `sample data of figure ${figure.id}`);
  }
  assert.throws(() => figureSpec("2a"), /Unknown figure "2a" \(known: 1a, 1b/);
});

Deno.test("every figure renders a PDF and a PNG from sample data", async () => {
  await withTempDir(async (dir) => {
    for (const id of FIGURE_IDS) {
      const rendered = await renderFigure(id, join(SAMPLES, `fig${id}.csv`), dir, {
        note: "sample data (test)",
      });
      assert.deepEqual(rendered.warnings, [], `figure ${id}`);
      const pdf = await Deno.readFile(rendered.pdf);
      assert.equal(new TextDecoder().decode(pdf.subarray(0, 5)), "%PDF-", `figure ${id} PDF`);
      assert.ok(pdf.length > 5_000, `figure ${id} PDF has ${pdf.length} bytes`);
      const png = await Deno.readFile(rendered.png);
      assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE, `figure ${id} PNG`);
      assert.ok(png.length > 10_000, `figure ${id} PNG has ${png.length} bytes`);
    }
  });
});

Deno.test("a gnuplot error names the script", async () => {
  await withTempDir(async (dir) => {
    const script = join(dir, "broken.plt");
    await Deno.writeTextFile(script, "set terminal pngcairo\nplot sin(x) with nonsense\n");
    await assert.rejects(runGnuplotScript(script, [], { cwd: dir }), (error) => {
      assert.ok(error instanceof GnuplotError);
      assert.equal(error.script, script);
      assert.match(error.message, /^Gnuplot failed on script ".*broken\.plt" \(exit code 1\): /);
      assert.match(error.message, /nonsense/);
      return true;
    });
  });
});

Deno.test("an unknown output format is a gnuplot error naming the figure's script", async () => {
  await withTempDir(async (dir) => {
    const script = join(EVALUATION_DIR, figureSpec("10a").script);
    await assert.rejects(
      runGnuplotScript(script, [join(SAMPLES, "fig10a.csv"), join(dir, "x.svg"), "svg", ""]),
      /Gnuplot failed on script ".*fig10a\.plt" \(exit code \d+\): .*unknown output format "svg"/,
    );
  });
});

Deno.test("data without valid points fails instead of drawing an empty figure", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "empty.csv");
    await Deno.writeTextFile(data, `${figureSpec("17a").columns.join(",")}\n`);
    await assert.rejects(
      renderFigure("17a", data, dir),
      /Gnuplot failed on script ".*fig17a\.plt"/,
    );
    await assert.rejects(
      renderFigure("17a", join(dir, "absent.csv"), dir),
      /Cannot draw figure 17a: data file ".*absent\.csv" does not exist/,
    );
  });
});

Deno.test("a missing gnuplot executable is reported with the script", async () => {
  await assert.rejects(
    runGnuplotScript("fig1/fig1a.plt", [], { gnuplot: "/nonexistent/gnuplot" }),
    /Cannot run gnuplot \("\/nonexistent\/gnuplot"\) for script "fig1\/fig1a\.plt"/,
  );
});
