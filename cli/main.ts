#!/usr/bin/env node
import { Command, Option } from 'commander';
import { EXIT, reconcileCommand, schemaCommand, validateCommand, type CliIo } from './commands';
import { runDemo } from './demo';

/** `apim-ip-reconciler`: plan, apply, validate, schema, demo (docs/design/product.md §8). */

const io: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  cwd: process.cwd(),
};

function finish(code: number): void {
  process.exitCode = code;
}

export function buildProgram(): Command {
  const program = new Command('apim-ip-reconciler')
    .description('Keeps Cloudflare DNS and Azure allowlists pointed at an Azure API Management gateway.')
    .showHelpAfterError()
    .exitOverride((error) => {
      // commander's own usage errors (unknown option, missing --config) are errors: exit 1.
      process.exit(error.exitCode === 0 ? 0 : EXIT.error);
    });

  const runOptions = (cmd: Command) =>
    cmd
      .requiredOption('--config <file>', 'configuration document (JSON)')
      .option('--json', 'print one machine-readable JSON document')
      .option('--state <file>', 'state file', '.apim-ip-reconciler/state.json');

  runOptions(
    program
      .command('plan')
      .description('show what would change; exit 0 in sync, 2 changes pending, 3 blocked, 1 error'),
  ).action(async (options) => finish((await reconcileCommand('plan', options, io)).exitCode));

  runOptions(
    program
      .command('apply')
      .description('apply the changes; exit 0 done, 3 some target blocked, 1 error or partial failure'),
  )
    .addOption(new Option('--force', 'lift the TooManyRemovals guard (never the others)'))
    .action(async (options) => finish((await reconcileCommand('apply', options, io)).exitCode));

  program
    .command('validate')
    .description('check a configuration document; exit 0 valid, 1 invalid')
    .requiredOption('--config <file>', 'configuration document (JSON)')
    .action((options) => finish(validateCommand(options, io)));

  program
    .command('schema')
    .description('print the JSON Schema of the configuration document')
    .action(() => finish(schemaCommand(io)));

  program
    .command('demo')
    .description('tell the outage story against the local sandbox (needs the dev dependencies)')
    .action(async () => finish(await runDemo(io)));

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      process.exitCode = EXIT.error;
    });
}
