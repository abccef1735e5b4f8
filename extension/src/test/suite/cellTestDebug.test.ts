// Debugging cell tests from the Test Explorer in the real VS Code, with no Python extension:
// the Debug profile starts debugpy's adapter in the server's Python; a breakpoint set in
// cells/clean.test.py binds and stops the debuggee there (seen as the adapter's `stopped`
// event, with the test's local variables), continuing lets the test finish and its outcome
// is reported; a failing test debugged without breakpoints is reported at its failing line.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { DEBUG_TYPE, launchConfiguration, reportResults } from '../../cellTestDebug';
import { closeAll, freshCopy, strataApi } from './helpers';

interface Stop {
  session: vscode.DebugSession;
  threadId: number;
}

interface StackTrace {
  stackFrames: { id: number; line: number; source?: { path?: string } }[];
}

/** A frame's source path: the workbench hands it back as a URI when the host is remote. */
function fsPath(source: string): string {
  return fs.realpathSync(/^[a-z][\w+.-]*:\/\//i.test(source) ? vscode.Uri.parse(source).fsPath : source);
}

/** The next `stopped` event any strata-python session sends. */
function nextStop(): { stopped: Promise<Stop>; dispose: () => void } {
  let resolve: (stop: Stop) => void = () => undefined;
  const stopped = new Promise<Stop>((done) => (resolve = done));
  const registration = vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
    createDebugAdapterTracker: (session) => ({
      onDidSendMessage: (message: { type?: string; event?: string; body?: { threadId?: number } }) => {
        if (message.type === 'event' && message.event === 'stopped') resolve({ session, threadId: message.body?.threadId ?? 0 });
      },
    }),
  });
  return { stopped, dispose: () => void registration.dispose() };
}

suite('Debugging cell tests from the Test Explorer', () => {
  suiteTeardown(closeAll);

  let testFile: string;
  suiteSetup(() => {
    testFile = path.join(freshCopy('quickstart'), 'cells', 'clean.test.py');
  });

  test('the launch configuration runs the in-process runner under debugpy; report entries map like the server answer', () => {
    const config = launchConfiguration({ python: '/py', directory: '/nb', file: '/nb/cells/a.test.py', names: ['test_x'], report: '/tmp/r.json', runId: '1' });
    assert.deepStrictEqual(
      [config.type, config.request, config.module, config.args, config.cwd, config.justMyCode, config.python],
      [DEBUG_TYPE, 'launch', 'strata_engine.testing', ['/nb', '/nb/cells/a.test.py', '--name', 'test_x', '--report=/tmp/r.json'], '/nb', true, '/py'],
    );
    const results = reportResults('/nb', [{ nodeid: 'cells/a.test.py::test_x', name: 'test_x', file: 'cells/a.test.py', line: 3, outcome: 'failed', when: 'call', message: 'boom', failure_line: 4, duration_ms: 1.5 }]);
    assert.deepStrictEqual(results, [{ file: '/nb/cells/a.test.py', name: 'test_x', line: 3, outcome: 'failed', message: 'boom', failureLine: 4, when: 'call', durationMs: 1.5 }]);
  });

  test('a breakpoint in a cell test binds and stops there; continuing reports the test as passed', async () => {
    const api = await strataApi();
    await api.cellTests.discover();
    const item = api.cellTests.controller.items.get(testFile)?.children.get(`${testFile}::test_revenue_is_units_times_price`);
    assert.ok(item, 'no item for test_revenue_is_units_times_price');
    // Line 10 (0-based 9): the assert, after `orders = cell["orders"]`.
    const breakpoint = new vscode.SourceBreakpoint(new vscode.Location(vscode.Uri.file(testFile), new vscode.Position(9, 0)));
    vscode.debug.addBreakpoints([breakpoint]);
    const watch = nextStop();
    try {
      const source = new vscode.CancellationTokenSource();
      const outcomes = api.cellTests.debug(new vscode.TestRunRequest([item]), source.token);
      const first = await Promise.race([watch.stopped, outcomes.then((ended) => ({ ended }))]);
      if ('ended' in first) {
        assert.fail(`the debug run ended without stopping: ${JSON.stringify([...first.ended].map(([, o]) => [o.verdict, o.messages.map((m) => m.message)]))}`);
      }
      const { session, threadId } = first;
      const trace = (await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 })) as StackTrace;
      const top = trace.stackFrames[0];
      assert.strictEqual(top.source?.path && fsPath(top.source.path), testFile);
      assert.strictEqual(top.line, 10);
      // Stopped inside the test, with the `cell` fixture's value in scope.
      const evaluated = (await session.customRequest('evaluate', { expression: 'len(orders) > 0', frameId: top.id, context: 'repl' })) as { result: string };
      assert.strictEqual(evaluated.result, 'True');
      await session.customRequest('continue', { threadId });
      const done = await outcomes;
      assert.deepStrictEqual([...done].map(([id, o]) => [id, o.verdict]), [[item.id, 'passed']]);
    } finally {
      watch.dispose();
      vscode.debug.removeBreakpoints([breakpoint]);
      await vscode.debug.stopDebugging(); // a failed assertion must not leave the debuggee paused
    }
  });

  test('a failing test debugged without breakpoints is reported failed at its failing line', async () => {
    const api = await strataApi();
    fs.appendFileSync(testFile, '\n\ndef test_no_orders_at_all(cell):\n    orders = cell.orders\n    assert len(orders) == 0\n');
    const file = await api.cellTests.update(vscode.Uri.file(testFile));
    assert.ok(file);
    const source = new vscode.CancellationTokenSource();
    const outcomes = await api.cellTests.debug(new vscode.TestRunRequest([file]), source.token);
    assert.deepStrictEqual(
      [...outcomes].map(([id, o]) => [id.split('::')[1], o.verdict]),
      [
        ['test_small_orders_are_dropped', 'passed'],
        ['test_revenue_is_units_times_price', 'passed'],
        ['test_orders_are_sorted_by_date', 'passed'],
        ['test_no_orders_at_all', 'failed'],
      ],
    );
    const failure = outcomes.get(`${testFile}::test_no_orders_at_all`)?.messages[0];
    assert.ok(failure);
    assert.strictEqual(failure.location?.uri.fsPath, testFile);
    assert.strictEqual(failure.location?.range.start.line, 18);
  });
});
