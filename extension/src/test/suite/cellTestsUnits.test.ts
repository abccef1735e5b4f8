// Pure pieces of the cell tests' Test Explorer: which functions of a test file are tests (and
// on which line), which notebook a test file belongs to, and how the engine's report entries
// become a verdict, a duration and a failure location.
import * as assert from 'assert';
import * as path from 'path';
import { CellTestResult, failureLine, notebookOfTestFile, parseTestFunctions, totalDuration, verdictOf } from '../../cellTests';

const FILE = `"""Tests for clean."""
import pytest


def test_small_orders_are_dropped(cell):
    assert (cell.orders["units"] >= 2).all()


async def test_async(cell):
    pass

def helper_test_not_collected():
    pass

class TestGrouped:
    def test_method(self, cell):
        pass

def test_redefined(cell):
    pass

def test_redefined(cell):
    assert False
`;

function result(outcome: string, extra: Partial<CellTestResult> = {}): CellTestResult {
  return { file: '/nb/cells/a.test.py', name: 'test_x', line: 5, outcome, ...extra };
}

suite('Cell tests (units)', () => {
  test('top-level def test_... functions with their 0-based lines; the last of a redefined name', () => {
    assert.deepStrictEqual(parseTestFunctions(FILE), [
      { name: 'test_small_orders_are_dropped', line: 4 },
      { name: 'test_async', line: 8 },
      { name: 'test_redefined', line: 21 },
    ]);
    assert.deepStrictEqual(parseTestFunctions('x = 1\n'), []);
    assert.deepStrictEqual(parseTestFunctions('def test_crlf(cell):\r\n    pass\r\ndef test_b():\r\n'), [
      { name: 'test_crlf', line: 0 },
      { name: 'test_b', line: 2 },
    ]);
  });

  test('a test file belongs to the notebook above its cells/ folder', () => {
    const nb = path.join(path.sep, 'w', 'nb');
    assert.strictEqual(notebookOfTestFile(path.join(nb, 'cells', 'clean.test.py')), nb);
    assert.strictEqual(notebookOfTestFile(path.join(nb, 'tests', 'clean.test.py')), undefined);
    assert.strictEqual(notebookOfTestFile(path.join(nb, 'cells', 'clean.py')), undefined);
  });

  test('report entries -> verdict: the worst wins, a fixture failure is an error', () => {
    assert.strictEqual(verdictOf([]), undefined);
    assert.strictEqual(verdictOf([result('passed')]), 'passed');
    assert.strictEqual(verdictOf([result('skipped')]), 'skipped');
    assert.strictEqual(verdictOf([result('failed')]), 'failed');
    assert.strictEqual(verdictOf([result('error', { when: 'setup' })]), 'errored');
    assert.strictEqual(verdictOf([result('passed'), result('error', { when: 'teardown' })]), 'errored');
    assert.strictEqual(verdictOf([result('skipped'), result('passed')]), 'skipped');
  });

  test('a failure points at the failing line in the test file, else at the def; durations add up', () => {
    assert.strictEqual(failureLine(result('failed', { failureLine: 7 })), 6);
    assert.strictEqual(failureLine(result('failed')), 4);
    assert.strictEqual(totalDuration([result('passed', { durationMs: 2 }), result('error', { durationMs: 1.5 })]), 3.5);
    assert.strictEqual(totalDuration([result('passed')]), undefined);
  });
});
