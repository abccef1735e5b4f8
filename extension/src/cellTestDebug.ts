// Debugging cell tests from the Test Explorer, self-contained: the debugger type
// `strata-python` (package.json `contributes.debuggers`) is debugpy's adapter started in the
// Strata server's Python (`python -m debugpy.adapter`; debugpy is an engine dependency), so
// no Python extension is needed. A debug run launches `python -m strata_engine.testing`, which
// calls pytest in process with the arguments `strata test` gives its pytest subprocess (same
// plugin, `cell` fixture, node ids), so breakpoints in `cells/<id>.test.py` bind in the very
// process running the test. Outcomes come back through the plugin's `--strata-report` file,
// in the same shape `strata/runCellTests` answers, so the Test Explorer renders both alike.
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { CellTestResult, RunCellTestsResult } from './cellTests';

export const DEBUG_TYPE = 'strata-python';
export const TEST_MODULE = 'strata_engine.testing';
/** Marks our launch configurations, so the session of one run is found among the others. */
const RUN_KEY = '__strataCellTestRun';

/** Where the debugged process comes from: the server's Python (it has debugpy and the engine). */
export type PythonProvider = () => Promise<string>;

export interface DebugLaunch {
  python: string;
  directory: string;
  file: string;
  /** Test functions of `file` to run; empty: the whole file. */
  names: readonly string[];
  report: string;
  runId: string;
}

/** The debugpy launch configuration of one debug run of cell tests. */
export function launchConfiguration(launch: DebugLaunch): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: `Debug ${path.basename(launch.file)}${launch.names.length === 1 ? ` :: ${launch.names[0]}` : ''}`,
    python: launch.python,
    module: TEST_MODULE,
    args: [launch.directory, launch.file, ...launch.names.flatMap((name) => ['--name', name]), `--report=${launch.report}`],
    cwd: launch.directory,
    justMyCode: true,
    console: 'internalConsole',
    redirectOutput: true,
    // Cells computed for the `cell` fixture run in worker processes: not what is debugged.
    subProcess: false,
    // The runner exits with pytest's code (1 when a test failed): that is no exception to stop at.
    breakOnSystemExit: [],
    [RUN_KEY]: launch.runId,
  };
}

/** The plugin's report entries (paths relative to the notebook, snake_case) as the protocol's. */
export function reportResults(directory: string, entries: unknown): CellTestResult[] {
  if (!Array.isArray(entries)) return [];
  return entries.filter(isRecord).map((entry) => {
    const result: CellTestResult = {
      file: path.resolve(directory, String(entry.file)),
      name: String(entry.name),
      line: Number(entry.line),
      outcome: String(entry.outcome),
    };
    if (typeof entry.message === 'string') result.message = entry.message;
    if (typeof entry.failure_line === 'number') result.failureLine = entry.failure_line;
    if (typeof entry.when === 'string') result.when = entry.when;
    if (typeof entry.duration_ms === 'number') result.durationMs = entry.duration_ms;
    return result;
  });
}

interface Tracked {
  output: string[];
  exitCode?: number;
  session?: vscode.DebugSession;
  terminated: () => void;
}

/** Registers the debugger (adapter, default Python) and runs cell tests under it. */
export class CellTestDebugger implements vscode.Disposable {
  private readonly tracked = new Map<string, Tracked>();
  private readonly disposables: vscode.Disposable[];
  private runs = 0;

  constructor(private readonly python: PythonProvider) {
    this.disposables = [
      vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
        createDebugAdapterDescriptor: async () => new vscode.DebugAdapterExecutable(await this.python(), ['-m', 'debugpy.adapter']),
      }),
      vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
        resolveDebugConfiguration: async (_folder, configuration) => {
          if (!configuration.request) {
            // F5 without a launch.json: this debugger is for cell tests, started from the Test Explorer.
            void vscode.window.showInformationMessage('Strata: debug cell tests from the Test Explorer (Debug Test), or add a strata-python launch configuration.');
            return undefined;
          }
          // A launch.json entry of ours without `python` runs in the server's Python.
          return configuration.python ? configuration : { ...configuration, python: await this.python() };
        },
      }),
      vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
        createDebugAdapterTracker: (session) => {
          const tracked = this.tracked.get(String(session.configuration[RUN_KEY]));
          return tracked && { onDidSendMessage: (message: unknown) => this.observe(tracked, message) };
        },
      }),
      vscode.debug.onDidStartDebugSession((session) => {
        const tracked = this.tracked.get(String(session.configuration[RUN_KEY]));
        if (tracked) tracked.session = session;
      }),
      vscode.debug.onDidTerminateDebugSession((session) => this.tracked.get(String(session.configuration[RUN_KEY]))?.terminated()),
    ];
  }

  /** Debugs `names` of `file` (all its tests when empty) and returns what the run reported. */
  async debugFile(directory: string, file: string, names: readonly string[], run: vscode.TestRun, token: vscode.CancellationToken): Promise<RunCellTestsResult> {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-debug-tests-'));
    const runId = `${process.pid}-${++this.runs}`;
    const report = path.join(scratch, 'report.json');
    let terminated: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (terminated = resolve));
    const tracked: Tracked = { output: [], terminated };
    this.tracked.set(runId, tracked);
    const cancel = token.onCancellationRequested(() => void (tracked.session && vscode.debug.stopDebugging(tracked.session)));
    try {
      const configuration = launchConfiguration({ python: await this.python(), directory, file, names, report, runId });
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(directory));
      if (!(await vscode.debug.startDebugging(folder, configuration, { testRun: run }))) {
        throw new Error(`the debugger (${DEBUG_TYPE}: debugpy in the Strata server's Python) did not start; see the Debug Console`);
      }
      await done;
      const text = await fs.readFile(report, 'utf8').catch(() => undefined);
      const output = tracked.output.join('');
      const exitCode = tracked.exitCode ?? -1;
      if (text === undefined) return { tests: [], exitCode, output: output || `the debugged run wrote no report (exit code ${exitCode})` };
      return { tests: reportResults(directory, JSON.parse(text) as unknown), exitCode, output };
    } finally {
      cancel.dispose();
      this.tracked.delete(runId);
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** The debuggee's output (the Debug Console shows it live; the test run gets it at the end) and exit code. */
  private observe(tracked: Tracked, message: unknown): void {
    if (!isRecord(message) || message.type !== 'event' || !isRecord(message.body)) return;
    if (message.event === 'exited' && typeof message.body.exitCode === 'number') tracked.exitCode = message.body.exitCode;
    if (message.event !== 'output' || typeof message.body.output !== 'string') return;
    const category = message.body.category;
    if (category !== 'stdout' && category !== 'stderr') return;
    tracked.output.push(message.body.output);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
