#!/usr/bin/env node
// Checks infra/ with the real Bicep compiler: builds the entry point, lints every Bicep file, evaluates the
// sample parameter files (infra/tests/*.bicepparam) into deployment snapshots, then runs the jest tests of
// infra/tests against that output. Run by `npm run check:infra`; `npm test` does not need any of this.
//
// The Bicep CLI comes from, in order: `bicep` on PATH, the copy the Azure CLI manages (`az bicep`), or the
// NuGet package Azure.Bicep.CommandLine.<rid> restored with `dotnet` into .tools/bicep/ (cached there).
// BICEP_SOURCE=nuget skips the first two, so the pinned version is used whatever the machine has.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const INFRA = path.join(ROOT, 'infra');
const TOOLS = path.join(ROOT, '.tools');
const BICEP_HOME = path.join(TOOLS, 'bicep');
const BUILD = path.join(TOOLS, 'infra-build');
const CONFIG = path.join(INFRA, 'bicepconfig.json');
const BICEP_VERSION = process.env.BICEP_VERSION || '0.49.2';

// The deployment context the snapshots are evaluated in (a subscription deployment, as `azd up` makes).
const SNAPSHOT_CONTEXT = {
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  tenantId: '99999999-9999-9999-9999-999999999999',
  location: 'westeurope',
  deploymentName: 'apim-ip-reconciler-check',
};

function log(message) {
  console.log(`check-infra: ${message}`);
}

function fail(message) {
  console.error(`check-infra: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  return {
    ok: !result.error && result.status === 0,
    missing: Boolean(result.error && result.error.code === 'ENOENT'),
    status: result.status,
    output: `${result.stdout || ''}${result.stderr || ''}`,
    error: result.error,
  };
}

function parseVersion(text) {
  const match = /(\d+)\.(\d+)\.(\d+)/.exec(text || '');
  return match ? match.slice(1, 4).map(Number) : undefined;
}

function atLeast(version, minimum) {
  for (let i = 0; i < 3; i += 1) {
    if (version[i] !== minimum[i]) return version[i] > minimum[i];
  }
  return true;
}

function bicepVersionOf(binary) {
  const probe = run(binary, ['--version']);
  return probe.ok ? parseVersion(probe.output) : undefined;
}

function usable(binary, source) {
  const version = bicepVersionOf(binary);
  if (!version) return undefined;
  if (!atLeast(version, parseVersion(BICEP_VERSION))) {
    log(`${source} has Bicep ${version.join('.')}, older than ${BICEP_VERSION}: not used`);
    return undefined;
  }
  return { binary, version: version.join('.'), source };
}

function fromPath() {
  return usable(process.platform === 'win32' ? 'bicep.exe' : 'bicep', 'PATH');
}

function fromAzureCli() {
  if (run('az', ['version', '--output', 'none']).missing) return undefined;
  const configDir = process.env.AZURE_CONFIG_DIR || path.join(os.homedir(), '.azure');
  const binary = path.join(configDir, 'bin', process.platform === 'win32' ? 'bicep.exe' : 'bicep');
  // The CLI `az bicep` runs once installed (`az bicep install`); not installed here means not this source.
  return fs.existsSync(binary) ? usable(binary, 'az bicep') : undefined;
}

function runtimeIdentifier() {
  const family = { linux: 'linux', darwin: 'osx', win32: 'win' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (!family || !arch) fail(`no Bicep CLI package for ${process.platform}/${process.arch}`);
  return `${family}-${arch}`;
}

function fromNuGet() {
  const packageId = `Azure.Bicep.CommandLine.${runtimeIdentifier()}`;
  const packages = path.join(BICEP_HOME, 'packages');
  const binary = path.join(
    packages,
    packageId.toLowerCase(),
    BICEP_VERSION,
    'tools',
    process.platform === 'win32' ? 'bicep.exe' : 'bicep',
  );
  if (!fs.existsSync(binary)) {
    const dotnet = run('dotnet', ['--version']);
    if (!dotnet.ok) {
      fail(
        'no Bicep CLI: install it (https://aka.ms/bicep-install), or the .NET SDK so it can be restored from NuGet',
      );
    }
    const major = parseVersion(dotnet.output)[0];
    fs.mkdirSync(BICEP_HOME, { recursive: true });
    // A throwaway project whose only job is to make NuGet download the package (PackageDownload: no assets).
    const project = path.join(BICEP_HOME, 'bicep-cli.csproj');
    fs.writeFileSync(
      project,
      [
        '<Project Sdk="Microsoft.NET.Sdk">',
        `  <PropertyGroup><TargetFramework>net${major}.0</TargetFramework></PropertyGroup>`,
        `  <ItemGroup><PackageDownload Include="${packageId}" Version="[${BICEP_VERSION}]" /></ItemGroup>`,
        '</Project>',
        '',
      ].join('\n'),
    );
    log(`restoring ${packageId} ${BICEP_VERSION} with dotnet ${dotnet.output.trim()}`);
    const restore = run('dotnet', ['restore', project, '--packages', packages, '--nologo'], {
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
    });
    if (!restore.ok || !fs.existsSync(binary))
      fail(`dotnet restore of ${packageId} failed:\n${restore.output}`);
  }
  if (process.platform !== 'win32') fs.chmodSync(binary, 0o755);
  return usable(binary, `NuGet ${packageId}`) || fail(`${binary} does not run`);
}

function findBicep() {
  if ((process.env.BICEP_SOURCE || '').toLowerCase() === 'nuget') return fromNuGet();
  return fromPath() || fromAzureCli() || fromNuGet();
}

function filesUnder(dir, extension) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return filesUnder(full, extension);
      return entry.name.endsWith(extension) ? [full] : [];
    })
    .sort();
}

// Any diagnostic fails the check: linter rules are errors by bicepconfig.json, and compiler warnings
// (a property the type does not know, a possibly-null value) are bugs too.
function bicep(tool, args, what) {
  const result = run(tool.binary, args, { cwd: ROOT });
  const diagnostics = result.output.split('\n').filter((line) => / : (Error|Warning|Info) /.test(line));
  if (!result.ok || diagnostics.length > 0) {
    fail(`${what} is not clean:\n${result.output.trim()}`);
  }
  return result.output;
}

function relative(file) {
  return path.relative(ROOT, file);
}

// A .bicepparam file names its template relative to itself; a copy in the build folder must name it from there.
function copyParameterFile(source) {
  const text = fs.readFileSync(source, 'utf8');
  const using = /^using\s+'([^']+)'/m.exec(text);
  if (!using) fail(`${relative(source)} has no using declaration`);
  const template = path.resolve(path.dirname(source), using[1]);
  const target = path.join(BUILD, path.basename(source));
  const from = path.relative(BUILD, template).split(path.sep).join('/');
  fs.writeFileSync(target, text.replace(using[0], `using '${from}'`));
  return target;
}

function main() {
  const tool = findBicep();
  log(`Bicep ${tool.version} from ${tool.source} (${tool.binary})`);

  fs.rmSync(BUILD, { recursive: true, force: true });
  fs.mkdirSync(BUILD, { recursive: true });

  const entry = path.join(INFRA, 'main.bicep');
  bicep(
    tool,
    ['build', relative(entry), '--outfile', relative(path.join(BUILD, 'main.json'))],
    'bicep build',
  );
  log(`built ${relative(entry)}`);

  // One lint run per kind of file (each file is reported on its own; --pattern saves starting the CLI 20 times).
  const sources = [...filesUnder(INFRA, '.bicep'), ...filesUnder(INFRA, '.bicepparam')];
  for (const pattern of ['infra/**/*.bicep', 'infra/**/*.bicepparam']) {
    bicep(tool, ['lint', '--pattern', pattern], `bicep lint ${pattern}`);
  }
  log(`linted ${sources.length} files`);

  const parameterFiles = filesUnder(path.join(INFRA, 'tests'), '.bicepparam');
  for (const file of parameterFiles) {
    const copy = copyParameterFile(file);
    const name = path.basename(file, '.bicepparam');
    bicep(
      tool,
      ['build-params', relative(copy), '--outfile', relative(path.join(BUILD, `${name}.parameters.json`))],
      `bicep build-params ${relative(file)}`,
    );
    bicep(
      tool,
      [
        'snapshot',
        relative(copy),
        '--config',
        relative(CONFIG),
        '--mode',
        'overwrite',
        '--subscription-id',
        SNAPSHOT_CONTEXT.subscriptionId,
        '--tenant-id',
        SNAPSHOT_CONTEXT.tenantId,
        '--location',
        SNAPSHOT_CONTEXT.location,
        '--deployment-name',
        SNAPSHOT_CONTEXT.deploymentName,
      ],
      `bicep snapshot ${relative(file)}`,
    );
    if (!fs.existsSync(path.join(BUILD, `${name}.snapshot.json`))) fail(`no snapshot for ${relative(file)}`);
  }
  log(`evaluated ${parameterFiles.length} parameter files`);

  fs.writeFileSync(
    path.join(BUILD, 'context.json'),
    `${JSON.stringify({ bicepVersion: tool.version, ...SNAPSHOT_CONTEXT }, null, 2)}\n`,
  );

  const jest = run(
    process.execPath,
    [
      path.join(path.dirname(require.resolve('jest/package.json')), 'bin', 'jest.js'),
      '--config',
      relative(path.join(INFRA, 'tests', 'jest.config.js')),
    ],
    { cwd: ROOT, stdio: 'inherit', env: { ...process.env, INFRA_BUILD_DIR: BUILD } },
  );
  if (!jest.ok) fail('infra tests failed');
  log('infra is clean');
}

main();
