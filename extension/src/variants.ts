// Variant cells in the editor (SPEC 9 "Variants"): each member's group and whether it is
// active, as `strata/notebookState` reports it, and "Choose Active Variant...", which asks
// the server to write the group's `[[variant_group]]` choice (`strata/setActiveVariant`).
// The next notebookState shows the switch and the downstream stale; nothing is decided here.
import * as vscode from 'vscode';
import { cellId, notebookMetadata } from './metadata';
import { isStrataNotebook } from './opening';
import * as P from './protocol';
import { StrataServer } from './server';
import { NotebookStates } from './states';

export interface VariantStatus {
  text: string;
  tooltip: string;
  /** A switch group: clicking offers the members to choose from. */
  choosable: boolean;
}

/** "variant model: ridge (active)", "... (inactive — switch)", "... (sweep)", "per variant: model". */
export function variantStatus(variant: P.VariantInfo | undefined): VariantStatus | undefined {
  if (variant === undefined) return undefined;
  if (variant.per_variant !== undefined) {
    return { text: `$(list-flat) per variant: ${variant.per_variant}`, tooltip: `Runs once for each member of the sweep group \`${variant.per_variant}\`.`, choosable: false };
  }
  if (variant.group === undefined || variant.name === undefined) return undefined;
  const head = `variant ${variant.group}: ${variant.name}`;
  if (variant.mode === 'sweep') {
    return { text: `$(list-tree) ${head} (sweep)`, tooltip: `Member \`${variant.name}\` of the sweep group \`${variant.group}\`: every member runs, and a consumer receives {member: value}.`, choosable: false };
  }
  if (variant.active) {
    return { text: `$(pass-filled) ${head} (active)`, tooltip: `The active member of \`${variant.group}\`: its downstream reads it. Click to choose another.`, choosable: true };
  }
  return {
    text: `$(circle-large-outline) ${head} (inactive — switch)`,
    tooltip: `Not in the DAG: \`${variant.group}\` uses another member. Click to make \`${variant.name}\` the active one (writes notebook.toml).`,
    choosable: true,
  };
}

/** The members of `group` in notebook order, as the last notebookState listed them. */
export function groupMembers(cells: readonly P.CellState[], group: string): P.CellState[] {
  return cells.filter((cell) => cell.variant?.group === group && cell.variant.name !== undefined);
}

/** The groups of a notebook in order of first appearance, with their mode. */
export function variantGroups(cells: readonly P.CellState[]): { group: string; mode: string }[] {
  const seen = new Map<string, string>();
  for (const cell of cells) {
    const group = cell.variant?.group;
    if (group !== undefined && !seen.has(group)) seen.set(group, cell.variant?.mode ?? 'switch');
  }
  return [...seen].map(([group, mode]) => ({ group, mode }));
}

/** The cell status bar item of a variant member or `@per_variant` cell (none for others). */
export function variantStatusItem(states: NotebookStates, directory: string, cell: vscode.NotebookCell, id: string): vscode.NotebookCellStatusBarItem | undefined {
  const status = variantStatus(states.state(directory, id)?.variant);
  if (status === undefined) return undefined;
  const item = new vscode.NotebookCellStatusBarItem(status.text, vscode.NotebookCellStatusBarAlignment.Left);
  item.tooltip = status.tooltip.replace(/`/g, '');
  item.accessibilityInformation = { label: status.text.replace(/\$\([^)]*\)\s*/g, '') };
  if (status.choosable) item.command = { command: 'strata.chooseActiveVariant', title: 'Choose Active Variant...', arguments: [cell] };
  return item;
}

interface MemberPick extends vscode.QuickPickItem {
  name: string;
}

/** What the quick pick lists: each member, the active one marked, with its state. */
export function memberPicks(members: readonly P.CellState[]): MemberPick[] {
  return members.map((member) => {
    const name = member.variant?.name ?? member.id;
    const state = member.state === 'ready' ? 'ready: switching to it is a cache hit' : member.state.replace('_', ' ');
    return { name, label: name, description: member.variant?.active ? 'active' : state, detail: `cell ${member.id}`, picked: member.variant?.active === true };
  });
}

/**
 * "Choose Active Variant...": the group of `cell` (or one picked from the notebook's switch
 * groups), then a member; `name` skips the question. Returns the server's answer.
 */
export async function chooseActiveVariant(server: StrataServer, states: NotebookStates, cell?: vscode.NotebookCell, name?: string): Promise<P.SetActiveVariantResult | undefined> {
  const notebook = cell?.notebook ?? vscode.window.activeNotebookEditor?.notebook;
  const directory = notebook && isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
  if (notebook === undefined || directory === undefined) {
    void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
    return undefined;
  }
  const cells = states.cells(directory);
  const own = cell ? cells.find((state) => state.id === cellId(cell))?.variant : undefined;
  if (own?.mode === 'sweep') {
    void vscode.window.showInformationMessage(`Strata: every member of the sweep group ${own.group ?? ''} runs; there is no active member to choose.`);
    return undefined;
  }
  const group = own?.group ?? (await pickGroup(cells));
  if (group === undefined) return undefined;
  const members = groupMembers(cells, group);
  const chosen = name ?? (await vscode.window.showQuickPick(memberPicks(members), { title: `Active member of variant group ${group}`, placeHolder: 'The member its downstream reads' }))?.name;
  if (chosen === undefined) return undefined;
  try {
    return await server.request<P.SetActiveVariantResult>(P.Methods.setActiveVariant, { notebook: directory, group, name: chosen } satisfies P.SetActiveVariantParams);
  } catch (error) {
    void vscode.window.showErrorMessage(`Strata: cannot make ${chosen} the active member of ${group}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function pickGroup(cells: readonly P.CellState[]): Promise<string | undefined> {
  const groups = variantGroups(cells).filter((entry) => entry.mode === 'switch');
  if (groups.length === 0) {
    void vscode.window.showInformationMessage('Strata: this notebook has no switch variant group (a sweep group runs every member).');
    return undefined;
  }
  if (groups.length === 1) return groups[0].group;
  return (await vscode.window.showQuickPick(groups.map((entry) => entry.group), { title: 'Variant group' })) ?? undefined;
}
