// Per-notebook environments inside VS Code, against the real server and uv (PyPI): a notebook
// with its own pyproject.toml and no .venv is offered one on open (nothing runs unasked), Sync
// Environment creates it with uv's output streamed, the status bar then names the .venv and its
// lock, a cell importing the declared package runs in it, and the quick fix of an unresolved
// import adds the distribution and re-runs the cell.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AddPackageOutcome } from '../../environment';
import { notebookMetadata } from '../../metadata';
import * as P from '../../protocol';
import { cell, closeAll, git, openNotebook, outputTexts, replaceCellText, strataApi, waitFor } from './helpers';

const SYNC_TIMEOUT_MS = 10 * 60_000;

const FIXTURE: Record<string, string> = {
  'notebook.toml': [
    'notebook_id = "env-fixture"',
    'name = "A notebook with its own environment"',
    '',
    '[[cells]]',
    'id = "table"',
    'file = "table.py"',
    'language = "python"',
    'order = 1.0',
    '',
    '[[cells]]',
    'id = "colour"',
    'file = "colour.py"',
    'language = "python"',
    'order = 2.0',
    '',
  ].join('\n'),
  'pyproject.toml': ['[project]', 'name = "env-fixture"', 'version = "0.1.0"', 'requires-python = ">=3.11"', 'dependencies = ["tabulate"]', ''].join('\n'),
  'cells/table.py': 'from tabulate import tabulate\n\nprint(tabulate([["a", 1], ["b", 2]], headers=["name", "n"]))\n',
  'cells/colour.py': 'x = 1\n',
};

/** A notebook with pyproject.toml (depending on tabulate) and no .venv, under git. */
function fixture(): string {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspace === undefined) throw new Error('the tests need a workspace folder');
  const target = path.join(workspace, `env-fixture-${process.pid}`);
  for (const [file, text] of Object.entries(FIXTURE)) {
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true });
    fs.writeFileSync(path.join(target, file), text);
  }
  git(target, 'init', '-q');
  git(target, 'add', '-A');
  git(target, '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'fixture');
  return fs.realpathSync(target);
}

function codeOf(diagnostic: vscode.Diagnostic): string {
  const code = diagnostic.code;
  return String(typeof code === 'object' ? code.value : code);
}

suite('Environments in VS Code', function () {
  this.timeout(SYNC_TIMEOUT_MS * 2);
  suiteTeardown(closeAll);

  test('a missing .venv is offered on open; Sync Environment creates it; a cell imports the declared package', async () => {
    const api = await strataApi();
    const directory = fixture();
    fs.rmSync(path.join(directory, '.venv'), { recursive: true, force: true });
    const offered = new Promise<string>((resolve) => {
      const subscription = api.environments.onDidOffer((offeredFor) => {
        if (offeredFor !== directory) return;
        subscription.dispose();
        resolve(offeredFor);
      });
    });
    const editor = await openNotebook(directory);
    await offered; // the offer is shown; the test answers it the other way: the command
    const missing = await waitFor('the environment to be known', () => api.environments.info(directory), [api.environments.onDidChange]);
    assert.strictEqual(missing.kind, 'venv');
    assert.strictEqual(missing.state, 'missing');
    assert.strictEqual(missing.hasPyproject, true);
    assert.ok(api.environments.view?.warning, 'a missing .venv shows as a warning');
    assert.match(api.environments.view?.text ?? '', /^\$\(package\) \.venv \(not created\)/);
    assert.ok(!fs.existsSync(path.join(directory, '.venv')), 'opening (and offering) ran nothing');

    const logged: string[] = [];
    const logs = api.server.onNotification(({ method, params }) => {
      if (method === P.Methods.environmentLog && (params as P.EnvironmentLog).notebook === directory) logged.push((params as P.EnvironmentLog).text);
    });
    const result = await vscode.commands.executeCommand<P.EnvironmentActionResult | undefined>('strata.syncEnvironment');
    logs.dispose();
    assert.ok(result?.ok, `sync failed: ${result?.message}`);
    assert.ok(logged.length > 0, 'uv output was streamed as strata/environmentLog');
    const ready = await waitFor('the environment to be ready', () => api.environments.info(directory)?.state === 'ready' && api.environments.info(directory), [api.environments.onDidChange]);
    assert.strictEqual(ready.path && fs.realpathSync(ready.path), path.join(directory, '.venv'));
    const view = api.environments.view;
    assert.match(view?.text ?? '', /^\$\(package\) \.venv · Python 3\.\d+\.\d+ · lock [0-9a-f]{6}$/);
    assert.strictEqual(view?.warning, false);
    assert.ok(view?.tooltip.includes(ready.executable), view?.tooltip);

    const table = cell(editor.notebook, 'table');
    const summary = await api.runs.start(editor.notebook, 'cells', ['table'], [table]);
    assert.ok(summary.success, JSON.stringify(summary));
    assert.match((outputTexts(table)['application/vnd.code.notebook.stdout'] ?? []).join(''), /name\s+n\n-+\s+-+\na\s+1/);
  });

  test('the import_unresolved quick fix adds the distribution and re-runs the cell', async () => {
    const api = await strataApi();
    const editor = vscode.window.activeNotebookEditor;
    assert.ok(editor, 'the first test leaves its notebook open');
    const directory = notebookMetadata(editor.notebook)?.directory;
    assert.ok(directory !== undefined);
    const before = api.environments.info(directory)?.lockHash;
    const colour = cell(editor.notebook, 'colour');
    const range = new vscode.NotebookRange(colour.index, colour.index + 1);
    editor.revealRange(range, vscode.NotebookEditorRevealType.InCenter);
    editor.selection = range;
    await replaceCellText(colour, 'from termcolor import colored\n\nprint(colored("ok", "green"))\n');
    const uri = colour.document.uri;
    const diagnostic = await waitFor('an import_unresolved diagnostic', () => vscode.languages.getDiagnostics(uri).find((d) => codeOf(d) === 'import_unresolved'), [vscode.languages.onDidChangeDiagnostics]);
    assert.strictEqual(diagnostic.range.start.line, 0);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, diagnostic.range);
    const fix = actions.find((action) => action.command?.command === 'strata.addPackage');
    assert.ok(fix?.command, `no strata.addPackage action among ${actions.map((a) => a.title).join(', ')}`);
    const outcome = await vscode.commands.executeCommand<AddPackageOutcome>(fix.command.command, ...((fix.command.arguments ?? []) as unknown[]));
    assert.ok(outcome.result?.ok, `add failed: ${outcome.result?.message}`);
    assert.ok(outcome.rerun?.success, JSON.stringify(outcome.rerun));
    assert.ok(outcome.rerun.executed.includes('colour'));
    assert.match((outputTexts(colour)['application/vnd.code.notebook.stdout'] ?? []).join(''), /ok/);
    assert.match(fs.readFileSync(path.join(directory, 'pyproject.toml'), 'utf8'), /termcolor/);
    await waitFor('the lock to change', () => api.environments.info(directory)?.lockHash !== before, [api.environments.onDidChange]);
    // The server pushed new states: the cell that ran in the old environment is stale for it.
    await waitFor(
      'table stale with env_changed',
      () => api.states.state(directory, 'table')?.reasons?.some((reason) => reason.reason === 'env_changed'),
      [api.states.onDidChange],
    );
    await waitFor('the diagnostic to clear', () => !vscode.languages.getDiagnostics(uri).some((d) => codeOf(d) === 'import_unresolved'), [vscode.languages.onDidChangeDiagnostics]);
    assert.strictEqual(api.environments.view?.warning, false);
  });
});
