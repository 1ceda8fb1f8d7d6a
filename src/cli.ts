#!/usr/bin/env node
import { MissingConfigPath } from './config/load.js';
import { UsageError } from './cli/args.js';
import { MAIN_HELP } from './cli/help.js';

// Each command's modules are loaded when it runs: `validate` need not load the HTTP stack
// (fastify, undici), nor `serve` the certificate maker (node-forge).
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: async (argv) => (await import('./cli/serve.js')).serveCommand(argv),
  validate: async (argv) => (await import('./cli/validate.js')).validateCommand(argv),
  routes: async (argv) => (await import('./cli/validate.js')).routesCommand(argv),
  explain: async (argv) => (await import('./cli/validate.js')).explainCommand(argv),
  get: async (argv) => (await import('./cli/get.js')).getCommand(argv),
  certs: async (argv) => (await import('./cli/certs.js')).certsCommand(argv),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`meshgate: unknown command ${JSON.stringify(command)} (commands: ${Object.keys(COMMANDS).join(', ')}; see meshgate --help)`);
  try {
    return await run(rest);
  } catch (e) {
    // Value errors from flag parsers name the flag; say which command they belong to.
    if (e instanceof UsageError && !e.message.startsWith('meshgate')) throw new UsageError(`meshgate ${command}: ${e.message}`);
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof MissingConfigPath) {
      process.stderr.write(`${e instanceof MissingConfigPath ? 'meshgate: ' : ''}${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`meshgate: unexpected failure: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
