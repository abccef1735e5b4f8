// Run mode and promotion in the real VS Code: a frozen copy of samples/expensive (with its
// strata.lock and its store, so the locked results are in the cache) opens read-only with its
// outputs and the "Run mode" status item; Copy to Workspace makes an editable copy and refuses
// an existing name; Promote Cell to Module moves hill_climb's `height` into lib/terrain.py.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { bundleUri } from '../../bundle';
import { notebookMetadata } from '../../metadata';
import type { PromoteResult } from '../../promote';
import { runRefusedMessage } from '../../runMode';
import type { RunSummary } from '../../runs';
import { cell, closeAll, freshCopy, openNotebook, outputTexts, repoRoot, strataApi, strataJson, waitFor } from './helpers';

/** samples/NAME with its lock in the test workspace, run once by the CLI so the locked
 * results are in its own store (a clean clone has no store in samples/). */
function frozenCopy(sample: string): string {
  const workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const target = path.join(workspace, `${sample}-frozen-${process.pid}`);
  fs.cpSync(path.join(repoRoot, 'samples', sample), target, { recursive: true, filter: (source) => !source.includes(`${path.sep}.strata`) });
  strataJson('run', target, '--format', 'json');
  return fs.realpathSync(target);
}

suite('Run mode and promotion', () => {
  suiteTeardown(closeAll);

  test('a frozen notebook opens read-only in Run mode with its outputs; Copy to Workspace makes an editable copy', async () => {
    const api = await strataApi();
    await api.server.ensureStarted();
    const directory = frozenCopy('expensive');
    assert.ok(fs.existsSync(path.join(directory, 'strata.lock')));
    const editor = await openNotebook(directory);
    const stat = await vscode.workspace.fs.stat(bundleUri(directory));
    assert.strictEqual(stat.permissions, vscode.FilePermission.Readonly);
    await api.runMode.refresh();
    assert.match(api.runMode.statusText ?? '', /^\$\(lock\) Run mode \(frozen \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\)$/);
    // The locked results are in the copied store: the outputs show without running.
    const report = cell(editor.notebook, 'report');
    await waitFor('the frozen outputs', () => report.outputs.length > 0, [vscode.workspace.onDidChangeNotebookDocument]);
    assert.ok(Object.keys(outputTexts(report)).length > 0);
    // What the editor's own commands honour: no cell can be added to a read-only notebook.
    const cells = editor.notebook.cellCount;
    await vscode.commands.executeCommand('notebook.cell.insertCodeCellBelow');
    assert.strictEqual(editor.notebook.cellCount, cells, 'a frozen notebook cannot be edited');
    assert.ok(!editor.notebook.isDirty);

    const taken = await api.runMode.copyToWorkspace(path.basename(directory));
    assert.strictEqual(taken, undefined, 'an existing folder is refused');
    const copy = await api.runMode.copyToWorkspace(`expensive-mine-${process.pid}`);
    assert.ok(copy !== undefined);
    assert.ok(!fs.existsSync(path.join(copy, 'strata.lock')));
    assert.ok(fs.existsSync(path.join(copy, 'cells', 'train.py')));
    assert.ok(fs.existsSync(path.join(directory, 'strata.lock')), 'the original stays frozen');
    const active = vscode.window.activeNotebookEditor!;
    assert.strictEqual(notebookMetadata(active.notebook)?.directory, fs.realpathSync(copy));
    assert.strictEqual((await vscode.workspace.fs.stat(bundleUri(copy))).permissions, undefined);
    await api.runMode.refresh();
    assert.strictEqual(api.runMode.statusText, undefined, 'the copy is not in Run mode');
    await vscode.commands.executeCommand('notebook.cell.insertCodeCellBelow');
    assert.strictEqual(active.notebook.cellCount, cells + 1);
    await vscode.commands.executeCommand('workbench.action.files.revert');
    assert.ok(active.notebook.isDirty, 'the copy is editable');
  });

  test('Run mode blocks running: the controller and the run commands refuse a frozen notebook, its outputs unchanged', async () => {
    const api = await strataApi();
    await api.server.ensureStarted();
    const directory = freshCopy('quickstart');
    strataJson('run', directory, '--format', 'json');
    execFileSync(process.env.STRATA_SERVER_PYTHON!, ['-m', 'strata_engine.cli', 'freeze', directory], { encoding: 'utf8' });
    const lock = fs.readFileSync(path.join(directory, 'strata.lock'), 'utf8');
    const editor = await openNotebook(directory);
    const clean = cell(editor.notebook, 'clean');
    await waitFor('the frozen outputs', () => clean.outputs.length > 0, [vscode.workspace.onDidChangeNotebookDocument]);
    const before = outputTexts(clean);
    const refusals: string[] = [];
    const listening = api.runMode.onDidRefuseRun((refused) => refusals.push(refused));
    try {
      // The editor's run button: the notebook controller's execute handler.
      const refused = new Promise<string>((resolve) => api.runMode.onDidRefuseRun(resolve));
      await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: clean.index, end: clean.index + 1 }], document: editor.notebook.uri });
      assert.strictEqual(await refused, directory);
      // The palette's commands go through the same gate and say the run did not happen.
      const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
      assert.deepStrictEqual([summary.success, summary.executed, summary.cached], [false, [], []]);
      assert.deepStrictEqual(refusals, [directory, directory]);
    } finally {
      listening.dispose();
    }
    assert.deepStrictEqual(outputTexts(cell(editor.notebook, 'clean')), before);
    assert.strictEqual(cell(editor.notebook, 'clean').executionSummary?.success, clean.executionSummary?.success);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'strata.lock'), 'utf8'), lock);
    assert.match(runRefusedMessage(directory), /frozen \(strata\.lock\).*Copy to Workspace\.\.\./);
  });

  test('Promote Cell to Module moves the functions, opens the module; a second promotion is refused', async () => {
    const directory = freshCopy('hill_climb');
    const editor = await openNotebook(directory);
    const terrain = cell(editor.notebook, 'terrain');
    const result = await vscode.commands.executeCommand<PromoteResult | undefined>('strata.promoteCell', terrain, 'lib/terrain.py');
    assert.ok(result !== undefined);
    assert.deepStrictEqual(result.names, ['height']);
    assert.ok(fs.existsSync(path.join(directory, 'lib', 'terrain.py')));
    assert.ok(fs.existsSync(path.isAbsolute(result.test) ? result.test : path.join(directory, result.test)));
    assert.strictEqual(vscode.window.activeTextEditor?.document.uri.fsPath, path.join(directory, 'lib', 'terrain.py'));
    // The engine rewrote the cell file; the notebook reloads it (new cell objects).
    const reloaded = (): string => cell(editor.notebook, 'terrain').document.getText();
    await waitFor('the cell to import the module', () => reloaded().includes('height') && !reloaded().includes('def height'), [vscode.workspace.onDidChangeNotebookDocument], 20_000).catch((error: Error) => {
      throw new Error(`${error.message}; dirty=${editor.notebook.isDirty} closed=${editor.notebook.isClosed} cell=${JSON.stringify(reloaded())} file=${JSON.stringify(fs.readFileSync(path.join(directory, 'cells', 'terrain.py'), 'utf8'))}`);
    });
    assert.ok(!editor.notebook.isDirty);
    const again = await vscode.commands.executeCommand<PromoteResult | undefined>('strata.promoteCell', cell(editor.notebook, 'terrain'), 'lib/terrain.py');
    assert.strictEqual(again, undefined);
  });
});
