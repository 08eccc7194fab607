#!/usr/bin/env node
// Runs a command in a process that trusts a TLS certificate made for this run, so the real Azure SDKs
// (which send bearer tokens only over HTTPS) can talk to the sandbox's HTTPS emulators.
// NODE_EXTRA_CA_CERTS is read when a process starts, so it has to be set here, before the command starts.
const { spawnSync, spawn } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const compiled = join(root, 'dist', 'sandbox', 'tls.js');
const source = join(root, 'sandbox', 'tls.ts');
if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
const { createRunCertificate, removeRunCertificate, trustEnv } = require(compiled);

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-sandbox-ca.js <command> [args...]');
  process.exit(2);
}
createRunCertificate().then((certificate) => {
  const child = spawn(command, args, {
    stdio: 'inherit',
    shell: process.platform === 'win32',
    env: { ...process.env, ...trustEnv(certificate) },
  });
  // The certificate's temporary folder goes with the run, however it ends.
  child.on('exit', (code, signal) => {
    removeRunCertificate(certificate);
    process.exit(code ?? (signal ? 1 : 0));
  });
});
