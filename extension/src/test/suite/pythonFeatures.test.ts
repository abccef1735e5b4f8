// Python language features in cells, from the real language server (jedi over each cell's
// upstream cells): completion shows a name an upstream cell defines, with its type and cell;
// go to definition opens the producing cell; hover and signature help in a cell.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { cell, closeAll, openNotebook, replaceCellText, strataApi, waitFor } from './helpers';

function pythonNotebook(): string {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspace === undefined) throw new Error('the tests need a workspace folder');
  const directory = path.join(workspace, `python-features-${process.pid}`);
  fs.mkdirSync(path.join(directory, 'cells'), { recursive: true });
  const cells: [string, string][] = [
    ['load', 'def scale(values, factor=2.0):\n    """Multiply every value by factor."""\n    return [v * factor for v in values]\n\nrows = [1.0, 2.0]\n'],
    ['use', 'total = 1\n'],
  ];
  const entries = cells.map(([id, text], i) => {
    fs.writeFileSync(path.join(directory, 'cells', `${id}.py`), text);
    return `[[cells]]\nid = "${id}"\nfile = "${id}.py"\nlanguage = "python"\norder = ${i + 1}\n`;
  });
  fs.writeFileSync(path.join(directory, 'notebook.toml'), `notebook_id = "python-features"\nname = "python features"\n\n${entries.join('\n')}`);
  return fs.realpathSync(directory);
}

function label(item: vscode.CompletionItem): string {
  return typeof item.label === 'string' ? item.label : item.label.label;
}

suite('Python language features in cells', () => {
  suiteTeardown(closeAll);

  test('completion, definition, hover and signature help know the upstream cells', async () => {
    const directory = pythonNotebook();
    const notebook = (await openNotebook(directory)).notebook;
    // The server has analyzed the notebook: its providers are registered.
    const { states } = await strataApi();
    await waitFor('the notebook state', () => states.cells(directory).some((c) => c.id === 'use'), [states.onDidChange]);
    const use = cell(notebook, 'use');
    await replaceCellText(use, 'total = scale(rows, )\nro');
    const document = use.document;

    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', document.uri, new vscode.Position(1, 2));
    // VS Code's word-based suggestions may offer `rows` too (a word of another cell), without a detail.
    const details = list.items.filter((item) => label(item) === 'rows').map((item) => item.detail);
    assert.ok(details.includes('List[float] · cell load'), `${list.items.map(label).join(' ')} / ${details.join(' | ')}`);

    const definitions = await vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[]>('vscode.executeDefinitionProvider', document.uri, new vscode.Position(0, 10));
    assert.strictEqual(definitions.length, 1);
    const found = definitions[0];
    const target = 'uri' in found ? found.uri : found.targetUri;
    const range = 'range' in found ? found.range : found.targetRange;
    assert.strictEqual(target.toString(), cell(notebook, 'load').document.uri.toString());
    assert.strictEqual(range.start.line, 0);

    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, new vscode.Position(0, 10));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /Multiply every value by factor\./);

    const help = await vscode.commands.executeCommand<vscode.SignatureHelp>('vscode.executeSignatureHelpProvider', document.uri, new vscode.Position(0, 'total = scale(rows, '.length), ',');
    assert.ok(help && help.signatures.length > 0, 'no signature help');
    assert.match(help.signatures[0].label, /^scale\(values, factor=2\.0\)/);
    assert.strictEqual(help.activeParameter, 1);
  });
});
