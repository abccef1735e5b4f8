// Which Python runs the Strata server, and installing the server into a private environment.
//
// 1. `STRATA_SERVER_PYTHON` or `strata.serverPython`: a Python that already has the server
//    (development: the repo's .venv). Nothing is installed.
// 2. Otherwise a virtual environment under the extension's global storage, created from the
//    `server/` sources bundled in the .vsix, with uv when it is on PATH, else venv + pip.
//    The base interpreter is `strata.python`, else the Python extension's, else python3.
// Every failure is a SetupError whose message says what to do about it.
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { venvPython, venvScriptsDir } from './paths';
import { runChecked, runProcess } from './process';

export interface ServerEnvironment {
  python: string;
  /** Directory holding the `strata` script, put on terminals' PATH. */
  binDir: string;
  managed: boolean;
}

export class SetupError extends Error {
  constructor(
    message: string,
    readonly setting?: string,
  ) {
    super(message);
  }
}

const MIN_VERSION = '(3, 11)';

export async function resolveServerEnvironment(context: vscode.ExtensionContext, log: vscode.OutputChannel): Promise<ServerEnvironment> {
  const configured = process.env.STRATA_SERVER_PYTHON || vscode.workspace.getConfiguration('strata').get<string>('serverPython', '');
  if (configured) {
    const check = await runProcess(configured, ['-c', 'import strata_engine, strata_lsp']).catch((error: Error) => ({ code: -1, stderr: error.message, stdout: '' }));
    if (check.code !== 0) {
      throw new SetupError(`strata.serverPython (${configured}) cannot import the Strata server: ${lastLine(check.stderr)}. Install it there (pip install -e 'server[lsp]') or clear the setting.`, 'strata.serverPython');
    }
    return { python: configured, binDir: path.dirname(configured), managed: false };
  }
  return ensureManagedEnvironment(context, log);
}

async function ensureManagedEnvironment(context: vscode.ExtensionContext, log: vscode.OutputChannel): Promise<ServerEnvironment> {
  const serverDir = await bundledServerDir(context);
  const envDir = path.join(context.globalStorageUri.fsPath, 'server-env');
  const binDir = venvScriptsDir(envDir);
  const python = venvPython(envDir);
  const stampPath = path.join(envDir, '.strata-server');
  const version = (context.extension.packageJSON as { version: string }).version;
  // The base interpreter setting is part of the stamp: changing strata.python rebuilds the
  // environment from the new base (the server restarts on that setting, serverSettings.ts).
  const wanted = `${version} ${await hashTree(serverDir)} ${baseSetting()}`;
  const current = await fs.readFile(stampPath, 'utf8').catch(() => '');
  if (current === wanted && (await exists(python))) return { python, binDir, managed: true };

  const base = await findBasePython(log);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Strata: installing the notebook server (first start only)', cancellable: false },
    (progress) => install(base, serverDir, envDir, log, (message) => progress.report({ message })),
  );
  if (!(await exists(python))) {
    throw new SetupError(`the Strata server environment has no interpreter at ${python}; set strata.python to a standard CPython 3.11+ and restart the server`, 'strata.python');
  }
  await fs.writeFile(stampPath, wanted);
  return { python, binDir, managed: true };
}

/** The `server/` sources: inside the .vsix, or the repository's when running from source. */
async function bundledServerDir(context: vscode.ExtensionContext): Promise<string> {
  for (const candidate of [path.join(context.extensionPath, 'server'), path.join(context.extensionPath, '..', 'server')]) {
    if (await exists(path.join(candidate, 'pyproject.toml'))) return candidate;
  }
  throw new SetupError('the Strata server sources are missing from this extension; reinstall the extension');
}

export async function findBasePython(log: vscode.OutputChannel): Promise<string> {
  const setting = baseSetting();
  const candidates = setting ? [setting] : [...(await pythonExtensionInterpreter()), 'python3', 'python'];
  for (const candidate of candidates) {
    const result = await runProcess(candidate, ['-c', `import sys; print(sys.version.split()[0]); raise SystemExit(sys.version_info < ${MIN_VERSION})`]).catch(() => undefined);
    log.appendLine(`python candidate ${candidate}: ${result === undefined ? 'not found' : `${result.stdout.trim()} (exit ${result.code})`}`);
    if (result?.code === 0) return candidate;
  }
  const tried = candidates.join(', ');
  throw new SetupError(
    setting
      ? `strata.python (${setting}) is not Python 3.11 or newer. Point it at a Python 3.11+ interpreter.`
      : `Strata needs Python 3.11 or newer and found none (tried ${tried}). Install Python 3.11+, or set strata.python to its path.`,
    'strata.python',
  );
}

function baseSetting(): string {
  return vscode.workspace.getConfiguration('strata').get<string>('python', '');
}

/** The interpreter selected in the Python extension, if that extension is installed. */
async function pythonExtensionInterpreter(): Promise<string[]> {
  const extension = vscode.extensions.getExtension('ms-python.python');
  if (extension === undefined) return [];
  try {
    const api = (await extension.activate()) as { environments?: { getActiveEnvironmentPath?: () => { path?: string } } };
    const found = api.environments?.getActiveEnvironmentPath?.()?.path;
    return found ? [found] : [];
  } catch {
    return [];
  }
}

async function install(base: string, serverDir: string, envDir: string, log: vscode.OutputChannel, report: (message: string) => void): Promise<void> {
  // Build in a scratch copy (pip writes build metadata next to the sources, and the
  // installed extension's folder should stay untouched) and into a fresh environment that
  // replaces the old one only once complete, so a failed install leaves nothing half-done.
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-server-'));
  const staging = `${envDir}.new`;
  const onOutput = (text: string): void => log.append(text);
  try {
    await fs.cp(serverDir, path.join(scratch, 'server'), { recursive: true, filter: (source) => !/(__pycache__|\.egg-info|\.mypy_cache)$/.test(source) });
    await fs.rm(staging, { recursive: true, force: true });
    await fs.mkdir(path.dirname(envDir), { recursive: true });
    const target = `${path.join(scratch, 'server')}[lsp]`;
    // venv's layout differs per platform (Scripts/python.exe on Windows), and uv follows it.
    const stagingPython = venvPython(staging);
    const uv = await runProcess('uv', ['--version']).then((r) => r.code === 0, () => false);
    report('creating the environment');
    log.appendLine(`installing the Strata server into ${envDir} with ${uv ? 'uv' : 'venv + pip'} (base ${base})`);
    if (uv) {
      await runChecked('uv', ['venv', '--python', base, staging], { onOutput });
      report('installing packages (pandas, pyarrow, ...)');
      await runChecked('uv', ['pip', 'install', '--python', stagingPython, target], { onOutput });
    } else {
      await runChecked(base, ['-m', 'venv', staging], { onOutput });
      report('installing packages (pandas, pyarrow, ...); this takes a minute');
      await runChecked(stagingPython, ['-m', 'pip', 'install', '--disable-pip-version-check', target], { onOutput });
    }
    await runChecked(stagingPython, ['-c', 'import strata_engine, strata_lsp']);
    await fs.rm(envDir, { recursive: true, force: true });
    await fs.rename(staging, envDir);
  } catch (error) {
    log.appendLine(String(error));
    throw new SetupError(`installing the Strata server failed: ${lastLine(String(error))}. See "Strata: Show Server Output" for the installer's log; check the network or set strata.python to another Python.`, 'strata.python');
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && !/^(__pycache__|\..*|.*\.egg-info)$/.test(entry.name)) await walk(full);
      else if (entry.isFile() && /\.(py|toml|typed)$/.test(entry.name)) hash.update(path.relative(root, full)).update(await fs.readFile(full));
    }
  };
  await walk(root);
  return hash.digest('hex').slice(0, 16);
}

async function exists(target: string): Promise<boolean> {
  return fs.stat(target).then(() => true, () => false);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? text;
}
