#!/usr/bin/env node
// docs/reliability.md: runs the fault matrix (tests/e2e/faults.*.test.ts) with jest's JSON report, renders
// tests/e2e/faults.matrix.ts with each cell marked passed or failed, and writes the table into docs/reliability.md
// between <!-- reliability:start --> and <!-- reliability:end -->.
//
//   node scripts/reliability-table.js                    run the matrix, then write the table
//   node scripts/reliability-table.js --results FILE     write it from an earlier `jest --json --outputFile FILE`
//
// `npm run reliability` builds first (the `killed` cells run the compiled CLI). Exit 1 when a cell did not pass.
const { spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');
const ts = require('typescript');
const prettier = require('prettier');

const root = join(__dirname, '..');
const docPath = join(root, 'docs', 'reliability.md');

// The matrix and the renderer are TypeScript shared with the tests: transpile them as they load.
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
    fileName: filename,
  });
  module._compile(outputText, filename);
};
const table = require('../tests/support/reliabilityTable.ts');

function runMatrix() {
  const file = join(mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-reliability-')), 'results.json');
  // A failing cell is a result like any other: the table marks it, so jest's exit code is not the verdict.
  spawnSync(
    process.execPath,
    [
      join(root, 'scripts', 'with-sandbox-ca.js'),
      'npx',
      'jest',
      'tests/e2e/faults',
      '--json',
      '--outputFile',
      file,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  return file;
}

async function main() {
  const at = process.argv.indexOf('--results');
  const file = at > 0 ? process.argv[at + 1] : runMatrix();
  if (!file || !existsSync(file)) {
    console.error(`no jest results at ${file}: the matrix did not run`);
    process.exit(1);
  }
  const results = table.resultsFrom(JSON.parse(readFileSync(file, 'utf8')));
  // The matrix's own temporary folder goes once its results are read (a file given with --results stays).
  if (at <= 0) rmSync(dirname(file), { recursive: true, force: true });
  const options = (await prettier.resolveConfig(docPath)) ?? {};
  const block = (
    await prettier.format(table.renderReliability(results), { ...options, parser: 'markdown' })
  ).trimEnd();
  const doc = readFileSync(docPath, 'utf8');
  writeFileSync(docPath, table.withSection(doc, block));

  const cells = table.CELLS_COUNT ?? results.size;
  const failed = [...results].filter(([, r]) => r === 'failed').map(([id]) => id);
  const missing = table.missing(results);
  console.log(`docs/reliability.md: ${results.size - failed.length} of ${cells} cells passed`);
  for (const id of failed) console.log(`  failed: ${id}`);
  for (const id of missing) console.log(`  not run: ${id}`);
  if (failed.length > 0 || missing.length > 0) process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
