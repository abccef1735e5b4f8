// A real VS Code for the tests: the VS Code server shipped inside the code-server npm package
// (started directly, because the code-server wrapper refuses --enable-smoke-test-driver),
// driven by Debian's Chromium through playwright-core. See ../../../../shared/recipes.
/* global document -- page.waitForFunction callbacks run in the page */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.STRATA_CHROMIUM || "/usr/bin/chromium";
const STARTUP_TIMEOUT_MS = 120_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/**
 * Starts the VS Code server; resolves once its extension host agent listens.
 * `env` is added to the server's environment, which its extension hosts inherit.
 */
export async function startVsCode({ serverMain, env = {}, extensionsDir, log = () => {} }) {
  const port = await freePort();
  const scratch = mkdtempSync(path.join(tmpdir(), "strata-vscode-"));
  const serverData = path.join(scratch, "server-data");
  const extensions = extensionsDir ?? path.join(scratch, "extensions");
  mkdirSync(extensions, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      serverMain,
      "--host", "127.0.0.1",
      "--port", String(port),
      "--without-connection-token",
      "--accept-server-license-terms",
      "--enable-smoke-test-driver",
      "--disable-telemetry",
      "--disable-workspace-trust",
      "--server-data-dir", serverData,
      "--extensions-dir", extensions,
    ],
    { env: withEnv(env), stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the VS Code server did not start")), STARTUP_TIMEOUT_MS);
    const onData = (chunk) => {
      const text = chunk.toString();
      log(text);
      if (text.includes("Extension host agent listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => log(chunk.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the VS Code server exited with ${code} before listening`));
    });
  });
  child.removeAllListeners("exit");
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    scratch,
    /** The workbench URL for a folder, optionally with extension development/test paths. */
    url(folder, { extensionPath, testsPath } = {}) {
      const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
      const payload = [];
      if (extensionPath) payload.push(["extensionDevelopmentPath", remote(extensionPath)]);
      if (testsPath) payload.push(["extensionTestsPath", remote(testsPath)]);
      const query = `folder=${encodeURIComponent(folder)}`;
      return payload.length ? `${base}/?${query}&payload=${encodeURIComponent(JSON.stringify(payload))}` : `${base}/?${query}`;
    },
    /** Ends the server and its extension hosts (one process group); removes its data. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        try {
          process.kill(-child.pid, "SIGTERM");
          await exited;
        } catch {
          // already gone
        }
      }
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** process.env with `changes` applied; a change to `undefined` removes the variable. */
function withEnv(changes) {
  const env = { ...process.env };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * Runs a command by its palette label, as a person would. The palette lists what was
 * registered when it opened, so a command of an extension still loading is retried.
 */
export async function runCommand(page, label, attempts = 10) {
  const input = page.locator(".quick-input-widget input");
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press("F1");
    await input.fill(`>${label}`);
    try {
      await page.locator(".quick-input-widget .monaco-list-row", { hasText: label }).first().waitFor({ timeout: 5_000 });
      await input.press("Enter");
      return;
    } catch (error) {
      await page.keyboard.press("Escape");
      if (attempt >= attempts) throw error;
    }
  }
}

/** Resolves once the Strata extension is active (its server status entry is shown): from
 * then on its contributions, such as the notebook.toml editor, are registered. */
export async function extensionActive(page, timeout = 120_000) {
  await page.locator(".statusbar-item", { hasText: "Strata" }).first().waitFor({ timeout });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Open samples/quickstart as a person would: expand its folder, click its notebook.toml. */
export async function openQuickstart(page) {
  const explorer = page.locator(".explorer-folders-view");
  await explorer.getByRole("treeitem", { name: "quickstart" }).click();
  await explorer.getByRole("treeitem", { name: "notebook.toml" }).click();
  await page.locator(".notebookOverlay .code-cell-row").first().waitFor();
}

/** Click Run All in the notebook toolbar and wait until every code cell's status bar reads
 * "ready" or "cached" (the server has stored or served each result). */
export async function runAllUntilReady(page, waitOptions) {
  await page.locator('.notebook-toolbar-container [aria-label^="Run All"]').first().click();
  await page.waitForFunction(
    () => {
      const rows = [...document.querySelectorAll(".notebookOverlay .code-cell-row")];
      return rows.length >= 6 && rows.every((row) => /ready|cached/.test(row.querySelector(".cell-statusbar-container")?.textContent ?? ""));
    },
    undefined,
    waitOptions,
  );
}
