// The variables view and the data viewer as a person sees them: opens samples/quickstart,
// Run All, shows the Strata Variables view (screenshot), opens `sales` in the data viewer
// from the view's inline action, sorts by a column (screenshots). Screenshots go to
// test-output/ (repository root). Env: STRATA_VSCODE_SERVER_MAIN, STRATA_SERVER_PYTHON,
// STRATA_TEST_OUTPUT (optional).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { extensionActive, launchBrowser, openQuickstart, runAllUntilReady, runCommand, startVsCode } from "./harness.mjs";
import { WORKSPACE_SETTINGS } from "./settings.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionPath = path.resolve(here, "..", "..");
const repoRoot = path.resolve(extensionPath, "..");
const outputDir = process.env.STRATA_TEST_OUTPUT || path.join(repoRoot, "test-output");
const WAIT_MS = 120_000;

const workspace = mkdtempSync(path.join(tmpdir(), "strata-ui-variables-"));
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
// Tall while running: the notebook renders only the cells in view, and the wait reads them all.
const page = await browser.newPage({ viewport: { width: 1500, height: 3600 } });
try {
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(vscode.url(workspace, { extensionPath }));
  await page.locator(".monaco-workbench").waitFor();
  const auxiliaryBar = page.locator(".part.auxiliarybar");
  if (await auxiliaryBar.isVisible()) await page.keyboard.press("Control+Alt+KeyB");
  await extensionActive(page);

  step("open the notebook and Run All");
  await openQuickstart(page);
  await runAllUntilReady(page, { timeout: WAIT_MS });
  await page.setViewportSize({ width: 1500, height: 1000 });

  step("show the Strata Variables view");
  await runCommand(page, "Focus on Strata Variables View");
  const view = page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Strata Variables" }) });
  const sales = view.getByRole("treeitem", { name: /^sales/ });
  await sales.waitFor();
  await page.screenshot({ path: path.join(outputDir, "variables-view.png") });

  step("open sales in the data viewer from the view's inline action");
  await sales.hover();
  await sales.locator('.action-label[aria-label="Open in Data Viewer"]').click();
  const viewer = page.frameLocator('iframe.webview.ready[title*="sales"], iframe.webview.ready >> nth=-1').frameLocator("#active-frame");
  await viewer.locator("tbody tr").nth(99).waitFor();
  await viewer.getByText("1–100 of 5,000").waitFor();
  await page.screenshot({ path: path.join(outputDir, "data-viewer.png") });

  step("sort by units (descending: two clicks) and filter to north");
  await viewer.locator('th[data-column="units"]').click();
  await viewer.locator("th", { hasText: "units ▲" }).waitFor();
  await viewer.locator('th[data-column="units"]').click();
  await viewer.locator("th", { hasText: "units ▼" }).waitFor();
  await viewer.locator("#filter").fill("north");
  await viewer.getByText(/filtered from 5,000/).waitFor();
  await page.screenshot({ path: path.join(outputDir, "data-viewer-sorted-filtered.png") });
  step(`screenshots in ${outputDir}`);
} catch (error) {
  failed = true;
  process.stderr.write(`ui test failed: ${error.stack || error}\n`);
  await page.screenshot({ path: path.join(outputDir, "ui-variables-failure.png") }).catch(() => {});
} finally {
  await browser.close();
  await vscode.stop();
}
if (!failed) rmSync(workspace, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
