// Diagnostics from the language server on notebook cells, and applying its quick fix.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { cell, closeAll, freshCopy, openNotebook, replaceCellText, waitFor } from './helpers';

function codeOf(diagnostic: vscode.Diagnostic): string {
  const code = diagnostic.code;
  return String(typeof code === 'object' ? code.value : code);
}

suite('Diagnostics and quick fixes', () => {
  suiteTeardown(closeAll);

  test('a bad # @worker shows a diagnostic whose quick fix works', async () => {
    const editor = await openNotebook(freshCopy('quickstart'));
    const notebook = editor.notebook;
    const daily = cell(notebook, 'daily');
    // Code actions are computed on the cell's editor model, which exists once it is shown.
    const range = new vscode.NotebookRange(daily.index, daily.index + 1);
    editor.revealRange(range, vscode.NotebookEditorRevealType.InCenter);
    editor.selection = range;
    const uri = daily.document.uri;
    await replaceCellText(daily, `# @worker gpu\n${daily.document.getText()}`);
    const diagnostic = await waitFor(
      'a worker_unknown diagnostic on the cell',
      () => vscode.languages.getDiagnostics(uri).find((d) => codeOf(d) === 'worker_unknown'),
      [vscode.languages.onDidChangeDiagnostics],
    );
    assert.strictEqual(diagnostic.range.start.line, 0);
    assert.strictEqual(diagnostic.severity, vscode.DiagnosticSeverity.Warning);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, diagnostic.range);
    const fix = actions.find((action) => action.title === "Use worker 'local'");
    assert.ok(fix?.edit, `no "Use worker 'local'" among ${actions.map((a) => a.title).join(', ')}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(daily.document.getText(), /^# @worker local\n/);
    await waitFor('the diagnostic to clear', () => !vscode.languages.getDiagnostics(uri).some((d) => codeOf(d) === 'worker_unknown'), [vscode.languages.onDidChangeDiagnostics]);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});
