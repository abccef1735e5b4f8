// Small pure pieces: order assignment for structural saves, the bundle format, the language
// table, reasons.
import * as assert from 'assert';
import { formatBundle, makeBundle, parseBundle } from '../../bundle';
import { CODE_LANGUAGE_IDS, CellLanguage, languageOfId, presentation } from '../../languages';
import { assignOrders } from '../../notebookSave';
import { describeReason, NotebookStates } from '../../states';
import { describeCell } from '../../statusBar';

suite('Units', () => {
  test('assignOrders keeps the orders that are still increasing', () => {
    assert.deepStrictEqual(assignOrders([1, 2, 3]), [1, 2, 3]);
    assert.deepStrictEqual(assignOrders([1, NaN, 2]), [1, 1.5, 2]);
    assert.deepStrictEqual(assignOrders([1, 2, NaN]), [1, 2, 3]);
    assert.deepStrictEqual(assignOrders([NaN, 1]), [0, 1]);
    assert.deepStrictEqual(assignOrders([NaN, NaN]), [1, 2]);
    // Moving the last cell first rewrites only that cell's order.
    assert.deepStrictEqual(assignOrders([3, 1, 2]), [0, 1, 2]);
    assert.deepStrictEqual(assignOrders([1, 3, 2, 4]), [1, 3, 3.5, 4]);
  });

  test('bundles round-trip', () => {
    const bundle = makeBundle('/tmp/nb', 'id-1', 'Name', [{ id: 'a', file: 'a.py', language: 'python', source: 'x = 1' }]);
    assert.deepStrictEqual(parseBundle(formatBundle(bundle)), bundle);
    assert.throws(() => parseBundle('{"format": "other"}'), /not a Strata notebook bundle/);
  });

  test('every Strata language maps to a VS Code language and back', () => {
    const languages: CellLanguage[] = ['python', 'sql', 'prompt', 'markdown', 'r'];
    for (const language of languages) assert.strictEqual(languageOfId(presentation(language).languageId), language);
    assert.deepStrictEqual([...CODE_LANGUAGE_IDS].sort(), ['r', 'strata-prompt', 'strata-python', 'strata-sql']);
    assert.deepStrictEqual(languages.map((language) => presentation(language).suffix), ['.py', '.sql', '.prompt', '.md', '.R']);
    // A cell switched to VS Code's own Python, or to a language Strata has no kind for.
    assert.strictEqual(languageOfId('python'), 'python');
    assert.strictEqual(languageOfId('sql'), 'sql'); // VS Code's own SQL, picked by hand
    assert.strictEqual(languageOfId('julia'), 'python');
  });

  test('reasons read as the status bar shows them', () => {
    assert.strictEqual(describeReason({ reason: 'upstream_changed', cell: 'load_data', variable: 'sales' }), 'upstream load_data changed');
    assert.strictEqual(describeReason({ reason: 'source_changed' }), 'source changed');
  });

  test('the status bar says where a cell is dispatched, and why it is stale', () => {
    const states = new NotebookStates();
    try {
      states.update({ notebook: '/nb', cells: [{ id: 'a', state: 'stale', reasons: [{ reason: 'upstream_changed', cell: 'load_data', variable: 'sales' }, { reason: 'env_changed' }] }] }, '/nb');
      assert.strictEqual(describeCell(states, '/nb', 'a')?.text, '$(warning) stale: upstream load_data changed (+1)');
      assert.match(describeCell(states, '/nb', 'a')?.tooltip ?? '', /upstream load_data changed \(variable `sales`\)/);
      states.setLive('/nb', 'a', { running: true, worker: 'gpu', backend: 'executor' });
      assert.strictEqual(describeCell(states, '/nb', 'a')?.text, '$(sync~spin) dispatching -> gpu');
      states.setLive('/nb', 'a', { running: true, worker: 'local', backend: 'local' });
      assert.strictEqual(describeCell(states, '/nb', 'a')?.text, '$(sync~spin) running');
      // A declared worker on this machine's backend is not a dispatch.
      states.setLive('/nb', 'a', { running: true, worker: 'cpu', backend: 'local' });
      assert.strictEqual(describeCell(states, '/nb', 'a')?.text, '$(sync~spin) running');
    } finally {
      states.dispose();
    }
  });
});
