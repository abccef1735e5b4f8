// The palette and toolbar commands. Each works on the notebook in front (or the cell it was
// invoked on) and delegates to the module that owns the behaviour.
import * as vscode from 'vscode';
import { requireTrust } from './controller';
import { DagViews } from './dag';
import { Engine } from './engine';
import { forkFromIteration } from './loops';
import { cellId, notebookMetadata } from './metadata';
import { addCell } from './newCells';
import { isStrataNotebook, newNotebookCommand, openNotebookCommand, openNotebookFolderCommand } from './opening';
import { RunMode } from './protocol';
import { Runs, RunSummary } from './runs';
import { StrataServer } from './server';
import { NotebookStates } from './states';
import { chooseActiveVariant } from './variants';

export interface CommandDeps {
  server: StrataServer;
  runs: Runs;
  states: NotebookStates;
  dag: DagViews;
  engine: Engine;
}

function activeNotebook(): vscode.NotebookDocument | undefined {
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  if (isStrataNotebook(notebook)) return notebook;
  void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
  return undefined;
}

function codeCells(notebook: vscode.NotebookDocument, ids?: Set<string>): vscode.NotebookCell[] {
  return notebook.getCells().filter((cell) => cell.kind === vscode.NotebookCellKind.Code && (ids === undefined || ids.has(cellId(cell) ?? '')));
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { server, runs, states, dag, engine } = deps;
  const runNotebook = (mode: RunMode): Promise<RunSummary | undefined> => {
    const notebook = activeNotebook();
    if (notebook === undefined || !requireTrust()) return Promise.resolve(undefined);
    const directory = notebookMetadata(notebook)?.directory ?? '';
    // Show as queued what the run is known to reach; others appear as the server starts them.
    const queued = mode === 'stale' ? codeCells(notebook, new Set(states.staleCells(directory))) : codeCells(notebook);
    return runs.start(notebook, mode, undefined, queued);
  };
  const forceRunCell = (cell?: vscode.NotebookCell): Promise<RunSummary | undefined> => {
    const target = cell ?? (() => {
      const editor = vscode.window.activeNotebookEditor;
      return editor && isStrataNotebook(editor.notebook) ? editor.notebook.cellAt(editor.selection.start) : undefined;
    })();
    const id = target ? cellId(target) : undefined;
    if (target === undefined || id === undefined || !requireTrust()) return Promise.resolve(undefined);
    return runs.start(target.notebook, 'force', [id], [target]);
  };
  return [
    vscode.commands.registerCommand('strata.runAll', () => runNotebook('all')),
    vscode.commands.registerCommand('strata.runStale', () => runNotebook('stale')),
    vscode.commands.registerCommand('strata.forceRun', () => runNotebook('force')),
    vscode.commands.registerCommand('strata.forceRunCell', forceRunCell),
    vscode.commands.registerCommand('strata.showDag', () => {
      const notebook = activeNotebook();
      return notebook ? dag.show(notebook) : undefined;
    }),
    vscode.commands.registerCommand('strata.addSqlCell', () => addCell('sql')),
    vscode.commands.registerCommand('strata.addPromptCell', () => addCell('prompt')),
    vscode.commands.registerCommand('strata.addRCell', () => addCell('r')),
    vscode.commands.registerCommand('strata.forkFromIteration', (cell?: vscode.NotebookCell, iteration?: number) => forkFromIteration(server, states, cell, iteration)),
    vscode.commands.registerCommand('strata.chooseActiveVariant', (cell?: vscode.NotebookCell, name?: string) => chooseActiveVariant(server, states, cell, name)),
    vscode.commands.registerCommand('strata.openNotebook', openNotebookCommand),
    vscode.commands.registerCommand('strata.openNotebookFolder', () => {
      const notebook = activeNotebook();
      return notebook ? openNotebookFolderCommand(notebookMetadata(notebook)?.directory) : undefined;
    }),
    vscode.commands.registerCommand('strata.newNotebook', (target?: string) => newNotebookCommand(engine, target)),
    vscode.commands.registerCommand('strata.restartServer', () => server.restart()),
    vscode.commands.registerCommand('strata.showServerOutput', () => server.showOutput()),
    vscode.commands.registerCommand('strata.openTerminal', async () => {
      await server.ensureStarted();
      const cwd = vscode.window.activeNotebookEditor ? notebookMetadata(vscode.window.activeNotebookEditor.notebook)?.directory : undefined;
      vscode.window.createTerminal({ name: 'Strata', cwd }).show();
    }),
  ];
}
