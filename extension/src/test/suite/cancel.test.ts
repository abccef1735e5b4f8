// Interrupting a run stops the running cell; nothing is cached for it.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { RunSummary } from '../../runs';
import { closeAll, freshCopy, openNotebook, StatusJson, strataApi, strataJson, waitFor } from './helpers';

suite('Cancel', () => {
  suiteTeardown(closeAll);

  test('interrupting stops the running cell (samples/expensive)', async () => {
    const api = await strataApi();
    const directory = freshCopy('expensive');
    await openNotebook(directory);
    const run = vscode.commands.executeCommand<RunSummary>('strata.runAll');
    await waitFor('train to start', () => api.states.liveState(directory, 'train')?.running, [api.states.onDidChange]);
    await vscode.commands.executeCommand('notebook.cancelExecution');
    const summary = await run;
    assert.ok(!summary.executed.includes('train'), JSON.stringify(summary));
    assert.ok(!summary.success);
    const train = strataJson<StatusJson>('status', directory).cells.find((c) => c.id === 'train');
    assert.notStrictEqual(train?.state, 'ready');
  });
});
