// End to end against a real `strata worker` on loopback (samples/remote_worker): the status
// bar item shows the worker's health, a cell the engine places on it shows "dispatching ->
// remote" while it runs and then "ready", cells on this machine show "running", and a worker
// that stops is reported unhealthy by Check Worker Health.
import * as assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunSummary } from '../../runs';
import { describeCell } from '../../statusBar';
import type { WorkerHealthReport } from '../../protocol';
import { closeAll, freshCopy, openNotebook, strataApi, waitFor } from './helpers';

/** `strata worker --port 0` and the URL it prints once it listens. */
function startWorker(): Promise<{ process: ChildProcess; url: string }> {
  const python = process.env.STRATA_SERVER_PYTHON;
  if (!python) throw new Error('STRATA_SERVER_PYTHON is not set');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-worker-'));
  const child = spawn(python, ['-m', 'strata_engine.cli', 'worker', '--host', '127.0.0.1', '--port', '0'], { cwd: home, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /strata worker listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve({ process: child, url: match[1] });
    });
    child.on('exit', (code) => reject(new Error(`strata worker exited with ${String(code)}: ${out}`)));
  });
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

suite('Remote worker', () => {
  let worker: { process: ChildProcess; url: string } | undefined;
  suiteSetup(async () => {
    worker = await startWorker();
  });
  suiteTeardown(async () => {
    await closeAll();
    if (worker) await stopped(worker.process);
  });

  test('a cell on a strata worker shows dispatching -> remote while it runs, local cells running', async () => {
    const api = await strataApi();
    const directory = freshCopy('remote_worker');
    const manifest = path.join(directory, 'notebook.toml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('http://127.0.0.1:8790', worker?.url ?? ''));
    await openNotebook(directory);

    const view = await waitFor('the worker to be reported healthy', () => api.workers.view?.text === '$(server) remote ✓' && api.workers.view, [api.states.onDidChange]);
    assert.match(view.tooltip, /✓ remote \(executor, http:\/\/127\.0\.0\.1:\d+\/health\): healthy, version \S+, protocol v1/);

    // Every text each cell's status bar shows during the run, as the states change.
    const seen = new Map<string, Set<string>>();
    const record = (): void => {
      for (const id of ['load_orders', 'score', 'report']) {
        const text = describeCell(api.states, directory, id)?.text;
        if (text !== undefined) (seen.get(id) ?? seen.set(id, new Set()).get(id))?.add(text);
      }
    };
    const subscription = api.states.onDidChange(record);
    let summary: RunSummary;
    try {
      summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    } finally {
      subscription.dispose();
    }
    assert.ok(summary.success, JSON.stringify(summary));
    assert.deepStrictEqual([...summary.executed].sort(), ['load_orders', 'report', 'score']);
    assert.ok(seen.get('score')?.has('$(sync~spin) dispatching -> remote'), JSON.stringify([...(seen.get('score') ?? [])]));
    for (const id of ['load_orders', 'report']) {
      const texts = [...(seen.get(id) ?? [])];
      assert.ok(texts.includes('$(sync~spin) running'), `${id}: ${JSON.stringify(texts)}`);
      assert.ok(!texts.some((text) => text.includes('dispatching')), `${id}: ${JSON.stringify(texts)}`);
    }
    const after = await waitFor('score to be ready', () => describeCell(api.states, directory, 'score')?.text === '$(check) ready' && describeCell(api.states, directory, 'score'), [api.states.onDidChange]);
    assert.match(after.tooltip, /Worker remote \(executor, http:\/\/127\.0\.0\.1:\d+\/health\): healthy/);
  });

  test('Check Worker Health reports a stopped worker as unhealthy', async () => {
    const api = await strataApi();
    assert.ok(worker);
    await stopped(worker.process);
    const report = await vscode.commands.executeCommand<WorkerHealthReport | undefined>('strata.checkWorkerHealth');
    const remote = report?.workers.find((candidate) => candidate.name === 'remote');
    assert.strictEqual(remote?.status, 'unhealthy', JSON.stringify(report));
    assert.strictEqual(remote?.error, `is not reachable: connection refused at ${worker.url}/health`);
    await waitFor('the item to show the worker down', () => api.workers.view?.text === '$(server) remote ✗', [api.states.onDidChange]);
  });
});
