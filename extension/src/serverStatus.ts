// A status bar entry for the language server: starting (or installing), running, or not
// running with a click to its output. It appears as soon as the extension is active.
import * as vscode from 'vscode';
import { ServerState, StrataServer } from './server';

const TEXT: Record<ServerState, { text: string; tooltip: string }> = {
  stopped: { text: '$(circle-outline) Strata', tooltip: 'The Strata server starts with the first notebook.' },
  starting: { text: '$(sync~spin) Strata', tooltip: 'The Strata server is starting (the first start installs it).' },
  running: { text: '$(check) Strata', tooltip: 'The Strata server is running. Click for its output.' },
  failed: { text: '$(error) Strata', tooltip: 'The Strata server is not running. Click for its output.' },
};

export function serverStatusItem(server: StrataServer): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('strata.server', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Strata Server';
  item.command = 'strata.showServerOutput';
  const show = (state: ServerState): void => {
    item.text = TEXT[state].text;
    item.tooltip = TEXT[state].tooltip;
    item.backgroundColor = state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  };
  show(server.state);
  item.show();
  const subscription = server.onDidChangeState(show);
  return vscode.Disposable.from(item, subscription);
}
