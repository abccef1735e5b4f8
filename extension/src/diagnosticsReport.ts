// "Strata: Show Diagnostics": one untitled markdown report for bug reports: the server
// (version, pid, uptime), its interpreter, the active notebook's environment (from
// `strata/environment` when the server answers it) and cell interpreter, the versions of the
// extension, VS Code and the Python extension, the strata.* settings and the environment
// variables that steer Python and Strata. Secrets never appear: a variable or setting whose
// name looks like one is listed with its value redacted.
import * as os from 'os';
import * as vscode from 'vscode';
import { FOLLOW, describeInterpreter, InterpreterChoices } from './interpreterChoice';
import { notebookMetadata } from './metadata';
import { isStrataNotebook } from './opening';
import { StrataServer } from './server';

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;
const REDACTED = '<redacted>';
/** Environment variables worth a line: what decides which Python runs and how Strata behaves. */
const RELEVANT_VARIABLE = /^(STRATA_|PYTHON|VIRTUAL_ENV$|CONDA_|UV_|PIP_|PATH$|AWS_|OPENAI_)/;
const ENVIRONMENT_METHOD = 'strata/environment';

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The variables the report lists, sorted, with secret-looking ones redacted. */
export function reportedVariables(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.keys(env)
    .filter((name) => RELEVANT_VARIABLE.test(name) && env[name] !== undefined)
    .sort()
    .map((name) => [name, isSecretName(name) ? REDACTED : (env[name] ?? '')]);
}

/** Settings with secret-looking names redacted (values of nested objects too). */
export function redactSettings(value: unknown, name = ''): unknown {
  if (name && isSecretName(name)) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactSettings(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, inner]) => [key, redactSettings(inner, key)]));
  }
  return value;
}

export interface ReportData {
  generated: string;
  versions: Record<string, string>;
  server: Record<string, string>;
  interpreter: Record<string, string>;
  notebook: Record<string, string> | undefined;
  environment: unknown;
  settings: Record<string, unknown>;
  variables: [string, string][];
}

function table(rows: Record<string, string>): string {
  const lines = Object.entries(rows).map(([key, value]) => `| ${key} | ${value.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
  return ['| | |', '| --- | --- |', ...lines].join('\n');
}

function block(value: unknown): string {
  return ['```json', JSON.stringify(value, null, 2), '```'].join('\n');
}

/** The report's markdown (pure). */
export function formatReport(data: ReportData): string {
  const sections = [
    `# Strata diagnostics\n\nGenerated ${data.generated}. Values of variables and settings whose names look secret are ${REDACTED}; read it through before sharing.`,
    `## Versions\n\n${table(data.versions)}`,
    `## Server\n\n${table(data.server)}`,
    `## Server interpreter\n\n${table(data.interpreter)}`,
    data.notebook === undefined ? '## Notebook\n\nNo Strata notebook is active.' : `## Notebook\n\n${table(data.notebook)}`,
    `## Notebook environment\n\n${typeof data.environment === 'string' ? data.environment : block(data.environment)}`,
    `## Settings (strata.*)\n\n${block(data.settings)}`,
    `## Environment variables\n\n${data.variables.length === 0 ? 'None of interest set.' : ['```', ...data.variables.map(([name, value]) => `${name}=${value}`), '```'].join('\n')}`,
  ];
  return `${sections.join('\n\n')}\n`;
}

function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const parts = [[Math.floor(seconds / 3600), 'h'], [Math.floor((seconds % 3600) / 60), 'm'], [seconds % 60, 's']] as const;
  return parts.filter(([value], index) => value > 0 || index === 2).map(([value, unit]) => `${value}${unit}`).join(' ');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Everything the report shows, gathered now. */
export async function collectReport(context: vscode.ExtensionContext, server: StrataServer, choices: InterpreterChoices): Promise<ReportData> {
  const client = server.languageClient;
  const info = client?.initializeResult?.serverInfo;
  const python = vscode.extensions.getExtension('ms-python.python');
  const versions: Record<string, string> = {
    'Strata extension': String((context.extension.packageJSON as { version?: string }).version ?? 'unknown'),
    'VS Code': `${vscode.version} (${vscode.env.appName}${vscode.env.remoteName ? `, remote ${vscode.env.remoteName}` : ''})`,
    'Python extension': python ? String((python.packageJSON as { version?: string }).version ?? 'installed') : 'not installed',
    'OS': `${os.platform()} ${os.release()} ${os.arch()}`,
    'Extension host Node': process.version,
  };
  const serverRows: Record<string, string> = {
    state: server.state,
    version: info ? `${info.name} ${info.version ?? ''}`.trim() : 'unknown (not started)',
    pid: String(client?.serverProcess?.pid ?? 'none'),
    uptime: server.startedAt !== undefined && server.isRunning ? duration(Date.now() - server.startedAt) : 'not running',
    command: server.environment ? `${server.environment.python} -m strata_lsp` : 'not resolved yet',
    'installed by the extension': server.environment ? (server.environment.managed ? 'yes (private environment)' : 'no (strata.serverPython / STRATA_SERVER_PYTHON)') : 'unknown',
  };
  let interpreter: Record<string, string> = { executable: 'unknown: the server has not started' };
  if (server.environment) {
    interpreter = await describeInterpreter(server.environment.python).then(
      (facts) => ({ configured: server.environment!.python, executable: facts.executable, version: facts.version }),
      (error: unknown) => ({ configured: server.environment!.python, error: message(error) }),
    );
  }
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  const directory = isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
  let notebookRows: Record<string, string> | undefined;
  let environment: unknown = 'No Strata notebook is active.';
  if (directory !== undefined) {
    const choice = choices.choice(directory);
    notebookRows = { directory, 'cell interpreter choice': choice === undefined ? 'default' : choice === FOLLOW ? "the Python extension's selected interpreter" : choice };
    environment = server.isRunning
      ? await server.request(ENVIRONMENT_METHOD, { notebook: directory }).catch((error: unknown) => `Not available from this server: ${message(error)}`)
      : 'Not available: the server is not running.';
  }
  const settings = redactSettings(JSON.parse(JSON.stringify(vscode.workspace.getConfiguration('strata'))) as unknown) as Record<string, unknown>;
  return { generated: new Date().toISOString(), versions, server: serverRows, interpreter, notebook: notebookRows, environment, settings, variables: reportedVariables(process.env) };
}

export async function showDiagnostics(context: vscode.ExtensionContext, server: StrataServer, choices: InterpreterChoices): Promise<vscode.TextDocument> {
  const content = formatReport(await collectReport(context, server, choices));
  const document = await vscode.workspace.openTextDocument({ language: 'markdown', content });
  await vscode.window.showTextDocument(document, { preview: false });
  return document;
}
