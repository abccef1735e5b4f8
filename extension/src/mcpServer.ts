// `strata mcp` as an MCP server definition in VS Code (setting strata.mcp.enabled): one stdio
// server per workspace folder, acting only on notebooks under that folder, run by the same
// Python as the language server. It gets --allow-run only when strata.mcp.allowRun is set and
// the workspace is trusted; otherwise its tools that run code refuse. The interpreter may need
// installing first, which VS Code allows only when a server is about to start: provide() names
// the known interpreter (or a placeholder) and resolve() makes sure of it.
import * as vscode from 'vscode';
import { StrataServer } from './server';

export const MCP_PROVIDER_ID = 'strata.mcpServers';
const SETTINGS = ['strata.mcp.enabled', 'strata.mcp.allowRun'];
/** Stands in for the server's Python until resolve() knows it. */
const UNRESOLVED_PYTHON = 'python3';

export interface McpSettings {
  enabled: boolean;
  allowRun: boolean;
  trusted: boolean;
}

export interface McpServerSpec {
  label: string;
  command: string;
  args: string[];
  cwd: string;
}

/** The servers to offer: none when disabled, else one per folder. Pure, for the tests. */
export function mcpServerSpecs(folders: readonly { name: string; path: string }[], python: string, settings: McpSettings): McpServerSpec[] {
  if (!settings.enabled) return [];
  const allowRun = settings.allowRun && settings.trusted ? ['--allow-run'] : [];
  return folders.map((folder) => ({
    label: folders.length > 1 ? `Strata notebooks (${folder.name})` : 'Strata notebooks',
    command: python,
    args: ['-m', 'strata_engine.cli', 'mcp', folder.path, ...allowRun],
    cwd: folder.path,
  }));
}

function currentSettings(): McpSettings {
  const config = vscode.workspace.getConfiguration('strata.mcp');
  return { enabled: config.get<boolean>('enabled', true), allowRun: config.get<boolean>('allowRun', false), trusted: vscode.workspace.isTrusted };
}

export class StrataMcpProvider implements vscode.McpServerDefinitionProvider<vscode.McpStdioServerDefinition>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeMcpServerDefinitions = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changed];

  constructor(private readonly server: StrataServer) {
    const fire = (): void => this.changed.fire();
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((event) => SETTINGS.some((name) => event.affectsConfiguration(name)) && fire()),
      vscode.workspace.onDidChangeWorkspaceFolders(fire),
      vscode.workspace.onDidGrantWorkspaceTrust(fire),
      server.onDidStart(fire), // the interpreter may have changed
    );
  }

  provideMcpServerDefinitions(): vscode.McpStdioServerDefinition[] {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file').map((folder) => ({ name: folder.name, path: folder.uri.fsPath }));
    const python = this.server.environment?.python ?? UNRESOLVED_PYTHON;
    return mcpServerSpecs(folders, python, currentSettings()).map((spec) => {
      const definition = new vscode.McpStdioServerDefinition(spec.label, spec.command, spec.args, { PYTHONUNBUFFERED: '1' });
      definition.cwd = vscode.Uri.file(spec.cwd);
      return definition;
    });
  }

  async resolveMcpServerDefinition(definition: vscode.McpStdioServerDefinition): Promise<vscode.McpStdioServerDefinition> {
    if (this.server.environment === undefined) await this.server.ensureStarted();
    definition.command = this.server.environment!.python;
    return definition;
  }

  dispose(): void {
    this.subscriptions.forEach((subscription) => void subscription.dispose());
  }
}

/** Registers the provider (package.json's mcpServerDefinitionProviders names its id). */
export function registerMcpServer(server: StrataServer): { provider: StrataMcpProvider; disposable: vscode.Disposable } {
  const provider = new StrataMcpProvider(server);
  return { provider, disposable: vscode.Disposable.from(provider, vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, provider)) };
}
