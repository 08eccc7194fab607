#!/usr/bin/env node
// Removes dist/ before a build: tsc never deletes output whose source moved, and a stale dist/sandbox/arm.js would
// shadow dist/sandbox/arm/index.js, so the compiled CLI and demo would quietly run old code.
const { rmSync } = require('node:fs');
const { join } = require('node:path');

rmSync(join(__dirname, '..', 'dist'), { recursive: true, force: true });
