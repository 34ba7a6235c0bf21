import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { main } from '../src/cli';
import { environmentVariables } from '../src/config';

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env }, out, err };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('xero-scim command line', () => {
  it('lists the commands, including sandbox and auth', async () => {
    const { io, out } = capture();
    expect(await main(['--help'], io)).toBe(0);
    for (const command of ['serve', 'sync', 'sandbox', 'auth', 'confirm-disconnect']) expect(out.join('\n')).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('confirm-disconnect takes tenant ids or --all (never both, never neither) and reads only STATE_DIR', async () => {
    const help = capture();
    expect(await main(['confirm-disconnect', '--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toContain('Usage: xero-scim confirm-disconnect <tenantId>... | --all');
    expect(help.out.join('\n')).toContain('STATE_DIR');
    expect(help.out.join('\n')).not.toContain('XERO_CLIENT_ID');
    for (const args of [[], ['--all', 'a1b2']]) {
      const bad = capture();
      expect(await main(['confirm-disconnect', ...args], bad.io)).toBe(2);
      expect(bad.err[0]).toBe('xero-scim confirm-disconnect: name the organisations (tenant ids) to confirm, or --all');
    }
    const noState = capture({ STATE_DIR: path.join(__dirname, 'no-such-state-dir') });
    expect(await main(['confirm-disconnect', '--all'], noState.io)).toBe(1);
    expect(noState.err[0]).toMatch(/no directory state in .*no-such-state-dir: run it with the server's STATE_DIR/);
    const positional = capture();
    expect(await main(['serve', 'extra'], positional.io)).toBe(2); // other commands still take no operands
  });

  it('reads environment variables in exactly one module, so --help can list them all', () => {
    const SRC = path.join(__dirname, '..', 'src');
    const readers = sourceFiles(SRC).filter((file) => /process\.env\b/.test(readFileSync(file, 'utf8')));
    // cli.ts hands process.env to loadConfig, which reads only the names in its OPTIONS table.
    expect(readers.map((f) => path.relative(SRC, f)).sort()).toEqual(['cli.ts', 'config.ts']);
    const names = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\benv\[['"]([A-Z_]+)['"]\]|\benv\.([A-Z_]+)\b/g)) names.add(match[1] ?? match[2]!);
    }
    for (const name of names) expect(environmentVariables()).toContain(name);
  });

  it.each(['serve', 'sync', 'auth'] as const)('%s --help lists every variable that command reads, with defaults', async (command) => {
    const { io, out } = capture();
    expect(await main([command, '--help'], io)).toBe(0);
    const help = out.join('\n');
    expect(help).toContain(`Usage: xero-scim ${command}`);
    expect(help).toContain('XERO_CLIENT_ID, BATON_XERO_CLIENT_ID');
    expect(help).toContain('XERO_API_URL (default: https://api.xero.com)');
  });

  it('serve --help covers every option of the server, each with a description', async () => {
    const { io, out } = capture();
    await main(['serve', '--help'], io);
    const help = out.join('\n');
    for (const variable of ['SCIM_BEARER_TOKEN', 'SCIM_BEARER_TOKEN_FILE', 'SYNC_MODE', 'STATE_DIR', 'TRUST_PROXY', 'PUBLIC_URL', 'LOG_LEVEL', 'PORT', 'BATON_REFRESH_TOKEN', 'BATON_TOKEN']) {
      expect(help).toContain(variable);
    }
  });

  it('has every variable documented in the README', () => {
    const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    for (const variable of environmentVariables()) expect(readme).toContain(`\`${variable}\``);
  });

  it('accepts `service` as ConductorOne Deployments pass it', async () => {
    const { io, out } = capture();
    expect(await main(['service', '--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('Usage: xero-scim serve');
  });

  it('answers an unknown command or flag with exit 2 and the usage', async () => {
    const a = capture();
    expect(await main(['deploy'], a.io)).toBe(2);
    expect(a.err[0]).toBe('xero-scim: unknown command "deploy"');
    const b = capture();
    expect(await main(['serve', '--colour'], b.io)).toBe(2);
    expect(b.err[0]).toMatch(/^xero-scim: Unknown option '--colour'/);
  });

  it('stops on a bad value with one line naming the variable, and never echoes the value', async () => {
    const { io, err } = capture({ PORT: 'http', XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'hunter2-secret' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err).toEqual(['xero-scim: configuration error: PORT: must be a whole number from 0 to 65535']);
  });

  it('does not fall back to demo data without Xero credentials: it says what to set, or --demo', async () => {
    const { io, err } = capture({ SCIM_BEARER_TOKEN: 'a-scim-token-0123456789' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim: configuration error: XERO_CLIENT_ID: is required .*xero-scim serve --demo/);
  });

  it('refuses to serve without a SCIM bearer token', async () => {
    const { io, err } = capture({ BATON_XERO_CLIENT_ID: 'id', BATON_XERO_CLIENT_SECRET: 'secret' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim: configuration error: SCIM_BEARER_TOKEN: is required/);
    expect(err.join('\n')).not.toContain('secret');
  });

  it('passes sandbox flags to the sandbox, naming a bad flag', async () => {
    const { io, err } = capture();
    expect(await main(['sandbox', '--port', 'lots'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim sandbox: --port must be a whole number/);
  });
});
