// Server results -> notebook outputs. Displays arrive as mime bundles (text/plain always;
// text/html, text/markdown, image/png when the value has them); binary types are base64.
import * as vscode from 'vscode';
import { CachedCell, MimeBundle } from './protocol';

const BINARY = /^image\/(png|jpeg|gif|webp)$/;

export function displayOutput(data: MimeBundle, cached: boolean): vscode.NotebookCellOutput {
  const items = Object.entries(data).map(([mime, value]) =>
    BINARY.test(mime)
      ? new vscode.NotebookCellOutputItem(Buffer.from(value, 'base64'), mime)
      : mime === 'application/json'
        ? vscode.NotebookCellOutputItem.text(typeof value === 'string' ? value : JSON.stringify(value), mime)
        : vscode.NotebookCellOutputItem.text(value, mime),
  );
  return new vscode.NotebookCellOutput(items, { strata: { cached } });
}

export function streamItem(stream: 'stdout' | 'stderr', text: string): vscode.NotebookCellOutputItem {
  return stream === 'stderr' ? vscode.NotebookCellOutputItem.stderr(text) : vscode.NotebookCellOutputItem.stdout(text);
}

export function streamOutput(stream: 'stdout' | 'stderr', text: string, cached: boolean): vscode.NotebookCellOutput {
  return new vscode.NotebookCellOutput([streamItem(stream, text)], { strata: { cached, stream } });
}

/** An error with its Python traceback. The engine's message reads "ValueError: ..."; the
 * part before the colon becomes the error's name, as the error renderer shows it. */
export function errorOutput(message: string, traceback?: string): vscode.NotebookCellOutput {
  const match = /^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)): (.*)$/s.exec(message);
  const value: Error = { name: match ? match[1] : 'Error', message: match ? match[2] : message, stack: traceback || message };
  return new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error(value)]);
}

/** Which stream an output carries, if it is one of ours. */
export function streamOf(output: vscode.NotebookCellOutput | undefined): string | undefined {
  const strata = output?.metadata?.strata as { stream?: string } | undefined;
  return strata?.stream;
}

/** What a cache hit shows: its console, its displays, its error (`hit` false: the stored
 * result of a run that executed it, shown as that run's outputs). */
export function cachedOutputs(cached: CachedCell, hit = true): vscode.NotebookCellOutput[] {
  const outputs: vscode.NotebookCellOutput[] = [];
  if (cached.stdout) outputs.push(streamOutput('stdout', cached.stdout, hit));
  if (cached.stderr) outputs.push(streamOutput('stderr', cached.stderr, hit));
  outputs.push(...cached.outputs.map((data) => displayOutput(data, hit)));
  if (cached.status === 'error') outputs.push(errorOutput(cached.error ?? 'failed', cached.traceback ?? undefined));
  return outputs;
}

export function isCached(output: vscode.NotebookCellOutput): boolean {
  return (output.metadata?.strata as { cached?: boolean } | undefined)?.cached === true;
}
