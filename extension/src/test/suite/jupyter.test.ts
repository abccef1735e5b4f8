// Jupyter in and out inside VS Code (SPEC 12): "Import Jupyter Notebook..." on an .ipynb
// opens the imported notebook with one cell per Jupyter cell and the magic as a
// magic_unsupported warning; it runs; "Export Notebook..." writes the cached outputs and
// nothing runs for it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { ExportResult, ImportResult } from '../../jupyter';
import { notebookMetadata } from '../../metadata';
import { RunSummary } from '../../runs';
import { closeAll, codeCellIds, strataApi, waitFor } from './helpers';

function ipynb(cells: object[]): string {
  return JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3' } }, cells }, null, 1);
}

function code(id: string, source: string): object {
  return { id, cell_type: 'code', metadata: {}, execution_count: null, outputs: [{ output_type: 'stream', name: 'stdout', text: ['old output\n'] }], source };
}

suite('Jupyter import and export', () => {
  teardown(closeAll);

  test('an imported .ipynb opens, warns about its magic, runs, and exports its outputs', async () => {
    const api = await strataApi();
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    const source = path.join(workspace, `study-${process.pid}.ipynb`);
    fs.writeFileSync(source, ipynb([
      { id: 'intro', cell_type: 'markdown', metadata: {}, source: '# Study' },
      code('load', '%matplotlib inline\nrows = [3, 1, 2]'),
      code('sort', 'rows = sorted(rows)\nprint(rows)'),
    ]));
    const report = await vscode.commands.executeCommand<ImportResult>('strata.importJupyter', vscode.Uri.file(source));
    const directory = report.directory;
    assert.strictEqual(directory, source.replace(/\.ipynb$/, ''));
    assert.deepStrictEqual(report.magics, [{ cell: 'cell-02', line: 1, magic: '%matplotlib inline' }]);
    const editor = vscode.window.activeNotebookEditor;
    assert.ok(editor !== undefined && notebookMetadata(editor.notebook)?.directory === directory, 'the imported notebook is open');
    assert.deepStrictEqual(codeCellIds(editor.notebook), ['cell-02', 'cell-03']);
    const magicCell = editor.notebook.cellAt(1).document.uri;
    const warning = await waitFor('the magic_unsupported warning', () => vscode.languages.getDiagnostics(magicCell).find((d) => d.code === 'magic_unsupported'), [vscode.languages.onDidChangeDiagnostics]);
    assert.strictEqual(warning.severity, vscode.DiagnosticSeverity.Warning);
    assert.strictEqual(warning.range.start.line, 0);

    const again = await vscode.commands.executeCommand<ImportResult | undefined>('strata.importJupyter', vscode.Uri.file(source), directory);
    assert.strictEqual(again, undefined, 'a used folder is refused, not overwritten');

    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.strictEqual(summary.success, true, JSON.stringify(summary));
    await waitFor('cell-03 ready', () => api.states.state(directory, 'cell-03')?.state === 'ready', [api.states.onDidChange]);
    const output = path.join(workspace, `study-${process.pid}.html`);
    const exported = await vscode.commands.executeCommand<ExportResult>('strata.exportNotebook', vscode.Uri.file(directory), 'html', output);
    assert.strictEqual(exported.path, output);
    const page = fs.readFileSync(output, 'utf8');
    assert.match(page, /\[1, 2, 3\]/);
    assert.match(page, /<h1>Study<\/h1>/);
    assert.doesNotMatch(page, /old output/);
  });
});
