// Loop cells in the editor (SPEC 9 "Loop"): the iteration counter a running `@loop` cell
// shows ("iter 12/40", from `strata/cellProgress`), and "Fork from iteration...", which
// inserts a copy of the loop below it that resumes from one of its stored iterations
// (`start_from=ID@iter=K`). The engine decides what is stored; this module only asks
// (`strata/dag` loop nodes) and writes the annotation the user would type.
import * as vscode from 'vscode';
import { cellId, notebookMetadata } from './metadata';
import * as P from './protocol';
import { StrataServer } from './server';
import { LoopProgress, NotebookStates } from './states';

/** `# @loop ...` in a cell's leading block (not `@loop_until`); group 1 is the prefix. */
const LOOP_LINE = /^([ \t\f]*#[ \t\f]*@loop)(?![A-Za-z0-9_-])(.*)$/i;
const NAME_LINE = /^([ \t\f]*#[ \t\f]*@name)(?![A-Za-z0-9_-])[ \t\f]*(.*)$/i;
const VARIANT_LINE = /^[ \t\f]*#[ \t\f]*@(variant|per_variant)(?![A-Za-z0-9_-])/i;

/** "iter 12/40" (1-based, as the protocol asks), "iter 7/40, stopped" once `@loop_until` held. */
export function loopProgressText(progress: LoopProgress): string {
  return `iter ${progress.iteration + 1}/${progress.maxIter}${progress.stopped ? ', stopped' : ''}`;
}

/** The lines of the leading block: blank lines and `#` comments before the first code line. */
function leadingBlockEnd(lines: readonly string[]): number {
  const index = lines.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  return index < 0 ? lines.length : index;
}

/** Whether the cell's text declares `# @loop` in its leading block. */
export function isLoopCell(text: string): boolean {
  const lines = text.split(/\r\n|\r|\n/);
  return lines.slice(0, leadingBlockEnd(lines)).some((line) => LOOP_LINE.test(line));
}

/**
 * The text of a loop cell forked from iteration `iteration` of cell `sourceId`: the same
 * body and annotations, its `@loop` options kept (max_iter, carry) with `start_from`
 * replaced by `start_from=SOURCE@iter=K`, the name marked as a fork. Variant lines are
 * dropped: a second member of the same name would be a duplicate. Undefined when the text
 * has no `@loop` line.
 */
export function forkCellText(text: string, sourceId: string, iteration: number): string | undefined {
  const eol = /\r\n/.test(text) ? '\r\n' : '\n';
  const lines = text.split(/\r\n|\r|\n/);
  const end = leadingBlockEnd(lines);
  const loopIndex = lines.slice(0, end).findIndex((line) => LOOP_LINE.test(line));
  if (loopIndex < 0) return undefined;
  const out: string[] = [];
  lines.forEach((line, index) => {
    const loop = index === loopIndex ? LOOP_LINE.exec(line) : null;
    const name = index < end ? NAME_LINE.exec(line) : null;
    if (loop) {
      const options = loop[2].trim().split(/\s+/).filter((token) => token !== '' && !/^start_from=/i.test(token));
      out.push([loop[1], ...options, `start_from=${sourceId}@iter=${iteration}`].join(' '));
    } else if (name) {
      out.push(`${name[1]} ${name[2].trim() || sourceId} (forked from ${sourceId}@iter=${iteration})`);
    } else if (index >= end || !VARIANT_LINE.test(line)) {
      out.push(line);
    }
  });
  return out.join(eol);
}

/**
 * How many iterations can be forked from: the count the engine says the current result
 * stored, else what this session's last run of it reported, else unknown (undefined).
 */
export function forkableIterations(loop: P.DagLoop | undefined, progress: LoopProgress | undefined): number | undefined {
  if (loop?.iterations !== undefined) return loop.iterations;
  if (progress !== undefined) return progress.iteration + 1;
  return undefined;
}

/** "Fork from iteration..." on a loop cell's status bar (none for other cells). */
export function forkStatusItem(cell: vscode.NotebookCell): vscode.NotebookCellStatusBarItem | undefined {
  if (!isLoopCell(cell.document.getText())) return undefined;
  const item = new vscode.NotebookCellStatusBarItem('$(git-branch) Fork from iteration...', vscode.NotebookCellStatusBarAlignment.Right);
  item.tooltip = 'Insert a copy of this loop below it that resumes from one of its stored iterations (start_from).';
  item.accessibilityInformation = { label: 'Fork from iteration' };
  item.command = { command: 'strata.forkFromIteration', title: 'Fork from Iteration...', arguments: [cell] };
  return item;
}

/** Why `value` is not an iteration in [0, count) (undefined: it is one). */
export function iterationProblem(value: string, count: number): string | undefined {
  const trimmed = value.trim();
  if (!/^[0-9]+$/.test(trimmed)) return 'Enter an iteration number (0 is the first).';
  const k = Number(trimmed);
  return k < count ? undefined : `It stored iterations 0 to ${count - 1}.`;
}

/**
 * "Fork from iteration...": ask for K (bounded by what the loop stored), insert the forked
 * cell below `cell`. `iteration` skips the question (tests, keybindings with arguments).
 */
export async function forkFromIteration(server: StrataServer, states: NotebookStates, cell: vscode.NotebookCell | undefined, iteration?: number): Promise<vscode.NotebookCell | undefined> {
  const target = cell ?? selectedCell();
  const id = target ? cellId(target) : undefined;
  const directory = target ? notebookMetadata(target.notebook)?.directory : undefined;
  if (target === undefined || id === undefined || directory === undefined || !isLoopCell(target.document.getText())) {
    void vscode.window.showInformationMessage('Strata: select a @loop cell to fork.');
    return undefined;
  }
  const dag = await server.request<P.DagResult>(P.Methods.dag, { notebook: directory }).catch(() => undefined);
  const loop = dag?.nodes?.find((node) => node.id === id)?.loop;
  const count = forkableIterations(loop, states.liveState(directory, id)?.loop);
  if (count === 0) {
    void vscode.window.showWarningMessage(`Strata: ${id} has no stored iterations for its current inputs and source; run it first.`);
    return undefined;
  }
  const bound = count ?? loop?.maxIter ?? undefined;
  const k = iteration ?? (await askIteration(id, bound, count === undefined));
  if (k === undefined) return undefined;
  const text = forkCellText(target.document.getText(), id, k);
  if (text === undefined) return undefined;
  return insertBelow(target, text);
}

async function askIteration(id: string, bound: number | undefined, unknown: boolean): Promise<number | undefined> {
  const last = bound === undefined ? undefined : bound - 1;
  const answer = await vscode.window.showInputBox({
    title: `Fork ${id} from iteration`,
    prompt: unknown
      ? `Iteration K (0-based) of ${id} to resume from. It has not run with its current inputs yet: K must be stored by then.`
      : `Iteration K (0-based) of ${id} to resume from: 0 to ${last ?? '?'}.`,
    value: last === undefined ? '0' : String(last),
    validateInput: (value) => iterationProblem(value, bound ?? Number.MAX_SAFE_INTEGER),
  });
  return answer === undefined ? undefined : Number(answer.trim());
}

async function insertBelow(source: vscode.NotebookCell, text: string): Promise<vscode.NotebookCell | undefined> {
  const notebook = source.notebook;
  const index = source.index + 1;
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, text, source.document.languageId)])]);
  if (!(await vscode.workspace.applyEdit(edit))) return undefined;
  const editor = vscode.window.visibleNotebookEditors.find((candidate) => candidate.notebook === notebook);
  if (editor !== undefined) {
    editor.selection = new vscode.NotebookRange(index, index + 1);
    editor.revealRange(editor.selection, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
  }
  return notebook.cellAt(index);
}

function selectedCell(): vscode.NotebookCell | undefined {
  const editor = vscode.window.activeNotebookEditor;
  return editor && editor.selections.length > 0 ? editor.notebook.cellAt(editor.selection.start) : undefined;
}
