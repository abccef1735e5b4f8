// Cell files and notebook.toml opened as plain text: the language client syncs them too, so
// their unsaved edits reach the server (which maps a `cells/...` file to its notebook through
// the nearest notebook.toml, strata_lsp/documents.py) and their diagnostics, hovers and fixes
// appear in the text editor as in the notebook.
//
// A glob cannot say "a cells/ folder with a notebook.toml beside it", so the selector is wide
// (any file under a `cells` folder: a cell file may have any suffix and sit in a subfolder)
// and the middleware forwards only documents of a notebook; a `cells/` folder of some other
// project never reaches the server.
import { existsSync } from 'fs';
import * as path from 'path';
import type * as vscode from 'vscode';
import type { DocumentSelector, Middleware } from 'vscode-languageclient/node';
import { CELLS_DIR, MANIFEST } from './notebookDir';

export const TEXT_DOCUMENT_SELECTOR: DocumentSelector = [
  { scheme: 'file', pattern: `**/${CELLS_DIR}/**` },
  { scheme: 'file', pattern: `**/${MANIFEST}` },
];

/**
 * The notebook directory a text file belongs to: itself for a notebook.toml, else the parent
 * of the nearest `cells` folder above the file when that parent has a notebook.toml.
 */
export function notebookOfTextFile(file: string, exists: (target: string) => boolean = existsSync, p: path.PlatformPath = path): string | undefined {
  if (p.basename(file) === MANIFEST) return p.dirname(file);
  for (let dir = p.dirname(file); p.dirname(dir) !== dir; dir = p.dirname(dir)) {
    if (p.basename(dir) !== CELLS_DIR) continue;
    const notebook = p.dirname(dir);
    return exists(p.join(notebook, MANIFEST)) ? notebook : undefined;
  }
  return undefined;
}

/**
 * Forwards a text document's open, changes, save and close only when it belongs to a
 * notebook when it opened (a document the server never saw opening must not send changes).
 */
export function notebookTextMiddleware(): Middleware {
  const forwarded = new Set<string>();
  const known = (document: vscode.TextDocument): boolean => document.uri.scheme !== 'file' || forwarded.has(document.uri.toString());
  return {
    didOpen: (document, next) => {
      if (document.uri.scheme === 'file' && notebookOfTextFile(document.uri.fsPath) === undefined) return Promise.resolve();
      forwarded.add(document.uri.toString());
      return next(document);
    },
    didChange: (event, next) => (known(event.document) ? next(event) : Promise.resolve()),
    didSave: (document, next) => (known(document) ? next(document) : Promise.resolve()),
    didClose: (document, next) => {
      if (!known(document)) return Promise.resolve();
      forwarded.delete(document.uri.toString());
      return next(document);
    },
  };
}
