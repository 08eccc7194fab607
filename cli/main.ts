#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, reconcileCommand, schemaCommand, validateCommand, type CliIo } from './commands';
import { runDemo } from './demo';

/** `apim-ip-reconciler`: plan, apply, validate, schema, demo, --version (docs/design/product.md §8). */

const io: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  cwd: process.cwd(),
};

function finish(code: number): void {
  process.exitCode = code;
}

/** The package's version, from the package.json above this file (cli/ in a clone, dist/cli/ once built). */
export function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 4; dir = dirname(dir), i++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'apim-ip-reconciler' && manifest.version) return manifest.version;
    } catch {
      // not here: one folder up
    }
  }
  return 'unknown';
}

/** A usage error (unknown option, missing --config) under --json: the same error object as any other. */
function usageError(error: CommanderError, argv: readonly string[]): void {
  if (!argv.includes('--json')) return;
  const message = error.message.replace(/^error: /, '');
  process.stdout.write(
    `${JSON.stringify({ error: { code: 'usage', message }, exitCode: EXIT.error }, null, 2)}\n`,
  );
}

const commandNames = (program: Command) => program.commands.map((c) => c.name()).join(', ');

export function buildProgram(argv: readonly string[] = process.argv): Command {
  const program = new Command('apim-ip-reconciler')
    .description('Keeps Cloudflare DNS and Azure allowlists pointed at an Azure API Management gateway.')
    .option('-V, --version', 'print the version')
    .option('--json', 'with --version: print it as JSON')
    .showHelpAfterError()
    // Program options only before a command, so `plan --json` is plan's own --json.
    .enablePositionalOptions()
    .exitOverride((error) => {
      // commander's own usage errors (unknown option, missing --config) are errors: exit 1.
      if (error.exitCode !== 0) usageError(error, argv);
      process.exit(error.exitCode === 0 ? 0 : EXIT.error);
    })
    // Words that are no command reach the action below, which names them (rather than "too many arguments").
    .allowExcessArguments(true)
    .action((options: { version?: boolean; json?: boolean }) => {
      if (program.args.length > 0) {
        program.error(
          `error: unknown command '${program.args[0]}'; the commands are ${commandNames(program)}`,
        );
      }
      if (!options.version) {
        program.outputHelp({ error: true });
        if (options.json) {
          const error = {
            code: 'usage',
            message: `a command is required: ${commandNames(program)}`,
          };
          io.out(JSON.stringify({ error, exitCode: EXIT.error }, null, 2));
        }
        return finish(EXIT.error);
      }
      const version = packageVersion();
      io.out(
        options.json
          ? JSON.stringify({ name: 'apim-ip-reconciler', version, node: process.version }, null, 2)
          : `apim-ip-reconciler ${version}`,
      );
      finish(EXIT.ok);
    });

  const runOptions = (cmd: Command) =>
    cmd
      .requiredOption('--config <file>', 'configuration document (JSON)')
      .option('--json', 'print one machine-readable JSON document (errors too); no progress on stderr')
      .option(
        '--state <file-or-url>',
        "state file, or the app's state blob (https://<account>.blob.core.windows.net/<container>/state.json)",
        '.apim-ip-reconciler/state.json',
      );

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
    .option('--json', 'print the result (or every problem) as one JSON document')
    .action((options) => finish(validateCommand(options, io)));

  program
    .command('schema')
    .description('print the JSON Schema of the configuration document')
    .option('--json', 'the same: the schema is JSON')
    .action(() => finish(schemaCommand(io)));

  program
    .command('demo')
    .description('tell the outage story against the local sandbox (needs the dev dependencies)')
    .option('--json', 'print each step and its run reports as one JSON document')
    .action(async (options: { json?: boolean }) => finish(await runDemo(io, options)));

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      if (process.argv.includes('--json')) {
        process.stdout.write(
          `${JSON.stringify({ error: { code: 'error', message: (error as Error).message }, exitCode: EXIT.error }, null, 2)}\n`,
        );
      }
      process.exitCode = EXIT.error;
    });
}
