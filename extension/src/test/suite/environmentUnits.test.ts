// Pure pieces of per-notebook environments in the editor: the status bar text and tooltip,
// the quick pick's actions, when opening a notebook offers to create its .venv, the check of
// a distribution typed into Add Package..., and the quick fix's argument.
import * as assert from 'assert';
import { addPackageArgs, describeEnvironment, environmentActions, environmentPrompt, environmentText, environmentTooltip, lockLabel, logLines, packageProblem } from '../../environmentView';
import { EnvironmentInfo } from '../../protocol';

const VENV: EnvironmentInfo = {
  notebook: '/w/isolated_env',
  kind: 'venv',
  python: '3.12.1',
  executable: '/w/isolated_env/.venv/bin/python',
  path: '/w/isolated_env/.venv',
  lockHash: '3fa2c1d9e8b7a6f5',
  state: 'ready',
  hasPyproject: true,
};
const EMBEDDED: EnvironmentInfo = { notebook: '/w/quickstart', kind: 'embedded', python: '3.11.7', executable: '/opt/strata/bin/python', state: 'ready', hasPyproject: false };
const MISSING: EnvironmentInfo = { ...VENV, lockHash: undefined, state: 'missing' };

suite('Environment units', () => {
  test('the status bar names .venv or embedded, the Python version and the lock', () => {
    assert.strictEqual(environmentText(VENV), '$(package) .venv · Python 3.12.1 · lock 3fa2c1');
    assert.strictEqual(environmentText(EMBEDDED), '$(package) embedded · Python 3.11.7');
    assert.strictEqual(environmentText({ ...VENV, lockHash: 'sha256:abcdef0123' }), '$(package) .venv · Python 3.12.1 · lock abcdef');
    assert.strictEqual(lockLabel(undefined), undefined);
    assert.strictEqual(lockLabel(''), undefined);
  });

  test('a missing or out-of-sync .venv looks like a warning and says which', () => {
    assert.strictEqual(describeEnvironment(VENV).warning, false);
    assert.strictEqual(describeEnvironment(EMBEDDED).warning, false);
    const missing = describeEnvironment(MISSING);
    assert.strictEqual(missing.warning, true);
    assert.strictEqual(missing.text, '$(package) .venv (not created) · Python 3.12.1');
    assert.match(missing.tooltip, /does not exist yet: Sync Environment creates it/);
    // Before the .venv exists its Python version is not known.
    const unborn = describeEnvironment({ ...MISSING, python: '' });
    assert.strictEqual(unborn.text, '$(package) .venv (not created)');
    assert.match(unborn.tooltip, /Python \(once created\): \/w\/isolated_env\/\.venv\/bin\/python/);
    const outOfSync = describeEnvironment({ ...VENV, state: 'out_of_sync' });
    assert.strictEqual(outOfSync.warning, true);
    assert.strictEqual(outOfSync.text, '$(package) .venv (out of sync) · Python 3.12.1 · lock 3fa2c1');
    assert.match(outOfSync.tooltip, /changed since the last sync/);
    const broken = describeEnvironment({ ...VENV, error: '/w/isolated_env/pyproject.toml: line 3: expected "="' });
    assert.strictEqual(broken.warning, true);
    assert.match(broken.tooltip, /Problem: \/w\/isolated_env\/pyproject\.toml: line 3/);
  });

  test('the tooltip shows the executable, the path and the full lock hash', () => {
    const lines = environmentTooltip(VENV).split('\n');
    assert.match(lines[0], /own \.venv, from its pyproject\.toml/);
    assert.ok(lines.includes('Python 3.12.1: /w/isolated_env/.venv/bin/python'), lines.join('\n'));
    assert.ok(lines.includes('Environment: /w/isolated_env/.venv'));
    assert.ok(lines.includes('Lock: 3fa2c1d9e8b7a6f5'));
    const embedded = environmentTooltip(EMBEDDED);
    assert.match(embedded, /embedded \(no pyproject\.toml\)/);
    assert.match(embedded, /Python 3\.11\.7: \/opt\/strata\/bin\/python/);
    assert.doesNotMatch(embedded, /Environment:|Lock:/);
    const chosen: EnvironmentInfo = { ...EMBEDDED, kind: 'interpreter', python: '3.12.4', executable: '/opt/conda/bin/python' };
    assert.strictEqual(environmentText(chosen), '$(package) interpreter · Python 3.12.4');
    assert.match(environmentTooltip(chosen), /chosen for this notebook’s cells/);
  });

  test('opening offers to create the .venv only when pyproject.toml exists and .venv is missing, trusted, once', () => {
    const trusted = { trusted: true, asked: false };
    assert.strictEqual(environmentPrompt(MISSING, trusted), 'create');
    assert.strictEqual(environmentPrompt(MISSING, { trusted: false, asked: false }), undefined, 'untrusted: creating runs uv');
    assert.strictEqual(environmentPrompt(MISSING, { trusted: true, asked: true }), undefined, '"Not now" holds for the session');
    assert.strictEqual(environmentPrompt(VENV, trusted), undefined);
    assert.strictEqual(environmentPrompt({ ...VENV, state: 'out_of_sync' }, trusted), undefined, 'out of sync: the status bar warns, no question');
    assert.strictEqual(environmentPrompt({ ...EMBEDDED, state: 'missing' }, trusted), undefined, 'no pyproject.toml: nothing to create');
    assert.strictEqual(environmentPrompt(undefined, trusted), undefined);
  });

  test('the quick pick offers Sync only with a pyproject.toml', () => {
    assert.deepStrictEqual(
      environmentActions(VENV).map((action) => action.id),
      ['sync', 'add', 'output'],
    );
    assert.strictEqual(environmentActions(MISSING)[0].description, 'create .venv');
    const embedded = environmentActions(EMBEDDED);
    assert.deepStrictEqual(
      embedded.map((action) => action.id),
      ['add', 'output'],
    );
    assert.match(embedded[0].description ?? '', /creates pyproject\.toml/);
  });

  test('Add Package... takes one distribution, with extras and a version', () => {
    for (const good of ['tabulate', 'scikit-learn', 'pandas>=2', 'pandas >= 2, <3', 'httpx[http2]', 'ruamel.yaml', 'numpy==1.26.4', 'Foo_Bar~=1.0']) {
      assert.strictEqual(packageProblem(good), undefined, good);
    }
    assert.match(packageProblem('   ') ?? '', /Type a distribution name/);
    assert.match(packageProblem('pandas numpy') ?? '', /One distribution at a time/);
    assert.match(packageProblem('-e .') ?? '', /not a distribution name/);
    assert.match(packageProblem('pandas>>2') ?? '', /not a distribution name/);
    assert.match(packageProblem('../local') ?? '', /not a distribution name/);
  });

  test('the quick fix argument is {notebook, package, cellId}', () => {
    assert.deepStrictEqual(addPackageArgs({ notebook: '/w/nb', package: 'tabulate', cellId: 'report' }), { notebook: '/w/nb', package: 'tabulate', cellId: 'report' });
    assert.deepStrictEqual(addPackageArgs({ notebook: '/w/nb', package: 'tabulate' }), { notebook: '/w/nb', package: 'tabulate', cellId: undefined });
    assert.strictEqual(addPackageArgs(undefined), undefined, 'from the palette: ask');
    assert.strictEqual(addPackageArgs({ notebook: '/w/nb' }), undefined);
  });

  test('uv output becomes one channel line per line', () => {
    assert.deepStrictEqual(logLines('Resolved 2 packages in 3ms\nInstalled 1 package in 2ms\n'), ['Resolved 2 packages in 3ms', 'Installed 1 package in 2ms']);
    assert.deepStrictEqual(logLines(''), []);
    assert.deepStrictEqual(logLines('\n'), []);
  });
});
