// Direct, non-recursive watches (Node's fs.watch: inotify on Linux) on the few directories a
// notebook lives in, kept beside VS Code's file watcher. VS Code's workspace watcher gives up
// for the rest of the window's life after five unexpected errors, and its recursive inotify
// walk raises one whenever a directory vanishes between being seen and being watched (a
// package install, a test run or git in the workspace). An outside edit would then never
// show. A watch on notebook/ and cells/ only does not share that fate; the two report the same
// changes and their consumers compare content, so a change seen twice costs one read.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

/** Subdirectories of a watched tree looked at, at most (cells/ holds a few, if any). */
const MAX_DIRECTORIES = 200;

/** The directory and every directory below it, breadth first, bounded; [] when it is missing. */
export function directoriesUnder(root: string, limit = MAX_DIRECTORIES): string[] {
  const found: string[] = [];
  const queue = [root];
  while (queue.length > 0 && found.length < limit) {
    const directory = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(directory, { withFileTypes: true });
    } catch {
      continue;
    }
    found.push(directory);
    for (const entry of entries) if (entry.isDirectory()) queue.push(path.join(directory, entry.name));
  }
  return found;
}

/**
 * Watches the directories `directories()` names, each on its own. After every event the list is
 * asked again, so a directory created later (cells/, a subfolder) is picked up and a removed
 * one dropped. A directory that cannot be watched (missing, out of inotify watches) is left to
 * VS Code's watcher and tried again on the next event.
 */
export class DirectoryWatch implements vscode.Disposable {
  private readonly watches = new Map<string, fs.FSWatcher>();
  private disposed = false;

  constructor(
    private readonly directories: () => string[],
    private readonly onEvent: (file: string | undefined, directory: string) => void,
  ) {
    this.arm();
  }

  private arm(): void {
    if (this.disposed) return;
    const wanted = new Set(this.directories());
    for (const [directory, watch] of this.watches) {
      if (!wanted.has(directory)) {
        watch.close();
        this.watches.delete(directory);
      }
    }
    for (const directory of wanted) {
      if (this.watches.has(directory)) continue;
      try {
        const watch = fs.watch(directory, { persistent: false }, (_event, name) => this.fired(directory, name ?? undefined));
        watch.on('error', () => this.drop(directory, watch));
        this.watches.set(directory, watch);
      } catch {
        // Missing or unwatchable now: VS Code's watcher still covers it.
      }
    }
  }

  private fired(directory: string, name: string | undefined): void {
    if (this.disposed) return;
    this.arm();
    this.onEvent(name === undefined ? undefined : path.join(directory, name), directory);
  }

  private drop(directory: string, watch: fs.FSWatcher): void {
    watch.close();
    if (this.watches.get(directory) === watch) this.watches.delete(directory);
  }

  dispose(): void {
    this.disposed = true;
    this.watches.forEach((watch) => watch.close());
    this.watches.clear();
  }
}
