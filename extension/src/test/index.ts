// Entry point VS Code loads as `extensionTestsPath`: runs the mocha suites inside the
// extension host, so tests use the real VS Code API against the real language server.
import * as fs from 'fs';
import Mocha from 'mocha';
import * as path from 'path';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 120_000, color: false, reporter: 'spec' });
  const suites = path.join(__dirname, 'suite');
  const only = process.env.STRATA_TEST_GREP;
  if (only) mocha.grep(only);
  for (const file of fs.readdirSync(suites).filter((name) => name.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(suites, file));
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
  });
}
