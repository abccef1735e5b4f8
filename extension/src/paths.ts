// Where a virtual environment keeps its interpreter and scripts, per platform. Pure (the
// platform is a parameter), so both layouts are tested on any machine: venv puts them in
// `bin/` on POSIX and in `Scripts/` (with `.exe`) on Windows.
import * as path from 'path';

export type Platform = NodeJS.Platform;

/** The path module of a platform: Windows paths must join with backslashes even when tested on Linux. */
function pathFor(platform: Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** The directory of a venv holding its interpreter and console scripts (`strata`). */
export function venvScriptsDir(envDir: string, platform: Platform = process.platform): string {
  return pathFor(platform).join(envDir, platform === 'win32' ? 'Scripts' : 'bin');
}

/** A venv's interpreter. */
export function venvPython(envDir: string, platform: Platform = process.platform): string {
  return pathFor(platform).join(venvScriptsDir(envDir, platform), platform === 'win32' ? 'python.exe' : 'python');
}

/** The interpreter of a notebook's own environment (`<notebook>/.venv`, SPEC 7). */
export function notebookVenvPython(directory: string, platform: Platform = process.platform): string {
  return venvPython(pathFor(platform).join(directory, '.venv'), platform);
}

