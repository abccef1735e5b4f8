// The worker health item and the cell tooltip's health line, as pure functions of what the
// server sent (strata/notebookState placements and strata/workerHealth).
import * as assert from 'assert';
import { CellState, WorkerHealthReport } from '../../protocol';
import { NotebookStates } from '../../states';
import { describeCell } from '../../statusBar';
import { describeWorker, describeWorkers, remoteWorkers } from '../../workerHealth';

const CELLS: CellState[] = [
  { id: 'load', state: 'ready' },
  { id: 'train', state: 'stale', worker: 'gpu', backend: 'executor' },
  { id: 'score', state: 'never_run', worker: 'cluster', backend: 'dask' },
  { id: 'here', state: 'ready', worker: 'cpu', backend: 'local' },
  { id: 'again', state: 'ready', worker: 'gpu', backend: 'executor' },
];

const REPORT: WorkerHealthReport = {
  notebook: '/nb',
  checkedAt: 1_763_712_000,
  workers: [
    { name: 'gpu', backend: 'executor', status: 'healthy', target: 'http://127.0.0.1:8790/health', version: '0.1.0', protocols: ['v1'] },
    { name: 'cluster', backend: 'dask', status: 'unhealthy', target: 'tcp://127.0.0.1:8786', error: 'dask scheduler tcp://127.0.0.1:8786 is not reachable (OSError: refused)' },
    { name: 'cpu', backend: 'local', status: 'healthy', target: 'this machine' },
    { name: 'spare', backend: 'executor', status: 'unhealthy', target: 'http://h:1/health', error: 'is not reachable: connection refused at http://h:1/health' },
  ],
};

suite('Worker health', () => {
  test('only workers off this machine that cells run on count, in notebook order', () => {
    assert.deepStrictEqual(remoteWorkers(CELLS), ['gpu', 'cluster']);
    assert.deepStrictEqual(remoteWorkers([{ id: 'a', state: 'ready' }, { id: 'b', state: 'ready', worker: 'cpu', backend: 'local' }]), []);
  });

  test('the item is hidden when every cell runs on this machine', () => {
    assert.strictEqual(describeWorkers([{ id: 'a', state: 'ready' }], REPORT), undefined);
    assert.strictEqual(describeWorkers(CELLS.filter((cell) => cell.backend === 'local'), REPORT), undefined);
  });

  test('the item marks each worker and its tooltip says where and why', () => {
    const view = describeWorkers(CELLS, REPORT);
    assert.ok(view);
    assert.strictEqual(view.text, '$(server) gpu ✓  cluster ✗');
    assert.strictEqual(view.warning, true);
    const lines = view.tooltip.split('\n');
    assert.match(lines[0], /^Strata workers \(checked .+\)$/);
    assert.deepStrictEqual(lines.slice(1, 5), [
      '✓ gpu (executor, http://127.0.0.1:8790/health): healthy, version 0.1.0, protocol v1',
      '✗ cluster (dask, tcp://127.0.0.1:8786): unhealthy: dask scheduler tcp://127.0.0.1:8786 is not reachable (OSError: refused)',
      '✓ cpu (local, this machine): healthy (no cell runs on it)',
      '✗ spare (executor, http://h:1/health): unhealthy: is not reachable: connection refused at http://h:1/health (no cell runs on it)',
    ]);
  });

  test('before the first answer the workers show as being checked; an undeclared one as failing', () => {
    const pending = describeWorkers(CELLS, undefined);
    assert.strictEqual(pending?.text, '$(server) gpu …  cluster …');
    assert.strictEqual(pending?.warning, false);
    const undeclared = describeWorkers([{ id: 'a', state: 'error', worker: 'ghost', backend: '' }], REPORT);
    assert.strictEqual(undeclared?.text, '$(server) ghost ✗');
    assert.match(undeclared?.tooltip ?? '', /✗ ghost: not declared in \[\[workers\]\] of notebook\.toml/);
  });

  test('a dask worker shows its worker count', () => {
    const line = describeWorker({ name: 'cluster', backend: 'dask', status: 'healthy', target: 'tcp://h:8786', version: 'distributed 2026.8.0', workers: 3 });
    assert.strictEqual(line, 'cluster (dask, tcp://h:8786): healthy, distributed 2026.8.0, 3 workers');
  });

  test("a cell's tooltip carries its worker's health", () => {
    const states = new NotebookStates();
    try {
      states.update({ notebook: '/nb', cells: CELLS }, '/nb');
      assert.doesNotMatch(describeCell(states, '/nb', 'load')?.tooltip ?? '', /Worker/);
      assert.match(describeCell(states, '/nb', 'train')?.tooltip ?? '', /\n\nWorker gpu: health not checked yet$/);
      states.updateHealth(REPORT, '/nb');
      assert.match(describeCell(states, '/nb', 'score')?.tooltip ?? '', /\n\nWorker cluster \(dask, tcp:\/\/127\.0\.0\.1:8786\): unhealthy: dask scheduler .* is not reachable/);
      assert.doesNotMatch(describeCell(states, '/nb', 'here')?.tooltip ?? '', /Worker/);
      states.setLive('/nb', 'train', { running: true, worker: 'gpu', backend: 'executor' });
      const running = describeCell(states, '/nb', 'train');
      assert.strictEqual(running?.text, '$(sync~spin) dispatching -> gpu');
      assert.strictEqual(running?.tooltip, 'Cell `train` is running on worker `gpu` (executor).\n\nWorker gpu (executor, http://127.0.0.1:8790/health): healthy, version 0.1.0, protocol v1');
    } finally {
      states.dispose();
    }
  });
});
