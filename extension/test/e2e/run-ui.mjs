// The notebook as a person sees it: opens samples/quickstart by clicking notebook.toml in the
// Explorer, clicks Run All, waits until every output is rendered, opens the DAG and clicks a
// node. Screenshots go to test-output/ (repository root) for a person to look at.
// Env: STRATA_VSCODE_SERVER_MAIN, STRATA_SERVER_PYTHON, STRATA_TEST_OUTPUT (optional).
/* global document -- page.waitForFunction callbacks run in the page */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { extensionActive, launchBrowser, openQuickstart, runAllUntilReady, startVsCode } from "./harness.mjs";
import { WORKSPACE_SETTINGS } from "./settings.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionPath = path.resolve(here, "..", "..");
const repoRoot = path.resolve(extensionPath, "..");
const outputDir = process.env.STRATA_TEST_OUTPUT || path.join(repoRoot, "test-output");
const WAIT_MS = 120_000;

const workspace = mkdtempSync(path.join(tmpdir(), "strata-ui-workspace-"));
cpSync(path.join(repoRoot, "samples", "quickstart"), path.join(workspace, "quickstart"), {
  recursive: true,
  filter: (source) => !source.includes(`${path.sep}.strata`),
});
mkdirSync(path.join(workspace, ".vscode"));
writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify(WORKSPACE_SETTINGS, null, 2));
mkdirSync(outputDir, { recursive: true });

function step(text) {
  process.stdout.write(`  ui: ${text}\n`);
}

const vscode = await startVsCode({ serverMain: process.env.STRATA_VSCODE_SERVER_MAIN });
const browser = await launchBrowser();
let failed = false;
// Tall while waiting: the notebook renders only the cells in view, and every cell should be.
const SHOT = { width: 1500, height: 1000 };
const page = await browser.newPage({ viewport: { width: 1500, height: 3600 } });
try {
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(vscode.url(workspace, { extensionPath }));
  await page.locator(".monaco-workbench").waitFor();
  // The chat side bar may open on a first start; it would only narrow the notebook.
  const auxiliaryBar = page.locator(".part.auxiliarybar");
  if (await auxiliaryBar.isVisible()) await page.keyboard.press("Control+Alt+KeyB");

  await extensionActive(page);

  step("open the notebook by clicking notebook.toml in the Explorer");
  await openQuickstart(page);

  step("Run All from the notebook toolbar");
  await runAllUntilReady(page, { timeout: WAIT_MS });
  // Outputs render inside the notebook's webview: wait for the plot's image and the summary.
  const outputs = page.frameLocator("iframe.webview.ready").frameLocator("#active-frame");
  await outputs.locator("img").first().waitFor();
  await outputs.getByText("Total revenue:").waitFor();
  await page.screenshot({ path: path.join(outputDir, "notebook-after-run-all-full.png") });
  await page.setViewportSize(SHOT);
  await page.screenshot({ path: path.join(outputDir, "notebook-after-run-all.png") });

  step("Show DAG from the notebook toolbar");
  await page.locator('.notebook-toolbar-container [aria-label^="Show DAG"]').first().click();
  const dag = page.frameLocator('iframe.webview.ready[title*="DAG"], iframe.webview.ready >> nth=-1').frameLocator("#active-frame");
  await dag.locator("g.node").nth(5).waitFor();
  await page.mouse.move(700, 900); // no tooltip over the picture
  await page.screenshot({ path: path.join(outputDir, "dag.png") });

  step("click the summary node: the notebook reveals and selects that cell");
  await dag.locator('g.node[data-cell="summary"]').click();
  await page.waitForFunction(
    () => /Summary/.test(document.querySelector(".notebookOverlay .monaco-list-row.focused")?.textContent ?? ""),
    undefined,
    { timeout: WAIT_MS },
  );
  await page.screenshot({ path: path.join(outputDir, "dag-revealed-cell.png") });

  step("edit clean in the notebook: it and everything downstream turn stale in the DAG");
  await dag.locator('g.node[data-cell="clean"]').click();
  const clean = page.locator(".notebookOverlay .code-cell-row", { hasText: "Drop the small orders" });
  await clean.locator(".monaco-editor .view-lines").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type("\norders = orders.head(4000)");
  await dag.locator("g.node.state-stale").nth(4).waitFor();
  // The cell status bars say why: clean's source changed, daily's upstream clean did.
  await clean.locator(".cell-statusbar-container", { hasText: "stale: source changed" }).waitFor();
  await page.locator(".notebookOverlay .code-cell-row .cell-statusbar-container", { hasText: "stale: upstream clean changed" }).first().waitFor();
  await page.mouse.move(700, 900);
  await page.screenshot({ path: path.join(outputDir, "dag-stale.png") });
  step(`screenshots in ${outputDir}`);
} catch (error) {
  failed = true;
  process.stderr.write(`ui test failed: ${error.stack || error}\n`);
  await page.screenshot({ path: path.join(outputDir, "ui-failure.png") }).catch(() => {});
} finally {
  await browser.close();
  await vscode.stop();
}
if (!failed) rmSync(workspace, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
