// Cell tests in the Test Explorer on a copy of samples/quickstart, against the real server:
// discovery finds cells/clean.test.py and its three tests with their lines, a test added to
// the file appears through the file watcher, and a run reports the passing tests and the
// failing one with a message at the failing line of the test file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { StrataApi } from '../../extension';
import { closeAll, freshCopy, waitFor } from './helpers';

const FAILING = '\n\ndef test_no_orders_at_all(cell):\n    orders = cell.orders\n    assert len(orders) == 0\n';

suite('Cell tests in the Test Explorer (samples/quickstart)', () => {
  suiteTeardown(closeAll);

  let api: StrataApi;
  let directory: string;
  let testFile: string;

  suiteSetup(async () => {
    api = (await vscode.extensions.getExtension<StrataApi>('strata.strata-notebooks')?.activate()) as StrataApi;
    directory = freshCopy('quickstart');
    testFile = path.join(directory, 'cells', 'clean.test.py');
    await api.cellTests.discover();
  });

  test('discovery: one item per test file, one child per test function, with uri and range', () => {
    const file = api.cellTests.controller.items.get(testFile);
    assert.ok(file, `no item for ${testFile}`);
    assert.strictEqual(file.uri?.fsPath, testFile);
    const children: vscode.TestItem[] = [];
    file.children.forEach((child) => children.push(child));
    assert.deepStrictEqual(
      children.map((c) => [c.label, c.range?.start.line]),
      [
        ['test_small_orders_are_dropped', 3],
        ['test_revenue_is_units_times_price', 7],
        ['test_orders_are_sorted_by_date', 12],
      ],
    );
    assert.ok(children.every((c) => c.uri?.fsPath === testFile));
  });

  test('a run maps outcomes; a failure is a message at the failing line of the test file', async () => {
    const file = api.cellTests.controller.items.get(testFile);
    assert.ok(file);
    fs.appendFileSync(testFile, FAILING);
    await waitFor('the added test through the file watcher', () => file.children.get(`${testFile}::test_no_orders_at_all`));
    const source = new vscode.CancellationTokenSource();
    const outcomes = await api.cellTests.run(new vscode.TestRunRequest([file]), source.token);
    const verdicts = [...outcomes].map(([id, o]) => [id.split('::')[1], o.verdict]);
    assert.deepStrictEqual(verdicts, [
      ['test_small_orders_are_dropped', 'passed'],
      ['test_revenue_is_units_times_price', 'passed'],
      ['test_orders_are_sorted_by_date', 'passed'],
      ['test_no_orders_at_all', 'failed'],
    ]);
    const failure = outcomes.get(`${testFile}::test_no_orders_at_all`)?.messages[0];
    assert.ok(failure);
    assert.match(typeof failure.message === 'string' ? failure.message : failure.message.value, /assert len\(orders\) == 0/);
    assert.strictEqual(failure.location?.uri.fsPath, testFile);
    assert.strictEqual(failure.location?.range.start.line, 18); // the assert, 0-based

    const one = file.children.get(`${testFile}::test_orders_are_sorted_by_date`);
    assert.ok(one);
    const only = await api.cellTests.run(new vscode.TestRunRequest([one]), source.token);
    assert.deepStrictEqual([...only.values()].map((o) => o.verdict), ['passed']);
  });
});
