// Benchmark of the VS Code extension as a person experiences it (not a test): the real
// workbench in headless Chromium (1400x1000), times taken in the page.
//   open:    click notebook.toml in the Explorer -> the first screen of samples/quickstart shows
//            its cached outputs (every visible cell says "cached", the first table is drawn);
//            also until every cached output of the notebook is drawn (a 4000 px tall window)
//   run all: "Clear All Outputs", then Run All on a warm cache -> every cell has run again and
//            every output is drawn (4000 px tall window, so all cells are laid out)
// Prints a Markdown table (median and min of N repeats). Target: both under 1 s.
//   bash bench/bench_extension.sh [--repeat N]
// Env (set by bench_extension.sh): STRATA_VSCODE_SERVER_MAIN, STRATA_SERVER_PYTHON.
/* global document -- page.waitForFunction callbacks run in the page */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { extensionActive, launchBrowser, startVsCode } from "../extension/test/e2e/harness.mjs";
import { WORKSPACE_SETTINGS } from "../extension/test/e2e/settings.mjs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repeat = Number(process.argv[process.argv.indexOf("--repeat") + 1]) || 5;
const CODE_CELLS = 6;

// A workspace holding 2 * `repeat` + 1 copies of quickstart, each with a warm store: every open
// is a notebook VS Code has not seen yet.
const workspace = mkdtempSync(path.join(tmpdir(), "strata-bench-"));
const source = path.join(workspace, "nb0");
cpSync(path.join(repoRoot, "samples", "quickstart"), source, { recursive: true, filter: (s) => !s.includes(`${path.sep}.strata`) });
execFileSync(process.env.STRATA_SERVER_PYTHON, ["-m", "strata_engine.cli", "run", "--quiet", source], { stdio: "ignore" });
for (let i = 1; i <= 2 * repeat; i++) cpSync(source, path.join(workspace, `nb${i}`), { recursive: true });
mkdirSync(path.join(workspace, ".vscode"));
writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify(WORKSPACE_SETTINGS));

const vscode = await startVsCode({ serverMain: process.env.STRATA_VSCODE_SERVER_MAIN });
const browser = await launchBrowser();
const SCREEN = { width: 1400, height: 1000 };
const TALL = { width: 1400, height: 4000 }; // the notebook lays out every cell at once
const page = await browser.newPage({ viewport: SCREEN });
page.setDefaultTimeout(120_000);

/** The cells on screen say "cached" and the first table (load_data's) is drawn. */
async function firstScreenShown() {
  await page.waitForFunction(
    () => {
      const rows = [...document.querySelectorAll(".notebookOverlay .code-cell-row")];
      return rows.length > 0 && rows.every((row) => (row.querySelector(".cell-statusbar-container")?.textContent ?? "").includes("cached"));
    },
    undefined,
    { polling: "raf" },
  );
  await page.frameLocator("iframe.webview.ready").frameLocator("#active-frame").locator("table").first().waitFor();
}

/**
 * Every code cell says `word` in its status bar (and, after a run, shows the run's execution
 * count), and the last outputs (the plot, the summary) are rendered.
 */
async function allOutputsShown(word, executionCount) {
  await page.waitForFunction(
    ({ cells, word, executionCount }) => {
      const rows = [...document.querySelectorAll(".notebookOverlay .code-cell-row")];
      return (
        rows.length >= cells &&
        rows.every((row) => (row.querySelector(".cell-statusbar-container")?.textContent ?? "").includes(word)) &&
        (!executionCount || rows.every((row) => /\[\d+\]/.test(row.querySelector(".execution-count-label")?.textContent ?? "")))
      );
    },
    { cells: CODE_CELLS, word, executionCount },
    { polling: "raf" },
  );
  const outputs = page.frameLocator("iframe.webview.ready").frameLocator("#active-frame");
  await outputs.locator("img").first().waitFor();
  await outputs.getByText("Total revenue:").waitFor();
}

const now = () => page.evaluate(() => performance.now());
const opens = [];
const fullOpens = [];
const runs = [];
try {
  await page.goto(vscode.url(workspace, { extensionPath: path.join(repoRoot, "extension") }));
  await page.locator(".monaco-workbench").waitFor();
  await extensionActive(page);
  if (await page.locator(".part.auxiliarybar").isVisible()) await page.keyboard.press("Control+Alt+KeyB");
  const explorer = page.locator(".explorer-folders-view");
  for (let i = 1; i <= 2 * repeat; i++) {
    // Odd rounds: the first screen at a normal size; even rounds: everything, tall.
    const full = i % 2 === 0;
    await page.setViewportSize(full ? TALL : SCREEN);
    await explorer.getByRole("treeitem", { name: `nb${i}`, exact: true }).click();
    const start = await now();
    await explorer.getByRole("treeitem", { name: "notebook.toml" }).click();
    if (full) await allOutputsShown("cached");
    else await firstScreenShown();
    (full ? fullOpens : opens).push((await now()) - start);
    await explorer.getByRole("treeitem", { name: `nb${i}`, exact: true }).click(); // collapse
    if (full) {
      await page.locator('.notebook-toolbar-container [aria-label^="Clear All Outputs"]').first().click();
      const before = await now();
      await page.locator('.notebook-toolbar-container [aria-label^="Run All"]').first().click();
      await allOutputsShown("cached", true);
      runs.push((await now()) - before);
    }
    await page.keyboard.press("Control+KeyW");
  }
} finally {
  await browser.close();
  await vscode.stop();
  rmSync(workspace, { recursive: true, force: true });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const fmt = (ms) => `${(ms / 1000).toFixed(3)} s`;
const row = (label, values) => {
  const later = values.length > 1 ? values.slice(1) : values;
  console.log(`| ${label} | ${fmt(values[0])} | ${fmt(median(later))} | ${fmt(Math.min(...later))} | ${later.length} |`);
};
console.log("| samples/quickstart (6 code cells), warm cache | first in the window | median of the rest | min | n |");
console.log("| --- | --- | --- | --- | --- |");
row("open notebook.toml -> first screen of cached outputs", opens);
row("open notebook.toml -> every cached output drawn", fullOpens);
row("Clear All Outputs, Run All -> every output drawn", runs);
