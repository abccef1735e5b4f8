// Commands beyond running: New Notebook, Restart Server; and what setup says when Python is
// missing.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { notebookMetadata } from '../../metadata';
import { findBasePython, SetupError } from '../../python';
import type { RunSummary } from '../../runs';
import { closeAll, strataApi, waitFor } from './helpers';

suite('Commands', () => {
  suiteTeardown(closeAll);

  test('New Notebook creates a notebook folder and opens it; it runs', async () => {
    const workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const name = `new-${process.pid}`;
    await vscode.commands.executeCommand('strata.newNotebook', name);
    const directory = fs.realpathSync(path.join(workspace, name));
    assert.ok(fs.existsSync(path.join(directory, 'notebook.toml')));
    const editor = vscode.window.activeNotebookEditor;
    assert.strictEqual(notebookMetadata(editor!.notebook)?.directory, directory);
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.ok(summary.success, JSON.stringify(summary));
    assert.deepStrictEqual(summary.executed, ['hello']);
  });

  test('Restart Server brings a working server back', async () => {
    const api = await strataApi();
    await vscode.commands.executeCommand('strata.restartServer');
    await waitFor('the server to run again', () => api.server.state === 'running', [api.server.onDidChangeState]);
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.ok(summary.success);
    assert.deepStrictEqual(summary.cached, ['hello'], 'the store survives a restart');
  });

  test('no suitable Python is an actionable error naming the setting', async () => {
    const config = vscode.workspace.getConfiguration('strata');
    await config.update('python', '/nonexistent/python3', vscode.ConfigurationTarget.Workspace);
    try {
      const output = vscode.window.createOutputChannel('strata-test');
      await assert.rejects(findBasePython(output), (error: unknown) => {
        assert.ok(error instanceof SetupError);
        assert.strictEqual(error.setting, 'strata.python');
        assert.match(error.message, /strata\.python \(\/nonexistent\/python3\) is not Python 3\.11 or newer/);
        return true;
      });
      output.dispose();
    } finally {
      await config.update('python', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
