// The packaged extension as a user gets it: the .vsix is installed into a fresh VS Code
// server, no Strata Python is configured, so the first activation creates the private
// environment from the bundled server sources (progress notification, venv + pip or uv).
// Then Run All must work, and a terminal opened from the extension must find `strata`.
// Env: STRATA_VSCODE_SERVER_MAIN, STRATA_CODE_SERVER (the code-server CLI, to install the
// .vsix), STRATA_VSIX, STRATA_TEST_OUTPUT (optional).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { extensionActive, launchBrowser, openQuickstart, runAllUntilReady, runCommand, startVsCode } from "./harness.mjs";
import { WORKSPACE_SETTINGS } from "./settings.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..", "..");
const outputDir = process.env.STRATA_TEST_OUTPUT || path.join(repoRoot, "test-output");
const INSTALL_TIMEOUT_MS = 15 * 60_000;

const scratch = mkdtempSync(path.join(tmpdir(), "strata-packaged-"));
const extensionsDir = path.join(scratch, "extensions");
const workspace = path.join(scratch, "workspace");
cpSync(path.join(repoRoot, "samples", "quickstart"), path.join(workspace, "quickstart"), {
  recursive: true,
  filter: (source) => !source.includes(`${path.sep}.strata`),
});
mkdirSync(path.join(workspace, ".vscode"));
writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify(WORKSPACE_SETTINGS, null, 2));
mkdirSync(outputDir, { recursive: true });

/** Resolves when `file` exists (watching its directory; no polling). */
function waitForFile(file, timeoutMs) {
  return new Promise((resolve, reject) => {
    const watcher = watch(path.dirname(file), () => existsSync(file) && done());
    const timer = setTimeout(() => done(new Error(`${file} did not appear`)), timeoutMs);
    function done(error) {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve();
    }
    if (existsSync(file)) done();
  });
}

function step(text) {
  process.stdout.write(`  packaged: ${text}\n`);
}

step(`install ${process.env.STRATA_VSIX}`);
execFileSync(process.env.STRATA_CODE_SERVER, [
  "--config", path.join(scratch, "config.yaml"),
  "--user-data-dir", path.join(scratch, "user-data"),
  "--extensions-dir", extensionsDir,
  "--install-extension", process.env.STRATA_VSIX,
], { stdio: "inherit" });

const vscode = await startVsCode({
  serverMain: process.env.STRATA_VSCODE_SERVER_MAIN,
  extensionsDir,
  env: { STRATA_SERVER_PYTHON: undefined },
});
const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1500, height: 3600 } });
let failed = false;
let installing = false;
try {
  page.setDefaultTimeout(120_000);
  await page.goto(vscode.url(workspace));
  await page.locator(".monaco-workbench").waitFor();
  if (await page.locator(".part.auxiliarybar").isVisible()) await page.keyboard.press("Control+Alt+KeyB");

  step("activation starts installing the server");
  await extensionActive(page);
  // The install runs from activation on; its progress notification is in the notification
  // center (shot for a person to see; a very fast install may be over already).
  await page.locator('.statusbar-item[aria-label*="otification"]').last().click();
  installing = await page
    .locator(".notifications-center", { hasText: "installing the notebook server" })
    .waitFor({ timeout: 10_000 })
    .then(() => true, () => false);
  if (installing) {
    await page.setViewportSize({ width: 1500, height: 1000 });
    await page.screenshot({ path: path.join(outputDir, "packaged-installing.png") });
    await page.setViewportSize({ width: 1500, height: 3600 });
  }
  await page.keyboard.press("Escape");

  await openQuickstart(page);

  step("Run All once the server is installed");
  await runAllUntilReady(page, { timeout: INSTALL_TIMEOUT_MS, polling: 1000 });

  await page.setViewportSize({ width: 1500, height: 1000 });
  await page.screenshot({ path: path.join(outputDir, "packaged-after-run-all.png") });

  step("a terminal opened from the extension has strata on PATH");
  const marker = path.join(scratch, "strata-path.txt");
  await runCommand(page, "Strata: Open Terminal with strata on PATH");
  await page.locator(".terminal-wrapper.active .xterm-helper-textarea, .terminal .xterm-helper-textarea").first().waitFor();
  // Written to a temp name and renamed, so the file appears complete.
  await page.keyboard.type(`command -v strata > ${marker}.tmp; mv ${marker}.tmp ${marker}\n`);
  await waitForFile(marker, 60_000);
  const found = readFileSync(marker, "utf8").trim();
  if (!found.includes(`${path.sep}server-env${path.sep}bin${path.sep}strata`)) throw new Error(`strata resolves to ${found}, not the private environment`);
  step(`strata on PATH: ${found}`);
  const stamp = path.join(vscode.scratch, "server-data", "data", "User", "globalStorage", "strata.strata-notebooks", "server-env", ".strata-server");
  if (!existsSync(stamp)) throw new Error(`no private environment at ${path.dirname(stamp)}`);
  step(`private environment installed (${readFileSync(stamp, "utf8").trim()}); progress notification ${installing ? "seen" : "already gone"}`);
} catch (error) {
  failed = true;
  process.stderr.write(`packaged test failed: ${error.stack || error}\n`);
  await page.screenshot({ path: path.join(outputDir, "packaged-failure.png") }).catch(() => {});
} finally {
  await browser.close();
  await vscode.stop();
}
if (!failed) rmSync(scratch, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
