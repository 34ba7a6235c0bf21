#!/usr/bin/env -S node --no-allocation-site-pretenuring --max-semi-space-size=16
/**
 * The `xero-scim` command: serve (alias service, as ConductorOne's Deployment passes `args: ["service"]`),
 * sync, sandbox, auth, confirm-disconnect. Every option is read through `src/config.ts`, so `--help` lists all of them.
 */
import { parseArgs } from 'node:util';
import { type Command, ConfigError, type Flags, OPTIONS, formatOptionsHelp, isSwitchOption, loadConfig } from './config';
import { VERSION } from './version';

interface CommandSpec {
  readonly summary: string;
  readonly usage: string;
  /** Flags of this command alone, with their help text (all boolean). */
  readonly switches: Record<string, string>;
  /** Takes operands after its options (confirm-disconnect's tenant ids); no other command does. */
  readonly operands?: boolean;
}

const COMMANDS: Record<Command, CommandSpec> = {
  serve: {
    summary: 'Serve SCIM 2.0 Users, Groups and Roles from Xero (alias: service).',
    usage: 'xero-scim serve [--demo] [options]',
    switches: { demo: 'Run on the built-in Xero sandbox with demo data and a generated bearer token; listens on 127.0.0.1 unless HOST says otherwise.' },
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
  'confirm-disconnect': {
    summary: "Confirm removals held back as suspect (see the status page); the server's next sync applies them.",
    usage: 'xero-scim confirm-disconnect <tenantId>... | --all [options]',
    switches: { all: 'Confirm every removal held back as of the last sync.' },
    operands: true,
  },
};

const ALIASES: Record<string, Command> = { service: 'serve' };

export function usage(): string {
  const lines = ['Usage: xero-scim <command> [options]', '', 'Commands:'];
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(width)} ${c.summary}`);
  lines.push(
    '',
    'Options: -h, --help (this help), --version.',
    'Run `xero-scim help <command>` or `xero-scim <command> --help` for its options. Every option can also be set by its environment variable.',
  );
  return lines.join('\n');
}

export function commandHelp(command: Command): string {
  const c = COMMANDS[command];
  const lines = [c.summary, '', `Usage: ${c.usage}`, '', 'Options:'];
  for (const [flag, text] of Object.entries(c.switches)) lines.push(`  --${flag}`, `      ${text}`);
  lines.push('  -h, --help', '      Print this help.', '  --version', '      Print the version.');
  const options = formatOptionsHelp(command);
  if (options) lines.push(options);
  return lines.join('\n');
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * Rewrites the one progress line on a terminal (no newline); absent when stderr is not a terminal, so pipes,
   * files and CI logs get no control characters.
   */
  progress?: (line: string) => void;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line}`) } : {}),
};

export interface CommandLine {
  readonly command: Command | undefined;
  readonly switches: Set<string>;
  readonly flags: Flags;
  readonly help: boolean;
  readonly version: boolean;
  /** Operands of a command that takes them (see `CommandSpec.operands`). */
  readonly operands: readonly string[];
}

const BOOLEAN_WORDS = /^(true|false|1|0|yes|no)$/i;

/**
 * A true/false option written alone (`--trust-proxy`) means true; followed by a true/false word, or as
 * `--trust-proxy=false`, it takes that value.
 */
function expandBareSwitches(args: readonly string[], switchFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (switchFlags.has(arg) && !BOOLEAN_WORDS.test(args[i + 1] ?? '')) out.push(`${arg}=true`);
    else out.push(arg);
  }
  return out;
}

/** node:util's messages, in this CLI's words (its advice about `--` is for positionals, which only confirm-disconnect takes). */
function usageMessage(err: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  return err.message.replace(/^TypeError \[[A-Z_]+\]: /, '');
}

/** Parses `argv` (without node and script) into the command, its switches and option flags. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let [first, ...rest] = argv;
  // `xero-scim help <command>` is `xero-scim <command> --help`.
  if (first === 'help') {
    if (rest.length > 1) throw new UsageError('help takes one command name');
    [first, rest] = rest[0] === undefined ? [undefined, ['--help']] : [rest[0], ['--help']];
  }
  const command = first === undefined || first.startsWith('-') ? undefined : (ALIASES[first] ?? (first as Command));
  if (command !== undefined && !(command in COMMANDS)) throw new UsageError(`unknown command "${first}"`);
  const optionSpecs: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  const switchFlags = new Set<string>();
  if (command) {
    for (const name of Object.keys(COMMANDS[command].switches)) optionSpecs[name] = { type: 'boolean' };
    for (const spec of Object.values(OPTIONS)) {
      if (!(spec.commands as readonly string[]).includes(command)) continue;
      optionSpecs[spec.flag.slice(2)] = { type: 'string' };
      if (isSwitchOption(spec)) switchFlags.add(spec.flag);
    }
  }
  let parsed;
  try {
    const args = command ? expandBareSwitches(rest, switchFlags) : first === undefined ? rest : [first, ...rest];
    parsed = parseArgs({ args, options: optionSpecs, strict: true, allowPositionals: command !== undefined && COMMANDS[command].operands === true });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error), command);
  }
  const switches = new Set<string>();
  const flags: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'boolean') {
      if (value) switches.add(name);
    } else if (typeof value === 'string') flags[name] = value;
  }
  return { command, switches, flags, help: switches.has('help'), version: switches.has('version'), operands: parsed.positionals };
}

/** A command-line mistake; `command` is set when it was made inside a command, whose help then follows. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

/** Runs the CLI; resolves with the exit code for commands that finish (serve runs until a signal). */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const sandboxArgs = argv[0] === 'sandbox' ? argv.slice(1) : argv[0] === 'help' && argv[1] === 'sandbox' && argv.length === 2 ? ['--help'] : undefined;
  if (sandboxArgs) {
    if (sandboxArgs.includes('--version')) return printVersion(io);
    return runSandboxCli(sandboxArgs, io);
  }
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    const command = err instanceof UsageError ? err.command : undefined;
    io.err(`xero-scim${command ? ` ${command}` : ''}: ${(err as Error).message}`);
    io.err(command ? commandHelp(command) : usage());
    return 2;
  }
  const { command, switches, flags, help, version, operands } = parsed;
  if (version) return printVersion(io);
  if (!command) {
    if (help) {
      io.out(usage());
      return 0;
    }
    io.err(usage());
    return 2;
  }
  if (help) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    // The demo serves a printed token on a laptop: loopback only, unless HOST (or --host) asks for more.
    const demo = command === 'serve' && switches.has('demo');
    const config = loadConfig(demo && !io.env.HOST ? { ...io.env, HOST: '127.0.0.1' } : io.env, flags);
    // Every command that keeps state checks STATE_DIR first (the demo keeps its own in a temporary directory). With
    // REDIS_URL, serve, auth and confirm-disconnect keep it in Redis: a read-only root filesystem with no volume works.
    const inRedis = config.redisUrl !== undefined && (command === 'serve' || command === 'auth' || command === 'confirm-disconnect');
    // `sync` keeps its own token chain in STATE_DIR: beside replicas it would redeem the refresh token they share.
    if (command === 'sync' && config.redisUrl !== undefined) {
      throw new ConfigError(
        'REDIS_URL',
        "is set, and `sync` would redeem the Xero refresh token the replicas share in Redis on a chain of its own: read a replica's /readyz (or its status page) instead, or unset REDIS_URL to sync with credentials no server uses",
      );
    }
    if (!demo && !inRedis) {
      const { stateDirProblem } = await import('./files/state-dir');
      const problem = await stateDirProblem(config.stateDir);
      if (problem) throw new ConfigError('STATE_DIR', `${problem}: give the process a directory it can read and write (a volume in a container)`);
    }
    switch (command) {
      case 'serve': {
        const { runServe } = await import('./commands/serve');
        await runServe(config, { demo, out: io.out });
        return 0;
      }
      case 'sync': {
        const { runSync } = await import('./commands/sync');
        return await runSync(config, { json: switches.has('json'), out: io.out, err: io.err, ...(io.progress ? { progress: io.progress } : {}) });
      }
      case 'sandbox':
        return runSandboxCli(argv.slice(1), io);
      case 'auth': {
        const { runAuth } = await import('./commands/auth');
        await runAuth(config, { printRefreshToken: switches.has('print-refresh-token'), out: io.out });
        return 0;
      }
      case 'confirm-disconnect': {
        if (switches.has('all') === operands.length > 0) {
          io.err('xero-scim confirm-disconnect: name the organisations (tenant ids) to confirm, or --all');
          io.err(commandHelp(command));
          return 2;
        }
        const { runConfirmDisconnect } = await import('./commands/confirm-disconnect');
        return await runConfirmDisconnect(config, { tenantIds: operands, all: switches.has('all'), out: io.out, err: io.err });
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

function printVersion(io: Io): number {
  io.out(`xero-scim ${VERSION}`);
  return 0;
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

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`xero-scim: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
