// What the editor shows of a notebook's environment (SPEC 7), as pure functions of the
// server's `strata/environment` answer: the status bar text and tooltip, the actions its
// quick pick lists, whether opening the notebook should offer to create its `.venv`, and the
// check of a distribution name typed into "Add Package...". environment.ts wires them up.
import { AddPackageArgs, EnvironmentInfo } from './protocol';

export interface EnvironmentView {
  text: string;
  tooltip: string;
  /** The `.venv` is missing or out of sync with pyproject.toml / uv.lock, or pyproject.toml is broken. */
  warning: boolean;
}

export type EnvironmentActionId = 'sync' | 'add' | 'output';
export interface EnvironmentAction {
  id: EnvironmentActionId;
  label: string;
  description?: string;
}

export const CREATE_PROMPT = 'This notebook has its own environment (pyproject.toml) but no .venv yet. Create it now?';
export const CREATE = 'Create';
export const NOT_NOW = 'Not now';

/** "3fa2c1" from "3fa2c1...", "sha256:3fa2c1..." or undefined. */
export function lockLabel(lockHash: string | undefined): string | undefined {
  if (!lockHash) return undefined;
  const hex = lockHash.includes(':') ? lockHash.slice(lockHash.indexOf(':') + 1) : lockHash;
  return hex.slice(0, 6) || undefined;
}

const STATE_WORD: Record<EnvironmentInfo['state'], string> = { ready: '', missing: ' (not created)', out_of_sync: ' (out of sync)' };

/** "$(package) .venv · Python 3.12.1 · lock 3fa2c1", "$(package) embedded · Python 3.11.7". */
export function environmentText(env: EnvironmentInfo): string {
  const python = env.python ? ` · Python ${env.python}` : ''; // unknown until the .venv exists
  if (env.kind !== 'venv') return `$(package) ${env.kind}${python}`;
  const lock = lockLabel(env.lockHash);
  // The state is in the text too, not only in the warning colour.
  return `$(package) .venv${STATE_WORD[env.state]}${python}${lock ? ` · lock ${lock}` : ''}`;
}

function stateLine(env: EnvironmentInfo): string | undefined {
  if (env.state === 'missing') return '.venv does not exist yet: Sync Environment creates it (uv sync).';
  if (env.state === 'out_of_sync') return 'pyproject.toml or uv.lock changed since the last sync: Sync Environment updates .venv. Until then cells run stale.';
  return undefined;
}

const KIND_LINE: Partial<Record<string, string>> = {
  venv: 'the notebook’s own .venv, from its pyproject.toml.',
  embedded: 'embedded (no pyproject.toml): cells run in the engine’s own interpreter.',
  interpreter: 'an interpreter chosen for this notebook’s cells in the editor (it takes precedence over a .venv).',
};

export function environmentTooltip(env: EnvironmentInfo): string {
  const lines = [`Strata environment: ${KIND_LINE[env.kind] ?? env.kind}`];
  lines.push(env.python ? `Python ${env.python}: ${env.executable}` : `Python (once created): ${env.executable}`);
  if (env.path) lines.push(`Environment: ${env.path}`);
  if (env.lockHash) lines.push(`Lock: ${env.lockHash}`);
  const state = stateLine(env);
  if (state) lines.push('', state);
  if (env.error) lines.push('', `Problem: ${env.error}`);
  lines.push('', 'Click for Sync Environment, Add Package..., Show Output.');
  return lines.join('\n');
}

export function describeEnvironment(env: EnvironmentInfo): EnvironmentView {
  return { text: environmentText(env), tooltip: environmentTooltip(env), warning: env.state !== 'ready' || env.error !== undefined };
}

export interface PromptContext {
  /** Workspace trust: creating a `.venv` runs uv, which needs a trusted workspace. */
  trusted: boolean;
  /** Already offered for this notebook in this session (answered, dismissed or "Not now"). */
  asked: boolean;
}

/** Which question opening a notebook asks: 'create' its missing `.venv`, or none. */
export function environmentPrompt(env: EnvironmentInfo | undefined, context: PromptContext): 'create' | undefined {
  if (env === undefined || !context.trusted || context.asked) return undefined;
  return env.hasPyproject && env.state === 'missing' ? 'create' : undefined;
}

/** The status bar item's quick pick. Syncing needs a pyproject.toml; adding a package creates one. */
export function environmentActions(env: EnvironmentInfo | undefined): EnvironmentAction[] {
  const actions: EnvironmentAction[] = [];
  if (env === undefined || env.hasPyproject) {
    const description = env?.state === 'missing' ? 'create .venv' : env?.state === 'out_of_sync' ? 'update .venv to pyproject.toml' : 'uv sync';
    actions.push({ id: 'sync', label: '$(sync) Sync Environment', description });
  }
  const addDescription = env?.hasPyproject === false ? 'creates pyproject.toml and .venv' : 'uv add';
  actions.push({ id: 'add', label: '$(add) Add Package...', description: addDescription });
  actions.push({ id: 'output', label: '$(output) Show Output', description: 'uv’s output in the Strata Server channel' });
  return actions;
}

// A PEP 508 requirement as `uv add` takes it: a name, optional extras, then a version
// specifier or marker ("pandas", "tabulate>=0.9", "httpx[http2]"). URLs and paths are not offered.
const VERSION = String.raw`(?:===?|~=|!=|<=?|>=?)\s*[A-Za-z0-9.*+!_-]+`;
const REQUIREMENT = new RegExp(String.raw`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,\s-]*\])?\s*(?:${VERSION}(?:\s*,\s*${VERSION})*)?\s*(?:;.+)?$`);

/** Why `text` is not a distribution to add, or undefined when it is one. */
export function packageProblem(text: string): string | undefined {
  const value = text.trim();
  if (value === '') return 'Type a distribution name, e.g. tabulate or pandas>=2.';
  if (REQUIREMENT.test(value)) return undefined;
  const words = value.split(/\s+/);
  if (words.length > 1 && words.every((word) => REQUIREMENT.test(word))) return 'One distribution at a time.';
  return `"${value}" is not a distribution name (letters, digits, . _ -, optionally [extras] and a version such as >=1.2).`;
}

/** One output-channel line per line of uv's output (a notification may carry several). */
export function logLines(text: string): string[] {
  const trimmed = text.replace(/\r?\n$/, '');
  return trimmed === '' ? [] : trimmed.split(/\r?\n/);
}

/** The quick fix's argument, when `args` is one. */
export function addPackageArgs(args: unknown): AddPackageArgs | undefined {
  if (typeof args !== 'object' || args === null) return undefined;
  const { notebook, package: requirement, cellId: id } = args as Record<string, unknown>;
  if (typeof notebook !== 'string' || typeof requirement !== 'string') return undefined;
  return { notebook, package: requirement, cellId: typeof id === 'string' ? id : undefined };
}
