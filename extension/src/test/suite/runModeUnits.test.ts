// Pure pieces of Run mode and promotion: the status text and tooltip of a frozen notebook,
// the Copy to Workspace name check and what the copy keeps, and the module path check and
// success message of Promote Cell to Module.
import * as assert from 'assert';
import * as path from 'path';
import { defaultModulePath, modulePathProblem, promotedMessage } from '../../promote';
import { copiedInCopy, copyNameProblem, defaultCopyName, frozenDate, NotebookLock, runModeText, runModeTooltip } from '../../runMode';

const LOCK: NotebookLock = {
  version: 1,
  notebook_id: 'nb',
  frozen_at: '2026-12-02T03:13:20Z',
  environment: '83f19727191cf09d5323d72906f66b97',
  cells: {
    params: { key: 'k1', environment: 'e', reads_mounts: false, outputs: { seed: { digest: 'd', content_type: 'json/object' } } },
    train: { key: 'k2', environment: 'e', reads_mounts: false, outputs: {} },
  },
};

suite('Run mode and promotion (units)', () => {
  test('status text names the freeze date; tooltip says read-only and how to edit', () => {
    assert.strictEqual(frozenDate(LOCK.frozen_at), '2026-12-02 03:13 UTC');
    assert.strictEqual(frozenDate('yesterday'), 'yesterday');
    assert.strictEqual(runModeText(LOCK), '$(lock) Run mode (frozen 2026-12-02 03:13 UTC)');
    const tooltip = runModeTooltip(LOCK);
    assert.match(tooltip, /2 cells locked/);
    assert.match(tooltip, /read-only/);
    assert.match(tooltip, /copy/);
  });

  test('copy names: empty, path-like, hidden and existing names are refused with the reason', () => {
    const taken = new Set(['/w/expensive', '/w/expensive-copy']);
    const exists = (candidate: string): boolean => taken.has(candidate);
    assert.match(copyNameProblem('  ', exists, '/w') ?? '', /Type a folder name/);
    assert.match(copyNameProblem('a/b', exists, '/w') ?? '', /not a folder name/);
    assert.match(copyNameProblem('..', exists, '/w') ?? '', /not a folder name/);
    assert.match(copyNameProblem('.hidden', exists, '/w') ?? '', /hidden/);
    assert.match(copyNameProblem('expensive', exists, '/w') ?? '', /\/w\/expensive already exists.*never overwrites/);
    assert.strictEqual(copyNameProblem('mine', exists, '/w'), undefined);
    assert.strictEqual(defaultCopyName('/w/expensive', exists), 'expensive-copy-2');
    assert.strictEqual(defaultCopyName('/w/other', exists), 'other-copy');
  });

  test('the copy leaves out strata.lock and the store runtime files, keeps the artifacts', () => {
    const dir = '/w/nb';
    const keeps = (relative: string): boolean => copiedInCopy(dir, path.join(dir, relative));
    assert.ok(keeps(''));
    assert.ok(keeps('notebook.toml'));
    assert.ok(keeps('cells/a.py'));
    assert.ok(!keeps('strata.lock'));
    assert.ok(keeps('cells/strata.lock'), 'only the top-level lock is the snapshot');
    assert.ok(keeps('.strata'));
    assert.ok(keeps('.strata/.gitignore'));
    assert.ok(keeps('.strata/artifacts'));
    assert.ok(keeps('.strata/artifacts/blobs/ab/cd'));
    assert.ok(keeps('.strata/artifacts/index.sqlite'));
    assert.ok(!keeps('.strata/artifacts/gc.lock'));
    assert.ok(!keeps('.strata/artifacts/leases'));
    assert.ok(!keeps('.strata/artifacts/tmp'));
    assert.ok(!keeps('.strata/console'));
  });

  test('module paths: relative .py files with an importable name inside the notebook', () => {
    assert.strictEqual(defaultModulePath('clean'), 'lib/clean.py');
    assert.strictEqual(modulePathProblem('lib/clean.py'), undefined);
    assert.strictEqual(modulePathProblem('helpers.py'), undefined);
    assert.match(modulePathProblem('') ?? '', /Type the module path/);
    assert.match(modulePathProblem('/abs/x.py') ?? '', /relative/);
    assert.match(modulePathProblem('lib/x.txt') ?? '', /\.py/);
    assert.match(modulePathProblem('../x.py') ?? '', /inside the notebook/);
    assert.match(modulePathProblem('lib/my-mod.py') ?? '', /not an importable module name/);
    assert.match(modulePathProblem('lib/1x.py') ?? '', /not an importable/);
  });

  test('the success message names the moved names, the module and the test file, relative to the notebook', () => {
    const message = promotedMessage({ cell: 'clean', names: ['tidy', 'Cleaner'], module: '/w/nb/lib/clean.py', test: '/w/nb/tests/test_clean.py', cell_file: '/w/nb/cells/clean.py' }, '/w/nb');
    assert.strictEqual(message, 'Strata: moved `tidy`, `Cleaner` from cell clean to lib/clean.py; skeleton tests in tests/test_clean.py.');
  });
});
