#!/usr/bin/env node
/**
 * The `xero-scim` command: serve (alias service, as ConductorOne's Deployment passes `args: ["service"]`),
 * sync, sandbox, auth. Every option is read through `src/config.ts`, so `--help` lists all of them.
 */
import { parseArgs } from 'node:util';
import { type Command, ConfigError, type Flags, OPTIONS, formatOptionsHelp, loadConfig } from './config';
import { missingV8Flags, runWithV8Flags, stopWithParent } from './runtime';

const COMMANDS: Record<Command, { summary: string; usage: string; switches: Record<string, string> }> = {
  serve: {
    summary: 'Serve SCIM 2.0 Users, Groups and Roles from Xero (alias: service).',
    usage: 'xero-scim serve [--demo] [options]',
    switches: { demo: 'Run on the built-in Xero sandbox with demo data and a generated bearer token.' },
  },
  sync: {
    summary: 'Sync from Xero once and print the directory (people, organisations, roles) and the sync report.',
    usage: 'xero-scim sync --once [--json] [options]',
    switches: { once: 'Sync once and exit (the only mode; the server syncs in the background).', json: 'Print JSON.' },
  },
  sandbox: {
    summary: "Run the built-in Xero sandbox alone, to explore Xero's API shapes with curl.",
    usage: 'xero-scim sandbox [options]',
    switches: {},
  },
  auth: {
    summary: 'Connect a Xero web app: consent in the browser, store the refresh token in STATE_DIR.',
    usage: 'xero-scim auth [--print-refresh-token] [options]',
    switches: { 'print-refresh-token': 'Also print the refresh token, for a Kubernetes Secret.' },
  },
};

const ALIASES: Record<string, Command> = { service: 'serve' };

export function usage(): string {
  const lines = ['Usage: xero-scim <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push('', 'Run `xero-scim <command> --help` for its options. Every option can also be set by its environment variable.');
  return lines.join('\n');
}

export function commandHelp(command: Command): string {
  const c = COMMANDS[command];
  const lines = [c.summary, '', `Usage: ${c.usage}`, '', 'Options:'];
  for (const [flag, text] of Object.entries(c.switches)) lines.push(`  --${flag}`, `      ${text}`);
  lines.push('  --help', '      Print this help.');
  const options = formatOptionsHelp(command);
  if (options) lines.push(options);
  return lines.join('\n');
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};

/** Parses `argv` (without node and script) into the command, its switches and option flags. */
export function parseCommandLine(argv: readonly string[]): { command: Command | undefined; switches: Set<string>; flags: Flags; help: boolean } {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith('-') ? undefined : (ALIASES[first] ?? (first as Command));
  if (command !== undefined && !(command in COMMANDS)) throw new UsageError(`unknown command "${first}"`);
  const optionSpecs: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  if (command) {
    for (const name of Object.keys(COMMANDS[command].switches)) optionSpecs[name] = { type: 'boolean' };
    for (const spec of Object.values(OPTIONS)) {
      if ((spec.commands as readonly string[]).includes(command)) optionSpecs[spec.flag.slice(2)] = { type: 'string' };
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: command ? rest : argv.slice(), options: optionSpecs, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const switches = new Set<string>();
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'boolean') {
      if (value) switches.add(name);
    } else if (typeof value === 'string') flags[name] = value;
  }
  return { command, switches, flags, help: switches.has('help') };
}

export class UsageError extends Error {}

/** Runs the CLI; resolves with the exit code for commands that finish (serve runs until a signal). */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  if (argv[0] === 'sandbox') return runSandboxCli(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    io.err(`xero-scim: ${(err as Error).message}`);
    io.err(usage());
    return 2;
  }
  const { command, switches, flags, help } = parsed;
  if (!command) {
    io.out(usage());
    return help ? 0 : 2;
  }
  if (help) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    const config = loadConfig(io.env, flags);
    switch (command) {
      case 'serve': {
        const { runServe } = await import('./commands/serve');
        await runServe(config, { demo: switches.has('demo'), out: io.out });
        return 0;
      }
      case 'sync': {
        const { runSync } = await import('./commands/sync');
        return await runSync(config, { json: switches.has('json'), out: io.out, err: io.err });
      }
      case 'sandbox':
        return runSandboxCli(argv.slice(1), io);
      case 'auth': {
        const { runAuth } = await import('./commands/auth');
        await runAuth(config, { printRefreshToken: switches.has('print-refresh-token'), out: io.out });
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`xero-scim: configuration error: ${err.message}`);
      return 2;
    }
    io.err(`xero-scim ${command}: ${(err as Error).message}`);
    return 1;
  }
}

/** The sandbox is a separate product piece with its own flags (it reads no server configuration). */
async function runSandboxCli(args: readonly string[], io: Io): Promise<number> {
  const { runSandbox, SandboxUsageError, SANDBOX_USAGE } = await import('./commands/sandbox');
  try {
    await runSandbox([...args], { out: io.out });
    return 0;
  } catch (err) {
    if (err instanceof SandboxUsageError) {
      io.err(`xero-scim sandbox: ${err.message}`);
      io.err(SANDBOX_USAGE);
      return 2;
    }
    io.err(`xero-scim sandbox: ${(err as Error).message}`);
    return 1;
  }
}

/**
 * Whether `argv` serves (and so should run with `V8_FLAGS`, src/runtime.ts) in a process started without them:
 * `node dist/cli.js serve`, `npm start`. The image's ENTRYPOINT passes them, and then nothing is re-run.
 */
function servesWithoutV8Flags(argv: readonly string[]): boolean {
  try {
    const { command, help } = parseCommandLine(argv);
    return command === 'serve' && !help && missingV8Flags().length > 0;
  } catch {
    return false; // main reports the usage error
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  stopWithParent();
  (servesWithoutV8Flags(argv) ? runWithV8Flags(__filename, argv, process.env) : main(argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`xero-scim: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
