#!/usr/bin/env node
// Bundles the Functions app into one file, dist/bundle/functions.js (package.json "main"), for a fast cold start
// (bench/RESULTS.md): one file to read instead of ~2,400 modules; the SDKs' ES module builds, scope-hoisted, which
// load in about half the time of their CommonJS builds wrapped module by module; whitespace removed (less to parse;
// names are kept, so stack traces still name functions).
// Left out of the bundle:
// - @azure/functions-core, which the Functions host provides at run time;
// - applicationinsights, loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set: lib/telemetry/appInsights.ts
//   resolves modules beside the SDK at run time, so it must stay the copy in node_modules.
// The entry also exports buildFunctionsRuntime (ignored by the host), so the benchmark and tests can build the
// runtime from the very bundle that is deployed.
const { build } = require('esbuild');
const { join } = require('node:path');

const root = join(__dirname, '..');
const outfile = join(root, 'dist', 'bundle', 'functions.js');

const entry = [
  "import './functions/reconcileTimer';",
  "import './functions/reconcileHttp';",
  "export { buildFunctionsRuntime } from './lib/wiring/runtime';",
].join('\n');

build({
  stdin: { contents: entry, resolveDir: root, sourcefile: 'functions-bundle.ts', loader: 'ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile,
  minifyWhitespace: true,
  external: ['@azure/functions-core', 'applicationinsights'],
  // Some SDKs' ES module builds read import.meta.url, which a CommonJS bundle does not have.
  define: { 'import.meta.url': '__bundleFileUrl' },
  banner: { js: "const __bundleFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
}).catch(() => process.exit(1));
