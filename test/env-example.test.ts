/**
 * What a user copies to start: LICENSE as package.json declares it, and `.env.example`, which lists exactly the
 * variables the configuration reads, with their defaults and without secrets, and works with `node --env-file`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as util from 'node:util';
import { OPTIONS, environmentVariables, loadConfig } from '../src/config';
import { DEFAULT_CLIENTS, createSandbox } from '../src/sandbox';
import { CLI, ensureBuilt } from './reliability/support';

const ROOT = path.join(__dirname, '..');
const run = promisify(execFile);
const EXAMPLE = readFileSync(path.join(ROOT, '.env.example'), 'utf8');

/** Each `NAME=value` line, commented out (`# NAME=value`) or not. */
function assignments(text: string): { name: string; value: string; commented: boolean }[] {
  return text.split('\n').flatMap((line) => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    return match ? [{ name: match[2]!, value: match[3]!, commented: match[1] !== undefined }] : [];
  });
}

describe('LICENSE', () => {
  it('is the full Apache License 2.0 text, as package.json declares', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    // SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte.
    expect(createHash('sha256').update(license).digest('hex')).toBe('cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30');
  });
});

describe('.env.example', () => {
  const lines = assignments(EXAMPLE);
  const specs = Object.values(OPTIONS);

  it('assigns every variable the configuration reads, once, and nothing else; aliases are named in comments', () => {
    const names = lines.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(specs.map((s) => s.env).sort());
    const aliases = specs.flatMap((s) => s.aliases ?? []);
    for (const alias of aliases) expect(EXAMPLE).toMatch(new RegExp(`\\b${alias}\\b`));
    expect(new Set([...names, ...aliases])).toEqual(new Set(environmentVariables()));
  });

  it('shows each default as the configuration has it, and holds no secret', () => {
    for (const spec of specs) {
      const line = lines.find((l) => l.name === spec.env)!;
      if (spec.default) expect(`${spec.env}=${line.value}`).toBe(`${spec.env}=${spec.default}`);
      if ('secret' in spec && spec.secret) expect(`${spec.env}=${line.value}`).toBe(`${spec.env}=`);
      if (!line.commented) expect(`${spec.env}=${line.value}`).toBe(`${spec.env}=`);
    }
    // Every comment sits on its own line: Node's env-file parser would take a trailing `# …` as part of the value.
    for (const line of lines) expect(line.value).not.toContain('#');
  });

  it('parses with Node’s own env-file parser, and unchanged it configures exactly the defaults', () => {
    const parsed = util.parseEnv(EXAMPLE);
    expect(Object.keys(parsed).sort()).toEqual(lines.filter((l) => !l.commented).map((l) => l.name).sort());
    expect(loadConfig(parsed)).toEqual(loadConfig({}));
    // Every commented-out default, uncommented, still configures the defaults.
    const uncommented = EXAMPLE.replace(/^#\s*([A-Z][A-Z0-9_]*=)/gm, '$1');
    expect(loadConfig(util.parseEnv(uncommented))).toEqual(loadConfig({}));
  });

  describe('filled in, with `node --env-file=.env dist/cli.js`', () => {
    beforeAll(ensureBuilt, 120_000);

    it('syncs from the sandbox', async () => {
      const sandbox = createSandbox({ data: 'demo' });
      const xero = await sandbox.listen(0, '127.0.0.1');
      const dir = mkdtempSync(path.join(tmpdir(), 'xero-scim-env-'));
      try {
        const { clientId, clientSecret } = DEFAULT_CLIENTS.custom;
        const filled = EXAMPLE.replace(/^XERO_CLIENT_ID=$/m, `XERO_CLIENT_ID=${clientId}`)
          .replace(/^XERO_CLIENT_SECRET=$/m, `XERO_CLIENT_SECRET=${clientSecret}`)
          .replace(/^SCIM_BEARER_TOKEN=$/m, 'SCIM_BEARER_TOKEN=an-env-file-token-0123456789')
          .replace(/^# (XERO_(API|IDENTITY|LOGIN)_URL)=.*$/gm, `$1=${xero.url}`)
          .replace(/^# STATE_DIR=.*$/m, `STATE_DIR=${path.join(dir, 'state')}`);
        writeFileSync(path.join(dir, '.env'), filled);
        // Only what a shell passes on: the file, not this test's environment, configures the command.
        const { stdout } = await run(process.execPath, ['--env-file=.env', CLI, 'sync', '--once', '--json'], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '' },
        });
        const result = JSON.parse(stdout) as { report: { outcome: string; tenants: unknown[] } };
        expect(result.report.outcome).toBe('ok');
        expect(result.report.tenants).toHaveLength(1);
      } finally {
        await xero.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});
