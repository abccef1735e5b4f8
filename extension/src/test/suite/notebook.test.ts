// The main path on samples/quickstart: open, Run All, cached re-run, edit upstream -> stale
// with reasons, save writes one file, Run Stale runs exactly the stale cells, outside edits
// reload, and running never dirties the notebook.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { StrataApi } from '../../extension';
import { cellId } from '../../metadata';
import type { RunSummary } from '../../runs';
import { describeCell } from '../../statusBar';
import { cell, closeAll, codeCellIds, freshCopy, git, openNotebook, outputTexts, replaceCellText, StatusJson, strataApi, strataJson, waitFor } from './helpers';

const STDOUT = 'application/vnd.code.notebook.stdout';
const CODE_CELLS = ['load_data', 'clean', 'daily', 'by_region', 'plot', 'summary'];

suite('A notebook end to end (samples/quickstart)', () => {
  suiteTeardown(closeAll);

  let api: StrataApi;
  let directory: string;
  let notebook: vscode.NotebookDocument;

  suiteSetup(async () => {
    api = await strataApi();
    directory = freshCopy('quickstart');
    notebook = (await openNotebook(directory)).notebook;
  });

  const allReady = (): boolean => CODE_CELLS.every((id) => api.states.state(directory, id)?.state === 'ready');

  test('opens one cell per cell file, in order, each in its language', () => {
    assert.deepStrictEqual(
      notebook.getCells().map((c) => cellId(c)),
      ['intro', ...CODE_CELLS],
    );
    const intro = notebook.cellAt(0);
    assert.strictEqual(intro.kind, vscode.NotebookCellKind.Markup);
    assert.strictEqual(intro.document.languageId, 'markdown');
    for (const id of CODE_CELLS) assert.strictEqual(cell(notebook, id).document.languageId, 'strata-python');
    const onDisk = fs.readFileSync(path.join(directory, 'cells', 'clean.py'), 'utf8');
    assert.strictEqual(cell(notebook, 'clean').document.getText(), onDisk.replace(/\n$/, ''));
  });

  test('Run All produces the expected outputs and leaves the notebook clean', async () => {
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.ok(summary.success, JSON.stringify(summary));
    assert.deepStrictEqual([...summary.executed].sort(), [...CODE_CELLS].sort());
    const load = outputTexts(cell(notebook, 'load_data'));
    assert.match(load[STDOUT].join(''), /loaded 5000 rows/);
    assert.match(load['text/html'][0], /<table/);
    assert.match(outputTexts(cell(notebook, 'clean'))[STDOUT].join(''), /kept \d+ of 5000 rows/);
    assert.ok(outputTexts(cell(notebook, 'daily'))['text/html'], 'daily shows a table');
    assert.ok(outputTexts(cell(notebook, 'by_region'))['text/html'], 'by_region shows a table');
    assert.ok(cell(notebook, 'plot').outputs.some((o) => o.items.some((i) => i.mime === 'image/png' && i.data.length > 1000)), 'plot shows a PNG');
    assert.match(outputTexts(cell(notebook, 'summary'))['text/markdown'][0], /\*\*Total revenue:\*\*/);
    assert.strictEqual(cell(notebook, 'load_data').executionSummary?.success, true);
    assert.strictEqual(notebook.isDirty, false, 'running must not dirty the notebook');
    await waitFor('every cell ready', allReady, [api.states.onDidChange]);
  });

  test('Run All again is served from the cache and marked cached', async () => {
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.deepStrictEqual(summary.executed, []);
    assert.deepStrictEqual([...summary.cached].sort(), [...CODE_CELLS].sort());
    assert.match(outputTexts(cell(notebook, 'load_data'))[STDOUT].join(''), /loaded 5000 rows/, 'a hit replays its console');
    assert.deepStrictEqual(cell(notebook, 'load_data').outputs[0].metadata?.strata, { cached: true, stream: 'stdout' });
    await waitFor('every cell ready', allReady, [api.states.onDidChange]);
    assert.strictEqual(describeCell(api.states, directory, 'daily')?.text, '$(database) cached');
    assert.strictEqual(notebook.isDirty, false);
  });

  test('Show DAG draws every code cell', async () => {
    const panel = api.dag.show(notebook);
    let drawn = 0;
    panel.onDidRender((nodes) => (drawn = nodes));
    assert.strictEqual(await waitFor('the DAG to render', () => drawn, [panel.onDidRender]), CODE_CELLS.length);
    panel.dispose();
    await vscode.window.showNotebookDocument(notebook);
  });

  test('editing an upstream cell makes its downstream stale, with the reason', async () => {
    const clean = cell(notebook, 'clean');
    await replaceCellText(clean, clean.document.getText().replace('>= 2', '>= 3'));
    const staleBecauseOfClean = (id: string): boolean => {
      const state = api.states.state(directory, id);
      return state?.state === 'stale' && (state.reasons ?? []).some((r) => r.reason === 'upstream_changed' && r.cell === 'clean');
    };
    await waitFor('daily and by_region stale because of clean', () => staleBecauseOfClean('daily') && staleBecauseOfClean('by_region'), [api.states.onDidChange]);
    const cleanState = api.states.state(directory, 'clean');
    assert.strictEqual(cleanState?.state, 'stale');
    assert.deepStrictEqual(cleanState?.reasons?.map((r) => r.reason), ['source_changed']);
    assert.strictEqual(api.states.state(directory, 'load_data')?.state, 'ready');
    assert.strictEqual(describeCell(api.states, directory, 'daily')?.text, '$(warning) stale: upstream clean changed');
    for (const id of ['plot', 'summary']) assert.strictEqual(api.states.state(directory, id)?.state, 'stale', id);
  });

  test('saving writes only the edited cell file', async () => {
    assert.ok(notebook.isDirty);
    assert.ok(await notebook.save());
    assert.strictEqual(git(directory, 'status', '--porcelain'), ' M cells/clean.py\n');
    const diff = git(directory, 'diff', '--unified=0', 'cells/clean.py');
    assert.match(diff, /^-orders = sales\[sales\["units"\] >= 2\]\.copy\(\)$/m);
    assert.match(diff, /^\+orders = sales\[sales\["units"\] >= 3\]\.copy\(\)$/m);
    assert.strictEqual(notebook.isDirty, false);
  });

  test('Run Stale runs exactly the stale cells (checked with strata status)', async () => {
    const before = strataJson<StatusJson>('status', directory);
    const stale = before.cells.filter((c) => c.state === 'stale' || c.state === 'never_run').map((c) => c.id).sort();
    assert.deepStrictEqual(stale, ['by_region', 'clean', 'daily', 'plot', 'summary']);
    await waitFor('Run Stale to be enabled', () => api.states.staleCells(directory).length === stale.length, [api.states.onDidChange]);
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runStale');
    assert.ok(summary.success, JSON.stringify(summary));
    assert.deepStrictEqual([...summary.executed].sort(), stale);
    assert.deepStrictEqual(summary.cached, ['load_data'], 'only upstream hits besides the stale cells');
    const after = strataJson<StatusJson>('status', directory);
    assert.deepStrictEqual(after.cells.filter((c) => c.state !== 'ready').map((c) => c.id), []);
    assert.strictEqual(notebook.isDirty, false, 'running must not dirty the notebook');
    await waitFor('Run Stale to be disabled', () => api.states.staleCells(directory).length === 0, [api.states.onDidChange]);
  });

  test('an edit outside the editor reloads the cell', async () => {
    const file = path.join(directory, 'cells', 'by_region.py');
    const text = fs.readFileSync(file, 'utf8').replace('# @name Revenue by region', '# @name Revenue by region\n# edited outside VS Code');
    fs.writeFileSync(file, text);
    const byRegion = (): vscode.NotebookCell => cell(notebook, 'by_region');
    await waitFor('the cell to show the new text', () => byRegion().document.getText() === text.replace(/\n$/, ''), [vscode.workspace.onDidChangeNotebookDocument]);
    assert.strictEqual(notebook.isDirty, false);
    assert.deepStrictEqual(codeCellIds(notebook), CODE_CELLS);
    assert.strictEqual(git(directory, 'status', '--porcelain'), ' M cells/by_region.py\n M cells/clean.py\n');
  });

  test('opening shows the cached outputs without running anything', async () => {
    // A copy of the directory with its store: a notebook VS Code has not seen yet.
    const copy = `${directory}-reopened`;
    fs.cpSync(directory, copy, { recursive: true });
    let runs = 0;
    const counting = api.runs.onDidFinishRun(() => runs++);
    try {
      const reopened = (await openNotebook(copy)).notebook;
      await waitFor('the cached outputs', () => outputTexts(cell(reopened, 'summary'))['text/markdown'], [vscode.workspace.onDidChangeNotebookDocument]);
      assert.match(outputTexts(cell(reopened, 'load_data'))[STDOUT].join(''), /loaded 5000 rows/);
      assert.ok(cell(reopened, 'plot').outputs.some((o) => o.items.some((i) => i.mime === 'image/png')));
      assert.strictEqual(cell(reopened, 'daily').executionSummary?.success, true);
      assert.strictEqual(runs, 0, 'opening must not run anything');
      assert.strictEqual(reopened.isDirty, false);
    } finally {
      counting.dispose();
    }
  });
});
