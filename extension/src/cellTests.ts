// Cell tests in VS Code's Test Explorer: every `cells/<id>.test.py` of a notebook in the
// workspace is an item, its `def test_...` functions its children. Running them forwards to
// `strata/runCellTests` (the engine's pytest runner, as `strata test`); debugging them starts
// a debug session running the same pytest invocation (cellTestDebug.ts). Either way the
// outcomes and the failing line in the test file come back from the engine's report.
// Discovery only reads the files' text (a regex over top-level `def test_`), never runs them.
// Test files are found through VS Code's watcher, and the cells/ folder of a notebook with
// tests is also watched directly (directoryWatch.ts: VS Code's watcher can give up for good).
import * as path from 'path';
import * as vscode from 'vscode';
import { CellTestDebugger } from './cellTestDebug';
import { DirectoryWatch } from './directoryWatch';

export const RUN_CELL_TESTS_METHOD = 'strata/runCellTests';
const TEST_GLOB = '**/cells/*.test.py';
const TEST_SUFFIX = '.test.py';
const MANIFEST = 'notebook.toml';
const TEST_FUNCTION = /^(?:async[ \t]+)?def[ \t]+(test\w*)[ \t]*\(/gm;

export interface CellTestFunction {
  name: string;
  /** 0-based line of the `def`. */
  line: number;
}

/** One test's result, as `strata/runCellTests` reports it (lines 1-based). */
export interface CellTestResult {
  file: string;
  name: string;
  line: number;
  outcome: string;
  message?: string;
  failureLine?: number;
  when?: string;
  durationMs?: number;
}

export interface RunCellTestsResult {
  tests: CellTestResult[];
  exitCode: number;
  output: string;
}

export type Verdict = 'passed' | 'failed' | 'errored' | 'skipped';

/** The top-level `def test_...` functions of a test file, as pytest collects them. */
export function parseTestFunctions(text: string): CellTestFunction[] {
  const found: CellTestFunction[] = [];
  const seen = new Set<string>();
  for (const match of text.matchAll(TEST_FUNCTION)) {
    const name = match[1];
    const line = text.slice(0, match.index).split('\n').length - 1;
    if (seen.has(name)) {
      // pytest keeps the last definition of a name: so does the tree.
      found.splice(found.findIndex((f) => f.name === name), 1);
    }
    seen.add(name);
    found.push({ name, line });
  }
  return found;
}

/** The notebook directory of a cell test file (`<dir>/cells/<id>.test.py`), or undefined. */
export function notebookOfTestFile(file: string): string | undefined {
  if (!file.endsWith(TEST_SUFFIX) || path.basename(path.dirname(file)) !== 'cells') return undefined;
  return path.dirname(path.dirname(file));
}

const SEVERITY: Record<Verdict, number> = { passed: 0, skipped: 1, failed: 2, errored: 3 };

/**
 * A test's verdict from its report entries (a test failing in teardown after passing has two):
 * the worst wins; a failed fixture (setup or teardown) is an error, as pytest counts it.
 */
export function verdictOf(results: readonly CellTestResult[]): Verdict | undefined {
  let verdict: Verdict | undefined;
  for (const result of results) {
    const next: Verdict = result.outcome === 'passed' ? 'passed' : result.outcome === 'skipped' ? 'skipped' : result.outcome === 'failed' ? 'failed' : 'errored';
    if (verdict === undefined || SEVERITY[next] > SEVERITY[verdict]) verdict = next;
  }
  return verdict;
}

/** Where a failure points: the failing line in the test file, else the test's `def` (0-based). */
export function failureLine(result: CellTestResult): number {
  return Math.max(0, (result.failureLine ?? result.line) - 1);
}

export function totalDuration(results: readonly CellTestResult[]): number | undefined {
  const durations = results.map((r) => r.durationMs).filter((d): d is number => typeof d === 'number');
  return durations.length ? durations.reduce((a, b) => a + b, 0) : undefined;
}

/** What a run reported for one test item (tests read it back; the Test Explorer shows the same). */
export interface ItemOutcome {
  verdict: Verdict | 'missing';
  messages: vscode.TestMessage[];
}

export interface CellTestsServer {
  request<R>(method: string, params: unknown): Promise<R>;
  ensureStarted(): Promise<unknown>;
  /** The server's Python, once started: debug runs use it (it has the engine and debugpy). */
  readonly environment?: { python: string };
}

/** Runs `names` of one test file (all its tests when empty) and answers what they did. */
type FileRunner = (directory: string, file: string, names: string[], run: vscode.TestRun, token: vscode.CancellationToken) => Promise<RunCellTestsResult>;

export class CellTests implements vscode.Disposable {
  readonly controller: vscode.TestController;
  readonly debugger: CellTestDebugger;
  private readonly disposables: vscode.Disposable[] = [];
  /** Per cells/ folder holding test files: its direct watch. */
  private readonly cellFolders = new Map<string, DirectoryWatch>();

  constructor(private readonly server: CellTestsServer) {
    this.controller = vscode.tests.createTestController('strataCellTests', 'Strata cell tests');
    this.controller.resolveHandler = async (item) => {
      if (item === undefined) await this.discover();
    };
    this.controller.refreshHandler = () => this.discover();
    this.controller.createRunProfile('Run', vscode.TestRunProfileKind.Run, async (request, token) => {
      await this.run(request, token);
    }, true);
    this.debugger = new CellTestDebugger(async () => {
      await server.ensureStarted();
      if (server.environment === undefined) throw new Error('the Strata server has not started: see the Strata output');
      return server.environment.python;
    });
    this.controller.createRunProfile('Debug', vscode.TestRunProfileKind.Debug, async (request, token) => {
      await this.debug(request, token);
    }, true);
    const watcher = vscode.workspace.createFileSystemWatcher(TEST_GLOB);
    this.disposables.push(
      watcher,
      watcher.onDidCreate((uri) => void this.update(uri)),
      watcher.onDidChange((uri) => void this.update(uri)),
      watcher.onDidDelete((uri) => this.controller.items.delete(uri.fsPath)),
      this.controller,
      this.debugger,
    );
  }

  /** Every cell test file of the workspace's notebooks, read again. */
  async discover(): Promise<void> {
    const files = await vscode.workspace.findFiles(TEST_GLOB, '**/{node_modules,.strata,.venv}/**');
    const keep = new Set(files.map((f) => f.fsPath));
    this.controller.items.forEach((item) => {
      if (!keep.has(item.id)) this.controller.items.delete(item.id);
    });
    await Promise.all(files.map((file) => this.update(file)));
  }

  /** (Re)build the item of one test file; a file outside a notebook has none. */
  async update(uri: vscode.Uri): Promise<vscode.TestItem | undefined> {
    const directory = notebookOfTestFile(uri.fsPath);
    if (directory === undefined || !(await exists(vscode.Uri.file(path.join(directory, MANIFEST))))) {
      this.controller.items.delete(uri.fsPath);
      return undefined;
    }
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      this.controller.items.delete(uri.fsPath);
      return undefined;
    }
    this.watchCellFolder(path.dirname(uri.fsPath));
    const label = path.basename(uri.fsPath);
    const file = this.controller.items.get(uri.fsPath) ?? this.controller.createTestItem(uri.fsPath, label, uri);
    file.description = vscode.workspace.asRelativePath(directory);
    file.range = new vscode.Range(0, 0, 0, 0);
    const lines = text.split('\n');
    file.children.replace(
      parseTestFunctions(text).map((fn) => {
        const item = this.controller.createTestItem(`${uri.fsPath}::${fn.name}`, fn.name, uri);
        item.range = new vscode.Range(fn.line, 0, fn.line, lines[fn.line]?.length ?? 0);
        return item;
      }),
    );
    this.controller.items.add(file);
    return file;
  }

  private watchCellFolder(folder: string): void {
    if (this.cellFolders.has(folder)) return;
    const changed = (file: string | undefined): void => {
      if (file === undefined || !file.endsWith(TEST_SUFFIX)) return;
      // update() drops the item of a file that is gone.
      void this.update(vscode.Uri.file(file));
    };
    this.cellFolders.set(folder, new DirectoryWatch(() => [folder], changed));
  }

  /** Run what `request` selects; returns each test item's outcome by id. */
  run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<Map<string, ItemOutcome>> {
    return this.execute(request, token, async (notebook, file, names) => this.server.request<RunCellTestsResult>(RUN_CELL_TESTS_METHOD, { notebook, file, names }));
  }

  /** Debug what `request` selects (one debug session per test file); outcomes as `run`'s. */
  debug(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<Map<string, ItemOutcome>> {
    return this.execute(request, token, (notebook, file, names, run, cancel) => this.debugger.debugFile(notebook, file, names, run, cancel));
  }

  private async execute(request: vscode.TestRunRequest, token: vscode.CancellationToken, runner: FileRunner): Promise<Map<string, ItemOutcome>> {
    const outcomes = new Map<string, ItemOutcome>();
    const run = this.controller.createTestRun(request);
    try {
      for (const [file, tests] of selectedByFile(this.controller, request)) {
        if (token.isCancellationRequested) {
          tests.forEach((t) => run.skipped(t));
          continue;
        }
        await this.runFile(run, file, tests, outcomes, runner, token);
      }
    } finally {
      run.end();
    }
    return outcomes;
  }

  private async runFile(run: vscode.TestRun, file: vscode.TestItem, tests: vscode.TestItem[], outcomes: Map<string, ItemOutcome>, runner: FileRunner, token: vscode.CancellationToken): Promise<void> {
    const directory = notebookOfTestFile(file.id) ?? '';
    const whole = tests.length === file.children.size;
    tests.forEach((t) => run.started(t));
    let answer: RunCellTestsResult;
    try {
      answer = await runner(directory, file.id, whole ? [] : tests.map((t) => t.label), run, token);
    } catch (error) {
      const message = new vscode.TestMessage(`Strata: ${error instanceof Error ? error.message : String(error)}`);
      for (const t of tests) {
        run.errored(t, message);
        outcomes.set(t.id, { verdict: 'errored', messages: [message] });
      }
      return;
    }
    if (answer.output) run.appendOutput(answer.output.replace(/\r?\n/g, '\r\n'), undefined, file);
    for (const test of tests) {
      const results = answer.tests.filter((r) => r.name === test.label);
      outcomes.set(test.id, reportTest(run, test, results, answer));
    }
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
    this.cellFolders.forEach((watch) => watch.dispose());
  }
}

function reportTest(run: vscode.TestRun, test: vscode.TestItem, results: CellTestResult[], answer: RunCellTestsResult): ItemOutcome {
  const verdict = verdictOf(results);
  const duration = totalDuration(results);
  if (verdict === 'passed') run.passed(test, duration);
  else if (verdict === 'skipped') run.skipped(test);
  else if (verdict === undefined) {
    // Not in the report: the file did not collect (a syntax error, an import error).
    const message = new vscode.TestMessage(answer.output || `pytest exited with ${answer.exitCode} and no result for ${test.label}`);
    run.errored(test, message);
    return { verdict: 'missing', messages: [message] };
  } else {
    const failures = results.filter((r) => r.outcome !== 'passed' && r.outcome !== 'skipped');
    const messages = failures.map((r) => {
      const message = new vscode.TestMessage(r.message ?? `${r.name} ${r.outcome}`);
      if (test.uri) message.location = new vscode.Location(test.uri, new vscode.Position(failureLine(r), 0));
      return message;
    });
    if (verdict === 'failed') run.failed(test, messages, duration);
    else run.errored(test, messages, duration);
    return { verdict, messages };
  }
  return { verdict, messages: [] };
}

/** The tests a request runs, by file item: included items (or all) expanded, excluded removed. */
function selectedByFile(controller: vscode.TestController, request: vscode.TestRunRequest): Map<vscode.TestItem, vscode.TestItem[]> {
  const excluded = new Set(request.exclude ?? []);
  const roots: vscode.TestItem[] = [];
  if (request.include) roots.push(...request.include);
  else controller.items.forEach((item) => roots.push(item));
  const byFile = new Map<vscode.TestItem, vscode.TestItem[]>();
  for (const root of roots) {
    if (excluded.has(root)) continue;
    const file = root.parent ?? root;
    const tests: vscode.TestItem[] = [];
    if (root.parent) tests.push(root);
    else root.children.forEach((child) => tests.push(child));
    const list = byFile.get(file) ?? [];
    for (const t of tests) if (!excluded.has(t) && !list.includes(t)) list.push(t);
    byFile.set(file, list);
  }
  return new Map([...byFile].filter(([, tests]) => tests.length > 0));
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
