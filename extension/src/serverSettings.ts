// The server restarts when a setting it was started with changes: its interpreter
// (strata.serverPython, or strata.python, the base of the private environment, whose stamp
// includes it so a change rebuilds it) and what it reads once at start
// (strata.workerHealthInterval). Only an effective change counts: strata.python does not
// matter while a server interpreter is configured, so toggling it then restarts nothing.
import * as vscode from 'vscode';
import { StrataServer } from './server';

const SETTINGS = ['strata.python', 'strata.serverPython', 'strata.workerHealthInterval'];

/** What the server's start depends on, as one comparable string. */
export function effectiveSettings(read: (name: string) => unknown, serverPythonVariable: string | undefined): string {
  const text = (name: string): string => {
    const value = read(name);
    return typeof value === 'string' ? value : '';
  };
  const serverPython = serverPythonVariable || text('serverPython');
  return JSON.stringify({ serverPython, python: serverPython ? '' : text('python'), workerHealthInterval: read('workerHealthInterval') });
}

function current(): string {
  const config = vscode.workspace.getConfiguration('strata');
  return effectiveSettings((name) => config.get(name), process.env.STRATA_SERVER_PYTHON);
}

export function restartOnSettingsChange(server: StrataServer): vscode.Disposable {
  let startedWith = current();
  const started = server.onDidStart(() => (startedWith = current()));
  const changed = vscode.workspace.onDidChangeConfiguration((event) => {
    if (!SETTINGS.some((name) => event.affectsConfiguration(name))) return;
    const now = current();
    if (now === startedWith || server.state === 'stopped') return;
    startedWith = now;
    server.output.appendLine('settings changed: restarting the server');
    void server.restart().catch(() => undefined);
  });
  return vscode.Disposable.from(started, changed);
}
