// The custom `strata/...` methods of the language server, as types. The reference is
// docs/lsp-protocol.md at the repository root; keep the two in step.
// Everything else (diagnostics, code actions, hover, notebook sync) is standard LSP.

export type RunMode = 'cells' | 'stale' | 'all' | 'force';

export interface RunParams {
  notebook: string;
  cellIds?: string[];
  mode: RunMode;
}
export interface RunResult {
  runId: string;
}

/** A display: mime type -> data (text, or base64 for binary types such as image/png). */
export type MimeBundle = Record<string, string>;

export interface CellEvent {
  runId: string;
  notebook: string;
  cellId: string;
}
export interface CellStarted extends CellEvent {
  /** The worker the engine placed the cell on ("local" for the built-in worker). */
  worker?: string;
  /** That worker's backend: anything but "local" means the cell was dispatched elsewhere. */
  backend?: string;
}
export interface CellCacheHit extends CellEvent {
  key?: string;
}
export interface CellOutput extends CellEvent {
  output: MimeBundle;
}
export interface CellStream extends CellEvent {
  stream: 'stdout' | 'stderr';
  text: string;
  /** The console of a cache hit, replayed. */
  replayed?: boolean;
}
/** After each stored iteration of a `@loop` cell (0-based `iteration`). */
export interface CellProgress extends CellEvent {
  iteration: number;
  maxIter: number;
  /** `@loop_until` held after this iteration: it is the last one. */
  stopped: boolean;
  durationMs?: number;
}
export interface CellError extends CellEvent {
  error?: string;
  traceback?: string;
}
export interface CellFinished extends CellEvent {
  status: 'ok' | 'error' | 'skipped';
  cacheHit?: boolean;
  /** The cell's code actually ran in this run (not a hit, not skipped). */
  executed?: boolean;
  durationMs?: number;
  reason?: string;
  error?: string;
}
export interface RunFinished {
  runId: string;
  notebook: string;
  success?: boolean;
  cancelled?: boolean;
  durationMs?: number;
  error?: string;
}

export interface StaleReason {
  reason: string;
  cell?: string;
  variable?: string;
}
/** A variant member (`group` ... `active`), or a `@per_variant` cell (`per_variant`). */
export interface VariantInfo {
  group?: string;
  name?: string;
  mode?: 'switch' | 'sweep';
  active?: boolean;
  per_variant?: string;
}
export type CellStateName = 'ready' | 'stale' | 'never_run' | 'error' | 'running';
export interface CellState {
  id: string;
  state: CellStateName;
  reasons?: StaleReason[];
  key?: string | null;
  message?: string;
  last_run?: { finished_at: number; duration_ms: number; status: string };
  /** Set when the cell is placed on a declared [[workers]] entry. */
  worker?: string;
  backend?: string;
  variant?: VariantInfo;
}
export interface NotebookState {
  notebook: string;
  cells: CellState[];
}

/** Cached outputs of cells whose current key is in the store (replayed on open). */
export interface CachedCell {
  cellId: string;
  key?: string;
  status: 'ok' | 'error';
  outputs: MimeBundle[];
  stdout?: string;
  stderr?: string;
  error?: string | null;
  traceback?: string | null;
  durationMs?: number;
}
export interface CachedOutputsResult {
  cells: CachedCell[];
}

export interface DagLoop {
  maxIter: number | null;
  carry: string | null;
  startFrom?: string;
  /** How many iterations the cell's current key stored (absent while it has no key). */
  iterations?: number;
}
/** Every cell in notebook order; variant and loop fields as the engine reports them. */
export interface DagNode {
  id: string;
  group?: string;
  variant?: string;
  mode?: 'switch' | 'sweep';
  active?: boolean;
  per_variant?: string;
  loop?: DagLoop;
}
export interface DagResult {
  nodes?: DagNode[];
  /** `variable` is null for an `@after` edge. */
  edges: { from: string; to: string; variable: string | null }[];
  order: string[];
  cycles?: string[][];
}

export interface SetActiveVariantParams {
  notebook: string;
  group: string;
  name: string;
}
export interface SetActiveVariantResult {
  group: string;
  active: string;
  changed: boolean;
}

export type WorkerStatus = 'healthy' | 'unhealthy' | 'unknown';
export interface WorkerHealth {
  name: string;
  backend: string;
  status: WorkerStatus;
  /** Where it was asked: the health URL or the scheduler address. */
  target?: string;
  version?: string;
  protocols?: string[];
  /** A cluster's worker count. */
  workers?: number;
  error?: string;
}
export interface WorkerHealthReport {
  notebook: string;
  /** Seconds since the epoch. */
  checkedAt: number;
  workers: WorkerHealth[];
}
export interface CheckWorkerHealthResult {
  checking: boolean;
}

/**
 * A notebook's environment (SPEC 7): its own `.venv` (pyproject.toml), the engine's
 * interpreter, or an interpreter chosen in the editor for its cells (`interpreter`).
 */
export type EnvironmentKind = 'venv' | 'embedded' | 'interpreter';
export type EnvironmentStateName = 'ready' | 'missing' | 'out_of_sync';
export interface EnvironmentInfo {
  notebook: string;
  kind: EnvironmentKind;
  /** The interpreter version, "3.11.7". */
  python: string;
  executable: string;
  /** The `.venv` directory (venv only). */
  path?: string;
  /** Hash of uv.lock (or of the resolved package list). */
  lockHash?: string;
  state: EnvironmentStateName;
  hasPyproject: boolean;
  /** pyproject.toml cannot be read (its message, naming the file). */
  error?: string;
}
/** One line of uv's output while a sync or an add runs. */
export interface EnvironmentLog {
  notebook: string;
  text: string;
}
export interface EnvironmentActionResult {
  ok: boolean;
  message: string;
}
/** The argument of the `strata.addPackage` command of the `import_unresolved` quick fix. */
export interface AddPackageArgs {
  notebook: string;
  package: string;
  cellId?: string;
}

export const Methods = {
  run: 'strata/run',
  cancel: 'strata/cancel',
  state: 'strata/state',
  cachedOutputs: 'strata/cachedOutputs',
  dag: 'strata/dag',
  cellStarted: 'strata/cellStarted',
  cellCacheHit: 'strata/cellCacheHit',
  cellOutput: 'strata/cellOutput',
  cellStream: 'strata/cellStream',
  cellProgress: 'strata/cellProgress',
  cellError: 'strata/cellError',
  cellFinished: 'strata/cellFinished',
  runFinished: 'strata/runFinished',
  notebookState: 'strata/notebookState',
  workerHealth: 'strata/workerHealth',
  checkWorkerHealth: 'strata/checkWorkerHealth',
  setActiveVariant: 'strata/setActiveVariant',
  environment: 'strata/environment',
  environmentChanged: 'strata/environmentChanged',
  environmentLog: 'strata/environmentLog',
  syncEnvironment: 'strata/syncEnvironment',
  addPackage: 'strata/addPackage',
} as const;
