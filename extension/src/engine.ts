// Short calls into the engine with the server's interpreter: the `strata` CLI (dag, new) and
// the writers a save uses (python/write_cells.py, python/write_manifest.py); the language
// server never writes files.
import * as path from 'path';
import { ManifestCell } from './notebookDir';
import { CellFileText, NotebookWriter } from './notebookSave';
import { runChecked } from './process';
import { StrataServer } from './server';

export class Engine {
  constructor(
    private readonly server: StrataServer,
    private readonly extensionPath: string,
  ) {}

  private async python(): Promise<string> {
    if (this.server.environment === undefined) await this.server.ensureStarted();
    return this.server.environment!.python;
  }

  /** `strata ARGS...`; returns stdout, throws with stderr on a non-zero exit. */
  async cli(args: string[], cwd?: string): Promise<string> {
    return runChecked(await this.python(), ['-m', 'strata_engine.cli', ...args], { cwd });
  }

  readonly writer: NotebookWriter = {
    writeCells: async (directory: string, cells: CellFileText[]) => {
      await this.helper('write_cells.py', { directory, write: cells });
    },
    writeManifest: async (directory: string, cells: ManifestCell[]) => {
      await this.helper('write_manifest.py', { directory, cells });
    },
    removeCellFiles: async (directory: string, files: string[]) => {
      await this.helper('write_cells.py', { directory, remove: files });
    },
  };

  private async helper(name: string, request: unknown): Promise<string> {
    const script = path.join(this.extensionPath, 'python', name);
    return runChecked(await this.python(), [script], { input: JSON.stringify(request) });
  }
}
