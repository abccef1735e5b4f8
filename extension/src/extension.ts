// Activation: wires the pieces together. The file system provider and the serializer are
// registered first and synchronously, because VS Code may be waiting to read a `strata:`
// notebook (that is what activated us); the server starts in the background.
import * as vscode from 'vscode';
import { AgentTools, registerAgentTools } from './agentTools';
import { NOTEBOOK_TYPE, SCHEME } from './bundle';
import { assignCellIds } from './cellIds';
import { registerCommands } from './commands';
import { connectController, createController } from './controller';
import { CellTests } from './cellTests';
import { DagViews } from './dag';
import { DataViewers, registerTableCommands } from './dataViewer';
import { showDiagnostics } from './diagnosticsReport';
import { Engine } from './engine';
import { Jupyter } from './jupyter';
import { Environments } from './environment';
import { StrataFileSystem } from './fileSystem';
import { InterpreterChoices } from './interpreterChoice';
import { OpenNotebooks } from './notebooks';
import { registerMcpServer, StrataMcpProvider } from './mcpServer';
import { ManifestLauncher } from './opening';
import { registerPromote } from './promote';
import { RunMode } from './runMode';
import { Runs } from './runs';
import { SERIALIZER_OPTIONS, StrataSerializer } from './serializer';
import { StrataServer } from './server';
import { restartOnSettingsChange } from './serverSettings';
import { serverStatusItem } from './serverStatus';
import { NotebookStates } from './states';
import { CellStatusBar } from './statusBar';
import { VariablesView } from './variablesView';
import { WorkerHealthItem } from './workerHealth';

/** What activate() returns: used by the integration tests and the benchmark. */
export interface StrataApi {
  server: StrataServer;
  runs: Runs;
  states: NotebookStates;
  fileSystem: StrataFileSystem;
  notebooks: OpenNotebooks;
  dag: DagViews;
  workers: WorkerHealthItem;
  environments: Environments;
  variables: VariablesView;
  dataViewers: DataViewers;
  cellTests: CellTests;
  runMode: RunMode;
  agentTools: AgentTools;
  mcp: StrataMcpProvider;
}

export function activate(context: vscode.ExtensionContext): StrataApi {
  const server = new StrataServer(context);
  const engine = new Engine(server, context.extensionPath);
  const fileSystem = new StrataFileSystem(engine.writer, (directory) => server.cachedResults(directory));
  const states = new NotebookStates();
  const controller = createController();
  const runs = new Runs(server, controller, states);
  connectController(controller, runs);
  const notebooks = new OpenNotebooks(server, controller, states);
  const dag = new DagViews(context.extensionUri, server, engine, states);
  const workers = new WorkerHealthItem(server, states);
  const interpreters = new InterpreterChoices(context, server);
  const environments = new Environments(server, runs);
  const variables = new VariablesView(server, states);
  const dataViewers = new DataViewers(context.extensionUri, server);
  const cellTests = new CellTests(server);
  const runMode = new RunMode(server);
  const agentTools = registerAgentTools(context, server, notebooks, (directory) => fileSystem.refresh(directory));
  const mcp = registerMcpServer(server);
  context.subscriptions.push(
    vscode.workspace.registerFileSystemProvider(SCHEME, fileSystem, { isCaseSensitive: true }),
    vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new StrataSerializer(), SERIALIZER_OPTIONS),
    fileSystem,
    ManifestLauncher.register(),
    assignCellIds(),
    controller,
    runs,
    states,
    notebooks,
    dag,
    CellStatusBar.register(states),
    serverStatusItem(server),
    workers,
    environments,
    variables,
    dataViewers,
    cellTests,
    ...registerTableCommands(dataViewers, variables, states),
    ...registerCommands({ server, runs, states, dag, engine }),
    ...new Jupyter(server).register(),
    interpreters,
    runMode,
    registerPromote(server),
    agentTools,
    mcp.disposable,
    restartOnSettingsChange(server),
    vscode.commands.registerCommand('strata.selectCellEnvironment', (target?: string) => interpreters.select(target)),
    vscode.commands.registerCommand('strata.showDiagnostics', () => showDiagnostics(context, server, interpreters)),
    server,
  );
  // Start (on first use: install) the server now: we are active because the workspace has a
  // notebook or one is opening, and a running server makes the first open show its cached
  // outputs at once.
  void server.ensureStarted().catch(() => undefined);
  return { server, runs, states, fileSystem, notebooks, dag, workers, environments, variables, dataViewers, cellTests, runMode, agentTools, mcp: mcp.provider };
}

export function deactivate(): void {
  // Disposables in context.subscriptions stop the server.
}
