// The notebook as a person sees it: opens samples/quickstart by clicking notebook.toml in the
// Explorer, clicks Run All, waits until every output is rendered, shows the Strata Variables
// view, opens `sales` in the data viewer from the view's context menu (page 1, then sorted and
// filtered), opens the DAG and clicks a node. Screenshots go to test-output/ (repository root)
// for a person to look at; the README's go also to STRATA_DOCS_IMAGES when it is set
// (scripts/test-extension.sh sets docs/images/, so running the tests keeps them current).
// Env: STRATA_VSCODE_SERVER_MAIN, STRATA_SERVER_PYTHON; optional: STRATA_TEST_OUTPUT,
// STRATA_DOCS_IMAGES.
/* global document -- page.waitForFunction callbacks run in the page */
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
const docsDir = process.env.STRATA_DOCS_IMAGES || undefined;
// The screenshots are taken at SHOT, small enough for the README.
const SHOT = { width: 1200, height: 800 };
// Where the mouse rests for a screenshot: the status bar's empty middle shows no tooltip.
const REST = { x: 600, y: SHOT.height - 10 };
const WAIT_MS = 120_000;

const workspace = mkdtempSync(path.join(tmpdir(), "strata-ui-workspace-"));
cpSync(path.join(repoRoot, "samples", "quickstart"), path.join(workspace, "quickstart"), {
  recursive: true,
  filter: (source) => !source.includes(`${path.sep}.strata`),
});
mkdirSync(path.join(workspace, ".vscode"));
writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify(WORKSPACE_SETTINGS, null, 2));
mkdirSync(outputDir, { recursive: true });
if (docsDir) mkdirSync(docsDir, { recursive: true });

function step(text) {
  process.stdout.write(`  ui: ${text}\n`);
}

/** A screenshot into test-output/; `forDocs` ones (the README's) also into STRATA_DOCS_IMAGES. */
async function shot(page, name, { forDocs = false } = {}) {
  await page.screenshot({ path: path.join(outputDir, name) });
  if (forDocs && docsDir) await page.screenshot({ path: path.join(docsDir, name) });
}

/** The webview that `open` creates: its iframe's index and the page inside. Webview iframes
 * are appended in creation order, so the new one is at the count taken before. */
async function openWebview(page, open) {
  const index = await page.locator("iframe.webview").count();
  await open();
  return { index, view: page.frameLocator(`iframe.webview >> nth=${index}`).frameLocator("#active-frame") };
}

/** The Strata Variables view after Run All, then `sales` in the data viewer; closes it again. */
async function variablesAndDataViewer(page) {
  step("show the Strata Variables view");
  await runCommand(page, "Focus on Strata Variables View");
  // The Explorer's folder tree shares the side bar; collapsed, it leaves the view every row.
  const folders = page.locator(".pane", { has: page.locator(".explorer-folders-view") }).locator(".pane-header");
  if ((await folders.getAttribute("aria-expanded")) === "true") await folders.click();
  const view = page.locator(".pane", { has: page.locator(".pane-header", { hasText: "Strata Variables" }) });
  const sales = view.getByRole("treeitem", { name: /^sales/ });
  await sales.waitFor();
  await view.getByRole("treeitem", { name: /^best_region/ }).waitFor();
  await page.mouse.move(REST.x, REST.y);
  await shot(page, "variables-view.png", { forDocs: true });

  step("open sales in the data viewer from its context menu in the view");
  const { index, view: viewer } = await openWebview(page, async () => {
    await sales.click({ button: "right" });
    // Chosen with the keyboard: a mouse click that lands while the menu is still settling
    // after the right click is dropped by VS Code (it left the menu open in one CI run).
    await page.getByRole("menuitem", { name: "Open in Data Viewer" }).hover();
    await page.keyboard.press("Enter");
  });
  await viewer.locator("tbody tr").nth(99).waitFor();
  await viewer.getByText("1–100 of 5,000").waitFor();
  // Half the editor area hides the viewer's paging bar: its group (the active one) takes it all.
  await runCommand(page, "View: Toggle Maximize Editor Group");
  await page.waitForFunction((nth) => document.querySelectorAll("iframe.webview")[nth]?.getBoundingClientRect().width > 700, index);
  await page.mouse.move(REST.x, REST.y);
  await shot(page, "data-viewer.png", { forDocs: true });

  step("sort by units (descending: two clicks) and filter to north");
  await viewer.locator('th[data-column="units"]').click();
  await viewer.locator("th", { hasText: "units ▲" }).waitFor();
  await viewer.locator('th[data-column="units"]').click();
  await viewer.locator("th", { hasText: "units ▼" }).waitFor();
  await viewer.locator("#filter").fill("north");
  await viewer.getByText(/filtered from 5,000/).waitFor();
  await shot(page, "data-viewer-sorted-filtered.png");

  step("close the data viewer");
  const tab = page.locator(".tab", { hasText: "sales (load_data)" });
  await tab.locator(".tab-actions .action-label").click();
  await tab.waitFor({ state: "detached" });
}

const vscode = await startVsCode({ serverMain: process.env.STRATA_VSCODE_SERVER_MAIN });
const browser = await launchBrowser();
let failed = false;
// Tall while waiting: the notebook renders only the cells in view, and every cell should be.
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
  await shot(page, "notebook-after-run-all-full.png");
  await page.setViewportSize(SHOT);
  await page.mouse.move(REST.x, REST.y); // Run All's tooltip would cover the toolbar
  await shot(page, "notebook-after-run-all.png", { forDocs: true });

  await variablesAndDataViewer(page);

  step("hide the side bar (the notebook toolbar then has room for Show DAG); Show DAG");
  await runCommand(page, "View: Toggle Primary Side Bar Visibility");
  await page.locator(".part.sidebar").waitFor({ state: "hidden" });
  const { view: dag } = await openWebview(page, () => page.locator('.notebook-toolbar-container [aria-label^="Show DAG"]').first().click());
  await dag.locator("g.node").nth(5).waitFor();
  await page.mouse.move(REST.x, REST.y);
  await shot(page, "dag.png", { forDocs: true });

  step("click the summary node: the notebook reveals and selects that cell");
  await dag.locator('g.node[data-cell="summary"]').click();
  await page.waitForFunction(
    () => /Summary/.test(document.querySelector(".notebookOverlay .monaco-list-row.focused")?.textContent ?? ""),
    undefined,
    { timeout: WAIT_MS },
  );
  await shot(page, "dag-revealed-cell.png");

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
  await page.mouse.move(REST.x, REST.y);
  await shot(page, "dag-stale.png");
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

