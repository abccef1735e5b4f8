// Runs the mocha suites (out/test) inside the extension host of a real VS Code, on a scratch
// workspace; exits with the suites' exit code. Env: STRATA_VSCODE_SERVER_MAIN (server-main.js),
// STRATA_SERVER_PYTHON (the Python with the Strata server); STRATA_TEST_GREP filters tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "node:util";
import { launchBrowser, startVsCode } from "./harness.mjs";
import { WORKSPACE_SETTINGS } from "./settings.mjs";

const extensionPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const TEST_TIMEOUT_MS = 15 * 60_000;
// Workbench chatter that is not the test runner's.
const NOISE = /AgentHost|No signed-in session|open-vsx|ENOTFOUND|^\s+at |Failed to fetch|\[server\]/;

const workspace = mkdtempSync(path.join(tmpdir(), "strata-e2e-workspace-"));
mkdirSync(path.join(workspace, ".vscode"));
writeFileSync(path.join(workspace, ".vscode", "settings.json"), JSON.stringify(WORKSPACE_SETTINGS, null, 2));
const verbose = process.env.STRATA_TEST_VERBOSE === "1";
const vscode = await startVsCode({
  serverMain: process.env.STRATA_VSCODE_SERVER_MAIN,
  // STRATA_TEST_AI_KEY: the (dummy) key prompt cells of the suites send to their loopback
  // chat-completions server; a notebook's `[ai] api_key_env` names it.
  env: { STRATA_TEST_GREP: process.env.STRATA_TEST_GREP ?? "", STRATA_TEST_AI_KEY: "test-key-for-the-loopback-server" },
  log: (text) => verbose && process.stderr.write(`[server] ${text}`),
});
const browser = await launchBrowser();
let code = 1;
try {
  const page = await browser.newPage();
  const exited = new Promise((resolve) => {
    page.exposeFunction("codeAutomationExit", (exitCode) => resolve(exitCode));
  });
  await page.exposeFunction("codeAutomationLog", (_type, args) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    if (verbose || !NOISE.test(line)) process.stdout.write(`${line}\n`);
  });
  page.on("pageerror", (error) => verbose && process.stderr.write(`[page] ${error}\n`));
  await page.goto(
    vscode.url(workspace, { extensionPath, testsPath: path.join(extensionPath, "out", "test", "index.js") }),
  );
  code = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve("timeout"), TEST_TIMEOUT_MS)),
  ]);
  if (code !== 0 && process.env.STRATA_TEST_OUTPUT) {
    await page.screenshot({ path: path.join(process.env.STRATA_TEST_OUTPUT, "integration-failure.png") }).catch(() => {});
  }
  if (code === "timeout") {
    process.stderr.write("the tests did not finish in time\n");
    code = 1;
  }
} finally {
  await browser.close();
  await vscode.stop();
}
if (code === 0) rmSync(workspace, { recursive: true, force: true }); // kept for a look when failing
process.stdout.write(`extension integration tests exited with ${code}\n`);
process.exit(code);
